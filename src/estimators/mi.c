#include "estimators/mi.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_sf_psi.h>

#include "estimators/entropy.h"
#include "estimators/knn.h"

/* The prepared data and joint neighbour structure both KSG variants start from. */
typedef struct {
    double *x, *y;          /* prepared copies, n×dx and n×dy */
    double *dist;           /* n×k joint neighbour distances, ascending per row */
    size_t *idx;            /* n×k joint neighbour rows (KSG-2 only, else NULL) */
    double log_det_ly;      /* whitening Jacobian of y (0 without whitening) */
    sm_knn_metric marginal; /* the norm inside x and inside y */
} ksg_space;

static int check_args(size_t n, size_t dx, size_t dy, const sm_mi_opts *o, const char *what,
                      sm_status *st)
{
    if (n < 2) return sm_status_fail(st, SM_ERR_USAGE, what, "need at least 2 samples, got %zu", n);
    if (dx == 0 || dy == 0)
        return sm_status_fail(st, SM_ERR_USAGE, what,
                              "dimensions must be at least 1, got %zu and %zu", dx, dy);
    if (o->k < 1 || o->k >= n)
        return sm_status_fail(st, SM_ERR_USAGE, what,
                              "k must satisfy 1 <= k < N, got k = %zu, N = %zu", o->k, n);
    if (o->norm != SM_MI_MAXNORM && o->norm != SM_MI_BLOCK_L2)
        return sm_status_fail(st, SM_ERR_USAGE, what, "unknown norm %d", (int)o->norm);
    if (!o->sphere) return SM_OK;
    if (o->norm != SM_MI_BLOCK_L2)
        return sm_status_fail(st, SM_ERR_USAGE, what, "sphere needs the block-L2 norm");
    if (dx < 2 || dy < 2)
        return sm_status_fail(st, SM_ERR_USAGE, what,
                              "sphere needs dimensions >= 2, got %zu and %zu", dx, dy);
    if (o->prep.whiten)
        return sm_status_fail(st, SM_ERR_USAGE, what, "whitening is not defined on the sphere");
    return SM_OK;
}

static int ksg_space_build(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                           const sm_mi_opts *o, int want_idx, const char *what, ksg_space *s,
                           sm_arena *ar, sm_status *st)
{
    int rc = check_args(n, dx, dy, o, what, st);
    if (rc == SM_OK && o->sphere) rc = sm_entropy_check_sphere(x, n, dx, "x", st);
    if (rc == SM_OK && o->sphere) rc = sm_entropy_check_sphere(y, n, dy, "y", st);
    if (rc) return rc;
    const size_t k = o->k, d = dx + dy;
    const sm_knn_inner inner = o->norm == SM_MI_BLOCK_L2 ? SM_KNN_L2 : SM_KNN_LINF;
    s->marginal = (sm_knn_metric){inner, 0};
    s->x = sm_arena_alloc(ar, n * dx, sizeof *s->x, st);
    s->y = s->x ? sm_arena_alloc(ar, n * dy, sizeof *s->y, st) : NULL;
    s->dist = s->y ? sm_arena_alloc(ar, n * k, sizeof *s->dist, st) : NULL;
    s->idx = s->dist && want_idx ? sm_arena_alloc(ar, n * k, sizeof *s->idx, st) : NULL;
    double *joint = s->dist ? sm_arena_alloc(ar, n * d, sizeof *joint, st) : NULL;
    if (!joint || (want_idx && !s->idx)) return SM_ERR_DATA;

    rc = sm_entropy_prep(x, n, dx, &o->prep, o->sphere, 0, "x", s->x, NULL, ar, st);
    if (rc == SM_OK) rc = sm_entropy_prep(y, n, dy, &o->prep, o->sphere, 1, "y", s->y, &s->log_det_ly, ar, st);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        memcpy(joint + i * d, s->x + i * dx, dx * sizeof *joint);
        memcpy(joint + i * d + dx, s->y + i * dy, dy * sizeof *joint);
    }
    rc = sm_knn_search(joint, n, d, k, (sm_knn_metric){inner, dx}, s->dist, s->idx, ar, st);
    if (rc == SM_OK) rc = sm_entropy_check_radii(s->dist, n, k, what, st);
    return rc;
}

/* Σ_i ψ(count[i] + add). */
static double sum_psi(const size_t *count, size_t n, size_t add)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert(count[i] + add >= 1); /* ψ has a pole at 0 */
        s += gsl_sf_psi((double)(count[i] + add));
    }
    return s;
}

