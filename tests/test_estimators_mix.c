/* Tests for src/estimators/mix: the Gaussian-mixture NLL family on residuals,
 * its E-step by hand, EM against known mixtures, cross-fitting, errors. */
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
#include "core/threads.h"
#include "estimators/gauss.h"
#include "estimators/mix.h"
#include "estimators/nll.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.17g, want %.17g (|diff| %.3g > tol %.3g)", what, got, want,
                 fabs(got - want), tol);
}

static double *doubles(size_t n)
{
    double *x = calloc(n, sizeof *x);
    assert_non_null(x);
    return x;
}

static double nll_full(const double *z, const double *p, size_t n, size_t d)
{
    sm_status st;
    sm_nll_model *m = sm_nll_model_alloc(SM_NLL_FULL, d, &st);
    assert_non_null(m);
    if (sm_nll_model_fit(m, z, p, n, NULL, &st)) fail_msg("nll_full: %s", st.msg);
    const double v = m->mean_nll;
    sm_nll_model_free(m);
    return v;
}

static double crossfit(const double *z, const double *p, size_t n, size_t d, const sm_mix_opts *o,
                       sm_arena *ws)
{
    sm_status st;
    double v;
    if (sm_mix_nll_crossfit(z, p, n, d, o, &v, ws, &st)) fail_msg("crossfit: %s", st.msg);
    return v;
}

/* ---- the E-step and the M-step by hand ---------------------------------------- */

/* d = 1, π = (¼, ¾), m = (0, 2), σ = (1, ½), so with φ the standard normal
 * density q(r) = ¼ φ(r) + ¾ · 2 φ(2(r − 2)):
 *   r = 0: ¼ · 0.398942 + 1.5 · 0.000134 = 0.099736 + 0.000201   log q = −2.303222, P(1|r) = 0.997991
 *   r = 1: ¼ · 0.241971 + 1.5 · 0.053991 = 0.060493 + 0.080986   log q = −1.955603, P(1|r) = 0.427573
 *   r = 2: ¼ · 0.053991 + 1.5 · 0.398942 = 0.013498 + 0.598413   log q = −0.491168, P(1|r) = 0.022058 */
static void test_e_step_by_hand(void **state)
{
    (void)state;
    sm_status st;
    sm_mix_model *m = sm_mix_model_alloc(2, 1, &st);
    assert_non_null(m);
    m->weight[0] = 0.25, m->weight[1] = 0.75;
    m->mean[0] = 0.0, m->mean[1] = 2.0;
    m->chol[0] = 1.0, m->chol[1] = 0.5;
    const double r[3] = {0, 1, 2};
    const double want_lq[3] = {-2.303222, -1.955603, -0.491168};
    const double want_p1[3] = {0.997991, 0.427573, 0.022058};
    double lq[3], resp[6];
    assert_int_equal(sm_mix_model_log_q(m, r, 3, lq, resp, NULL, &st), SM_OK);
    for (int i = 0; i < 3; i++) {
        const double a = 0.25 * exp(-0.5 * r[i] * r[i]) / sqrt(2.0 * M_PI);
        const double b = 1.5 * exp(-2.0 * (r[i] - 2.0) * (r[i] - 2.0)) / sqrt(2.0 * M_PI);
        assert_close(lq[i], log(a + b), 1e-14, "log q, formula");
        assert_close(resp[2 * i], a / (a + b), 1e-14, "posterior, formula");
        assert_close(lq[i], want_lq[i], 1e-6, "log q, by hand");
        assert_close(resp[2 * i], want_p1[i], 1e-6, "posterior, by hand");
        assert_close(resp[2 * i] + resp[2 * i + 1], 1.0, 1e-15, "posteriors sum to 1");
    }
    sm_mix_model_free(m);
}

/* K = 1 without a ridge is the ML Gaussian: on r = 0, 1, 2 the mean is 1, the
 * variance (1 + 0 + 1)/3 = ⅔ and the mean log-likelihood −½ log(2πe·⅔). */
