/* SimSiam training loop (see train.h). */
#include "simsiam/train.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/threads.h"
#include "core/timer.h"
#include "data/augment.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/dist.h"
#include "io/atomic.h"
#include "io/json.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "simsiam/knn_monitor.h"
#include "simsiam/model.h"
#include "simsiam/predictor.h"
#include "simsiam/state.h"
#include "simsiam/track.h"
#include "simsiam/tracker.h"

enum { PATH_MAX_LEN = SM_CONFIG_TEXT_MAX + 32, TIMING_SKIP = 3 };

static const char TRAIN_HEADER[] = "step,epoch,lr,pred_lr,loss,z_std,seconds\n";
static const char EVAL_HEADER[] = "epoch,step,knn_acc\n";

/* A growing text buffer (CSV rows kept for the atomic rewrites). */
typedef struct {
    char *s;
    size_t len, cap;
} text_buf;

static int text_append(text_buf *t, sm_status *st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int text_append(text_buf *t, sm_status *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)need + 1) + 4096;
        char *s = sm_mem_alloc(cap, 1, st);
        if (!s) return st ? st->code : SM_ERR_DATA;
        if (t->s) memcpy(s, t->s, t->len + 1);
        sm_mem_free(t->s);
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
    return SM_OK;
}

static const char *text_str(const text_buf *t) { return t->s ? t->s : ""; }

typedef struct {
    sm_config cfg; /* with out resolved */
    sm_dataset train, test;
    sm_model *m;
    sm_predictor *pred; /* pred_mode optimal or directpred; NULL for sgd */
    float *pz;          /* with pred: p1, p2, dp, dz, batch × z_dim each */
    sm_sampler sampler;
    sm_augment aug;
    sm_sgd_group groups[2];
    float *x1, *x2;
    size_t batch, spe, total, log_every;
    /* Data-parallel (docs/design.md §6): this process's slice of every batch
     * is rows [offset, offset + local) of the sampler's batch; the writer
     * (rank 0) alone writes files, tracks and runs the monitor. */
    size_t local, offset;
    int writer;
    float *z_all; /* with several processes: both views' z of the whole batch */
    const sm_hooks *hooks;
    size_t step; /* steps done */
    sm_tracker *tracker; /* NULL when track_every = 0 */
    text_buf train_rows, eval_rows, track_rows, detail_rows;
    double elapsed_before, t_start; /* wall seconds of earlier invocations; start of this one */
    size_t local_steps;             /* steps run by this invocation */
    double local_seconds, timed_seconds;
    size_t timed_steps;
    double last_loss, knn_acc;
    int stopped; /* the hooks asked for a stop; the loop ended early */
    char ckpt_path[PATH_MAX_LEN], last_ckpt[PATH_MAX_LEN];
    sm_state_file resume; /* the checkpoint of resume=, from before the model is built until it is loaded */
    char resume_changes[1024]; /* "key=new (was old), ..." of resume=, "" if none */
} trainer;

static double elapsed(const trainer *t) { return t->elapsed_before + sm_timer_now() - t->t_start; }

static void out_path(char *buf, const trainer *t, const char *name)
{
    snprintf(buf, PATH_MAX_LEN, "%s/%s", t->cfg.out, name);
}

/* ---- setup ---------------------------------------------------------------- */

static void default_out(char *out)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(out, SM_CONFIG_TEXT_MAX, "runs/%Y%m%d-%H%M%S", &tm);
}

static int check_config(const sm_config *cfg, sm_status *st)
{
    if (cfg->pred_mode != SM_PRED_SGD && cfg->pred_steps > 1)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "pred_steps=%ld needs pred_mode=sgd: pred_mode=%s trains no predictor",
                              cfg->pred_steps, sm_config_pred_mode_name(cfg->pred_mode));
    return SM_OK;
}

/* What data parallelism needs: equal slices of at least two rows, and a
 * loss that is a mean over the rows (gauss fits σ² to the whole batch). */
