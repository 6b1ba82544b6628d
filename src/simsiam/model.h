/* The SimSiam network (docs/design.md §3): encoder f → projector → z, predictor
 * h: z → p, assembled from the src/nn layers as plain data (llm.c style).
 *
 * Architecture, width w, input C × H × W:
 *   resnet  stem conv3×3(C→w, pad 1, stride stem_stride) BN ReLU; BasicBlocks (w, stride 1),
 *           (2w, stride 2), (4w, stride 2), each conv3×3 BN ReLU conv3×3 BN
 *           (+ shortcut) ReLU, the shortcut a 1×1 conv + BN when the shape
 *           changes and the identity otherwise; global average pool → 4w
 *           features.
 *   mlp     flatten → Linear(C·H·W → 16w, no bias) BN ReLU → Linear(16w → 16w,
 *           no bias) BN ReLU → 16w features.  16w is our choice (the config has
 *           no key for it): 256 at the default width, four times the resnet's
 *           4w features, and cheap next to the projector.
 *   projector  Linear(F→P) BN ReLU, Linear(P→P) BN ReLU, Linear(P→z_dim) BN
 *              without affine (all Linear without bias; P = proj_hidden).
 *   predictor  Linear(z_dim→H, no bias) BN ReLU, Linear(H→z_dim, bias)
 *              (H = pred_hidden).
 *
 * Memory:
 *   params, grads, momentum  one flat float array each, same layout.  The
 *       encoder + projector occupy [0, n_backbone), the predictor
 *       [n_backbone, n_params): the two SGD groups (sm_model_sgd_groups).
 *   stats   BatchNorm running means and variances (not trained; checkpoints
 *           save them with the parameters).
 *   act[v]  the activations of view v = 0, 1 for up to max_batch images.
 *       The two views run as separate batches, as in the official SimSiam,
 *       so BatchNorm's batch statistics are per view; both views' activations
 *       are kept because both backward passes need them.
 *   act_grad[lane]  gradients of the activations.  The two views' passes
 *       of a training step run side by side on two lanes, each with half the
 *       threads, when there are two threads or more and no SyncBN (with
 *       several processes the views take turns), else one after the other
 *       on lane 0; view 1 adds
 *       its parameter gradients into view_grads, added into grads after, and
 *       its BNs' running moves wait until view 0's are done, so the results
 *       are the same bits either way.  Backward runs the ops in
 *       reverse, so a gradient's first writer is its tensor's LAST consumer;
 *       when that is a BatchNorm, ReLU, residual add or convolution, it sets
 *       the gradient, otherwise (pooling, linear: they add) the gradient is
 *       zeroed just before that op.  A gradient is live from its first
 *       writer down to its producer only, so gradients whose lives do not
 *       overlap share storage (planned once, first fit, at build time).
 *   At max_batch 256 on 28 × 28 images the default resnet holds ~150 MB of
 *   activations (both views) and ~20 MB of their gradients per lane
 *   (parameters 2.7 MB); the small configuration's (width 16, stride-1 stem)
 *   ~280 MB and ~40 MB.
 * Gradients follow the src/nn convention: every backward ADDS into grads; the
 * caller zeroes them (sm_model_zero_grads) once per optimiser step.
 *
 * Threads: convolutions run on sm_threads_get() threads (capped at the count
 * the scratch was sized for at allocation), or a lane's share of them; the
 * other layers use the ambient OpenMP count.  Every layer is bitwise
 * reproducible across thread counts, hence so is the model. */
#ifndef SM_SIMSIAM_MODEL_H
#define SM_SIMSIAM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"
#include "io/config.h"
#include "nn/conv2d.h"
#include "nn/loss.h"
#include "optim/sgd.h"

/* An offset that is absent (no bias, no affine, no gradient). */
#define SM_MODEL_NONE ((size_t)-1)

enum { SM_MODEL_MAX_OPS = 64, SM_MODEL_MAX_TENSORS = 64 };

