/* Tests for src/core: RNG streams, checked allocation, arena, status, BLAS link. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"

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

static void test_mem_overflow_is_an_error(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    void *p = sm_mem_alloc(SIZE_MAX / 2, 4, &st);
    assert_null(p);
    assert_int_equal(st.code, SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "overflows"));
    p = sm_mem_alloc_aligned(10, sizeof(double), &st);
    assert_non_null(p);
    assert_true(((uintptr_t)p % 64) == 0);
    sm_mem_free(p);
}

static void test_status_message_has_where_and_one_line(void **state)
{
    (void)state;
    sm_status st;
    int rc = sm_status_fail(&st, SM_ERR_USAGE, "a\nb.npy", "bad %s", "magic");
    assert_int_equal(rc, SM_ERR_USAGE);
    assert_string_equal(st.msg, "bad magic (a b.npy)");
    assert_int_equal(sm_status_fail(NULL, SM_ERR_DATA, NULL, "x"), SM_ERR_DATA);
}

static void test_arena_mark_release_reuse(void **state)
{
    (void)state;
    sm_arena a = {0};
    sm_status st;
    size_t m0 = sm_arena_mark(&a);
    double *x = sm_arena_alloc(&a, 1000, sizeof *x, &st);
    assert_non_null(x);
    assert_true(((uintptr_t)x % 64) == 0);
    size_t m1 = sm_arena_mark(&a);
    double *big = sm_arena_alloc(&a, 1 << 20, sizeof *big, &st); /* forces a second block */
    assert_non_null(big);
    big[(1 << 20) - 1] = 1.0;
    x[999] = 2.0;
    sm_arena_release(&a, m1);
    assert_int_equal(sm_arena_mark(&a), m1);
    assert_true(x[999] == 2.0); /* memory before the mark is untouched */
    double *again = sm_arena_alloc(&a, 10, sizeof *again, &st);
    assert_non_null(again);
    assert_true(again[0] == 0.0); /* zeroed */
    sm_arena_release(&a, m0);
    assert_int_equal(sm_arena_mark(&a), 0);
    assert_null(sm_arena_alloc(&a, SIZE_MAX / 4, 8, &st));
    assert_int_equal(st.code, SM_ERR_DATA);
    sm_arena_free(&a);
}

static void test_blas_is_openblas(void **state)
{
    (void)state;
    /* openblas_get_config exists only in OpenBLAS: if -lgslcblas had won, the
     * link would fail or this string would not mention OpenBLAS. */
    const char *cfg = sm_threads_blas_config();
    assert_non_null(cfg);
    assert_non_null(strstr(cfg, "OpenBLAS"));
    sm_threads_set(1);
    assert_int_equal(sm_threads_get(), 1);
    sm_threads_set(0);
    assert_int_equal(sm_threads_get(), sm_threads_available());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_same_seed_same_stream),
        cmocka_unit_test(test_rng_streams_differ),
        cmocka_unit_test(test_rng_uniform_and_normal_moments),
        cmocka_unit_test(test_rng_below_in_range_and_covers),
        cmocka_unit_test(test_mem_overflow_is_an_error),
        cmocka_unit_test(test_status_message_has_where_and_one_line),
        cmocka_unit_test(test_arena_mark_release_reuse),
        cmocka_unit_test(test_blas_is_openblas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
