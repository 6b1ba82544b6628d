/* Exact k-nearest-neighbour search and range counts.
 *
 * Points are n rows of d doubles (row-major).  The metric is a "block max"
 * norm: coordinates [0, split) and [split, d) form two blocks (split = 0: one
 * block); inside a block the norm is L2 or L∞; across blocks the larger of the
 * two block norms is taken.  This covers every estimator of docs/design.md §1:
 *   Euclidean (KL entropy)           {SM_KNN_L2,   0}
 *   max-norm (KSG joint space)       {SM_KNN_LINF, 0}
 *   max of per-side Euclidean norms  {SM_KNN_L2,   dx}  (KSG on spheres)
 *
 * Results are exact and deterministic: distances are computed in double from
 * the coordinates by the same expression on every path (k-d tree, sgemm/dgemm
 * brute force), neighbours are ordered by (distance, index), the point itself
 * is excluded, and any thread count gives identical output.  The path is
 * chosen automatically from d and the inner norm, whatever the split: k-d
 * tree for low d (to 10 for L2, 24 for L∞), blocked brute force above;
 * counts in 1-d or max-norm 2-d use sorted ranks, O(N log N) at any count.
 * So KSG on spheres of up to 5 coordinates each takes the tree for the joint
 * search and for the counts on either sphere: its box bounds are per block. */
#ifndef SM_ESTIMATORS_KNN_H
#define SM_ESTIMATORS_KNN_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

typedef enum { SM_KNN_L2, SM_KNN_LINF } sm_knn_inner;

typedef struct {
    sm_knn_inner inner;
    size_t split; /* 0: one block */
} sm_knn_metric;

/* Distance between two rows under the metric (the one expression all paths use). */
SM_API double sm_knn_dist(const double *a, const double *b, size_t d, sm_knn_metric m);

/* For every row i: its k nearest other rows.  dist[i*k + j] (ascending) and
 * idx[i*k + j] (may be NULL).  Requires 1 <= k < n (else SM_ERR_USAGE). */
SM_API int sm_knn_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                         double *dist, size_t *idx, sm_arena *ws, sm_status *st);

/* For every row i: count[i] = #{j != i : dist(x_j, x_i) < r[i]} (strict = 1)
 * or <= r[i] (strict = 0). */
SM_API int sm_knn_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                        int strict, size_t *count, sm_arena *ws, sm_status *st);

/* Force a path for tests and benchmarks: 0 automatic, 1 k-d tree, 2 brute force
 * (1 and 2 also apply to the counts that would use sorted ranks). */
SM_API void sm_knn_force_path(int path);

#endif
