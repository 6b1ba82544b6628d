/* Tests for src/core/mem.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/mem.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_overflow_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
