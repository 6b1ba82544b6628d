/* Tests for src/estimators/affine: least squares on [x, 1] and its
 * cross-fitted full-Gaussian NLL (the tracking column nll_r_opt). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_math.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "estimators/affine.h"

enum { DX = 3, DY = 2 };
static const double B[DX * DY] = {1.0, -0.5, 0.25, 2.0, -1.5, 0.0};
static const double C[DY] = {0.75, -3.0};

/* y = x B + c + noise · (e1, 0.6 e1 + 0.8 e2): Σ = noise² [[1, .6], [.6, 1]]. */
static void linear_rows(uint64_t seed, size_t n, double noise, double *x, double *y)
{
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < DX; j++) x[i * DX + j] = 2.0 * sm_rng_normal(&r) + (double)j;
        const double e1 = sm_rng_normal(&r), e2 = sm_rng_normal(&r);
        const double e[DY] = {e1, 0.6 * e1 + 0.8 * e2};
        for (size_t k = 0; k < DY; k++) {
            double v = C[k] + noise * e[k];
            for (size_t j = 0; j < DX; j++) v += x[i * DX + j] * B[j * DY + k];
            y[i * DY + k] = v;
        }
    }
}

static void test_fit_recovers_an_exact_affine_map(void **state)
{
    (void)state;
    enum { N = 20 };
    double x[N * DX], y[N * DY], beta[(DX + 1) * DY], pred[N * DY];
    linear_rows(1, N, 0.0, x, y);
    sm_status st;
    assert_int_equal(sm_affine_fit(x, y, N, DX, DY, beta, NULL, &st), SM_OK);
    for (size_t i = 0; i < DX * DY; i++) assert_true(fabs(beta[i] - B[i]) < 1e-12);
    for (size_t k = 0; k < DY; k++) assert_true(fabs(beta[DX * DY + k] - C[k]) < 1e-12);
    sm_affine_apply(x, N, DX, DY, beta, pred);
    for (size_t i = 0; i < N * DY; i++) assert_true(fabs(pred[i] - y[i]) < 1e-11);
}

/* Gaussian noise: the cross-fitted floor → H(y|x) = ½ log det(2πe Σ), from
 * above by ~(dx + 1)/half per output (the held-out penalty of least squares). */
static void test_crossfit_reaches_the_conditional_entropy(void **state)
{
    (void)state;
    const size_t n = 4000;
    const double noise = 0.3;
    double *x = malloc(n * DX * sizeof *x), *y = malloc(n * DY * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    linear_rows(2, n, noise, x, y);
    sm_arena ws = {0};
    sm_status st;
    double v;
    assert_int_equal(sm_affine_nll_crossfit(x, y, n, DX, DY, &v, &ws, &st), SM_OK);
    assert_int_equal(sm_arena_mark(&ws), 0);
    const double h = 0.5 * (DY * log(2.0 * M_PI * M_E) + log(pow(noise, 4) * 0.64));
    if (!(fabs(v - h) < 0.02)) fail_msg("crossfit %.6f, H(y|x) %.6f", v, h);
    sm_arena_free(&ws);
    free(x);
    free(y);
}

static void test_constant_column_is_a_data_error(void **state)
{
    (void)state;
    enum { N = 20 };
    double x[N * DX], y[N * DY], beta[(DX + 1) * DY], v;
    linear_rows(3, N, 0.1, x, y);
    for (size_t i = 0; i < N; i++) x[i * DX + 1] = 5.0; /* collinear with the intercept */
    sm_status st;
    assert_int_equal(sm_affine_fit(x, y, N, DX, DY, beta, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "affine predictor"));
    assert_int_equal(sm_affine_nll_crossfit(x, y, N, DX, DY, &v, NULL, &st), SM_ERR_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_recovers_an_exact_affine_map),
        cmocka_unit_test(test_crossfit_reaches_the_conditional_entropy),
        cmocka_unit_test(test_constant_column_is_a_data_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
