/* Tests for src/nn/conv2d: forward against a direct 7-loop convolution in
 * double, backward against central differences of that reference, gradient
 * accumulation, and bitwise identity across thread counts; on an AVX-512
 * CPU the 3 × 3, padding-1 shapes with output planes in eights take the
 * direct convolution (src/nn/conv_direct.h; the forward onto 7+ columns,
 * the stride-1 backward on 14+), checked against im2col too, and its dy
 * read through a BatchNorm's gradient map against dy written. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "nn/conv2d.h"
#include "nn/conv_direct.h"
#include "support/support.h"

typedef struct {
    sm_conv2d_shape s;
    double *x, *w, *r; /* input, weights, and the weights r of L = Σ r·y */
} conv_case;

static size_t x_count(const sm_conv2d_shape *s) { return (size_t)s->n * s->c_in * s->h_in * s->w_in; }
static size_t y_count(const sm_conv2d_shape *s)
{
    return (size_t)s->n * s->c_out * sm_conv2d_h_out(s) * sm_conv2d_w_out(s);
}

/* The definition, one output element at a time: 7 nested loops. */
static void ref_forward(const sm_conv2d_shape *s, const double *x, const double *w, double *y)
{
    const int ho = sm_conv2d_h_out(s), wo = sm_conv2d_w_out(s), k = s->k;
    for (int n = 0; n < s->n; n++)
        for (int o = 0; o < s->c_out; o++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++) {
                    double sum = 0.0;
                    for (int c = 0; c < s->c_in; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s->stride - s->pad + ky, ix = ox * s->stride - s->pad + kx;
                                if (iy < 0 || iy >= s->h_in || ix < 0 || ix >= s->w_in) continue;
                                sum += w[((o * s->c_in + c) * k + ky) * k + kx] *
                                       x[((n * s->c_in + c) * s->h_in + iy) * s->w_in + ix];
                            }
                    y[((n * s->c_out + o) * ho + oy) * wo + ox] = sum;
                }
}

static double ref_objective(const void *ctx)
{
    const conv_case *cc = ctx;
    size_t ny = y_count(&cc->s);
    double *y = malloc(ny * sizeof *y);
    assert_non_null(y);
    ref_forward(&cc->s, cc->x, cc->w, y);
    double l = 0.0;
    for (size_t i = 0; i < ny; i++) l += cc->r[i] * y[i];
    free(y);
    return l;
}

/* Forward and backward of one shape against the reference. */
static void check_shape(sm_conv2d_shape s, int threads)
{
    sm_rng rng;
    sm_rng_seed(&rng, 11, (uint64_t)(s.stride * 10 + s.pad + 100 * s.k));
    size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *y = sm_test_floats(ny), *r = sm_test_floats(ny);
    float *dx = sm_test_floats(nx), *dw = sm_test_floats(nw);
    float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, threads));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(r, ny, &rng, -1.0, 1.0);

    sm_conv2d_forward(&s, x, NULL, w, y, scratch, threads);
    conv_case cc = {s, sm_test_to_double(x, nx), sm_test_to_double(w, nw), sm_test_to_double(r, ny)};
    double *want = malloc(ny * sizeof *want), scale = 0.0;
    assert_non_null(want);
    ref_forward(&s, cc.x, cc.w, want);
    for (size_t i = 0; i < ny; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < ny; i++)
        if (fabs(y[i] - want[i]) > 1e-6 * scale) fail_msg("y[%zu] = %.9g, want %.9g", i, y[i], want[i]);

    for (size_t i = 0; i < nx; i++) dx[i] = NAN; /* set, not added: the old contents are never read */
    sm_conv2d_backward(&s, x, NULL, w, r, NULL, dx, 0, dw, scratch, threads);
    sm_test_check_gradient(ref_objective, &cc, cc.w, nw, dw, 1e-6);
    sm_test_check_gradient(ref_objective, &cc, cc.x, nx, dx, 1e-6);

    free(want);
    free(cc.x);
    free(cc.w);
    free(cc.r);
    free(x);
    free(w);
    free(y);
    free(r);
    free(dx);
    free(dw);
    free(scratch);
}

