/* Tests for src/optim/schedule: cosine endpoints and midpoint, const, the
 * batch scaling rule, and the name table. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/status.h"
#include "optim/schedule.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

static void test_schedule_cosine(void **state)
{
    (void)state;
    assert_near(sm_schedule_lr(SM_SCHEDULE_COSINE, 0.05, 0.0, 800.0), 0.05, 0.0);
    assert_near(sm_schedule_lr(SM_SCHEDULE_COSINE, 0.05, 800.0, 800.0), 0.0, 1e-18);
    assert_near(sm_schedule_lr(SM_SCHEDULE_COSINE, 0.05, 400.0, 800.0), 0.025, 1e-17);
    /* a quarter of the way: ½(1 + cos(π/4)) */
    assert_near(sm_schedule_lr(SM_SCHEDULE_COSINE, 0.05, 200.0, 800.0),
                       0.05 * 0.5 * (1.0 + sqrt(0.5)), 1e-16);
    /* monotone decreasing */
    double prev = 1.0;
    for (int t = 1; t <= 100; t++) {
        double lr = sm_schedule_lr(SM_SCHEDULE_COSINE, 1.0, t, 100.0);
        assert_true(lr < prev);
        prev = lr;
    }
}

static void test_schedule_const_and_scaling(void **state)
{
    (void)state;
    assert_near(sm_schedule_lr(SM_SCHEDULE_CONST, 0.03, 0.0, 10.0), 0.03, 0.0);
    assert_near(sm_schedule_lr(SM_SCHEDULE_CONST, 0.03, 10.0, 10.0), 0.03, 0.0);
    assert_near(sm_schedule_scaled_lr(0.05, 512), 0.1, 1e-17);
    assert_near(sm_schedule_scaled_lr(0.03, 256), 0.03, 0.0);
    assert_near(sm_schedule_scaled_lr(0.03, 64), 0.0075, 1e-17);
}

static void test_schedule_names(void **state)
{
    (void)state;
    /* The names are the words of the `schedule` configuration key (io/config.c). */
    assert_string_equal(sm_schedule_name(SM_SCHEDULE_COSINE), "cosine");
    assert_string_equal(sm_schedule_name(SM_SCHEDULE_CONST), "const");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_cosine),
        cmocka_unit_test(test_schedule_const_and_scaling),
        cmocka_unit_test(test_schedule_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
