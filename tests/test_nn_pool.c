/* Tests for src/nn/pool (global average pooling): forward against the mean
 * of each map, backward against central differences and accumulation. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/pool.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

enum { N = 3, C = 4, HW = 7 * 7 };

static double objective(const double *x, const double *r)
{
    double l = 0.0;
    for (int m = 0; m < N * C; m++) {
        double s = 0.0;
        for (int t = 0; t < HW; t++) s += x[m * HW + t];
        l += r[m] * s / HW;
    }
    return l;
}

static void test_pool_forward_is_map_mean(void **state)
{
    (void)state;
    float x[2 * 3 * 4], y[6];
    for (int i = 0; i < 24; i++) x[i] = (float)i; /* map m holds 4m .. 4m + 3 */
    sm_pool_forward(2, 3, 4, x, y);
    for (int m = 0; m < 6; m++) assert_true(y[m] == 4.0f * m + 1.5f);
}

static void test_pool_backward_finite_differences(void **state)
{
    (void)state;
    sm_rng rng;
    sm_rng_seed(&rng, 43, 0);
    static double x[N * C * HW];
    static float dx[N * C * HW];
    double r[N * C];
    float dy[N * C];
    for (int i = 0; i < N * C * HW; i++) {
        x[i] = sm_rng_normal(&rng);
        dx[i] = 1.0f;
    }
    for (int m = 0; m < N * C; m++) r[m] = dy[m] = (float)sm_rng_normal(&rng);
    sm_pool_backward(N, C, HW, dy, dx);
    const double h = 1e-3;
    for (int i = 0; i < N * C * HW; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = objective(x, r);
        x[i] = keep - h;
        double down = objective(x, r);
        x[i] = keep;
        assert_near(dx[i] - 1.0f, (up - down) / (2.0 * h), 2e-7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_forward_is_map_mean),
        cmocka_unit_test(test_pool_backward_finite_differences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
