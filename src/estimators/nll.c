#include "estimators/nll.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* GSL's BLAS wrappers call cblas_* symbols, which resolve to OpenBLAS (the
 * build drops -lgslcblas); this file must not include <cblas.h> as well. */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_math.h> /* M_PI, M_E */

#include "core/mem.h"
#include "estimators/gauss.h"
#include "estimators/vmf.h"

static const struct {
    const char *name;
    sm_nll_family family;
} FAMILY_NAMES[] = {
    {"l2", SM_NLL_L2},         {"iso", SM_NLL_ISO},         {"diag", SM_NLL_DIAG},
    {"full", SM_NLL_FULL},     {"vmf", SM_NLL_VMF},         {"gauss-iso", SM_NLL_ISO},
    {"gauss-diag", SM_NLL_DIAG}, {"gauss-full", SM_NLL_FULL},
};

int sm_nll_family_parse(const char *name, sm_nll_family *family, sm_status *st)
{
    assert(name && family);
    for (size_t i = 0; i < sizeof FAMILY_NAMES / sizeof FAMILY_NAMES[0]; i++)
        if (strcmp(name, FAMILY_NAMES[i].name) == 0) {
            *family = FAMILY_NAMES[i].family;
            return SM_OK;
        }
    return sm_status_fail(st, SM_ERR_USAGE, NULL,
                          "unknown NLL family '%s' (expected l2, iso, diag, full or vmf)", name);
}

const char *sm_nll_family_name(sm_nll_family family)
{
    switch (family) {
    case SM_NLL_L2: return "l2";
    case SM_NLL_ISO: return "iso";
    case SM_NLL_DIAG: return "diag";
    case SM_NLL_FULL: return "full";
    case SM_NLL_VMF: return "vmf";
    }
    return "?";
}

static int is_gaussian(sm_nll_family f) { return f != SM_NLL_VMF; }

/* Unit parameters: every family's model is then a valid density. */
static void set_unit_parameters(sm_nll_model *m)
{
    const size_t d = m->d;
    m->mean_nll = 0.0;
    m->sigma2 = 1.0;
    m->kappa = 0.0;
    m->mean_cos = 0.0;
    if (m->s2)
        for (size_t j = 0; j < d; j++) m->s2[j] = 1.0;
    if (m->chol)
        for (size_t j = 0; j < d; j++) m->chol[j * d + j] = 1.0;
    m->log_norm = is_gaussian(m->family) ? -0.5 * (double)d * log(2.0 * M_PI)
                                         : sm_vmf_log_c(d, 0.0);
}

sm_nll_model *sm_nll_model_alloc(sm_nll_family family, size_t d, sm_status *st)
{
    const size_t dmin = family == SM_NLL_VMF ? 2 : 1;
    if (d < dmin) {
        sm_status_fail(st, SM_ERR_USAGE, sm_nll_family_name(family),
                       "dimension must be at least %zu, got %zu", dmin, d);
        return NULL;
    }
    sm_nll_model *m = sm_mem_alloc(1, sizeof *m, st);
    if (!m) return NULL;
    m->family = family;
    m->d = d;
    if (family == SM_NLL_DIAG && !(m->s2 = sm_mem_alloc(d, sizeof *m->s2, st))) goto fail;
    if (family == SM_NLL_FULL && !(m->chol = sm_mem_alloc_aligned(d * d, sizeof *m->chol, st)))
        goto fail;
    set_unit_parameters(m);
    return m;
fail:
    sm_nll_model_free(m);
    return NULL;
}

void sm_nll_model_free(sm_nll_model *m)
{
    if (!m) return;
    sm_mem_free(m->s2);
    sm_mem_free(m->chol);
    sm_mem_free(m);
}