static void test_one_component_is_the_ml_gaussian(void **state)
{
    (void)state;
    sm_status st;
    sm_mix_opts o;
    sm_mix_defaults(&o, 1);
    o.components = 1, o.ridge = 0.0;
    sm_mix_model *m = sm_mix_model_alloc(1, 1, &st);
    assert_non_null(m);
    const double r[3] = {0, 1, 2};
    assert_int_equal(sm_mix_model_fit(m, r, 3, &o, NULL, &st), SM_OK);
    assert_close(m->weight[0], 1.0, 1e-15, "π");
    assert_close(m->mean[0], 1.0, 1e-15, "mean");
    assert_close(m->chol[0] * m->chol[0], 2.0 / 3.0, 1e-15, "variance");
    assert_close(m->loglik, -0.5 * log(2.0 * M_PI * M_E * 2.0 / 3.0), 1e-14, "log-likelihood");
    sm_mix_model_free(m);
}

/* ---- cross-fitting against known densities ------------------------------------ */

/* Rows p ~ N(0, I) and z = p + r for residuals r drawn by `draw`. */
typedef void (*residual_fn)(sm_rng *rng, size_t d, double *r);

static void make_rows(uint64_t seed, size_t n, size_t d, residual_fn draw, double *z, double *p)
{
    sm_rng rng;
    sm_rng_seed(&rng, seed, 0);
    for (size_t i = 0; i < n; i++) {
        draw(&rng, d, z + i * d);
        for (size_t j = 0; j < d; j++) {
            p[i * d + j] = sm_rng_normal(&rng);
            z[i * d + j] += p[i * d + j];
        }
    }
}

enum { BIMODAL_SHIFT = 2 };
static const double BIMODAL_SD = 0.3;

/* r = ±2 e1 with probability ½ each, plus N(0, 0.3² I). */
static void bimodal(sm_rng *rng, size_t d, double *r)
{
    const double sign = sm_rng_uniform(rng) < 0.5 ? -1.0 : 1.0;
    for (size_t j = 0; j < d; j++) r[j] = BIMODAL_SD * sm_rng_normal(rng);
    r[0] += sign * BIMODAL_SHIFT;
}

/* The true density's −log f(r). */
static double bimodal_nll(const double *r, size_t d)
{
    const double s2 = BIMODAL_SD * BIMODAL_SD;
    double rest = 0.0;
    for (size_t j = 1; j < d; j++) rest += r[j] * r[j];
    const double a = -0.5 * pow(r[0] - BIMODAL_SHIFT, 2) / s2, b = -0.5 * pow(r[0] + BIMODAL_SHIFT, 2) / s2;
    const double top = fmax(a, b);
    const double log_mix = top + log(0.5 * exp(a - top) + 0.5 * exp(b - top));
    return 0.5 * (double)d * log(2.0 * M_PI * s2) + 0.5 * rest / s2 - log_mix;
}

/* The mixture recovers a bimodal residual that the full Gaussian cannot.
 * Closed form: the modes are 2·2/0.3 = 13 sd apart, so the entropy is that
 * of one component plus log 2 up to the binary entropy of the Bayes error
 * Φ(−6.7) ≈ 1e−11:  H = (d/2) log(2πe·0.09) + log 2.  nll_full is
 * ½ log det(2πe diag(4.09, 0.09, …)), 1.2 nats above H.
 * Tolerances: the held-out penalty of 4 fitted components is ~0.01 at d = 2
 * and 0.02-0.03 at d = 4 on 2000 fit rows (test_gaussian_residual's d = 4
 * case at n = 4000), so nll_mix may sit up to 0.04 above the true density's
 * NLL on the same rows; that NLL has sd sqrt(d/2) <= 1.42 per row (the
 * chi-square part), so its mean over n = 4000 rows is within 3 sd = 0.067
 * of H. */
static void test_bimodal_residual(void **state)
{
    (void)state;
    const size_t n = 4000;
    sm_arena ws = {0};
    for (size_t d = 2; d <= 4; d++) {
        double *z = doubles(n * d), *p = doubles(n * d), *r = doubles(d);
        make_rows(10 + d, n, d, bimodal, z, p);
        sm_mix_opts o;
        sm_mix_defaults(&o, 3);
        const double mix = crossfit(z, p, n, d, &o, &ws);
        const double full = nll_full(z, p, n, d);
        double same_rows = 0.0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < d; j++) r[j] = z[i * d + j] - p[i * d + j];
            same_rows += bimodal_nll(r, d) / (double)n;
        }
        const double h = 0.5 * (double)d * log(2.0 * M_PI * M_E * BIMODAL_SD * BIMODAL_SD) + log(2.0);
        print_message("d = %zu: nll_mix %.4f, nll_full %.4f, H %.4f, true density on the rows %.4f\n",
                      d, mix, full, h, same_rows);
        if (!(mix <= full - 0.1)) fail_msg("d = %zu: nll_mix %.4f not below nll_full %.4f - 0.1", d, mix, full);
        assert_close(mix, h, 0.067 + 0.04, "nll_mix vs H");
        if (!(mix >= same_rows - 0.005 && mix <= same_rows + 0.04))
            fail_msg("d = %zu: nll_mix %.4f vs the true density on the same rows %.4f", d, mix, same_rows);
        free(z);
        free(p);
        free(r);
    }
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
}

