/* Tests for src/nn/conv_direct: the AVX-512 kernels (stride 1 and 2)
 * against the definition on integer-valued planes, where every product and partial sum is an
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

/* Floats past an output that the kernels must leave alone: its guard, set
 * to GUARD_VALUE before and checked after. */
enum { GUARD = 64 };
static const float GUARD_VALUE = 12345.0f;

static void set_guard(float *end)
{
    for (int i = 0; i < GUARD; i++) end[i] = GUARD_VALUE;
}

static void assert_guard(const float *end)
{
    for (int i = 0; i < GUARD; i++) assert_true(end[i] == GUARD_VALUE);
}

static sm_conv2d_shape shape(int c_in, int c_out, int h, int w, int stride)
{
    return (sm_conv2d_shape){.n = 1, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out, .k = 3, .stride = stride,
                             .pad = 1};
}

/* Σ_c Σ_tap w[o][c][tap] · x[c][oy·s + ky − 1][ox·s + kx − 1] by the definition. */
static double definition(const sm_conv2d_shape *s, const float *x, const float *wt, int o, int oy, int ox)
{
    double sum = 0.0;
    for (int c = 0; c < s->c_in; c++)
        for (int t = 0; t < 9; t++)
            sum += wt[((size_t)o * s->c_in + c) * 9 + t] *
                   at(x, c, s->h_in, s->w_in, oy * s->stride + t / 3 - 1, ox * s->stride + t % 3 - 1);
    return sum;
}

/* y = conv(x, wt) (every float of it written: it starts as NaN), then
 * y += conv(x, wt) (add), against the definition; nothing written past y.
 * x is padded while fetching ahead the image after it, all NaN: the
 * fetches must not reach the padded planes. */
static void check_forward(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 3, (uint64_t)(s.h_in * 100 + s.w_in));
    const int ho = sm_conv2d_h_out(&s), wo = sm_conv2d_w_out(&s);
    const size_t nx = (size_t)s.c_in * s.h_in * s.w_in, ny = (size_t)s.c_out * ho * wo, nw = sm_conv2d_weight_count(&s);
    float *x = sm_test_floats(2 * nx), *wt = sm_test_floats(nw), *y = sm_test_floats(ny + GUARD);
    float *xpad = sm_test_floats(sm_conv_direct_input_floats(&s));
    fill_small_integers(x, nx, &rng);
    fill_small_integers(wt, nw, &rng);
    /* garbage where the kernels must not look */
    for (size_t i = nx; i < 2 * nx; i++) x[i] = NAN;
    for (size_t i = 0; i < sm_conv_direct_input_floats(&s); i++) xpad[i] = NAN;
    for (size_t i = 0; i < ny; i++) y[i] = NAN;
    set_guard(y + ny);
    sm_conv_direct_pad_input(&s, x, NULL, nx, xpad);
    sm_conv_direct_forward(&s, xpad, wt, y, 0);
    sm_conv_direct_forward(&s, xpad, wt, y, 1);
    for (int o = 0; o < s.c_out; o++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++)
                assert_true(y[((size_t)o * ho + oy) * wo + ox] == 2.0 * definition(&s, x, wt, o, oy, ox));
    assert_guard(y + ny);
    free(x);
    free(wt);
    free(y);
    free(xpad);
}

/* Maps whose rows end inside a block of lanes and exactly on one (14 × 14:
 * 224 lanes); stride 2 on even and odd sizes (odd phases one row or column
 * short of the even ones). */
static void test_direct_forward_matches_definition(void **state)
{
    (void)state;
    if (!supported()) return;
    check_forward(shape(3, 8, 5, 7, 1));
    check_forward(shape(8, 16, 14, 14, 1));
    check_forward(shape(2, 8, 28, 28, 1));
    check_forward(shape(1, 8, 1, 6, 1));
    check_forward(shape(3, 8, 28, 28, 2));
    check_forward(shape(4, 16, 13, 15, 2));
    check_forward(shape(2, 8, 14, 12, 2));
}

/* dw += Σ dy · x on top of what dw held, against the definition, by
 * sm_conv_direct_weight_grad and, where the shape allows, by
 * sm_conv_direct_weight_grad_transposed into dw transposed. */
