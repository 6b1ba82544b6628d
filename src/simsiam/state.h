/* A training run's checkpoint (docs/design.md §4 checkpoint.bin): the one
 * module that knows its sections — their names, what each holds, the order
 * they are written in — on top of the generic container of
 * src/io/checkpoint.h.  Everything else (train, refit, the probes, the
 * commands that take --checkpoint) names a section only through
 * sm_state_section, and reads or writes it only through the calls below.
 *
 *   config                   text: the configuration (sm_config_fprint)
 *   step                     u64 × 5: steps done, whole epochs done, wall
 *                            microseconds so far, the IEEE-754 bits of the
 *                            last loss and of the last kNN accuracy
 *   params, momentum, bn_stats   f32: the model's flat arrays
 *   predictor                u64 × 2: pred_mode, updates   } closed-form
 *   predictor_moments        u64: the bits of Ĉ, then X̂    } modes only
 *   train_csv, eval_csv, track_csv, track_detail_csv
 *                            text: the CSV rows so far, without header
 *   track_csv_header, track_detail_csv_header
 *                            text: the headers the tracking rows were
 *                            written under
 *
 * A checkpoint without the predictor sections was written with
 * pred_mode=sgd; one without the tracking sections by an older version
 * (its tracking rows, if any, are refused: their columns are unknown).
 *
 *   sm_state_file f;
 *   if (sm_state_open(&f, path, st)) return st->code;
 *   rc = sm_state_read_step(&f, &step, st);
 *   sm_state_close(&f); */
#ifndef SM_SIMSIAM_STATE_H
#define SM_SIMSIAM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "simsiam/model.h"
#include "simsiam/predictor.h"

/* The sections, in the order a checkpoint holds them. */
typedef enum {
    SM_STATE_CONFIG,
    SM_STATE_STEP,
    SM_STATE_PARAMS,
    SM_STATE_MOMENTUM,
    SM_STATE_BN_STATS,
    SM_STATE_PREDICTOR,
    SM_STATE_PREDICTOR_MOMENTS,
    SM_STATE_TRAIN_CSV,
    SM_STATE_EVAL_CSV,
    SM_STATE_TRACK_CSV,
    SM_STATE_TRACK_DETAIL_CSV,
    SM_STATE_TRACK_CSV_HEADER,
    SM_STATE_TRACK_DETAIL_CSV_HEADER,
    SM_STATE_IMAGE, /* c, h, w of the images the model was trained on; checkpoints before it lack it */
    SM_STATE_NSECTIONS
} sm_state_section;

enum { SM_STATE_STEP_FIELDS = 5 };

/* The section's name in the file, e.g. "params". */
const char *sm_state_name(sm_state_section s);

/* The step section. */
typedef struct {
    uint64_t steps, epochs;
    double seconds;   /* wall time of every invocation so far (stored in µs) */
    double last_loss; /* NaN before the first step */
    double knn_acc;   /* NaN when the monitor has not run */
} sm_state_step;

/* The CSV rows so far, without header ("" for none). */
typedef struct {
    const char *train, *eval, *track, *detail;
} sm_state_rows;

/* What a trainer saves. */
typedef struct {
    const sm_config *cfg;
    sm_state_step step;
    const sm_model *m;
    const sm_predictor *pred; /* closed-form modes; NULL for sgd */
    sm_state_rows rows;
} sm_state;

/* Write s to path (and, when copy is not NULL, the same bytes to copy,
 * first), each atomically (src/io/atomic.h). */
int sm_state_save(const sm_state *s, const char *path, const char *copy, sm_status *st);

/* ---- reading ----------------------------------------------------------------- */

/* A checkpoint read and verified whole (sm_ckpt_read); path is borrowed
 * and names the file in every message. */
typedef struct {
    sm_ckpt *c;
    const char *path;
} sm_state_file;

/* Failures are SM_ERR_DATA with one line naming the file: missing,
 * corrupt, a section missing or of another size. */
int sm_state_open(sm_state_file *f, const char *path, sm_status *st);
void sm_state_close(sm_state_file *f);

/* *cfg = the defaults of a saved configuration (sm_config_saved_defaults,
 * io/config.h: a key the checkpoint predates keeps its old behaviour), then
 * the config section (a bad line in it is SM_ERR_DATA: the file is
 * corrupt), then the "key=value" overrides (a bad one is SM_ERR_USAGE,
 * named "command line"), then sm_config_finish (what it refuses, a dataset
 * without its data_dir, is the file's: SM_ERR_DATA). */
int sm_state_read_config(const sm_state_file *f, const char *const *overrides, size_t n_overrides, sm_config *cfg,
                         sm_status *st);

int sm_state_read_step(const sm_state_file *f, sm_state_step *step, sm_status *st);

