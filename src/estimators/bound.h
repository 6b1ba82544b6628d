/* Lower bounds on I(z1; z2) with the predictor as critic (docs/design.md §1,
 * "Bounds with the predictor as critic").  Q is a fitted NLL family
 * (estimators/nll.h) and p1 = h(z1) the predictor's output.
 *
 * Barber–Agakov:  I(z1; z2) >= H(z2) − E[NLL_Q(z2; p1)],
 *   since E[NLL_Q] = H(z2|z1) + E[KL(P(z2|z1) ‖ Q(·; p1))] >= H(z2|z1).
 *   The entropy must use the same reference measure as Q: for the Gaussian
 *   families the differential entropy of z2 in R^d (Lebesgue measure); for
 *   vmf the entropy of ẑ2 = z2/‖z2‖ on the sphere S^{d−1} (surface measure),
 *   e.g. a k-NN entropy of the normalised rows with the sphere's volume
 *   element — never an entropy of z2 in R^d.  An estimate Ĥ(z2) in place of
 *   H(z2) makes the result an estimate, no longer a guaranteed bound.
 *
 * InfoNCE over a batch of N pairs (z1_i, z2_i) with critic
 *   S_ij = f(z1_i, z2_j) = log Q(z2_j; p1_i):
 *   L_NCE = −(1/N) Σ_i [S_ii − logsumexp_j S_ij],   I >= log N − L_NCE.
 *   L_NCE >= 0 always, so the bound never exceeds log N (the cap): when the
 *   true I is above log N the bound says only "at least log N". */
#ifndef SM_ESTIMATORS_BOUND_H
#define SM_ESTIMATORS_BOUND_H

#include <stddef.h>
#include "core/arena.h"
#include "core/status.h"
#include "estimators/nll.h"

/* Barber–Agakov bound H(z2) − E[NLL_Q] (nats), see above for H's measure. */
double sm_bound_ba(double h_z2, double mean_nll);

typedef struct {
    size_t n;     /* batch size N */
    double loss;  /* L_NCE >= 0 */
    double value; /* log N − L_NCE, the lower bound on I (<= cap) */
    double cap;   /* log N */
} sm_bound_nce;

/* InfoNCE with the critic log Q(z2_j; p1_i) of model m (d = m->d) over the
 * n >= 1 rows of z2 and p1 (n×d each).  The N×N scores are computed in row
 * blocks (one gemm on the features of sm_nll_model_features per block, the
 * diagonal exactly from the residuals, logsumexp rows in parallel with
 * OpenMP): O(N² d + N d²) time, O(N d + 2¹⁸) doubles of ws (may be NULL).
 * Errors: n = 0 (SM_ERR_USAGE); non-finite values, zero-norm rows for vmf
 * (SM_ERR_DATA). */
int sm_bound_infonce(const sm_nll_model *m, const double *z2, const double *p1, size_t n,
                     sm_bound_nce *out, sm_arena *ws, sm_status *st);

/* InfoNCE from a precomputed n×n score matrix s (row-major, s[i*n + j] =
 * f(x_i, y_j), positives on the diagonal) for any critic.  Non-finite scores:
 * SM_ERR_DATA; n = 0: SM_ERR_USAGE. */
int sm_bound_infonce_scores(const double *s, size_t n, sm_bound_nce *out, sm_status *st);

#endif
