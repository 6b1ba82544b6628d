/* Tests for src/nn/loss: values against hand computations and closed forms,
 * gradients w.r.t. p against central differences of double references, the
 * stop-gradient/scale/accumulate contract, and the name table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "core/status.h"
#include "nn/loss.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

static const double LOG_2PI = 1.8378770664093454836;

/* The three definitions of loss.h in double, written out independently. */
static double ref_loss(sm_loss_kind kind, size_t n, size_t d, const double *p, const double *z)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        double pz = 0.0, pp = 0.0, zz = 0.0, rr = 0.0;
        for (size_t j = 0; j < d; j++) {
            double a = p[i * d + j], b = z[i * d + j];
            pz += a * b;
            pp += a * a;
            zz += b * b;
            rr += (a - b) * (a - b);
        }
        if (kind == SM_LOSS_COSINE) total -= pz / (fmax(sqrt(pp), 1e-8) * fmax(sqrt(zz), 1e-8));
        else total += kind == SM_LOSS_L2 ? 0.5 * rr : rr;
    }
    if (kind != SM_LOSS_GAUSS) return total / (double)n;
    double var = total / (double)(n * d);
    return 0.5 * (double)d * log(2.0 * acos(-1.0) * exp(1.0) * var);
}

/* Forward against the reference; backward with scale ½ against central
 * differences with steps 1e-5 · max|p|: |g − fd| <= 1e-6 · max|fd|. */
static void check_kind(sm_loss_kind kind, size_t n, size_t d, const float *p, const float *z)
{
    size_t count = n * d;
    double *pd = calloc(count, sizeof *pd), *zd = calloc(count, sizeof *zd), *fd = calloc(count, sizeof *fd);
    float *dp = malloc(count * sizeof *dp);
    assert_true(pd && zd && fd && dp);
    for (size_t k = 0; k < count; k++) {
        pd[k] = p[k];
        zd[k] = z[k];
        dp[k] = 0.0f;
    }
    double want = ref_loss(kind, n, d, pd, zd);
    assert_near(sm_loss_forward(kind, n, d, p, z), want, 1e-12 * fmax(1.0, fabs(want)));
    sm_loss_backward(kind, n, d, p, z, 0.5f, dp);
    double h = 0.0, scale = 0.0;
    for (size_t k = 0; k < count; k++) h = fmax(h, 1e-5 * fabs(pd[k]));
    for (size_t k = 0; k < count; k++) {
        double keep = pd[k];
        pd[k] = keep + h;
        double up = ref_loss(kind, n, d, pd, zd);
        pd[k] = keep - h;
        double down = ref_loss(kind, n, d, pd, zd);
        pd[k] = keep;
        fd[k] = 0.5 * (up - down) / (2.0 * h);
        scale = fmax(scale, fabs(fd[k]));
    }
    assert_true(scale > 1e-3);
    for (size_t k = 0; k < count; k++)
        if (fabs(dp[k] - fd[k]) > 1e-6 * scale)
            fail_msg("%s gradient %zu: analytic %.9g, finite difference %.9g", sm_loss_name(kind), k,
                     dp[k], fd[k]);
    free(pd);
    free(zd);
    free(fd);
    free(dp);
}

static void random_pair(size_t count, float *p, float *z, uint64_t stream)
{
    sm_rng rng;
    sm_rng_seed(&rng, 51, stream);
    for (size_t k = 0; k < count; k++) {
        z[k] = (float)sm_rng_normal(&rng);
        p[k] = z[k] + (float)(0.7 * sm_rng_normal(&rng));
    }
}

static void test_loss_gradients_match_finite_differences(void **state)
{
    (void)state;
    enum { N = 6, D = 5 };
    float p[N * D], z[N * D];
    random_pair(N * D, p, z, 0);
    check_kind(SM_LOSS_COSINE, N, D, p, z);
    check_kind(SM_LOSS_L2, N, D, p, z);
    check_kind(SM_LOSS_GAUSS, N, D, p, z);
}

static void test_loss_hand_values(void **state)
{
    (void)state;
    /* rows: p = z, orthogonal, 45 degrees */
    const float p[6] = {2, 0, 1, 0, 1, 1}, z[6] = {3, 0, 0, 5, 1, 0};
    assert_near(sm_loss_forward(SM_LOSS_COSINE, 1, 2, p, z), -1.0, 1e-15);
    assert_near(sm_loss_forward(SM_LOSS_COSINE, 1, 2, p + 2, z + 2), 0.0, 1e-15);
    assert_near(sm_loss_forward(SM_LOSS_COSINE, 3, 2, p, z), -(1.0 + sqrt(0.5)) / 3.0, 1e-15);
    /* residuals (−1, 0), (1, −5), (0, 1): squared norms 1, 26, 1 */
    assert_near(sm_loss_forward(SM_LOSS_L2, 3, 2, p, z), 0.5 * 28.0 / 3.0, 1e-15);
    /* σ̂² = 28 / 6 */
    assert_near(sm_loss_forward(SM_LOSS_GAUSS, 3, 2, p, z), LOG_2PI + 1.0 + log(28.0 / 6.0), 1e-14);
}