static void test_conv2d_stride1_pad0(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 3, .h_in = 7, .w_in = 6, .c_out = 4, .k = 3, .stride = 1, .pad = 0}, 1);
}

static void test_conv2d_stride1_pad1(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 3, .h_in = 7, .w_in = 6, .c_out = 4, .k = 3, .stride = 1, .pad = 1}, 2);
}

static void test_conv2d_stride2_pad0(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 3, .c_in = 2, .h_in = 8, .w_in = 7, .c_out = 3, .k = 3, .stride = 2, .pad = 0}, 2);
}

static void test_conv2d_stride2_pad1(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 3, .c_in = 2, .h_in = 7, .w_in = 8, .c_out = 5, .k = 3, .stride = 2, .pad = 1}, 1);
}

/* "Same" 5 × 5 convolutions take the one-span im2col/col2im path: gaps of
 * up to 2 padding columns between output rows, 2 padding rows at each end. */
static void test_conv2d_same_k5(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 2, .h_in = 6, .w_in = 5, .c_out = 3, .k = 5, .stride = 1, .pad = 2}, 2);
}

/* A one-column map: every kx but the centre reads only padding (empty spans). */
static void test_conv2d_same_one_column(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 3, .c_in = 2, .h_in = 4, .w_in = 1, .c_out = 2, .k = 3, .stride = 1, .pad = 1}, 1);
}

/* Stride 3 with padding 2: whole kernel rows and columns fall in padding. */
static void test_conv2d_stride3_pad2(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 2, .h_in = 5, .w_in = 4, .c_out = 3, .k = 3, .stride = 3, .pad = 2}, 2);
}

/* The BasicBlock shortcut: 1×1, stride 2, no padding. */
static void test_conv2d_1x1_stride2(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 4, .h_in = 7, .w_in = 7, .c_out = 6, .k = 1, .stride = 2, .pad = 0}, 2);
}

/* More images than dW chunks, so chunks hold several images. */
static void test_conv2d_many_images(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 37, .c_in = 2, .h_in = 5, .w_in = 5, .c_out = 3, .k = 3, .stride = 1, .pad = 1}, 2);
}

/* Backward adds to what the gradients hold (dx too, with accumulate); dx =
 * NULL skips the input gradient. */
static void check_backward_accumulates(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 5, 0);
    size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *dy = sm_test_floats(ny);
    float *dx0 = sm_test_floats(nx), *dw0 = sm_test_floats(nw), *dx = sm_test_floats(nx), *dw = sm_test_floats(nw);
    float *dw_only = sm_test_floats(nw), *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, 2));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    sm_conv2d_backward(&s, x, NULL, w, dy, NULL, dx0, 0, dw0, scratch, 2);
    for (size_t i = 0; i < nx; i++) dx[i] = 0.25f;
    for (size_t i = 0; i < nw; i++) dw[i] = dw_only[i] = -0.5f;
    sm_conv2d_backward(&s, x, NULL, w, dy, NULL, dx, 1, dw, scratch, 2);
    sm_conv2d_backward(&s, x, NULL, w, dy, NULL, NULL, 1, dw_only, scratch, 2);
    /* col2im adds term by term onto dx and the stride-1 sgemm adds its sum
     * as C = AB + C, so the rounding differs from 0.25 + dx0 */
    for (size_t i = 0; i < nx; i++) assert_true(fabsf(dx[i] - (0.25f + dx0[i])) <= 1e-6f);
    /* Without dx a stride-1 dW comes from the columns of x instead of those
     * of dy: the same sums, rounded differently. */
    for (size_t i = 0; i < nw; i++) {
        assert_true(dw[i] == -0.5f + dw0[i]);
        assert_true(fabsf(dw_only[i] - dw[i]) <= 1e-5f);
    }
    free(x);
    free(w);
    free(dy);
    free(dx0);
    free(dw0);
    free(dx);
    free(dw);
    free(dw_only);
    free(scratch);
}

/* Both input-gradient paths: col2im (stride 2) and convolution (stride 1,
 * which also takes dW from the columns of dy unless dx is NULL). */
