/* Tracking events: the columns of track.csv from one sample (see track.h). */
#include "simsiam/track.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "data/augment.h"
#include "estimators/affine.h"
#include "estimators/bound.h"
#include "estimators/entropy.h"
#include "estimators/gauss.h"
#include "estimators/mi.h"
#include "estimators/nll.h"
#include "estimators/resample.h"

/* RNG stream ids ("probe", "views" in ASCII), apart from every other user of the seed. */
#define PROBE_STREAM 0x70726f6265ULL
#define VIEWS_STREAM 0x7669657773ULL

void sm_track_defaults(sm_track_opts *o, uint64_t seed)
{
    *o = (sm_track_opts){SM_TRACK_K, SM_TRACK_MAX_DIM, SM_TRACK_RESAMPLES, seed};
}

/* ---- helpers -------------------------------------------------------------- */

/* value, or NaN after keeping the first failure's message in row->warning. */
static double or_nan(sm_track_row *row, int rc, const sm_status *est, const char *what, double value)
{
    if (!rc) return value;
    if (!row->warning[0]) snprintf(row->warning, sizeof row->warning, "%s: %s", what, est->msg);
    return NAN;
}

static double mean_neg_cos(const double *p, const double *z, size_t n, size_t d)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const double *a = p + i * d, *b = z + i * d;
        double ab = 0, aa = 0, bb = 0;
        for (size_t j = 0; j < d; j++) ab += a[j] * b[j], aa += a[j] * a[j], bb += b[j] * b[j];
        total -= ab / fmax(sqrt(aa) * sqrt(bb), 1e-24);
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
    project(s->zv, nv, d, mean, u, r, buf + 3 * n * r, tmp);
    out->z1 = buf, out->z2 = buf + n * r, out->p1 = buf + 2 * n * r, out->zv = buf + 3 * n * r;
    return SM_OK;
}

/* ---- estimators as sm_resample_fn ----------------------------------------- */

typedef struct {
    const sm_track_opts *o;
    int want_mi; /* KSG: 1 → Î, 0 → Ĥ(y|x) */
} ksg_ctx;

static int ksg_fn(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *value,
                  sm_arena *ws, sm_status *st)
{
    const ksg_ctx *c = ctx;
    sm_mi_opts mo = {.k = c->o->k, .norm = SM_MI_MAXNORM, .prep = {.whiten = 1}};
    sm_ksg1_result r;
    int rc = sm_mi_ksg1(x, y, n, dx, dy, &mo, &r, ws, st);
    if (!rc) *value = c->want_mi ? r.mi : r.h_y_given_x;
    return rc;
}