typedef enum { SM_OP_CONV, SM_OP_BN, SM_OP_ADD, SM_OP_POOL, SM_OP_LINEAR } sm_model_op_kind;

/* One activation: `size` floats per image.  Its values live at
 * act[v] + value (max_batch × size floats, image-major) and may share that
 * storage with the tensor an in-place op read (the residual add), because
 * no backward needs the overwritten values.  A mapped tensor (a BN's output
 * read only by convolutions and residual adds) is never stored: those ops
 * read the BN's input through the BN's map (nn/channel_map.h), the same
 * bits, in forward and backward alike; an add onto a mapped tensor gets
 * storage of its own.  A tensor's gradient is at
 * act_grad[lane] + grad (SM_MODEL_NONE for the input images), in storage
 * shared with gradients that are never live at the same time (and a BN's
 * input gradient, where the BN has a gradient map (gmap below), in its
 * output gradient's: that BN's backward runs in place). */
typedef struct {
    size_t size;
    size_t value, grad;
    int alias;      /* the tensor an in-place op stores it over, -1 if none (or that one is mapped) */
    int mapped;     /* never stored, read through its BN's map (above); value is SM_MODEL_NONE */
    int producer;   /* index of the op that writes it, -1 for the input */
    int grad_set;   /* the first backward to reach its gradient sets it (=), so
                       it is not zeroed before a backward pass */
} sm_model_tensor;

/* One layer.  Tensor ids index sm_model.tensors; parameter offsets index
 * params/grads (w: conv or linear weight, BN γ; b: linear bias, BN β);
 * stats: BN running mean (c floats) followed by the running variance;
 * save: the BN batch mean and 1/σ (c floats each) in save[v]; map: for a
 * BN whose output is mapped, its map (mean, scale, shift: 3c floats) in
 * save[v], else SM_MODEL_NONE; gmap: for a BN whose input is a convolution's
 * output read by it alone, the map of its input gradient (6c floats,
 * nn/channel_map.h sm_grad_map) in save[v], which that convolution's
 * backward reads its dy through where it can instead of the BN writing it,
 * else SM_MODEL_NONE; dy_bn: for that convolution, the BN's index, else -1. */
typedef struct {
    sm_model_op_kind kind;
    int in, in2, out;      /* in2: the residual add's second operand */
    sm_conv2d_shape conv;  /* SM_OP_CONV; .n is set per call */
    size_t c, hw;          /* SM_OP_BN, SM_OP_POOL, SM_OP_ADD: channels and map size */
    int relu;              /* SM_OP_BN, SM_OP_ADD: a ReLU fused in, y = max(BN(x), 0), max(a + b, 0) */
    size_t n_in, n_out;    /* SM_OP_LINEAR: features */
    size_t w, b, stats, save, map, gmap;
    int dy_bn;
    int sets_grad[2];      /* backward sets (=) the gradient of in, in2 instead of
                              adding to it: this op is that gradient's first writer */
    int zeroes_grad[2];    /* first writer that adds: zero that gradient first */
} sm_model_op;

typedef struct {
    sm_arch_kind arch;
    size_t in_c, in_h, in_w; /* input image shape */
    size_t features, z_dim;  /* encoder output (4w or 16w) and z, p width */
    size_t max_batch;

    size_t n_params, n_backbone;
    float *params, *grads, *momentum;
    size_t n_stats;
    float *stats;

    int n_ops, n_tensors;
    sm_model_op ops[SM_MODEL_MAX_OPS];
    sm_model_tensor tensors[SM_MODEL_MAX_TENSORS];
    int t_input, t_f, t_z, t_p; /* tensor ids of x, f, z, p */
    int op_pred;                /* first predictor op; ops before it are the backbone */

    float *act[2], *save[2];
    float *act_grad[2], *scratch[2]; /* lanes: [1] only with two cores or more (NULL otherwise) */
    size_t act_floats, act_grad_floats, save_floats;
    int scratch_threads;
    float *view_grads; /* view 1's parameter gradients in a two-view pass, added into grads after */
    double *bn_defer;  /* view 1's BN batch statistics (at each BN's stats offset), moved in after view 0's */

    size_t fwd_n[2]; /* batch of each view's last forward if it was a training one, else 0 */
    double *sync;    /* data-parallel (sm_model_sync): SyncBN's scratch; NULL in a single process */
} sm_model;

