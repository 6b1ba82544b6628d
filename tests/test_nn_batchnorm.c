/* Tests for src/nn/batchnorm: training forward against a double reference,
 * running statistics and inference mode against hand computations, backward
 * against central differences (1-D and 2-D, with and without affine, with
 * and without the fused ReLU), the fused ReLU against the separate one, the
 * maps of the output and of the input gradient against the layer's own. */
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
#include "nn/batchnorm.h"
#include "nn/channel_map.h"
#include "nn/relu.h"
#include "support/support.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

/* The separate ReLU the fused layer must match. */
static void relu_in_place(size_t count, float *y)
{
    for (size_t i = 0; i < count; i++) y[i] = sm_relu(y[i]);
}

typedef struct {
    size_t n, c, hw;
    int affine, relu;
    double *x, *gamma, *beta, *r; /* r: weights of the objective L = Σ r·y */
} bn_case;

/* Training-mode batch norm from the definition, in double. */
static void ref_forward(const bn_case *b, double *y)
{
    size_t m = b->n * b->hw;
    for (size_t j = 0; j < b->c; j++) {
        double mean = 0.0, var = 0.0;
        for (size_t i = 0; i < b->n; i++)
            for (size_t t = 0; t < b->hw; t++) mean += b->x[(i * b->c + j) * b->hw + t];
        mean /= (double)m;
        for (size_t i = 0; i < b->n; i++)
            for (size_t t = 0; t < b->hw; t++) {
                double d = b->x[(i * b->c + j) * b->hw + t] - mean;
                var += d * d;
            }
        var /= (double)m;
        for (size_t i = 0; i < b->n; i++)
            for (size_t t = 0; t < b->hw; t++) {
                size_t k = (i * b->c + j) * b->hw + t;
                double xhat = (b->x[k] - mean) / sqrt(var + 1e-5);
                double v = b->affine ? b->gamma[j] * xhat + b->beta[j] : xhat;
                y[k] = b->relu && v < 0.0 ? 0.0 : v;
            }
    }
}

static double ref_objective(const void *ctx)
{
    const bn_case *b = ctx;
    size_t count = b->n * b->c * b->hw;
    double *y = malloc(count * sizeof *y), l = 0.0;
    assert_non_null(y);
    ref_forward(b, y);
    for (size_t i = 0; i < count; i++) l += b->r[i] * y[i];
    free(y);
    return l;
}

/* Forward against the reference, then backward against finite differences. */
static void check_case(size_t n, size_t c, size_t hw, int affine, int relu)
{
    sm_rng rng;
    sm_rng_seed(&rng, 21, n * 100 + c * 10 + hw + (size_t)affine + 2 * (size_t)relu);
    size_t count = n * c * hw;
    float *x = sm_test_floats(count), *y = sm_test_floats(count), *r = sm_test_floats(count), *dx = sm_test_floats(count);
    float *gamma = sm_test_floats(c), *beta = sm_test_floats(c), *dgamma = sm_test_floats(c), *dbeta = sm_test_floats(c);
    float *mean = sm_test_floats(c), *invstd = sm_test_floats(c);
    sm_test_fill_uniform(x, count, &rng, -1.0, 3.0); /* a non-zero mean, as after a ReLU */
    sm_test_fill_uniform(r, count, &rng, -1.0, 1.0);
    sm_test_fill_uniform(gamma, c, &rng, 0.5, 1.5);
    sm_test_fill_uniform(beta, c, &rng, -0.5, 0.5);

    sm_batchnorm_forward_train(n, c, hw, x, affine ? gamma : NULL, affine ? beta : NULL, relu, y, mean, invstd,
                               NULL, NULL);
    bn_case b = {n, c, hw, affine, relu, sm_test_to_double(x, count), sm_test_to_double(gamma, c), sm_test_to_double(beta, c), sm_test_to_double(r, count)};
    double *want = malloc(count * sizeof *want);
    assert_non_null(want);
    ref_forward(&b, want);
    for (size_t i = 0; i < count; i++)
        if (fabs(y[i] - want[i]) > 2e-6) fail_msg("y[%zu] = %.9g, want %.9g", i, y[i], want[i]);

    sm_batchnorm_backward(n, c, hw, x, affine ? gamma : NULL, affine ? beta : NULL, relu, mean, invstd, r, dx, 1,
                          affine ? dgamma : NULL, affine ? dbeta : NULL);
    sm_test_check_gradient(ref_objective, &b, b.x, count, dx, 1e-6);
    if (affine) {
        sm_test_check_gradient(ref_objective, &b, b.gamma, c, dgamma, 1e-6);
        sm_test_check_gradient(ref_objective, &b, b.beta, c, dbeta, 1e-6);
    }
    free(want);
    free(b.x);
    free(b.gamma);
    free(b.beta);
    free(b.r);
    free(x);
    free(y);
    free(r);
    free(dx);
    free(gamma);
    free(beta);
    free(dgamma);
    free(dbeta);
    free(mean);
    free(invstd);
}

