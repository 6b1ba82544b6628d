/* Training configuration (docs/design.md §3): key=value text in, a typed struct out.
 *
 *   sm_config cfg;
 *   if (sm_config_load(&cfg, file_or_NULL, n, overrides, st)) return st->code;
 *   ... cfg.batch, cfg.lr, cfg.loss == SM_LOSS_COSINE ...
 *   sm_config_write("OUT/config.txt", &cfg, st);   // reads back to the same struct
 *
 * Input: lines "key = value".  Whitespace around key and value is trimmed;
 * blank lines are skipped; '#' starts a comment at the start of a line or
 * after whitespace (so "runs/exp#3" is a value, "256  # big" is 256).  A key
 * may appear more than once: later wins, and command-line overrides come
 * after the file, in order.  Errors:
 *   unknown key          SM_ERR_USAGE "unknown key 'bacth' (did you mean 'batch'?) (config.txt:3)"
 *   bad value            SM_ERR_USAGE "bad value 'x' for batch: expected an integer in [2, 1048576] (command line)"
 *                        (not a number, trailing junk, out of range, NaN/Inf, not an allowed word)
 *   line without '='     SM_ERR_USAGE "expected key=value, got 'foo' (config.txt:5)"
 *   unreadable file      SM_ERR_DATA  "cannot open config file: <strerror> (path)"
 *
 * Keys, defaults [..] and accepted values (sm_config_print_keys prints the
 * same list from the table in config.c, which is the single definition):
 *   dataset          fashion-mnist|mnist|cifar10|synthetic|random [fashion-mnist]
 *   data_dir         path [empty: /usr/share/datasets/fashion-mnist for fashion-mnist;
 *                    required for mnist and cifar10; unused by synthetic and random]
 *   arch             resnet|mlp [resnet]
 *   width            1..4096 [32]          stem_stride   1..2 [2]
 *   proj_hidden      1..65536 [512]
 *   z_dim            1..65536 [64]         pred_hidden   1..65536 [32]
 *   batch            2..1048576 [256]      (batch norm needs two samples)
 *   epochs           1..1000000 [60]       steps         >= 0 [0 = use epochs]
 *   threads          0..4096 [0 = all cores]
 *   seed             >= 0 [0]
 *   lr               > 0 [0.1]             momentum      [0, 1) [0.9]
 *   wd               >= 0 [5e-4]           schedule      cosine|const [cosine]
 *   loss             cosine|l2|gauss [cosine]
 *   pred_lr_mult     >= 0 [1]              pred_fixed_lr 0..1 [1]
 *   pred_steps       1..1000 [1]           pred_mode     sgd|optimal|directpred [sgd]
 *   aug              default|none [default]
 *   crop_min         (0, 1] [0.2]         jitter        [0, 1) [0.8]
 *   translate        0..16 pixels [0 = off]
 *   blur             [0, 1] [0.5]          erase         [0, 1] [0 = off]
 *   gamma            [0, 1] [0.5]
 *   solarize         [0, 1] [0.2]
 *   holdout          >= 0 [0]             (train on the first n - holdout
 *                    training images, evaluate on the last holdout instead
 *                    of the test split)
 *   knn_every        >= 0 epochs [1, 0 = off]
 *   track_every      >= 0 steps [0 = off]
 *   track_samples    2..16777216 [1024]    track_views   2..65536 [64]
 *   track_images     1..65536 [32]
 *   track_mix        0..64 [4]            (nll_mix components; 0 = off)
 *   track_resamples  2..10000 [20]        (subsamples per interval)
 *   checkpoint_every >= 0 epochs [1, 0 = only after the last step]
 *   checkpoint_keep  0..1 [0]             (1: also OUT/checkpoint-<step>.bin)
 *   refit_steps      0..10000000 [512]    refit_lr      > 0 [0.05]
 *   refit_reinit     0..1 [1]             refit_batch   2..1048576 [256]
 *                    (simsiam-mi refit, src/simsiam/refit.h)
 *   resume           path [empty = start fresh]
 *   out              path [empty = runs/<timestamp>, chosen at run time]
 * Reals must be finite.  Paths may not contain control characters nor a '#'
 * after whitespace (both would not survive sm_config_write), and are at most
 * SM_CONFIG_TEXT_MAX - 1 bytes. */
#ifndef SM_IO_CONFIG_H
#define SM_IO_CONFIG_H