static int check_finite(const double *x, size_t n, size_t d, const char *what, sm_status *st)
{
    for (size_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return sm_status_fail(st, SM_ERR_DATA, what, "non-finite value at row %zu, column %zu",
                                  i / d, i % d);
    return SM_OK;
}

static double sq_norm(const double *x, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += x[j] * x[j];
    return s;
}

static double dot(const double *x, const double *y, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += x[j] * y[j];
    return s;
}

static double sq_dist(const double *x, const double *y, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += (x[j] - y[j]) * (x[j] - y[j]);
    return s;
}

/* ---- Fitting, one function per family --------------------------------------- */

static int fit_l2(sm_nll_model *m, const double *z, const double *p, size_t n)
{
    const size_t d = m->d;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += sq_dist(z + i * d, p + i * d, d);
    m->log_norm = -0.5 * (double)d * log(2.0 * M_PI);
    m->mean_nll = 0.5 * s / (double)n - m->log_norm;
    return SM_OK;
}

static int fit_iso(sm_nll_model *m, const double *z, const double *p, size_t n, sm_status *st)
{
    const size_t d = m->d;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += sq_dist(z + i * d, p + i * d, d);
    const double sigma2 = s / ((double)n * (double)d);
    if (!(sigma2 > 0.0))
        return sm_status_fail(st, SM_ERR_DATA, "iso NLL",
                              "z equals p in every row: the fitted variance is 0");
    m->sigma2 = sigma2;
    m->log_norm = -0.5 * (double)d * log(2.0 * M_PI * sigma2);
    m->mean_nll = 0.5 * (double)d * log(2.0 * M_PI * M_E * sigma2);
    return SM_OK;
}

static int fit_diag(sm_nll_model *m, const double *z, const double *p, size_t n, sm_arena *ar,
                    sm_status *st)
{
    const size_t d = m->d;
    double *s2 = sm_arena_alloc(ar, d, sizeof *s2, st);
    if (!s2) return st ? st->code : SM_ERR_DATA;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            const double r = z[i * d + j] - p[i * d + j];
            s2[j] += r * r;
        }
    double sum_log = 0.0;
    for (size_t j = 0; j < d; j++) {
        s2[j] /= (double)n;
        if (!(s2[j] > 0.0))
            return sm_status_fail(st, SM_ERR_DATA, "diag NLL",
                                  "coordinate %zu of z - p is 0 in every row: its variance is 0",
                                  j);
        sum_log += log(2.0 * M_PI * s2[j]);
    }
    memcpy(m->s2, s2, d * sizeof *s2);
    m->log_norm = -0.5 * sum_log;
    m->mean_nll = 0.5 * ((double)d + sum_log);
    return SM_OK;
}

static int fit_full(sm_nll_model *m, const double *z, const double *p, size_t n, sm_arena *ar,
                    sm_status *st)
{
    const size_t d = m->d;
    /* n < d: rank <= n < d, singular whatever the rounding.  n = d: the fit
     * only reproduces the sample (R square, R(RᵀR)⁻¹Rᵀ = I: every row has
     * leverage 1 and Mahalanobis distance √d), the NLL is the log-volume of
     * its parallelepiped, and no row could be scored by a fit on the others.
     * No ridge is offered: the family is Σ_r's ML fit. */
    if (n <= d)
        return sm_status_fail(st, SM_ERR_DATA, "full NLL",
                              "n = %zu rows for d = %zu: the full family needs n > d (with n <= d "
                              "residuals z - p the covariance is singular or only reproduces the sample)",
                              n, d);
    double *r = sm_arena_alloc(ar, n * d, sizeof *r, st);
    double *sigma = r ? sm_arena_alloc(ar, d * d, sizeof *sigma, st) : NULL;
    if (!sigma) return st ? st->code : SM_ERR_DATA;
    for (size_t i = 0; i < n * d; i++) r[i] = z[i] - p[i];
    /* Σ_r = RᵀR / n: second moments about p (Q's mean), not centred. */
    gsl_matrix_view rv = gsl_matrix_view_array(r, n, d);
    gsl_matrix_view sv = gsl_matrix_view_array(sigma, d, d);
    gsl_blas_dsyrk(CblasLower, CblasTrans, 1.0 / (double)n, &rv.matrix, 0.0, &sv.matrix);
    for (size_t a = 0; a < d; a++)
        for (size_t b = a + 1; b < d; b++) sigma[a * d + b] = sigma[b * d + a];
    if (sm_gauss_moments_finite(sigma, d, "full NLL", st)) return SM_ERR_DATA;
    if (sm_gauss_cholesky(sigma, d, 0.0, "full NLL", NULL) != SM_OK)
        return sm_status_fail(st, SM_ERR_DATA, "full NLL",
                              "residual second moments mean (z - p)(z - p)^T are not positive "
                              "definite (n = %zu rows, d = %zu: the residuals z - p do not span "
                              "all d directions)",
                              n, d);
    const double logdet = sm_gauss_cholesky_logdet(sigma, d);
    memcpy(m->chol, sigma, d * d * sizeof *sigma);
    m->log_norm = -0.5 * ((double)d * log(2.0 * M_PI) + logdet);
    m->mean_nll = 0.5 * ((double)d * log(2.0 * M_PI * M_E) + logdet);
    return SM_OK;
}

