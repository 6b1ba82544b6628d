/* Tests for src/estimators/entropy.c: Kozachenko–Leonenko against a brute-force
 * evaluation of the formula (tiny sets with ties), Gaussian and sphere ground
 * truth, whitening, jitter and errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "core/arena.h"
#include "core/rng.h"
#include "estimators/entropy.h"
#include "estimators/knn.h"
#include "estimators/vmf.h"
#include "support/support.h"

static const double PI = 3.14159265358979323846;

static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* The KL formula by brute force: all distances, sorted, k-th taken. */
static double kl_reference(const double *x, size_t n, size_t d, size_t k, int sphere)
{
    double *r = calloc(n, sizeof *r);
    assert_non_null(r);
    double sum_log = 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0.0;
            for (size_t c = 0; c < d; c++) {
                const double t = x[i * d + c] - x[j * d + c];
                s += t * t;
            }
            r[m++] = sqrt(s);
        }
        qsort(r, m, sizeof *r, cmp_double);
        sum_log += log(r[k - 1]);
    }
    free(r);
    const double de = (double)(sphere ? d - 1 : d);
    const double log_v = 0.5 * de * log(PI) - gsl_sf_lngamma(0.5 * de + 1.0);
    return gsl_sf_psi((double)n) - gsl_sf_psi((double)k) + log_v + de * sum_log / (double)n;
}

static double kl(const double *x, size_t n, size_t d, const sm_entropy_opts *o)
{
    double h = NAN;
    sm_status st = {0};
    if (sm_entropy_kl(x, n, d, o, &h, NULL, &st) != SM_OK) fail_msg("%s", st.msg);
    return h;
}

static void test_tiny_sets_match_brute_force(void **state)
{
    (void)state;
    /* Integer points: many equal distances (ties at the k-th neighbour). */
    const double p1[7] = {0, 1, 2, 4, 5, 7, 10};
    const double p2[16] = {0, 0, 1, 0, 0, 1, 1, 1, 3, 0, 0, 4, 2, 2, -1, 3};
    const double p3[15] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
    sm_arena ws = {0};
    /* Both k-NN paths (k-d tree, brute force) must give the exact formula. */
    for (int path = 1; path <= 2; path++) {
        sm_knn_force_path(path);
        for (size_t k = 1; k <= 4; k++) {
            const sm_entropy_opts o = {.k = k};
            double h;
            assert_int_equal(sm_entropy_kl(p1, 7, 1, &o, &h, &ws, NULL), SM_OK);
            assert_true(fabs(h - kl_reference(p1, 7, 1, k, 0)) < 1e-12);
            assert_int_equal(sm_entropy_kl(p2, 8, 2, &o, &h, &ws, NULL), SM_OK);
            assert_true(fabs(h - kl_reference(p2, 8, 2, k, 0)) < 1e-12);
            assert_int_equal(sm_entropy_kl(p3, 5, 3, &o, &h, &ws, NULL), SM_OK);
            assert_true(fabs(h - kl_reference(p3, 5, 3, k, 0)) < 1e-12);
            assert_int_equal(sm_arena_mark(&ws), 0);
        }
    }
    sm_knn_force_path(0);
    sm_arena_free(&ws);
}

static void test_tiny_sphere_set_matches_brute_force(void **state)
{
    (void)state;
    /* Unit vectors on S¹ and S² (3-4-5 triangles keep them exact). */
    const double c[12] = {1, 0, 0, 1, -1, 0, 0, -1, 0.6, 0.8, 0.8, -0.6};
    const double s[18] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, -0.6, 0.8, 0.8, 0, -0.6, -1, 0, 0};
    for (size_t k = 1; k <= 3; k++) {
        const sm_entropy_opts o = {.k = k, .sphere = 1};
        assert_true(fabs(kl(c, 6, 2, &o) - kl_reference(c, 6, 2, k, 1)) < 1e-12);
        assert_true(fabs(kl(s, 6, 3, &o) - kl_reference(s, 6, 3, k, 1)) < 1e-12);
    }
}

/* n rows of N(0, L Lᵀ), L d×d lower triangular. */
static double *gaussian(const double *l, size_t d, size_t n, uint64_t seed)
{
    double *x = calloc(n * d, sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    double z[3];
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < d; a++) z[a] = sm_rng_normal(&r);
        for (size_t a = 0; a < d; a++)
            for (size_t b = 0; b <= a; b++) x[i * d + a] += l[a * d + b] * z[b];
    }
    return x;
}

