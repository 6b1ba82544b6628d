#include "estimators/mix.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_math.h> /* M_PI */

#include "core/mem.h"
#include "core/rng.h"
#include "estimators/gauss.h"
#include "nn/gemm.h" /* sm_gemm_pin_blas: OpenBLAS's threading is not bit-reproducible */

#define WHERE "mixture NLL"

void sm_mix_defaults(sm_mix_opts *o, uint64_t seed)
{
    *o = (sm_mix_opts){.components = 4, .starts = 4, .max_iter = 200, .tol = 1e-6,
                       .ridge = 1e-6, .seed = seed};
}

/* ---- the model: π, m and L in one block, so a copy is one memcpy ---------- */

static size_t param_count(size_t k, size_t d) { return k + k * d + k * d * d; }

static void set_views(sm_mix_model *m, size_t k, size_t d, double *block)
{
    m->components = k;
    m->d = d;
    m->weight = block;
    m->mean = block + k;
    m->chol = block + k + k * d;
}

static void copy_model(sm_mix_model *dst, const sm_mix_model *src)
{
    memcpy(dst->weight, src->weight, param_count(src->components, src->d) * sizeof *dst->weight);
    dst->loglik = src->loglik;
    dst->iters = src->iters;
}

sm_mix_model *sm_mix_model_alloc(size_t components, size_t d, sm_status *st)
{
    if (components == 0 || d == 0) {
        sm_status_fail(st, SM_ERR_USAGE, WHERE,
                       "need at least 1 component in at least 1 dimension, got K = %zu, d = %zu",
                       components, d);
        return NULL;
    }
    sm_mix_model *m = sm_mem_alloc(1, sizeof *m, st);
    double *block = m ? sm_mem_alloc(param_count(components, d), sizeof *block, st) : NULL;
    if (!block) {
        sm_mem_free(m);
        return NULL;
    }
    set_views(m, components, d, block);
    return m;
}

void sm_mix_model_free(sm_mix_model *m)
{
    if (!m) return;
    sm_mem_free(m->weight);
    sm_mem_free(m);
}

/* ---- checks ------------------------------------------------------------------ */

static int check_opts(const sm_mix_opts *o, size_t d, sm_status *st)
{
    if (o->components == 0) return sm_status_fail(st, SM_ERR_USAGE, WHERE, "need at least 1 component, got 0");
    if (o->starts == 0) return sm_status_fail(st, SM_ERR_USAGE, WHERE, "need at least 1 EM start, got 0");
    if (o->max_iter == 0) return sm_status_fail(st, SM_ERR_USAGE, WHERE, "need at least 1 EM iteration, got 0");
    if (!(o->tol >= 0.0) || !isfinite(o->tol))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE, "tolerance must be finite and >= 0, got %g", o->tol);
    if (!(o->ridge >= 0.0) || !isfinite(o->ridge))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE, "ridge must be finite and >= 0, got %g", o->ridge);
    if (d == 0) return sm_status_fail(st, SM_ERR_USAGE, WHERE, "dimension must be at least 1");
    return SM_OK;
}

static int check_finite(const double *x, size_t n, size_t d, const char *what, sm_status *st)
{
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return sm_status_fail(st, SM_ERR_DATA, WHERE, "non-finite value in %s at row %zu, column %zu",
                                  what, i / d, i % d);
    return SM_OK;
}

static double sq_norm(const double *x, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += x[j] * x[j];
    return s;
}

/* ---- E-step ------------------------------------------------------------------ */

/* l (n × K) = log π_k + log N(r_i; m_k, Σ_k); u is n × d scratch. */
static void component_log_densities(const sm_mix_model *m, const double *r, size_t n, double *l,
                                    double *u)
{
    const size_t K = m->components, d = m->d;
    for (size_t k = 0; k < K; k++) {
        const double *lk = m->chol + k * d * d, *mk = m->mean + k * d;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) u[i * d + j] = r[i * d + j] - mk[j];
        /* Rows L_k⁻¹(r_i − m_k): ‖·‖² is the Mahalanobis distance. */
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n,
                    (int)d, 1.0, lk, (int)d, u, (int)d);
        const double c = log(m->weight[k]) -
                          0.5 * ((double)d * log(2.0 * M_PI) + sm_gauss_cholesky_logdet(lk, d));
        for (size_t i = 0; i < n; i++) l[i * K + k] = c - 0.5 * sq_norm(u + i * d, d);
    }
}

