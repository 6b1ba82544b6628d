#include "data/sampler.h"

#include <assert.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"

/* Stream tag of the sampler's draws (apart from augmentation and data). */
#define TAG_SAMPLER 0x73616d706c6572ULL

int sm_sampler_alloc(sm_sampler *s, size_t n, size_t batch, uint64_t seed, sm_status *st)
{
    memset(s, 0, sizeof *s);
    if (batch == 0) return sm_status_fail(st, SM_ERR_USAGE, NULL, "batch size must be positive");
    if (batch > n)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "batch %zu is larger than the %zu training images", batch, n);
    size_t *order = sm_mem_alloc(n, sizeof *order, st);
    if (!order) return SM_ERR_DATA;
    *s = (sm_sampler){.order = order, .n = n, .batch = batch, .seed = seed};
    sm_sampler_shuffle(s, 0);
    return SM_OK;
}

void sm_sampler_free(sm_sampler *s)
{
    sm_mem_free(s->order);
    memset(s, 0, sizeof *s);
}

void sm_sampler_shuffle(sm_sampler *s, uint64_t epoch)
{
    sm_rng r;
    sm_rng_seed(&r, s->seed, sm_rng_mix(TAG_SAMPLER ^ epoch));
    for (size_t i = 0; i < s->n; i++) s->order[i] = i;
    for (size_t i = s->n; i > 1; i--) {
        size_t j = (size_t)sm_rng_below(&r, i), t = s->order[i - 1];
        s->order[i - 1] = s->order[j];
        s->order[j] = t;
    }
}

size_t sm_sampler_batches(const sm_sampler *s) { return s->n / s->batch; }

const size_t *sm_sampler_batch(const sm_sampler *s, size_t b)
{
    assert(b < sm_sampler_batches(s));
    return s->order + b * s->batch;
}
