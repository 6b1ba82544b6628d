/* Tests for src/data/sampler.c: per-epoch permutations, drop-last batches. */
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "data/sampler.h"

static void make(sm_sampler *s, size_t n, size_t batch, uint64_t seed)
{
    sm_status st;
    sm_status_clear(&st);
    if (sm_sampler_alloc(s, n, batch, seed, &st)) fail_msg("%s", st.msg);
}

static void assert_permutation(const size_t *order, size_t n)
{
    char *seen = calloc(n, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++) {
        assert_true(order[i] < n);
        assert_int_equal(seen[order[i]], 0);
        seen[order[i]] = 1;
    }
    free(seen);
}

static void test_every_epoch_is_a_permutation(void **state)
{
    (void)state;
    sm_sampler s;
    make(&s, 1000, 100, 5);
    for (uint64_t e = 0; e < 5; e++) {
        sm_sampler_shuffle(&s, e);
        assert_permutation(s.order, 1000);
    }
    /* Shuffled, not the identity. */
    size_t fixed = 0;
    for (size_t i = 0; i < 1000; i++) fixed += s.order[i] == i;
    assert_true(fixed < 10);
    sm_sampler_free(&s);
    assert_null(s.order);
}

/* The order depends on (seed, epoch) only: not on the shuffles before. */
static void test_deterministic_per_seed_and_epoch(void **state)
{
    (void)state;
    sm_sampler a, b, c;
    make(&a, 500, 50, 9);
    make(&b, 500, 50, 9);
    make(&c, 500, 50, 10);
    assert_memory_equal(a.order, b.order, 500 * sizeof(size_t)); /* epoch 0 at alloc */
    assert_true(memcmp(a.order, c.order, 500 * sizeof(size_t)) != 0);
    size_t *epoch3 = malloc(500 * sizeof(size_t));
    assert_non_null(epoch3);
    sm_sampler_shuffle(&a, 3);
    memcpy(epoch3, a.order, 500 * sizeof(size_t));
    sm_sampler_shuffle(&b, 1);
    sm_sampler_shuffle(&b, 2);
    sm_sampler_shuffle(&b, 3);
    assert_memory_equal(b.order, epoch3, 500 * sizeof(size_t));
    sm_sampler_shuffle(&b, 4);
    assert_true(memcmp(b.order, epoch3, 500 * sizeof(size_t)) != 0);
    free(epoch3);
    sm_sampler_free(&a);
    sm_sampler_free(&b);
    sm_sampler_free(&c);
}

/* Fisher–Yates is uniform: over 5000 epochs each of 5 items leads about
 * 1000 times (binomial sd 28). */
static void test_first_position_is_uniform(void **state)
{
    (void)state;
    sm_sampler s;
    make(&s, 5, 1, 1);
    size_t lead[5] = {0};
    for (uint64_t e = 0; e < 5000; e++) {
        sm_sampler_shuffle(&s, e);
        lead[s.order[0]]++;
    }
    for (int i = 0; i < 5; i++) assert_true(lead[i] > 880 && lead[i] < 1120);
    sm_sampler_free(&s);
}

/* 10 items in batches of 3: 3 full batches, consecutive slices of the
 * order, one item left out. */
static void test_batches_drop_the_last_partial_one(void **state)
{
    (void)state;
    sm_sampler s;
    make(&s, 10, 3, 2);
    assert_int_equal(sm_sampler_batches(&s), 3);
    for (size_t b = 0; b < 3; b++) assert_ptr_equal(sm_sampler_batch(&s, b), s.order + 3 * b);
    sm_sampler_free(&s);
    make(&s, 9, 3, 2);
    assert_int_equal(sm_sampler_batches(&s), 3);
    sm_sampler_free(&s);
    make(&s, 7, 7, 2);
    assert_int_equal(sm_sampler_batches(&s), 1);
    sm_sampler_free(&s);
}

static void test_bad_batch_sizes(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_sampler s;
    assert_int_equal(sm_sampler_alloc(&s, 100, 256, 0, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "batch 256 is larger than the 100 training images");
    assert_null(s.order);
    assert_int_equal(sm_sampler_alloc(&s, 100, 0, 0, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "batch size must be positive"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_epoch_is_a_permutation),
        cmocka_unit_test(test_deterministic_per_seed_and_epoch),
        cmocka_unit_test(test_first_position_is_uniform),
        cmocka_unit_test(test_batches_drop_the_last_partial_one),
        cmocka_unit_test(test_bad_batch_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
