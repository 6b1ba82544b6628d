#include "data/synthetic.h"

#include <assert.h>
#include <math.h>

#include "core/rng.h"

/* Stream tags: distinct domains for template, sample and noise draws, so no
 * two of them (nor the trainer's own streams) share random numbers. */
#define TAG_TEMPLATE 0x73796e7468746d70ULL
#define TAG_SAMPLE 0x73796e7468736d70ULL
#define TAG_RANDOM 0x72616e646f6d6461ULL

#define SHIFT_MAX 4.0
#define ROTATE_MAX 0.35
#define WIDTH_MIN 0.8
#define WIDTH_MAX 1.25
#define CONTRAST_MIN 0.6
#define DISTRACTOR_MAX 0.8
#define NOISE_SD 0.15

typedef struct {
    double x, y, sigma, amp;
} blob;

typedef struct {
    blob b[SM_SYNTHETIC_BLOBS];
} template_t;

static double uniform_in(sm_rng *r, double lo, double hi) { return lo + (hi - lo) * sm_rng_uniform(r); }

static uint64_t sample_stream(uint64_t tag, sm_split split, size_t i)
{
    return sm_rng_mix(sm_rng_mix(tag ^ (uint64_t)split) ^ (uint64_t)i);
}

/* Blob centres keep 6 px from the border so shifted samples stay in frame. */
static void make_templates(uint64_t seed, template_t *t)
{
    for (int k = 0; k < SM_SYNTHETIC_CLASSES; k++) {
        sm_rng r;
        sm_rng_seed(&r, seed, sm_rng_mix(TAG_TEMPLATE ^ (uint64_t)k));
        for (int j = 0; j < SM_SYNTHETIC_BLOBS; j++)
            t[k].b[j] = (blob){.x = uniform_in(&r, 6, SM_SYNTHETIC_SIDE - 7),
                               .y = uniform_in(&r, 6, SM_SYNTHETIC_SIDE - 7),
                               .sigma = uniform_in(&r, 1.5, 3.5),
                               .amp = uniform_in(&r, 0.6, 1.0)};
    }
}

/* Template value at (x, y) in the template's own frame, widths × widen. */
static double template_at(const template_t *t, double x, double y, double widen)
{
    double v = 0;
    for (int j = 0; j < SM_SYNTHETIC_BLOBS; j++) {
        double dx = x - t->b[j].x, dy = y - t->b[j].y, s = t->b[j].sigma * widen;
        v += t->b[j].amp * exp(-(dx * dx + dy * dy) / (2 * s * s));
    }
    return v;
}

static uint8_t quantise(double v)
{
    if (v <= 0) return 0;
    if (v >= 1) return 255;
    return (uint8_t)lround(v * 255.0);
}

static void make_sample(const template_t *t, sm_rng *r, int label, uint8_t *pixels)
{
    int other = (label + 1 + (int)sm_rng_below(r, SM_SYNTHETIC_CLASSES - 1)) % SM_SYNTHETIC_CLASSES;
    double sx = uniform_in(r, -SHIFT_MAX, SHIFT_MAX), sy = uniform_in(r, -SHIFT_MAX, SHIFT_MAX);
    double angle = uniform_in(r, -ROTATE_MAX, ROTATE_MAX), widen = uniform_in(r, WIDTH_MIN, WIDTH_MAX);
    double contrast = uniform_in(r, CONTRAST_MIN, 1.0), mix = uniform_in(r, 0, DISTRACTOR_MAX);
    double cs = cos(angle), sn = sin(angle), centre = (SM_SYNTHETIC_SIDE - 1) / 2.0;
    for (int y = 0; y < SM_SYNTHETIC_SIDE; y++)
        for (int x = 0; x < SM_SYNTHETIC_SIDE; x++) {
            /* Pull the pixel back into the template frame: undo shift, then rotation. */
            double px = x - centre - sx, py = y - centre - sy;
            double tx = cs * px + sn * py + centre, ty = -sn * px + cs * py + centre;
            double v = template_at(&t[label], tx, ty, widen) + mix * template_at(&t[other], tx, ty, widen);
            pixels[y * SM_SYNTHETIC_SIDE + x] = quantise(contrast * v + NOISE_SD * sm_rng_normal(r));
        }
}

int sm_synthetic_generate(uint64_t seed, sm_split split, size_t n, sm_dataset *out, sm_status *st)
{
    int rc = sm_dataset_alloc(out, n, 1, SM_SYNTHETIC_SIDE, SM_SYNTHETIC_SIDE, SM_SYNTHETIC_CLASSES, st);
    if (rc) return rc;
    template_t templates[SM_SYNTHETIC_CLASSES];
    make_templates(seed, templates);
    size_t size = sm_dataset_image_size(out);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        sm_rng r;
        sm_rng_seed(&r, seed, sample_stream(TAG_SAMPLE, split, i));
        out->labels[i] = (uint8_t)(i % SM_SYNTHETIC_CLASSES);
        make_sample(templates, &r, out->labels[i], out->pixels + i * size);
    }
    return SM_OK;
}

int sm_synthetic_random(uint64_t seed, sm_split split, size_t n, size_t c, size_t h, size_t w, size_t classes,
                        sm_dataset *out, sm_status *st)
{
    assert(classes >= 1 && classes <= 256);
    int rc = sm_dataset_alloc(out, n, c, h, w, classes, st);
    if (rc) return rc;
    size_t size = sm_dataset_image_size(out);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        sm_rng r;
        sm_rng_seed(&r, seed, sample_stream(TAG_RANDOM, split, i));
        out->labels[i] = (uint8_t)sm_rng_below(&r, classes);
        uint8_t *p = out->pixels + i * size;
        uint64_t bits = 0;
        for (size_t j = 0; j < size; j++, bits >>= 8) {
            if (j % 8 == 0) bits = sm_rng_next(&r);
            p[j] = (uint8_t)bits;
        }
    }
    return SM_OK;
}