static void check_weight_grad(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 4, (uint64_t)(s.h_in * 100 + s.w_in));
    const int ho = sm_conv2d_h_out(&s), wo = sm_conv2d_w_out(&s);
    const size_t nx = (size_t)s.c_in * s.h_in * s.w_in, ny = (size_t)s.c_out * ho * wo, nw = sm_conv2d_weight_count(&s);
    const int transposed = sm_conv_direct_transposed_shape(&s);
    float *x = sm_test_floats(nx), *dy = sm_test_floats(ny), *dw = sm_test_floats(nw), *dwt = sm_test_floats(nw + GUARD);
    float *xpad = sm_test_floats(sm_conv_direct_input_floats(&s));
    float *dypad = sm_test_floats(sm_conv_direct_output_floats(&s));
    float *dyt = sm_test_floats(sm_conv_direct_transposed_floats(&s) + GUARD);
    fill_small_integers(x, nx, &rng);
    fill_small_integers(dy, ny, &rng);
    for (size_t i = 0; i < nw; i++) dw[i] = dwt[i] = 1.0f;
    set_guard(dwt + nw);
    set_guard(dyt + sm_conv_direct_transposed_floats(&s));
    sm_conv_direct_pad_input(&s, x, NULL, 0, xpad);
    sm_conv_direct_pad_output(&s, dy, NULL, 0, dypad);
    sm_conv_direct_weight_grad(&s, xpad, dypad, dw);
    if (transposed) sm_conv_direct_weight_grad_transposed(&s, xpad, dypad, dyt, dwt);
    assert_guard(dwt + nw);
    assert_guard(dyt + sm_conv_direct_transposed_floats(&s));
    for (int o = 0; o < s.c_out; o++)
        for (int c = 0; c < s.c_in; c++)
            for (int t = 0; t < 9; t++) {
                double want = 1.0;
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++)
                        want += at(dy, o, ho, wo, oy, ox) *
                                at(x, c, s.h_in, s.w_in, oy * s.stride + t / 3 - 1, ox * s.stride + t % 3 - 1);
                assert_true(dw[((size_t)o * s.c_in + c) * 9 + t] == want);
                if (transposed) assert_true(dwt[((size_t)c * 9 + t) * s.c_out + o] == want);
            }
    free(x);
    free(dy);
    free(dw);
    free(dwt);
    free(xpad);
    free(dypad);
    free(dyt);
}

/* The narrowest output the weight gradient takes (w_out = 6: P = 8) and
 * maps whose lanes run past the last row into the padding and the slack;
 * for the transposed kernel 32 output planes (one block of two vectors),
 * 64 (one of four) and 96 (one of each), at stride 1 and 2, odd maps too. */
static void test_direct_weight_grad_matches_definition(void **state)
{
    (void)state;
    if (!supported()) return;
    check_weight_grad(shape(3, 8, 5, 6, 1));
    check_weight_grad(shape(8, 8, 14, 14, 1));
    check_weight_grad(shape(2, 8, 28, 28, 1));
    check_weight_grad(shape(5, 8, 7, 15, 1));
    check_weight_grad(shape(3, 8, 28, 28, 2));
    check_weight_grad(shape(4, 8, 13, 11, 2));
    check_weight_grad(shape(4, 32, 7, 7, 1));
    check_weight_grad(shape(8, 64, 14, 14, 2));
    check_weight_grad(shape(12, 96, 5, 6, 1));
    check_weight_grad(shape(4, 96, 13, 11, 2));
    const sm_conv2d_shape sixteen_out = shape(8, 16, 14, 14, 1), six_in = shape(6, 32, 14, 14, 1);
    assert_false(sm_conv_direct_transposed_shape(&sixteen_out));
    assert_false(sm_conv_direct_transposed_shape(&six_in));
}

/* dx = the input gradient (every float of it written: it starts as NaN),
 * then dx += it (add), against the definition: dx[c][iy][ix] = Σ w[o][c][t]
 * · dy[o][oy][ox] over the (o, t, oy, ox) with oy·s + ky − 1 = iy and
 * ox·s + kx − 1 = ix; nothing written past dx. */
