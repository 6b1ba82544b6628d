/* Residual connection: y = a + b elementwise (a BasicBlock's main path plus
 * its shortcut), either operand possibly read through a BatchNorm's map
 * (nn/channel_map.h) so that the BN's output need not be stored, and
 * optionally the block's closing ReLU in the same pass: y = max(a + b, 0),
 * the bits of sm_relu after the plain sum.  Backward passes dy (masked by
 * that ReLU) to both inputs, accumulating (+=) like every src/nn backward
 * (see conv2d.h) unless told to set them. */
#ifndef SM_NN_RESIDUAL_H
#define SM_NN_RESIDUAL_H

#include <stddef.h>

#include "nn/channel_map.h"

/* y = a + b over n × c × hw maps, each operand read through its map
 * (channel by channel) unless that is NULL, then max(·, 0) when relu; y may
 * equal a (a's map, if any, is applied into y before b is read, so y must
 * not equal b when a has one). */
void sm_residual_forward(size_t n, size_t c, size_t hw, const float *a, const sm_channel_map *a_map, const float *b,
                         const sm_channel_map *b_map, int relu, float *y);
/* da += g, db += g with g = dy, or with y (the forward's output with relu;
 * NULL without) g = dy · [y > 0] as sm_relu_backward; with accumulate_a
 * (accumulate_b) == 0, da = g (db = g) instead, its old contents ignored. */
void sm_residual_backward(size_t count, const float *y, const float *dy, float *da, int accumulate_a, float *db,
                          int accumulate_b);

#endif