static int check_parallel(const sm_config *cfg, sm_status *st)
{
    const int size = sm_dist_size();
    const size_t batch = (size_t)cfg->batch;
    if (size == 1) return SM_OK;
    if (batch % (size_t)size || batch / (size_t)size < 2)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "batch=%zu must split into %d equal slices of at least 2 images",
                              batch, size);
    if (cfg->loss == SM_LOSS_GAUSS)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "loss=gauss fits its variance to the whole batch: "
                              "run it in one process, not %d", size);
    return SM_OK;
}

int sm_train_check(const sm_config *cfg, sm_status *st)
{
    int rc = check_config(cfg, st);
    return rc ? rc : check_parallel(cfg, st);
}

static int load_data(trainer *t, sm_status *st)
{
    int rc = sm_data_load(&t->cfg, "train", &t->train, st);
    if (!rc && t->cfg.knn_every > 0) rc = sm_data_load_test(&t->cfg, &t->train, &t->test, st);
    if (!rc) rc = sm_sampler_alloc(&t->sampler, t->train.n, t->batch, (uint64_t)t->cfg.seed, st);
    return rc;
}

static int build_predictor(trainer *t, sm_status *st)
{
    t->pred = sm_predictor_alloc(t->cfg.pred_mode, t->m->z_dim, st);
    if (t->pred) t->pz = sm_mem_alloc_aligned(4 * t->local * t->m->z_dim, sizeof(float), st);
    return t->pz ? SM_OK : (st ? st->code : SM_ERR_DATA);
}

static int build_model(trainer *t, sm_status *st)
{
    t->m = sm_model_alloc(&t->cfg, (int)t->train.c, (int)t->train.h, (int)t->train.w, t->local, st);
    if (!t->m) return st ? st->code : SM_ERR_DATA;
    if (sm_dist_size() > 1) {
        int rc = sm_model_sync(t->m, st);
        if (!rc && !(t->z_all = sm_mem_alloc_aligned(2 * t->batch * t->m->z_dim, sizeof(float), st)))
            rc = st ? st->code : SM_ERR_DATA;
        if (rc) return rc;
    }
    sm_model_init(t->m, (uint64_t)t->cfg.seed);
    sm_model_sgd_groups(t->m, t->groups);
    for (int g = 0; g < 2; g++) {
        t->groups[g].momentum = (float)t->cfg.momentum;
        t->groups[g].weight_decay = (float)t->cfg.wd;
    }
    size_t image = sm_dataset_image_size(&t->train);
    t->x1 = sm_mem_alloc_aligned(t->local * image, sizeof(float), st);
    t->x2 = t->x1 ? sm_mem_alloc_aligned(t->local * image, sizeof(float), st) : NULL;
    if (!t->x2) return st ? st->code : SM_ERR_DATA;
    return t->cfg.pred_mode == SM_PRED_SGD ? SM_OK : build_predictor(t, st);
}

static void plan_steps(trainer *t)
{
    t->spe = sm_sampler_batches(&t->sampler);
    t->total = t->cfg.steps > 0 ? (size_t)t->cfg.steps : (size_t)t->cfg.epochs * t->spe;
    size_t span = t->spe < t->total ? t->spe : t->total;
    t->log_every = span / 50 > 1 ? span / 50 : 1;
}

/* ---- checkpoints (the layout: simsiam/state.h) ------------------------------- */

/* OUT/checkpoint-<step>.bin: the copy checkpoint_keep = 1 leaves behind. */
static const char *kept_path(const trainer *t, char *buf, size_t n)
{
    snprintf(buf, n, "%s/checkpoint-%zu.bin", t->cfg.out, t->step);
    return buf;
}

