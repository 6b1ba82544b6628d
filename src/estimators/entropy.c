#include "estimators/entropy.h"

#include <assert.h>
#include <math.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "estimators/knn.h"

/* Rows of sphere data may come from float32 files normalised in float32. */
static const double SPHERE_TOL = 1e-4;

double sm_entropy_log_unit_ball(size_t d, int l2)
{
    const double h = 0.5 * (double)d;
    return l2 ? h * log(M_PI) - gsl_sf_lngamma(h + 1.0) : (double)d * M_LN2;
}

int sm_entropy_check_sphere(const double *x, size_t n, size_t d, const char *name,
                            sm_status *st)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t j = 0; j < d; j++) s += x[i * d + j] * x[i * d + j];
        if (!(fabs(sqrt(s) - 1.0) <= SPHERE_TOL))
            return sm_status_fail(st, SM_ERR_DATA, name,
                                  "row %zu is not a unit vector (norm %.17g) but sphere is set",
                                  i, sqrt(s));
    }
    return SM_OK;
}

int sm_entropy_unit_rows(const double *x, size_t n, size_t d, const char *name, double *out, sm_status *st)
{
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t j = 0; j < d; j++) ss += x[i * d + j] * x[i * d + j];
        double norm = sqrt(ss);
        if (!(norm > 0) || !isfinite(norm))
            return sm_status_fail(st, SM_ERR_DATA, name, "row %zu has norm %g: no direction on the sphere", i, norm);
        for (size_t j = 0; j < d; j++) out[i * d + j] = x[i * d + j] / norm;
    }
    return SM_OK;
}

int sm_entropy_prep(const double *x, size_t n, size_t d, const sm_prep_opts *o, int sphere, uint64_t stream,
                    const char *name, double *out, double *log_det_l, sm_arena *ws, sm_status *st)
{
    int rc = sm_prep_block(x, n, d, o, stream, name, out, log_det_l, ws, st);
    if (rc || !sphere || !(o && o->noise > 0.0)) return rc;
    return sm_entropy_unit_rows(out, n, d, name, out, st);
}

int sm_entropy_check_radii(const double *dist, size_t n, size_t k, const char *where,
                           sm_status *st)
{
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += dist[i * k + k - 1] == 0.0;
    if (zeros)
        return sm_status_fail(st, SM_ERR_DATA, where,
                              "k-th neighbour distance is 0 for %zu points: duplicate samples; "
                              "add noise: --noise S, or noise= in Python",
                              zeros);
    return SM_OK;
}

static int check_args(size_t n, size_t d, const sm_entropy_opts *o, sm_status *st)
{
    const char *w = "KL entropy";
    if (n < 2) return sm_status_fail(st, SM_ERR_USAGE, w, "need at least 2 samples, got %zu", n);
    if (d == 0) return sm_status_fail(st, SM_ERR_USAGE, w, "dimension must be at least 1");
    if (o->k < 1 || o->k >= n)
        return sm_status_fail(st, SM_ERR_USAGE, w,
                              "k must satisfy 1 <= k < N, got k = %zu, N = %zu", o->k, n);
    if (o->sphere && d < 2)
        return sm_status_fail(st, SM_ERR_USAGE, w, "sphere needs dimension >= 2, got %zu", d);
    if (o->sphere && o->prep.whiten)
        return sm_status_fail(st, SM_ERR_USAGE, w, "whitening is not defined on the sphere");
    return SM_OK;
}

int sm_entropy_kl(const double *x, size_t n, size_t d, const sm_entropy_opts *o, double *h,
                  sm_arena *ws, sm_status *st)
{
    assert(x && o && h);
    int rc = check_args(n, d, o, st);
    if (rc == SM_OK && o->sphere) rc = sm_entropy_check_sphere(x, n, d, "x", st);
    if (rc) return rc;

    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    const size_t k = o->k;
    double log_det_l = 0.0;
    double *xp = sm_arena_alloc(ar, n * d, sizeof *xp, st);
    double *dist = xp ? sm_arena_alloc(ar, n * k, sizeof *dist, st) : NULL;
    rc = dist ? sm_entropy_prep(x, n, d, &o->prep, o->sphere, 0, "x", xp, &log_det_l, ar, st) : SM_ERR_DATA;
    if (rc == SM_OK)
        rc = sm_knn_search(xp, n, d, k, (sm_knn_metric){SM_KNN_L2, 0}, dist, NULL, ar, st);
    if (rc == SM_OK) rc = sm_entropy_check_radii(dist, n, k, "KL entropy", st);
    if (rc == SM_OK) {
        double sum_log_r = 0.0;
        for (size_t i = 0; i < n; i++) sum_log_r += log(dist[i * k + k - 1]);
        const size_t de = o->sphere ? d - 1 : d;
        *h = gsl_sf_psi((double)n) - gsl_sf_psi((double)k) + sm_entropy_log_unit_ball(de, 1) +
             (double)de * sum_log_r / (double)n + log_det_l;
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}
