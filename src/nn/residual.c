#include "nn/residual.h"

#include <string.h>

#include "nn/relu.h"

/* One run of hw values (channel ch): y = a + b, each through its map, then
 * the ReLU while the run is in cache. */
static void add_run(size_t ch, size_t hw, const float *a, const sm_channel_map *a_map, const float *b,
                    const sm_channel_map *b_map, int relu, float *y)
{
    if (a_map) {
        sm_channel_map_run(a_map, (int)ch, a, 1, hw, NULL, y);
        a = y;
    }
    if (b_map) {
        sm_channel_map_run(b_map, (int)ch, b, 1, hw, a, y);
    } else {
#pragma omp simd
        for (size_t t = 0; t < hw; t++) y[t] = a[t] + b[t];
    }
    if (relu) {
#pragma omp simd
        for (size_t t = 0; t < hw; t++) y[t] = sm_relu(y[t]);
    }
}

void sm_residual_forward(size_t n, size_t c, size_t hw, const float *a, const sm_channel_map *a_map, const float *b,
                         const sm_channel_map *b_map, int relu, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < n * c; r++) add_run(r % c, hw, a + r * hw, a_map, b + r * hw, b_map, relu, y + r * hw);
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

/* With the ReLU, one pass masks dy once for both inputs (two passes read y
 * and dy twice). */
void sm_residual_backward(size_t count, const float *y, const float *dy, float *da, int accumulate_a, float *db,
                          int accumulate_b)
{
    if (y) {
        sm_relu_backward(count, y, dy, da, accumulate_a, db, accumulate_b);
        return;
    }
    pass_gradient(count, dy, da, accumulate_a);
    pass_gradient(count, dy, db, accumulate_b);
}
