#include "nn/residual.h"

#include <string.h>

void sm_residual_forward(size_t n, size_t c, size_t hw, const float *a, const float *b, const sm_channel_map *b_map,
                         float *y)
{
    if (b_map) {
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < n * c; r++)
            sm_channel_map_run(b_map, (int)(r % c), b + r * hw, 1, hw, a + r * hw, y + r * hw);
        return;
    }
    const size_t count = n * c * hw;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

/* d += g, or d = g. */
static void pass_gradient(size_t count, const float *g, float *d, int accumulate)
{
    if (accumulate) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < count; i++) d[i] += g[i];
    } else {
        memcpy(d, g, count * sizeof(float));
    }
}

void sm_residual_backward(size_t count, const float *dy, float *da, int accumulate_a, float *db, int accumulate_b)
{
    pass_gradient(count, dy, da, accumulate_a);
    pass_gradient(count, dy, db, accumulate_b);
}
