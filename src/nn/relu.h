/* Rectified linear unit.  The forward runs inside the layers it follows
 * (BatchNorm's map, nn/channel_map.h, and the residual add, nn/residual.h);
 * the backward, elementwise over count floats, reads the OUTPUT y (y > 0
 * exactly where x > 0) and accumulates (+=) into dx (the src/nn convention,
 * see conv2d.h) unless told to set it; dx (and dx2) must not alias dy or
 * each other. */
#ifndef SM_NN_RELU_H
#define SM_NN_RELU_H

#include <stddef.h>

/* max(x, 0): the one expression of the forward. */
static inline float sm_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* dx += dy · [y > 0], or with accumulate == 0 dx = dy · [y > 0] (dx's old
 * contents ignored: the first writer of a gradient need not zero it); the
 * same into dx2 (+= unless accumulate2 is 0) in the same pass unless dx2 is
 * NULL: a residual add's two inputs (nn/residual.h). */
void sm_relu_backward(size_t count, const float *y, const float *dy, float *dx, int accumulate, float *dx2,
                      int accumulate2);

#endif
