/* Tracking events: the columns of track.csv from one sample (see track.h). */
#include "simsiam/track.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "estimators/affine.h"
#include "estimators/bound.h"
#include "estimators/entropy.h"
#include "estimators/gauss.h"
#include "estimators/mi.h"
#include "estimators/mix.h"
#include "estimators/mlp.h"
#include "estimators/nll.h"
#include "estimators/registry.h"
#include "estimators/resample.h"
#include "nn/gemm.h"
#include "nn/loss.h"

void sm_track_defaults(sm_track_opts *o, uint64_t seed)
{
    *o = (sm_track_opts){SM_TRACK_K, SM_TRACK_MAX_DIM, SM_TRACK_RESAMPLES, seed, SM_TRACK_MIX, 1};
}

/* ---- helpers -------------------------------------------------------------- */

#define ALSO "; also failed: "

/* Does the warning name `what` already: as its first failure ("what: ...")
 * or in the ALSO list? */
static int warned_of(const char *warning, const char *what)
{
    const size_t n = strlen(what);
    if (!strncmp(warning, what, n) && warning[n] == ':') return 1;
    const char *p = strstr(warning, ALSO);
    for (p = p ? p + strlen(ALSO) : NULL; p; p = strstr(p, ", ")) {
        if (*p == ',') p += 2;
        if (!strncmp(p, what, n) && (p[n] == ',' || p[n] == '\0')) return 1;
    }
    return 0;
}

/* value, or NaN after noting the failure in row->warning: the first one
 * with its message, the later ones by name ("i_gauss: covariance is not
 * positive definite; also failed: nll_full, i_ba"), cut at its size. */
static double or_nan(sm_track_row *row, int rc, const sm_status *est, const char *what, double value)
{
    if (!rc) return value;
    char *w = row->warning;
    const size_t len = strlen(w);
    if (!len) snprintf(w, sizeof row->warning, "%s: %s", what, est->msg);
    else if (!warned_of(w, what))
        snprintf(w + len, sizeof row->warning - len, "%s%s", strstr(w, ALSO) ? ", " : ALSO, what);
    return NAN;
}

/* value, or NaN noted as `what` when a column it is computed from is NaN:
 * that column's own failure is then already in the warning, with its cause. */
static double from_columns(sm_track_row *row, const char *what, const char *inputs, double value)
{
    if (!isnan(value)) return value;
    sm_status est;
    sm_status_fail(&est, SM_ERR_DATA, NULL, "%s could not be computed", inputs);
    return or_nan(row, est.code, &est, what, value);
}

static double mean_neg_cos(const double *p, const double *z, size_t n, size_t d)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const double *a = p + i * d, *b = z + i * d;
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < d; j++) ab += a[j] * b[j], aa += a[j] * a[j], bb += b[j] * b[j];
        total -= ab / (fmax(sqrt(aa), SM_LOSS_COSINE_EPS) * fmax(sqrt(bb), SM_LOSS_COSINE_EPS)); /* as the loss */
    }
    return total / (double)n;
}

/* Mean NLL of family f fitted on (z, p); *out_model (may be NULL) receives
 * the fitted model, else it is freed. */
static int fit_nll(sm_nll_family f, const double *z, const double *p, size_t n, size_t d, double *mean_nll,
                   double *kappa, sm_nll_model **out_model, sm_arena *ws, sm_status *st)
{
    sm_nll_model *m = sm_nll_model_alloc(f, d, st);
    if (!m) return st->code;
    int rc = sm_nll_model_fit(m, z, p, n, ws, st);
    if (!rc) *mean_nll = m->mean_nll;
    if (!rc && kappa) *kappa = m->kappa;
    if (!rc && out_model) *out_model = m;
    else sm_nll_model_free(m);
    return rc;
}

/* ---- the projection to the k-NN coordinates ------------------------------- */

/* u (d × r, column j = the j-th principal axis of z2, by decreasing
 * variance) and z2's mean; SM_ERR_DATA for non-finite input. */
static int principal_axes(const double *z2, size_t n, size_t d, size_t r, double *mean, double *u, sm_arena *ws,
                          sm_status *st)
{
    double *cov = sm_arena_alloc(ws, 2 * d * d + d, sizeof *cov, st);
    if (!cov) return st->code;
    double *evec = cov + d * d, *eval = evec + d * d;
    int rc = sm_gauss_cov(z2, n, d, mean, cov, st);
    if (!rc) rc = sm_gauss_eigen_sym(cov, d, eval, evec, st);
    for (size_t i = 0; i < d && !rc; i++) memcpy(u + i * r, evec + i * d, r * sizeof *u);
    return rc;
}

/* out (n × r) = (x − mean) u. */
static void project(const double *x, size_t n, size_t d, const double *mean, const double *u, size_t r,
                    double *out, double *centred)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) centred[i * d + j] = x[i * d + j] - mean[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)r, (int)d, 1.0, centred, (int)d, u, (int)r,
                0.0, out, (int)r);
}

/* The sample in the k-NN coordinates: z1, z2, p1 (n × r) and zv. */
typedef struct {
    size_t r;
    const double *z1, *z2, *p1, *zv;
} reduced;

