#include "nn/linear.h"

#include <string.h>

#include "nn/gemm.h"

void sm_linear_forward(size_t n, size_t in, size_t out, const float *x, const float *w,
                       const float *b, float *y)
{
    /* Seed y with the bias so the product is added onto it. */
    if (b)
        for (size_t i = 0; i < n; i++) memcpy(y + i * out, b, sizeof(float) * out);
    /* y (n × out) = x (n × in) · Wᵀ */
    sm_gemm_rows(0, 1, (int)n, (int)out, (int)in, x, (int)in, w, (int)in, b ? 1.0f : 0.0f, y, (int)out);
}

void sm_linear_backward(size_t n, size_t in, size_t out, const float *x, const float *w,
                        const float *dy, float *dx, float *dw, float *db)
{
    /* dw (out × in) += dyᵀ (out × n) · x (n × in) */
    sm_gemm_rows(1, 0, (int)out, (int)in, (int)n, dy, (int)out, x, (int)in, 1.0f, dw, (int)in);
    if (dx) /* dx (n × in) += dy (n × out) · W (out × in) */
        sm_gemm_rows(0, 0, (int)n, (int)in, (int)out, dy, (int)out, w, (int)in, 1.0f, dx, (int)in);
    if (db)
        for (size_t j = 0; j < out; j++) {
            double sum = 0.0;
            for (size_t i = 0; i < n; i++) sum += dy[i * out + j];
            db[j] += (float)sum;
        }
}
