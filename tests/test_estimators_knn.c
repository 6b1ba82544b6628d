/* Tests for src/estimators/knn.c: exact k-NN search and range counts.
 *
 * Every path (k-d tree, blocked brute force, sorted-rank counts) is checked
 * bit for bit against a double-loop reference written here, on random data,
 * on integer grids full of ties and duplicates, on pairs of unit vectors
 * under the sphere's metric, and on hand-computed cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "estimators/knn.h"
#include "support/support.h"

enum { PATH_AUTO = 0, PATH_TREE = 1, PATH_BRUTE = 2 };

static const sm_knn_metric L2 = {SM_KNN_L2, 0}, LINF = {SM_KNN_LINF, 0};

/* ---- reference ----------------------------------------------------------- */

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* one rounding per operation, like the library */
#endif

/* The metric of knn.h written out plainly: per-block sum of squares in
 * coordinate order (or max of |differences|), larger block, then sqrt. */
static double ref_dist(const double *a, const double *b, size_t d, sm_knn_metric m)
{
    size_t split = m.split ? m.split : d;
    double block[2] = {0.0, 0.0};
    for (size_t j = 0; j < d; j++) {
        double t = fabs(a[j] - b[j]);
        double *s = &block[j >= split];
        if (m.inner == SM_KNN_LINF) *s = t > *s ? t : *s;
        else *s += t * t;
    }
    double s = block[0] > block[1] ? block[0] : block[1];
    return m.inner == SM_KNN_L2 ? sqrt(s) : s;
}

typedef struct {
    double dist;
    size_t idx;
} pair;

static int pair_order(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->dist != b->dist) return a->dist < b->dist ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void ref_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                       double *dist, size_t *idx)
{
    pair *all = malloc((n - 1) * sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < n; i++) {
        size_t c = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i) all[c++] = (pair){ref_dist(x + i * d, x + j * d, d, m), j};
        qsort(all, c, sizeof *all, pair_order);
        for (size_t j = 0; j < k; j++) {
            dist[i * k + j] = all[j].dist;
            idx[i * k + j] = all[j].idx;
        }
    }
    free(all);
}

static void ref_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r,
                      int strict, size_t *count)
{
    for (size_t i = 0; i < n; i++) {
        count[i] = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dj = ref_dist(x + i * d, x + j * d, d, m);
            count[i] += strict ? dj < r[i] : dj <= r[i];
        }
    }
}

/* ---- helpers --------------------------------------------------------------- */

static size_t scaled(size_t n) { return sm_test_slow() ? n / 4 : n; }

static double *random_points(size_t n, size_t d, uint64_t seed, double offset, double scale)
{
    double *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = offset + scale * sm_rng_normal(&r);
    return x;
}

/* Integer coordinates in [0, side): many exact ties and duplicate points. */
static double *grid_points(size_t n, size_t d, uint64_t side, uint64_t seed)
{
    double *x = malloc(n * d * sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n * d; i++) x[i] = (double)sm_rng_below(&r, side);
    return x;
}

static void run_search(int path, const double *x, size_t n, size_t d, size_t k, sm_knn_metric m,
                       double *dist, size_t *idx)
{
    sm_status st = {0};
    sm_knn_force_path(path);
    int rc = sm_knn_search(x, n, d, k, m, dist, idx, NULL, &st);
    sm_knn_force_path(PATH_AUTO);
    assert_int_equal(rc, SM_OK);
}

static void run_count(int path, const double *x, size_t n, size_t d, sm_knn_metric m,
                      const double *r, int strict, size_t *count)
{
    sm_status st = {0};
    sm_knn_force_path(path);
    int rc = sm_knn_count(x, n, d, m, r, strict, count, NULL, &st);
    sm_knn_force_path(PATH_AUTO);
    assert_int_equal(rc, SM_OK);
}

/* Bitwise equality of the distances (== would also accept 0 vs -0). */
static void assert_same_dist(const double *a, const double *b, size_t n)
{
    assert_memory_equal(a, b, n * sizeof *a);
}

/* Search on every path equals the reference, distances and indices. */
static void check_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m)
{
    double *want_d = malloc(n * k * sizeof *want_d), *got_d = malloc(n * k * sizeof *got_d);
    size_t *want_i = malloc(n * k * sizeof *want_i), *got_i = malloc(n * k * sizeof *got_i);
    assert_true(want_d && got_d && want_i && got_i);
    ref_search(x, n, d, k, m, want_d, want_i);
    const int paths[] = {PATH_AUTO, PATH_TREE, PATH_BRUTE};
    for (size_t p = 0; p < 3; p++) {
        memset(got_i, 0xff, n * k * sizeof *got_i);
        run_search(paths[p], x, n, d, k, m, got_d, got_i);
        assert_same_dist(got_d, want_d, n * k);
        assert_memory_equal(got_i, want_i, n * k * sizeof *got_i);
    }
    free(want_d);
    free(got_d);
    free(want_i);
    free(got_i);
}

