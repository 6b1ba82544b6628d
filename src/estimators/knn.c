/* Exact k-nearest-neighbour search and range counts (see knn.h).
 *
 * Three paths, all computing distances with one expression (metric_dist) and
 * comparing them exactly:
 *
 * - k-d tree (low d): a balanced tree with median splits over a reordered,
 *   contiguous copy of the points, tight bounding boxes per node.  Queries
 *   run in tree order and prune with box bounds that are exact in floating
 *   point: every step of the distance expression (subtraction, square, sum,
 *   max, sqrt) is monotone, so the bound computed from a box corner is <=
 *   (resp. >=) the computed distance of every point inside.  With two
 *   blocks the bound is taken per block (the box's gap in that block's
 *   coordinates) and the larger kept, like the distance itself.
 *
 * - blocked brute force (high d): for L2, dgemm tiles give
 *   ||a||^2 + ||b||^2 - 2 a.b per block with a proven rounding-error bound;
 *   a candidate is skipped only when that bound proves the outcome, every
 *   other one is measured exactly.  L-inf has no Gram identity, so every pair
 *   is measured exactly (same tiling).
 *
 * - sorted ranks, for counts in one dimension or under the max-norm in two
 *   (the KSG marginals): O(N log N) whatever the counts, see below.
 *
 * The k nearest under the total order (distance, index) are unique, so every
 * path and every thread count give bit-identical output.  Inputs must be
 * finite. */
#include "estimators/knn.h"

#include <assert.h>
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* One rounding per operation, as the exactness arguments assume: no fused
 * a*b+c that could differ between inlining sites.  gcc in ISO C mode
 * (-std=c11) does not contract; clang needs telling. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

enum {
    KD_LEAF = 32,          /* max rows per leaf (measured best for 2-4 d, k = 3) */
    KD_STACK = 128,        /* pending nodes; a balanced tree over < 2^64 rows is shallower */
    KD_SPREAD_SAMPLE = 64, /* rows sampled to choose a split coordinate */
    BF_QUERIES = 64,       /* brute force: query rows per tile */
    BF_CANDIDATES = 1024,  /* brute force: candidate rows per tile */
    /* Automatic choice: k-d tree up to these dimensions.  Measured (N = 2e4
     * and 6e4, Gaussian, k = 3): the tree wins for L2 to d = 10 and for the
     * max-norm (boxes prune far better, and brute force has no gemm there)
     * to d = 24; the crossover moves up slowly with N. */
    KD_MAX_DIM_L2 = 10,
    KD_MAX_DIM_LINF = 24
};

static int forced_path;

void sm_knn_force_path(int path)
{
    assert(path >= 0 && path <= 2);
    forced_path = path;
}

/* ---- the metric --------------------------------------------------------- */

/* Coordinate loops are short (d is 1-4 in the hot, specialised copies):
 * unrolling them removes the loop overhead that otherwise dominates. */
#define KNN_UNROLL _Pragma("GCC unroll 4")

/* One coordinate's contribution t >= 0 folded into a block accumulator. */
static inline double metric_add(double acc, double t, sm_knn_inner inner)
{
    if (inner == SM_KNN_LINF) return t > acc ? t : acc;
    return acc + t * t;
}

/* Block accumulators -> norm.  sqrt is monotone and correctly rounded, so
 * sqrt(max(s1, s2)) == max(sqrt(s1), sqrt(s2)): one sqrt suffices. */
static inline double metric_finish(double s1, double s2, sm_knn_inner inner)
{
    double s = s1 > s2 ? s1 : s2;
    return inner == SM_KNN_L2 ? sqrt(s) : s;
}

/* L-inf with two blocks equals L-inf with one (a max of maxes): normalising
 * split away lets the tree code treat a single block. */
static sm_knn_metric metric_normalise(sm_knn_metric m)
{
    if (m.inner == SM_KNN_LINF) m.split = 0;
    return m;
}

static inline double metric_dist(const double *a, const double *b, size_t d, sm_knn_metric m)
{
    size_t split = m.split ? m.split : d;
    double s1 = 0.0, s2 = 0.0;
    KNN_UNROLL
    for (size_t j = 0; j < split; j++) s1 = metric_add(s1, fabs(a[j] - b[j]), m.inner);
    KNN_UNROLL
    for (size_t j = split; j < d; j++) s2 = metric_add(s2, fabs(a[j] - b[j]), m.inner);
    return metric_finish(s1, s2, m.inner);
}

double sm_knn_dist(const double *a, const double *b, size_t d, sm_knn_metric m)
{
    assert(a && b && (m.split == 0 || m.split < d));
    return metric_dist(a, b, d, m);
}

/* Bounds on the distance from q to any point of the box [lo, hi], per
 * coordinate: the lower takes the gap to the box (0 inside), the upper the
 * offset to the farther face.  fl(p - q) >= fl(lo - q) for p >= lo > q, so
 * the lower bound never exceeds a computed distance.  `upper` is a constant
 * at each call, so every inlined copy keeps one branch-free loop. */
static inline double box_bound(const double *q, const double *lo, const double *hi, size_t d, sm_knn_metric m,
                               int upper)
{
    size_t split = m.split ? m.split : d;
    double s1 = 0.0, s2 = 0.0;
    KNN_UNROLL
    for (size_t j = 0; j < d; j++) {
        /* Branch-free (max instructions): at most one of below, above is positive. */
        double below = lo[j] - q[j], above = q[j] - hi[j], from_lo = q[j] - lo[j], to_hi = hi[j] - q[j];
        double g = below > above ? below : above;
        g = upper ? (from_lo > to_hi ? from_lo : to_hi) : g > 0.0 ? g : 0.0;
        if (j < split) s1 = metric_add(s1, g, m.inner);
        else s2 = metric_add(s2, g, m.inner);
    }
    return metric_finish(s1, s2, m.inner);
}

static inline double box_lower(const double *q, const double *lo, const double *hi, size_t d, sm_knn_metric m)
{
    return box_bound(q, lo, hi, d, m, 0);
}

static inline double box_upper(const double *q, const double *lo, const double *hi, size_t d, sm_knn_metric m)
{
    return box_bound(q, lo, hi, d, m, 1);
}

/* Does the count include a point at distance dist from the query? */
static inline int within(double dist, double r, int strict)
{
    return strict ? dist < r : dist <= r;
}

/* ---- bounded max-heap of (distance, index) ------------------------------- */

typedef struct {
    double dist;
    size_t idx;
} knn_item;

/* The neighbour order: distance, then smaller index. */
static inline int item_before(double da, size_t ia, double db, size_t ib)
{
    return da < db || (da == db && ia < ib);
}

