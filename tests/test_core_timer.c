/* Tests for src/core/timer.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "core/timer.h"

static void test_timer_is_monotonic_and_in_seconds(void **state)
{
    (void)state;
    double prev = sm_timer_now();
    for (int i = 0; i < 1000; i++) {
        double now = sm_timer_now();
        assert_true(now >= prev);
        prev = now;
    }
    /* Units: a 20 ms sleep advances the clock by at least 0.02 s (not a speed
     * threshold: sleeping can only take longer). */
    struct timespec ts = {0, 20 * 1000 * 1000};
    double t0 = sm_timer_now();
    nanosleep(&ts, NULL);
    assert_true(sm_timer_now() - t0 >= 0.0199);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_is_monotonic_and_in_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
