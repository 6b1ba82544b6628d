#include "estimators/mlp.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "estimators/affine.h"
#include "estimators/gauss.h"
#include "estimators/nll.h"
#include "nn/gemm.h" /* sm_gemm_pin_blas: OpenBLAS's threading is not bit-reproducible */

#define WHERE "MLP floor"

static const double BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

void sm_mlp_defaults(sm_mlp_opts *o, uint64_t seed)
{
    *o = (sm_mlp_opts){.hidden = 64, .iters = 2000, .patience = 200, .lr = 3e-2, .seed = seed};
}

size_t sm_mlp_param_count(size_t d1, size_t d2, size_t hidden)
{
    return d1 * d2 + d2 + d1 * hidden + hidden + hidden * d2;
}

void sm_mlp_net_view(sm_mlp_net *net, size_t d1, size_t d2, size_t hidden, double *theta)
{
    net->d1 = d1;
    net->d2 = d2;
    net->hidden = hidden;
    net->a = theta;
    net->b = net->a + d1 * d2;
    net->w1 = net->b + d2;
    net->b1 = net->w1 + d1 * hidden;
    net->w2 = net->b1 + hidden;
}

/* ---- forward and backward ------------------------------------------------------ */

/* u (m × H) = relu(x W1 + 1 b1ᵀ), out (m × d2) = x A + 1 bᵀ + u W2. */
static void forward(const sm_mlp_net *net, const double *x, size_t m, double *u, double *out)
{
    const int d1 = (int)net->d1, d2 = (int)net->d2, H = (int)net->hidden, rows = (int)m;
    for (size_t i = 0; i < m; i++) {
        memcpy(u + i * net->hidden, net->b1, net->hidden * sizeof *u);
        memcpy(out + i * net->d2, net->b, net->d2 * sizeof *out);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, H, d1, 1.0, x, d1, net->w1, H,
                1.0, u, H);
    /* A vector select, not a branch mispredicted on half the units. */
#pragma omp simd
    for (size_t i = 0; i < m * net->hidden; i++) u[i] = u[i] > 0.0 ? u[i] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d2, d1, 1.0, x, d1, net->a, d2,
                1.0, out, d2);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d2, H, 1.0, u, H, net->w2, d2,
                1.0, out, d2);
}

/* Scratch of the objective on m rows. */
typedef struct {
    double *u;     /* m × H: hidden activations */
    double *du;    /* m × H: ∂L/∂(pre-activation) */
    double *r;     /* m × d2: residuals, then ∂L/∂h */
    double *sigma; /* d2 × d2: RᵀR/m, then its Cholesky factor */
} obj_buf;

static int alloc_obj_buf(obj_buf *b, size_t m, size_t d2, size_t hidden, sm_arena *ar,
                         sm_status *st)
{
    double *block = sm_arena_alloc(ar, 2 * m * hidden + m * d2 + d2 * d2, sizeof *block, st);
    if (!block) return st ? st->code : SM_ERR_DATA;
    b->u = block;
    b->du = b->u + m * hidden;
    b->r = b->du + m * hidden;
    b->sigma = b->r + m * d2;
    return SM_OK;
}

/* column sums of g (m × c) into out (c). */
static void column_sums(const double *g, size_t m, size_t c, double *out)
{
    memset(out, 0, c * sizeof *out);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < c; j++) out[j] += g[i * c + j];
}

/* The gradient from G = ∂L/∂h (m × d2, in b->r) and the activations b->u. */
static void backward(const sm_mlp_net *net, const double *x, size_t m, obj_buf *b, double *grad)
{
    const int d1 = (int)net->d1, d2 = (int)net->d2, H = (int)net->hidden, rows = (int)m;
    sm_mlp_net g;
    sm_mlp_net_view(&g, net->d1, net->d2, net->hidden, grad);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d1, d2, rows, 1.0, x, d1, b->r, d2, 0.0,
                g.a, d2);
    column_sums(b->r, m, net->d2, g.b);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, d2, rows, 1.0, b->u, H, b->r, d2, 0.0,
                g.w2, d2);
    /* ∂L/∂u = G W2ᵀ, then through the ReLU: zero where u = 0 (as in forward, a select). */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, H, d2, 1.0, b->r, d2, net->w2, d2,
                0.0, b->du, H);