static void test_batchnorm_2d_affine(void **state)
{
    (void)state;
    check_case(3, 2, 5, 1, 0);
}

static void test_batchnorm_2d_no_affine(void **state)
{
    (void)state;
    check_case(3, 3, 4, 0, 0);
}

static void test_batchnorm_1d_affine(void **state)
{
    (void)state;
    check_case(6, 4, 1, 1, 0);
}

static void test_batchnorm_1d_no_affine(void **state)
{
    (void)state;
    check_case(5, 3, 1, 0, 0);
}

/* The fused ReLU against central differences of max(BN(x), 0) (2-D with
 * affine, 1-D without). */
static void test_batchnorm_relu_2d_affine(void **state)
{
    (void)state;
    check_case(3, 2, 5, 1, 1);
}

static void test_batchnorm_relu_1d_no_affine(void **state)
{
    (void)state;
    check_case(6, 3, 1, 0, 1);
}

/* relu = 1 is the plain layer followed by sm_relu, bit for bit: forward in
 * training and inference mode, and backward (sm_relu_backward's dy masked
 * by y, then the plain backward) in both accumulate modes. */
static void check_relu_fused_matches_separate(size_t n, size_t c, size_t hw, int accumulate)
{
    const size_t count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 5, count);
    float *x = sm_test_floats(count), *dy = sm_test_floats(count), *y = sm_test_floats(count);
    float *y_sep = sm_test_floats(count), *g = sm_test_floats(count), *dx = sm_test_floats(count);
    float *dx_sep = sm_test_floats(count), gamma[4], beta[4], mean[4], invstd[4], rm[4] = {0.5f, -1, 0, 2},
                                            rv[4] = {1, 2, 0.5f, 4};
    float dg[4] = {0}, db[4] = {0}, dg_sep[4] = {0}, db_sep[4] = {0};
    assert_true(c <= 4);
    sm_test_fill_uniform(x, count, &rng, -2.0, 3.0);
    sm_test_fill_uniform(dy, count, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dx, count, &rng, -1.0, 1.0);
    memcpy(dx_sep, dx, count * sizeof(float));
    sm_test_fill_uniform(gamma, c, &rng, 0.5, 1.5);
    sm_test_fill_uniform(beta, c, &rng, -0.5, 0.5);

    sm_batchnorm_forward_train(n, c, hw, x, gamma, beta, 0, y_sep, mean, invstd, NULL, NULL);
    relu_in_place(count, y_sep);
    sm_batchnorm_forward_train(n, c, hw, x, gamma, beta, 1, y, mean, invstd, NULL, NULL);
    assert_memory_equal(y, y_sep, count * sizeof(float));
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) kept += y[i] > 0.0f;
    assert_true(kept > 0 && kept < count); /* the mask cuts somewhere */

    sm_relu_backward(count, y_sep, dy, g, 0, NULL, 0);
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 0, mean, invstd, g, dx_sep, accumulate, dg_sep, db_sep);
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 1, mean, invstd, dy, dx, accumulate, dg, db);
    assert_memory_equal(dx, dx_sep, count * sizeof(float));
    assert_memory_equal(dg, dg_sep, sizeof dg);
    assert_memory_equal(db, db_sep, sizeof db);

    sm_batchnorm_forward_eval(n, c, hw, x, gamma, beta, 0, rm, rv, y_sep);
    relu_in_place(count, y_sep);
    sm_batchnorm_forward_eval(n, c, hw, x, gamma, beta, 1, rm, rv, y);
    assert_memory_equal(y, y_sep, count * sizeof(float));
    float *bufs[] = {x, dy, y, y_sep, g, dx, dx_sep};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
}

static void test_batchnorm_relu_fused_matches_separate(void **state)
{
    (void)state;
    check_relu_fused_matches_separate(8, 3, 49, 1);  /* 2-D maps, the lanes and a tail */
    check_relu_fused_matches_separate(8, 3, 49, 0);
    check_relu_fused_matches_separate(40, 4, 1, 0); /* BatchNorm1d rows */
}

