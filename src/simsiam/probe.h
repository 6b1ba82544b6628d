/* Evaluating a trained encoder (docs/design.md §2 eval): the raw-pixel
 * baselines and the linear probe.  The model comes from a checkpoint through
 * src/simsiam/state.h (sm_state_restore).
 *
 * Linear probe: multinomial logistic regression on the frozen encoder
 * features f, each feature standardised with the TRAINING split's mean and
 * standard deviation (divided by n; a constant feature is divided by 1).
 * Model logits = x W + b (W: d × classes, b: classes), loss the mean softmax
 * cross-entropy; minibatch SGD (src/optim/sgd.h: PyTorch's momentum rule,
 * weight decay on W only) over seeded per-epoch permutations
 * (src/data/sampler.h, last incomplete batch dropped; batch = min(batch, n)),
 * learning rate decayed per step from lr to 0 on a cosine (src/optim/schedule.h;
 * a constant rate left the weights wherever the last noisy steps put them).
 * Features are computed once, so an epoch over 60000 × 64 features costs
 * ~0.1 GFLOP. */
#ifndef SM_SIMSIAM_PROBE_H
#define SM_SIMSIAM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "data/dataset.h"

/* The baselines an encoder must beat: every image of train and test as its
 * pixels (byte / 255, c·h·w floats per row) into ftrain and ftest. */
void sm_probe_pixel_features(const sm_dataset *train, const sm_dataset *test, float *ftrain, float *ftest);

/* Subtract the mean of the n_train training rows (d floats each, summed in
 * double) from every row of both sets: cosine similarities then measure
 * directions away from the common mean rather than around it (pixels and
 * ReLU features are non-negative, so uncentred they all point alike).
 * SM_ERR_DATA if memory runs out. */
int sm_probe_centre(float *ftrain, size_t n_train, float *ftest, size_t n_test, size_t d, sm_status *st);

typedef struct {
    size_t epochs, batch;
    double lr, momentum, weight_decay;
    uint64_t seed;
} sm_probe_opts;

/* 100 epochs, batch 256, lr 0.1, momentum 0.9, weight decay 1e-4, seed 0. */
void sm_probe_defaults(sm_probe_opts *o);

/* Standardise d columns of train (n_train rows) in place with train's own
 * column means and standard deviations, and test (n_test rows, may be 0)
 * with the same numbers. */
void sm_probe_standardize(float *train, size_t n_train, float *test, size_t n_test, size_t d);

/* Mean softmax cross-entropy of n rows x (d floats) with labels y < k under
 * params = [W (d × k, row-major), b (k)]; writes its gradient into grad
 * (same layout, d·k + k floats).  logits: n × k floats of scratch. */
double sm_probe_loss_grad(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const float *params,
                          float *grad, float *logits);

/* Fit params (d·k + k floats, zeroed first) on n rows x with labels y < k.
 * SM_ERR_DATA if memory runs out. */
int sm_probe_fit(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const sm_probe_opts *o,
                 float *params, sm_status *st);

/* Fraction of the n rows whose largest logit (ties: the lower class) is
 * their label. */
double sm_probe_accuracy(const float *x, const uint8_t *y, size_t n, size_t d, size_t k, const float *params);

/* The whole probe: standardise train and test features (both modified in
 * place), fit on train, *acc = test accuracy.  SM_ERR_DATA if memory runs
 * out. */
int sm_probe_linear(float *train, const uint8_t *train_y, size_t n_train, float *test, const uint8_t *test_y,
                    size_t n_test, size_t d, size_t k, const sm_probe_opts *o, double *acc, sm_status *st);

#endif
