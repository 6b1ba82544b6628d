/* Epoch sampler: a seeded permutation of the training indices per epoch,
 * cut into batches with the last, incomplete batch dropped (batch norm and
 * the per-step learning rate expect full batches).
 *
 * The permutation of epoch e is Fisher–Yates applied to 0..n−1 with the
 * stream sm_rng_seed(seed, mix(tag ^ e)): it depends on (seed, e) only, not
 * on earlier epochs, so a run resumed at epoch e sees the same batches.
 *
 *   sm_sampler s;
 *   if (sm_sampler_alloc(&s, train.n, cfg->batch, cfg->seed, st)) return st->code;
 *   for (epoch ...) {
 *       sm_sampler_shuffle(&s, epoch);
 *       for (size_t b = 0; b < sm_sampler_batches(&s); b++) use(sm_sampler_batch(&s, b));
 *   }
 *   sm_sampler_free(&s);
 */
#ifndef SM_DATA_SAMPLER_H
#define SM_DATA_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

typedef struct {
    size_t *order;  /* the current epoch's permutation of 0..n−1 */
    size_t n, batch;
    uint64_t seed;
} sm_sampler;

/* Sampler over n items in batches of `batch`, shuffled for epoch 0.
 * SM_ERR_USAGE if batch is 0 or larger than n ("batch 256 is larger than
 * the 100 training images"); on failure *s is zeroed. */
int sm_sampler_alloc(sm_sampler *s, size_t n, size_t batch, uint64_t seed, sm_status *st);

/* Free and zero (safe on a zeroed struct). */
void sm_sampler_free(sm_sampler *s);

/* Make order the permutation of this epoch. */
void sm_sampler_shuffle(sm_sampler *s, uint64_t epoch);

/* Full batches per epoch: n / batch. */
size_t sm_sampler_batches(const sm_sampler *s);

/* The batch indices of batch b < sm_sampler_batches(s): batch entries. */
const size_t *sm_sampler_batch(const sm_sampler *s, size_t b);

#endif