#pragma omp simd
    for (size_t i = 0; i < m * net->hidden; i++) b->du[i] = b->u[i] > 0.0 ? b->du[i] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d1, H, rows, 1.0, x, d1, b->du, H, 0.0,
                g.w1, H);
    column_sums(b->du, m, net->hidden, g.b1);
}

/* The objective with preallocated scratch (see sm_mlp_objective). */
static int objective(const sm_mlp_net *net, const double *x, const double *y, size_t m,
                     obj_buf *b, double *value, double *grad, sm_status *st)
{
    const size_t d2 = net->d2;
    forward(net, x, m, b->u, b->r);
    for (size_t i = 0; i < m * d2; i++) b->r[i] = y[i] - b->r[i];
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d2, (int)m, 1.0 / (double)m, b->r,
                (int)d2, 0.0, b->sigma, (int)d2);
    for (size_t a = 0; a < d2; a++)
        for (size_t c = a + 1; c < d2; c++) b->sigma[a * d2 + c] = b->sigma[c * d2 + a];
    int rc = sm_gauss_cholesky(b->sigma, d2, 0.0, WHERE ": residual second moments of the fit rows", st);
    if (rc) return rc;
    *value = 0.5 * sm_gauss_cholesky_logdet(b->sigma, d2);
    if (!grad) return SM_OK;
    /* ∂L/∂h = −R Σ⁻¹/m = −R L⁻ᵀ L⁻¹/m: two triangular solves on the rows. */
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m, (int)d2,
                -1.0 / (double)m, b->sigma, (int)d2, b->r, (int)d2);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, (int)m,
                (int)d2, 1.0, b->sigma, (int)d2, b->r, (int)d2);
    backward(net, x, m, b, grad);
    return SM_OK;
}

