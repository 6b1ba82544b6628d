/* Tests for src/data/augment.c: crop geometry, bilinear resampling against
 * closed forms, flip, colour operations, the pipeline's probabilities, and
 * determinism (seeded per sample, identical for any thread count). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "data/augment.h"
#include "data/synthetic.h"
#include "support/support.h"

/* ---- fixtures ------------------------------------------------------------ */

/* A data set of n images c × side × side with random bytes. */
static void random_set(sm_dataset *ds, size_t n, size_t c, size_t side)
{
    sm_status st;
    sm_status_clear(&st);
    if (sm_synthetic_random(11, SM_SPLIT_TRAIN, n, c, side, side, 10, ds, &st)) fail_msg("%s", st.msg);
}

static float *floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    return p;
}

/* Only the crop: no jitter, greyscale or flip. */
static void crop_only(sm_augment *a)
{
    sm_augment_defaults(a, 1);
    a->jitter_p = a->grey_p = a->flip_p = 0;
}

/* Only the colour or flip steps: the crop is the whole image. */
static void no_crop(sm_augment *a)
{
    sm_augment_defaults(a, 1);
    a->scale_min = a->scale_max = 1;
    a->ratio_min = a->ratio_max = 1;
}

static int all_in_unit_interval(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) return 0;
    return 1;
}

/* ---- random resized crop: geometry ---------------------------------------- */

/* The rounded rectangle must come from an area fraction in [0.2, 1] and a
 * ratio in [3/4, 4/3]: rounding moves each side by at most 1/2. */
static void check_crops(int h, int w, int draws)
{
    sm_augment a;
    sm_augment_defaults(&a, 0);
    sm_rng r;
    sm_rng_seed(&r, 3, 4);
    double area = (double)h * w, min_frac = 1, max_frac = 0, min_ratio = 2, max_ratio = 0;
    int wide = 0, tall = 0;
    for (int i = 0; i < draws; i++) {
        sm_crop c = sm_augment_sample_crop(&a, &r, h, w);
        assert_true(c.top >= 0 && c.left >= 0 && c.height >= 1 && c.width >= 1);
        assert_true(c.top + c.height <= h && c.left + c.width <= w);
        double cw = c.width, ch = c.height;
        assert_true((cw + 0.5) * (ch + 0.5) >= 0.2 * area);
        assert_true((cw + 0.5) / (ch - 0.5) >= 0.75);
        assert_true((cw - 0.5) / (ch + 0.5) <= 4.0 / 3.0);
        double frac = cw * ch / area, ratio = cw / ch;
        min_frac = fmin(min_frac, frac), max_frac = fmax(max_frac, frac);
        min_ratio = fmin(min_ratio, ratio), max_ratio = fmax(max_ratio, ratio);
        wide += c.width > c.height, tall += c.width < c.height;
    }
    /* The whole ranges are used ... */
    assert_true(min_frac < 0.22 && max_frac > 0.95);
    assert_true(min_ratio < 0.8 && max_ratio > 1.25);
    /* ... and log-uniform ratios are symmetric about 1 for a square image. */
    double share = (double)wide / (wide + tall);
    assert_true(share > 0.45 && share < 0.55);
}

static void test_crop_scale_and_ratio_in_range(void **state)
{
    (void)state;
    check_crops(28, 28, 20000);
    check_crops(32, 32, 20000);
}

/* When no try fits (here: every area larger than the image), torchvision's
 * fallback: the whole image, or its centre cut to the nearest allowed ratio. */
static void test_crop_fallback_is_centre_crop(void **state)
{
    (void)state;
    sm_augment a;
    sm_augment_defaults(&a, 0);
    a.scale_min = a.scale_max = 2;
    sm_rng r;
    sm_rng_seed(&r, 0, 0);
    sm_crop c = sm_augment_sample_crop(&a, &r, 28, 28);
    assert_true(c.top == 0 && c.left == 0 && c.height == 28 && c.width == 28);
    c = sm_augment_sample_crop(&a, &r, 28, 10); /* tall: 10 / 28 < 3/4 → height round(10 / 0.75) = 13 */
    assert_true(c.height == 13 && c.width == 10 && c.top == 7 && c.left == 0);
    c = sm_augment_sample_crop(&a, &r, 10, 28); /* wide: width round(10 · 4/3) = 13 */
    assert_true(c.height == 10 && c.width == 13 && c.top == 0 && c.left == 7);
}

/* ---- bilinear resampling --------------------------------------------------- */

