/* Closed-form linear predictors (see predictor.h). */
#include "simsiam/predictor.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "estimators/gauss.h"
#include "nn/gemm.h"

static int has_cross(const sm_predictor *p) { return p->mode == SM_PRED_OPTIMAL; }

/* The <where> of error messages. */
static const char *where(const sm_predictor *p)
{
    return has_cross(p) ? "pred_mode=optimal" : "pred_mode=directpred";
}

/* ---- W from the moments ---------------------------------------------------- */

/* b ← (L Lᵀ)⁻¹ b, column by column, for a lower triangular d×d L. */
static void cholesky_solve(const double *l, double *b, size_t d)
{
    for (size_t k = 0; k < d; k++) {
        for (size_t i = 0; i < d; i++) { /* L y = b */
            double s = b[i * d + k];
            for (size_t j = 0; j < i; j++) s -= l[i * d + j] * b[j * d + k];
            b[i * d + k] = s / l[i * d + i];
        }
        for (size_t i = d; i-- > 0;) { /* Lᵀ x = y */
            double s = b[i * d + k];
            for (size_t j = i + 1; j < d; j++) s -= l[j * d + i] * b[j * d + k];
            b[i * d + k] = s / l[i * d + i];
        }
    }
}

/* W = X (C + λI)⁻¹.  X is symmetric, so Wᵀ = (C + λI)⁻¹ X: a Cholesky
 * solve on X's columns. */
static int fit_optimal(sm_predictor *p, const double *corr, const double *cross, sm_status *st)
{
    const size_t d = p->d;
    double trace = 0;
    for (size_t j = 0; j < d; j++) trace += corr[j * d + j];
    if (!(trace >= 0) || isinf(trace)) /* only restored moments can be so: z's are sums of squares */
        return sm_status_fail(st, SM_ERR_DATA, where(p), "second moments with trace %g", trace);
    if (trace == 0) { /* no z but zeros yet: nothing to regress on */
        memset(p->w, 0, d * d * sizeof *p->w);
        return SM_OK;
    }
    memcpy(p->a, corr, d * d * sizeof *p->a);
    int rc = sm_gauss_cholesky(p->a, d, SM_PREDICTOR_RIDGE * trace / (double)d, where(p), st);
    if (rc) return rc;
    memcpy(p->b, cross, d * d * sizeof *p->b);
    cholesky_solve(p->a, p->b, d);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) p->w[i * d + j] = (float)p->b[j * d + i];
    return SM_OK;
}

/* W = U diag(√(max(s, 0)/s_max) + ε) Uᵀ from C = U diag(s) Uᵀ. */
static int fit_directpred(sm_predictor *p, const double *corr, sm_status *st)
{
    const size_t d = p->d;
    memcpy(p->a, corr, d * d * sizeof *p->a); /* the eigensolver destroys its input */
    int rc = sm_gauss_eigen_sym(p->a, d, p->eval, p->b, st);
    if (rc) return rc;
    double s_max = 0;
    for (size_t j = 0; j < d; j++) s_max = fmax(s_max, p->eval[j]);
    for (size_t j = 0; j < d; j++) /* eval becomes the p_j of W's spectrum */
        p->eval[j] = (s_max > 0 ? sqrt(fmax(p->eval[j], 0) / s_max) : 0) + SM_PREDICTOR_EPS;
    const double *u = p->b; /* eigenvectors in columns */
    for (size_t i = 0; i < d; i++) /* lower triangle, mirrored: W exactly symmetric */
        for (size_t k = 0; k <= i; k++) {
            double sum = 0;
            for (size_t j = 0; j < d; j++) sum += u[i * d + j] * p->eval[j] * u[k * d + j];
            p->w[i * d + k] = p->w[k * d + i] = (float)sum;
        }
    return SM_OK;
}

/* On one OpenBLAS thread: GSL's eigensolver and Cholesky call BLAS, whose
 * threading is not bit-reproducible (nn/gemm.h), and W must be the same bits
 * at any thread count. */
static int fit(sm_predictor *p, const double *corr, const double *cross, sm_status *st)
{
    const int saved = sm_gemm_pin_blas();
    const int rc = has_cross(p) ? fit_optimal(p, corr, cross, st) : fit_directpred(p, corr, st);
    sm_gemm_restore_blas(saved);
    return rc;
}

/* W from the next_* moments; on success they become the current ones. */
static int commit_next(sm_predictor *p, sm_status *st)
{
    int rc = fit(p, p->next_corr, p->next_cross, st);
    if (rc) return rc;
    double *t = p->corr;
    p->corr = p->next_corr;
    p->next_corr = t;
    t = p->cross;
    p->cross = p->next_cross;
    p->next_cross = t;
    return SM_OK;
}

/* ---- allocation ------------------------------------------------------------ */

