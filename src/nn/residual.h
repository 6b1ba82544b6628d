/* Residual connection: y = a + b elementwise (a BasicBlock's main path plus
 * its shortcut).  Backward passes dy to both inputs, accumulating (+=) like
 * every src/nn backward (see conv2d.h) unless told to set them. */
#ifndef SM_NN_RESIDUAL_H
#define SM_NN_RESIDUAL_H

#include <stddef.h>

/* y = a + b; y may equal a or b. */
void sm_residual_forward(size_t count, const float *a, const float *b, float *y);
/* da += dy, db += dy; with accumulate_a (accumulate_b) == 0, da = dy
 * (db = dy) instead, its old contents ignored. */
void sm_residual_backward(size_t count, const float *dy, float *da, int accumulate_a, float *db, int accumulate_b);

#endif
