/* The SimSiam training loop (docs/design.md §2–§4): a resolved configuration in,
 * a run directory out.
 *
 *   sm_train_result r;
 *   if (sm_train_run(&cfg, NULL, &r, st)) return st->code;   // hooks: NULL for none
 *   char line[SM_TRAIN_JSON_MAX];
 *   sm_train_summary_json(&r, line, sizeof line);   // the CLI's last stdout line
 *
 * Steps.  steps_per_epoch = n_train / batch (the incomplete last batch is
 * dropped); the run has `steps` optimizer steps when steps > 0, else
 * epochs × steps_per_epoch.  Step s (0-based) uses batch s mod
 * steps_per_epoch of the sampler's permutation for epoch s / steps_per_epoch
 * (src/data/sampler.h) and s as the augmentation step (src/data/augment.h),
 * so the batches depend on (seed, s) only.  One step, in this order:
 *   1. views x1, x2 of the batch; zero grads;
 *   2. L = sm_model_step_loss (both views forward and backward);
 *      z_std from view 1's z of this forward (below);
 *   3. SGD on both groups: encoder + projector at lr_t = schedule(base, s,
 *      total) with base = lr × batch / 256, the predictor at
 *      pred_lr_mult × (pred_fixed_lr ? base : lr_t); momentum and wd from
 *      the configuration for both;
 *   4. pred_steps − 1 times: zero grads, sm_model_predictor_step_loss on the
 *      same batch with z1, z2 of step 2 held fixed, SGD on the predictor
 *      group alone (same lr, momentum, wd as in 3).
 * Steps 2–4 are sm_model_train_step (src/simsiam/model.h).
 * The schedule runs per step (t = s, T = total steps).
 *
 * pred_mode=optimal and pred_mode=directpred replace the network's
 * predictor h by a closed-form linear p = W z (src/simsiam/predictor.h:
 * W from running moments of z1, z2, refit every step).  Steps 2 and 3 become
 *   2. both views forward in training mode; the moments take this batch's
 *      z1, z2 and W is refit BEFORE it is used, so W has seen the batch it
 *      predicts (DirectPred's reference code refits after the SGD step, one
 *      batch later; refitting first needs no initial W);
 *      p_v = W z_v,  L = ½ D(p1, sg(z2)) + ½ D(p2, sg(z1)), and its gradient
 *      dp_v → dz_v = dp_v W (W held constant) → the network, one view at a
 *      time; z_std as above;
 *   3. SGD on encoder + projector only.
 * h's parameters stay as initialised (the checkpoint still holds them; its
 * forward still runs inside the model's forward, its output unused), the
 * pred_lr column of train.csv is 0, pred_lr_mult and pred_fixed_lr have no
 * effect, and pred_steps > 1 is SM_ERR_USAGE (there is no predictor to
 * train).
 *
 * A non-finite loss (step 2 or 4; with a closed-form W also a non-finite z)
 * stops the run before its SGD update: SM_ERR_DATA "loss is nan (or inf) at
 * step N; last good checkpoint kept (PATH)", the checkpoint is not
 * overwritten; the CSVs are written up to the last finite step.
 * The `threads` key goes to sm_threads_set.
 *
 * z_std: sm_track_z_std of view 1's z (src/simsiam/track.h): ≈ 1 for
 * well-spread embeddings, 0 for collapse (SimSiam paper, Fig. 2).
 *
 * Outputs in OUT (cfg->out, or runs/<YYYYmmdd-HHMMSS> when empty; created
 * with its parents), every file written atomically (src/io/atomic.h):
 *   config.txt      the configuration (with out filled in), at the start;
 *   train.csv       step,epoch,lr,pred_lr,loss,z_std,seconds — step = steps
 *                   done, epoch = step / steps_per_epoch (a real number),
 *                   seconds = wall time since the run started (resumes
 *                   included).  A row every log_every steps,
 *                   log_every = max(1, min(steps_per_epoch, total) / 50)
 *                   (every step for short runs, ~50 rows per epoch for long
 *                   ones), and for the last step;
 *   eval.csv        epoch,step,knn_acc (src/simsiam/knn_monitor.h) after every
 *                   knn_every-th epoch and after the last step (so every run
 *                   with the monitor on reports an accuracy, even one shorter
 *                   than an epoch); epoch as in train.csv; 0 = off;
 *   track.csv, track_detail.csv  with track_every > 0: a tracking event
 *                   (src/simsiam/track.h) before the first step, after every
 *                   track_every-th step and after the last; an estimator
 *                   that cannot run leaves nan and a warning on stderr;
 *   checkpoint.bin  after every checkpoint_every-th epoch and after the last
 *                   step (0: only after the last step);
 *   summary.json    the sm_train_summary_json line, at the end.
 * The rows are kept in memory and the CSVs rewritten whenever a checkpoint
 * is written (and on a NaN stop), so a CSV always matches a checkpoint.
 * An OUT holding a checkpoint (checkpoint.bin or a kept copy) belongs to
 * its run: only a resume from a checkpoint in OUT may write there (anything
 * else fails, SM_ERR_DATA, before a file is touched); a run in an OUT
 * without one removes the files above that are there first.
 *
 * Checkpoints: src/simsiam/state.h writes and reads them (the sections and
 * their layout are its own).
 * The sampler and the augmentations are functions of (seed, epoch) and
 * (seed, step, index, view), so no RNG state is needed: resume=PATH loads
 * the arrays (a count mismatch, i.e. another architecture, is SM_ERR_DATA,
 * found before the model is built: sm_state_check_model),
 * and continues to the configured total, bit for bit as if never stopped at
 * a fixed thread count.  A checkpoint written with another pred_mode is
 * SM_ERR_DATA "checkpoint was written with pred_mode=A, this run has
 * pred_mode=B (PATH)".  A checkpoint past the configured total is
 * SM_ERR_USAGE.
 *
 * Progress goes to hooks->progress after every step (the CLI draws it). */
