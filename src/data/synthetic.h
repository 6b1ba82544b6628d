/* Generated data sets: "synthetic" (small, labelled, with real class
 * structure, for fast tests of the whole pipeline) and "random" (noise of a
 * real data set's shape, for throughput benchmarks).  Both are functions of
 * (seed, split, sample index) only: any thread count gives the same bytes.
 *
 * synthetic — 10 classes of 1 × 28 × 28 grey images.  Class k has a template:
 * SM_SYNTHETIC_BLOBS Gaussian blobs (centre, width, brightness drawn from
 * the seed, the same for both splits).  A sample of class k is its template
 * under a random similarity transform (shift up to ±4 px, rotation up to
 * ±0.35 rad, blob width ×0.8–1.25), scaled in contrast by 0.6–1, plus a
 * distractor — another class's template under the same transform, at
 * weight 0–0.8 — plus Gaussian pixel noise (σ = 0.15), clipped to [0, 1] and
 * quantised to bytes.  The templates make raw-pixel classifiers far better
 * than chance, the deformations and distractors keep them well below 100%:
 * with 2000 train / 500 test samples, 1-NN scores 0.74–0.82 and nearest
 * centroid 0.42–0.50 over seeds 0–3 (chance 0.1).  Sample i has label
 * i mod 10, so every class has n/10 samples (±1).
 *
 * random — bytes uniform in 0..255 and labels uniform in 0..9. */
#ifndef SM_DATA_SYNTHETIC_H
#define SM_DATA_SYNTHETIC_H

#include <stdint.h>
#include "core/status.h"
#include "data/dataset.h"

enum {
    SM_SYNTHETIC_CLASSES = 10,
    SM_SYNTHETIC_SIDE = 28,
    SM_SYNTHETIC_BLOBS = 3,
    SM_SYNTHETIC_TRAIN = 2000,  /* sizes sm_data_load uses */
    SM_SYNTHETIC_TEST = 500
};

/* n synthetic samples of the given split.  On failure *out is zeroed. */
int sm_synthetic_generate(uint64_t seed, sm_split split, size_t n, sm_dataset *out, sm_status *st);

/* n random images of c × h × w with labels in [0, classes), classes >= 1.
 * On failure *out is zeroed. */
int sm_synthetic_random(uint64_t seed, sm_split split, size_t n, size_t c, size_t h, size_t w, size_t classes,
                        sm_dataset *out, sm_status *st);

#endif
