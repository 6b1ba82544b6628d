/* A nonlinear predictor floor on frozen embeddings: the full-Gaussian E[NLL]
 * of z2 given a one-hidden-layer ReLU network of z1, cross-fitted.  Where the
 * affine floor (estimators/affine.h, the tracking column nll_r_opt) leaves
 * part of the gap E[NLL_Q(z2; h(z1))] − H(z2|z1) to the predictor's
 * linearity, this floor moves it to the predictor share.  Natural logs, nats.
 *
 *   h(x) = Aᵀx + b + W2ᵀ relu(W1ᵀx + b1)      A d1×d2, b d2, W1 d1×H, b1 H, W2 H×d2
 *
 * Fitting, on one half of the rows:
 *   - z1 and z2 are standardised per column (the half's mean and sd), so the
 *     learning rate is in units of the data's spread;
 *   - every fifth row (i % 5 == 4) is held back for validation, the rest train;
 *   - (A, b) start at the least-squares affine fit and W2 at 0, so training
 *     starts exactly at the affine predictor; W1 ~ N(0, 1/d1) and b1 ~ N(0, 1)
 *     from sm_rng stream `fold` of the seed put the ReLU kinks where the
 *     standardised data are;
 *   - full-batch Adam (β = 0.9, 0.999, ε = 1e-8, constant step) minimises
 *     the full-Gaussian NLL of the training rows with Σ refitted at every step:
 *         L = ½ log det(RᵀR / m),  R = y − h(x) (m × d2),  ∂L/∂R = R Σ⁻¹ / m
 *     (the NLL up to the constant (d2/2) log 2πe; unlike least squares it
 *     does not depend on how the outputs are scaled or rotated);
 *   - the kept parameters are those with the lowest L on the validation rows,
 *     scored every 10 steps from step 0 (the affine start) on; training stops
 *     after `iters` steps or `patience` steps without a better score.
 * Early stopping keeps the floor from overfitting: cross-fitting makes the
 * held-out value honest, not small.  Without it, 64 units trained for a fixed
 * 2000 steps on half of n = 4000 rows of a linear relation with Gaussian
 * noise scored 0.18 nats above the affine floor (0.75 at n = 1024); weight
 * decay (AdamW, 0.1 or 1) still left 0.06-0.15 and, at 1, cost 0.8 nats on a
 * nonlinear relation.
 * The other half's predictions, and the first half's from the fit on the
 * second, then give Σ_r and E[NLL] over all n rows as nll.h's full family
 * does (sm_nll_model_fit, SM_NLL_FULL).
 *
 * OpenBLAS is pinned to one thread while these run (its threading is not
 * bit-reproducible), so results are bit-identical for a seed at any thread
 * count.  Rows are row-major doubles; ws is scratch memory (may be NULL). */
#ifndef SM_ESTIMATORS_MLP_H
#define SM_ESTIMATORS_MLP_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

typedef struct {
    size_t hidden;   /* H >= 1 ReLU units [64] */
    size_t iters;    /* Adam steps at most [2000]; 0 keeps the affine start */
    size_t patience; /* stop after this many steps without a better validation score [200]; 0: never */
    double lr;       /* Adam step size in standardised units, > 0 [3e-2] */
    uint64_t seed;   /* W1, b1 of fold f from sm_rng stream f */
} sm_mlp_opts;

SM_API void sm_mlp_defaults(sm_mlp_opts *o, uint64_t seed);

/* The parameters θ as views into one array, in this order. */
typedef struct {
    size_t d1, d2, hidden;
    double *a;  /* d1 × d2 */
    double *b;  /* d2 */
    double *w1; /* d1 × H */
    double *b1; /* H */
    double *w2; /* H × d2 */
} sm_mlp_net;

/* Number of doubles in θ: d1 d2 + d2 + d1 H + H + H d2. */
SM_API size_t sm_mlp_param_count(size_t d1, size_t d2, size_t hidden);
/* Point net's arrays into theta (sm_mlp_param_count doubles, owned by the caller). */
SM_API void sm_mlp_net_view(sm_mlp_net *net, size_t d1, size_t d2, size_t hidden, double *theta);

/* out (m × d2) = h(x) for m rows x (m × d1). */
SM_API int sm_mlp_predict(const sm_mlp_net *net, const double *x, size_t m, double *out, sm_arena *ws,
                          sm_status *st);

/* The training objective on m rows: *value = ½ log det(RᵀR / m), R = y − h(x);
 * grad (may be NULL; θ's layout, see sm_mlp_net_view) = ∂value/∂θ.
 * RᵀR singular (e.g. m < d2, or h fits y exactly): SM_ERR_DATA. */
SM_API int sm_mlp_objective(const sm_mlp_net *net, const double *x, const double *y, size_t m,
                            double *value, double *grad, sm_arena *ws, sm_status *st);

/* *mean_nll = the cross-fitted E[NLL_full] of z2 (n × d2) given the network
 * of z1 (n × d1): fitted on rows [0, n/2) for rows [n/2, n) and the other way
 * round.  Errors: bad options, d1 or d2 = 0, or a half with fewer than
 * 5 (d1 + d2 + 1) rows (SM_ERR_USAGE: a fifth validates and needs d2
 * residual directions; the least-squares residuals of the rest span at most
 * (its rows − d1 − 1) directions); a non-finite value, a constant column in a
 * half, a singular fit (SM_ERR_DATA). */
SM_API int sm_mlp_nll_crossfit(const double *z1, const double *z2, size_t n, size_t d1, size_t d2,
                               const sm_mlp_opts *o, double *mean_nll, sm_arena *ws, sm_status *st);

#endif