/* Counts on every path equal the reference, strict and not. */
static void check_count(const double *x, size_t n, size_t d, sm_knn_metric m, const double *r)
{
    size_t *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    assert_true(want && got);
    const int paths[] = {PATH_AUTO, PATH_TREE, PATH_BRUTE};
    for (int strict = 0; strict <= 1; strict++) {
        ref_count(x, n, d, m, r, strict, want);
        for (size_t p = 0; p < 3; p++) {
            run_count(paths[p], x, n, d, m, r, strict, got);
            assert_memory_equal(got, want, n * sizeof *got);
        }
    }
    free(want);
    free(got);
}

/* Radii at the exact k-th neighbour distances (boundary ties on purpose),
 * plus a few zero, negative, infinite and in-between radii. */
static double *radii_from_search(const double *x, size_t n, size_t d, size_t k, sm_knn_metric m)
{
    double *dist = malloc(n * k * sizeof *dist), *r = malloc(n * sizeof *r);
    size_t *idx = malloc(n * k * sizeof *idx);
    assert_true(dist && r && idx);
    ref_search(x, n, d, k, m, dist, idx);
    for (size_t i = 0; i < n; i++) r[i] = dist[i * k + k - 1] * (i % 7 == 3 ? 0.75 : 1.0);
    r[0] = 0.0;
    r[n / 2] = -1.0;
    r[n - 1] = INFINITY;
    free(dist);
    free(idx);
    return r;
}

/* ---- hand-computed cases --------------------------------------------------- */

static void test_dist_hand(void **state)
{
    (void)state;
    const double a[3] = {0, 0, 0}, b[3] = {3, 4, 1};
    assert_true(sm_knn_dist(a, b, 3, L2) == sqrt(26.0));
    assert_true(sm_knn_dist(a, b, 3, LINF) == 4.0);
    assert_true(sm_knn_dist(a, b, 3, (sm_knn_metric){SM_KNN_L2, 2}) == 5.0);  /* max(5, 1) */
    /* blocks {3} and {4, 1}: max(3, sqrt 17) */
    assert_true(sm_knn_dist(a, b, 3, (sm_knn_metric){SM_KNN_L2, 1}) == sqrt(17.0));
    assert_true(sm_knn_dist(a, b, 3, (sm_knn_metric){SM_KNN_LINF, 2}) == 4.0);
    assert_true(sm_knn_dist(b, a, 3, L2) == sm_knn_dist(a, b, 3, L2));
    /* The library's expression is the reference's, bit for bit. */
    double *x = random_points(200, 7, 3, 0.0, 1.0);
    const sm_knn_metric ms[] = {L2, LINF, {SM_KNN_L2, 3}, {SM_KNN_LINF, 6}};
    for (size_t t = 0; t < 4; t++)
        for (size_t i = 0; i + 1 < 200; i++) {
            double got = sm_knn_dist(x + i * 7, x + (i + 1) * 7, 7, ms[t]);
            double want = ref_dist(x + i * 7, x + (i + 1) * 7, 7, ms[t]);
            assert_memory_equal(&got, &want, sizeof got);
        }
    free(x);
}

