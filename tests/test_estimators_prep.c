/* Tests for src/estimators/prep.c: plain copy, whitening (moments, Jacobian,
 * invariance under linear maps), seeded jitter. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/rng.h"
#include "estimators/gauss.h"
#include "estimators/prep.h"

enum { N = 500, D = 3 };

/* n rows of correlated, shifted, non-Gaussian data (so nothing is special). */
static double *sample(size_t n, uint64_t seed)
{
    double *x = calloc(n * D, sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        double u = sm_rng_normal(&r), v = sm_rng_uniform(&r), w = sm_rng_normal(&r);
        x[i * D + 0] = 5.0 + 2.0 * u;
        x[i * D + 1] = -1.0 + u + 3.0 * v;
        x[i * D + 2] = 0.5 * u - v + 0.2 * w * w;
    }
    return x;
}

/* y_i = A x_i for every row, A D×D row-major. */
static double *map_rows(const double *x, size_t n, const double *a)
{
    double *y = calloc(n * D, sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        for (size_t r = 0; r < D; r++)
            for (size_t c = 0; c < D; c++) y[i * D + r] += a[r * D + c] * x[i * D + c];
    return y;
}

static double *prepared(const double *x, size_t n, const sm_prep_opts *o, uint64_t stream,
                        double *log_det_l)
{
    double *out = calloc(n * D, sizeof *out);
    assert_non_null(out);
    sm_status st = {0};
    int rc = sm_prep_block(x, n, D, o, stream, "x", out, log_det_l, NULL, &st);
    if (rc) fail_msg("%s", st.msg);
    return out;
}

static double max_abs_diff(const double *a, const double *b, size_t m)
{
    double e = 0.0;
    for (size_t i = 0; i < m; i++) e = fmax(e, fabs(a[i] - b[i]));
    return e;
}

static void test_default_is_exact_copy(void **state)
{
    (void)state;
    double *x = sample(N, 1);
    double *keep = malloc(N * D * sizeof *keep);
    memcpy(keep, x, N * D * sizeof *keep);
    const sm_prep_opts zero = {.noise = 0.0, .seed = 9};
    double ldl = 99.0;
    double *a = prepared(x, N, NULL, 0, &ldl);
    assert_true(ldl == 0.0);
    double *b = prepared(x, N, &zero, 0, NULL);
    assert_memory_equal(a, x, N * D * sizeof *x);
    assert_memory_equal(b, x, N * D * sizeof *x);
    assert_memory_equal(x, keep, N * D * sizeof *x);
    free(a);
    free(b);
    free(keep);
    free(x);
}

static void test_whitened_moments_and_jacobian(void **state)
{
    (void)state;
    double *x = sample(N, 2);
    const sm_prep_opts o = {.whiten = 1};
    double ldl;
    double *w = prepared(x, N, &o, 0, &ldl);
    double mean[D], cov[D * D];
    assert_int_equal(sm_gauss_cov(w, N, D, mean, cov, NULL), SM_OK);
    for (size_t a = 0; a < D; a++) {
        assert_true(fabs(mean[a]) < 1e-12);
        for (size_t b = 0; b < D; b++) assert_true(fabs(cov[a * D + b] - (a == b)) < 1e-12);
    }
    /* log det L = ½ log det Σ. */
    assert_int_equal(sm_gauss_cov(x, N, D, mean, cov, NULL), SM_OK);
    double ld;
    assert_int_equal(sm_gauss_logdet(cov, D, 0.0, &ld, NULL, NULL), SM_OK);
    assert_true(fabs(ldl - 0.5 * ld) < 1e-12);
    free(w);
    free(x);
}

static void test_whitening_lower_triangular_map_is_identical(void **state)
{
    (void)state;
    /* A lower triangular with a positive diagonal: the factor of A Σ Aᵀ is
     * A L, so the whitened rows agree up to rounding. */
    const double a[D * D] = {3.0, 0, 0, -1.5, 0.2, 0, 4.0, 2.5, 7.0};
    double *x = sample(N, 3);
    double *y = map_rows(x, N, a);
    const sm_prep_opts o = {.whiten = 1};
    double ldx, ldy;
    double *wx = prepared(x, N, &o, 0, &ldx);
    double *wy = prepared(y, N, &o, 0, &ldy);
    assert_true(max_abs_diff(wx, wy, N * D) < 1e-11);
    assert_true(fabs(ldy - ldx - log(3.0 * 0.2 * 7.0)) < 1e-12);
    free(wx);
    free(wy);
    free(y);
    free(x);
}

static void test_whitening_general_map_is_orthogonal(void **state)
{
    (void)state;
    /* A general invertible A: w' = Q w with Q orthogonal.  Euclidean
     * distances between whitened rows are preserved, coordinates are not. */
    const double a[D * D] = {0.3, 2.0, -1.0, 1.0, 1.0, 4.0, -2.0, 0.5, 0.1};
    double *x = sample(N, 4);
    double *y = map_rows(x, N, a);
    const sm_prep_opts o = {.whiten = 1};
    double ldx, ldy;
    double *wx = prepared(x, N, &o, 0, &ldx);
    double *wy = prepared(y, N, &o, 0, &ldy);
    assert_true(max_abs_diff(wx, wy, N * D) > 0.1);
    for (size_t i = 0; i < N; i += 7)
        for (size_t j = i + 1; j < N; j += 13) {
            double dx = 0, dy = 0;
            for (size_t c = 0; c < D; c++) {
                dx += (wx[i * D + c] - wx[j * D + c]) * (wx[i * D + c] - wx[j * D + c]);
                dy += (wy[i * D + c] - wy[j * D + c]) * (wy[i * D + c] - wy[j * D + c]);
            }
            assert_true(fabs(sqrt(dx) - sqrt(dy)) < 1e-11);
        }
    double det_a = a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) +
                   a[2] * (a[3] * a[7] - a[4] * a[6]);
    assert_true(fabs(ldy - ldx - log(fabs(det_a))) < 1e-12);
    free(wx);
    free(wy);
    free(y);
    free(x);
}