/* By name: printf spells a NaN with its sign bit "-nan". */
static const char *non_finite_name(double v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* The run stops at a diverged step, `what` saying how, naming the last good
 * checkpoint (left as it was) or the run directory when there is none. */
static int diverged(const trainer *t, const char *what, size_t step_number, sm_status *st)
{
    if (t->last_ckpt[0])
        return sm_status_fail(st, SM_ERR_DATA, t->last_ckpt, "%s at step %zu; last good checkpoint kept", what,
                              step_number);
    return sm_status_fail(st, SM_ERR_DATA, t->cfg.out, "%s at step %zu; no checkpoint was written yet", what,
                          step_number);
}

/* What a checkpoint saves must be finite (the loader refuses it otherwise):
 * a model can diverge with a finite loss (sm_model_find_non_finite). */
static int check_model_finite(const trainer *t, sm_status *st)
{
    const char *array;
    size_t i;
    if (!sm_model_find_non_finite(t->m, &array, &i)) return SM_OK;
    char what[64];
    snprintf(what, sizeof what, "the model diverged (%s[%zu] is not finite)", array, i);
    return diverged(t, what, t->step, st);
}

/* OUT/checkpoint.bin, and with keep its copy checkpoint-<step>.bin: the
 * scheduled checkpoints keep one under checkpoint_keep = 1, the one a signal
 * asks for does not, so that the kept set (which refit experiments pick
 * from) does not depend on when a run was interrupted. */
static int write_checkpoint(trainer *t, int keep, sm_status *st)
{
    if (!t->writer) return SM_OK; /* with MPI its failure ends the others too (cli/train.c fail_all) */
    int rc = check_model_finite(t, st);
    if (rc) return rc;
    char path[PATH_MAX_LEN];
    const sm_state s = {&t->cfg,
                        {t->step, t->step / t->spe, elapsed(t), t->last_loss, t->knn_acc},
                        t->m,
                        t->pred,
                        {text_str(&t->train_rows), text_str(&t->eval_rows), text_str(&t->track_rows),
                         text_str(&t->detail_rows)}};
    rc = sm_state_save(&s, t->ckpt_path, keep ? kept_path(t, path, sizeof path) : NULL, st);
    if (!rc) snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", t->ckpt_path);
    return rc;
}

/* Read resume= and check it against the configuration, before the model
 * is built (resume_from loads it once the model exists). */
static int read_resume(trainer *t, sm_status *st)
{
    int rc = sm_state_open(&t->resume, t->cfg.resume, st);
    if (!rc) rc = sm_state_check_resume(&t->resume, &t->cfg, &t->train, t->resume_changes, sizeof t->resume_changes, st);
    return rc;
}

static int restore_rows(trainer *t, sm_status *st)
{
    sm_state_rows r;
    int rc = sm_state_read_rows(&t->resume, &r, st);
    if (!rc) rc = text_append(&t->train_rows, st, "%s", r.train);
    if (!rc) rc = text_append(&t->eval_rows, st, "%s", r.eval);
    if (!rc) rc = text_append(&t->track_rows, st, "%s", r.track);
    if (!rc) rc = text_append(&t->detail_rows, st, "%s", r.detail);
    return rc;
}

static int resume_from(trainer *t, sm_status *st)
{
    const char *path = t->cfg.resume;
    sm_state_step step;
    int rc = sm_state_read_step(&t->resume, &step, st);
    if (!rc) rc = sm_state_load_predictor(&t->resume, t->cfg.pred_mode, t->pred, st);
    if (!rc) rc = sm_state_load_model(&t->resume, t->m, 1, st);
    if (!rc) rc = restore_rows(t, st);
    if (!rc && step.steps > t->total)
        rc = sm_status_fail(st, SM_ERR_USAGE, path, "checkpoint is at step %llu, past the configured total of %zu",
                            (unsigned long long)step.steps, t->total);
    if (!rc) {
        t->step = step.steps;
        t->elapsed_before = step.seconds;
        t->last_loss = step.last_loss;
        t->knn_acc = step.knn_acc;
        snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
    }
    sm_state_close(&t->resume);
    return rc;
}

/* ---- outputs -------------------------------------------------------------- */

static int write_csv(const trainer *t, const char *name, const char *header, const text_buf *rows,
                     sm_status *st)
{
    char path[PATH_MAX_LEN];
    out_path(path, t, name);
    sm_atomic_file af;
    int rc = sm_atomic_open(&af, path, st);
    if (rc) return rc;
    fputs(header, af.f);
    fputs(text_str(rows), af.f);
    return sm_atomic_commit(&af, st);
}

static int write_csvs(const trainer *t, sm_status *st)
{
    if (!t->writer) return SM_OK;
    int rc = write_csv(t, "train.csv", TRAIN_HEADER, &t->train_rows, st);
    if (!rc && t->cfg.knn_every > 0) rc = write_csv(t, "eval.csv", EVAL_HEADER, &t->eval_rows, st);
    char header[SM_TRACK_LINE_MAX];
    if (!rc && t->tracker && sm_track_header(SM_TRACK_CSV, header, sizeof header) >= 0)
        rc = write_csv(t, "track.csv", header, &t->track_rows, st);
    if (!rc && t->tracker && sm_track_header(SM_TRACK_DETAIL_CSV, header, sizeof header) >= 0)
        rc = write_csv(t, "track_detail.csv", header, &t->detail_rows, st);
    return rc;
}

static double images_per_s(const trainer *t)
{
    if (t->timed_steps) return (double)(t->timed_steps * t->batch) / t->timed_seconds;
    if (t->local_steps) return (double)(t->local_steps * t->batch) / t->local_seconds;
    return 0;
}

static void fill_result(const trainer *t, sm_train_result *r)
{
    r->steps = t->step;
    r->steps_run = t->local_steps;
    r->epochs = (double)t->step / (double)t->spe;
    r->images_per_s = images_per_s(t);
    r->final_loss = t->last_loss;
    r->knn_acc = t->cfg.knn_every > 0 ? t->knn_acc : NAN;
    r->total = t->total;
    r->stopped = t->stopped;
    snprintf(r->out, sizeof r->out, "%s", t->cfg.out);
    snprintf(r->checkpoint, sizeof r->checkpoint, "%s", t->ckpt_path);
}

size_t sm_train_summary_json(const sm_train_result *r, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "{\"steps\":%llu,", (unsigned long long)r->steps);
#define AT (len < n ? buf + len : NULL), (len < n ? n - len : 0)
    len += sm_json_number(AT, "epochs", r->epochs, "%.6g");
    len += sm_json_number(AT, "images_per_s", r->images_per_s, "%.1f");
    len += sm_json_number(AT, "final_loss", r->final_loss, "%.6g");
    len += sm_json_number(AT, "knn_acc", r->knn_acc, "%.4f");
    len += (size_t)snprintf(AT, "\"out\":");
    len += sm_json_string(AT, r->out);
    len += (size_t)snprintf(AT, "}");
#undef AT
    return len;
}

