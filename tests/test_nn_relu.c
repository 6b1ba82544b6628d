/* Tests for src/nn/relu: forward values, backward against central
 * differences (inputs kept away from the kink), accumulation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/relu.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

enum { N = 64 };

static double relu_objective(const double *x, const double *r)
{
    double l = 0.0;
    for (int i = 0; i < N; i++) l += r[i] * (x[i] > 0.0 ? x[i] : 0.0);
    return l;
}

static void test_relu_forward(void **state)
{
    (void)state;
    const float x[5] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f};
    float y[5];
    for (int i = 0; i < 5; i++) y[i] = sm_relu(x[i]);
    const float want[5] = {0.0f, 0.0f, 0.0f, 1e-30f, 3.5f};
    assert_memory_equal(y, want, sizeof want); /* +0 for −0, bit for bit */
}

static void test_relu_backward_finite_differences(void **state)
{
    (void)state;
    sm_rng rng;
    sm_rng_seed(&rng, 41, 0);
    float x[N], y[N], r[N], dx[N] = {0};
    double xd[N], rd[N];
    for (int i = 0; i < N; i++) {
        double u = sm_rng_uniform(&rng);
        x[i] = (float)(i % 2 ? 0.05 + u : -0.05 - u); /* at least 0.05 from the kink */
        r[i] = (float)(2.0 * sm_rng_uniform(&rng) - 1.0);
        xd[i] = x[i];
        rd[i] = r[i];
    }
    for (int i = 0; i < N; i++) y[i] = sm_relu(x[i]);
    sm_relu_backward(N, y, r, dx, 1, NULL, 0);
    const double h = 1e-3;
    for (int i = 0; i < N; i++) {
        double keep = xd[i];
        xd[i] = keep + h;
        double up = relu_objective(xd, rd);
        xd[i] = keep - h;
        double down = relu_objective(xd, rd);
        xd[i] = keep;
        assert_near(dx[i], (up - down) / (2.0 * h), 1e-9);
    }
}

static void test_relu_backward_accumulates(void **state)
{
    (void)state;
    float y[4] = {0.0f, 2.0f, 0.0f, 1.0f}, dy[4] = {5.0f, 6.0f, 7.0f, 8.0f}, dx[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    sm_relu_backward(4, y, dy, dx, 1, NULL, 0);
    const float want[4] = {1.0f, 7.0f, 1.0f, 9.0f};
    assert_memory_equal(dx, want, sizeof want);
}

/* accumulate == 0 sets dx, whatever it held (NaN included). */
static void test_relu_backward_sets(void **state)
{
    (void)state;
    float y[4] = {0.0f, 2.0f, 0.0f, 1.0f}, dy[4] = {5.0f, 6.0f, 7.0f, 8.0f};
    float dx[4] = {NAN, 1.0f, -INFINITY, NAN};
    sm_relu_backward(4, y, dy, dx, 0, NULL, 0);
    const float want[4] = {0.0f, 6.0f, 0.0f, 8.0f};
    assert_memory_equal(dx, want, sizeof want);
}

/* A second destination gets in the same pass, bit for bit, what a call of
 * its own would give it, set or added, over several of the pass's blocks
 * and a tail; a kept −0 stays −0 where set. */
static void test_relu_backward_two_destinations(void **state)
{
    (void)state;
    enum { M = 3 * 4096 + 5 };
    static float y[M], dy[M], dx[M], dx2[M], want[M], want2[M];
    for (int i = 0; i < M; i++) {
        y[i] = i % 3 ? (float)(i % 5) : 0.0f;
        dy[i] = i % 11 == 1 ? -0.0f : (float)(i % 7) - 3.5f;
    }
    for (int add = 0; add < 2; add++)
        for (int add2 = 0; add2 < 2; add2++) {
            for (int i = 0; i < M; i++) {
                dx[i] = want[i] = add ? 0.25f * (float)(i % 4) : NAN;
                dx2[i] = want2[i] = add2 ? -1.0f : NAN;
            }
            sm_relu_backward(M, y, dy, want, add, NULL, 0);
            sm_relu_backward(M, y, dy, want2, add2, NULL, 0);
            sm_relu_backward(M, y, dy, dx, add, dx2, add2);
            assert_memory_equal(dx, want, sizeof want);
            assert_memory_equal(dx2, want2, sizeof want2);
            if (!add) assert_true(signbit(dx[1]) && dx[1] == 0.0f); /* y[1] = 1 kept dy[1] = −0 */
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_forward),
        cmocka_unit_test(test_relu_backward_finite_differences),
        cmocka_unit_test(test_relu_backward_accumulates),
        cmocka_unit_test(test_relu_backward_sets),
        cmocka_unit_test(test_relu_backward_two_destinations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
