#include "core/rng.h"

#include <math.h>

uint64_t sm_rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void sm_rng_seed(sm_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = sm_rng_mix(seed) ^ sm_rng_mix(stream ^ 0x5851f42d4c957f2dULL);
    for (int i = 0; i < 4; i++) {
        x = sm_rng_mix(x);
        r->s[i] = x;
    }
    /* All-zero state is the one fixed point of xoshiro; mix() makes it
     * astronomically unlikely, but guard anyway. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sm_rng_next(sm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sm_rng_uniform(sm_rng *r) { return (double)(sm_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t sm_rng_below(sm_rng *r, uint64_t n)
{
    /* Rejection: accept only values below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = sm_rng_next(r);
    while (x >= limit);
    return x % n;
}

double sm_rng_normal(sm_rng *r)
{
    double u, v, s;
    do {
        u = 2.0 * sm_rng_uniform(r) - 1.0;
        v = 2.0 * sm_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}