static int reduce(const sm_track_sample *s, size_t r, reduced *out, sm_arena *ws, sm_status *st)
{
    out->r = r;
    if (r == s->d) { /* no rotation: the k-NN values are then the plain estimators' */
        out->z1 = s->z1, out->z2 = s->z2, out->p1 = s->p1, out->zv = s->zv;
        return SM_OK;
    }
    size_t d = s->d, n = s->n, nv = s->images * s->views, rows = n > nv ? n : nv;
    double *mean = sm_arena_alloc(ws, d, sizeof *mean, st);
    double *u = mean ? sm_arena_alloc(ws, d * r, sizeof *u, st) : NULL;
    double *tmp = u ? sm_arena_alloc(ws, rows * d, sizeof *tmp, st) : NULL;
    double *buf = tmp ? sm_arena_alloc(ws, 3 * n * r + nv * r, sizeof *buf, st) : NULL;
    if (!buf) return st->code;
    int rc = principal_axes(s->z2, n, d, r, mean, u, ws, st);
    if (rc) return rc;
    project(s->z1, n, d, mean, u, r, buf, tmp);
    project(s->z2, n, d, mean, u, r, buf + n * r, tmp);
    project(s->p1, n, d, mean, u, r, buf + 2 * n * r, tmp);
    if (nv) project(s->zv, nv, d, mean, u, r, buf + 3 * n * r, tmp);
    out->z1 = buf, out->z2 = buf + n * r, out->p1 = buf + 2 * n * r, out->zv = buf + 3 * n * r;
    return SM_OK;
}

/* ---- estimators as sm_resample_fn (the registry's, and what it lacks) ----------------------------------------- */

/* The registry's options for the k-NN estimators of a chain: whitened
 * max-norm blocks in R^d, or unit vectors on spheres. */
static sm_est_opts knn_opts(const sm_track_opts *o, int sphere)
{
    return (sm_est_opts){.k = o->k, .prep = {.whiten = !sphere}, .sphere = sphere};
}

static sm_mi_opts ksg_opts(const sm_track_opts *o, int sphere)
{
    const sm_est_opts e = knn_opts(o, sphere);
    return (sm_mi_opts){.k = e.k, .norm = sphere ? SM_MI_BLOCK_L2 : SM_MI_MAXNORM, .sphere = sphere, .prep = e.prep};
}

/* Ĥ(y|x) and Î(x; y) from one KSG-1 run (ctx: sm_mi_opts): the
 * conditional entropy, which the registry's kinds do not cover, and the MI
 * of the same neighbour counts. */
static int ksg_fn(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *value,
                  sm_arena *ws, sm_status *st)
{
    sm_ksg1_result r;
    int rc = sm_mi_ksg1(x, y, n, dx, dy, ctx, &r, ws, st);
    if (!rc) value[0] = r.h_y_given_x, value[1] = r.mi;
    return rc;
}

/* The registry's adapter of kind and name. */
static sm_resample_fn registered(sm_est_kind kind, const char *name)
{
    const sm_estimator *e = sm_estimator_find(kind, name);
    assert(e);
    return e->fn;
}

static int mean_fn(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *value,
                   sm_arena *ws, sm_status *st)
{
    (void)ctx, (void)dx, (void)y, (void)dy, (void)ws, (void)st;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += x[i];
    *value = sum / (double)n;
    return SM_OK;
}

/* ---- intervals: the columns' estimators on the subsamples ------------------ */

/* fn's values on the B subsamples of (x, y) (k per subsample, the j-th at
 * vals[j·B + b], in ws), or NULL after noting the failure as names[0..k).
 * Every interval of a row draws the same subsamples (same n and seed), so
 * values of different estimators pair up row for row. */
static double *subsample_values(sm_track_row *row, const char *const names[], size_t k, const double *x, size_t dx,
                                const double *y, size_t dy, size_t n, sm_resample_fn fn, void *ctx,
                                const sm_track_opts *o, sm_arena *ws)
{
    sm_status est;
    sm_status_clear(&est);
    double *vals = sm_arena_alloc(ws, k * o->resamples, sizeof *vals, &est);
    int rc = vals ? sm_resample_values(x, dx, y, dy, n, o->resamples, o->seed, k, fn, ctx, vals, ws, &est) : est.code;
    for (size_t j = 0; rc && j < k; j++) or_nan(row, rc, &est, names[j], 0);
    return rc ? NULL : vals;
}

/* *ci = the subsampling interval about value, the column's estimate on all n
 * rows, from vals (its B subsample values, left as they are).  NaN when
 * either is missing: the cause is noted already, `what` is then noted too. */