#ifndef SM_SIMSIAM_TRAIN_H
#define SM_SIMSIAM_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/hooks.h"
#include "core/status.h"
#include "io/config.h"

enum { SM_TRAIN_JSON_MAX = 2 * SM_CONFIG_TEXT_MAX + 256 };

typedef struct {
    uint64_t steps;      /* optimizer steps done, resumed ones included */
    uint64_t steps_run;  /* of them, the steps this call ran (the rest came from resume) */
    double epochs;       /* steps / steps_per_epoch */
    double images_per_s; /* source images (two views each) per second over this
                            invocation's steps after its first 3 (all of its
                            steps if it ran 3 or fewer; 0 if none) */
    double final_loss;   /* loss of the last step (from the checkpoint if this call ran none) */
    double knn_acc;      /* last kNN monitor accuracy, NaN when off */
    uint64_t total;      /* the configured steps */
    int stopped;         /* hooks->stop ended the run before total (no summary.json) */
    char out[SM_CONFIG_TEXT_MAX];
    char checkpoint[SM_CONFIG_TEXT_MAX + 32]; /* OUT/checkpoint.bin: what resume= takes */
} sm_train_result;

/* Train as configured (cfg as sm_config_load leaves it); fills *res on
 * success.  Never exits, never prints; failures are SM_ERR_DATA (data,
 * files, NaN, memory) or SM_ERR_USAGE (impossible configuration, e.g.
 * batch > n_train).  hooks (may be NULL, core/hooks.h): progress after every
 * step, tracking warnings, and the stop flag: when it is set, the step in
 * progress and its logging, monitor and tracking finish, the checkpoint and
 * CSVs are written as at a checkpoint (but no checkpoint-<step>.bin copy
 * under checkpoint_keep = 1), no summary.json, and the call returns
 * SM_OK with res->stopped = 1; resume=res->checkpoint continues bit for bit,
 * with every CSV row once. */
int sm_train_run(const sm_config *cfg, const sm_hooks *hooks, sm_train_result *res, sm_status *st);
/* The checks sm_train_run makes first, before it reads or writes anything:
 * keys that exclude each other, and the batch's split into this run's
 * processes (src/dist/dist.h).  The same answer on every process. */
int sm_train_check(const sm_config *cfg, sm_status *st);

/* {"steps":…,"epochs":…,"images_per_s":…,"final_loss":…,"knn_acc":…,"out":"DIR"}
 * (non-finite numbers as null, out JSON-escaped) into buf (n >=
 * SM_TRAIN_JSON_MAX always suffices); returns the length. */
size_t sm_train_summary_json(const sm_train_result *r, char *buf, size_t n);

#endif
