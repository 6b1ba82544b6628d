/* von Mises–Fisher distribution on the unit sphere S^{d−1} ⊂ R^d (docs/design.md §1).
 *
 *   density (w.r.t. surface measure)  C_d(κ) exp(κ μᵀx),   ‖x‖ = ‖μ‖ = 1
 *   log C_d(κ) = (d/2 − 1) log κ − (d/2) log 2π − log I_{d/2−1}(κ)
 *   A_d(κ)     = I_{d/2}(κ) / I_{d/2−1}(κ) = E[μᵀx]
 *
 * Everything is computed in logs and stays finite and accurate (~1e-13) for
 * d = 2 … 2048 and κ = 0 … 1e5 and beyond:
 * - A_d(κ) and 1 − A_d(κ) come from Perron's continued fraction (Gautschi &
 *   Slavik 1978), accurate to a few ulps in both forms;
 * - log I_ν(κ) is the power series in logs when κ² ≤ 4(ν + 1) (κ → 0 gives
 *   log C_d(0) = −log |S^{d−1}| with no cancellation), otherwise
 *   log(I_{ν0}(κ) e^{−κ}) + κ (ν0 = 0: GSL's gsl_sf_bessel_I0_scaled; ν0 = ½:
 *   closed form) plus the logs of the ratios I_v/I_{v−1}, v = ν0 + 1 … ν.
 *   GSL's gsl_sf_bessel_Inu_scaled_e is not used directly: it underflows (an
 *   aborting GSL error) for ν ~ 1000 and κ up to ~600, returns NaN for ν = 0
 *   and κ > 288, and loses ~1e-11 relative at κ ~ 1e5.
 *
 * d >= 2 throughout (d = 2 is the circle); d < 2 or κ < 0 is a contract
 * violation (assert). */
#ifndef SM_ESTIMATORS_VMF_H
#define SM_ESTIMATORS_VMF_H

#include <stddef.h>
#include "core/export.h"
#include "core/rng.h"
#include "core/status.h"

/* log C_d(κ), κ >= 0.  log C_d(0) = −log |S^{d−1}| = lgamma(d/2) − log 2 − (d/2) log π. */
SM_API double sm_vmf_log_c(size_t d, double kappa);

/* log I_ν(x) for ν ∈ {0, ½, 1, 3/2, …} (ν = d/2 − 1), x >= 0 (−inf at x = 0 < ν). */
SM_API double sm_vmf_log_bessel_i(double nu, double x);

/* A_d(κ) = I_{d/2}(κ)/I_{d/2−1}(κ) = E[μᵀx], and its complement 1 − A_d(κ),
 * computed directly (no cancellation as κ → ∞, where 1 − A ≈ (d − 1)/(2κ)). */
SM_API double sm_vmf_a(size_t d, double kappa);
SM_API double sm_vmf_a_complement(size_t d, double kappa);

/* Cosines enter the two functions below by their complement gap = 1 − cos
 * (0 … 2): taken as ½‖x − μ‖² of the unit vectors it keeps its relative
 * precision as the directions align, where 1 − (a computed cosine) keeps only
 * an absolute 1e-16 (and κ ~ 1/gap multiplies it: at κ = 2e12 the NLL was
 * 1e-4 off). */

/* Maximum-likelihood κ for the mean cosine R̄ = mean μᵢᵀxᵢ, given as
 * gap = 1 − R̄: the root of 1 − A_d(κ) = gap, by Newton's method
 * (A' = 1 − A² − (d − 1)A/κ) from Banerjee et al.'s (2005) start
 * R̄ (d − R̄²)/(1 − R̄²), safeguarded by bisection, to 1e-13 relative.
 * gap >= 1 (R̄ <= 0) gives 0 (uniform); a gap under 2⁻⁴⁸ (directions equal
 * to rounding) is raised to it, so κ stays finite (at most ≈ 1.4e14 (d − 1)). */
SM_API double sm_vmf_fit_kappa(size_t d, double gap);

/* Differential entropy on the sphere (w.r.t. surface measure):
 * H = −κ A_d(κ) − log C_d(κ); log |S^{d−1}| at κ = 0, −∞ as κ → ∞. */
SM_API double sm_vmf_entropy(size_t d, double kappa);

/* NLL of a unit vector x under vMF(μ, κ), given gap = 1 − μᵀx:
 * −κ μᵀx − log C_d(κ), computed as κ·gap − (log C_d(κ) + κ).  Its mean over
 * x ~ vMF(μ, κ) is sm_vmf_entropy. */
SM_API double sm_vmf_nll(size_t d, double kappa, double gap);

/* n independent draws from vMF(μ/‖μ‖, κ) into out (n×d, row-major, unit
 * rows) by Wood's (1994) rejection algorithm.  μ (d values) need not be a unit
 * vector.  Errors: ‖μ‖ = 0 or non-finite (SM_ERR_DATA), κ < 0 or non-finite,
 * d < 2 (SM_ERR_USAGE). */
SM_API int sm_vmf_sample(const double *mu, size_t d, double kappa, size_t n, sm_rng *r, double *out,
                         sm_status *st);

#endif