static void heap_sift_down(knn_item *h, size_t size, size_t i)
{
    knn_item v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && item_before(h[c].dist, h[c].idx, h[c + 1].dist, h[c + 1].idx)) c++;
        if (!item_before(v.dist, v.idx, h[c].dist, h[c].idx)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

/* Add to a heap of size < capacity. */
static void heap_push(knn_item *h, size_t size, double dist, size_t idx)
{
    size_t i = size;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!item_before(h[parent].dist, h[parent].idx, dist, idx)) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = (knn_item){dist, idx};
}

/* Offer a candidate to a heap of capacity k holding size items; returns the
 * new size.  Sizes travel by value so callers keep their state in registers. */
static inline size_t heap_offer(knn_item *h, size_t size, size_t k, double dist, size_t idx)
{
    if (size < k) {
        heap_push(h, size, dist, idx);
        return size + 1;
    }
    if (item_before(dist, idx, h[0].dist, h[0].idx)) {
        h[0] = (knn_item){dist, idx};
        heap_sift_down(h, k, 0);
    }
    return k;
}

/* Sort the full heap ascending and write one output row. */
static void heap_emit(knn_item *h, size_t k, double *dist, size_t *idx)
{
    for (size_t size = k; size > 1; size--) {
        knn_item top = h[0];
        h[0] = h[size - 1];
        h[size - 1] = top;
        heap_sift_down(h, size - 1, 0);
    }
    for (size_t j = 0; j < k; j++) {
        dist[j] = h[j].dist;
        if (idx) idx[j] = h[j].idx;
    }
}

/* ---- k-d tree ----------------------------------------------------------- */

/* A complete binary tree in implicit layout: node v has children 2v + 1 and
 * 2v + 2, every leaf sits at the same depth, and a node's rows are split in
 * half at the median of its widest coordinate.  Leaves in index order cover
 * the reordered rows left to right. */
typedef struct {
    size_t begin, end; /* rows [begin, end) of the reordered copy */
} kd_range;

typedef struct {
    size_t d;
    sm_knn_metric m;
    size_t first_leaf; /* nodes >= first_leaf are leaves */
    size_t n_nodes;
    double *pts;       /* n x d, reordered so every node's rows are contiguous */
    size_t *perm;      /* original index of each reordered row */
    kd_range *range;   /* per node */
    double *boxes;     /* per node: lo[d] then hi[d] (tight bounding box) */
} kd_tree;

static void swap_rows(double *pts, size_t *perm, size_t d, size_t a, size_t b)
{
    double *ra = pts + a * d, *rb = pts + b * d;
    for (size_t j = 0; j < d; j++) {
        double t = ra[j];
        ra[j] = rb[j];
        rb[j] = t;
    }
    size_t t = perm[a];
    perm[a] = perm[b];
    perm[b] = t;
}

/* Reorder rows [lo, hi] so row kth holds the value of coordinate dim it would
 * have if sorted, none before it is larger and none after it is smaller.
 * Floyd & Rivest's SELECT (CACM 1975): a pivot chosen by recursing on a small
 * sample around kth makes the first partition nearly final, about 1.5 passes
 * over the rows instead of 3 or more: at the top of a big tree every pass
 * streams the whole point set through memory. */
static void kd_select(double *pts, size_t *perm, size_t d, size_t dim, ptrdiff_t lo,
                      ptrdiff_t hi, ptrdiff_t kth)
{
#define KEY(r) pts[(size_t)(r) * d + dim]
    while (hi > lo) {
        if (hi - lo > 600) {
            double n = (double)(hi - lo + 1), i = (double)(kth - lo + 1);
            double z = log(n), s = 0.5 * exp(2.0 * z / 3.0);
            double sd = 0.5 * sqrt(z * s * (n - s) / n) * (i < n / 2 ? -1.0 : 1.0);
            ptrdiff_t sub_lo = (ptrdiff_t)((double)kth - i * s / n + sd);
            ptrdiff_t sub_hi = (ptrdiff_t)((double)kth + (n - i) * s / n + sd);
            kd_select(pts, perm, d, dim, sub_lo > lo ? sub_lo : lo, sub_hi < hi ? sub_hi : hi,
                      kth);
        }
        double pivot = KEY(kth);
        ptrdiff_t i = lo, j = hi;
        swap_rows(pts, perm, d, (size_t)lo, (size_t)kth);
        if (KEY(hi) > pivot) swap_rows(pts, perm, d, (size_t)hi, (size_t)lo);
        while (i < j) {
            swap_rows(pts, perm, d, (size_t)i, (size_t)j);
            i++;
            j--;
            while (KEY(i) < pivot) i++;
            while (KEY(j) > pivot) j--;
        }
        if (KEY(lo) == pivot) {
            swap_rows(pts, perm, d, (size_t)lo, (size_t)j);
        } else {
            j++;
            swap_rows(pts, perm, d, (size_t)j, (size_t)hi);
        }
        if (j <= kth) lo = j + 1;
        if (kth <= j) hi = j - 1;
    }
#undef KEY
}

/* Bounding box of rows [begin, end) into lo, hi, visiting every step-th row. */
static void kd_extent(const kd_tree *t, kd_range rg, size_t step, double *lo, double *hi)
{
    size_t d = t->d;
    memcpy(lo, t->pts + rg.begin * d, d * sizeof *lo);
    memcpy(hi, lo, d * sizeof *hi);
    for (size_t r = rg.begin + step; r < rg.end; r += step) {
        const double *p = t->pts + r * d;
        for (size_t j = 0; j < d; j++) {
            lo[j] = p[j] < lo[j] ? p[j] : lo[j];
            hi[j] = p[j] > hi[j] ? p[j] : hi[j];
        }
    }
}

/* The coordinate to split a node on: the widest, judged on about
 * KD_SPREAD_SAMPLE rows (a heuristic for the tree's shape; the boxes used
 * for pruning are exact). */
static size_t kd_split_dim(const kd_tree *t, size_t v, double *lo, double *hi)
{
    kd_range rg = t->range[v];
    size_t step = (rg.end - rg.begin) / KD_SPREAD_SAMPLE;
    kd_extent(t, rg, step ? step : 1, lo, hi);
    size_t widest = 0;
    for (size_t j = 1; j < t->d; j++)
        if (hi[j] - lo[j] > hi[widest] - lo[widest]) widest = j;
    return widest;
}

/* Depth: the fewest halvings that bring every leaf to <= KD_LEAF rows.  Node
 * sizes at one depth differ by at most one, so leaves hold more than
 * KD_LEAF / 2 - 1 rows and no node is empty. */
