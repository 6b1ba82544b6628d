/* Tests for src/core/threads.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include <gsl/gsl_sf_gamma.h>

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
    sm_threads_set(SM_THREADS_MAX + 1); /* libgomp would crash starting 100000 threads */
    assert_int_equal(sm_threads_get(), SM_THREADS_MAX);
    sm_threads_set(0);
    assert_int_equal(sm_threads_get(), sm_threads_available());
}

/* threads = 0 shares the cores among the processes on the machine (the
 * ranks of a data-parallel run), at least one each; a count stands. */
static void test_share(void **state)
{
    (void)state;
    const int n = sm_threads_available();
    assert_int_equal(sm_threads_share(0, 1), n);
    assert_int_equal(sm_threads_share(0, 2), n / 2 > 0 ? n / 2 : 1);
    assert_int_equal(sm_threads_share(0, n), 1);
    assert_int_equal(sm_threads_share(0, 3 * n), 1);
    assert_int_equal(sm_threads_share(3, 5), 3);
    assert_int_equal(sm_threads_share(4 * (long)n, 1), 4 * n);
}

/* Only the generic fallback is replaced; any other choice (OpenBLAS's own
 * or a user's OPENBLAS_CORETYPE) stands. */
static void test_better_core_by_hand(void **state)
{
    (void)state;
    assert_string_equal(sm_threads_better_core("Prescott", 1, 1), "SkylakeX");
    assert_string_equal(sm_threads_better_core("Prescott", 0, 1), "Haswell");
    assert_null(sm_threads_better_core("Prescott", 0, 0));
    assert_null(sm_threads_better_core("Haswell", 1, 1));
    assert_null(sm_threads_better_core("Cooperlake", 1, 1));
    assert_null(sm_threads_better_core("SkylakeX", 1, 1));
    assert_null(sm_threads_better_core("Zen", 0, 1));
}

/* GSL is linked from its static archive: Debian's shared libgsl would load
 * libgslcblas, GSL's slow reference CBLAS, into the process. */
static void test_gslcblas_is_not_loaded(void **state)
{
    (void)state;
    /* Call into GSL so that a shared libgsl would really be loaded. */
    assert_true(gsl_sf_lngamma(1.0) == 0.0);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) skip();
    char line[4096];
    int openblas = 0;
    while (fgets(line, sizeof line, f)) {
        assert_null(strstr(line, "libgslcblas"));
        openblas |= strstr(line, "libopenblas") != NULL;
    }
    fclose(f);
    assert_true(openblas);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_is_openblas),
        cmocka_unit_test(test_gslcblas_is_not_loaded),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_better_core_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