int sm_mlp_predict(const sm_mlp_net *net, const double *x, size_t m, double *out, sm_arena *ws,
                   sm_status *st)
{
    assert(net && x && out);
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    double *u = sm_arena_alloc(ar, m * net->hidden, sizeof *u, st);
    int rc = u ? SM_OK : st ? st->code : SM_ERR_DATA;
    if (!rc) {
        const int saved = sm_gemm_pin_blas();
        forward(net, x, m, u, out);
        sm_gemm_restore_blas(saved);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

int sm_mlp_objective(const sm_mlp_net *net, const double *x, const double *y, size_t m,
                     double *value, double *grad, sm_arena *ws, sm_status *st)
{
    assert(net && x && y && value);
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    obj_buf b;
    int rc = alloc_obj_buf(&b, m, net->d2, net->hidden, ar, st);
    if (!rc) {
        const int saved = sm_gemm_pin_blas();
        rc = objective(net, x, y, m, &b, value, grad, st);
        sm_gemm_restore_blas(saved);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

/* ---- training ------------------------------------------------------------------- */

/* Every VALIDATE_EVERY steps the validation rows are scored: ~1% of a step. */
enum { VALIDATE_EVERY = 10 };

/* Adam's view of θ (count doubles): its gradient and the two moments. */
typedef struct {
    double *theta, *grad, *mom, *vel;
    size_t count;
} adam_state;

/* One step t >= 1 with bias-corrected moments. */
static void adam_step(adam_state *s, double lr, size_t t)
{
    const double c1 = 1.0 - pow(BETA1, (double)t), c2 = 1.0 - pow(BETA2, (double)t);
    for (size_t i = 0; i < s->count; i++) {
        const double g = s->grad[i];
        s->mom[i] = BETA1 * s->mom[i] + (1.0 - BETA1) * g;
        s->vel[i] = BETA2 * s->vel[i] + (1.0 - BETA2) * g * g;
        s->theta[i] -= lr * (s->mom[i] / c1) / (sqrt(s->vel[i] / c2) + EPS);
    }
}

/* The starting point: A, b by least squares, W2 = 0, W1 and b1 seeded. */
static int init_net(sm_mlp_net *net, const double *x, const double *y, size_t m, uint64_t seed,
                    uint64_t stream, sm_arena *ar, sm_status *st)
{
    const size_t d1 = net->d1, d2 = net->d2, H = net->hidden;
    /* sm_affine_fit's β ((d1 + 1) × d2) is A followed by bᵀ: exactly θ's first block. */
    int rc = sm_affine_fit(x, y, m, d1, d2, net->a, ar, st);
    if (rc) return rc;
    sm_rng rng;
    sm_rng_seed(&rng, seed, stream);
    const double scale = 1.0 / sqrt((double)d1);
    for (size_t i = 0; i < d1 * H; i++) net->w1[i] = scale * sm_rng_normal(&rng);
    for (size_t h = 0; h < H; h++) net->b1[h] = sm_rng_normal(&rng);
    memset(net->w2, 0, H * d2 * sizeof *net->w2);
    return SM_OK;
}

/* A fit half, standardised and split: rows i % 5 == 4 validate. */
typedef struct {
    double *xt, *yt, *xv, *yv;
    size_t mt, mv;
} split;

/* Train on s's training rows, keep the θ (from step 0, the affine start, to
 * o->iters) with the best validation objective. */
static int train(sm_mlp_net *net, const split *s, const sm_mlp_opts *o, uint64_t stream,
                 sm_arena *ar, sm_status *st)
{
    const size_t count = sm_mlp_param_count(net->d1, net->d2, net->hidden);
    double *theta = net->a; /* the start of θ (sm_mlp_net_view) */
    obj_buf bt, bv;
    /* The gradient, Adam's two moments (zeroed: they start at 0) and the best θ. */
    double *adam = sm_arena_alloc(ar, 4 * count, sizeof *adam, st);
    int rc = adam ? alloc_obj_buf(&bt, s->mt, net->d2, net->hidden, ar, st) : st ? st->code : SM_ERR_DATA;
    if (!rc) rc = alloc_obj_buf(&bv, s->mv, net->d2, net->hidden, ar, st);
    if (!rc) rc = init_net(net, s->xt, s->yt, s->mt, o->seed, stream, ar, st);
    double best_v = 0.0, value, *best = adam + 3 * count;
    if (!rc) rc = objective(net, s->xv, s->yv, s->mv, &bv, &best_v, NULL, st);
    if (!rc) memcpy(best, theta, count * sizeof *best);
    adam_state a = {theta, adam, adam + count, adam + 2 * count, count};
    for (size_t t = 1, best_t = 0; t <= o->iters && !rc; t++) {
        rc = objective(net, s->xt, s->yt, s->mt, &bt, &value, a.grad, st);
        if (rc) break;
        adam_step(&a, o->lr, t);
        if (t % VALIDATE_EVERY && t != o->iters) continue;
        rc = objective(net, s->xv, s->yv, s->mv, &bv, &value, NULL, st);
        if (!rc && value < best_v) {
            best_v = value;
            best_t = t;
            memcpy(best, theta, count * sizeof *best);
        }
        if (o->patience && t - best_t >= o->patience) break;
    }
    if (!rc) memcpy(theta, best, count * sizeof *theta);
    return rc;
}

/* ---- cross-fitting ------------------------------------------------------------------ */

/* Per-column mean and sd of rows [lo, hi) of x (n × d); every value is
 * checked (sm_gauss_cov), a constant column is an error. */
static int column_scale(const double *x, size_t lo, size_t hi, size_t d, const char *name,
                        double *mean, double *sd, sm_arena *ar, sm_status *st)
{
    double *cov = sm_arena_alloc(ar, d * d, sizeof *cov, st);
    if (!cov) return st ? st->code : SM_ERR_DATA;
    sm_status inner;
    if (sm_gauss_cov(x + lo * d, hi - lo, d, mean, cov, &inner))
        return sm_status_fail(st, SM_ERR_DATA, WHERE, "%s, rows [%zu, %zu): %s", name, lo, hi,
                              inner.msg);
    for (size_t j = 0; j < d; j++) {
        sd[j] = sqrt(cov[j * d + j]);
        if (!(sd[j] > 0.0))
            return sm_status_fail(st, SM_ERR_DATA, WHERE, "column %zu of %s is constant on rows [%zu, %zu)",
                                  j, name, lo, hi);
    }
    return SM_OK;
}

/* Row i of x (rows × d) standardised, (x_i − mean) / sd, into row i of out. */
static void standardise_row(const double *x, size_t i, size_t d, const double *mean,
                            const double *sd, double *out)
{
    for (size_t j = 0; j < d; j++) out[j] = (x[i * d + j] - mean[j]) / sd[j];
}

/* x's rows (m × d) standardised into s's training (t) or validation (v) rows. */
static void split_rows(const double *x, size_t m, size_t d, const double *mean, const double *sd,
                       double *t, double *v)
{
    for (size_t i = 0, nt = 0, nv = 0; i < m; i++)
        standardise_row(x, i, d, mean, sd, i % 5 == 4 ? v + nv++ * d : t + nt++ * d);
}

/* One fold: fit on rows [lo, hi), predict rows [elo, ehi) of pred (n × d2). */
static int fold(const double *z1, const double *z2, size_t lo, size_t hi, size_t elo, size_t ehi,
                size_t d1, size_t d2, const sm_mlp_opts *o, uint64_t stream, double *pred,
                sm_arena *ar, sm_status *st)
{
    const size_t m = hi - lo, e = ehi - elo, mark = sm_arena_mark(ar);
    const size_t count = sm_mlp_param_count(d1, d2, o->hidden);
    double *scale = sm_arena_alloc(ar, 2 * (d1 + d2), sizeof *scale, st);
    double *theta = scale ? sm_arena_alloc(ar, count, sizeof *theta, st) : NULL;
    double *xs = theta ? sm_arena_alloc(ar, (m > e ? m : e) * d1, sizeof *xs, st) : NULL;
    double *ys = xs ? sm_arena_alloc(ar, m * d2, sizeof *ys, st) : NULL;
    int rc = ys ? SM_OK : st ? st->code : SM_ERR_DATA;
    double *mx = scale, *sx = mx + d1, *my = sx + d1, *sy = my + d2;
    if (!rc) rc = column_scale(z1, lo, hi, d1, "z1", mx, sx, ar, st);
    if (!rc) rc = column_scale(z2, lo, hi, d2, "z2", my, sy, ar, st);
    sm_mlp_net net;
    sm_mlp_net_view(&net, d1, d2, o->hidden, theta);
    if (!rc) {
        const size_t mv = m / 5, mt = m - mv;
        split s = {xs, ys, xs + mt * d1, ys + mt * d2, mt, mv};
        split_rows(z1 + lo * d1, m, d1, mx, sx, s.xt, s.xv);
        split_rows(z2 + lo * d2, m, d2, my, sy, s.yt, s.yv);
        rc = train(&net, &s, o, stream, ar, st);
    }
    if (!rc) {
        /* Standardised predictions back in z2's units. */
        double *out = pred + elo * d2;
        for (size_t i = 0; i < e; i++) standardise_row(z1 + elo * d1, i, d1, mx, sx, xs + i * d1);
        rc = sm_mlp_predict(&net, xs, e, out, ar, st);
        for (size_t i = 0; i < e * d2 && !rc; i++) out[i] = my[i % d2] + sy[i % d2] * out[i];
    }
    sm_arena_release(ar, mark);
    return rc;
}

static int check_opts(const sm_mlp_opts *o, size_t d1, size_t d2, size_t n, sm_status *st)
{
    if (o->hidden == 0) return sm_status_fail(st, SM_ERR_USAGE, WHERE, "need at least 1 hidden unit, got 0");
    if (!(o->lr > 0.0) || !isfinite(o->lr))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE, "learning rate must be finite and > 0, got %g", o->lr);
    if (d1 == 0 || d2 == 0)
        return sm_status_fail(st, SM_ERR_USAGE, WHERE, "dimensions must be at least 1, got d1 = %zu, d2 = %zu",
                              d1, d2);
    if (n / 2 < 5 * (d1 + d2 + 1))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE,
                              "need at least 5 (d1 + d2 + 1) = %zu rows in each half of the "
                              "cross-fit, got n = %zu",
                              5 * (d1 + d2 + 1), n);
    return SM_OK;
}

int sm_mlp_nll_crossfit(const double *z1, const double *z2, size_t n, size_t d1, size_t d2,
                        const sm_mlp_opts *o, double *mean_nll, sm_arena *ws, sm_status *st)
{
    assert(z1 && z2 && o && mean_nll);
    int rc = check_opts(o, d1, d2, n, st);
    if (rc) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar), half = n / 2;
    const size_t folds[2][2] = {{0, half}, {half, n}};
    double *pred = sm_arena_alloc(ar, n * d2, sizeof *pred, st);
    rc = pred ? SM_OK : st ? st->code : SM_ERR_DATA;
    const int saved = sm_gemm_pin_blas();
    for (int f = 0; f < 2 && !rc; f++)
        rc = fold(z1, z2, folds[f][0], folds[f][1], folds[1 - f][0], folds[1 - f][1], d1, d2, o,
                  (uint64_t)f, pred, ar, st);
    sm_gemm_restore_blas(saved);
    if (!rc) rc = sm_nll_mean(SM_NLL_FULL, z2, pred, n, d2, mean_nll, ar, st);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}