static int kd_build(kd_tree *t, const double *x, size_t n, size_t d, sm_knn_metric m,
                    sm_arena *ws, sm_status *st)
{
    size_t leaves = 1;
    while ((n + leaves - 1) / leaves > KD_LEAF) leaves *= 2;
    *t = (kd_tree){.d = d, .m = m, .first_leaf = leaves - 1, .n_nodes = 2 * leaves - 1};
    t->pts = sm_arena_alloc(ws, n * d, sizeof *t->pts, st);
    t->perm = sm_arena_alloc(ws, n, sizeof *t->perm, st);
    t->range = sm_arena_alloc(ws, t->n_nodes, sizeof *t->range, st);
    t->boxes = sm_arena_alloc(ws, t->n_nodes * 2 * d, sizeof *t->boxes, st);
    if (!t->pts || !t->perm || !t->range || !t->boxes) return st ? st->code : SM_ERR_DATA;
    memcpy(t->pts, x, n * d * sizeof *x);
    for (size_t i = 0; i < n; i++) t->perm[i] = i;

    t->range[0] = (kd_range){0, n};
    for (size_t v = 0; v < t->first_leaf; v++) { /* index order is breadth first */
        double *lo = t->boxes + v * 2 * d; /* scratch here; exact boxes come below */
        size_t dim = kd_split_dim(t, v, lo, lo + d);
        kd_range rg = t->range[v];
        size_t mid = rg.begin + (rg.end - rg.begin) / 2;
        kd_select(t->pts, t->perm, d, dim, (ptrdiff_t)rg.begin, (ptrdiff_t)rg.end - 1,
                  (ptrdiff_t)mid);
        t->range[2 * v + 1] = (kd_range){rg.begin, mid};
        t->range[2 * v + 2] = (kd_range){mid, rg.end};
    }
    /* Tight boxes bottom up: leaves from their rows, parents as unions. */
    for (size_t v = t->n_nodes; v-- > 0;) {
        double *lo = t->boxes + v * 2 * d, *hi = lo + d;
        if (v >= t->first_leaf) {
            kd_extent(t, t->range[v], 1, lo, hi);
            continue;
        }
        const double *a = t->boxes + (2 * v + 1) * 2 * d, *b = a + 2 * d;
        for (size_t j = 0; j < d; j++) {
            lo[j] = a[j] < b[j] ? a[j] : b[j];
            hi[j] = a[d + j] > b[d + j] ? a[d + j] : b[d + j];
        }
    }
    return SM_OK;
}

/* The leaf holding reordered row p. */
static size_t kd_leaf_of(const kd_tree *t, size_t p)
{
    size_t v = 0;
    while (v < t->first_leaf) v = p < t->range[2 * v + 1].end ? 2 * v + 1 : 2 * v + 2;
    return v;
}

/* The per-query code is force-inlined into copies with the dimension and
 * norm as constants (KD_SPECIALISE), so coordinate loops unroll and the norm
 * branch disappears: this is where the time goes. */
#define KD_INLINE static inline __attribute__((always_inline))

KD_INLINE double kd_lower(const kd_tree *t, size_t d, sm_knn_metric m, const double *q, size_t v)
{
    const double *lo = t->boxes + v * 2 * d;
    return box_lower(q, lo, lo + d, d, m);
}

KD_INLINE double kd_upper(const kd_tree *t, size_t d, sm_knn_metric m, const double *q, size_t v)
{
    const double *lo = t->boxes + v * 2 * d;
    return box_upper(q, lo, lo + d, d, m);
}

/* One query's search state: heap of the best so far and its k-th distance. */
typedef struct {
    const double *q;
    size_t p; /* the query's own row, excluded */
    size_t k, size;
    knn_item *h;
    double worst; /* +inf until k are found: nothing is pruned before */
} kd_query;

KD_INLINE void kd_scan_leaf(const kd_tree *t, size_t d, sm_knn_metric m, size_t v, kd_query *s)
{
    kd_range rg = t->range[v];
    const double *q = s->q;
    double worst = s->worst;
    size_t size = s->size;
    for (size_t r = rg.begin; r < rg.end; r++) {
        double dr = metric_dist(q, t->pts + r * d, d, m);
        if (dr > worst || r == s->p) continue; /* the common case, decided in registers */
        size = heap_offer(s->h, size, s->k, dr, t->perm[r]);
        if (size == s->k) worst = s->h[0].dist;
    }
    s->worst = worst;
    s->size = size;
}

typedef struct {
    size_t node;
    double bound; /* lower bound on its distances when it was pushed */
} kd_pending;

/* Depth-first search of the subtree under v (lower bound vb), nearer child
 * first; a node is skipped once its bound exceeds the k-th distance (equal
 * is kept: it may still win on the index). */
KD_INLINE void kd_search_subtree(const kd_tree *t, size_t d, sm_knn_metric m, size_t v,
                                 double vb, kd_query *s)
{
    kd_pending stack[KD_STACK];
    size_t top = 0;
    stack[top++] = (kd_pending){v, vb};
    while (top > 0) {
        kd_pending e = stack[--top];
        if (e.bound > s->worst) continue;
        v = e.node;
        while (v < t->first_leaf) {
            size_t near = 2 * v + 1, far = 2 * v + 2;
            double near_b = kd_lower(t, d, m, s->q, near), far_b = kd_lower(t, d, m, s->q, far);
            if (far_b < near_b) {
                near = far;
                far = 2 * v + 1;
                double b = near_b;
                near_b = far_b;
                far_b = b;
            }
            if (far_b <= s->worst) {
                assert(top < KD_STACK);
                stack[top++] = (kd_pending){far, far_b};
            }
            if (near_b > s->worst) break;
            v = near;
        }
        if (v >= t->first_leaf) kd_scan_leaf(t, d, m, v, s);
    }
}

/* k nearest of reordered row p, in leaf `leaf`: its own leaf first (a good
 * k-th distance at once), then the siblings of its ancestors bottom up. */
KD_INLINE void kd_search_one(const kd_tree *t, size_t d, sm_knn_metric m, size_t p, size_t leaf,
                             size_t k, knn_item *h)
{
    kd_query s = {.q = t->pts + p * d, .p = p, .k = k, .h = h, .worst = INFINITY};
    kd_scan_leaf(t, d, m, leaf, &s);
    for (size_t v = leaf; v > 0; v = (v - 1) / 2) {
        size_t sibling = (v & 1) ? v + 1 : v - 1;
        double b = kd_lower(t, d, m, s.q, sibling);
        if (b <= s.worst) kd_search_subtree(t, d, m, sibling, b, &s);
    }
}

/* #{rows within r of reordered row p}, itself included when within(0, r).
 * Boxes entirely outside are skipped, boxes entirely inside counted whole. */