/* Two channels with hand-computable statistics: [1 2 3 4] has mean 2.5,
 * biased variance 1.25, unbiased 5/3; [−2 0 2 4] has mean 1, biased 5,
 * unbiased 20/3.  Running stats start at PyTorch's (0, 1). */
static void test_batchnorm_running_stats_and_eval(void **state)
{
    (void)state;
    const float x[8] = {1, -2, 2, 0, 3, 2, 4, 4}; /* n = 4 rows of c = 2 */
    float gamma[2], beta[2], rm[2], rv[2], y[8], mean[2], invstd[2];
    sm_batchnorm_init(2, gamma, beta, rm, rv);
    assert_true(gamma[1] == 1.0f && beta[1] == 0.0f && rm[1] == 0.0f && rv[1] == 1.0f);
    sm_batchnorm_forward_train(4, 2, 1, x, gamma, beta, 0, y, mean, invstd, rm, rv);
    assert_near(mean[0], 2.5, 1e-7);
    assert_near(mean[1], 1.0, 1e-7);
    assert_near(invstd[0], 1.0 / sqrt(1.25 + 1e-5), 1e-7);
    assert_near(invstd[1], 1.0 / sqrt(5.0 + 1e-5), 1e-7);
    assert_near(rm[0], 0.25, 1e-7);
    assert_near(rm[1], 0.1, 1e-7);
    assert_near(rv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-6);
    assert_near(rv[1], 0.9 + 0.1 * 20.0 / 3.0, 1e-6);
    assert_near(y[0], -1.5 / sqrt(1.25 + 1e-5), 1e-6);
    assert_near(y[7], 3.0 / sqrt(5.0 + 1e-5), 1e-6);

    /* A second step moves the running stats 10% further. */
    sm_batchnorm_forward_train(4, 2, 1, x, gamma, beta, 0, y, mean, invstd, rm, rv);
    assert_near(rm[0], 0.9 * 0.25 + 0.25, 1e-6);
    assert_near(rv[1], 0.9 * (0.9 + 0.1 * 20.0 / 3.0) + 0.1 * 20.0 / 3.0, 1e-6);

    /* Inference uses the running statistics, not the batch's. */
    gamma[0] = 2.0f;
    beta[0] = 0.5f;
    float rm0 = rm[0], rv0 = rv[0];
    sm_batchnorm_forward_eval(4, 2, 1, x, gamma, beta, 0, rm, rv, y);
    for (int i = 0; i < 4; i++)
        assert_near(y[2 * i], 2.0 * (x[2 * i] - rm0) / sqrt(rv0 + 1e-5) + 0.5, 1e-6);
    assert_near(y[1], (-2.0 - rm[1]) / sqrt(rv[1] + 1e-5), 1e-6);
    assert_true(rm[0] == rm0 && rv[0] == rv0);

    /* Without affine, inference is the bare normalisation. */
    sm_batchnorm_forward_eval(4, 2, 1, x, NULL, NULL, 0, rm, rv, y);
    assert_near(y[6], (4.0 - rm0) / sqrt(rv0 + 1e-5), 1e-6);
}

/* Training output without affine has mean 0 and biased variance
 * σ²/(σ² + ε) per channel; 2-D statistics pool over n and the map. */
static void test_batchnorm_normalises_each_channel(void **state)
{
    (void)state;
    size_t n = 4, c = 3, hw = 9, count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 2, 0);
    float *x = sm_test_floats(count), *y = sm_test_floats(count), mean[3], invstd[3];
    sm_test_fill_uniform(x, count, &rng, 1.0, 9.0);
    sm_batchnorm_forward_train(n, c, hw, x, NULL, NULL, 0, y, mean, invstd, NULL, NULL);
    for (size_t j = 0; j < c; j++) {
        double s = 0.0, s2 = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < hw; t++) {
                double v = y[(i * c + j) * hw + t];
                s += v;
                s2 += v * v;
            }
        double var = 1.0 / ((double)invstd[j] * invstd[j]) - 1e-5;
        assert_true(fabs(s / (double)(n * hw)) < 1e-6);
        assert_true(fabs(s2 / (double)(n * hw) - var / (var + 1e-5)) < 1e-5);
    }
    free(x);
    free(y);
}

