/* The map a BatchNorm applies to each channel of its input,
 *
 *   y = (x − mean) · scale + shift,  then max(y, 0) when relu,
 *
 * given as c-float arrays, so that a layer reading a BN's output can read the
 * BN's input through the map instead: a BN output that only convolutions
 * and residual adds read is then never stored (src/nn/conv2d.h and
 * src/nn/residual.h take such a map).  The
 * expression below is the only one that computes the map, in BatchNorm and
 * wherever it is read through, so both give the same bits (C11 mode: no
 * contraction into fused multiply-adds, see core/simd.h); the one other
 * form, the AVX-512 padding of src/nn/conv_direct.c, spells out the same
 * three operations and ReLU, and test_nn_conv2d compares its bits. */
#ifndef SM_NN_CHANNEL_MAP_H
#define SM_NN_CHANNEL_MAP_H

#include <stddef.h>

typedef struct {
    const float *mean, *scale, *shift;
    int relu;
} sm_channel_map;

/* The map before its ReLU (BatchNorm's backward rebuilds the ReLU mask from it). */
static inline float sm_channel_affine(float x, float mean, float scale, float shift)
{
    return (x - mean) * scale + shift;
}

static inline float sm_channel_value(float x, float mean, float scale, float shift, int relu)
{
    const float v = sm_channel_affine(x, mean, scale, shift);
    return relu && !(v > 0.0f) ? 0.0f : v;
}

/* BatchNorm's input gradient as a map of its output gradient dy and its
 * input x, channel by channel (src/nn/batchnorm.h):
 *
 *   dx = a · g + b · (x − mean) + d,  g = dy, or +0 where the forward
 *                                     map's ReLU cut (x − mean)·scale + shift,
 *
 * so that the convolution before a BatchNorm can read its output gradient
 * through the map instead of the BatchNorm writing it (src/nn/conv2d.h).
 * x is the values the map reads beside dy, laid out like them.  Whoever
 * reads through it spells out BatchNorm's operations in its order, for the
 * same bits (test_nn_conv2d compares them). */
typedef struct {
    sm_channel_map map; /* the forward map: its mean, and its ReLU's test */
    const float *a, *b, *d;
    const float *x;
} sm_grad_map;

/* out[t] = channel ch's map of in[t·step], t < n (step 1 or more), plus
 * add[t] unless add is NULL (a residual sum: add + map, in that order;
 * step 1). */
void sm_channel_map_run(const sm_channel_map *map, int ch, const float *in, size_t step, size_t n, const float *add,
                        float *out);

#endif
