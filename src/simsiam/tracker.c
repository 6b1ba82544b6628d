/* Tracking events on a model: probe set, views, embedding (see tracker.h). */
#include "simsiam/tracker.h"

#include <stddef.h>
#include <string.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/rng.h"
#include "data/augment.h"

/* RNG stream ids ("probe", "views" in ASCII), apart from every other user of the seed. */
#define PROBE_STREAM 0x70726f6265ULL
#define VIEWS_STREAM 0x7669657773ULL

struct sm_tracker {
    sm_augment aug; /* the training augmentations with the tracking seed */
    const sm_dataset *ds;
    size_t n, views, images, d, image, chunk;
    size_t *probe;
    float *x1, *x2, *xv;        /* chunk images per view; views × image for one image */
    float *zf, *pf;             /* one chunk's float z and p (chunk or views rows × d) */
    double *z1, *z2, *p1, *p2, *zv;
    sm_track_opts opts;
    sm_arena ws;
};

/* The first t->n entries of a seeded permutation of the data set's indices. */
static int choose_probe(sm_tracker *t, uint64_t seed, sm_status *st)
{
    size_t *all = sm_mem_alloc(t->ds->n, sizeof *all, st);
    if (!all) return st->code;
    for (size_t i = 0; i < t->ds->n; i++) all[i] = i;
    sm_rng r;
    sm_rng_seed(&r, seed, PROBE_STREAM);
    for (size_t i = 0; i < t->n; i++) {
        size_t j = i + (size_t)sm_rng_below(&r, t->ds->n - i), keep = all[i];
        all[i] = all[j];
        all[j] = keep;
    }
    memcpy(t->probe, all, t->n * sizeof *all);
    sm_mem_free(all);
    return SM_OK;
}

static int check_config(const sm_config *cfg, const sm_dataset *ds, size_t z_dim, sm_status *st)
{
    if ((size_t)cfg->track_samples > ds->n)
        return sm_status_fail(st, SM_ERR_USAGE, "track_samples", "%ld probe images but the training split has %zu",
                              cfg->track_samples, ds->n);
    if (cfg->track_images > cfg->track_samples)
        return sm_status_fail(st, SM_ERR_USAGE, "track_images", "%ld images for H(z2|x) but track_samples is %ld",
                              cfg->track_images, cfg->track_samples);
    if (cfg->track_views <= SM_TRACK_K)
        return sm_status_fail(st, SM_ERR_USAGE, "track_views", "%ld views per image: the k-NN entropy needs more than %d",
                              cfg->track_views, SM_TRACK_K);
    if (cfg->track_samples < 4)
        return sm_status_fail(st, SM_ERR_USAGE, "track_samples", "%ld probe images: tracking needs at least 4",
                              cfg->track_samples);
    if (z_dim < 2) /* else the first event would stop the run after it started writing */
        return sm_status_fail(st, SM_ERR_USAGE, "z_dim", "z_dim=%zu: tracking needs 2 or more dimensions", z_dim);
    return SM_OK;
}

static int alloc_buffers(sm_tracker *t, sm_status *st)
{
    size_t n = t->n, d = t->d, v = t->views, rows = t->chunk > v ? t->chunk : v;
    t->probe = sm_mem_alloc(n, sizeof *t->probe, st);
    t->x1 = t->probe ? sm_mem_alloc_aligned(2 * t->chunk * t->image, sizeof *t->x1, st) : NULL;
    t->xv = t->x1 ? sm_mem_alloc_aligned(v * t->image, sizeof *t->xv, st) : NULL;
    t->zf = t->xv ? sm_mem_alloc(2 * rows * d, sizeof *t->zf, st) : NULL;
    t->z1 = t->zf ? sm_mem_alloc(4 * n * d + t->images * v * d, sizeof *t->z1, st) : NULL;
    if (!t->z1) return st->code;
    t->x2 = t->x1 + t->chunk * t->image;
    t->pf = t->zf + rows * d;
    t->z2 = t->z1 + n * d, t->p1 = t->z2 + n * d, t->p2 = t->p1 + n * d, t->zv = t->p2 + n * d;
    return SM_OK;
}

sm_tracker *sm_tracker_alloc(const sm_config *cfg, const sm_dataset *ds, size_t z_dim, sm_status *st)
{
    if (check_config(cfg, ds, z_dim, st)) return NULL;
    sm_tracker *t = sm_mem_alloc(1, sizeof *t, st);
    if (!t) return NULL;
    sm_augment_from_config(&t->aug, cfg);
    t->aug.seed = sm_rng_mix((uint64_t)cfg->seed ^ VIEWS_STREAM);
    t->ds = ds;
    t->n = (size_t)cfg->track_samples, t->views = (size_t)cfg->track_views, t->images = (size_t)cfg->track_images;
    t->d = z_dim, t->image = sm_dataset_image_size(ds), t->chunk = 256;
    sm_track_defaults(&t->opts, t->aug.seed); /* sm_track_event mixes in the step */
    t->opts.mix = (size_t)cfg->track_mix;
    t->opts.resamples = (size_t)cfg->track_resamples;
    if (alloc_buffers(t, st) || choose_probe(t, (uint64_t)cfg->seed, st)) {
        sm_tracker_free(t);
        return NULL;
    }
    return t;
}

void sm_tracker_free(sm_tracker *t)
{
    if (!t) return;
    sm_mem_free(t->probe);
    sm_mem_free(t->x1);
    sm_mem_free(t->xv);
    sm_mem_free(t->zf);
    sm_mem_free(t->z1);
    sm_arena_free(&t->ws);
    sm_mem_free(t);
}

static void to_double(const float *src, size_t count, double *dst)
{
    for (size_t i = 0; i < count; i++) dst[i] = src[i];
}

/* z (rows × d floats into zf, and as doubles into z) and p (doubles, may be
 * NULL) of the images x through m (and pred). */
static void embed(sm_tracker *t, sm_model *m, const sm_predictor *pred, const float *x, size_t rows, float *zf,
                  double *z, double *p)
{
    sm_model_embed(m, x, rows, NULL, zf, pred || !p ? NULL : t->pf);
    if (pred && p) sm_predictor_apply(pred, zf, rows, t->pf);
    to_double(zf, rows * t->d, z);
    if (p) to_double(t->pf, rows * t->d, p);
}

int sm_tracker_event(sm_tracker *t, sm_model *m, const sm_predictor *pred, uint64_t step, sm_track_row *row,
                     sm_status *st)
{
    size_t d = t->d;
    for (size_t done = 0; done < t->n; done += t->chunk) {
        size_t nb = t->n - done < t->chunk ? t->n - done : t->chunk;
        sm_augment_batch(&t->aug, t->ds, t->probe + done, nb, step, t->x1, t->x2);
        embed(t, m, pred, t->x1, nb, t->zf, t->z1 + done * d, t->p1 + done * d);
        embed(t, m, pred, t->x2, nb, t->zf, t->z2 + done * d, t->p2 + done * d);
    }
    for (size_t i = 0; i < t->images; i++) {
        sm_augment_views(&t->aug, t->ds, t->probe[i], step, t->views, t->xv);
        embed(t, m, pred, t->xv, t->views, t->zf, t->zv + i * t->views * d, NULL);
    }
    sm_track_sample s = {t->z1, t->z2, t->p1, t->p2, t->n, d, t->zv, t->images, t->views};
    return sm_track_event(&s, &t->opts, step, row, &t->ws, st);
}
