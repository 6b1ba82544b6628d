#include "data/augment.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Stream tag of augmentation draws: keeps them apart from every other use
 * of the seed (sampler, synthetic data, weight initialisation). */
#define TAG_VIEW 0x61756776696577ULL
/* torchvision's RandomResizedCrop tries this many rectangles before its
 * centre-crop fallback, RandomErasing before giving up. */
#define RECT_TRIES 10
/* RandomErasing's default area fraction and aspect ratio (height / width). */
#define ERASE_SCALE_MIN 0.02
#define ERASE_SCALE_MAX 0.33
#define ERASE_RATIO_MIN 0.3
#define ERASE_RATIO_MAX 3.3
/* GaussianBlur's σ range in SimCLR / SimSiam. */
#define BLUR_SIGMA_MIN 0.1
#define BLUR_SIGMA_MAX 2.0
/* ln γ of the gamma curve: uniform in [−GAMMA_LN_MAX, GAMMA_LN_MAX], γ in [1/2, 2]. */
#define GAMMA_LN_MAX 0.69314718055994531
/* ITU-R 601-2 luma, the weights of torchvision's rgb_to_grayscale. */
#define LUMA_R 0.2989f
#define LUMA_G 0.587f
#define LUMA_B 0.114f

void sm_augment_defaults(sm_augment *a, uint64_t seed)
{
    *a = (sm_augment){.enabled = 1,
                      .seed = seed,
                      .scale_min = 0.2,
                      .scale_max = 1.0,
                      .ratio_min = 3.0 / 4.0,
                      .ratio_max = 4.0 / 3.0,
                      .jitter_p = 0.8,
                      .brightness = 0.4,
                      .contrast = 0.4,
                      .saturation = 0.4,
                      .hue = 0.1,
                      .grey_p = 0.2,
                      .flip_p = 0.5};
}

void sm_augment_from_config(sm_augment *a, const sm_config *cfg)
{
    sm_augment_defaults(a, (uint64_t)cfg->seed);
    a->enabled = cfg->aug == SM_AUG_DEFAULT && cfg->dataset != SM_DATASET_RANDOM;
    a->scale_min = cfg->crop_min;
    a->brightness = a->contrast = cfg->jitter;
    a->translate = (int)cfg->translate;
    a->blur_p = cfg->blur;
    a->gamma_p = cfg->gamma;
    a->solarize_p = cfg->solarize;
    a->erase_p = cfg->erase;
}

uint64_t sm_augment_stream(uint64_t step, uint64_t sample, uint64_t view)
{
    return sm_rng_mix(sm_rng_mix(sm_rng_mix(TAG_VIEW ^ step) ^ sample) ^ view);
}

static double uniform_in(sm_rng *r, double lo, double hi) { return lo + (hi - lo) * sm_rng_uniform(r); }

/* ---- random resized crop ------------------------------------------------- */

/* Python's round() is round-half-to-even, which nearbyint does in the
 * default rounding mode. */
static int round_even(double x) { return (int)nearbyint(x); }

/* The whole image, cut down to the nearest allowed aspect ratio if needed. */
static sm_crop centre_crop(const sm_augment *a, int h, int w)
{
    int ch = h, cw = w;
    double ratio = (double)w / h;
    if (ratio < a->ratio_min) ch = round_even(w / a->ratio_min);
    else if (ratio > a->ratio_max) cw = round_even(h * a->ratio_max);
    return (sm_crop){.top = (h - ch) / 2, .left = (w - cw) / 2, .height = ch, .width = cw};
}

/* The rectangle search torchvision's RandomResizedCrop and RandomErasing
 * share: area fraction uniform in [scale_lo, scale_hi], aspect log-uniform in
 * [ratio_lo, ratio_hi], the side sqrt(area · aspect) along the first axis,
 * where `first_is_width` says which; the rectangle must fit (strictly, for
 * RandomErasing), then a uniform position.  1 if found within RECT_TRIES. */