typedef enum { SM_MODEL_EVAL, SM_MODEL_TRAIN } sm_model_mode;

/* One view's outputs, pointing into the model's activations: valid until the
 * next forward of that view (or sm_model_embed, which uses view 0). */
typedef struct {
    const float *f, *z, *p; /* n × features, n × z_dim, n × z_dim */
} sm_model_outputs;

/* The network for cfg (arch, width, proj_hidden, z_dim, pred_hidden) on
 * c × h × w images, with activations for up to max_batch images per view.
 * Parameters are zero until sm_model_init.  SM_ERR_USAGE for a dimension
 * that is 0 or too large for the layers' int shapes, SM_ERR_DATA when memory
 * runs out; NULL then. */
sm_model *sm_model_alloc(const sm_config *cfg, int c, int h, int w, size_t max_batch, sm_status *st);
void sm_model_free(sm_model *m);

/* The n_params and n_stats of the model sm_model_alloc would build for cfg
 * on c × h × w images, from the same layer plan, allocating nothing: a
 * configuration can be checked against a checkpoint's arrays before a
 * network of its size exists.  SM_ERR_USAGE as sm_model_alloc for a bad
 * dimension (then both are 0). */
int sm_model_counts(const sm_config *cfg, int c, int h, int w, size_t *n_params, size_t *n_stats, sm_status *st);

/* Data parallelism over the sm_dist processes (src/dist/dist.h, docs/design.md
 * §6), each holding the same parameters and its own equal slice of every
 * batch: from now on every training-mode BatchNorm uses the whole batch's
 * statistics (SyncBN, nn/batchnorm.h) and sm_model_train_step averages the
 * loss and the gradients over the processes before each SGD step, so each
 * step is the whole batch's.  Every process must then make the same calls.
 * SM_ERR_DATA when memory runs out. */
int sm_model_sync(sm_model *m, sm_status *st);

/* With sm_model_sync: the mean over the processes of a loss (a mean over
 * this process's slice), and of grads[first, first + count) in place; the
 * identity otherwise.  The slices are equal, so these are the whole batch's. */
double sm_model_sync_loss(const sm_model *m, double loss);
void sm_model_sync_grads(sm_model *m, size_t first, size_t count);

/* PyTorch's default initialisation from seed: conv and linear weights (and
 * the predictor's bias) Kaiming-uniform (src/nn/init.h), drawn in layer
 * order from one stream; BN γ = 1, β = 0, running mean 0, variance 1; grads
 * and momentum 0. */
void sm_model_init(sm_model *m, uint64_t seed);

/* The same initialisation for the predictor's layers alone, from a stream
 * of seed (so not the draws sm_model_init would give them); the backbone's
 * parameters and statistics are kept; the predictor's gradients and
 * momentum are zeroed. */
void sm_model_init_predictor(sm_model *m, uint64_t seed);

/* Zero every parameter gradient (once per optimiser step). */
void sm_model_zero_grads(sm_model *m);

/* The first NaN or Inf in the arrays a checkpoint saves: 1 with *array set to
 * "params", "momentum" or "bn_stats" and *index into it, 0 when all are
 * finite.  A diverged model can have a finite loss (BatchNorm's running
 * variance overflows, the inverse square root of the batch's rounds to 0,
 * and so does z), so the trainer and refit look here too. */
int sm_model_find_non_finite(const sm_model *m, const char **array, size_t *index);

/* The two SGD parameter groups: [0] encoder + projector, [1] predictor.
 * Fills offset and count only; the caller sets lr, momentum, weight_decay. */