KD_INLINE size_t kd_count_one(const kd_tree *t, size_t d, sm_knn_metric m, size_t p, double r,
                              int strict)
{
    const double *q = t->pts + p * d;
    size_t stack[KD_STACK], top = 0, count = 0;
    stack[top++] = 0;
    while (top > 0) {
        size_t v = stack[--top];
        if (!within(kd_lower(t, d, m, q, v), r, strict)) continue;
        kd_range rg = t->range[v];
        if (within(kd_upper(t, d, m, q, v), r, strict)) {
            count += rg.end - rg.begin;
            continue;
        }
        if (v < t->first_leaf) {
            assert(top + 2 <= KD_STACK);
            stack[top++] = 2 * v + 2;
            stack[top++] = 2 * v + 1;
            continue;
        }
        for (size_t s = rg.begin; s < rg.end; s++)
            count += (size_t)within(metric_dist(q, t->pts + s * d, d, m), r, strict);
    }
    return count;
}

/* A span of queries [p0, p1) in tree order; outputs go to original rows. */
typedef struct {
    size_t p0, p1, k;
    knn_item *heap;  /* search: this thread's heap of k */
    double *dist;    /* search */
    size_t *idx;     /* search, may be NULL */
    const double *r; /* count */
    int strict;      /* count */
    size_t *count;   /* count */
} kd_span;

KD_INLINE void kd_search_span(const kd_tree *t, size_t d, sm_knn_metric m, const kd_span *s)
{
    size_t leaf = kd_leaf_of(t, s->p0);
    for (size_t p = s->p0; p < s->p1; p++) {
        while (p >= t->range[leaf].end) leaf++; /* leaves run left to right */
        size_t i = t->perm[p];
        kd_search_one(t, d, m, p, leaf, s->k, s->heap);
        heap_emit(s->heap, s->k, s->dist + i * s->k, s->idx ? s->idx + i * s->k : NULL);
    }
}

KD_INLINE void kd_count_span(const kd_tree *t, size_t d, sm_knn_metric m, const kd_span *s)
{
    for (size_t p = s->p0; p < s->p1; p++) {
        size_t i = t->perm[p];
        size_t c = kd_count_one(t, d, m, p, s->r[i], s->strict);
        s->count[i] = c - (size_t)within(0.0, s->r[i], s->strict); /* the query itself */
    }
}

/* FN(t, d, m, s) with the norm, and for the common shapes also d and the
 * split, as compile-time constants: one block of up to 4 dimensions (KL, KSG
 * under the max-norm) and two Euclidean blocks of 3 (KSG-1 on S² × S², as in
 * estimate bound --family vmf at d = 3: the joint search takes a quarter less
 * time than in the generic copy, measured at N = 1e5). */
#define KD_BY_DIM(FN, t, s, INNER)                                               \
    switch ((t)->m.split == 0 && (t)->d <= 4 ? (t)->d : 0) {                     \
    case 1: FN(t, 1, ((sm_knn_metric){INNER, 0}), s); break;                     \
    case 2: FN(t, 2, ((sm_knn_metric){INNER, 0}), s); break;                     \
    case 3: FN(t, 3, ((sm_knn_metric){INNER, 0}), s); break;                     \
    case 4: FN(t, 4, ((sm_knn_metric){INNER, 0}), s); break;                     \
    default: FN(t, (t)->d, ((sm_knn_metric){INNER, (t)->m.split}), s); break;    \
    }
#define KD_SPECIALISE(FN, t, s)                                                  \
    do {                                                                         \
        if ((t)->m.inner == SM_KNN_LINF) KD_BY_DIM(FN, t, s, SM_KNN_LINF)        \
        else if ((t)->d == 6 && (t)->m.split == 3)                               \
            FN(t, 6, ((sm_knn_metric){SM_KNN_L2, 3}), s);                        \
        else KD_BY_DIM(FN, t, s, SM_KNN_L2)                                      \
    } while (0)

static void kd_search_chunk(const kd_tree *t, const kd_span *s)
{
    KD_SPECIALISE(kd_search_span, t, s);
}

static void kd_count_chunk(const kd_tree *t, const kd_span *s)
{
    KD_SPECIALISE(kd_count_span, t, s);
}

enum { KD_CHUNK = 256 }; /* queries per scheduling unit: neighbours in tree order share nodes */

static kd_span kd_chunk(size_t c, size_t n)
{
    size_t p0 = c * KD_CHUNK;
    return (kd_span){.p0 = p0, .p1 = n - p0 < KD_CHUNK ? n : p0 + KD_CHUNK};
}

/* Queries run in tree order: consecutive queries are close in space and
 * visit the same nodes, which keeps the tree in cache. */
static int kd_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                     double *dist, size_t *idx, sm_arena *ws, sm_status *st)
{
    kd_tree t;
    int rc = kd_build(&t, x, n, d, m, ws, st);
    if (rc) return rc;
    int threads = omp_get_max_threads();
    knn_item *heaps = sm_arena_alloc(ws, (size_t)threads * k, sizeof *heaps, st);
    if (!heaps) return st ? st->code : SM_ERR_DATA;
    size_t chunks = (n + KD_CHUNK - 1) / KD_CHUNK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (size_t c = 0; c < chunks; c++) {
        kd_span s = kd_chunk(c, n);
        s.k = k;
        s.heap = heaps + (size_t)omp_get_thread_num() * k;
        s.dist = dist;
        s.idx = idx;
        kd_search_chunk(&t, &s);
    }
    return SM_OK;
}

static int kd_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                    int strict, size_t *count, sm_arena *ws, sm_status *st)
{
    kd_tree t;
    int rc = kd_build(&t, x, n, d, m, ws, st);
    if (rc) return rc;
    size_t chunks = (n + KD_CHUNK - 1) / KD_CHUNK;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < chunks; c++) {
        kd_span s = kd_chunk(c, n);
        s.r = r;
        s.strict = strict;
        s.count = count;
        kd_count_chunk(&t, &s);
    }
    return SM_OK;
}

/* ---- blocked brute force ------------------------------------------------ */

/* Rounding error of the Gram form.  With u = DBL_EPSILON / 2, A = ||a||^2,
 * B = ||b||^2 over a block of db coordinates, and any summation order (gemm
 * kernels, FMA or not):
 *   |fl(A) - A|, |fl(B) - B|          <= gamma_db (A or B)
 *   |fl(a.b) - a.b|                   <= gamma_db (A + B) / 2
 *   the two final additions            <= 4u (A + B) + O(u^2)
 * so |gram - s| <= (2 db + 5) u (A + B), s the exact squared distance.  The
 * exact path's own sum of squares differs from s by <= (db + 4) u s and
 * s <= 2 (A + B).  Together: |gram - computed| <= (4 db + 13) u (A + B).  We
 * use rho (A + B) with rho = (4 db + 16) DBL_EPSILON, twice that, which also
 * absorbs the rounding of evaluating the bound itself, plus a tiny absolute
 * term for underflow (subnormal products err by at most 2^-1075 each). */
static double bf_error_factor(size_t db) { return (4.0 * (double)db + 16.0) * DBL_EPSILON; }

enum { BF_MAX_BLOCKS = 2 };
static const double BF_ABS_ERROR = 1e-300;

