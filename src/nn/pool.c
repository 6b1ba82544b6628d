#include "nn/pool.h"

void sm_pool_forward(size_t n, size_t c, size_t hw, const float *x, float *y)
{
    const size_t maps = n * c;
#pragma omp parallel for schedule(static)
    for (size_t m = 0; m < maps; m++) {
        double sum = 0.0;
        for (size_t t = 0; t < hw; t++) sum += x[m * hw + t];
        y[m] = (float)(sum / (double)hw);
    }
}

void sm_pool_backward(size_t n, size_t c, size_t hw, const float *dy, float *dx)
{
    const size_t maps = n * c;
#pragma omp parallel for schedule(static)
    for (size_t m = 0; m < maps; m++) {
        float g = (float)((double)dy[m] / (double)hw);
#pragma omp simd
        for (size_t t = 0; t < hw; t++) dx[m * hw + t] += g;
    }
}
