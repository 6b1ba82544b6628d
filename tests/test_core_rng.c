/* Tests for src/core/rng.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/rng.h"

static void test_rng_same_seed_same_stream(void **state)
{
    (void)state;
    sm_rng a, b;
    sm_rng_seed(&a, 42, 7);
    sm_rng_seed(&b, 42, 7);
    for (int i = 0; i < 1000; i++) assert_true(sm_rng_next(&a) == sm_rng_next(&b));
}

static void test_rng_streams_differ(void **state)
{
    (void)state;
    sm_rng a, b;
    sm_rng_seed(&a, 42, 0);
    sm_rng_seed(&b, 42, 1);
    int same = 0;
    for (int i = 0; i < 1000; i++) same += sm_rng_next(&a) == sm_rng_next(&b);
    assert_int_equal(same, 0);
}

static void test_rng_uniform_and_normal_moments(void **state)
{
    (void)state;
    sm_rng r;
    sm_rng_seed(&r, 1, 0);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; i++) {
        double u = sm_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        su += u;
        double z = sm_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    /* Standard errors: 1/sqrt(12 n) ~ 6.5e-4, 1/sqrt(n) ~ 2.2e-3, sqrt(2/n) ~ 3.2e-3. */
    assert_true(fabs(su / n - 0.5) < 0.004);
    assert_true(fabs(sn / n) < 0.012);
    assert_true(fabs(sn2 / n - 1.0) < 0.016);
}

static void test_rng_below_in_range_and_covers(void **state)
{
    (void)state;
    sm_rng r;
    sm_rng_seed(&r, 3, 0);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = sm_rng_below(&r, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++) assert_true(seen[i] > 800 && seen[i] < 1200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_same_seed_same_stream),
        cmocka_unit_test(test_rng_streams_differ),
        cmocka_unit_test(test_rng_uniform_and_normal_moments),
        cmocka_unit_test(test_rng_below_in_range_and_covers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
