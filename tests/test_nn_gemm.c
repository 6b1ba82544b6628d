/* Tests for src/nn/gemm: the row-blocked sgemm against naive loops for every
 * transpose combination and both betas, bitwise identity across OpenMP
 * thread counts, and the OpenBLAS thread count handed back. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/gemm.h"

static float *random_floats(size_t n, sm_rng *rng)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(2.0 * sm_rng_uniform(rng) - 1.0);
    return p;
}

/* m = 150 rows: two full blocks of 64 and a partial one. */
static void test_gemm_rows_matches_naive(void **state)
{
    (void)state;
    const int m = 150, n = 9, k = 13;
    sm_rng rng;
    sm_rng_seed(&rng, 71, 0);
    float *a = random_floats((size_t)m * k, &rng), *b = random_floats((size_t)k * n, &rng);
    float *c0 = random_floats((size_t)m * n, &rng), *c = malloc((size_t)m * n * sizeof *c);
    assert_non_null(c);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta = 0; beta < 2; beta++) {
                memcpy(c, c0, (size_t)m * n * sizeof *c);
                /* A is m × k (lda k) or, transposed, k × m (lda m); B likewise. */
                sm_gemm_rows(ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, (float)beta, c, n);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double want = beta * (double)c0[i * n + j];
                        for (int l = 0; l < k; l++)
                            want += (double)(ta ? a[l * m + i] : a[i * k + l]) * (tb ? b[j * k + l] : b[l * n + j]);
                        if (fabs(c[i * n + j] - want) > 1e-5)
                            fail_msg("ta %d tb %d beta %d: c[%d][%d] = %.9g, want %.9g", ta, tb, beta, i, j,
                                     c[i * n + j], want);
                    }
            }
    free(a);
    free(b);
    free(c0);
    free(c);
}

static void test_gemm_rows_identical_across_threads(void **state)
{
    (void)state;
    const int m = 200, n = 96, k = 128;
    sm_rng rng;
    sm_rng_seed(&rng, 72, 0);
    float *a = random_floats((size_t)m * k, &rng), *b = random_floats((size_t)k * n, &rng);
    float *c[3];
    int saved_omp = omp_get_max_threads();
    openblas_set_num_threads(2);
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        c[t] = calloc((size_t)m * n, sizeof(float));
        assert_non_null(c[t]);
        sm_gemm_rows(0, 1, m, n, k, a, k, b, k, 0.0f, c[t], n);
        assert_int_equal(openblas_get_num_threads(), 2);
    }
    omp_set_num_threads(saved_omp);
    for (int t = 1; t < 3; t++) assert_memory_equal(c[0], c[t], (size_t)m * n * sizeof(float));
    for (int t = 0; t < 3; t++) free(c[t]);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_rows_matches_naive),
        cmocka_unit_test(test_gemm_rows_identical_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