/* Five points on a line, x = 0 1 2 3 5, worked out by hand. */
static void test_line_hand(void **state)
{
    (void)state;
    const double x[5] = {0, 1, 2, 3, 5};
    /* k = 2; ties go to the smaller index (point 3: idx 1 and 4 both at 2). */
    const double want_d[10] = {1, 2, 1, 1, 1, 1, 1, 2, 2, 3};
    const size_t want_i[10] = {1, 2, 0, 2, 1, 3, 2, 1, 3, 2};
    const double r2[5] = {2, 2, 2, 2, 2}, rv[5] = {1, 0, 1.5, 2, 3};
    const size_t strict2[5] = {1, 2, 2, 1, 0}, loose2[5] = {2, 3, 3, 3, 1};
    const size_t strictv[5] = {0, 0, 2, 1, 1}, loosev[5] = {1, 0, 2, 3, 2};
    const sm_knn_metric ms[2] = {L2, LINF};
    const int paths[3] = {PATH_AUTO, PATH_TREE, PATH_BRUTE};
    for (size_t t = 0; t < 2; t++)
        for (size_t p = 0; p < 3; p++) {
            double dist[10];
            size_t idx[10], count[5];
            run_search(paths[p], x, 5, 1, 2, ms[t], dist, idx);
            assert_memory_equal(dist, want_d, sizeof dist);
            assert_memory_equal(idx, want_i, sizeof idx);
            run_count(paths[p], x, 5, 1, ms[t], r2, 1, count);
            assert_memory_equal(count, strict2, sizeof count);
            run_count(paths[p], x, 5, 1, ms[t], r2, 0, count);
            assert_memory_equal(count, loose2, sizeof count);
            run_count(paths[p], x, 5, 1, ms[t], rv, 1, count);
            assert_memory_equal(count, strictv, sizeof count);
            run_count(paths[p], x, 5, 1, ms[t], rv, 0, count);
            assert_memory_equal(count, loosev, sizeof count);
        }
}

/* All points equal: every distance is 0, neighbours are the smallest other
 * indices, and only a non-strict count at r = 0 sees them. */
static void test_all_duplicates(void **state)
{
    (void)state;
    enum { N = 40, D = 3, K = 5 };
    double x[N * D];
    for (size_t i = 0; i < N * D; i++) x[i] = 1.25;
    const int paths[3] = {PATH_AUTO, PATH_TREE, PATH_BRUTE};
    for (size_t p = 0; p < 3; p++) {
        double dist[N * K], r0[N], r1[N];
        size_t idx[N * K], count[N];
        run_search(paths[p], x, N, D, K, L2, dist, idx);
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < K; j++) {
                assert_true(dist[i * K + j] == 0.0);
                assert_int_equal(idx[i * K + j], j < i ? j : j + 1);
            }
        for (size_t i = 0; i < N; i++) {
            r0[i] = 0.0;
            r1[i] = 1.0;
        }
        run_count(paths[p], x, N, D, LINF, r0, 1, count);
        for (size_t i = 0; i < N; i++) assert_int_equal(count[i], 0);
        run_count(paths[p], x, N, D, LINF, r0, 0, count);
        for (size_t i = 0; i < N; i++) assert_int_equal(count[i], N - 1);
        run_count(paths[p], x, N, D, L2, r1, 1, count);
        for (size_t i = 0; i < N; i++) assert_int_equal(count[i], N - 1);
    }
}

/* ---- paths against the reference ------------------------------------------ */

static void check_all_metrics(const double *x, size_t n, size_t d, size_t k)
{
    sm_knn_metric ms[4] = {L2, LINF, {SM_KNN_L2, d / 2}, {SM_KNN_LINF, d - 1}};
    size_t count = d >= 2 ? 4 : 2;
    for (size_t t = 0; t < count; t++) {
        check_search(x, n, d, k, ms[t]);
        double *r = radii_from_search(x, n, d, k, ms[t]);
        check_count(x, n, d, ms[t], r);
        free(r);
    }
}

static void test_random_paths_agree(void **state)
{
    (void)state;
    const size_t dims[5] = {1, 2, 4, 8, 20};
    for (size_t t = 0; t < 5; t++) {
        size_t n = scaled(600) + 7 * t; /* not a multiple of any tile or leaf size */
        double *x = random_points(n, dims[t], 10 + t, 0.0, 1.0);
        check_all_metrics(x, n, dims[t], 1);
        check_all_metrics(x, n, dims[t], 6);
        free(x);
    }
}

/* Brute force crosses several query and candidate tiles. */
static void test_brute_force_tiles(void **state)
{
    (void)state;
    size_t n = scaled(2600) + 3;
    double *x = random_points(n, 16, 21, 0.0, 1.0);
    check_search(x, n, 16, 3, L2);
    double *r = radii_from_search(x, n, 16, 3, L2);
    check_count(x, n, 16, L2, r);
    free(r);
    free(x);
}

static void test_grid_ties_and_duplicates(void **state)
{
    (void)state;
    const size_t dims[3] = {1, 2, 3};
    const uint64_t sides[3] = {12, 5, 4};
    for (size_t t = 0; t < 3; t++) {
        size_t n = scaled(400);
        double *x = grid_points(n, dims[t], sides[t], 30 + t);
        check_all_metrics(x, n, dims[t], 3);
        check_all_metrics(x, n, dims[t], 12);
        /* Integer radii: whole shells of grid points sit exactly on the boundary. */
        double *r = malloc(n * sizeof *r);
        assert_non_null(r);
        for (size_t i = 0; i < n; i++) r[i] = (double)(i % 4);
        check_count(x, n, dims[t], LINF, r);
        check_count(x, n, dims[t], L2, r);
        free(r);
        free(x);
    }
}