static void interval_about(sm_track_row *row, const char *what, double value, const double *vals, size_t n,
                           const sm_track_opts *o, sm_track_interval *ci, sm_arena *ws)
{
    sm_status est;
    sm_status_clear(&est);
    size_t mark = sm_arena_mark(ws);
    double *sorted = vals && !isnan(value) ? sm_arena_alloc(ws, o->resamples, sizeof *sorted, &est) : NULL;
    if (sorted) {
        memcpy(sorted, vals, o->resamples * sizeof *sorted);
        sm_resample_result res;
        sm_resample_interval(value, sorted, o->resamples, n, &res);
        ci->lo = res.ci_low, ci->hi = res.ci_high;
    } else if (vals && !isnan(value)) { /* no memory for the copy */
        ci->lo = ci->hi = or_nan(row, est.code, &est, what, 0);
    } else {
        ci->lo = ci->hi = from_columns(row, what, "its estimate on all rows or on the subsamples", NAN);
    }
    sm_arena_release(ws, mark);
}

/* *ci = the interval of fn's column `value` on (x, y); returns fn's values
 * on the subsamples (B, in ws), NULL when they failed or the column is NaN
 * (fn is then not run). */
static const double *interval(sm_track_row *row, const char *what, double value, const double *x, size_t dx,
                              const double *y, size_t dy, size_t n, sm_resample_fn fn, void *ctx,
                              const sm_track_opts *o, sm_track_interval *ci, sm_arena *ws)
{
    const double *vals = isnan(value) ? NULL : subsample_values(row, &what, 1, x, dx, y, dy, n, fn, ctx, o, ws);
    interval_about(row, what, value, vals, n, o, ci, ws);
    return vals;
}

/* *ci = the paired interval of the gap nll − h from the two terms' values
 * on the same subsamples (B each, NULL when they failed): their shared
 * noise cancels in the difference. */
static void gap_interval(sm_track_row *row, const char *what, double nll, double h, const double *nll_vals,
                         const double *h_vals, size_t n, const sm_track_opts *o, sm_track_interval *ci,
                         sm_arena *ws)
{
    sm_status est;
    sm_status_clear(&est);
    size_t mark = sm_arena_mark(ws);
    double *gap = nll_vals && h_vals ? sm_arena_alloc(ws, o->resamples, sizeof *gap, &est) : NULL;
    for (size_t b = 0; gap && b < o->resamples; b++) gap[b] = nll_vals[b] - h_vals[b];
    if (nll_vals && h_vals && !gap) or_nan(row, est.code, &est, what, 0); /* no memory: say so, not a column */
    interval_about(row, what, nll - h, gap, n, o, ci, ws);
    sm_arena_release(ws, mark);
}

/* ---- the columns ---------------------------------------------------------- */

static int check_sample(const sm_track_sample *s, const sm_track_opts *o, sm_status *st)
{
    if (o->k < 1 || o->max_dim < 1 || o->resamples < 2) /* options from Python arrive unchecked */
        return sm_status_fail(st, SM_ERR_USAGE, "tracking",
                              "need k >= 1, max_dim >= 1 and resamples >= 2, got %zu, %zu and %zu", o->k, o->max_dim,
                              o->resamples);
    if (s->n < 4 || s->d < 2)
        return sm_status_fail(st, SM_ERR_USAGE, "tracking", "need at least 4 probe pairs of 2 or more dimensions");
    if (s->images > 0 && s->views <= o->k)
        return sm_status_fail(st, SM_ERR_USAGE, "tracking", "need more than k = %zu views per image", o->k);
    return SM_OK;
}

/* loss_cos and the NLL families on (z2, p1); the full model for InfoNCE. */
static void nll_columns(const sm_track_sample *s, sm_track_row *row, sm_nll_model **full, sm_arena *ws)
{
    row->loss_cos = s->p2 ? 0.5 * mean_neg_cos(s->p1, s->z2, s->n, s->d) + 0.5 * mean_neg_cos(s->p2, s->z1, s->n, s->d)
                          : NAN;
    static const sm_nll_family fam[] = {SM_NLL_L2, SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF};
    static const char *const names[] = {"nll_l2", "nll_iso", "nll_diag", "nll_full", "nll_vmf"};
    double *col[] = {&row->nll_l2, &row->nll_iso, &row->nll_diag, &row->nll_full, &row->nll_vmf};
    row->kappa = NAN;
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        sm_status est;
        sm_status_clear(&est);
        double v = NAN;
        int rc = fit_nll(fam[f], s->z2, s->p1, s->n, s->d, &v, fam[f] == SM_NLL_VMF ? &row->kappa : NULL,
                         fam[f] == SM_NLL_FULL ? full : NULL, ws, &est);
        *col[f] = or_nan(row, rc, &est, names[f], v);
    }
}

/* Columns that see all d dimensions: h_z_gauss, i_gauss, i_infonce. */
static void gaussian_columns(const sm_track_sample *s, const sm_nll_model *full, sm_track_row *row, sm_arena *ws)
{
    sm_status est;
    sm_status_clear(&est);
    double h = NAN, mi = NAN;
    int rc = sm_gauss_entropy(s->z2, s->n, s->d, 0, &h, ws, &est);
    row->h_z_gauss = or_nan(row, rc, &est, "h_z_gauss", h);
    rc = sm_gauss_mi(s->z1, s->z2, s->n, s->d, s->d, 0, &mi, ws, &est);
    row->i_gauss = or_nan(row, rc, &est, "i_gauss", mi);
    row->infonce_cap = log((double)s->n);
    if (!full) { /* its critic is nll_full's model */
        row->i_infonce = from_columns(row, "i_infonce", "nll_full", NAN);
        return;
    }
    sm_bound_nce nce = {0};
    rc = sm_bound_infonce(full, s->z2, s->p1, s->n, &nce, ws, &est);
    row->i_infonce = or_nan(row, rc, &est, "i_infonce", nce.value);
}