static int write_summary(const trainer *t, sm_status *st)
{
    if (!t->writer) return SM_OK;
    sm_train_result r;
    fill_result(t, &r);
    char line[SM_TRAIN_JSON_MAX], path[PATH_MAX_LEN];
    size_t len = sm_train_summary_json(&r, line, sizeof line);
    line[len++] = '\n';
    out_path(path, t, "summary.json");
    return sm_atomic_write(path, line, len, st);
}

/* ---- one step ------------------------------------------------------------- */

static int loss_not_finite(const trainer *t, double loss, size_t step_number, sm_status *st)
{
    char what[32];
    snprintf(what, sizeof what, "loss is %s", non_finite_name(loss));
    return diverged(t, what, step_number, st);
}

/* Steps 2–4 with the network's predictor h (pred_mode=sgd). */
static int network_step(trainer *t, double *loss, sm_status *st)
{
    *loss = sm_model_train_step(t->m, t->x1, t->x2, t->local, t->cfg.loss, t->groups, t->cfg.pred_steps);
    return isfinite(*loss) ? SM_OK : loss_not_finite(t, *loss, t->step + 1, st);
}

/* View v's z of the whole batch: this process's rows, or with several
 * processes every process's rows gathered in rank order (the sampler's order). */
static const float *whole_batch_z(trainer *t, int v)
{
    const sm_model *m = t->m;
    const float *z = m->act[v] + m->tensors[m->t_z].value;
    if (!t->z_all) return z;
    float *all = t->z_all + (size_t)v * t->batch * m->z_dim;
    sm_dist_allgather_f32(z, t->local * m->z_dim, all);
    return all;
}