typedef struct {
    double scale_lo, scale_hi, ratio_lo, ratio_hi;
    int first_is_width, strict;
} rect_rule;

static int sample_rect(const rect_rule *rule, sm_rng *r, int h, int w, sm_crop *out)
{
    double area = (double)h * w, log_lo = log(rule->ratio_lo), log_hi = log(rule->ratio_hi);
    for (int t = 0; t < RECT_TRIES; t++) {
        double target = area * uniform_in(r, rule->scale_lo, rule->scale_hi);
        double aspect = exp(uniform_in(r, log_lo, log_hi));
        int first = round_even(sqrt(target * aspect)), second = round_even(sqrt(target / aspect));
        int rw = rule->first_is_width ? first : second, rh = rule->first_is_width ? second : first;
        int fits = rule->strict ? rw < w && rh < h : rw <= w && rh <= h;
        if (rw > 0 && rh > 0 && fits) {
            int top = (int)sm_rng_below(r, (uint64_t)(h - rh + 1));
            int left = (int)sm_rng_below(r, (uint64_t)(w - rw + 1));
            *out = (sm_crop){.top = top, .left = left, .height = rh, .width = rw};
            return 1;
        }
    }
    return 0;
}

sm_crop sm_augment_sample_crop(const sm_augment *a, sm_rng *r, int h, int w)
{
    rect_rule crop = {a->scale_min, a->scale_max, a->ratio_min, a->ratio_max, .first_is_width = 1, .strict = 0};
    sm_crop out;
    return sample_rect(&crop, r, h, w, &out) ? out : centre_crop(a, h, w);
}

int sm_augment_sample_erase(sm_rng *r, int h, int w, sm_crop *rect)
{
    static const rect_rule erase = {ERASE_SCALE_MIN, ERASE_SCALE_MAX, ERASE_RATIO_MIN, ERASE_RATIO_MAX,
                                    .first_is_width = 0, .strict = 1};
    return sample_rect(&erase, r, h, w, rect);
}

/* Where output pixel o reads from along one axis: between source pixels i0
 * and i1 at fraction t.  Half-pixel centres (align_corners = false) and a
 * clamp at 0, like torch's upsample_bilinear2d. */
typedef struct {
    int i0, i1;
    float t;
} axis_pos;

static axis_pos source_pos(size_t o, float scale, int len)
{
    float s = ((float)o + 0.5f) * scale - 0.5f;
    if (s < 0) s = 0;
    int i0 = (int)s;
    if (i0 > len - 1) i0 = len - 1;
    return (axis_pos){.i0 = i0, .i1 = i0 + (i0 < len - 1), .t = s - (float)i0};
}

/* a + t (b − a): exact for a == b, so a constant image stays constant. */
static float lerp(float a, float b, float t) { return a + t * (b - a); }

void sm_augment_resized_crop(const uint8_t *src, size_t c, size_t h, size_t w, sm_crop crop, float *dst)
{
    assert(crop.top >= 0 && crop.left >= 0 && crop.height > 0 && crop.width > 0);
    assert((size_t)(crop.top + crop.height) <= h && (size_t)(crop.left + crop.width) <= w);
    float sy = (float)crop.height / (float)h, sx = (float)crop.width / (float)w;
    size_t npix = h * w;
    const uint8_t *origin = src + (size_t)crop.top * w + (size_t)crop.left;
    for (size_t oy = 0; oy < h; oy++) {
        axis_pos y = source_pos(oy, sy, crop.height);
        for (size_t ox = 0; ox < w; ox++) {
            axis_pos x = source_pos(ox, sx, crop.width);
            for (size_t ch = 0; ch < c; ch++) {
                const uint8_t *row0 = origin + ch * npix + (size_t)y.i0 * w;
                const uint8_t *row1 = origin + ch * npix + (size_t)y.i1 * w;
                float top = lerp(row0[x.i0], row0[x.i1], x.t), bottom = lerp(row1[x.i0], row1[x.i1], x.t);
                dst[ch * npix + oy * w + ox] = lerp(top, bottom, y.t) / 255.0f;
            }
        }
    }
}