/* Is the checkpoint's network cfg's (arch, width, stem_stride, proj_hidden,
 * z_dim, pred_hidden from its config section: SM_ERR_DATA "checkpoint of
 * another network: stem_stride=1 there, 2 here (PATH)", as stem strides
 * have equal counts), were its images of data's shape (from its image
 * section, when it has one: a ResNet's sizes do not tell; "checkpoint of a
 * model trained on 1 x 28 x 28 images; the data set's images are 1 x 14 x
 * 14 (PATH)"), and do the params and bn_stats sections hold exactly the
 * counts of the network cfg builds on data's images?  The counts come from
 * sm_model_counts, so nothing of the network's size is allocated: a
 * config section edited to a huge network (its CRC still valid) is
 * refused before anything is built.  SM_ERR_DATA "checkpoint section
 * 'params' has N values, expected M (PATH)" otherwise. */
int sm_state_check_model(const sm_state_file *f, const sm_config *cfg, const sm_dataset *data, sm_status *st);

/* The checks of resume=, on the checkpoint's configuration read once: the
 * keys that decide what a step and an epoch are (dataset, batch, holdout)
 * must be the checkpoint's, or the run's CSVs would mix two runs (epochs
 * that go back, kNN accuracies of two data sets): SM_ERR_DATA "checkpoint
 * of another run: batch=16 there, 8 here (PATH)"; then
 * sm_state_check_model's checks.  The other keys a resume may change (lr,
 * seed, tracking, ...) make config.txt describe only the run's last part:
 * those whose values differ from the checkpoint's, threads, out, resume
 * and data_dir aside (and steps and epochs under schedule=const: a longer
 * run of the same kind), go to changes as "lr=0.05 (was 0.1), seed=9 (was
 * 0)" ("" for none; cut with "…" when they do not fit n bytes). */
int sm_state_check_resume(const sm_state_file *f, const sm_config *cfg, const sm_dataset *data, char *changes,
                          size_t n, sm_status *st);

/* Copy params and bn_stats (and, with momentum set, the momentum) into m;
 * a NaN or Inf in them is SM_ERR_DATA naming the file, section and index. */
int sm_state_load_model(const sm_state_file *f, sm_model *m, int momentum, sm_status *st);

/* SM_ERR_DATA "checkpoint was written with pred_mode=A, this run has
 * pred_mode=B (PATH)" unless the file was written with `mode`; for the
 * closed-form modes also restores p (allocated for z_dim; W recomputed from
 * the moments, so a resumed run continues bit for bit).  p is NULL exactly
 * when mode is sgd.  Another z_dim or non-finite moments are SM_ERR_DATA. */
int sm_state_load_predictor(const sm_state_file *f, sm_pred_mode mode, sm_predictor *p, sm_status *st);

/* The rows; the tracking ones "" when the file has none.  Tracking rows
 * written under other columns than this build's (or under unrecorded ones)
 * are SM_ERR_DATA: resuming would write them under the wrong header.
 * Pointers stay valid until sm_state_close. */
int sm_state_read_rows(const sm_state_file *f, sm_state_rows *rows, sm_status *st);

/* ---- restoring a model for inference ----------------------------------------- */

/* *data = the split ("train" or "test"; else SM_ERR_USAGE) as cfg says,
 * *m = the checkpoint's model with activations for max_batch images per
 * view (free with sm_model_free; no momentum).  With batch_key, max_batch
 * is a batch to be drawn from the split: larger than the split is
 * SM_ERR_USAGE naming batch_key, before the model is allocated.  On failure
 * *m = NULL and *data is zeroed. */
int sm_state_restore_model(const sm_state_file *f, const sm_config *cfg, const char *split, size_t max_batch,
                           const char *batch_key, sm_dataset *data, sm_model **m, sm_status *st);

/* What an offline tracking event needs (track, refit): the model on the
 * train split as sm_state_restore_model with max_batch and batch_key, the step, and
 * *pred = the closed-form predictor for cfg->pred_mode (NULL for sgd; free
 * with sm_predictor_free), checked as sm_state_load_predictor does.  On
 * failure everything is freed and zeroed. */
int sm_state_restore_tracking(const sm_state_file *f, const sm_config *cfg, size_t max_batch, const char *batch_key,
                              sm_dataset *train, sm_model **m, sm_predictor **pred, uint64_t *step, sm_status *st);

/* All of it from path: *cfg (no overrides), *data and *m at
 * SM_STATE_BATCH images. */
enum { SM_STATE_BATCH = 128 };
int sm_state_restore(const char *path, const char *split, sm_config *cfg, sm_dataset *data, sm_model **m,
                     sm_status *st);

#endif