static void test_conv2d_backward_accumulates(void **state)
{
    (void)state;
    check_backward_accumulates((sm_conv2d_shape){.n = 3, .c_in = 2, .h_in = 6, .w_in = 5, .c_out = 3, .k = 3, .stride = 2, .pad = 1});
    check_backward_accumulates((sm_conv2d_shape){.n = 3, .c_in = 2, .h_in = 6, .w_in = 5, .c_out = 3, .k = 3, .stride = 1, .pad = 1});
    /* direct: dx by the direct convolution, and dW direct with or without dx */
    check_backward_accumulates((sm_conv2d_shape){.n = 3, .c_in = 8, .h_in = 3, .w_in = 14, .c_out = 8, .k = 3, .stride = 1, .pad = 1});
    /* direct forward and dW with dx through col2im (3 input planes); stride 2:
     * direct forward, im2col's backward */
    check_backward_accumulates((sm_conv2d_shape){.n = 3, .c_in = 3, .h_in = 3, .w_in = 14, .c_out = 8, .k = 3, .stride = 1, .pad = 1});
    check_backward_accumulates((sm_conv2d_shape){.n = 3, .c_in = 8, .h_in = 4, .w_in = 14, .c_out = 8, .k = 3, .stride = 2, .pad = 1});
}

/* The direct convolution's shapes against the reference: the direct dx
 * (8 input planes), dx through col2im after the direct dW (3), a
 * stride-2 forward, and the transposed dW (32 output planes) with either dx. */
static void test_conv2d_direct_shapes(void **state)
{
    (void)state;
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 8, .h_in = 3, .w_in = 15, .c_out = 16, .k = 3, .stride = 1, .pad = 1}, 2);
    check_shape((sm_conv2d_shape){.n = 1, .c_in = 3, .h_in = 4, .w_in = 14, .c_out = 8, .k = 3, .stride = 1, .pad = 1}, 1);
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 3, .h_in = 5, .w_in = 13, .c_out = 8, .k = 3, .stride = 2, .pad = 1}, 2);
    check_shape((sm_conv2d_shape){.n = 2, .c_in = 8, .h_in = 7, .w_in = 7, .c_out = 32, .k = 3, .stride = 1, .pad = 1}, 2);
    check_shape((sm_conv2d_shape){.n = 3, .c_in = 4, .h_in = 9, .w_in = 13, .c_out = 32, .k = 3, .stride = 2, .pad = 1}, 1);
}

/* The direct path against im2col + sgemm, relative to the largest entry of
 * each result. */
static void check_direct_matches_im2col(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 21, 0);
    const size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *dy = sm_test_floats(ny);
    float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, 2));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    float *out[2][3];
    const size_t count[3] = {ny, nx, nw};
    for (int direct = 0; direct < 2; direct++) {
        for (int t = 0; t < 3; t++) out[direct][t] = sm_test_floats(count[t]);
        sm_conv2d_allow_direct(direct);
        sm_conv2d_forward(&s, x, NULL, w, out[direct][0], scratch, 2);
        sm_conv2d_backward(&s, x, NULL, w, dy, NULL, out[direct][1], 1, out[direct][2], scratch, 2);
    }
    for (int t = 0; t < 3; t++) {
        double scale = 0.0;
        for (size_t i = 0; i < count[t]; i++) scale = fmax(scale, fabs(out[0][t][i]));
        for (size_t i = 0; i < count[t]; i++) assert_true(fabs(out[1][t][i] - out[0][t][i]) <= 1e-6 * scale);
        free(out[0][t]);
        free(out[1][t]);
    }
    free(x);
    free(w);
    free(dy);
    free(scratch);
}

/* The small network's 3 × 3 layers: its first block (16 planes, 28 × 28),
 * whose dW sums across lanes, its two downsampling layers and the 14 × 14
 * and 7 × 7 blocks, whose dW takes the output planes in lanes (40 and 9
 * images: dW chunks of 2–3 images, and on the im2col side groups of up to
 * five 7 × 7 maps). */
