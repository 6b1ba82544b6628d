/* Tests for src/estimators/gauss.c: covariance, Cholesky, log det, Gaussian
 * entropy and MI against closed forms. */
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

static const double TWO_PI_E = 2.0 * 3.14159265358979323846 * 2.71828182845904523536;

/* 2d rows ±√d·(column j of L) (+ mu): their ML covariance is exactly L Lᵀ and
 * their mean is mu (up to rounding).  L is d×d lower triangular, row-major. */
static double *exact_cov_sample(const double *l, const double *mu, size_t d)
{
    double *x = calloc(2 * d * d, sizeof *x);
    assert_non_null(x);
    const double s = sqrt((double)d);
    for (size_t j = 0; j < d; j++)
        for (size_t a = 0; a < d; a++) {
            x[(2 * j) * d + a] = mu[a] + s * l[a * d + j];
            x[(2 * j + 1) * d + a] = mu[a] - s * l[a * d + j];
        }
    return x;
}

/* n rows of N(0, L Lᵀ). */
static double *gaussian_sample(const double *l, size_t d, size_t n, uint64_t seed)
{
    double *x = calloc(n * d, sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    double z[8];
    assert_true(d <= 8);
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < d; a++) z[a] = sm_rng_normal(&r);
        for (size_t a = 0; a < d; a++) {
            double s = 0.0;
            for (size_t b = 0; b <= a; b++) s += l[a * d + b] * z[b];
            x[i * d + a] = s;
        }
    }
    return x;
}

static void test_cov_exact_and_mean(void **state)
{
    (void)state;
    const double l[9] = {2.0, 0, 0, 0.5, 1.5, 0, -1.0, 0.25, 0.75};
    const double mu[3] = {10.0, -3.0, 1e3};
    double *x = exact_cov_sample(l, mu, 3);
    double mean[3], cov[9];
    assert_int_equal(sm_gauss_cov(x, 6, 3, mean, cov, NULL), SM_OK);
    for (size_t a = 0; a < 3; a++) {
        assert_true(fabs(mean[a] - mu[a]) < 1e-12 * (1.0 + fabs(mu[a])));
        for (size_t b = 0; b < 3; b++) {
            double want = 0.0;
            for (size_t c = 0; c < 3; c++) want += l[a * 3 + c] * l[b * 3 + c];
            assert_true(fabs(cov[a * 3 + b] - want) < 1e-10);
            assert_true(cov[a * 3 + b] == cov[b * 3 + a]);
        }
    }
    free(x);
}

static void test_cov_rejects_nan(void **state)
{
    (void)state;
    double x[4] = {1, 2, NAN, 4}, mean[2], cov[4];
    sm_status st = {0};
    assert_int_equal(sm_gauss_cov(x, 2, 2, mean, cov, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "non-finite value at row 1, column 0"));
}

