/* Rectified linear unit, elementwise over count floats.  Backward reads the
 * OUTPUT y (y > 0 exactly where x > 0), so the forward may run in place.
 * Backward accumulates (+=) into dx (the src/nn convention, see conv2d.h)
 * unless told to set it; dx must not alias dy. */
#ifndef SM_NN_RELU_H
#define SM_NN_RELU_H

#include <stddef.h>

/* max(x, 0): the one expression of the forward (also fused into
 * nn/residual.h's sum). */
static inline float sm_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* y = max(x, 0); y may equal x. */
void sm_relu_forward(size_t count, const float *x, float *y);
/* dx += dy · [y > 0], or with accumulate == 0 dx = dy · [y > 0] (dx's old
 * contents ignored: the first writer of a gradient need not zero it). */
void sm_relu_backward(size_t count, const float *y, const float *dy, float *dx, int accumulate);

#endif