static void test_conv2d_direct_matches_im2col(void **state)
{
    (void)state;
    if (!sm_conv_direct_supported()) print_message("CPU without AVX-512: both runs take im2col\n");
    check_direct_matches_im2col((sm_conv2d_shape){.n = 5, .c_in = 16, .h_in = 28, .w_in = 28, .c_out = 16, .k = 3, .stride = 1, .pad = 1});
    check_direct_matches_im2col((sm_conv2d_shape){.n = 5, .c_in = 16, .h_in = 28, .w_in = 28, .c_out = 32, .k = 3, .stride = 2, .pad = 1});
    check_direct_matches_im2col((sm_conv2d_shape){.n = 40, .c_in = 32, .h_in = 14, .w_in = 14, .c_out = 64, .k = 3, .stride = 2, .pad = 1});
    check_direct_matches_im2col((sm_conv2d_shape){.n = 5, .c_in = 32, .h_in = 14, .w_in = 14, .c_out = 32, .k = 3, .stride = 1, .pad = 1});
    check_direct_matches_im2col((sm_conv2d_shape){.n = 9, .c_in = 64, .h_in = 7, .w_in = 7, .c_out = 64, .k = 3, .stride = 1, .pad = 1});
}

/* With an input map the layer must give the bits of the same layer on the
 * mapped input (the map applied beforehand), on every path: y, dx and dw
 * compared with memcmp.  The map's scales and shifts vary by channel and
 * its ReLU cuts about half the values. */
static void check_input_map(sm_conv2d_shape s, int relu)
{
    sm_rng rng;
    sm_rng_seed(&rng, 22, (uint64_t)s.h_in);
    const size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s), plane = (size_t)s.h_in * s.w_in;
    float *x = sm_test_floats(nx), *mapped = sm_test_floats(nx), *w = sm_test_floats(nw), *dy = sm_test_floats(ny);
    float *mean = sm_test_floats((size_t)s.c_in), *scale = sm_test_floats((size_t)s.c_in);
    float *shift = sm_test_floats((size_t)s.c_in);
    float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, 2));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 3.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    sm_test_fill_uniform(mean, (size_t)s.c_in, &rng, 0.5, 1.5);
    sm_test_fill_uniform(scale, (size_t)s.c_in, &rng, 0.5, 2.0);
    sm_test_fill_uniform(shift, (size_t)s.c_in, &rng, -0.5, 0.5);
    const sm_channel_map map = {mean, scale, shift, relu};
    for (int i = 0; i < s.n; i++)
        for (int c = 0; c < s.c_in; c++) {
            const size_t at = ((size_t)i * s.c_in + c) * plane;
            for (size_t q = 0; q < plane; q++)
                mapped[at + q] = sm_channel_value(x[at + q], mean[c], scale[c], shift[c], relu);
        }
    float *out[2][3];
    const size_t count[3] = {ny, nx, nw};
    for (int through_map = 0; through_map < 2; through_map++) {
        for (int t = 0; t < 3; t++) out[through_map][t] = sm_test_floats(count[t]);
        memset(out[through_map][2], 0, nw * sizeof(float));
        const float *in = through_map ? x : mapped;
        const sm_channel_map *m = through_map ? &map : NULL;
        sm_conv2d_forward(&s, in, m, w, out[through_map][0], scratch, 2);
        sm_conv2d_backward(&s, in, m, w, dy, NULL, out[through_map][1], 0, out[through_map][2], scratch, 2);
    }
    for (int t = 0; t < 3; t++) {
        assert_memory_equal(out[0][t], out[1][t], count[t] * sizeof(float));
        free(out[0][t]);
        free(out[1][t]);
    }
    free(x);
    free(mapped);
    free(w);
    free(dy);
    free(mean);
    free(scale);
    free(shift);
    free(scratch);
}

/* Where backward takes a gradient map for dy (the direct stride-1
 * backward), dx and dw read through it are those from dy materialised
 * through it (a BatchNorm's written input gradient), bit for bit; with dx
 * (8 input planes) and without (the 1-plane stem), ReLU test or not. */