/* r ~ N(0, A Aᵀ) with correlated, unequal coordinates. */
static void gaussian(sm_rng *rng, size_t d, double *r)
{
    double g[8];
    assert_true(d <= 8);
    for (size_t j = 0; j < d; j++) g[j] = sm_rng_normal(rng);
    for (size_t j = 0; j < d; j++) {
        r[j] = (0.5 + 0.3 * (double)j) * g[j];
        if (j > 0) r[j] += 0.4 * g[j - 1];
    }
}

/* A Gaussian residual with mean 0: the mixture gains nothing over full and
 * pays the held-out penalty of its K (1 + d + d(d + 1)/2) parameters: 23 at
 * d = 2, ~0.005 nats on 2000 fit rows; 59 at d = 4, 0.02-0.03 nats on 2000
 * rows, so that case takes n = 8000 (~0.01). */
static void test_gaussian_residual(void **state)
{
    (void)state;
    const size_t ns[] = {4000, 8000}, ds[] = {2, 4};
    for (int c = 0; c < 2; c++) {
        const size_t n = ns[c], d = ds[c];
        double *z = doubles(n * d), *p = doubles(n * d);
        make_rows(20 + d, n, d, gaussian, z, p);
        sm_mix_opts o;
        sm_mix_defaults(&o, 5);
        const double mix = crossfit(z, p, n, d, &o, NULL), full = nll_full(z, p, n, d);
        print_message("Gaussian residual, d = %zu, n = %zu: nll_mix %.4f, nll_full %.4f\n", d, n, mix, full);
        assert_close(mix, full, 0.02, "nll_mix vs nll_full");
        free(z);
        free(p);
    }
}

/* K = 1, ridge 0: exactly the Gaussian with a free mean fitted on the other
 * half, computed here from sm_gauss_cov. */
static void test_one_component_crossfit(void **state)
{
    (void)state;
    const size_t n = 501, d = 3, half = n / 2;
    double *z = doubles(n * d), *p = doubles(n * d), *r = doubles(n * d);
    make_rows(30, n, d, gaussian, z, p);
    for (size_t i = 0; i < n * d; i++) r[i] = z[i] - p[i];
    sm_mix_opts o;
    sm_mix_defaults(&o, 7);
    o.components = 1, o.ridge = 0.0;
    const double mix = crossfit(z, p, n, d, &o, NULL);

    const size_t fold[2][2] = {{0, half}, {half, n}};
    double want = 0.0, mean[3], cov[9];
    for (int f = 0; f < 2; f++) {
        assert_int_equal(sm_gauss_cov(r + fold[f][0] * d, fold[f][1] - fold[f][0], d, mean, cov, NULL), SM_OK);
        assert_int_equal(sm_gauss_cholesky(cov, d, 0.0, "test", NULL), SM_OK);
        const double logdet = sm_gauss_cholesky_logdet(cov, d);
        for (size_t i = fold[1 - f][0]; i < fold[1 - f][1]; i++) {
            double u[3], maha = 0.0; /* u = L⁻¹(r − mean) by forward substitution */
            for (size_t a = 0; a < d; a++) {
                double s = r[i * d + a] - mean[a];
                for (size_t b = 0; b < a; b++) s -= cov[a * d + b] * u[b];
                u[a] = s / cov[a * d + a];
                maha += u[a] * u[a];
            }
            want += 0.5 * ((double)d * log(2.0 * M_PI) + logdet + maha) / (double)n;
        }
    }
    assert_close(mix, want, 1e-12, "K = 1 cross-fit");
    free(z);
    free(p);
    free(r);
}

