/* SimSiam augmentations for 28 × 28 grey and 32 × 32 RGB images.
 *
 * A view of an image is, in this order (SimSiam's CIFAR pipeline, as in
 * torchvision):
 *   1. random resized crop: area fraction in [0.2, 1], aspect ratio w/h in
 *      [3/4, 4/3] drawn log-uniformly, up to 10 tries, then the centre-crop
 *      fallback of torchvision's RandomResizedCrop.get_params; the crop is
 *      resampled back to H × W bilinearly (align_corners = false, source
 *      coordinates clamped at the edges, like torch's upsample_bilinear2d);
 *   2. with p = 0.8, colour jitter: brightness, contrast (factors uniform in
 *      [0.6, 1.4] in sm_augment_defaults; [0.2, 1.8] with the trainer's
 *      default jitter 0.8) and, for RGB, saturation ([0.6, 1.4]) and hue (shift in
 *      [−0.1, 0.1] turns) in a random order, each clamping to [0, 1];
 *   3. RGB only: greyscale with p = 0.2 (all channels = 0.2989 R + 0.587 G +
 *      0.114 B);
 *   4. horizontal flip with p = 0.5;
 *   5. only when translate > 0 (off by default): a shift by (dy, dx), each
 *      uniform in [−translate, translate] pixels, the uncovered pixels 0
 *      (black, Fashion-MNIST's background): the zero padding + random crop
 *      of the CIFAR recipes;
 *   6. only when blur > 0 (the trainer's default 0.5, off in
 *      sm_augment_defaults) and the images are at least 2 × 2
 *      (reflection needs a neighbour): with p = blur, a 3 × 3 Gaussian
 *      blur, σ uniform in [0.1, 2], reflected edges (torchvision's
 *      GaussianBlur(3, (0.1, 2)), SimCLR's kernel of ~10% of the side),
 *      values kept in [0, 1];
 *   7. only when gamma > 0 (the trainer's default 0.5, off in
 *      sm_augment_defaults): with p = gamma, every value v
 *      becomes v^γ, ln γ uniform in [−ln 2, ln 2] (torchvision's
 *      adjust_gamma with gain 1);
 *   8. only when solarize > 0 (the trainer's default 0.2, off in
 *      sm_augment_defaults): with p = solarize, every value v >= 0.5
 *      becomes 1 − v (torchvision's RandomSolarize(0.5) on float images;
 *      BYOL's p = 0.2, which BYOL gives its second view only, here both);
 *   9. only when erase > 0 (off by default): with p = erase, torchvision's
 *      RandomErasing: a rectangle of area 2–33% and aspect ratio 0.3–3.3
 *      (log-uniform), up to 10 tries to fit strictly inside, set to 0.
 *   Steps 5–9 draw nothing when off, so with translate = blur = gamma =
 *   solarize = erase = 0 a view is bit for bit what it was before the
 *   options existed.
 * No normalisation: views are float32 in [0, 1].  With enabled = 0 every view
 * is the image itself (byte / 255, as sm_dataset_gather).
 *
 * Determinism: the random numbers of a view come from
 *   sm_rng_seed(seed, sm_augment_stream(step, sample, view)),
 * a function of the seed, the step, the sample's index in the data set and
 * the view's number only.  Samples are processed in parallel (OpenMP) but
 * each writes its own output from its own stream, so any thread count gives
 * bit-identical batches.
 *
 * Cost (measured with a throwaway timing loop, -O2, 200 batches, with the
 * trainer's defaults: jitter 0.8, blur 0.5, gamma 0.5, solarize 0.2; the
 * lighter sm_augment_defaults take about half): both views of a batch of
 * 256 Fashion-MNIST images (512 views of 28 × 28) take 4.9 ms on 1 thread
 * and 2.4 ms on 2; CIFAR-sized RGB (3 × 32 × 32, noise images, the worst
 * case for the branchy hue conversion) 30 ms and 15 ms.  A training step of
 * the default resnet at batch 256 on 2 cores takes 0.15–0.5 s, so
 * augmentation costs 0.5–1.6% of a step (CIFAR: 3–10%), and batches are
 * augmented in line, with no prefetching thread.
 *
 *   sm_augment aug;
 *   sm_augment_from_config(&aug, cfg);
 *   sm_augment_batch(&aug, &train, sm_sampler_batch(&s, b), batch, step, x1, x2);
 */
#ifndef SM_DATA_AUGMENT_H
#define SM_DATA_AUGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "core/rng.h"
#include "data/dataset.h"
#include "io/config.h"

/* Crop rectangle in pixels of the source image. */
typedef struct {
    int top, left, height, width;
} sm_crop;

/* Parameters (plain data: tests change single fields). */
typedef struct {
    int enabled;                  /* 0: identity */
    uint64_t seed;
    double scale_min, scale_max;  /* crop area / image area: 0.2, 1 */
    double ratio_min, ratio_max;  /* crop width / height: 3/4, 4/3 */
    double jitter_p;              /* 0.8 */
    double brightness, contrast;  /* 0.4, 0.4: factor uniform in [1 − s, 1 + s] */
    double saturation, hue;       /* 0.4, 0.1 (RGB only): hue shift in [−h, h] */
    double grey_p;                /* 0.2 (RGB only) */
    double flip_p;                /* 0.5 */
    int translate;                /* 0: largest shift in pixels per axis */
    double blur_p;                /* 0: probability of the Gaussian blur */
    double gamma_p;               /* 0: probability of the gamma curve */
    double solarize_p;            /* 0: probability of solarizing */
    double erase_p;               /* 0: probability of random erasing */
} sm_augment;

