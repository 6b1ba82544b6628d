#include "estimators/resample.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

static int cmp_size(const void *a, const void *b)
{
    size_t u = *(const size_t *)a, v = *(const size_t *)b;
    return (u > v) - (u < v);
}

double sm_resample_quantile(double *v, size_t n, double p)
{
    assert(v && n >= 1 && p >= 0.0 && p <= 1.0);
    qsort(v, n, sizeof *v, cmp_double);
    double pos = p * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1) return v[n - 1];
    double frac = pos - (double)lo;
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

/* pick[0..m) = m distinct rows of n, ascending: the first m draws of a
 * Fisher–Yates shuffle of the identity (perm is scratch of n). */
static void draw_rows(sm_rng *r, size_t n, size_t m, size_t *perm, size_t *pick)
{
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < m; i++) {
        size_t j = i + (size_t)sm_rng_below(r, n - i);
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(pick, perm, m * sizeof *pick);
    qsort(pick, m, sizeof *pick, cmp_size);
}

static void gather(const double *src, size_t d, const size_t *pick, size_t m, double *dst)
{
    for (size_t i = 0; i < m; i++) memcpy(dst + i * d, src + pick[i] * d, d * sizeof *dst);
}

static int check_args(size_t dx, const double *y, size_t dy, size_t n, size_t resamples, sm_status *st)
{
    if (dx == 0 || (y && dy == 0)) /* a public call: an empty array is the caller's data, not a crash */
        return sm_status_fail(st, SM_ERR_USAGE, "subsampling", "need at least 1 column, got %zu and %zu", dx, dy);
    if (n < 4)
        return sm_status_fail(st, SM_ERR_USAGE, "subsampling",
                              "need at least 4 samples to subsample, got %zu", n);
    if (resamples < 2)
        return sm_status_fail(st, SM_ERR_USAGE, "subsampling",
                              "need at least 2 resamples, got %zu", resamples);
    return SM_OK;
}

int sm_resample_values(const double *x, size_t dx, const double *y, size_t dy, size_t n, size_t resamples,
                       uint64_t seed, size_t k, sm_resample_fn fn, void *ctx, double *vals, sm_arena *ws,
                       sm_status *st)
{
    assert(x && (y || dy == 0) && fn && k >= 1 && vals);
    int rc = check_args(dx, y, dy, n, resamples, st);
    if (rc) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    const size_t m = n / 2;
    double *one = sm_arena_alloc(ar, k, sizeof *one, st);
    size_t *perm = one ? sm_arena_alloc(ar, n, sizeof *perm, st) : NULL;
    size_t *pick = perm ? sm_arena_alloc(ar, m, sizeof *pick, st) : NULL;
    double *xs = pick ? sm_arena_alloc(ar, m * dx, sizeof *xs, st) : NULL;
    double *ys = xs && y ? sm_arena_alloc(ar, m * dy, sizeof *ys, st) : NULL;
    if (!xs || (y && !ys)) rc = SM_ERR_DATA;

    for (size_t b = 0; rc == SM_OK && b < resamples; b++) {
        sm_rng r;
        sm_rng_seed(&r, seed, b);
        draw_rows(&r, n, m, perm, pick);
        gather(x, dx, pick, m, xs);
        if (y) gather(y, dy, pick, m, ys);
        rc = fn(ctx, xs, dx, ys, dy, m, one, ar, st);
        for (size_t j = 0; rc == SM_OK && j < k; j++) vals[j * resamples + b] = one[j];
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

void sm_resample_interval(double value, double *vals, size_t resamples, size_t n, sm_resample_result *out)
{
    assert(vals && resamples >= 2 && n >= 4 && out);
    /* Subsampling interval: the spread of the m-row estimates about their
     * own median, centred on the full-data estimate.  Without replacement
     * Var(θ_m − θ_N) ≈ σ²(1/m − 1/N), so sqrt(m/(N − m)) rescales it to
     * the spread σ²/N at N (1 for m = N/2).  Centring on the median
     * removes the extra small-sample bias at m, which for k-NN
     * estimators can exceed the spread itself. */
    const size_t m = n / 2;
    const double med = sm_resample_quantile(vals, resamples, 0.5);
    const double scale = sqrt((double)m / (double)(n - m));
    out->value = value;
    out->ci_low = value + scale * (sm_resample_quantile(vals, resamples, 0.025) - med);
    out->ci_high = value + scale * (sm_resample_quantile(vals, resamples, 0.975) - med);
    out->resamples = resamples;
    out->m = m;
}

int sm_resample_subsample(const double *x, size_t dx, const double *y, size_t dy, size_t n,
                          size_t resamples, uint64_t seed, sm_resample_fn fn, void *ctx,
                          sm_resample_result *out, sm_arena *ws, sm_status *st)
{
    assert(x && (y || dy == 0) && fn && out);
    int rc = check_args(dx, y, dy, n, resamples, st);
    if (rc) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    double value = 0.0;
    rc = fn(ctx, x, dx, y, dy, n, &value, ar, st);
    double *vals = rc ? NULL : sm_arena_alloc(ar, resamples, sizeof *vals, st);
    if (!rc && !vals) rc = SM_ERR_DATA;
    if (!rc) rc = sm_resample_values(x, dx, y, dy, n, resamples, seed, 1, fn, ctx, vals, ar, st);
    if (!rc) sm_resample_interval(value, vals, resamples, n, out);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}
