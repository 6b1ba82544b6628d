/* The best affine predictor of y from x and its cross-fitted full-Gaussian
 * NLL: the "nll_r_opt" floor of the tracking events (docs/design.md §1) and the
 * starting point of the MLP floor (estimators/mlp.h).
 *
 *   h(x) = Bᵀx + c,  (B, c) = least squares of y on [x, 1]
 *
 * Least squares is also the maximum-likelihood affine h under the full
 * Gaussian family (the same regressors for every output), so it minimises
 * E[NLL_full] over affine predictors on the rows it is fitted on.  Rows are
 * row-major doubles; ws is scratch memory (may be NULL). */
#ifndef SM_ESTIMATORS_AFFINE_H
#define SM_ESTIMATORS_AFFINE_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

/* beta ((dx + 1) × dy): rows 0..dx−1 hold B, row dx holds c, fitted on n
 * rows of x (n × dx) and y (n × dy) by the normal equations (Cholesky).
 * [x, 1] of rank < dx + 1 (e.g. n <= dx, a constant column of x): SM_ERR_DATA. */
SM_API int sm_affine_fit(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                         double *beta, sm_arena *ws, sm_status *st);

/* pred (n × dy) = x B + 1 cᵀ. */
SM_API void sm_affine_apply(const double *x, size_t n, size_t dx, size_t dy, const double *beta,
                            double *pred);

/* *mean_nll = E[NLL_full] of y (n × dy) given the two-fold cross-fitted affine
 * prediction from x (n × dx): rows [0, n/2) are predicted by the fit on
 * [n/2, n) and vice versa, then Σ_r is fitted on all n residuals
 * (sm_nll_model_fit, SM_NLL_FULL).  Errors as for the two calls. */
SM_API int sm_affine_nll_crossfit(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                                  double *mean_nll, sm_arena *ws, sm_status *st);

#endif