static void test_gaussian_ground_truth(void **state)
{
    (void)state;
    const size_t n = sm_test_slow() ? 3000 : 20000;
    /* Correlated, with H = (d/2) log 2πe + Σ log L_jj a few nats. */
    const double l1[1] = {3.0};
    const double l2[4] = {3.0, 0, 2.0, 1.5};
    const double l3[9] = {3.0, 0, 0, 2.0, 1.5, 0, -1.0, 1.0, 2.5};
    const double *ls[3] = {l1, l2, l3};
    for (size_t d = 1; d <= 3; d++) {
        double truth = 0.5 * (double)d * log(2 * PI * exp(1.0));
        for (size_t a = 0; a < d; a++) truth += log(ls[d - 1][a * d + a]);
        double *x = gaussian(ls[d - 1], d, n, 100 + d);
        const sm_entropy_opts o = {.k = 3};
        double h = kl(x, n, d, &o);
        assert_true(fabs(h - truth) < 0.03 * fabs(truth));
        /* 3% of a few nats is generous; the estimate is also within 0.05
         * nats (spread ~0.01-0.02 at N = 20000). */
        assert_true(fabs(h - truth) < (sm_test_slow() ? 0.1 : 0.05));
        free(x);
    }
}

/* n uniform directions on S^{d−1} (normalised Gaussians). */
static double *uniform_sphere(size_t n, size_t d, uint64_t seed)
{
    double *x = calloc(n * d, sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, seed, d);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (size_t c = 0; c < d; c++) {
            x[i * d + c] = sm_rng_normal(&r);
            s += x[i * d + c] * x[i * d + c];
        }
        for (size_t c = 0; c < d; c++) x[i * d + c] /= sqrt(s);
    }
    return x;
}

/* Sphere ground truth at N = 20000, k = 3.  The spread of these estimates
 * (20 seeds) is 0.006-0.008 nats.  On S⁴ a chord ball's area is
 * V₄ r⁴ (1 − r²/6 + …), which biases Ĥ up by ~r²/6 (measured +0.004); a
 * chord cap on S² has area π r² exactly, and on S¹ the bias is −r²/24,
 * negligible.  Under valgrind N = 3000: spread and S⁴ bias ×2.6. */
static size_t sphere_n(void) { return sm_test_slow() ? 3000 : 20000; }
static double sphere_tol(double at_20000) { return sm_test_slow() ? 2.6 * at_20000 : at_20000; }

static void test_uniform_sphere_ground_truth(void **state)
{
    (void)state;
    /* Uniform on S^{d−1}: H = log |S^{d−1}| = log 2 + (d/2) log π − log Γ(d/2).
     * With --noise the jittered rows are projected back onto the sphere, and a
     * rotation-invariant jitter of the uniform law leaves it uniform: the same
     * truth (off the sphere, S² read 3.6 nats against its maximum 2.53). */
    const size_t n = sphere_n(), dims[3] = {2, 3, 5};
    for (size_t t = 0; t < 6; t++) {
        const size_t d = dims[t % 3];
        double *x = uniform_sphere(n, d, 5);
        const sm_entropy_opts o = {.k = 3, .sphere = 1, .prep = {.noise = t < 3 ? 0.0 : 0.1, .seed = 2}};
        double truth = log(2.0) + 0.5 * (double)d * log(PI) - gsl_sf_lngamma(0.5 * (double)d);
        double h = kl(x, n, d, &o);
        assert_true(fabs(h - truth) < sphere_tol(0.02));
        free(x);
    }
}

/* vMF(μ, κ) on S² by Wood's sampler against the closed form
 * H = −κ A₃(κ) − log C₃(κ), from near-uniform to concentrated: spread
 * 0.008 nats at N = 20000 (20 seeds, the KL estimator's variance grows with
 * Var log p = κ² Var μᵀx), no visible bias (the chord ball, radius ~0.004
 * at κ = 50, is far below the angular scale 1/√κ ≈ 0.14); 0.03 is ~3.5
 * spreads. */
static void test_vmf_sphere_ground_truth(void **state)
{
    (void)state;
    const size_t n = sphere_n(), d = 3;
    const double mu[3] = {0.3, -0.5, 0.8}, kappas[3] = {1.0, 10.0, 50.0};
    double *x = calloc(n * d, sizeof *x);
    assert_non_null(x);
    for (size_t c = 0; c < 3; c++) {
        const double kappa = kappas[c];
        sm_rng r;
        sm_rng_seed(&r, 11, c);
        assert_int_equal(sm_vmf_sample(mu, d, kappa, n, &r, x, NULL), SM_OK);
        const sm_entropy_opts o = {.k = 3, .sphere = 1};
        const double truth = -kappa * sm_vmf_a(d, kappa) - sm_vmf_log_c(d, kappa);
        double h = kl(x, n, d, &o);
        assert_true(fabs(h - truth) < sphere_tol(0.03));
    }
    free(x);
}