/* In place: l (n × K) becomes the posteriors exp(l − log_q), with log_q[i]
 * = logsumexp_k l[i K + k].  Returns the mean of log_q. */
static double normalise(double *l, size_t n, size_t K, double *log_q)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double *li = l + i * K, top = li[0], s = 0.0;
        for (size_t k = 1; k < K; k++) top = fmax(top, li[k]);
        for (size_t k = 0; k < K; k++) {
            li[k] = exp(li[k] - top);
            s += li[k];
        }
        for (size_t k = 0; k < K; k++) li[k] /= s;
        log_q[i] = top + log(s);
        sum += log_q[i];
    }
    return sum / (double)n;
}

int sm_mix_model_log_q(const sm_mix_model *m, const double *r, size_t n, double *log_q,
                       double *resp, sm_arena *ws, sm_status *st)
{
    assert(m && r && log_q);
    int rc = check_finite(r, n, m->d, "the residuals", st);
    if (rc || n == 0) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    double *u = sm_arena_alloc(ar, n * m->d, sizeof *u, st);
    double *l = u ? sm_arena_alloc(ar, n * m->components, sizeof *l, st) : NULL;
    rc = l ? SM_OK : st ? st->code : SM_ERR_DATA;
    if (!rc) {
        const int saved = sm_gemm_pin_blas();
        component_log_densities(m, r, n, l, u);
        sm_gemm_restore_blas(saved);
        normalise(l, n, m->components, log_q);
        if (resp) memcpy(resp, l, n * m->components * sizeof *resp);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

/* ---- M-step ------------------------------------------------------------------ */

/* The ML π, m, Σ given the posteriors resp (n × K), with ridge·I added to
 * each Σ_k; w is n × d scratch.  A component without rows or with a singular
 * Σ_k fails (SM_ERR_DATA): the start is degenerate. */
static int m_step(sm_mix_model *m, const double *r, size_t n, const double *resp, double ridge,
                  double *w, sm_status *st)
{
    const size_t K = m->components, d = m->d;
    for (size_t k = 0; k < K; k++) {
        double nk = 0.0, *mk = m->mean + k * d, *lk = m->chol + k * d * d;
        for (size_t i = 0; i < n; i++) nk += resp[i * K + k];
        if (!(nk > 0.0))
            return sm_status_fail(st, SM_ERR_DATA, NULL, "component %zu lost all its rows", k);
        memset(mk, 0, d * sizeof *mk);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) mk[j] += resp[i * K + k] * r[i * d + j];
        for (size_t j = 0; j < d; j++) mk[j] /= nk;
        /* Σ_k = WᵀW with rows w_i = sqrt(resp_ik / N_k) (r_i − m_k). */
        for (size_t i = 0; i < n; i++) {
            const double s = sqrt(resp[i * K + k] / nk);
            for (size_t j = 0; j < d; j++) w[i * d + j] = s * (r[i * d + j] - mk[j]);
        }
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)n, 1.0, w, (int)d, 0.0,
                    lk, (int)d);
        for (size_t a = 0; a < d; a++)
            for (size_t b = a + 1; b < d; b++) lk[a * d + b] = lk[b * d + a];
        if (sm_gauss_cholesky(lk, d, ridge, WHERE, NULL))
            return sm_status_fail(st, SM_ERR_DATA, NULL,
                                  "the covariance of component %zu (%.3g rows) is not positive "
                                  "definite",
                                  k, nk);
        m->weight[k] = nk / (double)n;
    }
    return SM_OK;
}

/* ---- one fit ------------------------------------------------------------------ */

/* Scratch of one fit on n rows. */
typedef struct {
    double *white;       /* n × d: the rows whitened by C, for the seeding distances */
    double *u;           /* n × d */
    double *l;           /* n × K: log densities, then posteriors */
    double *log_q;       /* n */
    double *d2;          /* n: squared distance to the nearest chosen centre */
    double *chol_c;      /* d × d: the factor of C + ridge·I, every start's Σ_k */
    sm_mix_model cur;    /* the start being run */
} fit_buf;

/* k-means++ seeding: the means are K rows of r, the first drawn uniformly,
 * each next with probability ∝ its squared whitened distance to the nearest
 * mean so far. */
