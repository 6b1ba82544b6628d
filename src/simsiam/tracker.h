/* Tracking events on a model during training and refit: the probe set, its
 * fresh views each event, the embedding, then the columns of one row from
 * simsiam/track.h (docs/design.md §1.8). */
#ifndef SM_SIMSIAM_TRACKER_H
#define SM_SIMSIAM_TRACKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "io/config.h"
#include "simsiam/model.h"
#include "simsiam/predictor.h"
#include "simsiam/track.h"

typedef struct sm_tracker sm_tracker;

/* A tracker for cfg (track_samples, track_views, track_images, track_mix,
 * track_resamples, seed, aug)
 * on the training split ds: the probe set (track_samples distinct images
 * drawn once from the seed; the first track_images of them also serve
 * H(z2|x)) and the buffers.  SM_ERR_USAGE if track_samples > ds->n,
 * track_images > track_samples, track_views <= SM_TRACK_K or z_dim < 2;
 * SM_ERR_DATA if memory runs out. */
sm_tracker *sm_tracker_alloc(const sm_config *cfg, const sm_dataset *ds, size_t z_dim, sm_status *st);
void sm_tracker_free(sm_tracker *t);

/* One event at `step`: fresh views of the probe set (augmentation streams
 * keyed by the step and separate from training's), embedded by m in
 * inference mode through view 0's activations (call it between steps), then
 * sm_track_event.  p = h(z) comes from pred (pred_mode optimal, directpred)
 * or, when pred is NULL, from the model's own predictor.  Deterministic
 * given (seed, step, model, pred). */
int sm_tracker_event(sm_tracker *t, sm_model *m, const sm_predictor *pred, uint64_t step, sm_track_row *row,
                     sm_status *st);

#endif
