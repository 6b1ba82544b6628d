/* Direct 3 × 3 convolution (padding 1, stride 1 or 2) of one image, with
 * AVX-512, for the maps where it beats im2col + sgemm (src/nn/conv2d.c
 * decides when to use it).
 *
 * Stride 1: the image's planes are copied once into zero-padded planes of
 * pitch P = w + 2 and h + 2 rows.  Flattened, output pixel q = oy·P + ox
 * then reads the padded plane at q + ky·P + kx for every tap: the
 * convolution is a sum of 9 shifted vectors per input plane.
 * Stride 2: each plane is split into its four phases (even/odd rows ×
 * even/odd columns), each padded like an output-sized plane (pitch
 * P = w_out + 2, h_out + 2 rows, one zero row and column in front).  Input
 * row 2·oy − 1 + ky is row oy − 1 of the odd phase for ky = 0, row oy of the
 * even phase for ky = 1 and of the odd one for ky = 2 (columns alike), so
 * every tap is again one shifted vector, of one phase.
 * Either way a tap is a fixed offset into the padded planes, the sums run
 * over 32 consecutive q at a time (two registers) for 8 output planes (16
 * accumulators), with no im2col and no packing, and the lanes with
 * ox >= w_out are computed and thrown away (2 of every P): where the output
 * is whole planes (the forward, the stride-1 input gradient) the kept lanes
 * of each vector are compressed in a register and stored in place; the
 * phases of a stride-2 input gradient go through a lanes buffer, the two
 * phases of a row parity at a time, whose columns are interleaved in
 * registers into dx's rows.  The weight
 * gradient takes 16 lanes by 4 output planes by 5 or 4 taps.  Each output
 * is Σ_c Σ_ky Σ_kx w · x accumulated with fused multiply-adds in that
 * order, lane by lane, so results do not depend on the thread count or on
 * where the image sits in the batch.
 *
 * Backward reads dy padded like a stride-1 input of the output's size
 * (sm_conv_direct_pad_output): the weight gradient is
 * Σ_q dy[o][q] · xpad[c][q + tap's offset], reading dy's padded planes
 * shifted by P + 1 (their padding is exactly the thrown-away lanes, so those
 * add 0).  Its other form (sm_conv_direct_weight_grad_transposed) puts 16
 * output planes in each vector instead: dy is transposed lane by lane (16
 * planes × 16 lanes a register transposition), and per pixel two or four
 * vectors of dy times the broadcast inputs of 3 taps of 4 or 2 input planes
 * add outer products into 24 accumulators, with no sums across lanes; per
 * image, each accumulator is the sum over pixels in row-major order.  The
 * input gradient is the forward's kernel run on padded dy with the
 * channel-transposed kernel: for stride 1 flipped, all nine taps; for
 * stride 2 once per phase of dx (even/odd rows × columns), each phase
 * reached by 1, 2, 2 or 4 of the taps, each tap again one shifted vector of
 * dy.
 *
 * On one core the kernels ran at ~110 GFLOP/s (forward) and ~118 / 83
 * (weight gradient, 28 × 28 / 14 × 14 maps, where the 36 horizontal sums
 * per pair of planes weigh more) when written; on the AMD EPYC host of
 * 2026-12-05 at 142-183 (forward, the five 3 × 3 layers of the width-16
 * network) and 187 / 134, against an sgemm peak of 202-207: 65-90% of it;
 * the transposed weight gradient 2026-12-06 at 159-190 on the 32- and
 * 64-plane layers, 14 × 14 and 7 × 7 maps included.
 * src/nn/conv2d.c has the timings against im2col + sgemm by which it picks
 * a path. */
#ifndef SM_NN_CONV_DIRECT_H
#define SM_NN_CONV_DIRECT_H

#include <stddef.h>

#include "nn/channel_map.h"
#include "nn/conv2d.h"

/* Output planes are taken 8 at a time: c_out must be a multiple of this. */
enum { SM_CONV_DIRECT_PLANES = 8 };

/* 1 when the CPU runs AVX-512 (checked once), 0 otherwise: then nothing
 * below that pads or convolves may be called. */
int sm_conv_direct_supported(void);

