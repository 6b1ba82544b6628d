#include "estimators/prep.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/rng.h"
#include "estimators/gauss.h"

static int copy_finite(const double *x, size_t n, size_t d, const char *name, double *out,
                       sm_status *st)
{
    for (size_t i = 0; i < n * d; i++) {
        if (!isfinite(x[i]))
            return sm_status_fail(st, SM_ERR_DATA, name, "non-finite value at row %zu, column %zu",
                                  i / d, i % d);
        out[i] = x[i];
    }
    return SM_OK;
}

/* out ← L⁻¹ (out − mean) row by row (forward substitution), L from the
 * covariance of out itself. */
static int whiten(double *out, size_t n, size_t d, const char *name, double *log_det_l,
                  sm_arena *ar, sm_status *st)
{
    char where[96];
    snprintf(where, sizeof where, "whitening %s", name);
    double *mean = sm_arena_alloc(ar, d, sizeof *mean, st);
    double *l = mean ? sm_arena_alloc(ar, d * d, sizeof *l, st) : NULL;
    if (!l) return SM_ERR_DATA;
    int rc = sm_gauss_cov(out, n, d, mean, l, st);
    if (rc == SM_OK) rc = sm_gauss_cholesky(l, d, 0.0, where, st);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        double *w = out + i * d;
        for (size_t a = 0; a < d; a++) {
            double s = w[a] - mean[a];
            for (size_t b = 0; b < a; b++) s -= l[a * d + b] * w[b];
            w[a] = s / l[a * d + a];
        }
    }
    *log_det_l = 0.5 * sm_gauss_cholesky_logdet(l, d);
    return SM_OK;
}

int sm_prep_block(const double *x, size_t n, size_t d, const sm_prep_opts *o, uint64_t stream,
                  const char *name, double *out, double *log_det_l, sm_arena *ws,
                  sm_status *st)
{
    assert(x && out && n >= 1 && d >= 1);
    const sm_prep_opts none = {0};
    if (!o) o = &none;
    if (!(o->noise >= 0.0) || !isfinite(o->noise))
        return sm_status_fail(st, SM_ERR_USAGE, name, "noise must be finite and >= 0, got %g",
                              o->noise);
    double ldl = 0.0;
    int rc = copy_finite(x, n, d, name, out, st);
    if (rc == SM_OK && o->whiten) {
        sm_arena local = {0};
        sm_arena *ar = ws ? ws : &local;
        size_t mark = sm_arena_mark(ar);
        rc = whiten(out, n, d, name, &ldl, ar, st);
        sm_arena_release(ar, mark);
        sm_arena_free(&local);
    }
    if (rc == SM_OK && o->noise > 0.0) {
        sm_rng r;
        sm_rng_seed(&r, o->seed, SM_PREP_JITTER_STREAMS + stream);
        for (size_t i = 0; i < n * d; i++) out[i] += o->noise * sm_rng_normal(&r);
    }
    if (rc == SM_OK && log_det_l) *log_det_l = ldl;
    return rc;
}
