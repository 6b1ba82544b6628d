/* The predictor retrained on a frozen encoder (see refit.h). */
#include "simsiam/refit.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/threads.h"
#include "data/augment.h"
#include "data/sampler.h"
#include "io/atomic.h"
#include "simsiam/predictor.h"
#include "simsiam/state.h"
#include "simsiam/track.h"
#include "simsiam/tracker.h"

/* RNG stream id ("refit" in ASCII): batches, views and the fresh predictor,
 * apart from every other user of the seed. */
#define REFIT_STREAM 0x7265666974ULL

/* 0, 1, 2, 4, …, 2^62 and the total: at most 64 + 1 events. */
enum { MAX_EVENTS = 66, PATH_LEN = SM_CONFIG_TEXT_MAX + 32 };

typedef struct {
    const sm_config *cfg;
    sm_dataset train;
    sm_model *m;
    sm_predictor *pred; /* closed-form modes; NULL for sgd */
    sm_tracker *tracker;
    sm_sampler sampler;
    sm_augment aug;
    sm_sgd_group groups[2];
    float *x1, *x2, *z1, *z2; /* batch images per view; batch × z_dim (closed-form modes) */
    size_t batch;
    uint64_t ckpt_step;
    sm_track_row *rows;
    size_t n_rows;
} refitter;

int sm_refit_tracked(uint64_t r, uint64_t total) { return r == total || (r & (r - 1)) == 0; }

static void refitter_free(refitter *f)
{
    sm_tracker_free(f->tracker);
    sm_sampler_free(&f->sampler);
    sm_predictor_free(f->pred);
    sm_model_free(f->m);
    sm_dataset_free(&f->train);
    sm_mem_free(f->x1);
    sm_mem_free(f->z1);
    sm_mem_free(f->rows);
}

/* The starting predictor: the checkpoint's, or a fresh one (refit_reinit). */
static int start_predictor(refitter *f, uint64_t seed, sm_status *st)
{
    if (!f->cfg->refit_reinit) return SM_OK;
    if (!f->pred) {
        sm_model_init_predictor(f->m, seed);
        return SM_OK;
    }
    sm_predictor_free(f->pred);
    f->pred = sm_predictor_alloc(f->cfg->pred_mode, f->m->z_dim, st);
    return f->pred ? SM_OK : st->code;
}

static int setup(refitter *f, const char *path, sm_status *st)
{
    const sm_config *cfg = f->cfg;
    f->batch = (size_t)cfg->refit_batch;
    uint64_t seed = sm_rng_mix((uint64_t)cfg->seed ^ REFIT_STREAM);
    sm_state_file file;
    int rc = sm_state_open(&file, path, st);
    /* refit_batch checked against the split before the model's activations for it are allocated */
    if (!rc)
        rc = sm_state_restore_tracking(&file, cfg, f->batch, "refit_batch", &f->train, &f->m, &f->pred, &f->ckpt_step,
                                       st);
    sm_state_close(&file);
    if (!rc) rc = start_predictor(f, seed, st);
    if (!rc) rc = sm_sampler_alloc(&f->sampler, f->train.n, f->batch, seed, st);
    if (rc) return rc;
    if (!(f->tracker = sm_tracker_alloc(cfg, &f->train, f->m->z_dim, st))) return st->code;
    sm_augment_from_config(&f->aug, cfg);
    f->aug.seed = seed;
    size_t image = sm_dataset_image_size(&f->train), d = f->m->z_dim;
    f->x1 = sm_mem_alloc_aligned(2 * f->batch * image, sizeof *f->x1, st);
    f->z1 = f->x1 ? sm_mem_alloc(2 * f->batch * d, sizeof *f->z1, st) : NULL;
    f->rows = f->z1 ? sm_mem_alloc(MAX_EVENTS, sizeof *f->rows, st) : NULL;
    if (!f->rows) return st->code;
    f->x2 = f->x1 + f->batch * image, f->z2 = f->z1 + f->batch * d;
    sm_model_sgd_groups(f->m, f->groups);
    f->groups[1].lr = (float)cfg->refit_lr;
    f->groups[1].momentum = (float)cfg->momentum;
    f->groups[1].weight_decay = (float)cfg->wd;
    return SM_OK;
}