/* Step 2 with the closed-form predictor W (train.h). */
static int closed_form_loss(trainer *t, double *loss, sm_status *st)
{
    sm_model *m = t->m;
    const size_t n = t->local, d = m->z_dim, nd = n * d;
    const sm_loss_kind kind = t->cfg.loss;
    sm_model_outputs out[2];
    sm_model_forward(m, 0, t->x1, n, SM_MODEL_TRAIN, &out[0]);
    sm_model_forward(m, 1, t->x2, n, SM_MODEL_TRAIN, &out[1]);
    const float *z[2] = {out[0].z, out[1].z};
    /* The moments take the whole batch, so every process refits the same W.
     * The update fails only on a non-finite z (predictor.h), which makes the
     * loss non-finite: reported as such, not as bad predictor input. */
    if (sm_predictor_update(t->pred, whole_batch_z(t, 0), whole_batch_z(t, 1), t->batch, NULL))
        return loss_not_finite(t, NAN, t->step + 1, st);
    float *p[2] = {t->pz, t->pz + nd}, *dp = t->pz + 2 * nd, *dz = t->pz + 3 * nd;
    for (int v = 0; v < 2; v++) sm_predictor_apply(t->pred, z[v], n, p[v]);
    *loss = sm_model_sync_loss(m, 0.5 * sm_loss_forward(kind, n, d, p[0], z[1]) +
                                      0.5 * sm_loss_forward(kind, n, d, p[1], z[0]));
    if (!isfinite(*loss)) return loss_not_finite(t, *loss, t->step + 1, st);
    for (int v = 0; v < 2; v++) { /* one view at a time: the views share the activation gradients */
        memset(dp, 0, nd * sizeof *dp);
        sm_loss_backward(kind, n, d, p[v], z[1 - v], 0.5f, dp);
        sm_predictor_backward(t->pred, dp, n, dz);
        sm_model_backward(m, v, n, dz, NULL);
    }
    return SM_OK;
}

/* Steps 2–3 with the closed-form predictor W: SGD on encoder + projector only. */
static int closed_form_step(trainer *t, double *loss, sm_status *st)
{
    sm_model *m = t->m;
    sm_model_zero_grads(m);
    int rc = closed_form_loss(t, loss, st);
    if (rc) return rc;
    sm_model_sync_grads(m, 0, m->n_backbone);
    sm_sgd_step(t->groups, 1, m->params, m->grads, m->momentum);
    return rc;
}

/* The groups' learning rates for step s (step 3 of train.h). */
static void set_learning_rates(trainer *t, size_t s)
{
    double base = sm_schedule_scaled_lr(t->cfg.lr, t->batch);
    double lr = sm_schedule_lr(t->cfg.schedule, base, (double)s, (double)t->total);
    t->groups[0].lr = (float)lr;
    /* with a closed-form W the network's predictor is unused: not stepped, lr 0 in train.csv */
    t->groups[1].lr = t->pred ? 0.0f : (float)(t->cfg.pred_lr_mult * (t->cfg.pred_fixed_lr ? base : lr));
}

