/* SGD with momentum and weight decay, step for step as torch.optim.SGD
 * (dampening 0, no Nesterov):
 *
 *   d_p = g + wd · w;   buf = momentum · buf + d_p;   w = w − lr · buf
 *
 * PyTorch sets buf = d_p on the first step; a zero-initialised buf gives
 * exactly that (momentum · 0 + d_p = d_p), so the buffers just start at 0.
 *
 * Parameters, gradients and momentum buffers are three flat float arrays of
 * the same layout; a group is a contiguous range of them with its own
 * hyper-parameters (SimSiam: encoder + projector, and the predictor, whose
 * lr may differ).  The trainer sets each group's lr every step from the
 * schedule (src/optim/schedule.h).  Elementwise, so any thread count gives
 * the same result. */
#ifndef SM_OPTIM_SGD_H
#define SM_OPTIM_SGD_H

#include <stddef.h>

typedef struct {
    size_t offset, count; /* the range [offset, offset + count) of the flat arrays */
    float lr, momentum, weight_decay;
} sm_sgd_group;

/* One step over every group; momentum_buf is updated in place. */
void sm_sgd_step(const sm_sgd_group *groups, size_t n_groups, float *params, const float *grads,
                 float *momentum_buf);

#endif