void sm_augment_hflip(float *img, size_t c, size_t h, size_t w)
{
    for (size_t row = 0; row < c * h; row++) {
        float *p = img + row * w;
        for (size_t i = 0, j = w - 1; i < j; i++, j--) {
            float t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
}

void sm_augment_translate(float *img, size_t c, size_t h, size_t w, int dy, int dx)
{
    size_t ady = (size_t)abs(dy), adx = (size_t)abs(dx);
    if (ady >= h || adx >= w) {
        memset(img, 0, c * h * w * sizeof(float));
        return;
    }
    size_t keep = w - adx, to = dx > 0 ? adx : 0, from = dx > 0 ? 0 : adx;
    for (size_t ch = 0; ch < c; ch++) {
        float *plane = img + ch * h * w;
        /* Rows are written away from the direction they come from, so each
         * source row is read before it is overwritten. */
        for (size_t i = 0; i < h; i++) {
            size_t y = dy > 0 ? h - 1 - i : i;
            float *row = plane + y * w;
            if (dy > 0 ? y < ady : y + ady >= h) {
                memset(row, 0, w * sizeof(float));
                continue;
            }
            memmove(row + to, plane + (dy > 0 ? y - ady : y + ady) * w + from, keep * sizeof(float));
            memset(row + (dx > 0 ? 0 : keep), 0, adx * sizeof(float));
        }
    }
}

/* One line of len >= 2 values, step apart, in place: centre weight k0,
 * neighbours k1, the missing neighbour at either end reflected; kept in
 * [0, 1], which float weights that do not sum to exactly 1 would leave by
 * an ulp (and solarize would then make 1.0000002 into −2e−7). */
static void blur_line(float *x, size_t len, size_t step, float k0, float k1)
{
    float prev = x[step];
    for (size_t i = 0; i < len; i++) {
        /* the last value's reflected neighbour is the one before it: prev */
        float cur = x[i * step], next = i + 1 < len ? x[(i + 1) * step] : prev;
        x[i * step] = fminf(fmaxf(k1 * prev + k0 * cur + k1 * next, 0.0f), 1.0f);
        prev = cur;
    }
}

void sm_augment_blur(float *img, size_t c, size_t h, size_t w, float sigma)
{
    assert(sigma > 0 && h >= 2 && w >= 2);
    float side = expf(-0.5f / (sigma * sigma)), k0 = 1.0f / (1.0f + 2.0f * side), k1 = side * k0;
    for (size_t ch = 0; ch < c; ch++) {
        float *plane = img + ch * h * w;
        for (size_t y = 0; y < h; y++) blur_line(plane + y * w, w, 1, k0, k1);
        for (size_t x = 0; x < w; x++) blur_line(plane + x, h, w, k0, k1);
    }
}

void sm_augment_gamma(float *img, size_t n, float g)
{
    assert(g > 0);
    for (size_t i = 0; i < n; i++) img[i] = powf(img[i], g);
}

void sm_augment_solarize(float *img, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (img[i] >= 0.5f) img[i] = 1.0f - img[i];
}

void sm_augment_erase(float *img, size_t c, size_t h, size_t w, sm_crop rect)
{
    assert(rect.top >= 0 && rect.left >= 0 && (size_t)(rect.top + rect.height) <= h);
    assert((size_t)(rect.left + rect.width) <= w);
    for (size_t ch = 0; ch < c; ch++)
        for (int y = rect.top; y < rect.top + rect.height; y++)
            memset(img + (ch * h + (size_t)y) * w + (size_t)rect.left, 0, (size_t)rect.width * sizeof(float));
}

/* ---- colour ---------------------------------------------------------------- */

static float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

static float luma(const float *img, size_t npix, size_t i)
{
    return LUMA_R * img[i] + LUMA_G * img[npix + i] + LUMA_B * img[2 * npix + i];
}

void sm_augment_brightness(float *img, size_t c, size_t npix, float factor)
{
    for (size_t i = 0; i < c * npix; i++) img[i] = clamp01(factor * img[i]);
}

void sm_augment_contrast(float *img, size_t c, size_t npix, float factor)
{
    assert(c == 1 || c == 3);
    double sum = 0;
    for (size_t i = 0; i < npix; i++) sum += c == 3 ? luma(img, npix, i) : img[i];
    float mean = (float)(sum / (double)npix);
    for (size_t i = 0; i < c * npix; i++) img[i] = clamp01(factor * img[i] + (1.0f - factor) * mean);
}

void sm_augment_saturation(float *img, size_t npix, float factor)
{
    for (size_t i = 0; i < npix; i++) {
        float grey = luma(img, npix, i);
        for (size_t ch = 0; ch < 3; ch++) {
            float *v = img + ch * npix + i;
            *v = clamp01(factor * *v + (1.0f - factor) * grey);
        }
    }
}

void sm_augment_greyscale(float *img, size_t npix)
{
    for (size_t i = 0; i < npix; i++) img[i] = img[npix + i] = img[2 * npix + i] = luma(img, npix, i);
}

/* x mod 1 for x in [−1, 2): exact, and much cheaper than fmodf. */
static float wrap01(float x) { return x < 0.0f ? x + 1.0f : x >= 1.0f ? x - 1.0f : x; }

/* RGB → HSV, turn the hue, HSV → RGB; the formulas of torchvision's
 * _rgb2hsv / _hsv2rgb (hue in turns, [0, 1)). */
static void shift_hue(float *r, float *g, float *b, float shift)
{
    float maxc = fmaxf(*r, fmaxf(*g, *b)), minc = fminf(*r, fminf(*g, *b)), range = maxc - minc;
    if (range == 0.0f) return; /* grey: no hue to turn */
    float s = range / maxc, v = maxc, inv = 1.0f / range;
    float h = maxc == *r ? (*g - *b) * inv : maxc == *g ? 2.0f + (*b - *r) * inv : 4.0f + (*r - *g) * inv;
    h = wrap01(wrap01(h / 6.0f) + shift);
    float h6 = h * 6.0f, sector = floorf(h6), f = h6 - sector;
    float p = clamp01(v * (1.0f - s)), q = clamp01(v * (1.0f - s * f)), t = clamp01(v * (1.0f - s * (1.0f - f)));
    switch ((int)sector % 6) {
    case 0: *r = v, *g = t, *b = p; break;
    case 1: *r = q, *g = v, *b = p; break;
    case 2: *r = p, *g = v, *b = t; break;
    case 3: *r = p, *g = q, *b = v; break;
    case 4: *r = t, *g = p, *b = v; break;
    default: *r = v, *g = p, *b = q; break;
    }
}

void sm_augment_hue(float *img, size_t npix, float shift)
{
    assert(shift >= -1.0f && shift <= 1.0f);
    for (size_t i = 0; i < npix; i++) shift_hue(img + i, img + npix + i, img + 2 * npix + i, shift);
}

/* Uniform in [max(0, 1 − s), 1 + s], torchvision's range for a jitter strength s. */
static float jitter_factor(sm_rng *r, double s) { return (float)uniform_in(r, s < 1 ? 1 - s : 0, 1 + s); }

void sm_augment_jitter(const sm_augment *a, sm_rng *r, float *img, size_t c, size_t npix)
{
    assert(c == 1 || c == 3);
    enum { BRIGHTNESS, CONTRAST, SATURATION, HUE };
    int order[4] = {BRIGHTNESS, CONTRAST, SATURATION, HUE};
    int nops = c == 3 ? 4 : 2; /* saturation and hue need colour */
    for (int i = nops - 1; i > 0; i--) {
        int j = (int)sm_rng_below(r, (uint64_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < nops; k++) switch (order[k]) {
        case BRIGHTNESS: sm_augment_brightness(img, c, npix, jitter_factor(r, a->brightness)); break;
        case CONTRAST: sm_augment_contrast(img, c, npix, jitter_factor(r, a->contrast)); break;
        case SATURATION: sm_augment_saturation(img, npix, jitter_factor(r, a->saturation)); break;
        default: sm_augment_hue(img, npix, (float)uniform_in(r, -a->hue, a->hue)); break;
        }
}

/* ---- views ----------------------------------------------------------------- */

void sm_augment_view(const sm_augment *a, const sm_dataset *ds, size_t index, uint64_t step, uint64_t view,
                     float *out)
{
    assert(index < ds->n);
    if (!a->enabled) {
        sm_dataset_gather(ds, &index, 1, out);
        return;
    }
    assert(ds->c == 1 || ds->c == 3);
    sm_rng r;
    sm_rng_seed(&r, a->seed, sm_augment_stream(step, index, view));
    size_t npix = ds->h * ds->w;
    const uint8_t *src = ds->pixels + index * sm_dataset_image_size(ds);
    sm_augment_resized_crop(src, ds->c, ds->h, ds->w, sm_augment_sample_crop(a, &r, (int)ds->h, (int)ds->w), out);
    if (sm_rng_uniform(&r) < a->jitter_p) sm_augment_jitter(a, &r, out, ds->c, npix);
    if (ds->c == 3 && sm_rng_uniform(&r) < a->grey_p) sm_augment_greyscale(out, npix);
    if (sm_rng_uniform(&r) < a->flip_p) sm_augment_hflip(out, ds->c, ds->h, ds->w);
    if (a->translate > 0) {
        uint64_t span = 2 * (uint64_t)a->translate + 1;
        int dy = (int)sm_rng_below(&r, span) - a->translate, dx = (int)sm_rng_below(&r, span) - a->translate;
        sm_augment_translate(out, ds->c, ds->h, ds->w, dy, dx);
    }
    if (a->blur_p > 0 && ds->h >= 2 && ds->w >= 2 && sm_rng_uniform(&r) < a->blur_p) /* reflection needs 2 */
        sm_augment_blur(out, ds->c, ds->h, ds->w, (float)uniform_in(&r, BLUR_SIGMA_MIN, BLUR_SIGMA_MAX));
    if (a->gamma_p > 0 && sm_rng_uniform(&r) < a->gamma_p)
        sm_augment_gamma(out, ds->c * npix, (float)exp(uniform_in(&r, -GAMMA_LN_MAX, GAMMA_LN_MAX)));
    if (a->solarize_p > 0 && sm_rng_uniform(&r) < a->solarize_p) sm_augment_solarize(out, ds->c * npix);
    sm_crop rect;
    if (a->erase_p > 0 && sm_rng_uniform(&r) < a->erase_p && sm_augment_sample_erase(&r, (int)ds->h, (int)ds->w, &rect))
        sm_augment_erase(out, ds->c, ds->h, ds->w, rect);
}

void sm_augment_batch(const sm_augment *a, const sm_dataset *ds, const size_t *idx, size_t n, uint64_t step,
                      float *view1, float *view2)
{
    size_t size = sm_dataset_image_size(ds);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        sm_augment_view(a, ds, idx[i], step, 0, view1 + i * size);
        sm_augment_view(a, ds, idx[i], step, 1, view2 + i * size);
    }
}

void sm_augment_views(const sm_augment *a, const sm_dataset *ds, size_t index, uint64_t step, size_t nviews,
                      float *out)
{
    size_t size = sm_dataset_image_size(ds);
#pragma omp parallel for schedule(static)
    for (size_t v = 0; v < nviews; v++) sm_augment_view(a, ds, index, step, v, out + v * size);
}