/* A row's direction needs a norm that is neither 0 nor overflowing. */
static int check_norm2(double norm2, size_t i, const char *what, sm_status *st)
{
    if (!(norm2 > 0.0))
        return sm_status_fail(st, SM_ERR_DATA, "vmf",
                              "row %zu of %s has zero norm: the vMF family needs a direction", i,
                              what);
    if (!isfinite(norm2))
        return sm_status_fail(st, SM_ERR_DATA, "vmf", "row %zu of %s is too large to normalise",
                              i, what);
    return SM_OK;
}

/* cos(z_i, p_i) for one row pair (unless c is NULL), and its complement
 * 1 − cos as ½‖ẑ − p̂‖² (src/estimators/vmf.h: exact to its relative
 * precision as the directions align). */
static int row_cosine(const double *z, const double *p, size_t d, size_t i, double *c, double *gap,
                      sm_status *st)
{
    const double nz = sq_norm(z, d), np = sq_norm(p, d);
    int rc = check_norm2(nz, i, "z", st);
    if (!rc) rc = check_norm2(np, i, "p", st);
    if (rc) return rc;
    const double rz = sqrt(nz), rp = sqrt(np);
    if (c) *c = dot(z, p, d) / (rz * rp);
    double g = 0.0;
    for (size_t j = 0; j < d; j++) {
        const double t = z[j] / rz - p[j] / rp;
        g += t * t;
    }
    *gap = 0.5 * g;
    return SM_OK;
}

static int fit_vmf(sm_nll_model *m, const double *z, const double *p, size_t n, sm_status *st)
{
    const size_t d = m->d;
    double s = 0.0, sg = 0.0;
    for (size_t i = 0; i < n; i++) {
        double c, g;
        int rc = row_cosine(z + i * d, p + i * d, d, i, &c, &g, st);
        if (rc) return rc;
        s += c, sg += g;
    }
    const double gap = sg / (double)n, kappa = sm_vmf_fit_kappa(d, gap);
    m->mean_cos = s / (double)n;
    m->kappa = kappa;
    m->log_norm = sm_vmf_log_c(d, kappa);
    m->mean_nll = sm_vmf_nll(d, kappa, gap);
    return SM_OK;
}