/* Whether s is a shape these functions take: k = 3, pad = 1, stride 1 or 2,
 * c_out a multiple of 8, w_out >= 6 (the weight gradient's padding needs
 * P >= 8).  s->n is ignored: everything here is one image. */
int sm_conv_direct_shape(const sm_conv2d_shape *s);

/* Floats of one image's padded input (c_in planes, or their phases) and of
 * its padded output gradient (c_out planes of h_out × w_out). */
size_t sm_conv_direct_input_floats(const sm_conv2d_shape *s);
size_t sm_conv_direct_output_floats(const sm_conv2d_shape *s);
/* Floats of the lanes a stride-2 input gradient is computed in (two phases
 * of 8 planes). */
size_t sm_conv_direct_lanes_floats(const sm_conv2d_shape *s);

/* xpad = the image x (c_in × h_in × w_in), through map unless NULL (see
 * nn/channel_map.h), padded (and split into phases).  Unless ahead is 0,
 * the next image's values, ahead floats on, are fetched into L2 meanwhile,
 * so that its padding does not wait on memory. */
void sm_conv_direct_pad_input(const sm_conv2d_shape *s, const float *x, const sm_channel_map *map, size_t ahead,
                              float *xpad);
/* dypad = the image dy (c_out × h_out × w_out), through gm unless NULL
 * (nn/channel_map.h; gm->x is the image's), padded; ahead as above, for dy
 * and gm->x. */
void sm_conv_direct_pad_output(const sm_conv2d_shape *s, const float *dy, const sm_grad_map *gm, size_t ahead,
                               float *dypad);

/* cols[(c·9 + ky·3 + kx)·ld + oy·w_out + ox] = the input at tap (ky, kx)
 * of output (oy, ox), 0 in the padding: im2col's columns (nn/conv2d.c),
 * copied a row at a time from xpad (sm_conv_direct_pad_input), with no
 * strided reads and no tests for the border. */
void sm_conv_direct_columns(const sm_conv2d_shape *s, const float *xpad, float *cols, size_t ld);

/* y (c_out × h_out × w_out) = conv(x, wt), or += when add; xpad from
 * sm_conv_direct_pad_input. */
void sm_conv_direct_forward(const sm_conv2d_shape *s, const float *xpad, const float *wt, float *y, int add);

/* wt (weight-count floats) = w (c_out × c_in × 3 × 3) arranged for
 * sm_conv_direct_input_grad: per phase of dx, [c][o][the phase's taps]. */
void sm_conv_direct_input_grad_kernel(const sm_conv2d_shape *s, const float *w, float *wt);

/* dx (c_in × h_in × w_in) = the input gradient of the image from dypad
 * (sm_conv_direct_pad_output), or += when add; wt from
 * sm_conv_direct_input_grad_kernel; c_in a multiple of 8; lanes:
 * sm_conv_direct_lanes_floats. */
void sm_conv_direct_input_grad(const sm_conv2d_shape *s, const float *dypad, const float *wt, float *dx, int add,
                               float *lanes);

/* dw[o][c][ky][kx] += Σ over the image of dy[o][oy][ox] · x[c][oy·stride + ky − 1][ox·stride + kx − 1],
 * from xpad (sm_conv_direct_pad_input) and dypad (sm_conv_direct_pad_output). */
void sm_conv_direct_weight_grad(const sm_conv2d_shape *s, const float *xpad, const float *dypad, float *dw);

/* The same sums with the output planes in the vector lanes, faster than
 * sm_conv_direct_weight_grad on every map where the shape allows it, most
 * on small ones where the sums across lanes weigh: dwt, dw transposed,
 * dwt[(c·9 + ky·3 + kx)·c_out + o] += the sum above; dyt:
 * sm_conv_direct_transposed_floats of scratch (dy with its planes in lanes).
 * Only for shapes sm_conv_direct_transposed_shape takes: those of
 * sm_conv_direct_shape with c_out a multiple of 32 and c_in of 4. */
int sm_conv_direct_transposed_shape(const sm_conv2d_shape *s);
size_t sm_conv_direct_transposed_floats(const sm_conv2d_shape *s);
void sm_conv_direct_weight_grad_transposed(const sm_conv2d_shape *s, const float *xpad, const float *dypad,
                                           float *dyt, float *dwt);

#endif