/* gauss is the mean NLL of z under N(p, σ̂² I) written term by term, and σ̂²
 * is its minimiser: any other σ² gives a larger mean NLL. */
static void test_loss_gauss_is_fitted_gaussian_nll(void **state)
{
    (void)state;
    enum { N = 50, D = 4 };
    float p[N * D], z[N * D];
    random_pair(N * D, p, z, 1);
    double rr = 0.0;
    for (int k = 0; k < N * D; k++) rr += ((double)p[k] - z[k]) * ((double)p[k] - z[k]);
    double var = rr / (N * D);
    for (int f = -1; f <= 1; f++) {
        double s2 = var * (1.0 + 0.1 * f), nll = 0.0;
        for (int i = 0; i < N; i++) {
            double r2 = 0.0;
            for (int j = 0; j < D; j++) r2 += ((double)p[i * D + j] - z[i * D + j]) * ((double)p[i * D + j] - z[i * D + j]);
            nll += 0.5 * D * (LOG_2PI + log(s2)) + r2 / (2.0 * s2);
        }
        nll /= N;
        double loss = sm_loss_forward(SM_LOSS_GAUSS, N, D, p, z);
        if (f == 0) assert_near(loss, nll, 1e-12);
        else assert_true(nll > loss + 1e-4);
    }
}

/* Degenerate inputs: a zero residual makes gauss −∞ with zero gradient; a
 * prediction below the cosine clamp gets the clamped (linear) gradient. */
static void test_loss_degenerate_inputs(void **state)
{
    (void)state;
    const float z[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    float dp[4] = {0};
    double v = sm_loss_forward(SM_LOSS_GAUSS, 2, 2, z, z);
    assert_true(isinf(v) && v < 0);
    sm_loss_backward(SM_LOSS_GAUSS, 2, 2, z, z, 1.0f, dp);
    for (int k = 0; k < 4; k++) assert_true(dp[k] == 0.0f);
    float tiny[4] = {3e-9f, -1e-9f, 2e-9f, 2e-9f};
    check_kind(SM_LOSS_COSINE, 2, 2, tiny, z);
}

/* Backward adds scale · ∂D/∂p onto dp: calling it twice with ½ equals once
 * with 1 (for the symmetric loss), and z never receives anything. */
static void test_loss_backward_accumulates(void **state)
{
    (void)state;
    enum { N = 4, D = 3 };
    float p[N * D], z[N * D], z_copy[N * D];
    random_pair(N * D, p, z, 2);
    memcpy(z_copy, z, sizeof z);
    for (int kind = SM_LOSS_COSINE; kind <= SM_LOSS_GAUSS; kind++) {
        float once[N * D] = {0}, half[N * D] = {0}, twice[N * D];
        sm_loss_backward((sm_loss_kind)kind, N, D, p, z, 1.0f, once);
        sm_loss_backward((sm_loss_kind)kind, N, D, p, z, 0.5f, half);
        memcpy(twice, half, sizeof half);
        sm_loss_backward((sm_loss_kind)kind, N, D, p, z, 0.5f, twice);
        for (int k = 0; k < N * D; k++) {
            assert_true(twice[k] == half[k] + half[k]);
            assert_near(twice[k], once[k], 1e-6 * fabs(once[k]));
        }
    }
    assert_memory_equal(z, z_copy, sizeof z);
}

static void test_loss_names(void **state)
{
    (void)state;
    /* The names are the words of the `loss` configuration key (io/config.c). */
    assert_string_equal(sm_loss_name(SM_LOSS_COSINE), "cosine");
    assert_string_equal(sm_loss_name(SM_LOSS_L2), "l2");
    assert_string_equal(sm_loss_name(SM_LOSS_GAUSS), "gauss");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_gradients_match_finite_differences),
        cmocka_unit_test(test_loss_hand_values),
        cmocka_unit_test(test_loss_gauss_is_fitted_gaussian_nll),
        cmocka_unit_test(test_loss_degenerate_inputs),
        cmocka_unit_test(test_loss_backward_accumulates),
        cmocka_unit_test(test_loss_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
