#include "estimators/gauss.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>

int sm_gauss_cov(const double *x, size_t n, size_t d, double *mean, double *cov,
                 sm_status *st)
{
    assert(x && mean && cov && n >= 1 && d >= 1);
    memset(mean, 0, d * sizeof *mean);
    for (size_t i = 0; i < n; i++) {
        const double *row = x + i * d;
        for (size_t j = 0; j < d; j++) {
            if (!isfinite(row[j]))
                return sm_status_fail(st, SM_ERR_DATA, NULL,
                                      "non-finite value at row %zu, column %zu", i, j);
            mean[j] += row[j];
        }
    }
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;

    /* Second pass on centred values: no cancellation of large means. */
    memset(cov, 0, d * d * sizeof *cov);
    for (size_t i = 0; i < n; i++) {
        const double *row = x + i * d;
        for (size_t a = 0; a < d; a++) {
            const double ca = row[a] - mean[a];
            for (size_t b = 0; b <= a; b++) cov[a * d + b] += ca * (row[b] - mean[b]);
        }
    }
    for (size_t a = 0; a < d; a++)
        for (size_t b = 0; b <= a; b++) {
            cov[a * d + b] /= (double)n;
            cov[b * d + a] = cov[a * d + b];
        }
    return SM_OK;
}

/* Is the factor numerically singular?  The j-th pivot L_jj² is a_jj times
 * 1 − (squared multiple correlation of coordinate j on the previous ones),
 * and a_jj = Σ_k L_jk² (A = L Lᵀ).  Rounding leaves ~d ε a_jj of the pivot
 * even when A is exactly singular (e.g. collinear samples), so smaller pivots
 * carry no information and a log det from them would be noise.  Non-finite
 * or non-positive pivots (GSL lets NaN through) fail as well. */
static int factor_singular(const double *l, size_t d)
{
    for (size_t j = 0; j < d; j++) {
        double pivot = l[j * d + j], a_jj = 0.0;
        for (size_t k = 0; k <= j; k++) a_jj += l[j * d + k] * l[j * d + k];
        if (!(pivot > 0.0) || !isfinite(a_jj)) return 1;
        if (pivot * pivot <= 8.0 * (double)d * DBL_EPSILON * a_jj) return 1;
    }
    return 0;
}

int sm_gauss_moments_finite(const double *a, size_t d, const char *where, sm_status *st)
{
    for (size_t j = 0; j < d; j++)
        if (!isfinite(a[j * d + j]))
            return sm_status_fail(st, SM_ERR_DATA, where,
                                  "second moments overflow: values too large to square (beyond ~1e154), "
                                  "rescale the data");
    return SM_OK;
}

int sm_gauss_cholesky(double *a, size_t d, double ridge, const char *where, sm_status *st)
{
    assert(a && d >= 1 && ridge >= 0.0);
    for (size_t j = 0; j < d; j++) a[j * d + j] += ridge;
    gsl_matrix_view m = gsl_matrix_view_array(a, d, d);
    int rc;
    /* GSL's default error handler aborts on a matrix that is not positive
     * definite; library code must return an error instead.  The handler is
     * global, so switch it off only around the call, one caller at a time. */
#pragma omp critical(sm_gauss_gsl_handler)
    {
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        rc = gsl_linalg_cholesky_decomp1(&m.matrix);
        gsl_set_error_handler(old);
    }
    if (rc != GSL_SUCCESS || factor_singular(a, d)) {
        if (ridge > 0.0)
            return sm_status_fail(st, SM_ERR_DATA, where,
                                  "covariance + ridge %g is not positive definite", ridge);
        return sm_status_fail(st, SM_ERR_DATA, where, "covariance is not positive definite");
    }
    for (size_t r = 0; r < d; r++)
        for (size_t c = r + 1; c < d; c++) a[r * d + c] = 0.0;
    return SM_OK;
}

double sm_gauss_cholesky_logdet(const double *l, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += log(l[j * d + j]);
    return 2.0 * s;
}

