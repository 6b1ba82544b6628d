/* Tests for src/nn/init: PyTorch's default bound 1/√fan_in, the uniform
 * moments, and reproducibility from the seeded RNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/init.h"

/* U(−b, b) with b = 1/√144 = 1/12 (a 16-channel 3×3 conv): every draw within
 * b, mean 0 and variance b²/3 within 5 standard errors, draws reach the edges. */
static void test_init_bound_and_moments(void **state)
{
    (void)state;
    enum { COUNT = 200000 };
    float *w = malloc(COUNT * sizeof *w);
    assert_non_null(w);
    sm_rng rng;
    sm_rng_seed(&rng, 61, 0);
    sm_init_kaiming_uniform(w, COUNT, 144, &rng);
    const double b = 1.0 / 12.0;
    double s = 0.0, s2 = 0.0, lo = 0.0, hi = 0.0;
    for (int i = 0; i < COUNT; i++) {
        assert_true(fabs(w[i]) <= (float)b);
        s += w[i];
        s2 += (double)w[i] * w[i];
        lo = fmin(lo, w[i]);
        hi = fmax(hi, w[i]);
    }
    double mean = s / COUNT, var = s2 / COUNT - mean * mean;
    assert_true(fabs(mean) < 5.0 * b / sqrt(3.0 * COUNT));
    /* sd of the sample variance of U(−b, b): b² √(4/45 / COUNT) */
    assert_true(fabs(var - b * b / 3.0) < 5.0 * b * b * sqrt(4.0 / 45.0 / COUNT));
    assert_true(lo < -0.999 * b && hi > 0.999 * b);
    free(w);
}

/* Each weight is (2u − 1)/√fan_in for the next u of the stream, so the same
 * seed and stream reproduce the tensor and another stream does not. */
static void test_init_reproducible(void **state)
{
    (void)state;
    float a[64], b[64], c[64];
    sm_rng r1, r2, r3, check;
    sm_rng_seed(&r1, 7, 3);
    sm_rng_seed(&r2, 7, 3);
    sm_rng_seed(&r3, 7, 4);
    sm_rng_seed(&check, 7, 3);
    sm_init_kaiming_uniform(a, 64, 10, &r1);
    sm_init_kaiming_uniform(b, 64, 10, &r2);
    sm_init_kaiming_uniform(c, 64, 10, &r3);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    for (int i = 0; i < 64; i++)
        assert_true(a[i] == (float)((2.0 * sm_rng_uniform(&check) - 1.0) / sqrt(10.0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_bound_and_moments),
        cmocka_unit_test(test_init_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
