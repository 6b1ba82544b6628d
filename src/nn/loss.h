/* SimSiam loss pieces D(p, sg(z)): p is the prediction (n × d), z the target
 * (n × d) held constant (stop-gradient), so only ∂D/∂p exists.  The trainer
 * forms L = ½ D(p1, z2) + ½ D(p2, z1) with two forward/backward pairs of
 * scale ½.  All three are means over the batch; sums are taken in double.
 *
 *   cosine  D = −(1/n) Σ_i cos(p_i, z_i), each vector divided by
 *           max(‖·‖, 1e-8) as torch.nn.CosineSimilarity does.
 *   l2      D = (1/n) Σ_i ½‖p_i − z_i‖²: the NLL of N(p, I) without its
 *           constant (d/2) log 2π.
 *   gauss   D = (d/2) log(2πe σ̂²),  σ̂² = (1/(n d)) Σ_i ‖z_i − p_i‖²: the mean
 *           NLL in nats of z under N(p, σ²I) with σ² at its maximum-likelihood
 *           value on the batch (docs/design.md §1, gauss-iso) — a normalised
 *           density, so D is comparable to entropies.  A fitted σ² needs no
 *           extra parameter, and since ∂NLL/∂σ² = 0 at the fit,
 *           ∂D/∂p_i = (p_i − z_i) / (n σ̂²).  When every residual is exactly 0,
 *           D = −∞ and the gradient is 0 (p = z minimises D for any σ²).
 *
 * Raw cosine values are not NLLs (docs/design.md §1); gauss values are. */
#ifndef SM_NN_LOSS_H
#define SM_NN_LOSS_H

#include <stddef.h>

/* The cosine loss's norm clamp (torch.nn.CosineSimilarity's default eps);
 * the tracker's loss_cos uses it too. */
#define SM_LOSS_COSINE_EPS 1e-8

/* Values in the order of the `loss` key's words (io/config.c parses them). */
typedef enum { SM_LOSS_COSINE, SM_LOSS_L2, SM_LOSS_GAUSS } sm_loss_kind;

const char *sm_loss_name(sm_loss_kind kind);

/* D(p, z) as defined above. */
double sm_loss_forward(sm_loss_kind kind, size_t n, size_t d, const float *p, const float *z);

/* dp += scale · ∂D/∂p (z constant). */
void sm_loss_backward(sm_loss_kind kind, size_t n, size_t d, const float *p, const float *z,
                      float scale, float *dp);

#endif