void sm_model_sgd_groups(const sm_model *m, sm_sgd_group groups[2]);

/* Forward n images x (n × C × H × W, copied in) through view v (0 or 1).
 * SM_MODEL_TRAIN: batch statistics (n >= 2), running statistics updated, and
 * the activations are kept for sm_model_backward.  SM_MODEL_EVAL: running
 * statistics, nothing updated.  1 <= n <= max_batch; out may be NULL. */
void sm_model_forward(sm_model *m, int v, const float *x, size_t n, sm_model_mode mode,
                      sm_model_outputs *out);

/* Backward of view v's last training forward (same n): grads += ∂L/∂θ given
 * dz = ∂L/∂z and dp = ∂L/∂p (n × z_dim each; either may be NULL for 0).  For
 * SimSiam's stop-gradient pass dz = NULL: the targets are constants. */
void sm_model_backward(sm_model *m, int v, size_t n, const float *dz, const float *dp);

/* One SimSiam step's loss and gradient: forwards x1 and x2 (n images each,
 * training mode) as views 0 and 1 and returns
 *   L = ½ D(p1, sg(z2)) + ½ D(p2, sg(z1))        (src/nn/loss.h)
 * after adding ∂L/∂θ into grads, the z targets held constant (gradients flow
 * only through p, into the predictor and on into the encoder).  The caller
 * zeroes grads before and steps SGD after.  2 <= n <= max_batch. */
double sm_model_step_loss(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss);

/* An extra predictor step (pred_steps > 1): with z1, z2 of the last
 * sm_model_step_loss (same n) held fixed, recomputes p_v = h(z_v) with the
 * current predictor in training mode (its running statistics move, as a
 * PyTorch forward would move them), returns ½ D(p1, z2) + ½ D(p2, z1) and
 * adds its gradient into the PREDICTOR's grads only. */
double sm_model_predictor_step_loss(sm_model *m, size_t n, sm_loss_kind loss);

/* A predictor-only step on a frozen backbone (`simsiam-mi refit`): z1, z2
 * of x1, x2 (n images each) in inference mode (running statistics, nothing
 * updated: the z the tracker sees), then p_v = h(z_v) in training mode;
 * returns ½ D(p1, z2) + ½ D(p2, z1) and adds its gradient into the
 * PREDICTOR's grads only.  2 <= n <= max_batch. */
double sm_model_predictor_refit_loss(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss);

/* One optimiser step with the network's predictor h (steps 2–4 of
 * train.h): zero grads; L = sm_model_step_loss; SGD on both groups; then
 * pred_steps − 1 times: zero grads, sm_model_predictor_step_loss, SGD on the
 * predictor group groups[1] alone.  groups come from sm_model_sgd_groups with
 * lr, momentum and weight_decay set by the caller.  Returns L; a non-finite
 * loss (L or an extra step's) ends the step before the SGD update it would
 * feed and is returned instead.  grads keep the last gradient computed. */
double sm_model_train_step(sm_model *m, const float *x1, const float *x2, size_t n, sm_loss_kind loss,
                           const sm_sgd_group groups[2], long pred_steps);

/* Inference-mode embedding of n images (any n >= 1, run in chunks of
 * max_batch through view 0's activations): rows of f (n × features), z and
 * p (n × z_dim); any of f, z, p may be NULL.  Uses the running statistics
 * and updates nothing but view 0's activations, so call it between steps. */
void sm_model_embed(sm_model *m, const float *x, size_t n, float *f, float *z, float *p);

/* The same for the first n images of a data set (un-augmented, n <= ds->n):
 * f (n × features) and z (n × z_dim), either may be NULL.  SM_ERR_DATA if
 * memory for the image chunk runs out. */
int sm_model_embed_dataset(sm_model *m, const sm_dataset *ds, size_t n, float *f, float *z, sm_status *st);

#endif