int sm_nll_model_fit(sm_nll_model *m, const double *z, const double *p, size_t n,
                     sm_arena *ws, sm_status *st)
{
    assert(m && z && p);
    const char *name = sm_nll_family_name(m->family);
    if (n == 0) return sm_status_fail(st, SM_ERR_USAGE, name, "need at least 1 row, got 0");
    int rc = check_finite(z, n, m->d, "z", st);
    if (!rc) rc = check_finite(p, n, m->d, "p", st);
    if (rc) return rc;

    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    /* Fit into a copy so that m keeps its parameters on error. */
    sm_nll_model fit = *m;
    switch (m->family) {
    case SM_NLL_L2: rc = fit_l2(&fit, z, p, n); break;
    case SM_NLL_ISO: rc = fit_iso(&fit, z, p, n, st); break;
    case SM_NLL_DIAG: rc = fit_diag(&fit, z, p, n, ar, st); break;
    case SM_NLL_FULL: rc = fit_full(&fit, z, p, n, ar, st); break;
    case SM_NLL_VMF: rc = fit_vmf(&fit, z, p, n, st); break;
    }
    if (!rc && !isfinite(fit.mean_nll))
        rc = sm_status_fail(st, SM_ERR_DATA, name,
                            "the mean NLL is not finite (residuals too large to square?)");
    if (!rc) *m = fit;
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

/* ---- Evaluation ------------------------------------------------------------- */

int sm_nll_model_features(const sm_nll_model *m, const double *x, size_t n, double *out,
                          sm_status *st)
{
    assert(m && x && out);
    const size_t d = m->d;
    int rc = check_finite(x, n, d, sm_nll_family_name(m->family), st);
    if (rc || n == 0) return rc;
    if (out != x) memmove(out, x, n * d * sizeof *out);
    switch (m->family) {
    case SM_NLL_L2: break;
    case SM_NLL_ISO: {
        const double w = 1.0 / sqrt(m->sigma2);
        for (size_t i = 0; i < n * d; i++) out[i] *= w;
        break;
    }
    case SM_NLL_DIAG:
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) out[i * d + j] /= sqrt(m->s2[j]);
        break;
    case SM_NLL_FULL: {
        /* Rows u = L⁻¹x, i.e. U = X L⁻ᵀ: one triangular solve for all rows. */
        gsl_matrix_const_view lv = gsl_matrix_const_view_array(m->chol, d, d);
        gsl_matrix_view ov = gsl_matrix_view_array(out, n, d);
        gsl_blas_dtrsm(CblasRight, CblasLower, CblasTrans, CblasNonUnit, 1.0, &lv.matrix,
                       &ov.matrix);
        break;
    }
    case SM_NLL_VMF:
        for (size_t i = 0; i < n; i++) {
            double *row = out + i * d;
            const double norm2 = sq_norm(row, d);
            rc = check_norm2(norm2, i, "x", st);
            if (rc) return rc;
            const double nrm = sqrt(norm2);
            for (size_t j = 0; j < d; j++) row[j] /= nrm;
        }
        break;
    }
    return SM_OK;
}

int sm_nll_model_log_q(const sm_nll_model *m, const double *z, const double *p, size_t n,
                       double *out, sm_arena *ws, sm_status *st)
{
    assert(m && z && p && out);
    const size_t d = m->d;
    int rc = check_finite(z, n, d, "z", st);
    if (!rc) rc = check_finite(p, n, d, "p", st);
    if (rc) return rc;
    if (!is_gaussian(m->family)) {
        for (size_t i = 0; !rc && i < n; i++) {
            double g;
            rc = row_cosine(z + i * d, p + i * d, d, i, NULL, &g, st);
            if (!rc) out[i] = -sm_vmf_nll(d, m->kappa, g);
        }
        return rc;
    }
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    const size_t mark = sm_arena_mark(ar);
    double *u = sm_arena_alloc(ar, n * d, sizeof *u, st);
    if (!u) rc = st ? st->code : SM_ERR_DATA;
    if (!rc) {
        /* φ is linear: map the residual, not the two points (no cancellation). */
        for (size_t i = 0; i < n * d; i++) u[i] = z[i] - p[i];
        rc = sm_nll_model_features(m, u, n, u, st);
        for (size_t i = 0; !rc && i < n; i++) out[i] = m->log_norm - 0.5 * sq_norm(u + i * d, d);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

int sm_nll_mean(sm_nll_family f, const double *z, const double *p, size_t n, size_t d, double *mean_nll,
                sm_arena *ws, sm_status *st)
{
    sm_nll_model *m = sm_nll_model_alloc(f, d, st);
    if (!m) return st ? st->code : SM_ERR_DATA;
    int rc = sm_nll_model_fit(m, z, p, n, ws, st);
    if (!rc) *mean_nll = m->mean_nll;
    sm_nll_model_free(m);
    return rc;
}
