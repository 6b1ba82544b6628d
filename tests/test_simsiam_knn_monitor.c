/* Tests for src/simsiam/knn_monitor.c: the vote on hand-made banks with known
 * answers, normalisation, and a random-init encoder above chance. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "data/loader.h"
#include "io/config.h"
#include "simsiam/knn_monitor.h"
#include "simsiam/model.h"
#include "support/support.h"

static void test_normalize(void **state)
{
    (void)state;
    float rows[6] = {3, 4, 0, 0, 0, -2};
    sm_knn_monitor_normalize(rows, 3, 2);
    const float want[6] = {0.6f, 0.8f, 0, 0, 0, -1};
    for (int i = 0; i < 6; i++) assert_true(fabsf(rows[i] - want[i]) < 1e-7f);
}

/* Unit vector at angle a (radians) in 2-d. */
static void unit(float *v, double a)
{
    v[0] = (float)cos(a);
    v[1] = (float)sin(a);
}

/* Bank: one class-0 row at angle 0, three class-1 rows at angle acos(0.8)
 * from the query.  With k = 4 and temperature 0.1 the single close row wins
 * (e^10 = 22026 > 3 e^8 = 8943); with temperature 1 the three farther rows
 * do (e = 2.72 < 3 e^0.8 = 6.68); with k = 1 the nearest alone decides. */
static void test_vote_weights(void **state)
{
    (void)state;
    float bank[8], query[2];
    const uint8_t labels[4] = {0, 1, 1, 1};
    unit(bank, 0);
    for (int i = 1; i < 4; i++) unit(bank + 2 * i, acos(0.8));
    unit(query, 0);
    uint8_t pred;
    sm_status st;
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 4, query, 1, 2, 2, 4, 0.1, &pred, &st), SM_OK);
    assert_int_equal(pred, 0);
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 4, query, 1, 2, 2, 4, 1.0, &pred, &st), SM_OK);
    assert_int_equal(pred, 1);
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 4, query, 1, 2, 2, 1, 1.0, &pred, &st), SM_OK);
    assert_int_equal(pred, 0);
    /* k larger than the bank: every row votes (same as k = 4) */
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 4, query, 1, 2, 2, 200, 1.0, &pred, &st), SM_OK);
    assert_int_equal(pred, 1);
}

/* Three classes at 0°, 120°, 240°, five noisy rows each; queries near each
 * centre get its class (k = 2 and k = all). */
static void test_clusters_and_top_k(void **state)
{
    (void)state;
    enum { PER = 5, N = 3 * PER, Q = 6 };
    float bank[2 * N], query[2 * Q];
    uint8_t labels[N], pred[Q];
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < PER; i++) {
            unit(bank + 2 * (c * PER + i), 2 * acos(-1.0) * c / 3 + 0.05 * (i - 2));
            labels[c * PER + i] = (uint8_t)c;
        }
    for (int q = 0; q < Q; q++) unit(query + 2 * q, 2 * acos(-1.0) * (q % 3) / 3 + 0.01 * q);
    sm_status st;
    assert_int_equal(sm_knn_monitor_classify(bank, labels, N, query, Q, 2, 3, 2, 0.1, pred, &st), SM_OK);
    for (int q = 0; q < Q; q++) assert_int_equal(pred[q], q % 3);
    assert_int_equal(sm_knn_monitor_classify(bank, labels, N, query, Q, 2, 3, N, 0.1, pred, &st), SM_OK);
    for (int q = 0; q < Q; q++) assert_int_equal(pred[q], q % 3);
}

/* Exact ties in similarity: the lower bank index is kept (k = 1), and equal
 * class scores go to the lower class. */
static void test_ties(void **state)
{
    (void)state;
    const float bank[4] = {1, 0, 1, 0};
    const float query[2] = {1, 0};
    const uint8_t labels[2] = {1, 0};
    uint8_t pred;
    sm_status st;
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 2, query, 1, 2, 2, 1, 0.1, &pred, &st), SM_OK);
    assert_int_equal(pred, 1); /* bank row 0 */
    assert_int_equal(sm_knn_monitor_classify(bank, labels, 2, query, 1, 2, 2, 2, 0.1, &pred, &st), SM_OK);
    assert_int_equal(pred, 0); /* one vote each: the lower class */
}

/* A freshly initialised encoder already separates the synthetic classes
 * (their templates differ): well above the 10% of chance. */
static void test_random_encoder_above_chance(void **state)
{
    (void)state;
    sm_config cfg;
    sm_status st;
    const char *const ov[] = {"dataset=synthetic", "arch=mlp", "width=2", "proj_hidden=16", "z_dim=8",
                              "pred_hidden=8"};
    assert_int_equal(sm_config_load(&cfg, NULL, 6, ov, &st), SM_OK);
    sm_dataset train, test;
    assert_int_equal(sm_data_load(&cfg, "train", &train, &st), SM_OK);
    assert_int_equal(sm_data_load(&cfg, "test", &test, &st), SM_OK);
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 64, &st);
    assert_non_null(m);
    sm_model_init(m, 0);
    double acc = -1;
    assert_int_equal(sm_knn_monitor_accuracy(m, &train, &test, &acc, &st), SM_OK);
    assert_true(acc > 0.2 && acc <= 1);
    sm_model_free(m);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_vote_weights),
        cmocka_unit_test(test_clusters_and_top_k),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_random_encoder_above_chance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