static void check_dy_map(sm_conv2d_shape s, int with_dx, int relu)
{
    if (!sm_conv2d_backward_takes_dy_map(&s, with_dx)) {
        print_message("CPU without AVX-512: no gradient map taken\n");
        return;
    }
    sm_rng rng;
    sm_rng_seed(&rng, 31, (uint64_t)(s.c_in * 2 + relu));
    const size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    const size_t hw = (size_t)sm_conv2d_h_out(&s) * sm_conv2d_w_out(&s);
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *g = sm_test_floats(ny), *y = sm_test_floats(ny);
    float *dy = sm_test_floats(ny), *stored = sm_test_floats(6 * (size_t)s.c_out);
    float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, 2));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(g, ny, &rng, -1.0, 1.0);
    sm_test_fill_uniform(y, ny, &rng, -1.0, 3.0);
    const sm_grad_map gm = sm_test_random_grad_map((size_t)s.c_out, y, relu, &rng, stored);
    sm_test_apply_grad_map(&gm, (size_t)s.n, (size_t)s.c_out, hw, g, dy);
    float *dx[2] = {with_dx ? sm_test_floats(nx) : NULL, with_dx ? sm_test_floats(nx) : NULL};
    float *dw[2] = {sm_test_floats(nw), sm_test_floats(nw)};
    sm_conv2d_backward(&s, x, NULL, w, dy, NULL, dx[0], 0, dw[0], scratch, 2);
    sm_conv2d_backward(&s, x, NULL, w, g, &gm, dx[1], 0, dw[1], scratch, 2);
    assert_memory_equal(dw[0], dw[1], nw * sizeof(float));
    if (with_dx) assert_memory_equal(dx[0], dx[1], nx * sizeof(float));
    for (int k = 0; k < 2; k++) {
        free(dx[k]);
        free(dw[k]);
    }
    free(x);
    free(w);
    free(g);
    free(y);
    free(dy);
    free(stored);
    free(scratch);
}

/* n images of c_in planes h × h through a 3 × 3 kernel, padding 1. */
static sm_conv2d_shape conv3(int n, int c_in, int c_out, int h, int stride)
{
    return (sm_conv2d_shape){.n = n, .c_in = c_in, .h_in = h, .w_in = h, .c_out = c_out, .k = 3, .stride = stride,
                             .pad = 1};
}

static void test_conv2d_dy_through_grad_map(void **state)
{
    (void)state;
    for (int relu = 0; relu < 2; relu++) {
        check_dy_map(conv3(5, 16, 16, 28, 1), 1, relu);
        check_dy_map(conv3(7, 32, 32, 14, 1), 1, relu);
        check_dy_map(conv3(3, 1, 16, 28, 1), 0, relu);
        check_dy_map(conv3(5, 16, 32, 28, 2), 1, relu);
        check_dy_map(conv3(9, 64, 64, 7, 1), 1, relu);
    }
    /* 16 output planes at stride 2 or on 7 × 7 maps, dx of planes not in
     * eights: their dy goes elsewhere too */
    const sm_conv2d_shape elsewhere[] = {conv3(1, 16, 16, 28, 2), conv3(1, 16, 16, 7, 1), conv3(1, 4, 32, 28, 2)};
    for (size_t i = 0; i < sizeof elsewhere / sizeof *elsewhere; i++)
        assert_false(sm_conv2d_backward_takes_dy_map(&elsewhere[i], 1));
}

/* Every path, with direct convolutions allowed (AVX-512) and without: the
 * direct forward and backward (16 planes on 28 × 28), stride 2 (direct
 * forward, backward from the columns of x; an odd map, whose phases differ
 * in size, too), 7 × 7 maps in groups (backward
 * from the columns of dy), a 1 × 1 shortcut, and a 5 × 5 kernel. */
