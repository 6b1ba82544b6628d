/* Tests for src/nn/residual: y = a + b (also in place, through maps, with
 * the ReLU) and its backward, checked by central differences and for
 * accumulation into both inputs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/channel_map.h"
#include "nn/residual.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

enum { N = 32 };

/* Σ r · (a + b), or Σ r · max(a + b, 0). */
static double objective(const double *a, const double *b, const double *r, int relu)
{
    double l = 0.0;
    for (int i = 0; i < N; i++) l += r[i] * (relu ? fmax(a[i] + b[i], 0.0) : a[i] + b[i]);
    return l;
}

static void test_residual_forward(void **state)
{
    (void)state;
    float a[3] = {1.0f, -2.0f, 0.5f}, b[3] = {0.25f, 2.0f, -4.0f}, y[3];
    sm_residual_forward(1, 1, 3, a, NULL, b, NULL, 0, y);
    assert_true(y[0] == 1.25f && y[1] == 0.0f && y[2] == -3.5f);
    sm_residual_forward(1, 1, 3, a, NULL, b, NULL, 0, a); /* in place onto the main path */
    assert_memory_equal(a, y, sizeof y);
    float r[3];
    sm_residual_forward(1, 1, 3, a, NULL, b, NULL, 1, r); /* with the ReLU: 1.25 + 0.25, 0 + 2, −3.5 − 4 cut */
    assert_true(r[0] == 1.5f && r[1] == 2.0f && r[2] == 0.0f);
}

/* An operand through a map, by hand: two images of two channels of two
 * values, channel 0 (b − 1) · 2 + 0.5 cut at 0, channel 1 (b + 1) · 0.5 − 1. */
static void test_residual_forward_mapped_operands(void **state)
{
    (void)state;
    const float mean[2] = {1.0f, -1.0f}, scale[2] = {2.0f, 0.5f}, shift[2] = {0.5f, -1.0f};
    const sm_channel_map map = {mean, scale, shift, 1};
    float a[8] = {1, 1, 1, 1, 2, 2, 2, 2}, y[8];
    const float b[8] = {3, 0, 5, -3, 1, 1.5f, 1, 3};
    sm_residual_forward(2, 2, 2, a, NULL, b, &map, 0, y);
    /* image 0: channel 0 4.5, cut (−1.5); channel 1 2, cut (−2);
     * image 1: channel 0 0.5, 1.5; channel 1 cut (0), 1 */
    const float want[8] = {1 + 4.5f, 1 + 0.0f, 1 + 2.0f, 1 + 0.0f, 2 + 0.5f, 2 + 1.5f, 2 + 0.0f, 2 + 1.0f};
    assert_memory_equal(y, want, sizeof want);
    float both[8];
    sm_residual_forward(2, 2, 2, b, &map, a, NULL, 0, both); /* the map on the other operand */
    assert_memory_equal(both, want, sizeof want);
    sm_residual_forward(2, 2, 2, a, NULL, b, &map, 0, a); /* in place onto the main path */
    assert_memory_equal(a, want, sizeof want);
    /* both through the map: the mapped b twice */
    const float twice[8] = {9.0f, 0.0f, 4.0f, 0.0f, 1.0f, 3.0f, 0.0f, 2.0f};
    sm_residual_forward(2, 2, 2, b, &map, b, &map, 0, both);
    assert_memory_equal(both, twice, sizeof twice);
}

/* With and without the ReLU (sums kept away from its kink, where central
 * differences would straddle it). */
static void test_residual_backward_finite_differences(void **state)
{
    (void)state;
    sm_rng rng;
    sm_rng_seed(&rng, 42, 0);
    for (int relu = 0; relu < 2; relu++) {
        double a[N], b[N], r[N];
        float y[N], dy[N], da[N], db[N];
        for (int i = 0; i < N; i++) {
            a[i] = sm_rng_normal(&rng);
            b[i] = sm_rng_normal(&rng);
            if (fabs(a[i] + b[i]) < 0.01) b[i] += 0.1;
            y[i] = (float)fmax(a[i] + b[i], 0.0);
            dy[i] = (float)sm_rng_normal(&rng);
            r[i] = dy[i];
            da[i] = 0.5f; /* accumulates onto these */
            db[i] = -1.0f;
        }
        sm_residual_backward(N, relu ? y : NULL, dy, da, 1, db, 1);
        const double h = 1e-3;
        for (int i = 0; i < N; i++) {
            double *v[2] = {a, b};
            const float *g[2] = {da, db}, base[2] = {0.5f, -1.0f};
            for (int k = 0; k < 2; k++) {
                double keep = v[k][i];
                v[k][i] = keep + h;
                double up = objective(a, b, r, relu);
                v[k][i] = keep - h;
                double down = objective(a, b, r, relu);
                v[k][i] = keep;
                assert_near(g[k][i] - base[k], (up - down) / (2.0 * h), 1e-6);
            }
        }
    }
}

/* Each input's gradient is set or added to as its own flag says, with and
 * without the ReLU's mask, over a count large enough for every thread to
 * get a share and no multiple of a vector's width. */
static void test_residual_backward_sets_or_adds(void **state)
{
    (void)state;
    enum { M = 2565 };
    static float y[M], dy[M], da[M], db[M];
    for (int i = 0; i < M; i++) {
        dy[i] = (float)(i % 7) - 3.0f;
        y[i] = i % 3 ? 1.0f : 0.0f;
    }
    for (int relu = 0; relu < 2; relu++)
        for (int set_a = 0; set_a < 2; set_a++)
            for (int set_b = 0; set_b < 2; set_b++) {
                for (int i = 0; i < M; i++) {
                    da[i] = set_a ? NAN : 0.25f; /* a set gradient ignores what was there */
                    db[i] = set_b ? NAN : 0.25f;
                }
                sm_residual_backward(M, relu ? y : NULL, dy, da, !set_a, db, !set_b);
                for (int i = 0; i < M; i++) {
                    const float g = relu && y[i] == 0.0f ? 0.0f : dy[i];
                    if (da[i] != (set_a ? g : 0.25f + g)) fail_msg("relu %d set_a %d: da[%d] = %g", relu, set_a, i, da[i]);
                    if (db[i] != (set_b ? g : 0.25f + g)) fail_msg("relu %d set_b %d: db[%d] = %g", relu, set_b, i, db[i]);
                }
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residual_forward),
        cmocka_unit_test(test_residual_forward_mapped_operands),
        cmocka_unit_test(test_residual_backward_finite_differences),
        cmocka_unit_test(test_residual_backward_sets_or_adds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