static void test_batchnorm_backward_accumulates_or_sets(void **state)
{
    (void)state;
    size_t n = 4, c = 2, hw = 3, count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 3, 0);
    float *x = sm_test_floats(count), *dy = sm_test_floats(count), *y = sm_test_floats(count);
    float *dx0 = sm_test_floats(count), *dx = sm_test_floats(count);
    float gamma[2] = {1.5f, 0.5f}, beta[2] = {0, 0}, mean[2], invstd[2];
    float dg0[2] = {0, 0}, db0[2] = {0, 0}, dg[2] = {1, 1}, db[2] = {-1, -1};
    sm_test_fill_uniform(x, count, &rng, -2.0, 2.0);
    sm_test_fill_uniform(dy, count, &rng, -1.0, 1.0);
    sm_batchnorm_forward_train(n, c, hw, x, gamma, beta, 0, y, mean, invstd, NULL, NULL);
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 0, mean, invstd, dy, dx0, 1, dg0, db0);
    for (size_t i = 0; i < count; i++) dx[i] = 2.0f;
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 0, mean, invstd, dy, dx, 1, dg, db);
    for (size_t i = 0; i < count; i++) assert_true(dx[i] == 2.0f + dx0[i]);
    for (int j = 0; j < 2; j++) {
        assert_true(dg[j] == 1.0f + dg0[j]);
        assert_true(db[j] == -1.0f + db0[j]);
    }
    /* accumulate == 0 sets dx whatever it held; dgamma, dbeta still add */
    for (size_t i = 0; i < count; i++) dx[i] = NAN;
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 0, mean, invstd, dy, dx, 0, dg, db);
    for (size_t i = 0; i < count; i++) assert_true(dx[i] == 0.0f + dx0[i]);
    for (int j = 0; j < 2; j++) {
        assert_true(dg[j] == (1.0f + dg0[j]) + dg0[j]);
        assert_true(db[j] == (-1.0f + db0[j]) + db0[j]);
    }
    free(x);
    free(dy);
    free(y);
    free(dx0);
    free(dx);
}

/* Long runs (2500 values per image and channel, not a multiple of the
 * lanes) far from zero (mean ~1000, σ ~1): the batch mean and variance, and
 * the backward's sums dβ = Σ dy and dγ = Σ dy · x̂, against double sums of
 * the same floats. */
static void test_batchnorm_large_maps_and_offset(void **state)
{
    (void)state;
    const size_t n = 3, c = 2, hw = 2500, count = n * c * hw, m = n * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 6, 0);
    float *x = sm_test_floats(count), *y = sm_test_floats(count), *dy = sm_test_floats(count);
    float *dx = sm_test_floats(count), mean[2], invstd[2], gamma[2] = {1, 1}, beta[2] = {0, 0};
    float dgamma[2] = {0, 0}, dbeta[2] = {0, 0};
    sm_test_fill_uniform(x, count, &rng, 998.0, 1002.0);
    sm_test_fill_uniform(dy, count, &rng, -1.0, 1.0);
    sm_batchnorm_forward_train(n, c, hw, x, gamma, beta, 0, y, mean, invstd, NULL, NULL);
    sm_batchnorm_backward(n, c, hw, x, gamma, beta, 0, mean, invstd, dy, dx, 0, dgamma, dbeta);
    for (size_t j = 0; j < c; j++) {
        double s = 0.0, s2 = 0.0, g = 0.0, gx = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < hw; t++) s += x[(i * c + j) * hw + t];
        const double mu = s / (double)m;
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < hw; t++) {
                const size_t k = (i * c + j) * hw + t;
                s2 += (x[k] - mu) * (x[k] - mu);
                g += dy[k];
                gx += dy[k] * (x[k] - (double)mean[j]) * invstd[j];
            }
        const double var = s2 / (double)m;
        assert_true(fabs(mean[j] - mu) <= 1e-4); /* float's spacing at 1000 is 6e-5 */
        assert_true(fabs(1.0 / ((double)invstd[j] * invstd[j]) - 1e-5 - var) <= 1e-5 * var);
        assert_true(fabs(dbeta[j] - g) <= 1e-5 * sqrt((double)m));
        assert_true(fabs(dgamma[j] - gx) <= 1e-5 * sqrt((double)m));
    }
    free(x);
    free(y);
    free(dy);
    free(dx);
}

/* One channel per thread with fixed-order sums: 1 and 2 threads agree
 * bitwise; so do SyncBN's path (gather, re-centre, add) in one process and
 * a running move deferred and applied after. */
