/* Tests for src/optim/sgd: a two-step trajectory computed by hand with
 * torch.optim.SGD's rule, two groups with their own hyper-parameters, and the
 * degenerate momentum 0 / weight decay 0 cases. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "optim/sgd.h"

/* cmocka's assert_float_equal compares in float; these checks need double. */
static void near(double got, double want, double tol, int line)
{
    if (!(fabs(got - want) <= tol)) fail_msg("line %d: got %.17g, want %.17g (tol %.3g)", line, got, want, tol);
}
#define assert_near(got, want, tol) near((got), (want), (tol), __LINE__)

/* Group 0 (w[0..1]): lr 0.1, momentum 0.9, wd 0.01.  Group 1 (w[2]): lr 0.5,
 * momentum 0.5, wd 0.  Gradients g1 then g2.
 *   w0 = 1,  g = 0.5, −1:  d_p = 0.5 + 0.01 = 0.51, buf = 0.51, w = 1 − 0.051 = 0.949
 *                          d_p = −1 + 0.00949 = −0.99051, buf = 0.459 − 0.99051 = −0.53151,
 *                          w = 0.949 + 0.053151 = 1.002151
 *   w1 = −2, g = 0, 0:     d_p = −0.02, buf = −0.02, w = −1.998
 *                          d_p = −0.01998, buf = −0.018 − 0.01998 = −0.03798, w = −1.994202
 *   w2 = 3,  g = 1, 2:     buf = 1, w = 2.5;  buf = 0.5 + 2 = 2.5, w = 1.25 */
static void test_sgd_two_step_trajectory(void **state)
{
    (void)state;
    float w[3] = {1.0f, -2.0f, 3.0f}, buf[3] = {0}, g1[3] = {0.5f, 0.0f, 1.0f}, g2[3] = {-1.0f, 0.0f, 2.0f};
    const sm_sgd_group groups[2] = {
        {.offset = 0, .count = 2, .lr = 0.1f, .momentum = 0.9f, .weight_decay = 0.01f},
        {.offset = 2, .count = 1, .lr = 0.5f, .momentum = 0.5f, .weight_decay = 0.0f},
    };
    sm_sgd_step(groups, 2, w, g1, buf);
    assert_near(buf[0], 0.51, 1e-7);
    assert_near(w[0], 0.949, 1e-7);
    assert_near(w[1], -1.998, 1e-6);
    assert_near(w[2], 2.5, 0.0);
    sm_sgd_step(groups, 2, w, g2, buf);
    assert_near(buf[0], -0.53151, 1e-7);
    assert_near(w[0], 1.002151, 1e-6);
    assert_near(buf[1], -0.03798, 1e-7);
    assert_near(w[1], -1.994202, 1e-6);
    assert_near(buf[2], 2.5, 0.0);
    assert_near(w[2], 1.25, 0.0);
}

/* Momentum 0 and weight decay 0 reduce to w −= lr · g; a parameter outside
 * every group is untouched. */
static void test_sgd_plain_and_ungrouped(void **state)
{
    (void)state;
    float w[3] = {1.0f, 1.0f, 7.0f}, buf[3] = {0}, g[3] = {0.25f, -0.5f, 100.0f};
    const sm_sgd_group plain = {.offset = 0, .count = 2, .lr = 2.0f};
    sm_sgd_step(&plain, 1, w, g, buf);
    sm_sgd_step(&plain, 1, w, g, buf);
    assert_true(w[0] == 0.0f && w[1] == 3.0f && w[2] == 7.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_two_step_trajectory),
        cmocka_unit_test(test_sgd_plain_and_ungrouped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