static int nll_full_fn(void *ctx, const double *z, size_t dz, const double *p, size_t dp, size_t n, double *value,
                       sm_arena *ws, sm_status *st)
{
    (void)ctx, (void)dp;
    return fit_nll(SM_NLL_FULL, z, p, n, dz, value, NULL, NULL, ws, st);
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

/* *ci = the subsampling interval of fn on (x, y), NaN on failure. */
static void interval(sm_track_row *row, const char *what, const double *x, size_t dx, const double *y, size_t dy,
                     size_t n, sm_resample_fn fn, void *ctx, const sm_track_opts *o, sm_track_interval *ci,
                     sm_arena *ws)
{
    sm_status est;
    sm_status_clear(&est);
    sm_resample_result res = {0};
    size_t mark = sm_arena_mark(ws);
    int rc = sm_resample_subsample(x, dx, y, dy, n, o->resamples, o->seed, fn, ctx, &res, ws, &est);
    sm_arena_release(ws, mark);
    ci->lo = or_nan(row, rc, &est, what, res.ci_low);
    ci->hi = or_nan(row, rc, &est, what, res.ci_high);
}

/* ---- the columns ---------------------------------------------------------- */

static int check_sample(const sm_track_sample *s, const sm_track_opts *o, sm_status *st)
{
    if (s->n < 4 || s->d < 2)
        return sm_status_fail(st, SM_ERR_USAGE, "tracking", "need at least 4 probe pairs of 2 or more dimensions");
    if (s->images < 1 || s->views <= o->k)
        return sm_status_fail(st, SM_ERR_USAGE, "tracking", "need an image with more than k = %zu views", o->k);
    return SM_OK;
}

/* loss_cos and the NLL families on (z2, p1); the full model for InfoNCE. */
static void nll_columns(const sm_track_sample *s, sm_track_row *row, sm_nll_model **full, sm_arena *ws)
{
    row->loss_cos = 0.5 * mean_neg_cos(s->p1, s->z2, s->n, s->d) + 0.5 * mean_neg_cos(s->p2, s->z1, s->n, s->d);
    static const sm_nll_family fam[] = {SM_NLL_L2, SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF};
    double *col[] = {&row->nll_l2, &row->nll_iso, &row->nll_diag, &row->nll_full, &row->nll_vmf};
    row->kappa = NAN;
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        sm_status est;
        sm_status_clear(&est);
        double v = NAN;
        int rc = fit_nll(fam[f], s->z2, s->p1, s->n, s->d, &v, fam[f] == SM_NLL_VMF ? &row->kappa : NULL,
                         fam[f] == SM_NLL_FULL ? full : NULL, ws, &est);
        *col[f] = or_nan(row, rc, &est, sm_nll_family_name(fam[f]), v);
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
    sm_bound_nce nce = {0};
    rc = full ? sm_bound_infonce(full, s->z2, s->p1, s->n, &nce, ws, &est) : SM_OK;
    row->i_infonce = full ? or_nan(row, rc, &est, "i_infonce", nce.value) : NAN;
}

/* Ĥ(z2|x): the KL entropy of each image's views, averaged; *per_image
 * (images values) for the interval.  NaN if any image fails. */
static double entropy_given_x(const sm_track_sample *s, const reduced *rd, const sm_track_opts *o, double *per_image,
                              sm_track_row *row, sm_arena *ws)
{
    sm_entropy_opts eo = {.k = o->k};
    double sum = 0;
    for (size_t i = 0; i < s->images; i++) {
        sm_status est;
        sm_status_clear(&est);
        int rc = sm_entropy_kl(rd->zv + i * s->views * rd->r, s->views, rd->r, &eo, &per_image[i], ws, &est);
        if (rc) return or_nan(row, rc, &est, "h_z_given_x", 0);
        sum += per_image[i];
    }
    return sum / (double)s->images;
}

/* The k-NN columns and the chain of track_detail.csv, in rd's coordinates. */
static void knn_columns(const sm_track_sample *s, const reduced *rd, const sm_track_opts *o, sm_track_row *row,
                        sm_arena *ws)
{
    size_t n = s->n, r = rd->r;
    sm_status est;
    sm_status_clear(&est);
    sm_entropy_opts eo = {.k = o->k};
    double h = NAN;
    int rc = sm_entropy_kl(rd->z2, n, r, &eo, &h, ws, &est);
    row->h_z_kl = or_nan(row, rc, &est, "h_z_kl", h);

    sm_mi_opts mo = {.k = o->k, .norm = SM_MI_MAXNORM, .prep = {.whiten = 1}};
    sm_ksg1_result ksg = {NAN, NAN, NAN};
    rc = sm_mi_ksg1(rd->z1, rd->z2, n, r, r, &mo, &ksg, ws, &est);
    row->i_ksg = or_nan(row, rc, &est, "i_ksg", ksg.mi);
    row->h_z_given_z1 = or_nan(row, rc, &est, "h_z_given_z1", ksg.h_y_given_x);

    double v = NAN;
    rc = r == s->d && isfinite(row->nll_full) ? (v = row->nll_full, SM_OK)
                                               : fit_nll(SM_NLL_FULL, rd->z2, rd->p1, n, r, &v, NULL, NULL, ws, &est);
    row->nll_r = or_nan(row, rc, &est, "nll_r", v);
    /* The best affine predictor of z2 from z1, cross-fitted (estimators/affine.h). */
    rc = sm_affine_nll_crossfit(rd->z1, rd->z2, n, r, r, &v, ws, &est);
    row->nll_r_opt = or_nan(row, rc, &est, "nll_r_opt", v);

    size_t mark = sm_arena_mark(ws);
    double *per_image = sm_arena_alloc(ws, s->images, sizeof *per_image, &est);
    row->h_z_given_x = per_image ? entropy_given_x(s, rd, o, per_image, row, ws) : or_nan(row, 1, &est, "h_z_given_x", 0);

    ksg_ctx given = {o, 0}, mi = {o, 1};
    interval(row, "nll_r interval", rd->z2, r, rd->p1, r, n, nll_full_fn, NULL, o, &row->nll_r_ci, ws);
    interval(row, "h_z_given_z1 interval", rd->z1, r, rd->z2, r, n, ksg_fn, &given, o, &row->h_z_given_z1_ci, ws);
    interval(row, "i_ksg interval", rd->z1, r, rd->z2, r, n, ksg_fn, &mi, o, &row->i_ksg_ci, ws);
    if (per_image && isfinite(row->h_z_given_x) && s->images >= 4)
        interval(row, "h_z_given_x interval", per_image, 1, NULL, 0, s->images, mean_fn, NULL, o,
                 &row->h_z_given_x_ci, ws);
    else
        row->h_z_given_x_ci = (sm_track_interval){NAN, NAN};
    sm_arena_release(ws, mark);
}

int sm_track_estimate(const sm_track_sample *s, const sm_track_opts *o, sm_track_row *row, sm_arena *ws,
                      sm_status *st)
{
    int rc = check_sample(s, o, st);
    if (rc) return rc;
    uint64_t step = row->step;
    *row = (sm_track_row){.step = step, .z_std = NAN, .n = s->n, .views = s->views, .images = s->images};
    sm_arena local = {0};
    if (!ws) ws = &local;
    size_t mark = sm_arena_mark(ws);
    sm_nll_model *full = NULL;
    nll_columns(s, row, &full, ws);
    gaussian_columns(s, full, row, ws);
    sm_nll_model_free(full);

    row->dim_used = s->d < o->max_dim ? s->d : o->max_dim;
    reduced rd = {0};
    sm_status est;
    sm_status_clear(&est);
    rc = reduce(s, row->dim_used, &rd, ws, &est);
    if (rc) { /* only non-finite embeddings get here: every k-NN column is NaN */
        or_nan(row, rc, &est, "projection", 0);
        row->h_z_kl = row->h_z_given_z1 = row->h_z_given_x = row->i_ksg = row->nll_r = row->nll_r_opt = NAN;
        row->nll_r_ci = row->h_z_given_z1_ci = row->h_z_given_x_ci = row->i_ksg_ci = (sm_track_interval){NAN, NAN};
    } else {
        knn_columns(s, &rd, o, row, ws);
    }
    row->i_ba = sm_bound_ba(row->dim_used == s->d ? row->h_z_kl : row->h_z_gauss, row->nll_full);
    sm_arena_release(ws, mark);
    sm_arena_free(&local);
    return SM_OK;
}

/* ---- z_std and the CSV rows ----------------------------------------------- */

/* Row norms are recomputed per dimension: O(n d²) but no scratch memory, and
 * ~1 M flops at n = 256, d = 64 is nothing next to a training step. */
double sm_track_z_std(const float *z, size_t n, size_t d)
{
    double total = 0;
    for (size_t j = 0; j < d; j++) {
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < n; i++) {
            const float *row = z + i * d;
            double ss = 0;
            for (size_t k = 0; k < d; k++) ss += (double)row[k] * row[k];
            double v = row[j] / fmax(sqrt(ss), 1e-12);
            sum += v;
            sum2 += v * v;
        }
        double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
        total += sqrt(fmax(var, 0));
    }
    return total / (double)d * sqrt((double)d);
}