static void test_batchnorm_identical_across_threads(void **state)
{
    (void)state;
    size_t n = 8, c = 6, hw = 10, count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 4, 0);
    float *x = sm_test_floats(count), *dy = sm_test_floats(count), gamma[6], beta[6];
    sm_test_fill_uniform(x, count, &rng, -2.0, 2.0);
    sm_test_fill_uniform(dy, count, &rng, -1.0, 1.0);
    sm_test_fill_uniform(gamma, c, &rng, 0.5, 1.5);
    sm_test_fill_uniform(beta, c, &rng, -0.5, 0.5);
    float *y[4], *dx[4], dg[4][6], db[4][6], rm[4][6], rv[4][6], mean[6], invstd[6];
    double *work = calloc(sm_batchnorm_sync_work(c), sizeof *work), defer[12];
    assert_non_null(work);
    int saved = omp_get_max_threads();
    for (int t = 0; t < 4; t++) { /* 1 thread, 2 threads, SyncBN of one process, deferred running move */
        double *sync = t == 2 ? work : NULL;
        omp_set_num_threads(t == 1 ? 2 : 1);
        y[t] = sm_test_floats(count);
        dx[t] = sm_test_floats(count);
        memset(dg[t], 0, sizeof dg[t]);
        memset(db[t], 0, sizeof db[t]);
        sm_batchnorm_init(c, NULL, NULL, rm[t], rv[t]);
        float *run_m = t == 3 ? NULL : rm[t], *run_v = t == 3 ? NULL : rv[t];
        sm_batchnorm_forward_train_sync(n, c, hw, x, gamma, beta, 1, y[t], mean, invstd, run_m, run_v,
                                        t == 3 ? defer : NULL, sync);
        if (t == 3) sm_batchnorm_move_running(c, defer, rm[t], rv[t]);
        sm_batchnorm_backward_sync(n, c, hw, x, gamma, beta, 1, mean, invstd, dy, dx[t], 1, dg[t], db[t], sync);
    }
    omp_set_num_threads(saved);
    assert_true(rm[0][0] != 0.0f && rv[0][0] != 1.0f); /* the running statistics moved */
    for (int t = 1; t < 4; t++) {
        assert_memory_equal(y[0], y[t], count * sizeof(float));
        assert_memory_equal(dx[0], dx[t], count * sizeof(float));
        assert_memory_equal(dg[0], dg[t], sizeof dg[0]);
        assert_memory_equal(db[0], db[t], sizeof db[0]);
        assert_memory_equal(rm[0], rm[t], sizeof rm[0]);
        assert_memory_equal(rv[0], rv[t], sizeof rv[0]);
    }
    for (int t = 0; t < 4; t++) {
        free(y[t]);
        free(dx[t]);
    }
    free(work);
    free(x);
    free(dy);
}

/* x read through the map, channel by channel: what a convolution reading
 * a mapped output sees. */
static void apply_map(const sm_channel_map *map, size_t n, size_t c, size_t hw, const float *x, float *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            const size_t at = (i * c + j) * hw;
            sm_channel_map_run(map, (int)j, x + at, 1, hw, NULL, out + at);
        }
}

/* A training forward without an output takes the same statistics and moves
 * the running ones the same; its map, and the inference map, applied to x
 * give the two forwards' outputs bit for bit (with and without affine and
 * ReLU). */
static void test_batchnorm_map_gives_the_output(void **state)
{
    (void)state;
    size_t n = 5, c = 4, hw = 9, count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 5, 0);
    float *x = sm_test_floats(count), *y = sm_test_floats(count), *through = sm_test_floats(count);
    float gamma[4], beta[4], maps[12];
    sm_test_fill_uniform(x, count, &rng, -1.0, 3.0);
    sm_test_fill_uniform(gamma, c, &rng, 0.5, 1.5);
    sm_test_fill_uniform(beta, c, &rng, -0.5, 0.5);
    for (int affine = 0; affine < 2; affine++)
        for (int relu = 0; relu < 2; relu++) {
            const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;
            float mean[2][4], invstd[2][4], rm[2][4], rv[2][4];
            for (int stored = 0; stored < 2; stored++) {
                sm_batchnorm_init(c, NULL, NULL, rm[stored], rv[stored]);
                sm_batchnorm_forward_train(n, c, hw, x, g, b, relu, stored ? y : NULL, mean[stored], invstd[stored],
                                           rm[stored], rv[stored]);
            }
            assert_memory_equal(mean[0], mean[1], sizeof mean[0]);
            assert_memory_equal(invstd[0], invstd[1], sizeof invstd[0]);
            assert_memory_equal(rm[0], rm[1], sizeof rm[0]);
            assert_memory_equal(rv[0], rv[1], sizeof rv[0]);
            sm_channel_map map = sm_batchnorm_map_saved(c, g, b, relu, mean[0], invstd[0], maps);
            assert_true(map.mean == maps && map.scale == maps + c && map.shift == maps + 2 * c && map.relu == relu);
            apply_map(&map, n, c, hw, x, through);
            assert_memory_equal(through, y, count * sizeof(float));
            sm_batchnorm_forward_eval(n, c, hw, x, g, b, relu, rm[0], rv[0], y);
            map = sm_batchnorm_map_eval(c, g, b, relu, rm[0], rv[0], maps);
            apply_map(&map, n, c, hw, x, through);
            assert_memory_equal(through, y, count * sizeof(float));
        }
    free(x);
    free(y);
    free(through);
}