/* Run step t->step (0-based), steps 1–4 of train.h; *zs = z_std. */
static int train_step(trainer *t, double *loss, double *zs, sm_status *st)
{
    sm_model *m = t->m;
    size_t s = t->step, b = s % t->spe;
    if (b == 0 || t->local_steps == 0) sm_sampler_shuffle(&t->sampler, s / t->spe);
    sm_augment_batch(&t->aug, &t->train, sm_sampler_batch(&t->sampler, b) + t->offset, t->local, s, t->x1, t->x2);

    set_learning_rates(t, s);
    int rc = t->pred ? closed_form_step(t, loss, st) : network_step(t, loss, st);
    if (rc) return rc;
    /* z of step 2: the predictor-only steps of step 4 leave it as it was */
    *zs = sm_track_z_std(whole_batch_z(t, 0), t->batch, m->z_dim);
    return SM_OK;
}

static void report_progress(const trainer *t)
{
    sm_progress p = {t->step, t->total, (t->step - 1) / t->spe, t->last_loss, images_per_s(t),
                     t->local_seconds / (double)t->local_steps * (double)(t->total - t->step)};
    sm_hooks_progress(t->hooks, &p);
}

static int run_monitor(trainer *t, sm_status *st)
{
    int rc = sm_knn_monitor_accuracy(t->m, &t->train, &t->test, &t->knn_acc, st);
    if (rc) return rc;
    return text_append(&t->eval_rows, st, "%.6g,%zu,%.6g\n", (double)t->step / (double)t->spe, t->step,
                       t->knn_acc);
}

/* One tracking event at the current step: a row of track.csv and of
 * track_detail.csv; an estimator that could not run is a warning, not an
 * error (its columns are nan). */
static int run_tracker(trainer *t, sm_status *st)
{
    sm_track_row row;
    int rc = sm_tracker_event(t->tracker, t->m, t->pred, t->step, &row, st);
    if (rc) return rc;
    if (row.warning[0]) sm_hooks_warn(t->hooks, "tracking at step %zu: %s", t->step, row.warning);
    char line[SM_TRACK_LINE_MAX];
    sm_track_format(&row, SM_TRACK_CSV, line, sizeof line);
    rc = text_append(&t->track_rows, st, "%s\n", line);
    sm_track_format(&row, SM_TRACK_DETAIL_CSV, line, sizeof line);
    return rc ? rc : text_append(&t->detail_rows, st, "%s\n", line);
}

/* Logging, monitor, tracking and checkpoint after a step. */
static int after_step(trainer *t, double loss, double zs, sm_status *st)
{
    if (!t->writer) return SM_OK;
    int rc = SM_OK;
    int last = t->step == t->total;
    if (t->tracker && (t->step % (size_t)t->cfg.track_every == 0 || last)) rc = run_tracker(t, st);
    if (!rc && (t->step % t->log_every == 0 || last))
        rc = text_append(&t->train_rows, st, "%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f\n", t->step,
                         (double)t->step / (double)t->spe, t->groups[0].lr, t->groups[1].lr, loss, zs, elapsed(t));
    int epoch_end = t->step % t->spe == 0;
    size_t epochs = t->step / t->spe;
    if (!rc && t->cfg.knn_every > 0 && ((epoch_end && epochs % (size_t)t->cfg.knn_every == 0) || last))
        rc = run_monitor(t, st);
    if (!rc && ((epoch_end && t->cfg.checkpoint_every > 0 && epochs % (size_t)t->cfg.checkpoint_every == 0) || last)) {
        rc = write_checkpoint(t, t->cfg.checkpoint_keep, st);
        if (!rc) rc = write_csvs(t, st);
    }
    return rc;
}