static int alloc_buffers(sm_predictor *p, sm_status *st)
{
    const size_t dd = p->d * p->d;
    const int cross = has_cross(p);
    double **mats[] = {&p->corr, &p->next_corr, &p->a, &p->b, &p->cross, &p->next_cross};
    for (size_t i = 0; i < (cross ? 6u : 4u); i++)
        if (!(*mats[i] = sm_mem_alloc(dd, sizeof(double), st))) return SM_ERR_DATA;
    if (!(p->w = sm_mem_alloc_aligned(dd, sizeof(float), st))) return SM_ERR_DATA;
    if (!cross && !(p->eval = sm_mem_alloc(p->d, sizeof(double), st))) return SM_ERR_DATA;
    return SM_OK;
}

sm_predictor *sm_predictor_alloc(sm_pred_mode mode, size_t d, sm_status *st)
{
    assert(mode == SM_PRED_OPTIMAL || mode == SM_PRED_DIRECTPRED);
    assert(d >= 1);
    sm_predictor *p = sm_mem_alloc(1, sizeof *p, st);
    if (!p) return NULL;
    p->mode = mode;
    p->d = d;
    /* W of the zero moments, as every later W a function of the moments */
    if (alloc_buffers(p, st) || fit(p, p->corr, p->cross, st)) {
        sm_predictor_free(p);
        return NULL;
    }
    return p;
}

void sm_predictor_free(sm_predictor *p)
{
    if (!p) return;
    double *mats[] = {p->corr, p->cross, p->next_corr, p->next_cross, p->a, p->b, p->eval};
    for (size_t i = 0; i < sizeof mats / sizeof *mats; i++) sm_mem_free(mats[i]);
    sm_mem_free(p->w);
    sm_mem_free(p);
}

/* ---- update ----------------------------------------------------------------- */

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* C and (cross != NULL) X of one batch (predictor.h), in double: lower
 * triangles summed row by row, then scaled and mirrored, so both are
 * exactly symmetric. */
static void batch_moments(const float *z1, const float *z2, size_t n, size_t d, double *corr, double *cross)
{
    memset(corr, 0, d * d * sizeof *corr);
    if (cross) memset(cross, 0, d * d * sizeof *cross);
    for (size_t i = 0; i < n; i++) {
        const float *u = z1 + i * d, *v = z2 + i * d;
        for (size_t r = 0; r < d; r++) {
            double ur = u[r], vr = v[r];
            for (size_t c = 0; c <= r; c++) corr[r * d + c] += ur * u[c] + vr * v[c];
            if (cross)
                for (size_t c = 0; c <= r; c++) cross[r * d + c] += ur * v[c] + vr * u[c];
        }
    }
    const double scale = 1.0 / (2.0 * (double)n);
    double *mats[] = {corr, cross};
    for (int k = 0; k < 2 && mats[k]; k++)
        for (size_t r = 0; r < d; r++)
            for (size_t c = 0; c <= r; c++) mats[k][r * d + c] = mats[k][c * d + r] = scale * mats[k][r * d + c];
}

/* next = ρ · old + (1 − ρ) · next, elementwise (symmetry is kept exactly). */
static void fold(double *next, const double *old, size_t count)
{
    for (size_t i = 0; i < count; i++) next[i] = SM_PREDICTOR_RHO * old[i] + (1.0 - SM_PREDICTOR_RHO) * next[i];
}

int sm_predictor_update(sm_predictor *p, const float *z1, const float *z2, size_t n, sm_status *st)
{
    assert(p && z1 && z2 && n >= 1);
    const size_t d = p->d;
    if (!all_finite(z1, n * d) || !all_finite(z2, n * d))
        return sm_status_fail(st, SM_ERR_DATA, where(p), "non-finite z in the predictor update");
    batch_moments(z1, z2, n, d, p->next_corr, p->next_cross);
    if (p->updates > 0) { /* the first batch is the average as is (predictor.h) */
        fold(p->next_corr, p->corr, d * d);
        if (has_cross(p)) fold(p->next_cross, p->cross, d * d);
    }
    int rc = commit_next(p, st);
    if (!rc) p->updates++;
    return rc;
}

/* ---- apply and backward ------------------------------------------------------- */

void sm_predictor_apply(const sm_predictor *p, const float *z, size_t n, float *out)
{
    const int d = (int)p->d;
    sm_gemm_rows(0, 1, (int)n, d, d, z, d, p->w, d, 0.0f, out, d); /* out (n × d) = z · Wᵀ */
}

void sm_predictor_backward(const sm_predictor *p, const float *dp, size_t n, float *dz)
{
    const int d = (int)p->d;
    sm_gemm_rows(0, 0, (int)n, d, d, dp, d, p->w, d, 0.0f, dz, d); /* dz (n × d) = dp · W */
}

/* ---- restore ------------------------------------------------------------------ */

int sm_predictor_restore(sm_predictor *p, const double *corr, const double *cross, uint64_t updates, sm_status *st)
{
    const size_t dd = p->d * p->d;
    memcpy(p->next_corr, corr, dd * sizeof *corr);
    if (has_cross(p)) memcpy(p->next_cross, cross, dd * sizeof *cross);
    int rc = commit_next(p, st);
    if (!rc && !all_finite(p->w, dd)) /* finite moments can still give a W beyond float */
        rc = sm_status_fail(st, SM_ERR_DATA, where(p), "the moments give a predictor that is not finite");
    if (!rc) p->updates = updates;
    return rc;
}
