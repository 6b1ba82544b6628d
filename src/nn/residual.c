#include "nn/residual.h"

void sm_residual_forward(size_t count, const float *a, const float *b, float *y)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

void sm_residual_backward(size_t count, const float *dy, float *da, float *db)
{
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) {
        da[i] += dy[i];
        db[i] += dy[i];
    }
}