const char SM_TRACK_HEADER[] =
    "step,loss_cos,nll_l2,nll_iso,nll_diag,nll_full,nll_vmf,kappa,h_z_kl,h_z_gauss,h_z_given_z1,h_z_given_x,"
    "i_ksg,i_gauss,i_ba,i_infonce,infonce_cap,z_std,dim_used\n";
const char SM_TRACK_DETAIL_HEADER[] =
    "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1_lo,h_z_given_z1_hi,"
    "h_z_given_x_lo,h_z_given_x_hi,i_ksg_lo,i_ksg_hi\n";

/* ",v" for each value (NaN as "nan", whatever its sign bit) into buf. */
static int format_values(char *buf, size_t n, const double *v, size_t count)
{
    int len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t at = (size_t)len < n ? (size_t)len : n;
        len += isnan(v[i]) ? snprintf(buf + at, n - at, ",nan") : snprintf(buf + at, n - at, ",%.8g", v[i]);
    }
    return len;
}

int sm_track_format(const sm_track_row *r, char *buf, size_t n)
{
    const double v[] = {r->loss_cos, r->nll_l2,       r->nll_iso,     r->nll_diag, r->nll_full,  r->nll_vmf,
                        r->kappa,    r->h_z_kl,       r->h_z_gauss,   r->h_z_given_z1, r->h_z_given_x,
                        r->i_ksg,    r->i_gauss,      r->i_ba,        r->i_infonce, r->infonce_cap, r->z_std};
    int len = snprintf(buf, n, "%llu", (unsigned long long)r->step);
    len += format_values(buf + ((size_t)len < n ? (size_t)len : n), (size_t)len < n ? n - (size_t)len : 0, v,
                         sizeof v / sizeof v[0]);
    size_t at = (size_t)len < n ? (size_t)len : n;
    return len + snprintf(buf + at, n - at, ",%zu", r->dim_used);
}