/* Ĥ(z2|x): the KL entropy (eo: Euclidean or on the sphere) of each image's
 * views zv (images × views rows of r), averaged; *per_image (images values)
 * for the interval.  NaN if any image fails. */
static double entropy_given_x(const sm_track_sample *s, const double *zv, size_t r, const sm_entropy_opts *eo,
                              const char *what, double *per_image, sm_track_row *row, sm_arena *ws)
{
    double sum = 0;
    for (size_t i = 0; i < s->images; i++) {
        sm_status est;
        sm_status_clear(&est);
        int rc = sm_entropy_kl(zv + i * s->views * r, s->views, r, eo, &per_image[i], ws, &est);
        if (rc) return or_nan(row, rc, &est, what, 0);
        sum += per_image[i];
    }
    return sum / (double)s->images;
}

/* The interval of the mean of per_image over images (subsampled images). */
static void interval_given_x(const sm_track_sample *s, const char *what, const double *per_image, double value,
                             const sm_track_opts *o, sm_track_row *row, sm_track_interval *ci, sm_arena *ws)
{
    if (isfinite(value) && s->images >= 4)
        interval(row, what, value, per_image, 1, NULL, 0, s->images, mean_fn, NULL, o, ci, ws);
}

/* One chain in z (n × r) and zv: Ĥ(z2), Ĥ(z2|z1), Î, Ĥ(z2|x) and intervals,
 * in R^r (KL, whitened max-norm KSG-1) or on the sphere (unit rows).
 * Returns given_vals (B, the caller's) holding Ĥ(z2|z1) on the subsamples,
 * for the gap's interval, or NULL when they failed. */
typedef struct {
    double *h_z, *h_given_z1, *h_given_x, *i;
    sm_track_interval *h_z_ci, *h_given_z1_ci, *h_given_x_ci, *i_ci;
} chain_out;

static const double *chain_columns(const sm_track_sample *s, const double *z1, const double *z2, const double *zv,
                                   size_t r, int sphere, const sm_track_opts *o, const chain_out *out,
                                   double *given_vals, sm_track_row *row, sm_arena *ws)
{
    const char *names[] = {sphere ? "h_s_z" : "h_z_kl", sphere ? "h_s_given_z1" : "h_z_given_z1",
                           sphere ? "h_s_given_x" : "h_z_given_x", "i_ksg"};
    size_t n = s->n, mark = sm_arena_mark(ws);
    sm_status est;
    sm_status_clear(&est);
    sm_entropy_opts eo = {.k = o->k, .sphere = sphere};
    double h = NAN;
    int rc = sm_entropy_kl(z2, n, r, &eo, &h, ws, &est);
    *out->h_z = or_nan(row, rc, &est, names[0], h);

    sm_mi_opts mo = ksg_opts(o, sphere);
    sm_ksg1_result ksg = {NAN, NAN, NAN};
    rc = sm_mi_ksg1(z1, z2, n, r, r, &mo, &ksg, ws, &est);
    *out->h_given_z1 = or_nan(row, rc, &est, names[1], ksg.h_y_given_x);
    if (out->i) *out->i = or_nan(row, rc, &est, names[3], ksg.mi);

    double *per_image = NULL; /* no images: Ĥ(z2|x) is not tracked, NaN without a warning */
    if (s->images) {
        per_image = sm_arena_alloc(ws, s->images, sizeof *per_image, &est);
        *out->h_given_x = per_image ? entropy_given_x(s, zv, r, &eo, names[2], per_image, row, ws)
                                    : or_nan(row, 1, &est, names[2], 0);
    }

    sm_est_opts knn = knn_opts(o, sphere);
    if (out->h_z_ci)
        interval(row, names[0], *out->h_z, z2, r, NULL, 0, n, registered(SM_EST_ENTROPY, "kl"), &knn, o, out->h_z_ci,
                 ws);
    /* Ĥ(z2|z1) and Î from one KSG-1 run per subsample; Î is not tracked on the sphere */
    const char *ksg_names[] = {names[1], out->i ? names[3] : names[1]};
    const double *vals = isnan(*out->h_given_z1)
                             ? NULL
                             : subsample_values(row, ksg_names, 2, z1, r, z2, r, n, ksg_fn, &mo, o, ws);
    interval_about(row, names[1], *out->h_given_z1, vals, n, o, out->h_given_z1_ci, ws);
    if (out->i_ci) interval_about(row, names[3], *out->i, vals ? vals + o->resamples : NULL, n, o, out->i_ci, ws);
    if (per_image) interval_given_x(s, names[2], per_image, *out->h_given_x, o, row, out->h_given_x_ci, ws);
    const double *given = vals && given_vals ? memcpy(given_vals, vals, o->resamples * sizeof *given_vals) : NULL;
    sm_arena_release(ws, mark);
    return given;
}

