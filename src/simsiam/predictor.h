/* Closed-form linear predictors p = W z (no bias) for pred_mode=optimal and
 * pred_mode=directpred (docs/design.md §3).  The network's own predictor h is
 * unused in these modes: W is computed from running second moments of the
 * embeddings z1, z2 of the two views instead of being trained.
 *
 * Moments, d = z_dim, both views pooled (the SimSiam loss is symmetric, so
 * each view is once the input and once the target), over a batch of n pairs:
 *   C     = (1/2n) Σ_i (z1_i z1_iᵀ + z2_i z2_iᵀ)          (second moment, not centred:
 *   X     = (1/2n) Σ_i (z2_i z1_iᵀ + z1_i z2_iᵀ)           p = W z has no bias)
 * folded into running ones by an exponential moving average,
 *   Ĉ ← ρ Ĉ + (1 − ρ) C,   X̂ ← ρ X̂ + (1 − ρ) X,   ρ = SM_PREDICTOR_RHO,
 * except that the first batch sets Ĉ = C, X̂ = X, so the weights of the
 * average always sum to 1 (started from zeros they would sum to 1 − ρᵏ after
 * k batches, the first batch underweighted).  The reference code does the
 * same (its Accumulator keeps the first batch as is).
 *
 *   optimal     W = X̂ (Ĉ + λI)⁻¹,  λ = SM_PREDICTOR_RIDGE · tr(Ĉ)/d: the ridge
 *               least-squares fit of the target view from the input view,
 *               i.e. (up to λ) the linear predictor minimising the l2 loss
 *               and the gauss loss (monotone in the mean squared residual)
 *               on the running moments; for the cosine loss it is the
 *               least-squares fit, not the cosine's own minimiser.  The relative ridge keeps the
 *               factorisation positive definite when z collapses onto a
 *               subspace, and biases a well-conditioned fit by ~1e-4.
 *               tr(Ĉ) = 0 (every z zero so far) gives W = 0.
 *   directpred  Ĉ = U diag(s) Uᵀ (gsl_eigen_symmv, deterministic),
 *               W = U diag(p) Uᵀ,  p_j = √(max(s_j, 0) / max_k s_k) + ε,
 *               ε = SM_PREDICTOR_EPS (Tian, Chen & Ganguli 2021, eqs. 18–19,
 *               "Understanding self-supervised learning dynamics without
 *               contrastive pairs").  max_k s_k <= 0 (Ĉ = 0) gives W = εI.
 *
 * Cost: the moments are d×d doubles, W d×d floats; an update is O(n d²)
 * plus O(d³) for the factorisation or eigendecomposition, in plain loops
 * (single-threaded, so the same bits at any thread count); apply and
 * backward are sgemms through src/nn/gemm.h (same bits at any thread count
 * too).  This header includes no GSL or CBLAS header, so it goes with
 * either. */
#ifndef SM_SIMSIAM_PREDICTOR_H
#define SM_SIMSIAM_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"

/* ρ and ε are the values of the paper's DirectPred runs: the reference code
 * (facebookresearch/luckmatters, ssl/real-dataset/README.md) runs DirectPred
 * with dyn_lambda=0.3 ("rho in Eqn. 19") and dyn_eps=0.01 ("eps in Eqn. 18"),
 * and solo-learn's DirectPred defaults are dp_rho=0.3, dp_eps=0.01.  The
 * optimal mode uses the same ρ, so the two closed-form modes see the same
 * moments and differ only in how W is made from them. */
#define SM_PREDICTOR_RHO 0.3
#define SM_PREDICTOR_EPS 0.01
#define SM_PREDICTOR_RIDGE 1e-4

typedef struct {
    sm_pred_mode mode; /* SM_PRED_OPTIMAL or SM_PRED_DIRECTPRED */
    size_t d;
    uint64_t updates;  /* batches folded into the moments */
    double *corr;      /* Ĉ, d×d row-major */
    double *cross;     /* X̂, d×d (optimal only; NULL for directpred) */
    float *w;          /* W, d×d row-major: p_i = Σ_j W_ij z_j */
    /* Scratch.  next_*: the moments being made, swapped in only when W
     * could be computed from them (so a failure changes nothing); a, b: d×d
     * for the Cholesky factor and the solve, or the matrix eigendecomposed
     * and its eigenvectors; eval: d eigenvalues (directpred). */
    double *next_corr, *next_cross, *a, *b, *eval;
} sm_predictor;

/* A predictor for z_dim d >= 1 with zero moments and the W made from them
 * as from any others: 0 for optimal, εI for directpred.  mode must be
 * SM_PRED_OPTIMAL or SM_PRED_DIRECTPRED (SGD is a contract violation).
 * NULL with SM_ERR_DATA when memory runs out. */
sm_predictor *sm_predictor_alloc(sm_pred_mode mode, size_t d, sm_status *st);
void sm_predictor_free(sm_predictor *p);

/* Fold the moments of n >= 1 pairs (z1, z2: n × d rows each) into the
 * running ones and recompute W.  A non-finite z is SM_ERR_DATA and leaves
 * the predictor as it was; so does a factorisation that fails (optimal). */
int sm_predictor_update(sm_predictor *p, const float *z1, const float *z2, size_t n, sm_status *st);

/* out = z Wᵀ: row i of out is W z_i (n >= 1 rows of d; out does not alias z). */
void sm_predictor_apply(const sm_predictor *p, const float *z, size_t n, float *out);

/* dz = dp W: the gradient w.r.t. the rows z_i given dp = ∂L/∂(W z_i), W held
 * constant.  Overwrites dz (n × d; does not alias dp). */
void sm_predictor_backward(const sm_predictor *p, const float *dp, size_t n, float *dz);

/* Set the running moments (Ĉ and, for optimal, X̂: d² finite values each;
 * cross is ignored for directpred) and the update count, and recompute W
 * from them with the code sm_predictor_update uses, so a predictor restored
 * from a checkpoint (src/simsiam/state.h) continues bit for bit.  Moments
 * no training can give (a negative trace, a factorisation that fails, a W
 * that is not finite) are SM_ERR_DATA. */
int sm_predictor_restore(sm_predictor *p, const double *corr, const double *cross, uint64_t updates, sm_status *st);

#endif