static void seed_means(sm_mix_model *m, const double *r, size_t n, fit_buf *b, sm_rng *rng)
{
    const size_t K = m->components, d = m->d;
    size_t pick = (size_t)sm_rng_below(rng, n);
    for (size_t k = 0;; k++) {
        memcpy(m->mean + k * d, r + pick * d, d * sizeof *m->mean);
        if (k + 1 == K) return;
        double total = 0.0;
        for (size_t i = 0; i < n; i++) {
            double s = 0.0;
            for (size_t j = 0; j < d; j++) {
                const double diff = b->white[i * d + j] - b->white[pick * d + j];
                s += diff * diff;
            }
            if (k == 0 || s < b->d2[i]) b->d2[i] = s;
            total += b->d2[i];
        }
        /* The first row whose cumulative weight exceeds the target: rows at
         * distance 0 (the means so far) are never picked unless all are. */
        const double target = sm_rng_uniform(rng) * total;
        double acc = b->d2[0];
        for (pick = 0; acc <= target && pick + 1 < n;) acc += b->d2[++pick];
    }
}

/* EM from m's parameters: at most max_iter M-steps; m->loglik is the mean
 * log-likelihood of the final parameters. */
static int run_em(sm_mix_model *m, const double *r, size_t n, const sm_mix_opts *o, double ridge,
                  fit_buf *b, sm_status *st)
{
    double prev = 0.0;
    for (size_t it = 0;; it++) {
        component_log_densities(m, r, n, b->l, b->u);
        const double ll = normalise(b->l, n, m->components, b->log_q);
        if (!isfinite(ll))
            return sm_status_fail(st, SM_ERR_DATA, NULL, "the log-likelihood is not finite");
        m->loglik = ll;
        m->iters = it;
        if (it == o->max_iter || (it > 0 && fabs(ll - prev) <= o->tol * (1.0 + fabs(ll))))
            return SM_OK;
        prev = ll;
        int rc = m_step(m, r, n, b->l, ridge, b->u, st);
        if (rc) return rc;
    }
}

/* Start s: seeded means, equal weights, every Σ_k = C + ridge·I, then EM. */
static int run_start(size_t s, const double *r, size_t n, const sm_mix_opts *o, double ridge,
                     fit_buf *b, sm_status *st)
{
    sm_mix_model *m = &b->cur;
    const size_t K = m->components, d = m->d;
    sm_rng rng;
    sm_rng_seed(&rng, o->seed, s);
    seed_means(m, r, n, b, &rng);
    for (size_t k = 0; k < K; k++) {
        m->weight[k] = 1.0 / (double)K;
        memcpy(m->chol + k * d * d, b->chol_c, d * d * sizeof *m->chol);
    }
    return run_em(m, r, n, o, ridge, b, st);
}

/* C = the rows' covariance: its factor whitens the rows for the seeding, and
 * C + ridge·I (ridge relative to tr(C)/d) starts every component. */
static int prepare(const double *r, size_t n, size_t d, double rel_ridge, fit_buf *b,
                   double *ridge, sm_arena *ar, sm_status *st)
{
    double *mean = sm_arena_alloc(ar, d, sizeof *mean, st);
    double *c = mean ? sm_arena_alloc(ar, d * d, sizeof *c, st) : NULL;
    if (!c) return st ? st->code : SM_ERR_DATA;
    int rc = sm_gauss_cov(r, n, d, mean, c, st);
    if (rc) return rc;
    double trace = 0.0;
    for (size_t j = 0; j < d; j++) trace += c[j * d + j];
    *ridge = rel_ridge * trace / (double)d;
    memcpy(b->chol_c, c, d * d * sizeof *c);
    if (sm_gauss_cholesky(c, d, 0.0, WHERE, NULL) ||
        sm_gauss_cholesky(b->chol_c, d, *ridge, WHERE, NULL))
        return sm_status_fail(st, SM_ERR_DATA, WHERE,
                              "the covariance of the %zu residual rows is not positive definite "
                              "(they do not span all %zu directions)",
                              n, d);
    memcpy(b->white, r, n * d * sizeof *r);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n, (int)d,
                1.0, c, (int)d, b->white, (int)d);
    return SM_OK;
}

static int alloc_fit_buf(fit_buf *b, size_t n, size_t K, size_t d, sm_arena *ar, sm_status *st)
{
    double *block = sm_arena_alloc(ar, 2 * n * d + n * K + 2 * n + d * d + param_count(K, d),
                                   sizeof *block, st);
    if (!block) return st ? st->code : SM_ERR_DATA;
    b->white = block;
    b->u = b->white + n * d;
    b->l = b->u + n * d;
    b->log_q = b->l + n * K;
    b->d2 = b->log_q + n;
    b->chol_c = b->d2 + n;
    set_views(&b->cur, K, d, b->chol_c + d * d);
    return SM_OK;
}