/* h_s_* of track_detail.csv: the chain of ẑ = z/‖z‖ on S^{d−1}, and the
 * gap's interval from vmf_vals, nll_vmf on the subsamples (NULL: failed). */
static void sphere_columns(const sm_track_sample *s, const double *vmf_vals, const sm_track_opts *o,
                           sm_track_row *row, sm_arena *ws)
{
    size_t n = s->n, d = s->d, nv = s->images * s->views, mark = sm_arena_mark(ws);
    sm_status est;
    sm_status_clear(&est);
    double *u = sm_arena_alloc(ws, 2 * n * d + nv * d + o->resamples, sizeof *u, &est);
    if (!u) {
        row->h_s_z = row->h_s_given_z1 = row->h_s_given_x = or_nan(row, est.code, &est, "h_s", 0);
        return;
    }
    /* Each array on its own: one that cannot be normalised (a NaN, a zero
     * row) is NaN throughout, so only the columns that read it fail. */
    const double *in[] = {s->z1, s->z2, s->zv};
    const size_t rows[] = {n, n, nv};
    const char *names[] = {"z1", "z2", "zv"};
    for (size_t a = 0, at = 0; a < 3; at += rows[a] * d, a++)
        if (rows[a] && sm_entropy_unit_rows(in[a], rows[a], d, names[a], u + at, &est)) {
            or_nan(row, est.code, &est, "h_s", 0);
            for (size_t i = 0; i < rows[a] * d; i++) u[at + i] = NAN;
        }
    chain_out out = {&row->h_s_z, &row->h_s_given_z1, &row->h_s_given_x, NULL,
                     &row->h_s_z_ci, &row->h_s_given_z1_ci, &row->h_s_given_x_ci, NULL};
    double *given = u + 2 * n * d + nv * d;
    const double *h_vals = chain_columns(s, u, u + n * d, u + 2 * n * d, d, 1, o, &out, given, row, ws);
    gap_interval(row, "gap_s interval", row->nll_vmf, row->h_s_given_z1, vmf_vals, h_vals, n, o, &row->gap_s_ci, ws);
    sm_arena_release(ws, mark);
}

/* nll_r, nll_r_opt, nll_mlp, nll_mix: the Gaussian NLL in rd's coordinates
 * with the trained, the best affine and the MLP predictor, and the mixture
 * family on the trained predictor's residual; the gap's interval from h_vals,
 * Ĥ(z2|z1) on the subsamples (NULL: failed). */
static void floor_columns(const sm_track_sample *s, const reduced *rd, const double *h_vals, const sm_track_opts *o,
                          sm_track_row *row, sm_arena *ws)
{
    size_t n = s->n, r = rd->r;
    sm_status est;
    sm_status_clear(&est);
    double v = NAN;
    int rc = r == s->d && isfinite(row->nll_full) ? (v = row->nll_full, SM_OK)
                                               : fit_nll(SM_NLL_FULL, rd->z2, rd->p1, n, r, &v, NULL, NULL, ws, &est);
    row->nll_r = or_nan(row, rc, &est, "nll_r", v);
    /* The best affine predictor of z2 from z1, cross-fitted (estimators/affine.h). */
    rc = sm_affine_nll_crossfit(rd->z1, rd->z2, n, r, r, &v, ws, &est);
    row->nll_r_opt = or_nan(row, rc, &est, "nll_r_opt", v);
    if (o->mlp) {
        sm_mlp_opts mo;
        sm_mlp_defaults(&mo, o->seed);
        rc = sm_mlp_nll_crossfit(rd->z1, rd->z2, n, r, r, &mo, &v, ws, &est);
        row->nll_mlp = rc == SM_ERR_USAGE ? NAN : or_nan(row, rc, &est, "nll_mlp", v); /* too few pairs: n/a */
    }
    if (o->mix) {
        sm_mix_opts mo;
        sm_mix_defaults(&mo, o->seed);
        mo.components = o->mix;
        rc = sm_mix_nll_crossfit(rd->z2, rd->p1, n, r, &mo, &v, ws, &est);
        row->nll_mix = rc == SM_ERR_USAGE ? NAN : or_nan(row, rc, &est, "nll_mix", v);
    }
    sm_est_opts none = {0};
    const double *nll_vals = interval(row, "nll_r interval", row->nll_r, rd->z2, r, rd->p1, r, n,
                                      registered(SM_EST_NLL, "full"), &none, o, &row->nll_r_ci, ws);
    gap_interval(row, "gap interval", row->nll_r, row->h_z_given_z1, nll_vals, h_vals, n, o, &row->gap_ci, ws);
}