/* SimSiam's parameters, enabled. */
void sm_augment_defaults(sm_augment *a, uint64_t seed);

/* SimSiam's parameters with cfg's seed, crop_min, jitter (brightness and
 * contrast; the trainer's default 0.8 is SimCLR's ImageNet strength, twice
 * SimSiam's CIFAR one), translate, blur, gamma, solarize (the trainer's
 * default 0.2, BYOL's) and erase; disabled when cfg->aug is none or the data set is
 * "random" (a throughput benchmark feeds its tensors unchanged). */
void sm_augment_from_config(sm_augment *a, const sm_config *cfg);

/* The RNG stream id of one view. */
uint64_t sm_augment_stream(uint64_t step, uint64_t sample, uint64_t view);

/* ---- one view, one batch, many views of one image ------------------------- */

/* View number `view` of image `index` at `step` into out (c × h × w). */
void sm_augment_view(const sm_augment *a, const sm_dataset *ds, size_t index, uint64_t step, uint64_t view,
                     float *out);

/* Views 0 and 1 of images idx[0..n) into view1 and view2 (n × c × h × w
 * each), in parallel over the images. */
void sm_augment_batch(const sm_augment *a, const sm_dataset *ds, const size_t *idx, size_t n, uint64_t step,
                      float *view1, float *view2);

/* Views 0..nviews−1 of image `index` into out (nviews × c × h × w), in
 * parallel over the views.  Views 0 and 1 are the ones sm_augment_batch
 * makes for the same image and step.  The tracking passes a fixed step to
 * look at the same views every time. */
void sm_augment_views(const sm_augment *a, const sm_dataset *ds, size_t index, uint64_t step, size_t nviews,
                      float *out);

/* ---- the steps (exposed for tests) ---------------------------------------- */

/* torchvision's RandomResizedCrop.get_params for an h × w image. */
sm_crop sm_augment_sample_crop(const sm_augment *a, sm_rng *r, int h, int w);

/* Bilinear resampling of crop of the byte image src (c × h × w) to
 * dst (c × h × w floats, byte / 255). */
void sm_augment_resized_crop(const uint8_t *src, size_t c, size_t h, size_t w, sm_crop crop, float *dst);

/* Mirror every row (left ↔ right). */
void sm_augment_hflip(float *img, size_t c, size_t h, size_t w);

/* Shift every plane down by dy and right by dx pixels (negative: up, left)
 * in place: img[y][x] = old img[y − dy][x − dx], 0 where that lies outside. */
void sm_augment_translate(float *img, size_t c, size_t h, size_t w, int dy, int dx);

/* 3 × 3 Gaussian blur of every plane with standard deviation sigma > 0:
 * the separable kernel exp(−k²/2σ²), k = −1, 0, 1, normalised to sum 1,
 * rows then columns, edges reflected (pixel −1 reads pixel 1), the values
 * kept in [0, 1]; needs h, w >= 2. */
void sm_augment_blur(float *img, size_t c, size_t h, size_t w, float sigma);

/* Every value v of the n floats of img (in [0, 1]) into v^g, g > 0. */
void sm_augment_gamma(float *img, size_t n, float g);

/* Every value v >= 0.5 of the n floats of img into 1 − v. */
void sm_augment_solarize(float *img, size_t n);

/* Set the rectangle rect of every plane to 0. */
void sm_augment_erase(float *img, size_t c, size_t h, size_t w, sm_crop rect);

/* torchvision's RandomErasing.get_params with scale (0.02, 0.33) and ratio
 * (0.3, 3.3): 1 if a rectangle was found (*rect), 0 after 10 tries.  A draw
 * that rounds to 0 rows or columns is tried again, where torchvision takes
 * it (erasing nothing): possible only on images under ~9 pixels a side. */
int sm_augment_sample_erase(sm_rng *r, int h, int w, sm_crop *rect);

/* Colour operations on c × npix images in [0, 1] (c = 1 or 3), results
 * clamped to [0, 1], as torchvision.transforms.functional:
 * brightness: x·f;  contrast: f·x + (1 − f)·mean(grey(x));
 * saturation (c = 3): f·x + (1 − f)·grey(x) per pixel;
 * hue (c = 3): HSV hue + shift (mod 1), |shift| <= 1;  greyscale (c = 3): channels = grey. */
void sm_augment_brightness(float *img, size_t c, size_t npix, float factor);
void sm_augment_contrast(float *img, size_t c, size_t npix, float factor);
void sm_augment_saturation(float *img, size_t npix, float factor);
void sm_augment_hue(float *img, size_t npix, float shift);
void sm_augment_greyscale(float *img, size_t npix);

/* ColorJitter: the applicable operations (brightness, contrast and, for
 * c = 3, saturation and hue) in a random order with random factors. */
void sm_augment_jitter(const sm_augment *a, sm_rng *r, float *img, size_t c, size_t npix);

#endif