/* n joint rows (x̂, ŷ) of two unit vectors of dd coordinates each: Gaussian
 * directions, or (ties = 1) drawn from a small pool of exact-sign unit
 * vectors (±1 on one axis, or ±0.6 and ±0.8 on two), so that joint and
 * marginal distances tie exactly and rows repeat. */
static double *sphere_pairs(size_t n, size_t dd, int ties, uint64_t seed)
{
    double *z = calloc(n * 2 * dd, sizeof *z);
    assert_non_null(z);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < 2 * n; i++) {
        double *v = z + i * dd;
        if (ties) {
            size_t a = sm_rng_below(&r, dd), b = (a + 1 + sm_rng_below(&r, dd - 1)) % dd;
            int one_axis = sm_rng_below(&r, 3) == 0;
            v[a] = (one_axis ? 1.0 : 0.6) * (sm_rng_below(&r, 2) ? 1.0 : -1.0);
            if (!one_axis) v[b] = 0.8 * (sm_rng_below(&r, 2) ? 1.0 : -1.0);
            continue;
        }
        double s = 0.0;
        for (size_t j = 0; j < dd; j++) {
            v[j] = sm_rng_normal(&r);
            s += v[j] * v[j];
        }
        for (size_t j = 0; j < dd; j++) v[j] /= sqrt(s);
    }
    return z;
}

/* The sphere's metric (KSG-1 and the conditional entropy with sphere set):
 * per-side Euclidean norms combined by max on the joint rows, then Euclidean
 * counts on x̂ at the joint k-th distances.  Every path, one and two
 * threads, equals the reference: d = 3 per side (the specialised tree) and
 * 5 (the generic one). */
static void test_sphere_metric_paths_agree(void **state)
{
    (void)state;
    const size_t n = scaled(600), dims[2] = {3, 5}, k = 3;
    const int saved = omp_get_max_threads();
    for (size_t t = 0; t < 2; t++)
        for (int ties = 0; ties <= 1; ties++) {
            const size_t dd = dims[t], d = 2 * dd;
            const sm_knn_metric joint = {SM_KNN_L2, dd};
            double *z = sphere_pairs(n, dd, ties, 70 + 2 * t + (size_t)ties);
            double *x = malloc(n * dd * sizeof *x);
            assert_non_null(x);
            for (size_t i = 0; i < n; i++) memcpy(x + i * dd, z + i * d, dd * sizeof *x);
            double *r = radii_from_search(z, n, d, k, joint);
            for (int threads = 1; threads <= 2; threads++) {
                omp_set_num_threads(threads);
                check_search(z, n, d, k, joint);
                check_count(z, n, d, joint, r);
                check_count(x, n, dd, L2, r);
            }
            omp_set_num_threads(saved);
            free(r);
            free(x);
            free(z);
        }
}

/* The Gram form cancels catastrophically far from the origin and underflows
 * near it; the exact recomputation must hide both. */
static void test_offset_and_tiny_scales(void **state)
{
    (void)state;
    size_t n = scaled(300);
    const double offsets[2] = {1e6, 0.0}, scales[2] = {1.0, 1e-155};
    for (size_t t = 0; t < 2; t++) {
        double *x = random_points(n, 20, 40 + t, offsets[t], scales[t]);
        check_search(x, n, 20, 4, L2);
        check_search(x, n, 20, 4, (sm_knn_metric){SM_KNN_L2, 7});
        double *r = radii_from_search(x, n, 20, 4, L2);
        check_count(x, n, 20, L2, r);
        free(r);
        free(x);
    }
}