/* ---- determinism and errors ------------------------------------------------------ */

static void test_same_seed_same_bits(void **state)
{
    (void)state;
    const size_t n = 1000, d = 3;
    double *z = doubles(n * d), *p = doubles(n * d);
    make_rows(40, n, d, bimodal, z, p);
    sm_mix_opts o;
    sm_mix_defaults(&o, 11);
    const int threads = sm_threads_get();
    sm_threads_set(1);
    const double a = crossfit(z, p, n, d, &o, NULL), b = crossfit(z, p, n, d, &o, NULL);
    sm_threads_set(2);
    const double c = crossfit(z, p, n, d, &o, NULL);
    sm_threads_set(threads);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_equal(&a, &c, sizeof a);
    free(z);
    free(p);
}

static void test_errors(void **state)
{
    (void)state;
    const size_t n = 40, d = 2;
    double *z = doubles(n * d), *p = doubles(n * d), v = 0.0;
    make_rows(50, n, d, gaussian, z, p);
    sm_mix_opts o;
    sm_mix_defaults(&o, 1);
    sm_status st;

    z[7 * d + 1] = NAN;
    assert_int_equal(sm_mix_nll_crossfit(z, p, n, d, &o, &v, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "non-finite value in z - p at row 7, column 1"));
    z[7 * d + 1] = 0.5;

    /* 4 components in 2-d need 12 rows per half: 23 rows give 11. */
    assert_int_equal(sm_mix_nll_crossfit(z, p, 23, d, &o, &v, NULL, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "need at least K (d + 1) = 12 rows in each half"));
    assert_int_equal(sm_mix_nll_crossfit(z, p, 24, d, &o, &v, NULL, &st), SM_OK);

    o.components = 0;
    assert_int_equal(sm_mix_nll_crossfit(z, p, n, d, &o, &v, NULL, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "at least 1 component"));
    assert_null(sm_mix_model_alloc(0, d, &st));
    assert_int_equal(st.code, SM_ERR_USAGE);
    o.components = 2;
    o.ridge = -1.0;
    assert_int_equal(sm_mix_nll_crossfit(z, p, n, d, &o, &v, NULL, &st), SM_ERR_USAGE);
    o.ridge = 1e-6;

    /* Residuals on a line: no full covariance. */
    for (size_t i = 0; i < n; i++) z[i * d + 1] = p[i * d + 1] + 2.0 * (z[i * d] - p[i * d]);
    assert_int_equal(sm_mix_nll_crossfit(z, p, n, d, &o, &v, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "not positive definite"));
    assert_non_null(strstr(st.msg, "do not span all 2 directions"));
    free(z);
    free(p);
}

/* Without a ridge a component that settles on repeated rows has a singular
 * covariance: half of 1-d residuals sit at exactly 0, the rest spread. */
static void test_collapse_without_ridge(void **state)
{
    (void)state;
    enum { N = 40 };
    double r[N];
    sm_rng rng;
    sm_rng_seed(&rng, 60, 0);
    for (size_t i = 0; i < N; i++) r[i] = i % 2 ? 5.0 + sm_rng_normal(&rng) : 0.0;
    sm_mix_opts o;
    sm_mix_defaults(&o, 2);
    o.components = 2, o.ridge = 0.0;
    sm_status st;
    sm_mix_model *m = sm_mix_model_alloc(2, 1, &st);
    assert_non_null(m);
    assert_int_equal(sm_mix_model_fit(m, r, N, &o, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "all 4 EM starts degenerated"));
    assert_true(m->weight[0] == 0.0); /* unchanged on error */
    o.ridge = 1e-6; /* the default ridge keeps the component */
    assert_int_equal(sm_mix_model_fit(m, r, N, &o, NULL, &st), SM_OK);
    print_message("with the ridge: π = (%.3f, %.3f), %zu M-steps\n", m->weight[0], m->weight[1], m->iters);
    sm_mix_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e_step_by_hand),
        cmocka_unit_test(test_one_component_is_the_ml_gaussian),
        cmocka_unit_test(test_bimodal_residual),
        cmocka_unit_test(test_gaussian_residual),
        cmocka_unit_test(test_one_component_crossfit),
        cmocka_unit_test(test_same_seed_same_bits),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_collapse_without_ridge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