static void check_input_grad(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 5, (uint64_t)(s.h_in * 100 + s.w_in));
    const int ho = sm_conv2d_h_out(&s), wo = sm_conv2d_w_out(&s);
    const size_t nx = (size_t)s.c_in * s.h_in * s.w_in, ny = (size_t)s.c_out * ho * wo, nw = sm_conv2d_weight_count(&s);
    float *dx = sm_test_floats(nx + GUARD), *dy = sm_test_floats(ny), *w = sm_test_floats(nw), *wt = sm_test_floats(nw);
    float *dypad = sm_test_floats(sm_conv_direct_output_floats(&s));
    float *lanes = sm_test_floats(sm_conv_direct_lanes_floats(&s));
    double *want = calloc(nx, sizeof *want);
    assert_non_null(want);
    fill_small_integers(dy, ny, &rng);
    fill_small_integers(w, nw, &rng);
    for (size_t i = 0; i < nx; i++) dx[i] = NAN;
    set_guard(dx + nx);
    for (size_t i = 0; i < sm_conv_direct_lanes_floats(&s); i++) lanes[i] = NAN;
    for (int o = 0; o < s.c_out; o++)
        for (int c = 0; c < s.c_in; c++)
            for (int t = 0; t < 9; t++)
                for (int oy = 0; oy < ho; oy++)
                    for (int ox = 0; ox < wo; ox++) {
                        const int iy = oy * s.stride + t / 3 - 1, ix = ox * s.stride + t % 3 - 1;
                        if (iy < 0 || iy >= s.h_in || ix < 0 || ix >= s.w_in) continue;
                        want[((size_t)c * s.h_in + iy) * s.w_in + ix] +=
                            w[((size_t)o * s.c_in + c) * 9 + t] * at(dy, o, ho, wo, oy, ox);
                    }
    sm_conv_direct_input_grad_kernel(&s, w, wt);
    sm_conv_direct_pad_output(&s, dy, NULL, 0, dypad);
    sm_conv_direct_input_grad(&s, dypad, wt, dx, 0, lanes);
    for (size_t i = 0; i < nx; i++) assert_true(dx[i] == want[i]);
    sm_conv_direct_input_grad(&s, dypad, wt, dx, 1, lanes);
    for (size_t i = 0; i < nx; i++) assert_true(dx[i] == 2.0 * want[i]);
    assert_guard(dx + nx);
    free(dx);
    free(dy);
    free(w);
    free(wt);
    free(dypad);
    free(lanes);
    free(want);
}

/* Stride 1 and 2; even and odd maps (at stride 2 the odd phases of an odd
 * map are a row or column short), rows ending inside and on a block of
 * lanes; at stride 2 rows of dx longer than the 32 columns interleaved at a
 * time (70 and 67: two runs, the second short). */
static void test_direct_input_grad_matches_definition(void **state)
{
    (void)state;
    if (!supported()) return;
    check_input_grad(shape(8, 8, 5, 7, 1));
    check_input_grad(shape(16, 8, 14, 14, 1));
    check_input_grad(shape(8, 16, 28, 28, 2));
    check_input_grad(shape(16, 8, 13, 15, 2));
    check_input_grad(shape(8, 24, 14, 12, 2));
    check_input_grad(shape(8, 8, 11, 11, 2));
    check_input_grad(shape(8, 8, 9, 70, 2));
    check_input_grad(shape(16, 8, 6, 67, 2));
}

/* Padding copies the planes into the middle of zeroed frames; stride 2
 * splits them into four such phases. */
