/* Kraskov–Stögbauer–Grassberger mutual information and the conditional
 * entropy that shares its neighbour structure (docs/design.md §1), in nats.
 *
 * Joint space z = (x, y), norm ‖z‖ = max(‖x‖, ‖y‖) with ‖·‖ the max norm
 * (SM_MI_MAXNORM, the KSG estimator) or Euclidean in each block
 * (SM_MI_BLOCK_L2, for unit vectors on spheres).  Neighbours come from
 * estimators/knn.h: exact, self excluded, ties ordered by (distance, index).
 *
 * KSG-1: ε_i = distance from z_i to its k-th joint neighbour;
 *   n_x(i) = #{j ≠ i : ‖x_j − x_i‖ < ε_i} (strict), n_y likewise;
 *   Î = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩.
 * KSG-2: ε_x(i), ε_y(i) = largest ‖x_j − x_i‖, ‖y_j − y_i‖ over the k nearest
 *   joint neighbours j of i; n_x(i) = #{j ≠ i : ‖x_j − x_i‖ ≤ ε_x(i)}
 *   (non-strict), n_y likewise;  Î = ψ(k) − 1/k + ψ(N) − ⟨ψ(n_x) + ψ(n_y)⟩.
 * Conditional entropy (KSG-1 structure: Ĥ(X,Y) − Ĥ(X) at the shared ε_i):
 *   Ĥ(Y|X)     = −ψ(k) + ⟨ψ(n_x + 1)⟩ + log V + d'⟨log ε_i⟩
 *   Ĥ_shared(Y) = ψ(N) − ⟨ψ(n_y + 1)⟩ + log V + d'⟨log ε_i⟩
 *   so that Ĥ(Y|X) = Ĥ_shared(Y) − Î_KSG1 exactly.  d' = dy, or dy − 1 on
 *   the sphere (entropy w.r.t. surface measure, as in entropy.h); V = the
 *   volume of the unit ball of y's norm in d' dimensions: 2^{d'} for the max
 *   norm (giving dy⟨log 2ε_i⟩), π^{d'/2}/Γ(d'/2 + 1) for Euclidean.
 *
 * Exactness: with noise = 0 the formulas are evaluated as written: no jitter,
 * no clipping of a negative Î at 0, ties counted exactly.  Duplicate joint
 * rows (ε_i = 0) are an SM_ERR_DATA error, as in entropy.h.
 * Whitening maps x and y separately (prep.h): Î is unchanged in exact
 * arithmetic; the conditional entropies get log det L_y added back. */
#ifndef SM_ESTIMATORS_MI_H
#define SM_ESTIMATORS_MI_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"
#include "estimators/prep.h"

typedef enum {
    SM_MI_MAXNORM = 0, /* max norm inside x and y (KSG) */
    SM_MI_BLOCK_L2 = 1 /* Euclidean inside x and y */
} sm_mi_norm;

typedef struct {
    size_t k;          /* neighbour order, 1 <= k < N (e.g. 3) */
    sm_mi_norm norm;   /* [SM_MI_MAXNORM] */
    int sphere;        /* rows of x and y are unit vectors (needs SM_MI_BLOCK_L2):
                          conditional entropies w.r.t. surface measure */
    sm_prep_opts prep; /* whitening and jitter, off when zero */
} sm_mi_opts;

typedef struct {
    double mi;          /* Î_KSG1(X;Y) */
    double h_y_given_x; /* Ĥ(Y|X) */
    double h_y;         /* Ĥ_shared(Y) = Ĥ(Y|X) + Î_KSG1 */
} sm_ksg1_result;

/* KSG-1 on n paired rows of x (n×dx) and y (n×dy), with the conditional
 * entropies.  Usage errors (SM_ERR_USAGE): n < 2, dx or dy = 0, k = 0 or
 * k >= n, sphere with the max norm, with whitening or with dx or dy < 2.
 * Data errors (SM_ERR_DATA): non-finite values, rows off the unit sphere with
 * sphere set, duplicates (ε_i = 0), whitening a singular block. */
SM_API int sm_mi_ksg1(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                      const sm_mi_opts *o, sm_ksg1_result *out, sm_arena *ws, sm_status *st);

/* KSG-2 Î; arguments and errors as sm_mi_ksg1. */
SM_API int sm_mi_ksg2(const double *x, const double *y, size_t n, size_t dx, size_t dy,
                      const sm_mi_opts *o, double *mi, sm_arena *ws, sm_status *st);

#endif
