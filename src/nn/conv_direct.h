/* Direct 3 × 3 "same" convolution (stride 1, pad 1) of one image, with
 * AVX-512, for the large maps where it beats im2col + sgemm (src/nn/conv2d.c
 * decides when to use it).
 *
 * The image's planes are copied once into zero-padded planes of pitch
 * P = w + 2 and h + 2 rows.  Flattened, output pixel q = oy·P + ox then reads
 * the padded plane at q + ky·P + kx for every tap: the convolution is a sum
 * of 9 shifted vectors per input plane, run over 32 consecutive q at a time
 * (two registers) for 8 output planes (16 accumulators), with no im2col and
 * no packing; the weight gradient takes 16 lanes by 4 output planes by 5 or
 * 4 taps.  The lanes with ox ≥ w are computed and thrown away (2 of every
 * P).  Each output is Σ_c Σ_ky Σ_kx w · x accumulated with fused
 * multiply-adds in that order, lane by lane, so results do not depend on the
 * thread count or on where the image sits in the batch.
 *
 * The same padded planes serve backward: the input gradient is this
 * convolution of dy (padded) with the flipped, channel-transposed kernel,
 * and the weight gradient is Σ_q dy[o][q] · xpad[c][q + ky·P + kx], which
 * reads dy's padded planes shifted by P + 1 (their padding is exactly the
 * thrown-away lanes, so those add 0).
 *
 * Measured on one core against im2col + OpenBLAS sgemm (forward, 64 images):
 * 16 planes on 28 × 28 1.4–1.5×, 32 on 14 × 14 1.3×, 64 on 7 × 7 1.0×, 128
 * on 4 × 4 0.6× (32 lanes are mostly thrown away there).  The kernels run at
 * ~110 GFLOP/s (forward) and ~118 / 83 (weight gradient, 28 × 28 / 14 × 14,
 * where the 36 horizontal sums per plane pair weigh more) on one core. */
#ifndef SM_NN_CONV_DIRECT_H
#define SM_NN_CONV_DIRECT_H

#include <stddef.h>

/* Output planes are taken 8 at a time: c_out must be a multiple of this. */
enum { SM_CONV_DIRECT_PLANES = 8 };

/* 1 when the CPU runs AVX-512 (checked once), 0 otherwise: then the other
 * functions must not be called. */
int sm_conv_direct_supported(void);

/* Floats of one image's padded planes (c planes of an h × w map). */
size_t sm_conv_direct_padded_floats(int c, int h, int w);
/* Floats of the forward's output buffer for an h × w map. */
size_t sm_conv_direct_out_floats(int h, int w);

/* xpad = x's c planes, zero-padded. */
void sm_conv_direct_pad(int c, int h, int w, const float *x, float *xpad);

/* y (c_out × h × w) = conv(x, wt), or += when add; xpad from
 * sm_conv_direct_pad of x (c_in planes); out: sm_conv_direct_out_floats. */
void sm_conv_direct_forward(int c_in, int c_out, int h, int w, const float *xpad, const float *wt, float *y,
                            int add, float *out);

/* dw[o][c][ky][kx] += Σ over the image of dy[o][oy][ox] · x[c][oy + ky − 1][ox + kx − 1],
 * from both padded images; c_out a multiple of 4, w >= 6. */
void sm_conv_direct_weight_grad(int c_in, int c_out, int h, int w, const float *xpad, const float *dypad,
                                float *dw);

#endif
