/* Fully connected layer, y = x Wᵀ (+ b), with W stored out × in like PyTorch.
 * x is n × in, y is n × out, row-major.  Every product is an sgemm cut into
 * fixed row blocks run by OpenMP threads (src/nn/gemm.h), so results are
 * bitwise identical for any thread count.  Backward accumulates (+=) into dx,
 * dw and db (the src/nn convention, see conv2d.h). */
#ifndef SM_NN_LINEAR_H
#define SM_NN_LINEAR_H

#include <stddef.h>

/* b may be NULL (no bias). */
void sm_linear_forward(size_t n, size_t in, size_t out, const float *x, const float *w,
                       const float *b, float *y);

/* dw += dyᵀ x; db += column sums of dy (db NULL: no bias); dx += dy W (dx NULL:
 * input needs no gradient). */
void sm_linear_backward(size_t n, size_t in, size_t out, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db);

#endif