int sm_track_format_detail(const sm_track_row *r, char *buf, size_t n)
{
    const double v[] = {r->nll_r,         r->nll_r_ci.lo,         r->nll_r_ci.hi,         r->nll_r_opt,
                        r->h_z_given_z1_ci.lo, r->h_z_given_z1_ci.hi, r->h_z_given_x_ci.lo, r->h_z_given_x_ci.hi,
                        r->i_ksg_ci.lo,  r->i_ksg_ci.hi};
    int len = snprintf(buf, n, "%llu,%zu,%zu,%zu,%zu", (unsigned long long)r->step, r->dim_used, r->n, r->views,
                       r->images);
    return len + format_values(buf + ((size_t)len < n ? (size_t)len : n), (size_t)len < n ? n - (size_t)len : 0, v,
                               sizeof v / sizeof v[0]);
}

/* ---- events on a model ---------------------------------------------------- */

struct sm_tracker {
    sm_augment aug; /* the training augmentations with the tracking seed */
    const sm_dataset *ds;
    size_t n, views, images, d, image, chunk;
    size_t *probe;
    float *x1, *x2, *xv;        /* chunk images per view; views × image for one image */
    float *z1f;                 /* z1 as floats (n × d), for z_std */
    float *zf, *pf;             /* one chunk's float z and p (chunk or views rows × d) */
    double *z1, *z2, *p1, *p2, *zv;
    sm_track_opts opts;
    sm_arena ws;
};

/* The first t->n entries of a seeded permutation of the data set's indices. */
static int choose_probe(sm_tracker *t, uint64_t seed, sm_status *st)
{
    size_t *all = sm_mem_alloc(t->ds->n, sizeof *all, st);
    if (!all) return st->code;
    for (size_t i = 0; i < t->ds->n; i++) all[i] = i;
    sm_rng r;
    sm_rng_seed(&r, seed, PROBE_STREAM);
    for (size_t i = 0; i < t->n; i++) {
        size_t j = i + (size_t)sm_rng_below(&r, t->ds->n - i), keep = all[i];
        all[i] = all[j];
        all[j] = keep;
    }
    memcpy(t->probe, all, t->n * sizeof *all);
    sm_mem_free(all);
    return SM_OK;
}

static int check_config(const sm_config *cfg, const sm_dataset *ds, sm_status *st)
{
    if ((size_t)cfg->track_samples > ds->n)
        return sm_status_fail(st, SM_ERR_USAGE, "track_samples", "%ld probe images but the training split has %zu",
                              cfg->track_samples, ds->n);
    if (cfg->track_images > cfg->track_samples)
        return sm_status_fail(st, SM_ERR_USAGE, "track_images", "%ld images for H(z2|x) but track_samples is %ld",
                              cfg->track_images, cfg->track_samples);
    if (cfg->track_views <= SM_TRACK_K)
        return sm_status_fail(st, SM_ERR_USAGE, "track_views", "%ld views per image: the k-NN entropy needs more than %d",
                              cfg->track_views, SM_TRACK_K);
    if (cfg->track_samples < 4)
        return sm_status_fail(st, SM_ERR_USAGE, "track_samples", "%ld probe images: tracking needs at least 4",
                              cfg->track_samples);
    return SM_OK;
}

