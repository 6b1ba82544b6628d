/* Tests for src/estimators/resample.c: quantile rule, subsample structure
 * (distinct, paired, ordered rows), determinism, interval on Gaussian data. */
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
#include "estimators/mi.h"
#include "estimators/resample.h"

static void test_quantile_linear_interpolation(void **state)
{
    (void)state;
    double v[5] = {5, 1, 4, 2, 3};
    /* positions p·(n − 1): 0.1 → 1.1, 3.9 → 4.9, 2 → 3, ends exact. */
    assert_true(fabs(sm_resample_quantile(v, 5, 0.025) - 1.1) < 1e-15);
    assert_true(fabs(sm_resample_quantile(v, 5, 0.975) - 4.9) < 1e-15);
    assert_true(sm_resample_quantile(v, 5, 0.5) == 3.0);
    assert_true(sm_resample_quantile(v, 5, 0.0) == 1.0);
    assert_true(sm_resample_quantile(v, 5, 1.0) == 5.0);
    double one = 7.0;
    assert_true(sm_resample_quantile(&one, 1, 0.975) == 7.0);
}

/* Checks what a subsample looks like: x row i is (i, i), y row i is −i. */
typedef struct {
    size_t n_full, calls;
} structure_ctx;

static int check_structure(void *ctx, const double *x, size_t dx, const double *y, size_t dy,
                           size_t n, double *value, sm_arena *ws, sm_status *st)
{
    (void)ws;
    (void)st;
    structure_ctx *c = ctx;
    assert_int_equal(dx, 2);
    assert_int_equal(dy, 1);
    if (c->calls++ == 0) {
        assert_int_equal(n, c->n_full);
    } else {
        assert_int_equal(n, c->n_full / 2);
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        assert_true(x[2 * i] == x[2 * i + 1]);
        assert_true(y[i] == -x[2 * i]);
        if (i > 0) assert_true(x[2 * i] > x[2 * (i - 1)]); /* distinct, in order */
        sum += x[2 * i];
    }
    *value = sum / (double)n;
    return SM_OK;
}

static void test_subsamples_are_paired_distinct_halves(void **state)
{
    (void)state;
    enum { N = 101 };
    double x[2 * N], y[N];
    for (size_t i = 0; i < N; i++) {
        x[2 * i] = x[2 * i + 1] = (double)i;
        y[i] = -(double)i;
    }
    structure_ctx c = {N, 0};
    sm_resample_result r;
    sm_arena ws = {0};
    assert_int_equal(sm_resample_subsample(x, 2, y, 1, N, 50, 1, check_structure, &c, &r, &ws,
                                           NULL),
                     SM_OK);
    assert_int_equal(c.calls, 51);
    assert_int_equal(r.resamples, 50);
    assert_int_equal(r.m, 50);
    assert_true(r.value == 50.0);
    assert_true(r.ci_low < r.value && r.value < r.ci_high);
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
}

static int gauss_mi(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                    double *value, sm_arena *ws, sm_status *st)
{
    (void)ctx;
    return sm_gauss_mi(x, y, n, dx, dy, 0.0, value, ws, st);
}

static void test_gaussian_interval_contains_estimate_and_is_seeded(void **state)
{
    (void)state;
    const size_t n = 2000;
    const double rho = 0.6;
    double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
    sm_rng g;
    sm_rng_seed(&g, 11, 0);
    for (size_t i = 0; i < n; i++) {
        x[i] = sm_rng_normal(&g);
        y[i] = rho * x[i] + sqrt(1 - rho * rho) * sm_rng_normal(&g);
    }
    sm_resample_result a, b, c;
    assert_int_equal(sm_resample_subsample(x, 1, y, 1, n, 200, 5, gauss_mi, NULL, &a, NULL, NULL),
                     SM_OK);
    assert_int_equal(sm_resample_subsample(x, 1, y, 1, n, 200, 5, gauss_mi, NULL, &b, NULL, NULL),
                     SM_OK);
    assert_int_equal(sm_resample_subsample(x, 1, y, 1, n, 200, 6, gauss_mi, NULL, &c, NULL, NULL),
                     SM_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.value == c.value);
    assert_true(a.ci_low != c.ci_low || a.ci_high != c.ci_high);
    const double truth = -0.5 * log(1 - rho * rho);
    assert_true(a.ci_low < a.value && a.value < a.ci_high);
    assert_true(a.ci_low < truth && truth < a.ci_high);
    /* Spread at N = 2000: SE of the MI estimate ≈ ρ/√N = 0.013, so the 95%
     * interval is about 0.053 wide. */
    assert_true(a.ci_high - a.ci_low > 0.035 && a.ci_high - a.ci_low < 0.08);
    free(x);
    free(y);
}