int sm_track_estimate(const sm_track_sample *s, const sm_track_opts *o, sm_track_row *row, sm_arena *ws,
                      sm_status *st)
{
    int rc = check_sample(s, o, st);
    if (rc) return rc;
    uint64_t step = row->step;
    sm_track_row_clear(row);
    row->step = step;
    row->n = s->n, row->views = s->views, row->images = s->images;
    sm_arena local = {0};
    if (!ws) ws = &local;
    size_t mark = sm_arena_mark(ws);
    /* the projection's and the affine fit's products on one OpenBLAS thread:
     * its threading is not bit-reproducible (nn/gemm.h), the row must be */
    const int saved_blas = sm_gemm_pin_blas();
    sm_nll_model *full = NULL;
    nll_columns(s, row, &full, ws);
    gaussian_columns(s, full, row, ws);
    sm_nll_model_free(full);
    sm_est_opts none = {0};
    const double *vmf_vals = interval(row, "nll_vmf interval", row->nll_vmf, s->z2, s->d, s->p1, s->d, s->n,
                                      registered(SM_EST_NLL, "vmf"), &none, o, &row->nll_vmf_ci, ws);

    row->dim_used = s->d < o->max_dim ? s->d : o->max_dim;
    reduced rd = {0};
    sm_status est;
    sm_status_clear(&est);
    rc = reduce(s, row->dim_used, &rd, ws, &est);
    if (rc) { /* only non-finite embeddings get here: every k-NN column stays NaN */
        or_nan(row, rc, &est, "projection", 0);
    } else {
        chain_out out = {&row->h_z_kl, &row->h_z_given_z1, &row->h_z_given_x, &row->i_ksg,
                         NULL, &row->h_z_given_z1_ci, &row->h_z_given_x_ci, &row->i_ksg_ci};
        double *given = sm_arena_alloc(ws, o->resamples, sizeof *given, &est);
        if (!given) or_nan(row, est.code, &est, "gap interval", 0);
        const double *h_vals = chain_columns(s, rd.z1, rd.z2, rd.zv, rd.r, 0, o, &out, given, row, ws);
        floor_columns(s, &rd, h_vals, o, row, ws);
        if (rd.r == s->d) sphere_columns(s, vmf_vals, o, row, ws);
    }
    const int kl = row->dim_used == s->d; /* Ĥ(z2) from h_z_kl in all d dimensions, else h_z_gauss (§1.8) */
    row->i_ba = from_columns(row, "i_ba", kl ? "h_z_kl or nll_full" : "h_z_gauss or nll_full",
                             sm_bound_ba(kl ? row->h_z_kl : row->h_z_gauss, row->nll_full));
    sm_gemm_restore_blas(saved_blas);
    sm_arena_release(ws, mark);
    sm_arena_free(&local);
    return SM_OK;
}

/* ---- z_std and the CSV rows ----------------------------------------------- */

/* z_std of n rows, read from zf (the trainer's floats) or zd (the tracker's
 * doubles), whichever is not NULL; NaN when the row norms cannot be
 * allocated.  The variance in two passes, about the mean: E[v²] − E[v]²
 * cancels to 0 near collapse, which is where the metric matters. */
static double z_std(const float *zf, const double *zd, size_t n, size_t d)
{
    double *inv_norm = sm_mem_alloc(n, sizeof *inv_norm, NULL);
    if (!inv_norm) return NAN;
#define Z(i, k) (zf ? (double)zf[(i) * d + (k)] : zd[(i) * d + (k)])
    for (size_t i = 0; i < n; i++) {
        double ss = 0;
        for (size_t k = 0; k < d; k++) ss += Z(i, k) * Z(i, k);
        inv_norm[i] = 1.0 / fmax(sqrt(ss), 1e-12);
    }
    double total = 0;
    for (size_t j = 0; j < d; j++) {
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++) mean += Z(i, j) * inv_norm[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) {
            const double dev = Z(i, j) * inv_norm[i] - mean;
            var += dev * dev;
        }
        total += sqrt(var / (double)n);
    }
#undef Z
    sm_mem_free(inv_norm);
    return total / (double)d * sqrt((double)d);
}

double sm_track_z_std(const float *z, size_t n, size_t d) { return z_std(z, NULL, n, d); }

int sm_track_event(const sm_track_sample *s, const sm_track_opts *o, uint64_t step, sm_track_row *row,
                   sm_arena *ws, sm_status *st)
{
    sm_track_opts event = *o;
    event.seed = sm_rng_mix(step ^ o->seed);
    sm_track_row next = *row; /* a failed event leaves *row as the last good one left it */
    int rc = sm_track_estimate(s, &event, &next, ws, st);
    if (rc) return rc;
    next.step = step;
    next.z_std = z_std(NULL, s->z1, s->n, s->d);
    *row = next;
    return SM_OK;
}

