/* Tests for src/core/threads.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/threads.h"

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
        cmocka_unit_test(test_blas_is_openblas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