/* Threshold T on the computed sum of squares s with s > T => fl(sqrt(s)) > w.
 * Relative slack 8 eps covers the roundings of w*w, of sqrt and of the
 * product; below 4 DBL_MIN relative bounds fail (subnormals) and a fixed
 * threshold is used instead. */
static double sq_above(double w)
{
    if (!(w >= 0.0)) return -INFINITY; /* no distance is <= a negative (or NaN) radius */
    double w2 = w * w;
    if (w2 < 4.0 * DBL_MIN) return 16.0 * DBL_MIN;
    return w2 * (1.0 + 8.0 * DBL_EPSILON);
}

/* Threshold T with s < T => fl(sqrt(s)) < r (-inf: never provable). */
static double sq_below(double r)
{
    if (!(r > 0.0)) return -INFINITY;
    double r2 = r * r;
    if (r2 < 4.0 * DBL_MIN) return -INFINITY;
    return r2 * (1.0 - 8.0 * DBL_EPSILON);
}

typedef struct {
    const double *x;
    size_t n, d;
    sm_knn_metric m;
    size_t n_blocks; /* 0 for L-inf: every pair is measured exactly */
    size_t block_begin[BF_MAX_BLOCKS], block_dim[BF_MAX_BLOCKS];
    double rho[BF_MAX_BLOCKS];
    double *norms;   /* n_blocks x n: computed squared norms per block */
    double *gram;    /* n_blocks x BF_QUERIES x BF_CANDIDATES */
    double *bounds;  /* per thread: lower and upper bound rows, 2 x BF_CANDIDATES */
    size_t q0, qn, c0, cn; /* the current tile */
} bf_ctx;

static int bf_init(bf_ctx *c, const double *x, size_t n, size_t d, sm_knn_metric m,
                   sm_arena *ws, sm_status *st)
{
    *c = (bf_ctx){.x = x, .n = n, .d = d, .m = m};
    if (m.inner != SM_KNN_L2) return SM_OK;
    size_t split = m.split ? m.split : d;
    c->n_blocks = m.split ? 2 : 1;
    c->block_begin[0] = 0;
    c->block_dim[0] = split;
    c->block_begin[1] = split;
    c->block_dim[1] = d - split;
    c->norms = sm_arena_alloc(ws, c->n_blocks * n, sizeof *c->norms, st);
    c->gram = sm_arena_alloc(ws, c->n_blocks * BF_QUERIES * BF_CANDIDATES, sizeof *c->gram, st);
    c->bounds = sm_arena_alloc(ws, (size_t)omp_get_max_threads() * 2 * BF_CANDIDATES,
                               sizeof *c->bounds, st);
    if (!c->norms || !c->gram || !c->bounds) return st ? st->code : SM_ERR_DATA;
    for (size_t b = 0; b < c->n_blocks; b++) {
        c->rho[b] = bf_error_factor(c->block_dim[b]);
        for (size_t i = 0; i < n; i++) {
            const double *row = x + i * d + c->block_begin[b];
            double s = 0.0;
            for (size_t j = 0; j < c->block_dim[b]; j++) s += row[j] * row[j];
            c->norms[b * n + i] = s;
        }
    }
    return SM_OK;
}

/* Gram products of the query rows [q0, q0 + qn) with candidates [c0, c0 + cn). */
static void bf_tile(bf_ctx *c, size_t q0, size_t qn, size_t c0, size_t cn)
{
    c->q0 = q0;
    c->qn = qn;
    c->c0 = c0;
    c->cn = cn;
    for (size_t b = 0; b < c->n_blocks; b++) {
        const double *off = c->x + c->block_begin[b];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)qn, (int)cn,
                    (int)c->block_dim[b], 1.0, off + q0 * c->d, (int)c->d, off + c0 * c->d,
                    (int)c->d, 0.0, c->gram + b * BF_QUERIES * BF_CANDIDATES, (int)cn);
    }
}

/* For query row qi and every candidate of the tile: a bound on the computed
 * sum of squares that sqrt is taken of (the larger block's), below it for
 * side = -1, above it for side = +1.  Plain loops over contiguous rows: the
 * compiler vectorises them. */
static void bf_bound_row(const bf_ctx *c, size_t qi, double side, double *out)
{
    for (size_t b = 0; b < c->n_blocks; b++) {
        const double *g = c->gram + b * BF_QUERIES * BF_CANDIDATES + qi * c->cn;
        const double *nb = c->norms + b * c->n + c->c0;
        double na = c->norms[b * c->n + c->q0 + qi];
        double scale = 1.0 + side * c->rho[b], slack = side * BF_ABS_ERROR;
        if (b == 0) {
            for (size_t cj = 0; cj < c->cn; cj++)
                out[cj] = (na + nb[cj]) * scale - 2.0 * g[cj] + slack;
        } else {
            for (size_t cj = 0; cj < c->cn; cj++) {
                double v = (na + nb[cj]) * scale - 2.0 * g[cj] + slack;
                out[cj] = v > out[cj] ? v : out[cj];
            }
        }
    }
}

/* Per-query state of the brute-force search across candidate tiles. */
typedef struct {
    knn_item *heaps; /* BF_QUERIES x k */
    size_t *sizes;
    double *skip;    /* skip a candidate whose lower bound exceeds this */
} bf_heaps;

/* Force-inlined with the norm as a constant (see bf_search_rows). */
KD_INLINE void bf_search_row(const bf_ctx *c, sm_knn_metric m, size_t qi, size_t k,
                             bf_heaps *hs)
{
    size_t i = c->q0 + qi, size = hs->sizes[qi];
    const double *xi = c->x + i * c->d;
    knn_item *h = hs->heaps + qi * k;
    double *lower = c->bounds + (size_t)omp_get_thread_num() * 2 * BF_CANDIDATES;
    double skip = hs->skip[qi];
    if (c->n_blocks) bf_bound_row(c, qi, -1.0, lower);
    for (size_t cj = 0; cj < c->cn; cj++) {
        size_t j = c->c0 + cj;
        if ((c->n_blocks && lower[cj] > skip) || j == i) continue; /* provably farther */
        double dj = metric_dist(xi, c->x + j * c->d, c->d, m);
        size = heap_offer(h, size, k, dj, j);
        if (size == k) skip = c->n_blocks ? sq_above(h[0].dist) : h[0].dist;
    }
    hs->sizes[qi] = size;
    hs->skip[qi] = skip;
}

static void bf_search_rows(const bf_ctx *c, size_t k, bf_heaps *hs)
{
#pragma omp parallel for schedule(static)
    for (size_t qi = 0; qi < c->qn; qi++) {
        if (c->m.inner == SM_KNN_LINF) bf_search_row(c, (sm_knn_metric){SM_KNN_LINF, 0}, qi, k, hs);
        else bf_search_row(c, (sm_knn_metric){SM_KNN_L2, c->m.split}, qi, k, hs);
    }
}

