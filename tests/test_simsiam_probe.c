/* Tests for src/simsiam/probe.c: the softmax cross-entropy against a closed
 * form and finite differences, standardisation by hand, the probe on
 * separable Gaussian blobs, and the raw-pixel baselines by hand (restoring a
 * checkpoint: test_simsiam_state.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "simsiam/probe.h"
#include "support/support.h"

/* ---- loss and gradient ---------------------------------------------------- */

typedef struct {
    double *x, *params; /* params = [W (d × k), b (k)] */
    const uint8_t *y;
    size_t n, d, k;
} ce_problem;

/* The mean cross-entropy in double, written independently of probe.c. */
static double ce_objective(const void *ctx)
{
    const ce_problem *p = ctx;
    double total = 0;
    for (size_t i = 0; i < p->n; i++) {
        double logit[8], sum = 0;
        for (size_t c = 0; c < p->k; c++) {
            logit[c] = p->params[p->d * p->k + c];
            for (size_t j = 0; j < p->d; j++) logit[c] += p->x[i * p->d + j] * p->params[j * p->k + c];
            sum += exp(logit[c]);
        }
        total += log(sum) - logit[p->y[i]];
    }
    return total / (double)p->n;
}

static void test_gradient_matches_finite_differences(void **state)
{
    (void)state;
    enum { N = 7, D = 3, K = 4, NP = D * K + K };
    double x[N * D], params[NP];
    float xf[N * D], pf[NP], grad[NP], logits[N * K];
    const uint8_t y[N] = {0, 1, 2, 3, 1, 1, 0};
    sm_rng r;
    sm_rng_seed(&r, 11, 0);
    for (int i = 0; i < N * D; i++) xf[i] = (float)(x[i] = (float)sm_rng_normal(&r));
    for (int i = 0; i < NP; i++) pf[i] = (float)(params[i] = (float)sm_rng_normal(&r));
    ce_problem p = {x, params, y, N, D, K};
    double loss = sm_probe_loss_grad(xf, y, N, D, K, pf, grad, logits);
    assert_true(fabs(loss - ce_objective(&p)) < 1e-5);
    sm_test_check_gradient(ce_objective, &p, params, NP, grad, 1e-3);
}

/* Zero parameters: every class has probability 1/k, so the loss is log k and
 * ∂L/∂b_c = 1/k − (fraction of labels c). */
static void test_loss_at_zero_is_log_k(void **state)
{
    (void)state;
    float x[4 * 2] = {1, 2, -1, 0, 3, 3, 0.5f, -2}, params[2 * 3 + 3] = {0}, grad[9], logits[12];
    const uint8_t y[4] = {0, 0, 1, 2};
    double loss = sm_probe_loss_grad(x, y, 4, 2, 3, params, grad, logits);
    assert_true(fabs(loss - log(3.0)) < 1e-6);
    const double want_b[3] = {1.0 / 3 - 0.5, 1.0 / 3 - 0.25, 1.0 / 3 - 0.25};
    for (int c = 0; c < 3; c++) assert_true(fabs(grad[6 + c] - want_b[c]) < 1e-6);
}

/* ---- standardisation ------------------------------------------------------ */

/* Column 0 of train {1, 3}: mean 2, sd 1; column 1 constant 5: divided by 1. */
static void test_standardize(void **state)
{
    (void)state;
    float train[4] = {1, 5, 3, 5}, test[2] = {4, 7};
    sm_probe_standardize(train, 2, test, 1, 2);
    const float want_train[4] = {-1, 0, 1, 0}, want_test[2] = {2, 2};
    for (int i = 0; i < 4; i++) assert_true(fabsf(train[i] - want_train[i]) < 1e-6f);
    for (int i = 0; i < 2; i++) assert_true(fabsf(test[i] - want_test[i]) < 1e-6f);
}

/* ---- blobs ---------------------------------------------------------------- */

/* n points of k unit-variance Gaussian blobs in d dimensions, blob c centred
 * at 4 on axis c (centres 4√2 = 5.7 σ apart: a linear separator errs on
 * under 0.3% of points), labels cycling through the classes; x is shifted and
 * scaled per column so standardisation has work to do. */