static int ksg1_mi(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                   double *value, sm_arena *ws, sm_status *st)
{
    sm_ksg1_result r;
    int rc = sm_mi_ksg1(x, y, n, dx, dy, ctx, &r, ws, st);
    *value = r.mi;
    return rc;
}

static void test_ksg_interval_contains_estimate_and_is_seeded(void **state)
{
    (void)state;
    const size_t n = 2000, d = 2;
    const double rho = 0.6;
    double *x = calloc(n * d, sizeof *x), *y = calloc(n * d, sizeof *y);
    sm_rng g;
    sm_rng_seed(&g, 12, 0);
    for (size_t i = 0; i < n * d; i++) {
        x[i] = sm_rng_normal(&g);
        y[i] = rho * x[i] + sqrt(1 - rho * rho) * sm_rng_normal(&g);
    }
    sm_mi_opts o = {.k = 3};
    sm_resample_result a, b;
    sm_arena ws = {0};
    assert_int_equal(sm_resample_subsample(x, d, y, d, n, 40, 9, ksg1_mi, &o, &a, &ws, NULL),
                     SM_OK);
    assert_int_equal(sm_resample_subsample(x, d, y, d, n, 40, 9, ksg1_mi, &o, &b, &ws, NULL),
                     SM_OK);
    assert_memory_equal(&a, &b, sizeof a);
    sm_ksg1_result direct;
    assert_int_equal(sm_mi_ksg1(x, y, n, d, d, &o, &direct, NULL, NULL), SM_OK);
    assert_true(a.value == direct.mi);
    assert_true(a.ci_low < a.value && a.value < a.ci_high);
    const double truth = -(double)d * 0.5 * log(1 - rho * rho);
    assert_true(a.ci_low < truth && truth < a.ci_high);
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
    free(x);
    free(y);
}

static int fail_on_subsample(void *ctx, const double *x, size_t dx, const double *y, size_t dy,
                             size_t n, double *value, sm_arena *ws, sm_status *st)
{
    (void)x;
    (void)dx;
    (void)y;
    (void)dy;
    (void)ws;
    if (n < *(size_t *)ctx) return sm_status_fail(st, SM_ERR_USAGE, "test", "too small: %zu", n);
    *value = 0.0;
    return SM_OK;
}

/* Estimator = sum of the x rows, recording every value it returns. */
typedef struct {
    double seen[16];
    size_t calls;
} record_ctx;

static int record_sum(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n,
                      double *value, sm_arena *ws, sm_status *st)
{
    (void)y, (void)dy, (void)ws, (void)st;
    record_ctx *c = ctx;
    double s = 0.0;
    for (size_t i = 0; i < n * dx; i++) s += x[i] * x[i];
    *value = s;
    c->seen[c->calls++] = s;
    return SM_OK;
}

/* The interval is value + sqrt(m/(N - m)) (q_p - q_0.5) of the subsample values. */
static void test_interval_formula(void **state)
{
    (void)state;
    double x[11];
    for (int i = 0; i < 11; i++) x[i] = 1.0 + i;
    record_ctx c = {{0}, 0};
    sm_resample_result r;
    sm_status st = {0};
    /* N = 11 (odd) so the factor is not 1: m = 5, sqrt(5/6). */
    assert_int_equal(sm_resample_subsample(x, 1, NULL, 0, 11, 9, 4, record_sum, &c, &r, NULL, &st), SM_OK);
    assert_int_equal(c.calls, 10); /* full data first, then B = 9 subsamples of m = 5 */
    assert_true(r.value == 506.0);
    double *v = c.seen + 1;
    double med = sm_resample_quantile(v, 9, 0.5), lo = sm_resample_quantile(v, 9, 0.025),
           hi = sm_resample_quantile(v, 9, 0.975), scale = sqrt(5.0 / 6.0);
    assert_true(fabs(r.ci_low - (506.0 + scale * (lo - med))) < 1e-12);
    assert_true(fabs(r.ci_high - (506.0 + scale * (hi - med))) < 1e-12);
    assert_true(r.ci_low <= r.value && r.value <= r.ci_high);
}

