/* Seeded random numbers: xoshiro256** (Blackman & Vigna 2018).
 *
 * Streams are independent by construction: sm_rng_seed(seed, stream) hashes
 * (seed, stream) through splitmix64, so per-thread or per-sample streams are
 * reproducible whatever the thread count (stream = thread id, or a hash of
 * step and sample index).  The state is plain data; checkpoints store none,
 * as every stream is derived again from the seed and its position (epoch,
 * step, sample). */
#ifndef SM_CORE_RNG_H
#define SM_CORE_RNG_H

#include <stdint.h>
#include "core/export.h"

typedef struct {
    uint64_t s[4];
} sm_rng;

SM_API void sm_rng_seed(sm_rng *r, uint64_t seed, uint64_t stream);
SM_API uint64_t sm_rng_next(sm_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
SM_API double sm_rng_uniform(sm_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
SM_API uint64_t sm_rng_below(sm_rng *r, uint64_t n);
/* Standard normal (Marsaglia polar method; no cached second value, so the
 * state alone determines the sequence). */
SM_API double sm_rng_normal(sm_rng *r);
/* splitmix64 finaliser: a good 64-bit mix, used to derive stream ids. */
SM_API uint64_t sm_rng_mix(uint64_t x);

#endif