static void test_whitening_adds_back_the_jacobian(void **state)
{
    (void)state;
    const size_t n = 2000;
    const double l[4] = {1.0, 0, 0.99, 0.141};
    double *x = gaussian(l, 2, n, 9);
    /* By hand: whiten with prep, estimate, add log det L. */
    double *w = calloc(n * 2, sizeof *w);
    double ldl;
    const sm_prep_opts p = {.whiten = 1};
    assert_int_equal(sm_prep_block(x, n, 2, &p, 0, "x", w, &ldl, NULL, NULL), SM_OK);
    const sm_entropy_opts plain = {.k = 3}, white = {.k = 3, .prep = p};
    assert_true(fabs(kl(x, n, 2, &white) - (kl(w, n, 2, &plain) + ldl)) < 1e-12);
    /* Lower-triangular rescaling of the data: the same whitened rows, the
     * entropy moves by log |det A| = log 6. */
    for (size_t i = 0; i < n; i++) {
        w[2 * i] = 2.0 * x[2 * i];
        w[2 * i + 1] = -1.0 * x[2 * i] + 3.0 * x[2 * i + 1];
    }
    assert_true(fabs(kl(w, n, 2, &white) - (kl(x, n, 2, &white) + log(6.0))) < 1e-9);
    free(w);
    free(x);
}

static void test_duplicates_and_noise(void **state)
{
    (void)state;
    const double x[12] = {0, 0, 1, 0, 1, 0, 2, 1, 2, 1, 0, 3};
    sm_status st = {0};
    double h;
    const sm_entropy_opts k1 = {.k = 1};
    assert_int_equal(sm_entropy_kl(x, 6, 2, &k1, &h, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "k-th neighbour distance is 0 for 4 points: duplicate samples; "
                                "add noise: --noise S, or noise= in Python (KL entropy)");
    /* k = 2 reaches past the duplicates. */
    const sm_entropy_opts k2 = {.k = 2};
    assert_true(fabs(kl(x, 6, 2, &k2) - kl_reference(x, 6, 2, 2, 0)) < 1e-12);

    const sm_entropy_opts n1 = {.k = 1, .prep = {.noise = 1e-6, .seed = 1}};
    const sm_entropy_opts n2 = {.k = 1, .prep = {.noise = 1e-6, .seed = 2}};
    const sm_entropy_opts n0 = {.k = 1, .prep = {.noise = 0.0, .seed = 2}};
    double a = kl(x, 6, 2, &n1);
    assert_true(isfinite(a));
    assert_true(a == kl(x, 6, 2, &n1));
    assert_true(a != kl(x, 6, 2, &n2));
    assert_int_equal(sm_entropy_kl(x, 6, 2, &n0, &h, NULL, &st), SM_ERR_DATA);
    const double y[6] = {0.5, 0.25, 2, 3, 7, 1};
    assert_true(kl(y, 6, 1, &n0) == kl(y, 6, 1, &k1));
}

static void test_usage_and_data_errors(void **state)
{
    (void)state;
    const double x[6] = {0.6, 0.8, 1, 0, 0, 2};
    double h;
    sm_status st = {0};
    const sm_entropy_opts k3 = {.k = 3}, k0 = {.k = 0}, k1 = {.k = 1};
    assert_int_equal(sm_entropy_kl(x, 3, 2, &k3, &h, NULL, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "k must satisfy 1 <= k < N, got k = 3, N = 3 (KL entropy)");
    assert_int_equal(sm_entropy_kl(x, 3, 2, &k0, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_entropy_kl(x, 1, 2, &k1, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_entropy_kl(x, 3, 0, &k1, &h, NULL, &st), SM_ERR_USAGE);
    const sm_entropy_opts s1 = {.k = 1, .sphere = 1};
    const sm_entropy_opts sw = {.k = 1, .sphere = 1, .prep = {.whiten = 1}};
    assert_int_equal(sm_entropy_kl(x, 6, 1, &s1, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_entropy_kl(x, 3, 2, &sw, &h, NULL, &st), SM_ERR_USAGE);
    assert_int_equal(sm_entropy_kl(x, 3, 2, &s1, &h, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "row 2 is not a unit vector (norm 2) but sphere is set (x)");
    const double bad[3] = {0, NAN, 1};
    assert_int_equal(sm_entropy_kl(bad, 3, 1, &k1, &h, NULL, &st), SM_ERR_DATA);
}

static void test_unit_ball_volumes(void **state)
{
    (void)state;
    assert_true(fabs(sm_entropy_log_unit_ball(1, 1) - log(2.0)) < 1e-15);
    assert_true(fabs(sm_entropy_log_unit_ball(2, 1) - log(PI)) < 1e-15);
    assert_true(fabs(sm_entropy_log_unit_ball(3, 1) - log(4.0 * PI / 3.0)) < 1e-15);
    assert_true(fabs(sm_entropy_log_unit_ball(3, 0) - log(8.0)) < 1e-15);
    assert_true(sm_entropy_log_unit_ball(0, 1) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_sets_match_brute_force),
        cmocka_unit_test(test_tiny_sphere_set_matches_brute_force),
        cmocka_unit_test(test_gaussian_ground_truth),
        cmocka_unit_test(test_uniform_sphere_ground_truth),
        cmocka_unit_test(test_vmf_sphere_ground_truth),
        cmocka_unit_test(test_whitening_adds_back_the_jacobian),
        cmocka_unit_test(test_duplicates_and_noise),
        cmocka_unit_test(test_usage_and_data_errors),
        cmocka_unit_test(test_unit_ball_volumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