/* One predictor step on batch r. */
static int refit_step(refitter *f, uint64_t r, sm_status *st)
{
    size_t spe = sm_sampler_batches(&f->sampler), b = (size_t)(r % spe);
    if (b == 0) sm_sampler_shuffle(&f->sampler, r / spe);
    sm_augment_batch(&f->aug, &f->train, sm_sampler_batch(&f->sampler, b), f->batch, r, f->x1, f->x2);
    if (f->pred) {
        sm_model_embed(f->m, f->x1, f->batch, NULL, f->z1, NULL);
        sm_model_embed(f->m, f->x2, f->batch, NULL, f->z2, NULL);
        return sm_predictor_update(f->pred, f->z1, f->z2, f->batch, st);
    }
    sm_model_zero_grads(f->m);
    double loss = sm_model_predictor_refit_loss(f->m, f->x1, f->x2, f->batch, f->cfg->loss);
    if (!isfinite(loss))
        return sm_status_fail(st, SM_ERR_DATA, f->cfg->out, "refit loss is %g at refit step %llu", loss,
                              (unsigned long long)r);
    sm_sgd_step(&f->groups[1], 1, f->m->params, f->m->grads, f->m->momentum);
    return SM_OK;
}

static int write_rows(const refitter *f, sm_status *st)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/refit.csv", f->cfg->out);
    sm_atomic_file af;
    int rc = sm_atomic_open(&af, path, st);
    if (rc) return rc;
    sm_track_fprint(af.f, SM_TRACK_REFIT_CSV, f->rows, f->n_rows);
    return sm_atomic_commit(&af, st);
}

/* A refit whose predictor diverged stops instead of writing a row of NaN:
 * its parameters (sm_model_find_non_finite) or its outputs, which overflow
 * first, are not finite (the probe loss of p = h(z) and z is NaN). */
static int check_finite(const refitter *f, const sm_track_row *row, uint64_t r, sm_status *st)
{
    const char *array;
    size_t i;
    char what[64] = "its outputs are";
    if (sm_model_find_non_finite(f->m, &array, &i)) snprintf(what, sizeof what, "%s[%zu] is", array, i);
    else if (isfinite(row->loss_cos)) return SM_OK;
    return sm_status_fail(st, SM_ERR_DATA, f->cfg->out,
                          "the predictor diverged (%s not finite) at refit step %llu; try a lower refit_lr", what,
                          (unsigned long long)r);
}

static int track_event(refitter *f, uint64_t r, const sm_hooks *hooks, sm_status *st)
{
    sm_track_row *row = &f->rows[f->n_rows];
    int rc = sm_tracker_event(f->tracker, f->m, f->pred, f->ckpt_step, row, st);
    if (!rc) rc = check_finite(f, row, r, st);
    if (rc) return rc;
    row->refit_step = r;
    if (row->warning[0]) sm_hooks_warn(hooks, "tracking at refit step %llu: %s", (unsigned long long)r, row->warning);
    f->n_rows++;
    return write_rows(f, st);
}

static int make_out(const sm_config *cfg, sm_status *st)
{
    int rc = sm_make_dirs(cfg->out, sizeof "refit_config.txt" - 1, st); /* and refit.csv */
    if (rc) return rc;
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/refit_config.txt", cfg->out);
    return sm_config_write(path, cfg, st);
}

static int refuse_another_refit(const sm_config *cfg, sm_status *st)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/refit.csv", cfg->out);
    if (access(path, F_OK) != 0) return SM_OK;
    return sm_status_fail(st, SM_ERR_DATA, cfg->out,
                          "out= already holds a refit (refit.csv), which a refit does not replace: choose another "
                          "out=, or delete its refit.csv to redo it");
}

int sm_refit_run(const char *path, const sm_config *cfg, const sm_hooks *hooks, sm_refit_result *res,
                 sm_status *st)
{
    refitter f = {.cfg = cfg};
    sm_threads_set((int)cfg->threads);
    uint64_t total = (uint64_t)cfg->refit_steps;
    int rc = setup(&f, path, st); /* every input read before anything is written */
    if (!rc) rc = refuse_another_refit(cfg, st);
    if (!rc) rc = make_out(cfg, st);
    for (uint64_t r = 0; !rc; r++) {
        if (sm_refit_tracked(r, total)) {
            rc = track_event(&f, r, hooks, st);
            sm_progress p = {.done = r, .total = total, .loss = rc ? NAN : f.rows[f.n_rows - 1].nll_full};
            if (!rc) sm_hooks_progress(hooks, &p);
        }
        if (rc || r == total) break;
        rc = refit_step(&f, r, st);
    }
    if (!rc) *res = (sm_refit_result){f.ckpt_step, total, f.n_rows};
    refitter_free(&f);
    return rc;
}