/* The backward that leaves dx as a map gives dgamma and dbeta bit for bit,
 * and its map applied to (dy, x) gives the dx of the backward that writes
 * it, bit for bit, as does that backward in place (dx = dy: the model's
 * storage for such a BN); with and without affine and ReLU; 28 values a
 * run: a vector and a tail. */
static void test_batchnorm_grad_map_gives_dx(void **state)
{
    (void)state;
    size_t n = 6, c = 3, hw = 28, count = n * c * hw;
    sm_rng rng;
    sm_rng_seed(&rng, 8, 0);
    float *x = sm_test_floats(count), *dy = sm_test_floats(count), *dx = sm_test_floats(count);
    float *through = sm_test_floats(count);
    float gamma[3], beta[3], mean[3], invstd[3], stored[18];
    sm_test_fill_uniform(x, count, &rng, -1.0, 3.0);
    sm_test_fill_uniform(dy, count, &rng, -1.0, 1.0);
    sm_test_fill_uniform(gamma, c, &rng, 0.5, 1.5);
    sm_test_fill_uniform(beta, c, &rng, -0.5, 0.5);
    for (int affine = 0; affine < 2; affine++)
        for (int relu = 0; relu < 2; relu++) {
            const float *g = affine ? gamma : NULL, *b = affine ? beta : NULL;
            float dg[2][3] = {{0}}, db[2][3] = {{0}};
            sm_batchnorm_forward_train(n, c, hw, x, g, b, relu, NULL, mean, invstd, NULL, NULL);
            sm_batchnorm_backward(n, c, hw, x, g, b, relu, mean, invstd, dy, dx, 0, affine ? dg[0] : NULL,
                                  affine ? db[0] : NULL);
            const sm_grad_map gm = sm_batchnorm_backward_map_sync(n, c, hw, x, g, b, relu, mean, invstd, dy,
                                                                  affine ? dg[1] : NULL, affine ? db[1] : NULL, NULL,
                                                                  stored);
            assert_true(gm.x == x && gm.map.mean == stored && gm.a == stored + 3 * c && gm.map.relu == relu);
            assert_memory_equal(dg[0], dg[1], sizeof dg[0]);
            assert_memory_equal(db[0], db[1], sizeof db[0]);
            sm_test_apply_grad_map(&gm, n, c, hw, dy, through);
            assert_memory_equal(through, dx, count * sizeof(float));
            memcpy(through, dy, count * sizeof(float));
            sm_batchnorm_backward(n, c, hw, x, g, b, relu, mean, invstd, through, through, 0, affine ? dg[1] : NULL,
                                  affine ? db[1] : NULL);
            assert_memory_equal(through, dx, count * sizeof(float));
        }
    free(x);
    free(dy);
    free(dx);
    free(through);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batchnorm_2d_affine),
        cmocka_unit_test(test_batchnorm_2d_no_affine),
        cmocka_unit_test(test_batchnorm_1d_affine),
        cmocka_unit_test(test_batchnorm_1d_no_affine),
        cmocka_unit_test(test_batchnorm_relu_2d_affine),
        cmocka_unit_test(test_batchnorm_relu_1d_no_affine),
        cmocka_unit_test(test_batchnorm_relu_fused_matches_separate),
        cmocka_unit_test(test_batchnorm_running_stats_and_eval),
        cmocka_unit_test(test_batchnorm_normalises_each_channel),
        cmocka_unit_test(test_batchnorm_backward_accumulates_or_sets),
        cmocka_unit_test(test_batchnorm_large_maps_and_offset),
        cmocka_unit_test(test_batchnorm_identical_across_threads),
        cmocka_unit_test(test_batchnorm_map_gives_the_output),
        cmocka_unit_test(test_batchnorm_grad_map_gives_dx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
