/* Tests for src/nn/linear: forward against naive loops in double, backward
 * against central differences, accumulation, thread-count independence. */
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
#include "nn/linear.h"
#include "support/support.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

typedef struct {
    size_t n, in, out;
    int bias;
    double *x, *w, *b, *r; /* r: weights of the objective L = Σ r·y */
} lin_case;

/* y[i][o] = Σ_k x[i][k] w[o][k] + b[o] */
static double ref_output(const lin_case *c, size_t i, size_t o)
{
    double s = c->bias ? c->b[o] : 0.0;
    for (size_t k = 0; k < c->in; k++) s += c->x[i * c->in + k] * c->w[o * c->in + k];
    return s;
}

static double ref_objective(const void *ctx)
{
    const lin_case *c = ctx;
    double l = 0.0;
    for (size_t i = 0; i < c->n; i++)
        for (size_t o = 0; o < c->out; o++) l += c->r[i * c->out + o] * ref_output(c, i, o);
    return l;
}

static void check_case(size_t n, size_t in, size_t out, int bias)
{
    sm_rng rng;
    sm_rng_seed(&rng, 31, n + in * 10 + (size_t)bias);
    float *x = sm_test_floats(n * in), *w = sm_test_floats(out * in), *b = sm_test_floats(out);
    float *y = sm_test_floats(n * out), *r = sm_test_floats(n * out);
    float *dx = sm_test_floats(n * in), *dw = sm_test_floats(out * in), *db = sm_test_floats(out);
    sm_test_fill_uniform(x, n * in, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, out * in, &rng, -1.0, 1.0);
    sm_test_fill_uniform(b, out, &rng, -1.0, 1.0);
    sm_test_fill_uniform(r, n * out, &rng, -1.0, 1.0);
    sm_linear_forward(n, in, out, x, w, bias ? b : NULL, y);
    lin_case c = {n, in, out, bias, sm_test_to_double(x, n * in), sm_test_to_double(w, out * in), sm_test_to_double(b, out), sm_test_to_double(r, n * out)};
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < out; o++) assert_near(y[i * out + o], ref_output(&c, i, o), 1e-6);
    sm_linear_backward(n, in, out, x, w, r, dx, dw, bias ? db : NULL);
    sm_test_check_gradient(ref_objective, &c, c.x, n * in, dx, 1e-6);
    sm_test_check_gradient(ref_objective, &c, c.w, out * in, dw, 1e-6);
    if (bias) sm_test_check_gradient(ref_objective, &c, c.b, out, db, 1e-6);
    free(c.x);
    free(c.w);
    free(c.b);
    free(c.r);
    free(x);
    free(w);
    free(b);
    free(y);
    free(r);
    free(dx);
    free(dw);
    free(db);
}

static void test_linear_with_bias(void **state)
{
    (void)state;
    check_case(5, 4, 3, 1);
}

static void test_linear_without_bias(void **state)
{
    (void)state;
    check_case(6, 7, 5, 0);
}

/* Backward adds onto the gradients it is given; dx = NULL skips it. */
static void test_linear_backward_accumulates(void **state)
{
    (void)state;
    size_t n = 4, in = 3, out = 2;
    sm_rng rng;
    sm_rng_seed(&rng, 32, 0);
    float x[12], w[6], dy[8], dx0[12] = {0}, dw0[6] = {0}, db0[2] = {0}, dx[12], dw[6], db[2], dw_only[6];
    sm_test_fill_uniform(x, 12, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, 6, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, 8, &rng, -1.0, 1.0);
    sm_linear_backward(n, in, out, x, w, dy, dx0, dw0, db0);
    for (int i = 0; i < 12; i++) dx[i] = 1.0f;
    for (int i = 0; i < 6; i++) dw[i] = dw_only[i] = 2.0f;
    db[0] = db[1] = -3.0f;
    sm_linear_backward(n, in, out, x, w, dy, dx, dw, db);
    sm_linear_backward(n, in, out, x, w, dy, NULL, dw_only, NULL);
    for (int i = 0; i < 12; i++) assert_near(dx[i], 1.0f + dx0[i], 1e-6);
    for (int i = 0; i < 6; i++) {
        assert_near(dw[i], 2.0f + dw0[i], 1e-6);
        assert_true(dw_only[i] == dw[i]);
    }
    for (int i = 0; i < 2; i++) assert_true(db[i] == -3.0f + db0[i]);
}

/* A projector-sized product: 1, 2 and 3 OpenMP threads give the same bits. */
static void test_linear_identical_across_threads(void **state)
{
    (void)state;
    size_t n = 256, in = 256, out = 128;
    sm_rng rng;
    sm_rng_seed(&rng, 33, 0);
    float *x = sm_test_floats(n * in), *w = sm_test_floats(out * in), *b = sm_test_floats(out), *dy = sm_test_floats(n * out);
    sm_test_fill_uniform(x, n * in, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, out * in, &rng, -1.0, 1.0);
    sm_test_fill_uniform(b, out, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, n * out, &rng, -1.0, 1.0);
    float *y[3], *dx[3], *dw[3];
    int saved = omp_get_max_threads();
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        y[t] = sm_test_floats(n * out);
        dx[t] = sm_test_floats(n * in);
        dw[t] = sm_test_floats(out * in);
        sm_linear_forward(n, in, out, x, w, b, y[t]);
        sm_linear_backward(n, in, out, x, w, dy, dx[t], dw[t], NULL);
    }
    omp_set_num_threads(saved);
    for (int t = 1; t < 3; t++) {
        assert_memory_equal(y[0], y[t], n * out * sizeof(float));
        assert_memory_equal(dx[0], dx[t], n * in * sizeof(float));
        assert_memory_equal(dw[0], dw[t], out * in * sizeof(float));
    }
    for (int t = 0; t < 3; t++) {
        free(y[t]);
        free(dx[t]);
        free(dw[t]);
    }
    free(x);
    free(w);
    free(b);
    free(dy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_with_bias),
        cmocka_unit_test(test_linear_without_bias),
        cmocka_unit_test(test_linear_backward_accumulates),
        cmocka_unit_test(test_linear_identical_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