static void test_conv2d_input_map_matches_mapped_input(void **state)
{
    (void)state;
    const sm_conv2d_shape shapes[] = {
        {.n = 3, .c_in = 16, .h_in = 28, .w_in = 28, .c_out = 16, .k = 3, .stride = 1, .pad = 1},
        {.n = 3, .c_in = 16, .h_in = 28, .w_in = 28, .c_out = 32, .k = 3, .stride = 2, .pad = 1},
        {.n = 2, .c_in = 8, .h_in = 13, .w_in = 15, .c_out = 16, .k = 3, .stride = 2, .pad = 1},
        {.n = 7, .c_in = 16, .h_in = 7, .w_in = 7, .c_out = 16, .k = 3, .stride = 1, .pad = 1},
        {.n = 3, .c_in = 8, .h_in = 14, .w_in = 14, .c_out = 16, .k = 1, .stride = 2, .pad = 0},
        {.n = 2, .c_in = 3, .h_in = 9, .w_in = 11, .c_out = 4, .k = 5, .stride = 1, .pad = 2},
    };
    for (int direct = 0; direct < 2; direct++) {
        sm_conv2d_allow_direct(direct);
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int relu = 0; relu < 2; relu++) check_input_map(shapes[i], relu);
    }
    sm_conv2d_allow_direct(1);
}

/* On small maps images go through the products in groups (sixteen 4 × 4
 * maps at a time); the result must be the per-image one: the batch against
 * the same layer called on each image alone (a group of one).  300 images
 * leave tails both in the forward's groups and in dW's chunks. */
static void check_groups_match_single_images(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 13, (uint64_t)s.stride);
    sm_conv2d_shape one = s;
    one.n = 1;
    const size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    const size_t x_img = nx / (size_t)s.n, y_img = ny / (size_t)s.n;
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *dy = sm_test_floats(ny);
    float *y = sm_test_floats(ny), *dx = sm_test_floats(nx), *dw = sm_test_floats(nw);
    float *y1 = sm_test_floats(ny), *dx1 = sm_test_floats(nx), *dw1 = sm_test_floats(nw);
    float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, 2));
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    sm_conv2d_forward(&s, x, NULL, w, y, scratch, 2);
    sm_conv2d_backward(&s, x, NULL, w, dy, NULL, dx, 1, dw, scratch, 2);
    for (int i = 0; i < s.n; i++) {
        float *w_i = sm_test_floats(nw);
        sm_conv2d_forward(&one, x + i * x_img, NULL, w, y1 + i * y_img, scratch, 1);
        sm_conv2d_backward(&one, x + i * x_img, NULL, w, dy + i * y_img, NULL, dx1 + i * x_img, 1, w_i, scratch, 1);
        for (size_t j = 0; j < nw; j++) dw1[j] += w_i[j];
        free(w_i);
    }
    for (size_t i = 0; i < ny; i++) assert_float_equal(y[i], y1[i], 1e-5);
    for (size_t i = 0; i < nx; i++) assert_float_equal(dx[i], dx1[i], 1e-5);
    for (size_t j = 0; j < nw; j++) assert_float_equal(dw[j], dw1[j], 1e-5 * s.n);
    float *buffers[] = {x, w, dy, y, dx, dw, y1, dx1, dw1, scratch};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) free(buffers[i]);
}

/* Stride 1 (dX by convolution of dy) and stride 2 (dX by col2im). */
static void test_conv2d_groups_match_single_images(void **state)
{
    (void)state;
    check_groups_match_single_images((sm_conv2d_shape){.n = 300, .c_in = 3, .h_in = 4, .w_in = 4, .c_out = 5, .k = 3, .stride = 1, .pad = 1});
    check_groups_match_single_images((sm_conv2d_shape){.n = 300, .c_in = 3, .h_in = 5, .w_in = 5, .c_out = 4, .k = 3, .stride = 2, .pad = 1});
}

/* y, dx and dw are bitwise identical for 1, 2 and 3 threads, and the
 * caller's OpenBLAS thread count survives the call. */