static void test_cholesky_factor(void **state)
{
    (void)state;
    double a[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
    const double orig[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
    assert_int_equal(sm_gauss_cholesky(a, 3, 0.0, "test", NULL), SM_OK);
    for (size_t r = 0; r < 3; r++)
        for (size_t c = 0; c < 3; c++) {
            if (c > r) assert_true(a[r * 3 + c] == 0.0);
            double s = 0.0;
            for (size_t k = 0; k < 3; k++) s += a[r * 3 + k] * a[c * 3 + k];
            assert_true(fabs(s - orig[r * 3 + c]) < 1e-14);
        }
    /* det = 4·(15 − 1) − 2·(6 − 0) = 44 */
    assert_true(fabs(sm_gauss_cholesky_logdet(a, 3) - log(44.0)) < 1e-14);
}

static void test_logdet_with_and_without_ridge(void **state)
{
    (void)state;
    const double a[9] = {4, 2, 0, 2, 5, 1, 0, 1, 3};
    double ld;
    sm_arena ws = {0};
    assert_int_equal(sm_gauss_logdet(a, 3, 0.0, &ld, &ws, NULL), SM_OK);
    assert_true(fabs(ld - log(44.0)) < 1e-14);
    assert_int_equal(sm_gauss_logdet(a, 3, 1.0, &ld, NULL, NULL), SM_OK);
    /* det [[5,2,0],[2,6,1],[0,1,4]] = 5·23 − 2·8 = 99 */
    assert_true(fabs(ld - log(99.0)) < 1e-14);
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
}

static void test_entropy_exact_covariance(void **state)
{
    (void)state;
    for (size_t d = 1; d <= 4; d++) {
        double l[16] = {0}, mu[4] = {1.0, -2.0, 0.5, 3.0};
        double logdet_l = 0.0;
        for (size_t a = 0; a < d; a++) {
            for (size_t b = 0; b < a; b++) l[a * d + b] = 0.3 * (double)(a + 1) - 0.2 * (double)b;
            l[a * d + a] = 0.5 + 0.7 * (double)a;
            logdet_l += log(l[a * d + a]);
        }
        double *x = exact_cov_sample(l, mu, d);
        double h;
        assert_int_equal(sm_gauss_entropy(x, 2 * d, d, 0.0, &h, NULL, NULL), SM_OK);
        double want = 0.5 * (double)d * log(TWO_PI_E) + logdet_l;
        assert_true(fabs(h - want) < 1e-12);
        free(x);
    }
}

static void test_mi_exact_covariance(void **state)
{
    (void)state;
    /* (x1, x2, y1, y2) with Σxx = Σyy = I, Σxy = diag(ρ1, ρ2):
     * I = −½ log(1 − ρ1²) − ½ log(1 − ρ2²). */
    const double r1 = 0.6, r2 = -0.9;
    const double l[16] = {1, 0, 0, 0,
                          0, 1, 0, 0,
                          r1, 0, sqrt(1 - r1 * r1), 0,
                          0, r2, 0, sqrt(1 - r2 * r2)};
    const double mu[4] = {0.5, 0.5, -1.0, 2.0};
    double *j = exact_cov_sample(l, mu, 4);
    double x[16], y[16];
    for (size_t i = 0; i < 8; i++) {
        memcpy(x + 2 * i, j + 4 * i, 2 * sizeof *x);
        memcpy(y + 2 * i, j + 4 * i + 2, 2 * sizeof *y);
    }
    double mi;
    assert_int_equal(sm_gauss_mi(x, y, 8, 2, 2, 0.0, &mi, NULL, NULL), SM_OK);
    double want = -0.5 * log(1 - r1 * r1) - 0.5 * log(1 - r2 * r2);
    assert_true(fabs(mi - want) < 1e-12);
    /* 1 + 1 dimensions: the first pair alone. */
    double x1[8], y1[8];
    for (size_t i = 0; i < 8; i++) {
        x1[i] = x[2 * i];
        y1[i] = y[2 * i];
    }
    assert_int_equal(sm_gauss_mi(x1, y1, 8, 1, 1, 0.0, &mi, NULL, NULL), SM_OK);
    assert_true(fabs(mi + 0.5 * log(1 - r1 * r1)) < 1e-12);
    free(j);
}

static void test_random_gaussian_close_to_truth(void **state)
{
    (void)state;
    const size_t n = 100000;
    const double r = 0.8;
    const double l[4] = {1.5, 0, 1.5 * r, 1.5 * sqrt(1 - r * r)};
    double *j = gaussian_sample(l, 2, n, 7);
    double h;
    assert_int_equal(sm_gauss_entropy(j, n, 2, 0.0, &h, NULL, NULL), SM_OK);
    double want_h = log(TWO_PI_E) + log(l[0]) + log(l[3]);
    /* SE of ½ log det Σ̂ is about sqrt(d / (2n)) = 0.0032. */
    assert_true(fabs(h - want_h) < 0.013);
    double *x = calloc(n, sizeof *x), *y = calloc(n, sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = j[2 * i];
        y[i] = j[2 * i + 1];
    }
    double mi;
    assert_int_equal(sm_gauss_mi(x, y, n, 1, 1, 0.0, &mi, NULL, NULL), SM_OK);
    /* SE of −½ log(1 − ρ̂²) is about ρ / sqrt(n) = 0.0025. */
    assert_true(fabs(mi + 0.5 * log(1 - r * r)) < 0.01);
    free(x);
    free(y);
    free(j);
}

static void test_singular_covariance_and_ridge(void **state)
{
    (void)state;
    /* Second column = first: Σ = v [[1,1],[1,1]], v = 1.25 (ML variance of 1..4). */
    const double x[8] = {1, 1, 2, 2, 3, 3, 4, 4};
    double h;
    sm_status st = {0};
    assert_int_equal(sm_gauss_entropy(x, 4, 2, 0.0, &h, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "covariance is not positive definite (use a ridge)");
    const double v = 1.25, ridge = 1e-3;
    assert_int_equal(sm_gauss_entropy(x, 4, 2, ridge, &h, NULL, &st), SM_OK);
    double want = log(TWO_PI_E) + 0.5 * log(2 * v * ridge + ridge * ridge);
    assert_true(fabs(h - want) < 1e-10);

    /* y = x: the joint covariance is singular, the marginals are not. */
    const double u[4] = {1, 2, 3, 4};
    double mi;
    assert_int_equal(sm_gauss_mi(u, u, 4, 1, 1, 0.0, &mi, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "covariance is not positive definite (use a ridge)");
    assert_int_equal(sm_gauss_mi(u, u, 4, 1, 1, ridge, &mi, NULL, &st), SM_OK);
    /* ½ log((v + r)² / (2 v r + r²)) */
    assert_true(fabs(mi - 0.5 * log((v + ridge) * (v + ridge) / (2 * v * ridge + ridge * ridge)))
                < 1e-10);
}

static void test_rounding_singular_covariance_is_rejected(void **state)
{
    (void)state;
    /* y = 0.1 x + 0.7 exactly in real arithmetic: Σ is singular, but rounding
     * of 0.1 x leaves a pivot of order ε that GSL's Cholesky accepts.  It must
     * be reported, not turned into a huge negative log det. */
    double xy[2 * 50];
    for (int i = 0; i < 50; i++) {
        xy[2 * i] = sin(1.0 + i) * 3.0;
        xy[2 * i + 1] = 0.1 * xy[2 * i] + 0.7;
    }
    double h;
    sm_status st = {0};
    assert_int_equal(sm_gauss_entropy(xy, 50, 2, 0.0, &h, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "not positive definite"));
}

/* n samples span at most n − 1 dimensions: n <= d is refused by its count,
 * whatever rounding makes of the factor, unless a ridge lifts it; the joint
 * of the MI counts dx + dy.  Values whose squares overflow are said to be
 * too large, not "use a ridge", which could not help. */
static void test_too_few_samples_and_overflow(void **state)
{
    (void)state;
    /* 3 points in general position in 3-d: each column's sample variance > 0 */
    const double x[9] = {1, 0, 0.5, 0, 2, -1, -1, 1, 3};
    double h, mi;
    sm_status st = {0};
    assert_int_equal(sm_gauss_entropy(x, 3, 3, 0.0, &h, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "3 samples in 3 dimensions: the covariance of n samples has rank at most n - 1, so "
                                "it needs n > d (or a ridge) (Gaussian entropy)");
    assert_int_equal(sm_gauss_entropy(x, 3, 3, 1e-3, &h, NULL, &st), SM_OK);
    const double u[3] = {1, 2, 4}, w[3] = {0, 5, 1};
    assert_int_equal(sm_gauss_mi(u, w, 3, 1, 1, 0.0, &mi, NULL, &st), SM_OK); /* 3 > 1 + 1 */
    const double u2[6] = {1, 0, 2, 1, 4, 3};
    assert_int_equal(sm_gauss_mi(u2, w, 3, 2, 1, 0.0, &mi, NULL, &st), SM_ERR_DATA); /* 3 <= 2 + 1 */
    assert_non_null(strstr(st.msg, "3 samples in 3 dimensions"));
    assert_non_null(strstr(st.msg, "(Gaussian MI, (x, y))"));

    const double big[6] = {1e155, -2e155, 3e155, 0, -1e155, 1e154};
    assert_int_equal(sm_gauss_entropy(big, 6, 1, 0.0, &h, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "second moments overflow: values too large to square (beyond ~1e154), rescale "
                                "the data");
    assert_int_equal(sm_gauss_entropy(big, 6, 1, 1.0, &h, NULL, &st), SM_ERR_DATA);
    assert_int_equal(sm_gauss_mi(big, big, 6, 1, 1, 0.0, &mi, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "second moments overflow"));
}

static void test_usage_errors(void **state)
{
    (void)state;
    const double x[4] = {1, 2, 3, 4};
    double h;
    sm_status st = {0};
    assert_int_equal(sm_gauss_entropy(x, 1, 1, 0.0, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_gauss_entropy(x, 4, 0, 0.0, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_gauss_entropy(x, 4, 1, -1.0, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_gauss_mi(x, x, 4, 1, 0, 0.0, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_gauss_mi(x, x, 1, 1, 1, 0.0, &h, NULL, &st), SM_ERR_USAGE);
}

/* [[2, 1], [1, 2]] = 3 u uᵀ + 1 w wᵀ with u = (1, 1)/√2, w = (1, −1)/√2:
 * eigenvalues in decreasing order, eigenvectors in the columns (up to sign),
 * and a 3 × 3 diagonal case sorted; a NaN entry is an error. */
static void test_symmetric_eigenproblem(void **state)
{
    (void)state;
    double a[4] = {2, 1, 1, 2}, eval[3], evec[9];
    sm_status st;
    assert_int_equal(sm_gauss_eigen_sym(a, 2, eval, evec, &st), SM_OK);
    assert_true(fabs(eval[0] - 3) < 1e-12 && fabs(eval[1] - 1) < 1e-12);
    double r = sqrt(0.5);
    assert_true(fabs(fabs(evec[0]) - r) < 1e-12 && fabs(evec[0] - evec[2]) < 1e-12); /* column 0 ∝ (1, 1) */
    assert_true(fabs(fabs(evec[1]) - r) < 1e-12 && fabs(evec[1] + evec[3]) < 1e-12); /* column 1 ∝ (1, −1) */
    double b[9] = {1, 0, 0, 0, 5, 0, 0, 0, 2};
    assert_int_equal(sm_gauss_eigen_sym(b, 3, eval, evec, &st), SM_OK);
    assert_true(eval[0] == 5 && eval[1] == 2 && eval[2] == 1);
    assert_true(fabs(evec[1 * 3 + 0]) == 1 && fabs(evec[2 * 3 + 1]) == 1 && fabs(evec[0 * 3 + 2]) == 1);
    double c[4] = {1, NAN, NAN, 1};
    assert_int_equal(sm_gauss_eigen_sym(c, 2, eval, evec, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "non-finite"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cov_exact_and_mean),
        cmocka_unit_test(test_cov_rejects_nan),
        cmocka_unit_test(test_cholesky_factor),
        cmocka_unit_test(test_logdet_with_and_without_ridge),
        cmocka_unit_test(test_entropy_exact_covariance),
        cmocka_unit_test(test_mi_exact_covariance),
        cmocka_unit_test(test_random_gaussian_close_to_truth),
        cmocka_unit_test(test_singular_covariance_and_ridge),
        cmocka_unit_test(test_rounding_singular_covariance_is_rejected),
        cmocka_unit_test(test_too_few_samples_and_overflow),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_symmetric_eigenproblem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
