#include "nn/channel_map.h"

#include <assert.h>

#include "core/simd.h"

/* Contiguous runs vectorise with plain loads; the stride-2 phases of a
 * convolution's input take every other value.  Adding 0 where there is
 * nothing to add would turn −0 into +0, hence the separate loop. */
SM_VECTOR_CLONES void sm_channel_map_run(const sm_channel_map *map, int ch, const float *in, size_t step, size_t n,
                                         const float *add, float *out)
{
    const float mean = map->mean[ch], scale = map->scale[ch], shift = map->shift[ch];
    const int relu = map->relu;
    if (add) {
        assert(step == 1);
#pragma omp simd
        for (size_t t = 0; t < n; t++) out[t] = add[t] + sm_channel_value(in[t], mean, scale, shift, relu);
    } else if (step == 1) {
#pragma omp simd
        for (size_t t = 0; t < n; t++) out[t] = sm_channel_value(in[t], mean, scale, shift, relu);
    } else {
#pragma omp simd
        for (size_t t = 0; t < n; t++) out[t] = sm_channel_value(in[t * step], mean, scale, shift, relu);
    }
}