static int bf_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                     double *dist, size_t *idx, sm_arena *ws, sm_status *st)
{
    bf_ctx c;
    int rc = bf_init(&c, x, n, d, m, ws, st);
    if (rc) return rc;
    bf_heaps hs = {
        .heaps = sm_arena_alloc(ws, BF_QUERIES * k, sizeof *hs.heaps, st),
        .sizes = sm_arena_alloc(ws, BF_QUERIES, sizeof *hs.sizes, st),
        .skip = sm_arena_alloc(ws, BF_QUERIES, sizeof *hs.skip, st),
    };
    if (!hs.heaps || !hs.sizes || !hs.skip) return st ? st->code : SM_ERR_DATA;
    for (size_t q0 = 0; q0 < n; q0 += BF_QUERIES) {
        size_t qn = n - q0 < BF_QUERIES ? n - q0 : BF_QUERIES;
        for (size_t qi = 0; qi < qn; qi++) {
            hs.sizes[qi] = 0;
            hs.skip[qi] = INFINITY;
        }
        for (size_t c0 = 0; c0 < n; c0 += BF_CANDIDATES) {
            bf_tile(&c, q0, qn, c0, n - c0 < BF_CANDIDATES ? n - c0 : BF_CANDIDATES);
            bf_search_rows(&c, k, &hs);
        }
        for (size_t qi = 0; qi < qn; qi++) {
            size_t i = q0 + qi;
            heap_emit(hs.heaps + qi * k, k, dist + i * k, idx ? idx + i * k : NULL);
        }
    }
    return SM_OK;
}

KD_INLINE size_t bf_count_row(const bf_ctx *c, sm_knn_metric m, size_t qi, double r, int strict)
{
    size_t i = c->q0 + qi, count = 0;
    const double *xi = c->x + i * c->d;
    double *lower = c->bounds + (size_t)omp_get_thread_num() * 2 * BF_CANDIDATES;
    double *upper = lower + BF_CANDIDATES;
    double inside = sq_below(r), outside = sq_above(r);
    if (c->n_blocks) {
        bf_bound_row(c, qi, -1.0, lower);
        bf_bound_row(c, qi, 1.0, upper);
    }
    for (size_t cj = 0; cj < c->cn; cj++) {
        size_t j = c->c0 + cj;
        if (j == i) continue;
        if (c->n_blocks) {
            if (upper[cj] < inside) { /* provably closer than r */
                count++;
                continue;
            }
            if (lower[cj] > outside) continue; /* provably farther than r */
        }
        count += (size_t)within(metric_dist(xi, c->x + j * c->d, c->d, m), r, strict);
    }
    return count;
}

static int bf_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                    int strict, size_t *count, sm_arena *ws, sm_status *st)
{
    bf_ctx c;
    int rc = bf_init(&c, x, n, d, m, ws, st);
    if (rc) return rc;
    memset(count, 0, n * sizeof *count);
    for (size_t q0 = 0; q0 < n; q0 += BF_QUERIES) {
        size_t qn = n - q0 < BF_QUERIES ? n - q0 : BF_QUERIES;
        for (size_t c0 = 0; c0 < n; c0 += BF_CANDIDATES) {
            bf_tile(&c, q0, qn, c0, n - c0 < BF_CANDIDATES ? n - c0 : BF_CANDIDATES);
#pragma omp parallel for schedule(static)
            for (size_t qi = 0; qi < qn; qi++) {
                double ri = r[q0 + qi];
                count[q0 + qi] += m.inner == SM_KNN_LINF
                    ? bf_count_row(&c, (sm_knn_metric){SM_KNN_LINF, 0}, qi, ri, strict)
                    : bf_count_row(&c, (sm_knn_metric){SM_KNN_L2, m.split}, qi, ri, strict);
            }
        }
    }
    return SM_OK;
}

/* ---- counts by sorted ranks (one dimension, or max-norm in two) --------- */

/* The KSG marginal counts are large (hundreds to thousands of points per
 * ball), so a tree count pays for the ball's whole boundary and its cost grows
 * like N^1.25.  In one dimension, and per axis under the max-norm, the points
 * within r of x_i form a contiguous run of the axis-sorted order (the computed
 * |x_j - x_i| is monotone in x_j on each side), found by binary search with
 * the exact comparison.  A max-norm ball in two dimensions is then a rectangle
 * of ranks, counted offline by a sweep over x ranks with a Fenwick tree over
 * y ranks: O(N log N) whatever the counts.
 *
 * At N = 1e6 every random access is a cache miss, so the work is arranged in
 * x-rank order (the sweep's accesses stay in a window around the sweep line)
 * and binary searches run in batches whose misses overlap.  Ranks are 32-bit. */

/* Doubles -> unsigned keys with the same order (-0 and +0 adjacent). */
static inline uint64_t order_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

enum { RADIX_BITS = 8, RADIX_PASSES = 8 }; /* byte digits: cache-friendly scatter at N = 1e6 */

/* order[pos] = the row at position pos when column `axis` is sorted.  LSD
 * radix sort: linear, where a comparison sort would rival the counting. */