static void test_resize_of_constant_is_constant(void **state)
{
    (void)state;
    uint8_t src[3 * 32 * 32];
    for (int ch = 0; ch < 3; ch++) memset(src + ch * 1024, 40 + 90 * ch, 1024);
    float dst[3 * 32 * 32];
    sm_augment a;
    sm_augment_defaults(&a, 0);
    sm_rng r;
    sm_rng_seed(&r, 5, 5);
    for (int t = 0; t < 200; t++) {
        sm_augment_resized_crop(src, 3, 32, 32, sm_augment_sample_crop(&a, &r, 32, 32), dst);
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 1024; i++) assert_true(dst[ch * 1024 + i] == (float)(40 + 90 * ch) / 255.0f);
    }
}

/* Source coordinate of output pixel o, torch's align_corners = false rule. */
static double source_coord(int o, int crop_len, int out_len)
{
    double s = (o + 0.5) * crop_len / out_len - 0.5;
    return fmin(fmax(s, 0.0), crop_len - 1);
}

/* Bilinear interpolation reproduces a linear function exactly: for the
 * plane 1 + 2x + 3y every output is 1 + 2(left + sx) + 3(top + sy), with
 * (sx, sy) its source coordinate — so outputs whose source coordinates are
 * unclamped lie on a plane with slopes 2·cw/W and 3·ch/H per output pixel. */
static void test_resize_of_linear_ramp_is_linear(void **state)
{
    (void)state;
    enum { S = 28 };
    uint8_t src[S * S];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) src[y * S + x] = (uint8_t)(1 + 2 * x + 3 * y);
    float dst[S * S];
    const sm_crop crops[] = {{0, 0, S, S}, {3, 5, 11, 17}, {10, 2, 9, 7}, {0, 20, 28, 8}, {27, 27, 1, 1}};
    for (size_t k = 0; k < sizeof crops / sizeof crops[0]; k++) {
        sm_crop c = crops[k];
        sm_augment_resized_crop(src, 1, S, S, c, dst);
        for (int oy = 0; oy < S; oy++)
            for (int ox = 0; ox < S; ox++) {
                double want = 1 + 2 * (c.left + source_coord(ox, c.width, S)) + 3 * (c.top + source_coord(oy, c.height, S));
                assert_float_equal(dst[oy * S + ox], want / 255.0, 2e-6);
            }
    }
    /* The full crop is the identity, exactly. */
    sm_augment_resized_crop(src, 1, S, S, crops[0], dst);
    for (int i = 0; i < S * S; i++) assert_true(dst[i] == (float)src[i] / 255.0f);
    /* Interior outputs of crop 1 along a row: constant step 2 · 17 / 28. */
    sm_augment_resized_crop(src, 1, S, S, crops[1], dst);
    for (int ox = 2; ox < S - 2; ox++)
        assert_float_equal(255.0 * (dst[5 * S + ox + 1] - dst[5 * S + ox]), 2.0 * 17 / 28, 1e-4);
}

/* ---- flip -------------------------------------------------------------------- */

static void test_flip_is_exact_mirror(void **state)
{
    (void)state;
    enum { C = 3, H = 4, W = 7 };
    float img[C * H * W], orig[C * H * W];
    for (int i = 0; i < C * H * W; i++) img[i] = orig[i] = (float)i / 100.0f;
    sm_augment_hflip(img, C, H, W);
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) assert_true(img[(ch * H + y) * W + x] == orig[(ch * H + y) * W + W - 1 - x]);
    sm_augment_hflip(img, C, H, W);
    assert_memory_equal(img, orig, sizeof img);
}

/* ---- translation ------------------------------------------------------------- */

/* Two 3 × 4 planes, 1..12 and 101..112, shifted by hand. */
static void check_translate(int dy, int dx, const float want[2][3][4])
{
    float img[2 * 12];
    for (int i = 0; i < 12; i++) img[i] = (float)(1 + i), img[12 + i] = (float)(101 + i);
    sm_augment_translate(img, 2, 3, 4, dy, dx);
    assert_memory_equal(img, want, sizeof img);
}

static void test_translate_by_hand(void **state)
{
    (void)state;
    const float down_left[2][3][4] = {{{0, 0, 0, 0}, {3, 4, 0, 0}, {7, 8, 0, 0}},
                                      {{0, 0, 0, 0}, {103, 104, 0, 0}, {107, 108, 0, 0}}};
    check_translate(1, -2, down_left);
    const float up_right[2][3][4] = {{{0, 5, 6, 7}, {0, 9, 10, 11}, {0, 0, 0, 0}},
                                     {{0, 105, 106, 107}, {0, 109, 110, 111}, {0, 0, 0, 0}}};
    check_translate(-1, 1, up_right);
    const float right[2][3][4] = {{{0, 0, 0, 1}, {0, 0, 0, 5}, {0, 0, 0, 9}},
                                  {{0, 0, 0, 101}, {0, 0, 0, 105}, {0, 0, 0, 109}}};
    check_translate(0, 3, right);
    const float same[2][3][4] = {{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}},
                                 {{101, 102, 103, 104}, {105, 106, 107, 108}, {109, 110, 111, 112}}};
    check_translate(0, 0, same);
    const float gone[2][3][4] = {{{0}}};
    check_translate(3, 0, gone);
    check_translate(0, -4, gone);
    check_translate(-5, 7, gone);
}