/* r[i] = max over the k joint neighbours j of i of ‖v_j − v_i‖ (v = x or y). */
static void ksg2_extents(const double *v, size_t n, size_t d, const ksg_space *s, size_t k,
                         double *r)
{
    for (size_t i = 0; i < n; i++) {
        double e = 0.0;
        for (size_t j = 0; j < k; j++)
            e = fmax(e, sm_knn_dist(v + i * d, v + s->idx[i * k + j] * d, d, s->marginal));
        r[i] = e;
    }
}

/* What KSG-1 and KSG-2 share: the joint neighbours (s), each point's
 * radius in x and in y (ex, ey: KSG-1 the distance to its k-th joint
 * neighbour in both, KSG-2 the extents of its k neighbours per block), and
 * the marginal counts nx, ny within them (strict for KSG-1), all in ar. */
typedef struct {
    sm_arena local, *ar;
    size_t mark;
    ksg_space s;
    double *ex, *ey;
    size_t *nx, *ny;
} ksg_run;

static int ksg_count(ksg_run *r, const double *x, const double *y, size_t n, size_t dx, size_t dy,
                     const sm_mi_opts *o, int ksg2, sm_arena *ws, sm_status *st)
{
    assert(x && y && o);
    *r = (ksg_run){0};
    r->ar = ws ? ws : &r->local;
    r->mark = sm_arena_mark(r->ar);
    const size_t k = o->k;
    int rc = ksg_space_build(x, y, n, dx, dy, o, ksg2, ksg2 ? "KSG-2" : "KSG-1", &r->s, r->ar, st);
    r->ex = rc ? NULL : sm_arena_alloc(r->ar, 2 * n, sizeof *r->ex, st);
    r->nx = r->ex ? sm_arena_alloc(r->ar, 2 * n, sizeof *r->nx, st) : NULL;
    if (rc || !r->nx) return rc ? rc : SM_ERR_DATA;
    r->ey = r->ex + n, r->ny = r->nx + n;
    if (ksg2) {
        ksg2_extents(r->s.x, n, dx, &r->s, k, r->ex);
        ksg2_extents(r->s.y, n, dy, &r->s, k, r->ey);
    } else {
        for (size_t i = 0; i < n; i++) r->ex[i] = r->ey[i] = r->s.dist[i * k + k - 1];
    }
    rc = sm_knn_count(r->s.x, n, dx, r->s.marginal, r->ex, !ksg2, r->nx, r->ar, st);
    return rc ? rc : sm_knn_count(r->s.y, n, dy, r->s.marginal, r->ey, !ksg2, r->ny, r->ar, st);
}

static void ksg_done(ksg_run *r)
{
    sm_arena_release(r->ar, r->mark);
    sm_arena_free(&r->local);
}

int sm_mi_ksg1(const double *x, const double *y, size_t n, size_t dx, size_t dy,
               const sm_mi_opts *o, sm_ksg1_result *out, sm_arena *ws, sm_status *st)
{
    ksg_run r;
    int rc = ksg_count(&r, x, y, n, dx, dy, o, 0, ws, st);
    if (rc == SM_OK) {
        const double nn = (double)n;
        const double psi_k = gsl_sf_psi((double)o->k), psi_n = gsl_sf_psi(nn);
        const double mean_psi_x = sum_psi(r.nx, n, 1) / nn, mean_psi_y = sum_psi(r.ny, n, 1) / nn;
        double sum_log_eps = 0.0;
        for (size_t i = 0; i < n; i++) sum_log_eps += log(r.ex[i]);
        const size_t dyi = o->sphere ? dy - 1 : dy;
        /* log V + d'⟨log ε⟩ (+ the whitening Jacobian): the y part of both entropies. */
        const double y_volume = sm_entropy_log_unit_ball(dyi, o->norm == SM_MI_BLOCK_L2) +
                                (double)dyi * sum_log_eps / nn + r.s.log_det_ly;
        out->mi = psi_k + psi_n - (mean_psi_x + mean_psi_y);
        out->h_y_given_x = -psi_k + mean_psi_x + y_volume;
        out->h_y = psi_n - mean_psi_y + y_volume;
    }
    ksg_done(&r);
    return rc;
}

int sm_mi_ksg2(const double *x, const double *y, size_t n, size_t dx, size_t dy,
               const sm_mi_opts *o, double *mi, sm_arena *ws, sm_status *st)
{
    ksg_run r;
    int rc = ksg_count(&r, x, y, n, dx, dy, o, 1, ws, st);
    if (rc == SM_OK) {
        /* Non-strict counts include the k neighbours themselves: n_x, n_y >= k. */
        const double nn = (double)n, kk = (double)o->k;
        *mi = gsl_sf_psi(kk) - 1.0 / kk + gsl_sf_psi(nn) - (sum_psi(r.nx, n, 0) + sum_psi(r.ny, n, 0)) / nn;
    }
    ksg_done(&r);
    return rc;
}