static void check_identical_across_threads(sm_conv2d_shape s)
{
    sm_rng rng;
    sm_rng_seed(&rng, 9, 0);
    size_t nx = x_count(&s), nw = sm_conv2d_weight_count(&s), ny = y_count(&s);
    float *x = sm_test_floats(nx), *w = sm_test_floats(nw), *dy = sm_test_floats(ny);
    sm_test_fill_uniform(x, nx, &rng, -1.0, 1.0);
    sm_test_fill_uniform(w, nw, &rng, -1.0, 1.0);
    sm_test_fill_uniform(dy, ny, &rng, -1.0, 1.0);
    float *y[3], *dx[3], *dw[3];
    openblas_set_num_threads(2);
    for (int t = 0; t < 3; t++) {
        y[t] = sm_test_floats(ny);
        dx[t] = sm_test_floats(nx);
        dw[t] = sm_test_floats(nw);
        float *scratch = sm_test_floats(sm_conv2d_scratch_floats(&s, t + 1));
        sm_conv2d_forward(&s, x, NULL, w, y[t], scratch, t + 1);
        sm_conv2d_backward(&s, x, NULL, w, dy, NULL, dx[t], 1, dw[t], scratch, t + 1);
        free(scratch);
        assert_int_equal(openblas_get_num_threads(), 2);
    }
    for (int t = 1; t < 3; t++) {
        assert_memory_equal(y[0], y[t], ny * sizeof(float));
        assert_memory_equal(dx[0], dx[t], nx * sizeof(float));
        assert_memory_equal(dw[0], dw[t], nw * sizeof(float));
    }
    for (int t = 0; t < 3; t++) {
        free(y[t]);
        free(dx[t]);
        free(dw[t]);
    }
    free(x);
    free(w);
    free(dy);
}

/* Both input-gradient paths (stride 2: col2im, stride 1: convolution). */
static void test_conv2d_identical_across_threads(void **state)
{
    (void)state;
    check_identical_across_threads((sm_conv2d_shape){.n = 20, .c_in = 5, .h_in = 11, .w_in = 9, .c_out = 7, .k = 3, .stride = 2, .pad = 1});
    check_identical_across_threads((sm_conv2d_shape){.n = 20, .c_in = 5, .h_in = 11, .w_in = 9, .c_out = 7, .k = 3, .stride = 1, .pad = 1});
    /* the direct convolution: stride 1 with dx direct; stride 2, direct forward only */
    check_identical_across_threads((sm_conv2d_shape){.n = 20, .c_in = 8, .h_in = 5, .w_in = 14, .c_out = 16, .k = 3, .stride = 1, .pad = 1});
    check_identical_across_threads((sm_conv2d_shape){.n = 23, .c_in = 8, .h_in = 14, .w_in = 14, .c_out = 16, .k = 3, .stride = 2, .pad = 1});
    /* small maps: images in groups, with tails */
    check_identical_across_threads((sm_conv2d_shape){.n = 300, .c_in = 3, .h_in = 4, .w_in = 4, .c_out = 5, .k = 3, .stride = 1, .pad = 1});
}

static void test_conv2d_output_size(void **state)
{
    (void)state;
    sm_conv2d_shape s = {.n = 1, .c_in = 16, .h_in = 28, .w_in = 28, .c_out = 32, .k = 3, .stride = 2, .pad = 1};
    assert_int_equal(sm_conv2d_h_out(&s), 14);
    assert_int_equal(sm_conv2d_w_out(&s), 14);
    assert_int_equal(sm_conv2d_weight_count(&s), 32 * 16 * 9);
    s.k = 1;
    s.pad = 0;
    s.h_in = s.w_in = 7;
    assert_int_equal(sm_conv2d_h_out(&s), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_stride1_pad0),
        cmocka_unit_test(test_conv2d_stride1_pad1),
        cmocka_unit_test(test_conv2d_stride2_pad0),
        cmocka_unit_test(test_conv2d_stride2_pad1),
        cmocka_unit_test(test_conv2d_same_k5),
        cmocka_unit_test(test_conv2d_same_one_column),
        cmocka_unit_test(test_conv2d_stride3_pad2),
        cmocka_unit_test(test_conv2d_1x1_stride2),
        cmocka_unit_test(test_conv2d_many_images),
        cmocka_unit_test(test_conv2d_backward_accumulates),
        cmocka_unit_test(test_conv2d_direct_shapes),
        cmocka_unit_test(test_conv2d_direct_matches_im2col),
        cmocka_unit_test(test_conv2d_input_map_matches_mapped_input),
        cmocka_unit_test(test_conv2d_dy_through_grad_map),
        cmocka_unit_test(test_conv2d_groups_match_single_images),
        cmocka_unit_test(test_conv2d_identical_across_threads),
        cmocka_unit_test(test_conv2d_output_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
