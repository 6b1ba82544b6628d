/* Tests for src/core/arena.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/arena.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_mark_release_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
