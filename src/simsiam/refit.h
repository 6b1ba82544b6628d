/* The predictor alone, retrained on a frozen encoder (`simsiam-mi refit`):
 * the note's claim in its clean form.  At a fixed encoder, E[NLL_Q(h_k)]
 * should fall with the predictor's steps k toward min_h E[NLL_Q(h)], and its
 * distance to Ĥ(z2|z1) is then the family's share (docs/design.md §1).
 *
 * From checkpoint `path` and cfg (the checkpoint's configuration with the
 * caller's overrides, sm_state_read_config in src/simsiam/state.h):
 *   - encoder and projector keep the checkpoint's parameters and BatchNorm
 *     statistics and never change; their z are computed in inference mode,
 *     as the tracker computes them;
 *   - the predictor starts from the checkpoint (refit_reinit = 0; its
 *     momentum buffer starts at 0) or from a fresh initialisation drawn from
 *     the seed (refit_reinit = 1); pred_mode optimal/directpred start from
 *     the checkpoint's moments or from none;
 *   - step r (0-based) takes batch r mod (n_train / refit_batch) of a seeded
 *     permutation of the training split (epoch r / that), two fresh views per
 *     image (augmentation and sampler streams apart from training's), and
 *     runs one SGD step on the predictor alone with the checkpoint's loss,
 *     momentum and weight decay at the constant rate refit_lr
 *     (sm_model_predictor_refit_loss: the predictor's BatchNorm in training
 *     mode); the closed-form modes fold the batch's z1, z2 into the moments
 *     instead;
 *   - before step 0 and after steps 1, 2, 4, 8, … and refit_steps, a tracking
 *     event (src/simsiam/track.h) on the fixed probe set and FIXED views
 *     (the event is keyed by the checkpoint's step, so only the predictor
 *     changes between rows; the k-NN columns repeat).
 * Output, in cfg->out (created): refit.csv (refit_step, then the columns of
 * track.csv and track_detail.csv once each; rewritten atomically after each
 * event) and refit_config.txt (the resolved configuration).  An out that
 * already holds a refit.csv is refused before anything is written: a refit
 * never replaces another's results (a sweep by hand into the default out
 * would keep only its last point).  Deterministic given the checkpoint, the
 * configuration and a fixed thread count.
 * Failures: SM_ERR_DATA (files, data, a non-finite loss, an occupied out),
 * SM_ERR_USAGE (refit_batch larger than the training split, tracking sizes). */
#ifndef SM_SIMSIAM_REFIT_H
#define SM_SIMSIAM_REFIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/hooks.h"
#include "core/status.h"
#include "io/config.h"

typedef struct {
    uint64_t checkpoint_step; /* the encoder's training step */
    uint64_t steps;           /* predictor steps run */
    size_t events;            /* rows of refit.csv */
} sm_refit_result;

/* Is r one of the tracked refit steps (0, powers of two, total)? */
int sm_refit_tracked(uint64_t r, uint64_t total);

/* hooks (may be NULL, core/hooks.h): progress after each tracking event
 * (loss = that event's E[NLL_full]) and tracking warnings; a refit is
 * redone rather than resumed, so hooks->stop is not used. */
int sm_refit_run(const char *path, const sm_config *cfg, const sm_hooks *hooks, sm_refit_result *res,
                 sm_status *st);

#endif