static void make_blobs(float *x, uint8_t *y, size_t n, size_t d, size_t k, uint64_t stream)
{
    sm_rng r;
    sm_rng_seed(&r, 5, stream);
    for (size_t i = 0; i < n; i++) {
        y[i] = (uint8_t)(i % k);
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (float)((sm_rng_normal(&r) + (j == y[i] ? 4.0 : 0.0)) * (double)(j + 1) + 10.0);
    }
}

static void check_blobs(size_t k)
{
    enum { N = 600, D = 5 };
    float train[N * D], test[N * D];
    uint8_t ytrain[N], ytest[N];
    make_blobs(train, ytrain, N, D, k, 1);
    make_blobs(test, ytest, N, D, k, 2);
    sm_probe_opts o;
    sm_probe_defaults(&o);
    o.epochs = 20;
    double acc = 0;
    sm_status st;
    assert_int_equal(sm_probe_linear(train, ytrain, N, test, ytest, N, D, k, &o, &acc, &st), SM_OK);
    assert_true(acc > 0.95);
}

static void test_two_blobs(void **state)
{
    (void)state;
    check_blobs(2);
}

static void test_three_blobs(void **state)
{
    (void)state;
    check_blobs(3);
}

/* Same options, same parameters: the fit is seeded. */
static void test_fit_is_deterministic(void **state)
{
    (void)state;
    enum { N = 90, D = 5, K = 3, NP = D * K + K };
    float x[N * D], p1[NP], p2[NP];
    uint8_t y[N];
    make_blobs(x, y, N, D, K, 3);
    sm_probe_standardize(x, N, NULL, 0, D);
    sm_probe_opts o;
    sm_probe_defaults(&o);
    o.epochs = 3;
    o.batch = 32;
    sm_status st;
    assert_int_equal(sm_probe_fit(x, y, N, D, K, &o, p1, &st), SM_OK);
    assert_int_equal(sm_probe_fit(x, y, N, D, K, &o, p2, &st), SM_OK);
    assert_memory_equal(p1, p2, sizeof p1);
    assert_true(sm_probe_accuracy(x, y, N, D, K, p1) > 0.9);
}

/* ---- raw-pixel baselines --------------------------------------------------- */

/* Hand case: 2 training images of 1 × 1 × 2 pixels {0, 255}, {51, 102}
 * and one test image {255, 0}: pixels are byte / 255; sm_probe_centre
 * subtracts the training mean (0.1, 0.7) from both splits. */
static void test_pixel_features(void **state)
{
    (void)state;
    sm_dataset train, test;
    sm_status st;
    assert_int_equal(sm_dataset_alloc(&train, 2, 1, 1, 2, 2, &st), SM_OK);
    assert_int_equal(sm_dataset_alloc(&test, 1, 1, 1, 2, 2, &st), SM_OK);
    const uint8_t tr[] = {0, 255, 51, 102}, te[] = {255, 0};
    memcpy(train.pixels, tr, sizeof tr);
    memcpy(test.pixels, te, sizeof te);
    float ftrain[4], ftest[2];
    sm_probe_pixel_features(&train, &test, ftrain, ftest);
    const float raw[] = {0.0f, 1.0f, 0.2f, 0.4f};
    for (int i = 0; i < 4; i++) assert_true(fabsf(ftrain[i] - raw[i]) < 1e-7f);
    assert_true(ftest[0] == 1.0f && ftest[1] == 0.0f);
    assert_int_equal(sm_probe_centre(ftrain, 2, ftest, 1, 2, &st), SM_OK);
    const float centred[] = {-0.1f, 0.3f, 0.1f, -0.3f}, test_centred[] = {0.9f, -0.7f};
    for (int i = 0; i < 4; i++) assert_true(fabsf(ftrain[i] - centred[i]) < 1e-6f);
    for (int i = 0; i < 2; i++) assert_true(fabsf(ftest[i] - test_centred[i]) < 1e-6f);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_matches_finite_differences),
        cmocka_unit_test(test_pixel_features),
        cmocka_unit_test(test_loss_at_zero_is_log_k),
        cmocka_unit_test(test_standardize),
        cmocka_unit_test(test_two_blobs),
        cmocka_unit_test(test_three_blobs),
        cmocka_unit_test(test_fit_is_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
