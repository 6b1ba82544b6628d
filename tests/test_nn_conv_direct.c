/* Tests for src/nn/conv_direct: the AVX-512 kernels against the definition
 * on integer-valued planes, where every product and partial sum is an
 * integer below 2^24 and so exact in float: any lane read from the wrong
 * place, or padding that is not zero, changes the answer.  On a CPU without
 * AVX-512 the kernels are never called and these tests say so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/conv_direct.h"
#include "support/support.h"

/* Integers in [-4, 4]. */
static void fill_small_integers(float *v, size_t n, sm_rng *rng)
{
    for (size_t i = 0; i < n; i++) v[i] = (float)((int)(sm_rng_uniform(rng) * 9.0) - 4);
}

/* x[c][iy][ix], 0 outside the map. */
static double at(const float *x, int c, int h, int w, int iy, int ix)
{
    return iy < 0 || iy >= h || ix < 0 || ix >= w ? 0.0 : x[((size_t)c * h + iy) * w + ix];
}

static int supported(void)
{
    if (sm_conv_direct_supported()) return 1;
    print_message("CPU without AVX-512: the direct convolution is not used, nothing to test\n");
    return 0;
}

/* y = conv(x, wt), then y += conv(x, wt) (add), against the definition. */
static void check_forward(int c_in, int c_out, int h, int w)
{
    sm_rng rng;
    sm_rng_seed(&rng, 3, (uint64_t)(h * 100 + w));
    const size_t nx = (size_t)c_in * h * w, ny = (size_t)c_out * h * w, nw = (size_t)c_out * c_in * 9;
    float *x = sm_test_floats(nx), *wt = sm_test_floats(nw), *y = sm_test_floats(ny);
    float *xpad = sm_test_floats(sm_conv_direct_padded_floats(c_in, h, w));
    float *out = sm_test_floats(sm_conv_direct_out_floats(h, w));
    fill_small_integers(x, nx, &rng);
    fill_small_integers(wt, nw, &rng);
    /* garbage where the kernels must not look */
    for (size_t i = 0; i < sm_conv_direct_out_floats(h, w); i++) out[i] = NAN;
    sm_conv_direct_pad(c_in, h, w, x, xpad);
    sm_conv_direct_forward(c_in, c_out, h, w, xpad, wt, y, 0, out);
    sm_conv_direct_forward(c_in, c_out, h, w, xpad, wt, y, 1, out);
    for (int o = 0; o < c_out; o++)
        for (int oy = 0; oy < h; oy++)
            for (int ox = 0; ox < w; ox++) {
                double want = 0.0;
                for (int c = 0; c < c_in; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++)
                            want += wt[((size_t)o * c_in + c) * 9 + ky * 3 + kx] *
                                    at(x, c, h, w, oy + ky - 1, ox + kx - 1);
                assert_true(y[((size_t)o * h + oy) * w + ox] == 2.0 * want);
            }
    free(x);
    free(wt);
    free(y);
    free(xpad);
    free(out);
}

/* Maps whose rows end inside a block of lanes, exactly on one (14 × 14:
 * 224 lanes), and narrower than a vector. */
static void test_direct_forward_matches_definition(void **state)
{
    (void)state;
    if (!supported()) return;
    check_forward(3, 8, 5, 7);
    check_forward(8, 16, 14, 14);
    check_forward(2, 8, 28, 28);
    check_forward(1, 8, 1, 1);
}

/* dw += Σ dy · x on top of what dw held. */
static void check_weight_grad(int c_in, int c_out, int h, int w)
{
    sm_rng rng;
    sm_rng_seed(&rng, 4, (uint64_t)(h * 100 + w));
    const size_t nx = (size_t)c_in * h * w, ny = (size_t)c_out * h * w, nw = (size_t)c_out * c_in * 9;
    float *x = sm_test_floats(nx), *dy = sm_test_floats(ny), *dw = sm_test_floats(nw);
    float *xpad = sm_test_floats(sm_conv_direct_padded_floats(c_in, h, w));
    float *dypad = sm_test_floats(sm_conv_direct_padded_floats(c_out, h, w));
    fill_small_integers(x, nx, &rng);
    fill_small_integers(dy, ny, &rng);
    for (size_t i = 0; i < nw; i++) dw[i] = 1.0f;
    sm_conv_direct_pad(c_in, h, w, x, xpad);
    sm_conv_direct_pad(c_out, h, w, dy, dypad);
    sm_conv_direct_weight_grad(c_in, c_out, h, w, xpad, dypad, dw);
    for (int o = 0; o < c_out; o++)
        for (int c = 0; c < c_in; c++)
            for (int t = 0; t < 9; t++) {
                double want = 1.0;
                for (int oy = 0; oy < h; oy++)
                    for (int ox = 0; ox < w; ox++)
                        want += at(dy, o, h, w, oy, ox) * at(x, c, h, w, oy + t / 3 - 1, ox + t % 3 - 1);
                assert_true(dw[((size_t)o * c_in + c) * 9 + t] == want);
            }
    free(x);
    free(dy);
    free(dw);
    free(xpad);
    free(dypad);
}

/* The narrowest map the weight gradient takes (w = 6: P = 8) and maps whose
 * lanes run past the last row into the padding and the slack. */
static void test_direct_weight_grad_matches_definition(void **state)
{
    (void)state;
    if (!supported()) return;
    check_weight_grad(3, 4, 5, 6);
    check_weight_grad(8, 8, 14, 14);
    check_weight_grad(2, 4, 28, 28);
    check_weight_grad(5, 8, 7, 15);
}

/* Padding copies the planes into the middle of zeroed frames. */
static void test_direct_pad_layout(void **state)
{
    (void)state;
    const float x[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const size_t n = sm_conv_direct_padded_floats(2, 2, 3);
    float *xpad = sm_test_floats(n);
    for (size_t i = 0; i < n; i++) xpad[i] = NAN;
    sm_conv_direct_pad(2, 2, 3, x, xpad);
    /* pitch 5, 4 rows: plane 20 floats */
    const float plane0[20] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(xpad, plane0, sizeof plane0);
    assert_true(xpad[20 + 6] == 7.0f && xpad[20 + 13] == 12.0f);
    for (size_t i = 40; i < n; i++) assert_true(xpad[i] == 0.0f);
    free(xpad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_forward_matches_definition),
        cmocka_unit_test(test_direct_weight_grad_matches_definition),
        cmocka_unit_test(test_direct_pad_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