#include <stdio.h>
#include "core/status.h"
#include "nn/loss.h"
#include "optim/schedule.h"

enum { SM_CONFIG_TEXT_MAX = 4096 };

/* Each enum's values are the indices of its words, in the order listed. */
typedef enum {
    SM_DATASET_FASHION_MNIST,
    SM_DATASET_MNIST,
    SM_DATASET_CIFAR10,
    SM_DATASET_SYNTHETIC,
    SM_DATASET_RANDOM
} sm_dataset_kind;
typedef enum { SM_ARCH_RESNET, SM_ARCH_MLP } sm_arch_kind;
/* sm_loss_kind is nn/loss.h's and sm_schedule_kind optim/schedule.h's. */
typedef enum { SM_PRED_SGD, SM_PRED_OPTIMAL, SM_PRED_DIRECTPRED } sm_pred_mode;
typedef enum { SM_AUG_DEFAULT, SM_AUG_NONE } sm_aug_kind;

/* One field per key, same names as the keys. */
typedef struct {
    sm_dataset_kind dataset;
    char data_dir[SM_CONFIG_TEXT_MAX];
    sm_arch_kind arch;
    long width, stem_stride, proj_hidden, z_dim, pred_hidden;
    long batch, epochs, steps, threads, seed;
    double lr, momentum, wd;
    sm_schedule_kind schedule;
    sm_loss_kind loss;
    double pred_lr_mult;
    long pred_fixed_lr, pred_steps;
    sm_pred_mode pred_mode;
    sm_aug_kind aug;
    double crop_min, jitter;
    long translate;
    double blur, gamma, solarize, erase;
    long holdout;
    long knn_every, track_every, track_samples, track_views, track_images;
    long track_mix, track_resamples;
    long checkpoint_every, checkpoint_keep;
    long refit_steps, refit_reinit, refit_batch;
    double refit_lr;
    char resume[SM_CONFIG_TEXT_MAX];
    char out[SM_CONFIG_TEXT_MAX];
} sm_config;

/* Every key at its default (data_dir empty until sm_config_finish). */
void sm_config_defaults(sm_config *cfg);

/* The start for reading back a configuration this program wrote (a
 * checkpoint's config section): sm_config_write writes every key, so a key
 * missing there predates it and gets the value that keeps the old behaviour
 * (stem_stride=1, jitter=0.4, solarize=0, blur=0, gamma=0) instead of
 * today's default. */
void sm_config_saved_defaults(sm_config *cfg);

/* Apply one "key=value"; where ("file:line", "command line") goes in errors. */
int sm_config_apply(sm_config *cfg, const char *assignment, const char *where, sm_status *st);

/* Apply every line of text; errors say "<name>:<line>". */
int sm_config_parse_text(sm_config *cfg, const char *text, const char *name, sm_status *st);

/* Apply every line of a file (SM_ERR_DATA if it cannot be read). */
int sm_config_read_file(sm_config *cfg, const char *path, sm_status *st);

/* After all input: fill data_dir's dataset-dependent default, or fail with
 * SM_ERR_USAGE when the data set needs a directory and none was given. */
int sm_config_finish(sm_config *cfg, sm_status *st);

/* Defaults, then the file (unless path is NULL), then the overrides
 * "key=value" in order, then sm_config_finish. */
int sm_config_load(sm_config *cfg, const char *path, int noverrides, const char *const *overrides,
                   sm_status *st);
/* The same with npaths files, applied in order (a later file wins). */
int sm_config_load_files(sm_config *cfg, int npaths, const char *const *paths, int noverrides,
                         const char *const *overrides, sm_status *st);

/* "key=value\n" for every key in table order (reals in the shortest form
 * that reads back to the same double). */
void sm_config_fprint(FILE *f, const sm_config *cfg);

/* sm_config_fprint into path, atomically (src/io/atomic.h). */
int sm_config_write(const char *path, const sm_config *cfg, sm_status *st);

/* The configuration word of a dataset ("fashion-mnist", ..., "random"). */
const char *sm_config_dataset_name(sm_dataset_kind kind);

/* The configuration word of a pred_mode ("sgd", "optimal", "directpred"). */
const char *sm_config_pred_mode_name(sm_pred_mode mode);

/* Every key with its default, accepted values and a one-line description
 * (for `simsiam-mi train --help`). */
void sm_config_print_keys(FILE *f);

#endif