static int rank_sort(const double *x, size_t n, size_t d, size_t axis, uint32_t *order,
                     sm_arena *ws, sm_status *st)
{
    size_t mark = sm_arena_mark(ws);
    const size_t buckets = (size_t)1 << RADIX_BITS;
    uint64_t *key = sm_arena_alloc(ws, 2 * n, sizeof *key, st);
    uint32_t *tmp = sm_arena_alloc(ws, n, sizeof *tmp, st);
    size_t *hist = sm_arena_alloc(ws, RADIX_PASSES * buckets, sizeof *hist, st);
    if (!key || !tmp || !hist) return st ? st->code : SM_ERR_DATA;
    uint64_t *kin = key, *kout = key + n;
    uint32_t *iin = order, *iout = tmp;
    for (size_t i = 0; i < n; i++) {
        kin[i] = order_key(x[i * d + axis]);
        iin[i] = (uint32_t)i;
        for (size_t pass = 0; pass < RADIX_PASSES; pass++)
            hist[pass * buckets + ((kin[i] >> (pass * RADIX_BITS)) & (buckets - 1))]++;
    }
    for (size_t pass = 0; pass < RADIX_PASSES; pass++) {
        size_t *h = hist + pass * buckets, shift = pass * RADIX_BITS;
        if (h[(kin[0] >> shift) & (buckets - 1)] == n) continue; /* one digit value: no-op pass */
        size_t sum = 0;
        for (size_t b = 0; b < buckets; b++) {
            size_t c = h[b];
            h[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) {
            size_t to = h[(kin[i] >> shift) & (buckets - 1)]++;
            kout[to] = kin[i];
            iout[to] = iin[i];
        }
        uint64_t *kt = kin;
        kin = kout;
        kout = kt;
        uint32_t *it = iin;
        iin = iout;
        iout = it;
    }
    if (iin != order) memcpy(order, iin, n * sizeof *iin);
    sm_arena_release(ws, mark);
    return SM_OK;
}

enum { RANK_BATCH = 16 }; /* binary searches advanced in lockstep */

/* For each position pos in [p0, p0 + nb) of one sorted axis (values vals,
 * radius rad[pos]): begin[pos] = first position within the radius, end[pos] =
 * one past the last.  Below pos the predicate "within" runs false then true,
 * above it true then false, so each end is one binary search; its
 * unpredictable comparison feeds a conditional move, not a branch.
 * Force-inlined with the norm and strictness as constants (rank_runs). */
KD_INLINE void rank_runs_batch(const double *vals, size_t n, const double *rad, int strict,
                               sm_knn_metric m1, size_t p0, size_t nb, uint32_t *begin,
                               uint32_t *end)
{
    size_t lo[2 * RANK_BATCH], len[2 * RANK_BATCH];
    double xi[2 * RANK_BATCH], ri[2 * RANK_BATCH];
    for (size_t b = 0; b < nb; b++) {
        size_t pos = p0 + b;
        lo[2 * b] = 0; /* begin: first "within" in [0, pos) (pos itself if none) */
        len[2 * b] = pos;
        lo[2 * b + 1] = pos + 1; /* end: first "not within" in (pos, n) (n if none) */
        len[2 * b + 1] = n - pos - 1;
        xi[2 * b] = xi[2 * b + 1] = vals[pos];
        ri[2 * b] = ri[2 * b + 1] = rad[pos];
    }
    /* Slot s searches for "within" == !(s & 1). */
    for (int active = 1; active;) {
        active = 0;
        for (size_t s = 0; s < 2 * nb; s++) {
            if (len[s] <= 1) continue;
            size_t half = len[s] / 2;
            int in = within(metric_dist(&vals[lo[s] + half - 1], &xi[s], 1, m1), ri[s], strict);
            lo[s] = in != (int)(s & 1) ? lo[s] : lo[s] + half;
            len[s] -= half;
            active = 1;
        }
    }
    for (size_t s = 0; s < 2 * nb; s++) {
        if (len[s] == 1 &&
            within(metric_dist(&vals[lo[s]], &xi[s], 1, m1), ri[s], strict) == (int)(s & 1))
            lo[s]++;
        if (s & 1) end[p0 + s / 2] = (uint32_t)lo[s];
        else begin[p0 + s / 2] = (uint32_t)lo[s];
    }
}

static void rank_runs(const double *vals, size_t n, const double *rad, int strict,
                      sm_knn_inner inner, size_t p0, size_t nb, uint32_t *begin, uint32_t *end)
{
    const sm_knn_metric l2 = {SM_KNN_L2, 0}, linf = {SM_KNN_LINF, 0};
    if (inner == SM_KNN_LINF && strict) rank_runs_batch(vals, n, rad, 1, linf, p0, nb, begin, end);
    else if (inner == SM_KNN_LINF) rank_runs_batch(vals, n, rad, 0, linf, p0, nb, begin, end);
    else if (strict) rank_runs_batch(vals, n, rad, 1, l2, p0, nb, begin, end);
    else rank_runs_batch(vals, n, rad, 0, l2, p0, nb, begin, end);
}

/* One axis: sort it and find every row's run, indexed by position on it. */
typedef struct {
    uint32_t *order;        /* position -> row */
    uint32_t *begin, *end;  /* per position: the run within that row's radius */
} rank_axis;

static int rank_axis_runs(const double *x, size_t n, size_t d, size_t axis, const double *r,
                          int strict, sm_knn_inner inner, rank_axis *ax, sm_arena *ws,
                          sm_status *st)
{
    ax->order = sm_arena_alloc(ws, n, sizeof *ax->order, st);
    ax->begin = sm_arena_alloc(ws, n, sizeof *ax->begin, st);
    ax->end = sm_arena_alloc(ws, n, sizeof *ax->end, st);
    if (!ax->order || !ax->begin || !ax->end) return st ? st->code : SM_ERR_DATA;
    int rc = rank_sort(x, n, d, axis, ax->order, ws, st);
    if (rc) return rc;
    size_t mark = sm_arena_mark(ws);
    double *vals = sm_arena_alloc(ws, n, sizeof *vals, st);
    double *rad = sm_arena_alloc(ws, n, sizeof *rad, st);
    if (!vals || !rad) return st ? st->code : SM_ERR_DATA;
#pragma omp parallel for schedule(static)
    for (size_t pos = 0; pos < n; pos++) {
        vals[pos] = x[(size_t)ax->order[pos] * d + axis];
        rad[pos] = r[ax->order[pos]];
    }
#pragma omp parallel for schedule(static)
    for (size_t p0 = 0; p0 < n; p0 += RANK_BATCH)
        rank_runs(vals, n, rad, strict, inner, p0, n - p0 < RANK_BATCH ? n - p0 : RANK_BATCH,
                  ax->begin, ax->end);
    sm_arena_release(ws, mark);
    return SM_OK;
}

/* Fenwick tree over 64-rank words plus one bit per rank: prefix counts in
 * O(log(N / 64)), small enough (N / 32 bytes) to stay in cache. */
typedef struct {
    uint64_t *bits; /* words + 1 */
    uint32_t *tree; /* 1-based over words */
    size_t words;
} rank_set;

static inline void rank_set_add(rank_set *s, size_t y)
{
    s->bits[y >> 6] |= UINT64_C(1) << (y & 63);
    for (size_t w = (y >> 6) + 1; w <= s->words; w += w & (~w + 1)) s->tree[w]++;
}

/* #{inserted ranks < y}, 0 <= y <= N. */
static inline size_t rank_set_below(const rank_set *s, size_t y)
{
    size_t c = (size_t)__builtin_popcountll(s->bits[y >> 6] & ((UINT64_C(1) << (y & 63)) - 1));
    for (size_t w = y >> 6; w > 0; w -= w & (~w + 1)) c += s->tree[w];
    return c;
}

/* Two dimensions, everything indexed by x position q: the rectangle of q is
 * x positions [xb[q], xe[q]) times y positions [yb[q], ye[q]); yrank[X] is the
 * y position of the row at x position X.  acc[q] = F(xe) - F(xb), F(X) = rows
 * with x position < X inside q's y run: events are bucketed by X, and the
 * sweep answers bucket X before inserting the row at X.  The subtraction runs
 * in size_t modular arithmetic, exact once both events are in. */
static int rank_sweep(size_t n, const uint32_t *xb, const uint32_t *xe, const uint32_t *yb,
                      const uint32_t *ye, const uint32_t *yrank, const uint8_t *live,
                      size_t *acc, sm_arena *ws, sm_status *st)
{
    uint32_t *start = sm_arena_alloc(ws, n + 2, sizeof *start, st);
    uint32_t *events = sm_arena_alloc(ws, 2 * n, sizeof *events, st);
    rank_set set = {.words = n / 64 + 1};
    set.bits = sm_arena_alloc(ws, set.words + 1, sizeof *set.bits, st);
    set.tree = sm_arena_alloc(ws, set.words + 1, sizeof *set.tree, st);
    if (!start || !events || !set.bits || !set.tree) return st ? st->code : SM_ERR_DATA;
    for (size_t q = 0; q < n; q++) {
        if (!live[q]) continue;
        start[xb[q] + 1]++;
        start[xe[q] + 1]++;
    }
    for (size_t X = 0; X <= n; X++) start[X + 1] += start[X];
    for (size_t q = 0; q < n; q++) { /* event = 2 q + (1 at the run's end) */
        if (!live[q]) continue;
        events[start[xb[q]]++] = (uint32_t)(2 * q);
        events[start[xe[q]]++] = (uint32_t)(2 * q + 1);
    }
    /* start[X] now points past bucket X: bucket X is [start[X - 1], start[X]). */
    for (size_t X = 0; X <= n; X++) {
        for (size_t e = X ? start[X - 1] : 0; e < start[X]; e++) {
            size_t q = events[e] >> 1;
            size_t inside = rank_set_below(&set, ye[q]) - rank_set_below(&set, yb[q]);
            acc[q] += (events[e] & 1) ? inside : (size_t)0 - inside;
        }
        if (X < n) rank_set_add(&set, yrank[X]);
    }
    return SM_OK;
}

static int rank_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                      int strict, size_t *count, sm_arena *ws, sm_status *st)
{
    rank_axis ax[2];
    for (size_t a = 0; a < d; a++) {
        int rc = rank_axis_runs(x, n, d, a, r, strict, m.inner, &ax[a], ws, st);
        if (rc) return rc;
    }
    /* Rows with nothing within r (not even themselves) are "dead". */
    uint8_t *live = sm_arena_alloc(ws, n, sizeof *live, st);
    size_t *acc = sm_arena_alloc(ws, n, sizeof *acc, st);
    if (!live || !acc) return st ? st->code : SM_ERR_DATA;
    for (size_t q = 0; q < n; q++) live[q] = (uint8_t)within(0.0, r[ax[0].order[q]], strict);
    if (d == 1) {
        for (size_t q = 0; q < n; q++) acc[q] = (size_t)(ax[0].end[q] - ax[0].begin[q]);
    } else {
        /* Bring the y runs into x order. */
        uint32_t *yrank = sm_arena_alloc(ws, n, sizeof *yrank, st);
        uint32_t *yb = sm_arena_alloc(ws, n, sizeof *yb, st);
        uint32_t *ye = sm_arena_alloc(ws, n, sizeof *ye, st);
        if (!yrank || !yb || !ye) return st ? st->code : SM_ERR_DATA;
        for (size_t pos = 0; pos < n; pos++) /* yb as scratch: row -> x position */
            yb[ax[0].order[pos]] = (uint32_t)pos;
        for (size_t pos = 0; pos < n; pos++) yrank[yb[ax[1].order[pos]]] = (uint32_t)pos;
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < n; q++) {
            yb[q] = ax[1].begin[yrank[q]];
            ye[q] = ax[1].end[yrank[q]];
        }
        int rc = rank_sweep(n, ax[0].begin, ax[0].end, yb, ye, yrank, live, acc, ws, st);
        if (rc) return rc;
    }
    for (size_t q = 0; q < n; q++) /* - 1: the row itself */
        count[ax[0].order[q]] = live[q] ? acc[q] - 1 : 0;
    return SM_OK;
}