static int alloc_buffers(sm_tracker *t, sm_status *st)
{
    size_t n = t->n, d = t->d, v = t->views, rows = t->chunk > v ? t->chunk : v;
    t->probe = sm_mem_alloc(n, sizeof *t->probe, st);
    t->x1 = t->probe ? sm_mem_alloc_aligned(2 * t->chunk * t->image, sizeof *t->x1, st) : NULL;
    t->xv = t->x1 ? sm_mem_alloc_aligned(v * t->image, sizeof *t->xv, st) : NULL;
    t->zf = t->xv ? sm_mem_alloc(2 * rows * d + n * d, sizeof *t->zf, st) : NULL;
    t->z1 = t->zf ? sm_mem_alloc(4 * n * d + t->images * v * d, sizeof *t->z1, st) : NULL;
    if (!t->z1) return st->code;
    t->x2 = t->x1 + t->chunk * t->image;
    t->pf = t->zf + rows * d, t->z1f = t->pf + rows * d;
    t->z2 = t->z1 + n * d, t->p1 = t->z2 + n * d, t->p2 = t->p1 + n * d, t->zv = t->p2 + n * d;
    return SM_OK;
}

sm_tracker *sm_tracker_alloc(const sm_config *cfg, const sm_dataset *ds, size_t z_dim, sm_status *st)
{
    if (check_config(cfg, ds, st)) return NULL;
    sm_tracker *t = sm_mem_alloc(1, sizeof *t, st);
    if (!t) return NULL;
    sm_augment_from_config(&t->aug, cfg);
    t->aug.seed = sm_rng_mix((uint64_t)cfg->seed ^ VIEWS_STREAM);
    t->ds = ds;
    t->n = (size_t)cfg->track_samples, t->views = (size_t)cfg->track_views, t->images = (size_t)cfg->track_images;
    t->d = z_dim, t->image = sm_dataset_image_size(ds), t->chunk = 256;
    sm_track_defaults(&t->opts, (uint64_t)cfg->seed);
    if (alloc_buffers(t, st) || choose_probe(t, (uint64_t)cfg->seed, st)) {
        sm_tracker_free(t);
        return NULL;
    }
    return t;
}

void sm_tracker_free(sm_tracker *t)
{
    if (!t) return;
    sm_mem_free(t->probe);
    sm_mem_free(t->x1);
    sm_mem_free(t->xv);
    sm_mem_free(t->zf);
    sm_mem_free(t->z1);
    sm_arena_free(&t->ws);
    sm_mem_free(t);
}

static void to_double(const float *src, size_t count, double *dst)
{
    for (size_t i = 0; i < count; i++) dst[i] = src[i];
}

/* z (rows × d floats into zf, and as doubles into z) and p (doubles, may be
 * NULL) of the images x through m (and pred). */
static void embed(sm_tracker *t, sm_model *m, const sm_predictor *pred, const float *x, size_t rows, float *zf,
                  double *z, double *p)
{
    sm_model_embed(m, x, rows, NULL, zf, pred || !p ? NULL : t->pf);
    if (pred && p) sm_predictor_apply(pred, zf, rows, t->pf);
    to_double(zf, rows * t->d, z);
    if (p) to_double(t->pf, rows * t->d, p);
}

int sm_tracker_event(sm_tracker *t, sm_model *m, const sm_predictor *pred, uint64_t step, sm_track_row *row,
                     sm_status *st)
{
    size_t d = t->d;
    for (size_t done = 0; done < t->n; done += t->chunk) {
        size_t nb = t->n - done < t->chunk ? t->n - done : t->chunk;
        sm_augment_batch(&t->aug, t->ds, t->probe + done, nb, step, t->x1, t->x2);
        embed(t, m, pred, t->x1, nb, t->z1f + done * d, t->z1 + done * d, t->p1 + done * d);
        embed(t, m, pred, t->x2, nb, t->zf, t->z2 + done * d, t->p2 + done * d);
    }
    for (size_t i = 0; i < t->images; i++) {
        sm_augment_views(&t->aug, t->ds, t->probe[i], step, t->views, t->xv);
        embed(t, m, pred, t->xv, t->views, t->zf, t->zv + i * t->views * d, NULL);
    }
    sm_track_sample s = {t->z1, t->z2, t->p1, t->p2, t->n, d, t->zv, t->images, t->views};
    t->opts.seed = sm_rng_mix((uint64_t)step ^ t->aug.seed);
    row->step = step;
    int rc = sm_track_estimate(&s, &t->opts, row, &t->ws, st);
    if (!rc) row->z_std = sm_track_z_std(t->z1f, t->n, d);
    return rc;
}
