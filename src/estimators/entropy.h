/* Kozachenko–Leonenko k-NN entropy (docs/design.md §1), in nats:
 *
 *   Ĥ = ψ(N) − ψ(k) + log V_d + (d/N) Σ_i log r_k(i),   V_d = π^{d/2} / Γ(d/2 + 1),
 *
 * r_k(i) = Euclidean distance from row i to its k-th nearest other row
 * (estimators/knn.h, ties ordered by (distance, index)).
 *
 * Sphere: rows that are unit vectors on S^{d−1} have no density in R^d; their
 * entropy w.r.t. the surface measure (what the vMF family of §1 is compared
 * with) is the same formula with the intrinsic dimension d − 1 in place of d
 * (in V and in the factor), r_k still the chord distance: a chord ball of
 * radius r on the sphere has surface measure V_{d−1} r^{d−1} (1 + O(r²)), and
 * exactly π r² on S².
 *
 * Duplicate rows give r_k(i) = 0 and log 0 = −∞: this is an SM_ERR_DATA error
 * ("k-th neighbour distance is 0 for M points: duplicate samples; add noise:
 * --noise S, or noise= in Python"), never a silent −inf.  The jitter of
 * estimators/prep.h breaks the ties; with noise = 0 the formula above is
 * evaluated exactly.
 *
 * Whitening (prep.whiten) estimates the entropy of the whitened rows and adds
 * log det L back (H(x) = H(L⁻¹ x) + log det L): the same quantity, with less
 * bias on anisotropic data.  Not defined on the sphere (SM_ERR_USAGE). */
#ifndef SM_ESTIMATORS_ENTROPY_H
#define SM_ESTIMATORS_ENTROPY_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"
#include "estimators/prep.h"

typedef struct {
    size_t k;          /* neighbour order, 1 <= k < N (e.g. 3) */
    int sphere;        /* rows are unit vectors on S^{d−1}: intrinsic dimension d − 1 */
    sm_prep_opts prep; /* whitening and jitter, off when zero */
} sm_entropy_opts;

/* Ĥ of n rows of d columns (row-major).  Usage errors (SM_ERR_USAGE): n < 2,
 * d = 0, k = 0 or k >= n, sphere with d < 2 or with whitening.  Data errors
 * (SM_ERR_DATA): non-finite values, rows off the unit sphere (|‖x‖ − 1| >
 * 1e-4) with sphere set, duplicates (r_k = 0). */
SM_API int sm_entropy_kl(const double *x, size_t n, size_t d, const sm_entropy_opts *o, double *h,
                         sm_arena *ws, sm_status *st);

/* log of the volume of the unit ball in R^d: Euclidean (l2 = 1),
 * log V_d = (d/2) log π − log Γ(d/2 + 1), or max-norm (l2 = 0), d log 2. */
SM_API double sm_entropy_log_unit_ball(size_t d, int l2);

/* Checks shared by the k-NN estimators (entropy.c, mi.c). */
/* SM_ERR_DATA unless every row of x has Euclidean norm within 1e-4 of 1. */
SM_API int sm_entropy_check_sphere(const double *x, size_t n, size_t d, const char *name,
                                   sm_status *st);
/* out (n × d; may be x itself) = the rows of x scaled to unit length; a zero
 * or non-finite row is SM_ERR_DATA "row I has norm V: no direction on the
 * sphere (<name>)". */
SM_API int sm_entropy_unit_rows(const double *x, size_t n, size_t d, const char *name, double *out,
                                sm_status *st);
/* sm_prep_block, then for points on the sphere (sphere set) with jitter
 * (noise > 0) every row scaled back to unit length: the jitter moves them
 * off S^(d-1), where the (d−1)-dimensional formulas no longer hold (an
 * entropy above log |S^(d-1)| could come out).  Without noise the rows are
 * left exactly as given. */
SM_API int sm_entropy_prep(const double *x, size_t n, size_t d, const sm_prep_opts *o, int sphere,
                           uint64_t stream, const char *name, double *out, double *log_det_l, sm_arena *ws,
                           sm_status *st);
/* SM_ERR_DATA "k-th neighbour distance is 0 for M points: duplicate samples;
 * add noise: --noise S, or noise= in Python (<where>)" if any r[i] (stride
 * k) is 0; r is the n×k distance matrix of sm_knn_search. */
SM_API int sm_entropy_check_radii(const double *dist, size_t n, size_t k, const char *where,
                                  sm_status *st);

#endif
