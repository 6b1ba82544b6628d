/* 2-D convolution, NCHW, square kernel, stride, zero padding, no bias (a
 * BatchNorm follows every convolution, so a bias would be redundant).
 *
 *   y[n][o][oy][ox] = Σ_{c,ky,kx} w[o][c][ky][kx] · x[n][c][oy·s − p + ky][ox·s − p + kx]
 *
 * w is c_out × c_in × k × k like PyTorch.  Images are lowered by im2col to
 * a (c_in·k·k) × (h_out·w_out) matrix and multiplied by w (c_out × c_in·k·k)
 * with cblas_sgemm; on small maps a group of images goes side by side into
 * one product (up to ~256 output pixels: sixteen 4 × 4 maps, five 7 × 7),
 * so the weights are not packed again for every 16 or 49 columns.
 * On CPUs with AVX-512 a direct convolution (src/nn/conv_direct.h) skips
 * im2col and sgemm where it was timed faster: the forward of 3 × 3 layers
 * with padding 1 and stride 1 or 2 onto maps of 7 or more columns, the
 * backward of such layers with 32, 64, … output planes and of the other
 * stride-1 ones on maps of 14 or more, and dX of the remaining stride-2
 * ones (output planes, and for dX input planes, in multiples of 8; conv2d.c
 * has the figures).
 * Backward of a stride-1 convolution lowers dy instead:
 * dX is the convolution of dy with the flipped, channel-transposed kernel
 * (one sgemm onto dx) and dW the product of dy's columns with x, so x needs
 * no columns.  Other strides (and a stride-1 layer without dx) form dW from
 * the columns of x and dX with sgemm + col2im.  Columns are recomputed in
 * backward rather than kept: for a 256-image batch they would be 100+ MB per
 * layer.
 *
 * Threading: OpenMP over groups of images (`threads` of them), one
 * single-threaded sgemm per group.  The products are small (16 × 784 × 144
 * for the first block of the small network): on this 2-core machine
 * splitting one such sgemm across OpenBLAS
 * threads gains nothing, while two images in parallel run ~2× faster.  The
 * layer therefore sets OpenBLAS to 1 thread for the duration of each call and
 * restores the caller's setting on return (src/nn/gemm.h): the caller need
 * not manage OpenBLAS threads around it.
 *
 * Determinism: y and dX come from products whose grouping depends on the
 * shape only, so they do not depend on the thread count.  dW sums over
 * images: the batch is cut into a fixed number of chunks whose boundaries
 * depend on n only; each chunk is accumulated group by group, in image
 * order, by one thread, and the chunk sums are added in chunk order.  Results are
 * therefore bitwise identical for ANY thread count.
 *
 * Gradient convention (all src/nn layers, as in llm.c): backward ACCUMULATES
 * (+=) into the parameter gradients, which the caller zeroes once per step,
 * and into the input gradient unless told to set it (accumulate == 0, as
 * BatchNorm, ReLU and the residual add take too): the network sets an
 * activation gradient at its first writer and adds at the others (residual
 * fan-out), with no zeroing pass. */
#ifndef SM_NN_CONV2D_H
#define SM_NN_CONV2D_H

#include <stddef.h>

#include "nn/channel_map.h"

typedef struct {
    int n;                /* images in the batch */
    int c_in, h_in, w_in; /* input planes and their size */
    int c_out;            /* output planes */
    int k;                /* kernel is k × k */
    int stride, pad;      /* pad zeros on every side */
} sm_conv2d_shape;

int sm_conv2d_h_out(const sm_conv2d_shape *s);
int sm_conv2d_w_out(const sm_conv2d_shape *s);
/* Number of weights, c_out · c_in · k · k (the fan-in for init is c_in · k · k). */
size_t sm_conv2d_weight_count(const sm_conv2d_shape *s);

/* Floats of scratch that forward and backward need with `threads` threads
 * (the same buffer serves both; its contents are not kept between calls). */
size_t sm_conv2d_scratch_floats(const sm_conv2d_shape *s, int threads);

/* y (n × c_out × h_out × w_out) = conv(x, w).  threads >= 1.  With a map
 * (nn/channel_map.h; NULL: none) the input is x read through it, channel by
 * channel, with the same bits as a map applied beforehand: a BatchNorm's
 * output read only by convolutions need never be stored. */
void sm_conv2d_forward(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                       float *y, float *scratch, int threads);

/* dw += ∂L/∂w and, when dx != NULL, dx += ∂L/∂x, or with accumulate == 0
 * dx = ∂L/∂x (dx's old contents ignored), given dy = ∂L/∂y; the input is x
 * through map as in forward, and dx the gradient with respect to that
 * input (the map's own backward is its BatchNorm's).  dx is NULL for the
 * first layer, whose input needs no gradient.  With dy_map (NULL: none),
 * ∂L/∂y is read through it (nn/channel_map.h): dy is then the following
 * BatchNorm's output gradient and ∂L/∂y the input gradient that BatchNorm
 * need not write, with the same bits; only where
 * sm_conv2d_backward_takes_dy_map says so. */
void sm_conv2d_backward(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, const float *w,
                        const float *dy, const sm_grad_map *dy_map, float *dx, int accumulate, float *dw,
                        float *scratch, int threads);

/* Whether backward reads dy only as it pads it for the direct kernels (so
 * through a dy_map there at no extra pass), with dx wanted or not. */
int sm_conv2d_backward_takes_dy_map(const sm_conv2d_shape *s, int with_dx);

/* Whether layers that can take the direct convolution do (default 1).  For
 * tests and benchmarks that compare the two paths; set it while no
 * convolution runs.  Results of the two paths agree to rounding only. */
void sm_conv2d_allow_direct(int allow);

#endif