static void test_threads_identical(void **state)
{
    (void)state;
    size_t n = scaled(3000), k = 4;
    double *x = random_points(n, 4, 50, 0.0, 1.0), *xy = random_points(n, 2, 51, 0.0, 1.0);
    double *d1 = malloc(n * k * sizeof *d1), *d2 = malloc(n * k * sizeof *d2);
    size_t *i1 = malloc(n * k * sizeof *i1), *i2 = malloc(n * k * sizeof *i2);
    size_t *c1 = malloc(n * sizeof *c1), *c2 = malloc(n * sizeof *c2);
    double *r = malloc(n * sizeof *r);
    assert_true(d1 && d2 && i1 && i2 && c1 && c2 && r);
    int saved = omp_get_max_threads();
    const int paths[3] = {PATH_AUTO, PATH_TREE, PATH_BRUTE};
    for (size_t p = 0; p < 3; p++) {
        omp_set_num_threads(1);
        run_search(paths[p], x, n, 4, k, LINF, d1, i1);
        for (size_t i = 0; i < n; i++) r[i] = d1[i * k + k - 1];
        run_count(paths[p], xy, n, 2, LINF, r, 1, c1);
        omp_set_num_threads(2);
        run_search(paths[p], x, n, 4, k, LINF, d2, i2);
        run_count(paths[p], xy, n, 2, LINF, r, 1, c2);
        assert_same_dist(d1, d2, n * k);
        assert_memory_equal(i1, i2, n * k * sizeof *i1);
        assert_memory_equal(c1, c2, n * sizeof *c1);
    }
    omp_set_num_threads(saved);
    free(x);
    free(xy);
    free(d1);
    free(d2);
    free(i1);
    free(i2);
    free(c1);
    free(c2);
    free(r);
}

/* A caller's workspace is returned to its mark; idx may be NULL. */
static void test_workspace_and_null_idx(void **state)
{
    (void)state;
    size_t n = scaled(500), k = 3;
    double *x = random_points(n, 3, 60, 0.0, 1.0);
    double *d1 = malloc(n * k * sizeof *d1), *d2 = malloc(n * k * sizeof *d2);
    size_t *idx = malloc(n * k * sizeof *idx), *count = malloc(n * sizeof *count);
    assert_true(d1 && d2 && idx && count);
    sm_arena ws = {0};
    sm_status st = {0};
    double *pad = sm_arena_alloc(&ws, 10, sizeof *pad, &st);
    assert_non_null(pad);
    size_t mark = sm_arena_mark(&ws);
    for (int path = PATH_AUTO; path <= PATH_BRUTE; path++) {
        sm_knn_force_path(path);
        assert_int_equal(sm_knn_search(x, n, 3, k, L2, d1, idx, &ws, &st), SM_OK);
        assert_int_equal(sm_arena_mark(&ws), mark);
        assert_int_equal(sm_knn_search(x, n, 3, k, L2, d2, NULL, &ws, &st), SM_OK);
        assert_same_dist(d1, d2, n * k);
        assert_int_equal(sm_knn_count(x, n, 3, L2, d1, 1, count, &ws, &st), SM_OK);
        assert_int_equal(sm_arena_mark(&ws), mark);
        sm_knn_force_path(PATH_AUTO);
    }
    sm_arena_free(&ws);
    free(x);
    free(d1);
    free(d2);
    free(idx);
    free(count);
}

static void test_errors(void **state)
{
    (void)state;
    const double x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, r[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    double dist[50];
    size_t idx[50], count[10];
    sm_status st = {0};

    assert_int_equal(sm_knn_search(x, 5, 2, 5, L2, dist, idx, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k = 5 must be below the number of samples N = 5");
    assert_int_equal(sm_knn_search(x, 5, 2, 7, L2, dist, idx, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k = 7 must be below the number of samples N = 5");
    assert_int_equal(sm_knn_search(x, 5, 2, 0, L2, dist, idx, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k = 0 must be at least 1");
    assert_int_equal(sm_knn_search(x, 1, 2, 1, L2, dist, idx, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k-NN needs at least 2 samples (N = 1)");
    assert_int_equal(sm_knn_search(x, 5, 0, 1, L2, dist, idx, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k-NN needs at least one dimension (d = 0)");
    assert_int_equal(sm_knn_count(x, 1, 2, L2, r, 1, count, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k-NN needs at least 2 samples (N = 1)");
    assert_int_equal(sm_knn_count(x, 5, 0, L2, r, 1, count, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k-NN needs at least one dimension (d = 0)");
    /* The smallest legal problem: two points, k = 1. */
    assert_int_equal(sm_knn_search(x, 2, 1, 1, L2, dist, idx, NULL, &st), SM_OK);
    assert_true(dist[0] == 1.0 && dist[1] == 1.0);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dist_hand),
        cmocka_unit_test(test_line_hand),
        cmocka_unit_test(test_all_duplicates),
        cmocka_unit_test(test_random_paths_agree),
        cmocka_unit_test(test_brute_force_tiles),
        cmocka_unit_test(test_grid_ties_and_duplicates),
        cmocka_unit_test(test_sphere_metric_paths_agree),
        cmocka_unit_test(test_offset_and_tiny_scales),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_workspace_and_null_idx),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