/* ---- public entry points ------------------------------------------------- */

static int check_shape(size_t n, size_t d, sm_knn_metric m, sm_status *st)
{
    if (d == 0)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "k-NN needs at least one dimension (d = 0)");
    assert(m.split == 0 || m.split < d);
    if (n < 2)
        return sm_status_fail(st, SM_ERR_USAGE, NULL,
                              "k-NN needs at least 2 samples (N = %zu)", n);
    return SM_OK;
}

static int use_tree(size_t d, sm_knn_metric m)
{
    if (forced_path) return forced_path == 1;
    return d <= (m.inner == SM_KNN_LINF ? KD_MAX_DIM_LINF : KD_MAX_DIM_L2);
}

/* Counts by sorted ranks: only when not forced, for one dimension or the
 * max-norm in two, with ranks fitting 32 bits. */
static int use_ranks(size_t n, size_t d, sm_knn_metric m)
{
    return !forced_path && (d == 1 || (d == 2 && m.inner == SM_KNN_LINF)) && n < UINT32_MAX / 2;
}

/* Scratch comes from ws when given, else from a private arena freed here. */
typedef struct {
    sm_arena own, *ws;
    size_t mark;
} scratch;

static sm_arena *scratch_open(scratch *s, sm_arena *ws)
{
    s->own = (sm_arena){0};
    s->ws = ws ? ws : &s->own;
    s->mark = sm_arena_mark(s->ws);
    return s->ws;
}

static void scratch_close(scratch *s)
{
    sm_arena_release(s->ws, s->mark);
    sm_arena_free(&s->own);
}

int sm_knn_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                  double *dist, size_t *idx, sm_arena *ws, sm_status *st)
{
    assert(x && dist);
    int rc = check_shape(n, d, m, st);
    if (rc) return rc;
    if (k < 1) return sm_status_fail(st, SM_ERR_USAGE, NULL, "k = %zu must be at least 1", k);
    if (k >= n)
        return sm_status_fail(st, SM_ERR_USAGE, NULL,
                              "k = %zu must be below the number of samples N = %zu", k, n);
    m = metric_normalise(m);
    scratch s;
    sm_arena *a = scratch_open(&s, ws);
    rc = use_tree(d, m) ? kd_search(x, n, d, k, m, dist, idx, a, st)
                     : bf_search(x, n, d, k, m, dist, idx, a, st);
    scratch_close(&s);
    return rc;
}

int sm_knn_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                 int strict, size_t *count, sm_arena *ws, sm_status *st)
{
    assert(x && r && count);
    int rc = check_shape(n, d, m, st);
    if (rc) return rc;
    m = metric_normalise(m);
    scratch s;
    sm_arena *a = scratch_open(&s, ws);
    if (use_ranks(n, d, m)) rc = rank_count(x, n, d, m, r, strict, count, a, st);
    else if (use_tree(d, m)) rc = kd_count(x, n, d, m, r, strict, count, a, st);
    else rc = bf_count(x, n, d, m, r, strict, count, a, st);
    scratch_close(&s);
    return rc;
}