static int train_loop(trainer *t, sm_status *st)
{
    if (t->tracker && t->step == 0) { /* the starting point of every curve */
        int rc = run_tracker(t, st);
        if (rc) return rc;
    }
    while (t->step < t->total) {
        double t0 = sm_timer_now(), loss = NAN, zs = 0;
        int rc = train_step(t, &loss, &zs, st);
        if (rc) {
            write_csvs(t, NULL); /* the rows up to the last finite step; the NaN error is what counts */
            return rc;
        }
        double dt = sm_timer_now() - t0;
        t->step++;
        t->local_seconds += dt;
        if (t->local_steps++ >= TIMING_SKIP) {
            t->timed_seconds += dt;
            t->timed_steps++;
        }
        t->last_loss = loss;
        report_progress(t);
        if ((rc = after_step(t, loss, zs, st))) return rc;
        /* every process must stop at the same step: a signal may reach them at different ones */
        if (t->step < t->total && sm_dist_any(sm_hooks_stop_requested(t->hooks))) {
            t->stopped = 1;
            rc = write_checkpoint(t, 0, st);
            return rc ? rc : write_csvs(t, st);
        }
    }
    return SM_OK;
}

/* ---- the run -------------------------------------------------------------- */

/* A file a run writes into its directory: docs/design.md §4, and the kept
 * checkpoint-<step>.bin. */