#define IN(f) (1u << (f))
#define MAIN (IN(SM_TRACK_CSV) | IN(SM_TRACK_REFIT_CSV))
#define DETAIL (IN(SM_TRACK_DETAIL_CSV) | IN(SM_TRACK_REFIT_CSV))
#define COL(name, kind, files, unit, doc) {#name, offsetof(sm_track_row, name), kind, files, unit, doc, NULL}
#define REAL(name, files, doc) COL(name, SM_TRACK_REAL, files, "nats", doc)
/* A column computed from the row's others by fn (no field of its own). */
#define DERIVED(name, files, fn, doc) {#name, 0, SM_TRACK_DERIVED, files, "nats", doc, fn}
#define CI(name, files, what)                                                                                     \
    {#name "_lo", offsetof(sm_track_row, name##_ci.lo), SM_TRACK_REAL, files, "nats", "95% interval of " what, NULL}, \
    {#name "_hi", offsetof(sm_track_row, name##_ci.hi), SM_TRACK_REAL, files, "nats", "95% interval of " what, NULL}

/* The width of Ĥ(z2|z1)'s interval: the k-NN estimator's noise at this N,
 * against which a change of h_z_given_z1 is read (the gap has its own
 * paired interval, gap_lo and gap_hi). */
static double h_z_given_z1_width(const sm_track_row *r) { return r->h_z_given_z1_ci.hi - r->h_z_given_z1_ci.lo; }

/* Each file's columns in the order it has always had, new ones at the end
 * (analysis/ reads them by name; a checkpoint records the header its rows
 * were written under, src/simsiam/state.h). */
const sm_track_column SM_TRACK_COLUMNS[] = {
    COL(refit_step, SM_TRACK_U64, IN(SM_TRACK_REFIT_CSV), "steps", "predictor-only steps done by refit"),
    COL(step, SM_TRACK_U64, MAIN | DETAIL, "steps", "optimizer steps done"),
    COL(loss_cos, SM_TRACK_REAL, MAIN, "", "½ D(p1, z2) + ½ D(p2, z1) with D = −cos: the raw SimSiam loss (not an NLL)"),
    REAL(nll_l2, MAIN, "mean −log N(z2; p1, I)"),
    REAL(nll_iso, MAIN, "mean −log Q(z2; μ = p1), Q = N(p1, σ²I), σ² by maximum likelihood about p1"),
    REAL(nll_diag, MAIN, "the same for N(p1, diag s²) (always nll_diag ≤ nll_iso)"),
    REAL(nll_full, MAIN, "the same for N(p1, Σ), full Σ (always nll_full ≤ nll_diag); nan with a warning, as i_ba "
                         "and i_infonce, when N ≤ z_dim: too few probe pairs to fit Σ"),
    REAL(nll_vmf, MAIN, "von Mises–Fisher NLL of ẑ2 around p̂1 on the sphere, κ by maximum likelihood (a density on S^{d−1}: compare with sphere entropies only)"),
    COL(kappa, SM_TRACK_REAL, MAIN, "", "vMF concentration κ"),
    REAL(h_z_kl, MAIN, "Kozachenko–Leonenko Ĥ(z2) (dim_used coordinates)"),
    REAL(h_z_gauss, MAIN, "Gaussian Ĥ(z2) = ½ log det(2πe Σ) (all dimensions; an upper bound on H(z2))"),
    REAL(h_z_given_z1, MAIN, "Ĥ(z2|z1) = Ĥ(z1,z2) − Ĥ(z1) with the KSG-1 neighbour structure (shared k and radius)"),
    REAL(h_z_given_x, MAIN, "Ĥ(z2|x): Kozachenko–Leonenko entropy of each image's track_views views, averaged over track_images images"),
    REAL(i_ksg, MAIN, "KSG-1 Î(z1; z2) on whitened z1, z2"),
    REAL(i_gauss, MAIN, "Gaussian Î(z1; z2) = ½ log(det Σ11 det Σ22 / det Σ) (all dimensions)"),
    REAL(i_ba, MAIN, "Barber–Agakov bound Ĥ(z2) − E[NLL_full] (Ĥ = h_z_kl when dim_used = z_dim, else h_z_gauss)"),
    REAL(i_infonce, MAIN, "InfoNCE bound with critic log Q_full(z2; h(z1)) over the N probe pairs"),
    REAL(infonce_cap, MAIN, "log N: InfoNCE never exceeds it"),
    COL(z_std, SM_TRACK_REAL, MAIN, "", "collapse metric: std of l2-normalised z1 per dimension × √d (≈ 1 healthy, 0 collapsed); "
        "normalised as torch.nn.functional.normalize (norms under 1e-12 taken as 1e-12: such rows read low)"),
    COL(dim_used, SM_TRACK_SIZE, MAIN | DETAIL, "", "dimensions of the k-NN columns (the first 8 principal coordinates of z2 when z_dim > 8)"),
    COL(n, SM_TRACK_SIZE, DETAIL, "", "probe pairs"),
    COL(views, SM_TRACK_SIZE, DETAIL, "", "views per image for Ĥ(z2|x)"),
    COL(images, SM_TRACK_SIZE, DETAIL, "", "images for Ĥ(z2|x)"),
    REAL(nll_r, DETAIL, "E[NLL_full] of the projected z2 given the projected p1 (= nll_full when dim_used = z_dim)"),
    CI(nll_r, DETAIL, "nll_r"),
    REAL(nll_r_opt, DETAIL, "nll_r with the best affine predictor of z2 from z1 (least squares, cross-fitted): nll_r − nll_r_opt is the predictor's share of the gap"),
    CI(h_z_given_z1, DETAIL, "h_z_given_z1"),
    CI(h_z_given_x, DETAIL, "h_z_given_x"),
    CI(i_ksg, DETAIL, "i_ksg"),
    CI(nll_vmf, DETAIL, "nll_vmf"),
    REAL(h_s_z, DETAIL, "KL Ĥ(ẑ2) of ẑ = z/‖z‖ on the sphere, w.r.t. surface measure (dim_used = z_dim only)"),
    CI(h_s_z, DETAIL, "h_s_z"),
    REAL(h_s_given_z1, DETAIL, "Ĥ(ẑ2|ẑ1) on the sphere, KSG-1 structure with per-side Euclidean norms: the cosine loss's chain"),
    CI(h_s_given_z1, DETAIL, "h_s_given_z1"),
    REAL(h_s_given_x, DETAIL, "Ĥ(ẑ2|x) on the sphere, per image, averaged"),
    CI(h_s_given_x, DETAIL, "h_s_given_x"),
    REAL(nll_mlp, DETAIL, "nll_r with a wider MLP predictor (64 ReLU units, started at the affine fit, early-stopped, cross-fitted): a non-linear floor"),
    REAL(nll_mix, DETAIL, "E[NLL] of a track_mix-component Gaussian mixture Q on the residual z2 − p1 (EM, cross-fitted): a valid richer Q"),
    DERIVED(h_z_given_z1_width, DETAIL, h_z_given_z1_width, "h_z_given_z1_hi − h_z_given_z1_lo: the k-NN estimate's sampling noise, the yardstick for its changes (the gap has its own interval: gap_lo, gap_hi)"),
    CI(gap, DETAIL, "nll_r − h_z_given_z1, paired (the difference subsampled: both terms on the same rows)"),
    CI(gap_s, DETAIL, "nll_vmf − h_s_given_z1, paired (dim_used = z_dim only)"),
};
const size_t SM_TRACK_NCOLUMNS = sizeof SM_TRACK_COLUMNS / sizeof SM_TRACK_COLUMNS[0];

void sm_track_row_clear(sm_track_row *r)
{
    *r = (sm_track_row){0};
    for (size_t c = 0; c < SM_TRACK_NCOLUMNS; c++)
        if (SM_TRACK_COLUMNS[c].kind == SM_TRACK_REAL) *(double *)((char *)r + SM_TRACK_COLUMNS[c].offset) = NAN;
}

sm_track_row *sm_track_row_alloc(sm_status *st)
{
    sm_track_row *r = sm_mem_alloc(1, sizeof *r, st);
    if (r) sm_track_row_clear(r);
    return r;
}

void sm_track_row_free(sm_track_row *r) { sm_mem_free(r); }

const char *sm_track_warning(const sm_track_row *r) { return r->warning; }

/* snprintf appending at *len (which counts past n when the output is cut). */
static void append(char *buf, size_t n, int *len, const char *fmt, ...)
{
    size_t at = (size_t)*len < n ? (size_t)*len : n;
    va_list ap;
    va_start(ap, fmt);
    *len += vsnprintf(buf + at, n - at, fmt, ap);
    va_end(ap);
}

int sm_track_header(sm_track_file file, char *buf, size_t n)
{
    int len = 0;
    const char *sep = "";
    for (size_t c = 0; c < SM_TRACK_NCOLUMNS; c++)
        if (SM_TRACK_COLUMNS[c].files & IN(file)) append(buf, n, &len, "%s%s", sep, SM_TRACK_COLUMNS[c].name), sep = ",";
    append(buf, n, &len, "\n");
    return len;
}

int sm_track_format(const sm_track_row *r, sm_track_file file, char *buf, size_t n)
{
    int len = 0;
    const char *sep = "";
    for (size_t c = 0; c < SM_TRACK_NCOLUMNS; c++) {
        const sm_track_column *col = &SM_TRACK_COLUMNS[c];
        if (!(col->files & IN(file))) continue;
        double derived;
        const void *at = col->kind == SM_TRACK_DERIVED ? (derived = col->derive(r), &derived)
                                                       : (const void *)((const char *)r + col->offset);
        if (col->kind == SM_TRACK_U64) append(buf, n, &len, "%s%llu", sep, (unsigned long long)*(const uint64_t *)at);
        else if (col->kind == SM_TRACK_SIZE) append(buf, n, &len, "%s%zu", sep, *(const size_t *)at);
        else if (isnan(*(const double *)at)) append(buf, n, &len, "%snan", sep); /* whatever its sign bit */
        else append(buf, n, &len, "%s%.8g", sep, *(const double *)at);
        sep = ",";
    }
    return len;
}

void sm_track_fprint(FILE *f, sm_track_file file, const sm_track_row *rows, size_t n)
{
    char line[SM_TRACK_LINE_MAX];
    sm_track_header(file, line, sizeof line);
    fputs(line, f);
    for (size_t i = 0; i < n; i++) {
        sm_track_format(&rows[i], file, line, sizeof line);
        fprintf(f, "%s\n", line);
    }
}
