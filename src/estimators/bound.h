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
#include "core/export.h"
#include "core/status.h"
#include "estimators/nll.h"
#include "estimators/prep.h"

/* Barber–Agakov bound H(z2) − E[NLL_Q] (nats), see above for H's measure. */
SM_API double sm_bound_ba(double h_z2, double mean_nll);

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
SM_API int sm_bound_infonce(const sm_nll_model *m, const double *z2, const double *p1, size_t n,
                            sm_bound_nce *out, sm_arena *ws, sm_status *st);

/* InfoNCE from a precomputed n×n score matrix s (row-major, s[i*n + j] =
 * f(x_i, y_j), positives on the diagonal) for any critic.  Non-finite scores:
 * SM_ERR_DATA; n = 0: SM_ERR_USAGE. */
SM_API int sm_bound_infonce_scores(const double *s, size_t n, sm_bound_nce *out, sm_status *st);

/* The whole chain on one sample, what `simsiam-mi estimate bound` prints
 * (and python/simsiam_mi's bound returns), with the tracker's conventions
 * (docs/design.md §1.8), so that a track.csv row's values come back: Q of
 * the family fitted on (z2, p1), Ĥ(z2) (KL, not whitened), Ĥ(z2|z1) and Î
 * (KSG-1, max norm, each block whitened: a change of z2's units then moves
 * E[NLL_Q] and Ĥ(z2|z1) alike and leaves the gap), Barber–Agakov and
 * InfoNCE.  For vmf every entropy is taken on the sphere, like Q: the rows
 * of z1 and z2 are normalised (a copy) and KL and KSG-1 use the surface
 * measure with per-side Euclidean norms, unwhitened. */
typedef struct {
    sm_nll_family family;
    size_t k;          /* neighbour order, 1 <= k < n */
    sm_prep_opts prep; /* the k-NN estimators' jitter; whiten must be 0 (the chain's own, above: else SM_ERR_USAGE) */
} sm_bound_chain_opts;

typedef struct {
    double h_z2;          /* Ĥ(z2) */
    double nll;           /* E[NLL_Q(z2; p1)], Q fitted on the same rows */
    double h_z2_given_z1; /* Ĥ(z2|z1) */
    double gap;           /* nll − h_z2_given_z1 */
    double i_ksg;         /* Î_KSG1(z1; z2) */
    double ba;            /* sm_bound_ba(h_z2, nll) */
    sm_bound_nce nce;     /* InfoNCE with the critic log Q (value, cap = log n) */
    double kappa;         /* vmf: κ; NaN for the other families */
} sm_bound_chain;

/* The chain on n rows of z1, z2, p1 (n × d each, row-major).  Errors: those
 * of the fit (sm_nll_model_alloc, sm_nll_model_fit), of sm_bound_infonce,
 * sm_entropy_kl and sm_mi_ksg1 (k >= n, duplicates, non-finite values); a
 * zero row of z1 or z2 for vmf (SM_ERR_DATA). */
SM_API int sm_bound_chain_estimate(const double *z1, const double *z2, const double *p1, size_t n, size_t d,
                                   const sm_bound_chain_opts *o, sm_bound_chain *out, sm_arena *ws,
                                   sm_status *st);

#endif