/* log det of the d×d block starting at a (leading dimension lda) + ridge·I. */
static int logdet_block(const double *a, size_t lda, size_t d, double ridge, double *logdet,
                        sm_arena *ws, sm_status *st)
{
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    int rc = SM_ERR_DATA;
    double *l = sm_arena_alloc(ar, d * d, sizeof *l, st);
    if (l) {
        for (size_t r = 0; r < d; r++) memcpy(l + r * d, a + r * lda, d * sizeof *l);
        rc = sm_gauss_moments_finite(l, d, NULL, st);
        if (rc == SM_OK) rc = sm_gauss_cholesky(l, d, ridge, "use a ridge", st);
        if (rc == SM_OK) *logdet = sm_gauss_cholesky_logdet(l, d);
    }
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

int sm_gauss_logdet(const double *a, size_t d, double ridge, double *logdet, sm_arena *ws,
                    sm_status *st)
{
    assert(a && logdet && d >= 1);
    return logdet_block(a, d, d, ridge, logdet, ws, st);
}

/* n rows' covariance has rank at most n − 1: singular in d > n − 1
 * dimensions whatever the values, unless a ridge lifts it. */
static int check_rank(size_t n, size_t d, double ridge, const char *what, sm_status *st)
{
    if (ridge > 0.0 || n > d) return SM_OK;
    return sm_status_fail(st, SM_ERR_DATA, what,
                          "%zu samples in %zu dimensions: the covariance of n samples has rank at most n - 1, "
                          "so it needs n > d (or a ridge)",
                          n, d);
}

static int check_args(size_t n, size_t d, double ridge, const char *what, sm_status *st)
{
    if (n < 2) return sm_status_fail(st, SM_ERR_USAGE, what, "need at least 2 samples, got %zu", n);
    if (d == 0) return sm_status_fail(st, SM_ERR_USAGE, what, "dimension must be at least 1");
    if (!(ridge >= 0.0) || !isfinite(ridge))
        return sm_status_fail(st, SM_ERR_USAGE, what, "ridge must be finite and >= 0, got %g",
                              ridge);
    return SM_OK;
}

int sm_gauss_entropy(const double *x, size_t n, size_t d, double ridge, double *h,
                     sm_arena *ws, sm_status *st)
{
    assert(x && h);
    int rc = check_args(n, d, ridge, "Gaussian entropy", st);
    if (rc == SM_OK) rc = check_rank(n, d, ridge, "Gaussian entropy", st);
    if (rc) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    double logdet = 0.0;
    double *mean = sm_arena_alloc(ar, d, sizeof *mean, st);
    double *cov = mean ? sm_arena_alloc(ar, d * d, sizeof *cov, st) : NULL;
    rc = cov ? sm_gauss_cov(x, n, d, mean, cov, st) : SM_ERR_DATA;
    if (rc == SM_OK) rc = logdet_block(cov, d, d, ridge, &logdet, ar, st);
    if (rc == SM_OK) *h = 0.5 * ((double)d * log(2.0 * M_PI * M_E) + logdet);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

int sm_gauss_mi(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                double ridge, double *mi, sm_arena *ws, sm_status *st)
{
    assert(x && y && mi);
    int rc = check_args(n, dx, ridge, "Gaussian MI, x", st);
    if (rc == SM_OK) rc = check_args(n, dy, ridge, "Gaussian MI, y", st);
    if (rc == SM_OK) rc = check_rank(n, dx + dy, ridge, "Gaussian MI, (x, y)", st);
    if (rc) return rc;
    sm_arena local = {0};
    sm_arena *ar = ws ? ws : &local;
    size_t mark = sm_arena_mark(ar);
    const size_t d = dx + dy;
    double *joint = sm_arena_alloc(ar, n * d, sizeof *joint, st);
    double *mean = joint ? sm_arena_alloc(ar, d, sizeof *mean, st) : NULL;
    double *cov = mean ? sm_arena_alloc(ar, d * d, sizeof *cov, st) : NULL;
    rc = cov ? SM_OK : SM_ERR_DATA;
    if (rc == SM_OK) {
        for (size_t i = 0; i < n; i++) {
            memcpy(joint + i * d, x + i * dx, dx * sizeof *joint);
            memcpy(joint + i * d + dx, y + i * dy, dy * sizeof *joint);
        }
        rc = sm_gauss_cov(joint, n, d, mean, cov, st);
    }
    double ld_xy = 0.0, ld_x = 0.0, ld_y = 0.0;
    if (rc == SM_OK) rc = logdet_block(cov, d, d, ridge, &ld_xy, ar, st);
    if (rc == SM_OK) rc = logdet_block(cov, d, dx, ridge, &ld_x, ar, st);
    if (rc == SM_OK) rc = logdet_block(cov + dx * d + dx, d, dy, ridge, &ld_y, ar, st);
    if (rc == SM_OK) *mi = 0.5 * (ld_x + ld_y - ld_xy);
    sm_arena_release(ar, mark);
    sm_arena_free(&local);
    return rc;
}

int sm_gauss_eigen_sym(double *a, size_t d, double *eval, double *evec, sm_status *st)
{
    assert(a && eval && evec && d >= 1);
    for (size_t i = 0; i < d * d; i++)
        if (!isfinite(a[i])) return sm_status_fail(st, SM_ERR_DATA, NULL, "non-finite value in a symmetric eigenproblem");
    gsl_matrix_view av = gsl_matrix_view_array(a, d, d), vv = gsl_matrix_view_array(evec, d, d);
    gsl_vector_view ev = gsl_vector_view_array(eval, d);
    gsl_eigen_symmv_workspace *w;
#pragma omp critical(sm_gauss_gsl_handler) /* as in sm_gauss_cholesky: GSL aborts on failed allocations */
    {
        gsl_error_handler_t *old = gsl_set_error_handler_off();
        w = gsl_eigen_symmv_alloc(d);
        gsl_set_error_handler(old);
    }
    if (!w) return sm_status_fail(st, SM_ERR_DATA, NULL, "out of memory in a symmetric eigenproblem");
    gsl_eigen_symmv(&av.matrix, &ev.vector, &vv.matrix, w);
    gsl_eigen_symmv_free(w);
    gsl_eigen_symmv_sort(&ev.vector, &vv.matrix, GSL_EIGEN_SORT_VAL_DESC);
    return SM_OK;
}