static void test_noise_seeded(void **state)
{
    (void)state;
    double *x = sample(N, 5);
    const sm_prep_opts s1 = {.noise = 0.01, .seed = 1};
    const sm_prep_opts s2 = {.noise = 0.01, .seed = 2};
    double *a = prepared(x, N, &s1, 0, NULL);
    double *b = prepared(x, N, &s1, 0, NULL);
    double *c = prepared(x, N, &s2, 0, NULL);
    double *e = prepared(x, N, &s1, 1, NULL);
    assert_memory_equal(a, b, N * D * sizeof *a);
    size_t same_c = 0, same_e = 0;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < N * D; i++) {
        same_c += a[i] == c[i];
        same_e += a[i] == e[i];
        double z = (a[i] - x[i]) / 0.01;
        sum += z;
        sum2 += z * z;
    }
    assert_int_equal(same_c, 0);
    assert_int_equal(same_e, 0);
    /* 1500 standard normals: mean SE 0.026, variance SE 0.037. */
    assert_true(fabs(sum / (N * D)) < 0.11);
    assert_true(fabs(sum2 / (N * D) - 1.0) < 0.15);
    free(a);
    free(b);
    free(c);
    free(e);
    free(x);
}

static void test_noise_after_whitening(void **state)
{
    (void)state;
    double *x = sample(N, 6);
    const sm_prep_opts w = {.whiten = 1};
    const sm_prep_opts wn = {.whiten = 1, .noise = 0.5, .seed = 3};
    double *a = prepared(x, N, &w, 0, NULL);
    double *b = prepared(x, N, &wn, 0, NULL);
    sm_rng r;
    sm_rng_seed(&r, 3, SM_PREP_JITTER_STREAMS);
    for (size_t i = 0; i < N * D; i++) assert_true(b[i] == a[i] + 0.5 * sm_rng_normal(&r));
    free(a);
    free(b);
    free(x);
}

/* The jitter of blocks 0 and 1 does not replay the rng streams 0 and 1 of its seed, which the first
 * two subsample draws take (resample.h): with --noise and --subsample both, subsample 0's rows came
 * from the same bits as the x block's jitter. */
static void test_jitter_apart_from_subsample_streams(void **state)
{
    (void)state;
    double *x = calloc(N * D, sizeof *x); /* zeros: the jitter is the output, exactly */
    assert_non_null(x);
    for (uint64_t block = 0; block < 2; block++) {
        const sm_prep_opts o = {.noise = 1.0, .seed = 5};
        double *j = prepared(x, N, &o, block, NULL);
        sm_rng r;
        sm_rng_seed(&r, 5, block);
        size_t same = 0;
        for (size_t i = 0; i < N * D; i++) same += j[i] == sm_rng_normal(&r);
        assert_int_equal(same, 0);
        free(j);
    }
    free(x);
}

static void test_errors(void **state)
{
    (void)state;
    double out[8], x[8] = {1, 1, 2, 2, 3, 3, 4, 4};
    sm_status st = {0};
    const sm_prep_opts w = {.whiten = 1};
    sm_arena ws = {0};
    assert_int_equal(sm_prep_block(x, 4, 2, &w, 0, "y", out, NULL, &ws, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "covariance is not positive definite (whitening y)");
    assert_int_equal(sm_arena_mark(&ws), 0);
    const sm_prep_opts neg = {.noise = -1.0};
    assert_int_equal(sm_prep_block(x, 4, 2, &neg, 0, "x", out, NULL, NULL, &st), SM_ERR_USAGE);
    x[5] = INFINITY;
    assert_int_equal(sm_prep_block(x, 4, 2, NULL, 0, "x", out, NULL, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "non-finite value at row 2, column 1 (x)");
    sm_arena_free(&ws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_exact_copy),
        cmocka_unit_test(test_whitened_moments_and_jacobian),
        cmocka_unit_test(test_whitening_lower_triangular_map_is_identical),
        cmocka_unit_test(test_whitening_general_map_is_orthogonal),
        cmocka_unit_test(test_noise_seeded),
        cmocka_unit_test(test_noise_after_whitening),
        cmocka_unit_test(test_jitter_apart_from_subsample_streams),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
