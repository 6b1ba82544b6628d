/* Residual connection: y = a + b elementwise (a BasicBlock's main path plus
 * its shortcut), either possibly read through a BatchNorm's map
 * (nn/channel_map.h) so that the BN's output need not be stored.  Backward passes dy to both
 * inputs, accumulating (+=) like every src/nn backward (see conv2d.h)
 * unless told to set them. */
#ifndef SM_NN_RESIDUAL_H
#define SM_NN_RESIDUAL_H

#include <stddef.h>

#include "nn/channel_map.h"

/* y = a + b over n × c × hw maps, each read through its map (channel by
 * channel) unless that is NULL; y may equal an operand read without one. */
void sm_residual_forward(size_t n, size_t c, size_t hw, const float *a, const sm_channel_map *a_map, const float *b,
                         const sm_channel_map *b_map, float *y);
/* da += dy, db += dy; with accumulate_a (accumulate_b) == 0, da = dy
 * (db = dy) instead, its old contents ignored. */
void sm_residual_backward(size_t count, const float *dy, float *da, int accumulate_a, float *db, int accumulate_b);

#endif