static int run_file(const char *name)
{
    static const char *const names[] = {"checkpoint.bin", "config.txt", "train.csv", "eval.csv",
                                        "track.csv",      "track_detail.csv", "summary.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return 1;
    size_t digits = 0;
    if (strncmp(name, "checkpoint-", 11) == 0) digits = strspn(name + 11, "0123456789");
    return digits > 0 && !strcmp(name + 11 + digits, ".bin");
}

/* Whether the file at path lies in directory dir itself. */
static int in_directory(const char *path, const char *dir)
{
    char parent[PATH_MAX_LEN];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else slash[slash == parent] = '\0'; /* "/x" lies in "/" */
    return sm_same_file(parent, dir);
}

/* The first checkpoint in OUT (checkpoint.bin or a kept copy; a regular
 * file) into found, or "" when there is none. */
static void find_checkpoint(const char *out, char *found, size_t n)
{
    found[0] = '\0';
    DIR *d = opendir(out);
    if (!d) return; /* not there yet; sm_make_dirs names any other problem */
    struct stat sb;
    for (const struct dirent *e; !found[0] && (e = readdir(d));)
        if (!strncmp(e->d_name, "checkpoint", 10) && run_file(e->d_name) &&
            fstatat(dirfd(d), e->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode))
            snprintf(found, n, "%.60s", e->d_name);
    closedir(d);
}

/* OUT's checkpoints belong to the run that wrote them: a fresh run there,
 * or one resumed from a checkpoint elsewhere, would replace checkpoint.bin
 * and leave another run's config.txt and CSVs beside the kept copies, or,
 * on failing, leave neither run whole.  Refused before anything is written. */
static int refuse_another_run(const trainer *t, sm_status *st)
{
    char found[64];
    find_checkpoint(t->cfg.out, found, sizeof found);
    if (!found[0]) return SM_OK;
    return sm_status_fail(st, SM_ERR_DATA, t->cfg.out,
                          "out= already holds a run with a checkpoint (%s): continue that run with resume= of its "
                          "checkpoint, or choose another out=", found);
}

/* Written once every input has been read and checked, so that a run that
 * fails to start leaves an existing run directory as it was.  A run that
 * continues from a checkpoint in OUT keeps OUT's files (it rewrites them
 * from the checkpoint's rows); any other is refused when OUT holds a
 * checkpoint and otherwise removes what a run there left before its first
 * one, so that no old file stays beside the new ones.  The temporaries a
 * killed run left go either way, and so does summary.json, written when the
 * run ends. */
static int write_config(const trainer *t, sm_status *st)
{
    const int continues = t->cfg.resume[0] && in_directory(t->cfg.resume, t->cfg.out);
    char path[PATH_MAX_LEN];
    out_path(path, t, "config.txt");
    int rc = continues ? SM_OK : refuse_another_run(t, st);
    if (!rc) rc = sm_make_dirs(t->cfg.out, sizeof "checkpoint-18446744073709551615.bin" - 1, st); /* its longest name */
    if (rc) return rc;
    sm_atomic_remove_stale(t->cfg.out, run_file, !continues);
    /* a finished run resumed for more steps is not finished until it ends */
    char summary[PATH_MAX_LEN];
    out_path(summary, t, "summary.json");
    if (continues) unlink(summary);
    return sm_config_write(path, &t->cfg, st);
}

static int trainer_open(trainer *t, const sm_config *cfg, sm_status *st)
{
    t->cfg = *cfg;
    t->batch = (size_t)cfg->batch;
    t->local = t->batch / (size_t)sm_dist_size();
    t->offset = t->local * (size_t)sm_dist_rank();
    t->writer = sm_dist_rank() == 0;
    t->last_loss = NAN;
    t->knn_acc = NAN;
    int rc = sm_train_check(cfg, st);
    if (rc) return rc;
    const int local = sm_dist_local_size(), threads = sm_threads_share(cfg->threads, local);
    sm_threads_set(threads);
    if (!t->cfg.out[0]) default_out(t->cfg.out);
    sm_dist_broadcast(t->cfg.out, sizeof t->cfg.out); /* the clocks of the processes may read other seconds */
    out_path(t->ckpt_path, t, "checkpoint.bin");
    if ((rc = load_data(t, st))) return rc;
    if (cfg->resume[0] && (rc = read_resume(t, st))) return rc;
    if ((rc = build_model(t, st))) return rc;
    if (t->writer && cfg->track_every > 0 && !(t->tracker = sm_tracker_alloc(&t->cfg, &t->train, t->m->z_dim, st)))
        return st ? st->code : SM_ERR_DATA;
    sm_augment_from_config(&t->aug, &t->cfg);
    plan_steps(t);
    if (t->resume.c && (rc = resume_from(t, st))) return rc;
    t->t_start = sm_timer_now();
    if (!t->writer) return SM_OK;
    if ((rc = write_config(t, st))) return rc;
    /* the warnings once the run has started: none before an error that stops it */
    if (t->resume_changes[0])
        sm_hooks_warn(t->hooks, "resumed with values other than the checkpoint's: %s; the run goes on with the new "
                      "values, which config.txt records in place of the old", t->resume_changes);
    if (threads * local > sm_threads_available()) /* allowed (tests run 4 threads on 2 cores), rarely meant */
        sm_hooks_warn(t->hooks, "threads=%d in %d process(es) is more than this machine's %d cores: each step is "
                      "slower, and each thread adds its own scratch memory", threads, local, sm_threads_available());
    return SM_OK;
}

static void trainer_close(trainer *t)
{
    sm_state_close(&t->resume);
    sm_mem_free(t->x1);
    sm_mem_free(t->x2);
    sm_mem_free(t->z_all);
    sm_tracker_free(t->tracker);
    sm_model_free(t->m);
    sm_predictor_free(t->pred);
    sm_mem_free(t->pz);
    sm_sampler_free(&t->sampler);
    sm_dataset_free(&t->train);
    sm_dataset_free(&t->test);
    sm_mem_free(t->train_rows.s);
    sm_mem_free(t->eval_rows.s);
    sm_mem_free(t->track_rows.s);
    sm_mem_free(t->detail_rows.s);
    sm_mem_free(t);
}

int sm_train_run(const sm_config *cfg, const sm_hooks *hooks, sm_train_result *res, sm_status *st)
{
    trainer *t = sm_mem_alloc(1, sizeof *t, st); /* two configurations: too big for the stack */
    if (!t) return st ? st->code : SM_ERR_DATA;
    t->hooks = hooks;
    int rc = trainer_open(t, cfg, st);
    if (!rc) rc = train_loop(t, st);
    if (!rc && t->local_steps == 0) { /* resumed at the total: the outputs still describe the run */
        rc = write_checkpoint(t, t->cfg.checkpoint_keep, st);
        if (!rc) rc = write_csvs(t, st);
    }
    if (!rc && !t->stopped) rc = write_summary(t, st);
    if (!rc) fill_result(t, res);
    trainer_close(t);
    return rc;
}