static void test_direct_pad_layout(void **state)
{
    (void)state;
    if (!supported()) return;
    const float x[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    sm_conv2d_shape s = shape(2, 8, 2, 3, 1);
    const size_t n = sm_conv_direct_input_floats(&s);
    float *xpad = sm_test_floats(n);
    for (size_t i = 0; i < n; i++) xpad[i] = NAN;
    sm_conv_direct_pad_input(&s, x, NULL, 0, xpad);
    /* pitch 5, 4 rows: plane 20 floats */
    const float plane0[20] = {0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(xpad, plane0, sizeof plane0);
    assert_true(xpad[20 + 6] == 7.0f && xpad[20 + 13] == 12.0f);
    for (size_t i = 40; i < n; i++) assert_true(xpad[i] == 0.0f);
    free(xpad);

    /* stride 2, 2 × 3 → 1 × 2 outputs: phases of pitch 4 and 3 rows */
    s = shape(1, 8, 2, 3, 2);
    const size_t m = sm_conv_direct_input_floats(&s);
    xpad = sm_test_floats(m);
    for (size_t i = 0; i < m; i++) xpad[i] = NAN;
    sm_conv_direct_pad_input(&s, x, NULL, 0, xpad);
    const float phases[4][12] = {
        {0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0}, /* even rows, even columns */
        {0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0}, /* even rows, odd columns */
        {0, 0, 0, 0, 0, 4, 6, 0, 0, 0, 0, 0}, /* odd rows, even columns */
        {0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0},
    };
    assert_memory_equal(xpad, phases, sizeof phases);
    for (size_t i = 48; i < m; i++) assert_true(xpad[i] == 0.0f);
    free(xpad);
}

/* Padded value (r, col) of phase (a, b) of plane c (stride 1: a = b = 0,
 * the plane itself): x[c][stride·(r − 1) + a][stride·(col − 1) + b] inside
 * the frame, 0 on it. */
static float padded_value(const sm_conv2d_shape *s, const float *x, int c, int a, int b, int r, int col)
{
    const int iy = s->stride * (r - 1) + a, ix = s->stride * (col - 1) + b;
    return r < 1 || col < 1 ? 0.0f : (float)at(x, c, s->h_in, s->w_in, iy, ix);
}

/* Every padded float against padded_value, over widths that end a row
 * before, on and after a 16-lane block (pitches 3 … 42), both strides,
 * with the scratch prefilled with NaN: every float of the frames and the
 * slack is written. */
static void test_direct_pad_every_float(void **state)
{
    (void)state;
    if (!supported()) return;
    for (int stride = 1; stride <= 2; stride++)
        for (int w = 1; w <= 40 * stride; w++) {
            const sm_conv2d_shape s = shape(2, 8, 3 + w % 4, w, stride);
            const size_t nx = (size_t)s.c_in * s.h_in * s.w_in, n = sm_conv_direct_input_floats(&s);
            float *x = sm_test_floats(nx), *xpad = sm_test_floats(n);
            for (size_t i = 0; i < nx; i++) x[i] = (float)(i + 1);
            for (size_t i = 0; i < n; i++) xpad[i] = NAN;
            sm_conv_direct_pad_input(&s, x, NULL, 0, xpad);
            const int p = sm_conv2d_w_out(&s) + 2, rows = sm_conv2d_h_out(&s) + 2, phases = stride * stride;
            size_t at_float = 0;
            for (int c = 0; c < s.c_in; c++)
                for (int ph = 0; ph < phases; ph++)
                    for (int r = 0; r < rows; r++)
                        for (int col = 0; col < p; col++)
                            assert_true(xpad[at_float++] == padded_value(&s, x, c, ph / 2, ph % 2, r, col));
            while (at_float < n) assert_true(xpad[at_float++] == 0.0f);
            free(x);
            free(xpad);
        }
}

/* The columns from the padded planes are im2col's: row (c, tap), entry
 * oy·w_out + ox = x at the tap's input pixel, 0 in the padding; rows ld
 * floats apart, the floats between them (another image's columns) left
 * alone.  Both strides, even and odd maps, rows of 6 to 35 columns. */
static void check_columns(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 7, (uint64_t)(s.h_in * 100 + s.w_in));
    const size_t ho = (size_t)sm_conv2d_h_out(&s), wo = (size_t)sm_conv2d_w_out(&s), p = ho * wo, ld = 2 * p + 5;
    const size_t nx = (size_t)s.c_in * s.h_in * s.w_in, rows = (size_t)s.c_in * 9, n = rows * ld;
    float *x = sm_test_floats(nx), *xpad = sm_test_floats(sm_conv_direct_input_floats(&s));
    float *cols = sm_test_floats(n + GUARD);
    fill_small_integers(x, nx, &rng);
    for (size_t i = 0; i < n; i++) cols[i] = GUARD_VALUE;
    set_guard(cols + n);
    sm_conv_direct_pad_input(&s, x, NULL, 0, xpad);
    sm_conv_direct_columns(&s, xpad, cols, ld);
    for (size_t r = 0; r < rows; r++) {
        const int c = (int)(r / 9), t = (int)(r % 9);
        for (size_t q = 0; q < ld; q++) {
            const int oy = (int)(q / wo), ox = (int)(q % wo);
            const double want = q < p ? at(x, c, s.h_in, s.w_in, oy * s.stride + t / 3 - 1, ox * s.stride + t % 3 - 1)
                                      : GUARD_VALUE;
            assert_true(cols[r * ld + q] == want);
        }
    }
    assert_guard(cols + n);
    free(x);
    free(xpad);
    free(cols);
}

static void test_direct_columns_match_im2col(void **state)
{
    (void)state;
    if (!supported()) return;
    check_columns(shape(3, 8, 5, 6, 1));
    check_columns(shape(2, 8, 14, 14, 1));
    check_columns(shape(2, 8, 28, 28, 2));
    check_columns(shape(3, 8, 13, 15, 2));
    check_columns(shape(2, 8, 7, 70, 2));
}

/* dy padded through a gradient map (BatchNorm's input gradient from its
 * output gradient and input) is dy materialised through it and padded, bit
 * for bit, every float of the scratch (NaN before) included: with and
 * without the ReLU test, maps of 6 to 40 columns; the map's padding fetches
 * the next image's dy and x ahead, both NaN. */
static void check_pad_grad_map(sm_conv2d_shape s, int relu)
{
    sm_rng rng;
    sm_rng_seed(&rng, 9, (uint64_t)(s.w_in * 2 + relu));
    const size_t hw = (size_t)sm_conv2d_h_out(&s) * sm_conv2d_w_out(&s), ny = (size_t)s.c_out * hw;
    const size_t n = sm_conv_direct_output_floats(&s);
    float *dy = sm_test_floats(2 * ny), *x = sm_test_floats(2 * ny), *dx = sm_test_floats(ny);
    float *stored = sm_test_floats(6 * (size_t)s.c_out), *pad[2] = {sm_test_floats(n), sm_test_floats(n)};
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    sm_test_fill_uniform(x, ny, &rng, -1.0, 3.0);
    for (size_t i = ny; i < 2 * ny; i++) dy[i] = x[i] = NAN;
    const sm_grad_map gm = sm_test_random_grad_map((size_t)s.c_out, x, relu, &rng, stored);
    sm_test_apply_grad_map(&gm, 1, (size_t)s.c_out, hw, dy, dx);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n; i++) pad[k][i] = NAN;
    sm_conv_direct_pad_output(&s, dx, NULL, 0, pad[0]);
    sm_conv_direct_pad_output(&s, dy, &gm, ny, pad[1]);
    assert_memory_equal(pad[0], pad[1], n * sizeof(float));
    free(dy);
    free(x);
    free(dx);
    free(stored);
    free(pad[0]);
    free(pad[1]);
}

static void test_direct_pad_through_grad_map(void **state)
{
    (void)state;
    if (!supported()) return;
    for (int relu = 0; relu < 2; relu++) {
        check_pad_grad_map(shape(8, 8, 5, 6, 1), relu);
        check_pad_grad_map(shape(8, 16, 14, 14, 1), relu);
        check_pad_grad_map(shape(8, 8, 28, 28, 1), relu);
        check_pad_grad_map(shape(8, 8, 9, 40, 1), relu);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_forward_matches_definition),
        cmocka_unit_test(test_direct_weight_grad_matches_definition),
        cmocka_unit_test(test_direct_input_grad_matches_definition),
        cmocka_unit_test(test_direct_pad_layout),
        cmocka_unit_test(test_direct_pad_every_float),
        cmocka_unit_test(test_direct_columns_match_im2col),
        cmocka_unit_test(test_direct_pad_through_grad_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
