/* Gaussian estimators (docs/design.md §1) and the small dense linear algebra the
 * other estimators share (covariance, Cholesky, log det).
 *
 *   H(X)   = ½ log det(2πe Σ)
 *   I(X;Y) = ½ log(det Σ_XX det Σ_YY / det Σ),   Σ = covariance of [X | Y]
 *
 * Covariances are maximum likelihood: centred at the sample mean, divided by
 * N (not N − 1).  With that choice the Gaussian entropy equals the in-sample
 * mean NLL of the fitted Gaussian N(mean, Σ), the convention of the NLL
 * families in §1 (Σ_r = mean (z − p)(z − p)ᵀ).  MI does not depend on the
 * choice (the scale cancels in the ratio of determinants); entropies differ
 * from the 1/(N − 1) version by (d/2) log(N/(N − 1)).
 *
 * Matrices are row-major d×d doubles.  A covariance that is not positive
 * definite is an SM_ERR_DATA error "covariance is not positive definite (use
 * a ridge)"; a ridge > 0 is added to the diagonal before the factorisation
 * (always, not only on failure), so results with a ridge are reproducible. */
#ifndef SM_ESTIMATORS_GAUSS_H
#define SM_ESTIMATORS_GAUSS_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

/* mean (d) and ML covariance cov (d×d) of n >= 1 rows of d
 * doubles (two passes: centred sums).  Non-finite values: SM_ERR_DATA. */
SM_API int sm_gauss_cov(const double *x, size_t n, size_t d, double *mean, double *cov,
                        sm_status *st);

/* SM_ERR_DATA "second moments overflow ..." (<where>) unless every diagonal
 * entry of the d×d a is finite: moments of values beyond ~1e154, whose
 * squares overflow, which no ridge can mend. */
SM_API int sm_gauss_moments_finite(const double *a, size_t d, const char *where, sm_status *st);

/* In place: a (d×d, symmetric) + ridge·I = L Lᵀ.  On success the lower
 * triangle of a holds L and the strict upper triangle is zeroed.  Not positive
 * definite: SM_ERR_DATA "covariance is not positive definite (<where>)". */
SM_API int sm_gauss_cholesky(double *a, size_t d, double ridge, const char *where, sm_status *st);

/* log det of a Cholesky factor's product: 2 Σ_j log L_jj. */
SM_API double sm_gauss_cholesky_logdet(const double *l, size_t d);

/* *logdet = log det(a + ridge·I) of a symmetric positive definite d×d matrix
 * (a is not modified). */
SM_API int sm_gauss_logdet(const double *a, size_t d, double ridge, double *logdet, sm_arena *ws,
                           sm_status *st);

/* Gaussian entropy ½ log det(2πe Σ) of n >= 2 rows of d >= 1 columns;
 * without a ridge n > d (n rows' covariance has rank at most n − 1:
 * SM_ERR_DATA). */
SM_API int sm_gauss_entropy(const double *x, size_t n, size_t d, double ridge, double *h,
                            sm_arena *ws, sm_status *st);

/* Gaussian MI ½ log(det Σ_XX det Σ_YY / det Σ) of paired rows of x (n×dx) and
 * y (n×dy); the ridge is added to the diagonal of the joint Σ (so to both
 * marginal blocks too).  Without a ridge n > dx + dy, as above. */
SM_API int sm_gauss_mi(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                       double ridge, double *mi, sm_arena *ws, sm_status *st);

/* Symmetric eigendecomposition a = V diag(eval) Vᵀ of a d×d row-major
 * matrix (destroyed): eval by decreasing value, eigenvector j in column j
 * of evec (d×d row-major).  GSL's symmv: deterministic for a given a.
 * Non-finite entries: SM_ERR_DATA. */
SM_API int sm_gauss_eigen_sym(double *a, size_t d, double *eval, double *evec, sm_status *st);

#endif