/* Two values per subsample: the sum of squares and the row count. */
static int sum_and_rows(void *ctx, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *value,
                        sm_arena *ws, sm_status *st)
{
    record_ctx c = {{0}, 0};
    int rc = record_sum(&c, x, dx, y, dy, n, value, ws, st);
    value[1] = (double)n;
    (void)ctx;
    return rc;
}

/* sm_resample_values gives the subsample values sm_resample_subsample draws
 * (the same rows for the same seed), k of them per subsample at
 * vals[j·B + b], and sm_resample_interval about the full-data value makes
 * the same interval from them, bit for bit. */
static void test_values_then_interval_is_the_subsample_interval(void **state)
{
    (void)state;
    double x[11];
    for (int i = 0; i < 11; i++) x[i] = 1.0 + i;
    record_ctx c = {{0}, 0};
    sm_resample_result whole, split;
    sm_status st = {0};
    assert_int_equal(sm_resample_subsample(x, 1, NULL, 0, 11, 9, 4, record_sum, &c, &whole, NULL, &st), SM_OK);
    double vals[18];
    sm_arena ws = {0};
    assert_int_equal(sm_resample_values(x, 1, NULL, 0, 11, 9, 4, 2, sum_and_rows, NULL, vals, &ws, &st), SM_OK);
    assert_int_equal(sm_arena_mark(&ws), 0);
    for (size_t b = 0; b < 9; b++) {
        assert_true(vals[b] == c.seen[1 + b]);
        assert_true(vals[9 + b] == 5.0); /* m = ⌊11/2⌋ rows */
    }
    sm_resample_interval(506.0, vals, 9, 11, &split);
    assert_memory_equal(&whole, &split, sizeof whole);
    /* the same checks as the whole call, and an estimator's error returned as is */
    size_t full = 10;
    assert_int_equal(sm_resample_values(x, 1, NULL, 0, 3, 9, 4, 1, fail_on_subsample, &full, vals, &ws, &st),
                     SM_ERR_USAGE);
    assert_string_equal(st.msg, "need at least 4 samples to subsample, got 3 (subsampling)");
    assert_int_equal(sm_resample_values(x, 1, NULL, 0, 11, 1, 4, 1, fail_on_subsample, &full, vals, &ws, &st),
                     SM_ERR_USAGE);
    assert_int_equal(sm_resample_values(x, 0, NULL, 0, 11, 9, 4, 1, fail_on_subsample, &full, vals, &ws, &st),
                     SM_ERR_USAGE);
    assert_int_equal(sm_resample_values(x, 1, NULL, 0, 10, 9, 4, 1, fail_on_subsample, &full, vals, &ws, &st),
                     SM_ERR_USAGE);
    assert_string_equal(st.msg, "too small: 5 (test)");
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
}

static void test_errors(void **state)
{
    (void)state;
    double x[10] = {0};
    size_t full = 10;
    sm_resample_result r;
    sm_status st = {0};
    assert_int_equal(sm_resample_subsample(x, 1, NULL, 0, 3, 10, 0, fail_on_subsample, &full, &r,
                                           NULL, &st),
                     SM_ERR_USAGE);
    assert_int_equal(sm_resample_subsample(x, 1, NULL, 0, 10, 1, 0, fail_on_subsample, &full, &r,
                                           NULL, &st),
                     SM_ERR_USAGE);
    assert_int_equal(sm_resample_subsample(x, 1, NULL, 0, 10, 5, 0, fail_on_subsample, &full, &r,
                                           NULL, &st),
                     SM_ERR_USAGE);
    assert_string_equal(st.msg, "too small: 5 (test)");
    /* zero columns: an error, not an assertion (the Python module passes what it is given) */
    assert_int_equal(sm_resample_subsample(x, 0, NULL, 0, 10, 5, 0, fail_on_subsample, &full, &r, NULL, &st),
                     SM_ERR_USAGE);
    assert_int_equal(sm_resample_subsample(x, 1, x, 0, 10, 5, 0, fail_on_subsample, &full, &r, NULL, &st),
                     SM_ERR_USAGE);
    assert_string_equal(st.msg, "need at least 1 column, got 1 and 0 (subsampling)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile_linear_interpolation),
        cmocka_unit_test(test_subsamples_are_paired_distinct_halves),
        cmocka_unit_test(test_gaussian_interval_contains_estimate_and_is_seeded),
        cmocka_unit_test(test_ksg_interval_contains_estimate_and_is_seeded),
        cmocka_unit_test(test_interval_formula),
        cmocka_unit_test(test_values_then_interval_is_the_subsample_interval),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
