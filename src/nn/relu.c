#include "nn/relu.h"

#include "core/simd.h"

/* dy where the output y kept the input, +0 where the ReLU cut it. */
static inline float relu_grad(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

/* Floats one call of the vector loop takes: the threads share the blocks. */
enum { BLOCK = 4096 };

/* The loop with its flags constant (inlined once per combination below),
 * so that each combination is a plain vector loop.  dy is read whether or
 * not it is kept (relu_grad takes it as a value): a conditional read
 * would stay a branch, a scalar loop mispredicted half the time on ReLU
 * outputs; read either way it is a vector select.  Same values bit for
 * bit. */
static inline __attribute__((always_inline)) void backward_body(size_t n, const float *y, const float *dy, float *dx,
                                                                int accumulate, float *dx2, int accumulate2, int two)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        const float g = relu_grad(y[i], dy[i]);
        if (accumulate)
            dx[i] += g;
        else
            dx[i] = g;
        if (two && accumulate2)
            dx2[i] += g;
        else if (two)
            dx2[i] = g;
    }
}

SM_VECTOR_CLONES static void backward_block(size_t n, const float *y, const float *dy, float *dx, int accumulate,
                                            float *dx2, int accumulate2)
{
    if (!dx2 && accumulate)
        backward_body(n, y, dy, dx, 1, NULL, 0, 0);
    else if (!dx2)
        backward_body(n, y, dy, dx, 0, NULL, 0, 0);
    else if (accumulate && accumulate2)
        backward_body(n, y, dy, dx, 1, dx2, 1, 1);
    else if (accumulate)
        backward_body(n, y, dy, dx, 1, dx2, 0, 1);
    else if (accumulate2)
        backward_body(n, y, dy, dx, 0, dx2, 1, 1);
    else
        backward_body(n, y, dy, dx, 0, dx2, 0, 1);
}

void sm_relu_backward(size_t count, const float *y, const float *dy, float *dx, int accumulate, float *dx2,
                      int accumulate2)
{
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < count; b += BLOCK)
        backward_block(count - b < BLOCK ? count - b : BLOCK, y + b, dy + b, dx + b, accumulate, dx2 ? dx2 + b : NULL,
                       accumulate2);
}
