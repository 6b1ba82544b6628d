/* Batch normalisation, one implementation for BatchNorm1d and BatchNorm2d:
 * x is n × c × hw (hw = h·w for 2-D feature maps, hw = 1 for n × c rows), and
 * every channel is normalised over its m = n·hw values.
 *
 * Training (as PyTorch):  y = γ (x − μ_B) / √(σ²_B + ε) + β, with the batch
 * mean μ_B and the BIASED batch variance σ²_B; the running statistics move by
 * momentum 0.1 towards μ_B and the UNBIASED variance σ²_B · m/(m − 1).
 * Inference: the same affine map with the running statistics.
 * Without affine (γ, β NULL; the projector's last BN) y = x̂.
 * With relu, y = max(BN(x), 0): the ReLU that follows most BNs, fused into
 * the same pass over the data (a BN layer is memory-bound, and a separate
 * ReLU reads and writes the whole map twice more per step).  Its backward
 * takes dy = ∂L/∂y and rebuilds the ReLU mask from x with the forward's float
 * operations, so y need not be kept unchanged and the mask is the forward's
 * bit for bit.  The results are those of sm_relu after the plain layer.
 *
 * A channel's sums run in float lanes added into double ones every 256
 * values or run (batchnorm.c), one channel per OpenMP thread, in a pattern
 * fixed by the shape, so results do not depend on the thread count.
 * Backward accumulates (+=) into dgamma, dbeta and, unless told to set it,
 * dx (the src/nn convention, see conv2d.h). */
#ifndef SM_NN_BATCHNORM_H
#define SM_NN_BATCHNORM_H

#include <stddef.h>

#include "nn/channel_map.h"

#define SM_BATCHNORM_EPS 1e-5
#define SM_BATCHNORM_MOMENTUM 0.1

/* PyTorch's initial state: γ = 1, β = 0, running mean 0, running var 1.
 * gamma/beta may be NULL (no affine); so may the running buffers. */
void sm_batchnorm_init(size_t c, float *gamma, float *beta, float *running_mean, float *running_var);

/* Training-mode forward.  Saves the batch mean and 1/√(σ²_B + ε) per channel
 * in save_mean, save_invstd (c each) for backward.  running_mean/running_var
 * are updated when non-NULL (both or neither).  Requires n·hw >= 2.  With y
 * NULL only the statistics are taken (the output is read through
 * sm_batchnorm_map_saved's map instead). */
void sm_batchnorm_forward_train(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                const float *beta, int relu, float *y, float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var);

/* The forward's output map (nn/channel_map.h) as 3c floats in out (mean,
 * scale, shift), from the statistics the training forward saved or, for
 * inference, the running ones: reading x through it gives the bits of y. */
sm_channel_map sm_batchnorm_map_saved(size_t c, const float *gamma, const float *beta, int relu,
                                      const float *save_mean, const float *save_invstd, float *out);
sm_channel_map sm_batchnorm_map_eval(size_t c, const float *gamma, const float *beta, int relu,
                                     const float *running_mean, const float *running_var, float *out);

/* Inference-mode forward with the running statistics (left unchanged). */
void sm_batchnorm_forward_eval(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                               const float *beta, int relu, const float *running_mean,
                               const float *running_var, float *y);

/* Backward of the training-mode forward (the batch statistics depend on x),
 * with the forward's gamma, beta and relu.  dx += ∂L/∂x, or with
 * accumulate == 0 dx = ∂L/∂x (dx's old contents ignored); with affine also
 * dgamma += ∂L/∂γ, dbeta += ∂L/∂β (gamma, beta, dgamma, dbeta all NULL
 * without affine).  dx may be dy (in place): each dx is made from its own
 * dy, after every sum. */
void sm_batchnorm_backward(size_t n, size_t c, size_t hw, const float *x, const float *gamma, const float *beta,
                           int relu, const float *save_mean, const float *save_invstd, const float *dy,
                           float *dx, int accumulate, float *dgamma, float *dbeta);

/* SyncBN (data parallelism, src/dist/dist.h): the batch is spread over the
 * sm_dist_size() processes, each passing its own n rows (the same n on
 * every process), and the two calls above become the ones of the whole
 * batch: the forward's channel sums and the backward's two reductions
 * (Σ dy, Σ dy·x̂) are gathered from every process and added in rank order,
 * so all processes normalise with the same statistics and the running
 * statistics move identically.  dgamma and dbeta still receive this
 * process's share only (the caller sums parameter gradients over the
 * processes).  work: sm_batchnorm_sync_work(c) doubles; NULL is exactly the
 * single-process call.  Every process must make the same calls in order.
 * defer (2c doubles, or NULL): the running statistics are not moved (pass
 * NULL for them); the batch mean and unbiased variance are stored there
 * instead, for sm_batchnorm_move_running to apply later, so forwards that run
 * side by side can move the running statistics in a fixed order, to the
 * same bits as one after the other. */
size_t sm_batchnorm_sync_work(size_t c);
void sm_batchnorm_forward_train_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                     const float *beta, int relu, float *y, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, double *defer, double *work);
void sm_batchnorm_move_running(size_t c, const double *defer, float *running_mean, float *running_var);
void sm_batchnorm_backward_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                const float *beta, int relu, const float *save_mean, const float *save_invstd,
                                const float *dy, float *dx, int accumulate, float *dgamma, float *dbeta,
                                double *work);

/* The backward above without writing dx: dgamma and dbeta as there, and
 * the map that gives dx (= ∂L/∂x, set) from dy and x, stored in map (6c
 * floats), for the convolution before to read its output gradient through
 * (nn/channel_map.h, src/nn/conv2d.h).  Bit for bit the dx above. */
sm_grad_map sm_batchnorm_backward_map_sync(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                           const float *beta, int relu, const float *save_mean,
                                           const float *save_invstd, const float *dy, float *dgamma, float *dbeta,
                                           double *work, float *map);

/* The gradient map of c channels that the call above stored in map, read
 * over x (the one place that knows the 6c floats' layout). */
sm_grad_map sm_batchnorm_grad_map(size_t c, int relu, const float *map, const float *x);

#endif