/* With translate = t a view is the translate = 0 view shifted last by some
 * (dy, dx) in [−t, t]²: the shift's draws come after all others.  Over many
 * views every one of the (2t + 1)² shifts turns up. */
static void test_translate_is_the_last_step(void **state)
{
    (void)state;
    enum { T = 1, SIDE = 28, SIZE = SIDE * SIDE, VIEWS = 200 };
    sm_augment plain, shifted;
    sm_augment_defaults(&plain, 3);
    shifted = plain;
    shifted.translate = T;
    sm_dataset ds;
    random_set(&ds, 1, 1, SIDE);
    float *base = floats(SIZE), *view = floats(SIZE), *moved = floats(SIZE);
    int seen[2 * T + 1][2 * T + 1] = {{0}};
    for (uint64_t v = 0; v < VIEWS; v++) {
        sm_augment_view(&plain, &ds, 0, 9, v, base);
        sm_augment_view(&shifted, &ds, 0, 9, v, view);
        int found = 0;
        for (int dy = -T; dy <= T && !found; dy++)
            for (int dx = -T; dx <= T && !found; dx++) {
                memcpy(moved, base, SIZE * sizeof(float));
                sm_augment_translate(moved, 1, SIDE, SIDE, dy, dx);
                if (!memcmp(moved, view, SIZE * sizeof(float))) found = 1, seen[dy + T][dx + T]++;
            }
        if (!found) fail_msg("view %d is no shift of the untranslated view", (int)v);
    }
    for (int i = 0; i < 2 * T + 1; i++)
        for (int j = 0; j < 2 * T + 1; j++) assert_true(seen[i][j] > 0);
    free(base);
    free(view);
    free(moved);
    sm_dataset_free(&ds);
}

/* ---- blur and erasing ---------------------------------------------------------- */

/* Index i + d of a line of len values, reflected at both ends. */
static int reflect(int i, int len) { return i < 0 ? -i : i >= len ? 2 * len - 2 - i : i; }

/* The 3 × 3 blur as a 2-D sum over the outer product of the 1-D kernel,
 * in double: a second account of the separable in-place passes. */
static void blur_reference(const float *img, int h, int w, double sigma, double *out)
{
    double side = exp(-1.0 / (2 * sigma * sigma)), k[3] = {side, 1, side};
    for (int i = 0; i < 3; i++) k[i] /= 1 + 2 * side;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    s += k[dy + 1] * k[dx + 1] * img[reflect(y + dy, h) * w + reflect(x + dx, w)];
            out[y * w + x] = s;
        }
}

