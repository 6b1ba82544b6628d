#include "nn/relu.h"

void sm_relu_backward(size_t count, const float *y, const float *dy, float *dx, int accumulate)
{
    /* dy is loaded whether or not it is used: `y > 0 ? dy[i] : 0` would read
     * dy[i] conditionally, which the compiler must keep as a branch (a scalar
     * loop, mispredicted half the time on ReLU outputs); with both operands
     * loaded it is a vector select.  Same values bit for bit. */
    if (accumulate) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < count; i++) {
            const float g = dy[i];
            dx[i] += y[i] > 0.0f ? g : 0.0f;
        }
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < count; i++) {
            const float g = dy[i];
            dx[i] = y[i] > 0.0f ? g : 0.0f;
        }
    }
}
