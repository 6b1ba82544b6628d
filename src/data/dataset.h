/* A labelled image data set in memory (plain data) — what every loader in
 * src/data produces and what the augmentations and the trainer consume.
 *
 * Pixels are stored as bytes, N × C × H × W in C order, byte v meaning the
 * intensity v / 255 in [0, 1].  Every source is 8-bit (IDX, CIFAR binary;
 * the synthetic sets are quantised on purpose), so bytes lose nothing, and
 * they take a quarter of the memory of float32 (CIFAR-10 train: 154 MB
 * instead of 614 MB).  The conversion to float is fused into the one place
 * that reads pixels anyway: sm_dataset_gather for plain images and the
 * bilinear crop of src/data/augment for views.
 *
 *   sm_dataset ds;
 *   if (sm_data_load(cfg, "train", &ds, st)) return st->code;   // src/data/loader.h
 *   float *x = ...;   // count × sm_dataset_image_size(&ds) floats
 *   sm_dataset_gather(&ds, idx, count, x);
 *   sm_dataset_free(&ds);
 */
#ifndef SM_DATA_DATASET_H
#define SM_DATA_DATASET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

typedef enum { SM_SPLIT_TRAIN, SM_SPLIT_TEST } sm_split;

typedef struct {
    uint8_t *pixels;  /* n × c × h × w bytes; image i at pixels + i * c * h * w */
    uint8_t *labels;  /* n labels, each < classes */
    size_t n, c, h, w;
    size_t classes;
} sm_dataset;

/* The most values c × h × w an image may have: the model indexes a batch's
 * maps in ints (src/simsiam/model.c checks its input against it, the IDX
 * loader its files). */
enum { SM_DATASET_MAX_IMAGE = INT_MAX / 16 };

/* Zeroed pixels and labels for n images of c × h × w.  On failure (size
 * overflow, out of memory) *ds is zeroed. */
int sm_dataset_alloc(sm_dataset *ds, size_t n, size_t c, size_t h, size_t w, size_t classes, sm_status *st);

/* Free and zero (safe on a zeroed struct). */
void sm_dataset_free(sm_dataset *ds);

/* Values per image: c × h × w. */
size_t sm_dataset_image_size(const sm_dataset *ds);

/* Images idx[0..count) as float32 in [0, 1] (byte / 255), one after the
 * other in out (count × c × h × w).  Every idx[k] < ds->n. */
void sm_dataset_gather(const sm_dataset *ds, const size_t *idx, size_t count, float *out);

#endif