/* Every start from the same prepared rows; the best one into m. */
static int fit_starts(sm_mix_model *m, const double *r, size_t n, const sm_mix_opts *o,
                      fit_buf *b, double ridge, sm_status *st)
{
    sm_status last;
    sm_status_clear(&last);
    int have = 0;
    for (size_t s = 0; s < o->starts; s++) {
        if (run_start(s, r, n, o, ridge, b, &last)) continue;
        if (!have || b->cur.loglik > m->loglik) copy_model(m, &b->cur);
        have = 1;
    }
    if (have) return SM_OK;
    return sm_status_fail(st, SM_ERR_DATA, WHERE,
                          "all %zu EM starts degenerated (the last: %s); use a larger ridge or "
                          "fewer components",
                          o->starts, last.msg);
}

int sm_mix_model_fit(sm_mix_model *m, const double *r, size_t n, const sm_mix_opts *o,
                     sm_arena *ws, sm_status *st)
{
    assert(m && r && o);
    const size_t K = o->components, d = m->d;
    int rc = check_opts(o, d, st);
    if (rc) return rc;
    if (m->components != K)
        return sm_status_fail(st, SM_ERR_USAGE, WHERE,
                              "the model has %zu components, the options ask for %zu",
                              m->components, K);
    if (n < K * (d + 1))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE,
                              "%zu components in %zu dimensions need at least K (d + 1) = %zu "
                              "rows, got %zu",
                              K, d, K * (d + 1), n);
    rc = check_finite(r, n, d, "the residuals", st);
    if (rc) return rc;

    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    /* The best start goes to scratch first, so m keeps its parameters on error. */
    fit_buf b;
    sm_mix_model best = {0};
    double *best_block = sm_arena_alloc(ar, param_count(K, d), sizeof *best_block, st);
    rc = best_block ? alloc_fit_buf(&b, n, K, d, ar, st) : st ? st->code : SM_ERR_DATA;
    double ridge = 0.0;
    const int saved = sm_gemm_pin_blas();
    if (!rc) {
        set_views(&best, K, d, best_block);
        rc = prepare(r, n, d, o->ridge, &b, &ridge, ar, st);
    }
    if (!rc) rc = fit_starts(&best, r, n, o, &b, ridge, st);
    sm_gemm_restore_blas(saved);
    if (!rc) copy_model(m, &best);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

/* ---- cross-fitting ---------------------------------------------------------- */

int sm_mix_nll_crossfit(const double *z, const double *p, size_t n, size_t d,
                        const sm_mix_opts *o, double *mean_nll, sm_arena *ws, sm_status *st)
{
    assert(z && p && o && mean_nll);
    int rc = check_opts(o, d, st);
    if (rc) return rc;
    const size_t K = o->components, half = n / 2;
    if (half < K * (d + 1))
        return sm_status_fail(st, SM_ERR_USAGE, WHERE,
                              "%zu components in %zu dimensions need at least K (d + 1) = %zu "
                              "rows in each half of the cross-fit, got n = %zu",
                              K, d, K * (d + 1), n);
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    double *r = sm_arena_alloc(ar, n * d, sizeof *r, st);
    double *log_q = r ? sm_arena_alloc(ar, n, sizeof *log_q, st) : NULL;
    sm_mix_model *m = log_q ? sm_mix_model_alloc(K, d, st) : NULL;
    rc = m ? SM_OK : st ? st->code : SM_ERR_DATA;
    if (!rc) {
        for (size_t i = 0; i < n * d; i++) r[i] = z[i] - p[i];
        /* Here rows count from 0 over all n, not within a half. */
        rc = check_finite(r, n, d, "z - p", st);
    }
    const size_t fold[2][2] = {{0, half}, {half, n}};
    for (int f = 0; f < 2 && !rc; f++) {
        const size_t lo = fold[f][0], hi = fold[f][1], elo = fold[1 - f][0], ehi = fold[1 - f][1];
        rc = sm_mix_model_fit(m, r + lo * d, hi - lo, o, ar, st);
        if (!rc) rc = sm_mix_model_log_q(m, r + elo * d, ehi - elo, log_q + elo, NULL, ar, st);
    }
    if (!rc) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++) s -= log_q[i];
        *mean_nll = s / (double)n;
    }
    sm_mix_model_free(m);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}