static void test_blur_against_2d_reference(void **state)
{
    (void)state;
    /* An impulse in the middle of 3 × 3, by hand for σ = 1: side weight
     * k1 = e^(−1/2) / (1 + 2 e^(−1/2)) = 0.274069, centre k0 = 1 − 2 k1; a
     * line 0 1 0 becomes 2k1 k0 2k1 (each end sees the 1 twice: itself
     * reflected), and the plane the outer product of that. */
    float impulse[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
    sm_augment_blur(impulse, 1, 3, 3, 1.0f);
    const double k1 = 0.274068619, k0 = 1 - 2 * k1, e = 2 * k1;
    const double want[9] = {e * e, e * k0, e * e, k0 * e, k0 * k0, k0 * e, e * e, e * k0, e * e};
    for (int i = 0; i < 9; i++) assert_true(fabs(impulse[i] - want[i]) < 1e-6);
    /* Two planes of 2 × 3 and 5 × 4 (edges reflected on every side) at small and large σ. */
    const double sigmas[] = {0.1, 0.7, 2.0};
    const int shapes[][2] = {{2, 3}, {5, 4}};
    for (size_t s = 0; s < 3; s++)
        for (size_t q = 0; q < 2; q++) {
            int h = shapes[q][0], w = shapes[q][1];
            float img[2 * 20], orig[2 * 20];
            double ref[20];
            for (int i = 0; i < 2 * h * w; i++) orig[i] = img[i] = (float)((i * 7 + 3) % 11) / 10.0f;
            sm_augment_blur(img, 2, (size_t)h, (size_t)w, (float)sigmas[s]);
            for (int ch = 0; ch < 2; ch++) {
                blur_reference(orig + ch * h * w, h, w, sigmas[s], ref);
                for (int i = 0; i < h * w; i++) assert_true(fabs(img[ch * h * w + i] - ref[i]) < 1e-6);
            }
        }
    /* A constant plane stays constant (the weights sum to 1). */
    float flat[16];
    for (int i = 0; i < 16; i++) flat[i] = 0.625f;
    sm_augment_blur(flat, 1, 4, 4, 1.3f);
    for (int i = 0; i < 16; i++) assert_true(fabs(flat[i] - 0.625f) < 1e-7);
    /* A white plane stays at most 1 at every σ: the float weights do not sum
     * to exactly 1 (up to 1.00000024 without the clamp), and solarize would
     * turn such a value negative. */
    for (int k = 0; k < 200; k++) {
        float white[28 * 28];
        for (int i = 0; i < 28 * 28; i++) white[i] = 1.0f;
        sm_augment_blur(white, 1, 28, 28, 0.1f + 1.9f * (float)k / 199.0f);
        for (int i = 0; i < 28 * 28; i++)
            if (!(white[i] <= 1.0f && white[i] > 0.999999f)) fail_msg("σ step %d: %.9g at %d", k, white[i], i);
    }
}

static void test_erase_by_hand(void **state)
{
    (void)state;
    float img[2 * 12];
    for (int i = 0; i < 12; i++) img[i] = (float)(1 + i), img[12 + i] = (float)(101 + i);
    sm_augment_erase(img, 2, 3, 4, (sm_crop){.top = 1, .left = 1, .height = 2, .width = 2});
    const float want[2][3][4] = {{{1, 2, 3, 4}, {5, 0, 0, 8}, {9, 0, 0, 12}},
                                 {{101, 102, 103, 104}, {105, 0, 0, 108}, {109, 0, 0, 112}}};
    assert_memory_equal(img, want, sizeof img);
}

/* Values from 0.5 up are mirrored about 0.5, the ones below kept; 0.5 itself
 * becomes 0.5 (torchvision: img >= threshold). */
static void test_solarize_by_hand(void **state)
{
    (void)state;
    float img[6] = {0.0f, 0.25f, 0.4999f, 0.5f, 0.75f, 1.0f};
    sm_augment_solarize(img, 6);
    const float want[6] = {0.0f, 0.25f, 0.4999f, 0.5f, 0.25f, 0.0f};
    assert_memory_equal(img, want, sizeof img);
}

/* v^g: squares and square roots of exact values, the ends 0 and 1 fixed. */
static void test_gamma_by_hand(void **state)
{
    (void)state;
    float img[5] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
    sm_augment_gamma(img, 5, 2.0f);
    const float squared[5] = {0.0f, 0.0625f, 0.25f, 0.5625f, 1.0f};
    assert_memory_equal(img, squared, sizeof img);
    sm_augment_gamma(img, 5, 0.5f);
    const float back[5] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
    assert_memory_equal(img, back, sizeof img);
    float half = 0.5f;
    sm_augment_gamma(&half, 1, 0.5f);
    assert_true(fabsf(half - 0.70710678f) <= 6e-8f);
}

/* RandomErasing's rectangles lie strictly inside the image, with areas and
 * aspect ratios spread over its ranges (height / width: the first side is the
 * height); nothing fits strictly inside a 1 × 1 image. */
static void test_erase_rectangles_in_range(void **state)
{
    (void)state;
    enum { SIDE = 28, DRAWS = 4000 };
    sm_rng r;
    sm_rng_seed(&r, 5, 0);
    double lo = 1, hi = 0, mean = 0, tall = 0, wide = 0;
    for (int d = 0; d < DRAWS; d++) {
        sm_crop e;
        assert_true(sm_augment_sample_erase(&r, SIDE, SIDE, &e));
        assert_true(e.top >= 0 && e.left >= 0 && e.height >= 1 && e.width >= 1);
        assert_true(e.height < SIDE && e.width < SIDE);
        assert_true(e.top + e.height <= SIDE && e.left + e.width <= SIDE);
        double area = (double)e.height * e.width / (SIDE * SIDE), aspect = (double)e.height / e.width;
        lo = fmin(lo, area), hi = fmax(hi, area), mean += area / DRAWS;
        tall += aspect > 2, wide += aspect < 0.5;
        /* sides rounded from exact ones: each within half a pixel */
        assert_true(area > 0.01 && area < 0.37 && aspect > 0.3 / 1.5 && aspect < 3.3 * 1.5);
    }
    assert_true(lo < 0.03 && hi > 0.3 && fabs(mean - 0.175) < 0.01);
    assert_true(tall > DRAWS / 10 && fabs(tall - wide) < DRAWS / 20);
    sm_crop none;
    assert_false(sm_augment_sample_erase(&r, 1, 1, &none));
}

/* With blur, gamma, solarize and erase on (p = 1) a view is the plain view,
 * blurred with the σ of the stream's next draw, raised to the power its next
 * draw gives (ln γ uniform in [−ln 2, ln 2]), solarized, then erased where the
 * draws after say: the draws are replayed here through the public steps. */
static void test_blur_gamma_solarize_erase_are_the_last_steps(void **state)
{
    (void)state;
    enum { SIDE = 28, SIZE = SIDE * SIDE, VIEWS = 50 };
    sm_augment plain, both;
    sm_augment_defaults(&plain, 4);
    both = plain;
    both.blur_p = both.gamma_p = both.solarize_p = both.erase_p = 1;
    sm_dataset ds;
    random_set(&ds, 3, 1, SIDE);
    float *want = floats(SIZE), *view = floats(SIZE), *scratch = floats(SIZE);
    memset(scratch, 0, SIZE * sizeof(float)); /* the jitter only replays its draws here, on defined values */
    for (uint64_t v = 0; v < VIEWS; v++) {
        size_t index = v % 3;
        sm_augment_view(&plain, &ds, index, 6, v, want);
        sm_augment_view(&both, &ds, index, 6, v, view);
        sm_rng r;
        sm_rng_seed(&r, plain.seed, sm_augment_stream(6, index, v));
        (void)sm_augment_sample_crop(&plain, &r, SIDE, SIDE);
        if (sm_rng_uniform(&r) < plain.jitter_p) sm_augment_jitter(&plain, &r, scratch, 1, SIZE);
        (void)sm_rng_uniform(&r); /* flip */
        assert_true(sm_rng_uniform(&r) < 1);
        sm_augment_blur(want, 1, SIDE, SIDE, (float)(0.1 + 1.9 * sm_rng_uniform(&r)));
        assert_true(sm_rng_uniform(&r) < 1);
        const double ln2 = 0.69314718055994531;
        sm_augment_gamma(want, SIZE, (float)exp(-ln2 + 2 * ln2 * sm_rng_uniform(&r)));
        assert_true(sm_rng_uniform(&r) < 1);
        sm_augment_solarize(want, SIZE);
        sm_crop e;
        assert_true(sm_rng_uniform(&r) < 1 && sm_augment_sample_erase(&r, SIDE, SIDE, &e));
        sm_augment_erase(want, 1, SIDE, SIDE, e);
        assert_memory_equal(view, want, SIZE * sizeof(float));
    }
    free(want);
    free(view);
    free(scratch);
    sm_dataset_free(&ds);
}

/* Images one pixel tall or wide have no neighbour to reflect: the blur is
 * skipped, drawing nothing, so their views equal those without it (it used
 * to end the program on an assertion). */
static void test_blur_skips_one_pixel_sides(void **state)
{
    (void)state;
    const size_t shapes[2][2] = {{1, 5}, {5, 1}};
    for (int s = 0; s < 2; s++) {
        sm_dataset ds;
        sm_status st;
        assert_int_equal(sm_dataset_alloc(&ds, 2, 1, shapes[s][0], shapes[s][1], 10, &st), SM_OK);
        for (size_t i = 0; i < 10; i++) ds.pixels[i] = (uint8_t)(25 * i);
        sm_augment plain, blurred;
        sm_augment_defaults(&plain, 4);
        blurred = plain;
        blurred.blur_p = 1;
        float want[5], view[5];
        for (uint64_t v = 0; v < 8; v++) {
            sm_augment_view(&plain, &ds, v % 2, 3, v, want);
            sm_augment_view(&blurred, &ds, v % 2, 3, v, view);
            assert_memory_equal(view, want, sizeof want);
        }
        sm_dataset_free(&ds);
    }
}

/* ---- colour -------------------------------------------------------------------- */

static void test_brightness_and_contrast_closed_forms(void **state)
{
    (void)state;
    float img[4] = {0.0f, 0.2f, 0.6f, 1.0f};
    sm_augment_brightness(img, 1, 4, 0.5f);
    assert_true(img[0] == 0.0f && img[1] == 0.1f && img[2] == 0.3f && img[3] == 0.5f);
    sm_augment_brightness(img, 1, 4, 3.0f); /* 0.3·3 = 0.9; 0.5·3 clamps to 1 */
    assert_float_equal(img[2], 0.9f, 1e-6);
    assert_true(img[3] == 1.0f);
    /* Contrast pulls towards the mean: factor 0 gives the mean everywhere. */
    float grey[4] = {0.0f, 0.2f, 0.6f, 1.0f};
    sm_augment_contrast(grey, 1, 4, 0.0f);
    for (int i = 0; i < 4; i++) assert_float_equal(grey[i], 0.45f, 1e-6);
    float g2[4] = {0.0f, 0.2f, 0.6f, 1.0f};
    sm_augment_contrast(g2, 1, 4, 0.5f); /* 0.5 x + 0.225 */
    assert_float_equal(g2[0], 0.225f, 1e-6);
    assert_float_equal(g2[3], 0.725f, 1e-6);
    /* RGB: the mean is that of the luma image (0.2989, 0.587, 0.114). */
    float rgb[6] = {1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f}; /* 2 pixels: red, red */
    sm_augment_contrast(rgb, 3, 2, 0.0f);
    for (int i = 0; i < 6; i++) assert_float_equal(rgb[i], 0.2989f, 1e-6);
}

static void test_greyscale_gives_equal_channels(void **state)
{
    (void)state;
    sm_dataset ds;
    random_set(&ds, 1, 3, 32);
    float img[3 * 1024];
    size_t zero = 0;
    sm_dataset_gather(&ds, &zero, 1, img);
    float want[1024];
    for (int i = 0; i < 1024; i++) want[i] = 0.2989f * img[i] + 0.587f * img[1024 + i] + 0.114f * img[2048 + i];
    sm_augment_greyscale(img, 1024);
    for (int i = 0; i < 1024; i++) {
        assert_true(img[i] == img[1024 + i] && img[i] == img[2048 + i]);
        assert_float_equal(img[i], want[i], 1e-6);
    }
    /* Saturation 0 is greyscale too. */
    sm_dataset_gather(&ds, &zero, 1, img);
    sm_augment_saturation(img, 1024, 0.0f);
    for (int i = 0; i < 1024; i++) assert_float_equal(img[i], want[i], 1e-6);
    sm_dataset_free(&ds);
}

/* A third of a turn maps the primaries onto each other; greys have no hue. */
static void test_hue_rotates_primaries(void **state)
{
    (void)state;
    /* Pixels: red, green, blue, grey 0.4, orange (1, 0.5, 0). */
    float img[15] = {1, 0, 0, 0.4f, 1, /* R */ 0, 1, 0, 0.4f, 0.5f, /* G */ 0, 0, 1, 0.4f, 0 /* B */};
    sm_augment_hue(img, 5, 1.0f / 3.0f);
    const float want[15] = {0, 0, 1, 0.4f, 0, /* R */ 1, 0, 0, 0.4f, 1, /* G */ 0, 1, 0, 0.4f, 0.5f /* B */};
    for (int i = 0; i < 15; i++) assert_float_equal(img[i], want[i], 1e-5);
    sm_augment_hue(img, 5, -1.0f / 3.0f); /* and back */
    const float orig[15] = {1, 0, 0, 0.4f, 1, 0, 1, 0, 0.4f, 0.5f, 0, 0, 1, 0.4f, 0};
    for (int i = 0; i < 15; i++) assert_float_equal(img[i], orig[i], 1e-5);
}

/* Strong jitter on random images (many at 0 and 1): every value stays in
 * [0, 1], grey and RGB. */
static void test_jitter_keeps_unit_interval(void **state)
{
    (void)state;
    sm_augment a;
    sm_augment_defaults(&a, 0);
    a.brightness = a.contrast = a.saturation = 0.9;
    a.hue = 0.5;
    sm_dataset ds;
    random_set(&ds, 50, 3, 32);
    for (size_t i = 0; i < ds.n * 3072; i++)
        if (ds.pixels[i] < 40) ds.pixels[i] = 0;
        else if (ds.pixels[i] > 215) ds.pixels[i] = 255;
    float img[3072];
    sm_rng r;
    sm_rng_seed(&r, 8, 8);
    for (size_t i = 0; i < ds.n; i++) {
        sm_dataset_gather(&ds, &i, 1, img);
        sm_augment_jitter(&a, &r, img, 3, 1024);
        assert_true(all_in_unit_interval(img, 3072));
        sm_dataset_gather(&ds, &i, 1, img);
        sm_augment_jitter(&a, &r, img, 1, 3072);
        assert_true(all_in_unit_interval(img, 3072));
    }
    sm_dataset_free(&ds);
}

/* ---- the pipeline ------------------------------------------------------------- */

static void test_aug_none_and_random_are_identity(void **state)
{
    (void)state;
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_augment a;
    sm_augment_from_config(&a, &cfg);
    assert_true(a.enabled);
    cfg.crop_min = 0.5;
    cfg.jitter = 0.1;
    cfg.translate = 4;
    cfg.blur = 0.25;
    cfg.gamma = 0.125;
    cfg.solarize = 0.5;
    cfg.erase = 0.75;
    sm_augment_from_config(&a, &cfg);
    assert_true(a.scale_min == 0.5 && a.brightness == 0.1 && a.contrast == 0.1 && a.translate == 4);
    assert_true(a.blur_p == 0.25 && a.gamma_p == 0.125 && a.solarize_p == 0.5 && a.erase_p == 0.75);
    cfg.dataset = SM_DATASET_RANDOM;
    sm_augment_from_config(&a, &cfg);
    assert_false(a.enabled);
    cfg.dataset = SM_DATASET_CIFAR10;
    cfg.aug = SM_AUG_NONE;
    sm_augment_from_config(&a, &cfg);
    assert_false(a.enabled);

    sm_dataset ds;
    random_set(&ds, 6, 3, 32);
    const size_t idx[3] = {4, 1, 4};
    float *v1 = floats(3 * 3072), *v2 = floats(3 * 3072), *plain = floats(3 * 3072);
    sm_augment_batch(&a, &ds, idx, 3, 17, v1, v2);
    sm_dataset_gather(&ds, idx, 3, plain);
    assert_memory_equal(v1, plain, 3 * 3072 * sizeof(float));
    assert_memory_equal(v2, plain, 3 * 3072 * sizeof(float));
    free(v1);
    free(v2);
    free(plain);
    sm_dataset_free(&ds);
}

/* Same (seed, step, sample, view) → same view; changing any one changes it;
 * two slots holding the same image still get different views. */
static void test_views_are_seeded_per_sample(void **state)
{
    (void)state;
    sm_augment a;
    sm_augment_defaults(&a, 42);
    sm_dataset ds;
    random_set(&ds, 4, 1, 28);
    memcpy(ds.pixels + 784, ds.pixels, 784); /* images 0 and 1 identical */
    float *x = floats(784), *y = floats(784);
    sm_augment_view(&a, &ds, 0, 5, 0, x);
    sm_augment_view(&a, &ds, 0, 5, 0, y);
    assert_memory_equal(x, y, 784 * sizeof(float));
    assert_true(all_in_unit_interval(x, 784));
    sm_augment_view(&a, &ds, 1, 5, 0, y);
    assert_true(memcmp(x, y, 784 * sizeof(float)) != 0);
    sm_augment_view(&a, &ds, 0, 6, 0, y);
    assert_true(memcmp(x, y, 784 * sizeof(float)) != 0);
    sm_augment_view(&a, &ds, 0, 5, 1, y);
    assert_true(memcmp(x, y, 784 * sizeof(float)) != 0);
    sm_augment b = a;
    b.seed = 43;
    sm_augment_view(&b, &ds, 0, 5, 0, y);
    assert_true(memcmp(x, y, 784 * sizeof(float)) != 0);
    free(x);
    free(y);
    sm_dataset_free(&ds);
}

/* Batches are bit-identical with 1 and 2 threads, grey and RGB; the views
 * function agrees with the batch on views 0 and 1. */
static void check_threads(size_t c, size_t side)
{
    sm_augment a;
    sm_augment_defaults(&a, 9);
    sm_dataset ds;
    random_set(&ds, 40, c, side);
    size_t size = sm_dataset_image_size(&ds), n = 33, idx[33];
    for (size_t i = 0; i < n; i++) idx[i] = (i * 7) % ds.n;
    float *a1 = floats(n * size), *a2 = floats(n * size), *b1 = floats(n * size), *b2 = floats(n * size);
    omp_set_num_threads(1);
    sm_augment_batch(&a, &ds, idx, n, 123, a1, a2);
    omp_set_num_threads(2);
    sm_augment_batch(&a, &ds, idx, n, 123, b1, b2);
    assert_memory_equal(a1, b1, n * size * sizeof(float));
    assert_memory_equal(a2, b2, n * size * sizeof(float));
    assert_true(memcmp(a1, a2, n * size * sizeof(float)) != 0);
    assert_true(all_in_unit_interval(a1, n * size) && all_in_unit_interval(a2, n * size));
    float *many = floats(8 * size);
    sm_augment_views(&a, &ds, idx[5], 123, 8, many);
    assert_memory_equal(many, a1 + 5 * size, size * sizeof(float));
    assert_memory_equal(many + size, a2 + 5 * size, size * sizeof(float));
    float *again = floats(8 * size);
    omp_set_num_threads(1);
    sm_augment_views(&a, &ds, idx[5], 123, 8, again);
    assert_memory_equal(many, again, 8 * size * sizeof(float));
    for (size_t v = 1; v < 8; v++) assert_true(memcmp(many, many + v * size, size * sizeof(float)) != 0);
    free(a1);
    free(a2);
    free(b1);
    free(b2);
    free(many);
    free(again);
    sm_dataset_free(&ds);
}

static void test_same_batches_for_any_thread_count(void **state)
{
    (void)state;
    check_threads(1, 28);
    check_threads(3, 32);
}

/* The pipeline's coin flips have their probabilities: with the crop fixed
 * to the whole image, a view is the image, its mirror, a jittered or a
 * greyed version; count each over 2000 views (binomial sd ≤ 0.011). */
static double share_of_views(const sm_augment *a, const sm_dataset *ds, int (*is)(const float *, const float *, size_t),
                             size_t views)
{
    size_t size = sm_dataset_image_size(ds), hits = 0, zero = 0;
    float *img = floats(size), *v = floats(views * size);
    sm_dataset_gather(ds, &zero, 1, img);
    sm_augment_views(a, ds, 0, 0, views, v);
    for (size_t k = 0; k < views; k++) hits += is(img, v + k * size, size);
    free(img);
    free(v);
    return (double)hits / (double)views;
}

static int is_mirror(const float *img, const float *v, size_t size)
{
    (void)size;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            if (v[y * 28 + x] != img[y * 28 + 27 - x]) return 0;
    return 1;
}

static int is_changed(const float *img, const float *v, size_t size) { return memcmp(img, v, size * sizeof(float)) != 0; }

static int is_grey(const float *img, const float *v, size_t size)
{
    (void)img;
    return memcmp(v, v + size / 3, size / 3 * sizeof(float)) == 0 && memcmp(v, v + 2 * (size / 3), size / 3 * sizeof(float)) == 0;
}

static void test_probability_of_each_step(void **state)
{
    (void)state;
    size_t views = sm_test_slow() ? 500 : 2000;
    double tol = sm_test_slow() ? 0.07 : 0.035;
    sm_dataset grey, rgb;
    random_set(&grey, 1, 1, 28);
    random_set(&rgb, 1, 3, 32);
    sm_augment a;
    no_crop(&a);
    a.jitter_p = 0;
    assert_true(fabs(share_of_views(&a, &grey, is_mirror, views) - 0.5) < tol);
    no_crop(&a);
    a.flip_p = 0;
    assert_true(fabs(share_of_views(&a, &grey, is_changed, views) - 0.8) < tol);
    no_crop(&a);
    a.flip_p = a.jitter_p = 0;
    assert_true(fabs(share_of_views(&a, &rgb, is_grey, views) - 0.2) < tol);
    no_crop(&a);
    a.flip_p = a.jitter_p = 0;
    a.blur_p = 0.3;
    assert_true(fabs(share_of_views(&a, &grey, is_changed, views) - 0.3) < tol);
    a.blur_p = 0;
    a.gamma_p = 0.35;
    assert_true(fabs(share_of_views(&a, &grey, is_changed, views) - 0.35) < tol);
    a.gamma_p = 0;
    a.solarize_p = 0.4;
    assert_true(fabs(share_of_views(&a, &grey, is_changed, views) - 0.4) < tol);
    a.solarize_p = 0;
    a.erase_p = 0.6;
    assert_true(fabs(share_of_views(&a, &grey, is_changed, views) - 0.6) < tol);
    /* Crop alone, the crop is not the identity most of the time. */
    crop_only(&a);
    assert_true(share_of_views(&a, &grey, is_changed, views) > 0.9);
    sm_dataset_free(&grey);
    sm_dataset_free(&rgb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crop_scale_and_ratio_in_range),
        cmocka_unit_test(test_crop_fallback_is_centre_crop),
        cmocka_unit_test(test_resize_of_constant_is_constant),
        cmocka_unit_test(test_resize_of_linear_ramp_is_linear),
        cmocka_unit_test(test_flip_is_exact_mirror),
        cmocka_unit_test(test_translate_by_hand),
        cmocka_unit_test(test_translate_is_the_last_step),
        cmocka_unit_test(test_blur_against_2d_reference),
        cmocka_unit_test(test_erase_by_hand),
        cmocka_unit_test(test_erase_rectangles_in_range),
        cmocka_unit_test(test_solarize_by_hand),
        cmocka_unit_test(test_gamma_by_hand),
        cmocka_unit_test(test_blur_gamma_solarize_erase_are_the_last_steps),
        cmocka_unit_test(test_blur_skips_one_pixel_sides),
        cmocka_unit_test(test_brightness_and_contrast_closed_forms),
        cmocka_unit_test(test_greyscale_gives_equal_channels),
        cmocka_unit_test(test_hue_rotates_primaries),
        cmocka_unit_test(test_jitter_keeps_unit_interval),
        cmocka_unit_test(test_aug_none_and_random_are_identity),
        cmocka_unit_test(test_views_are_seeded_per_sample),
        cmocka_unit_test(test_same_batches_for_any_thread_count),
        cmocka_unit_test(test_probability_of_each_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
