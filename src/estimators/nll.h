/* NLL families: the densities Q(·; μ = p) behind SimSiam's distances
 * (docs/design.md §1, "Which Q each D corresponds to").  Natural logs, nats.
 *
 *   l2    Q = N(p, I)        NLL = ½‖z − p‖² + (d/2) log 2π           (nothing fitted)
 *   iso   Q = N(p, σ²I)      σ² = mean ‖z − p‖²/d          E[NLL] = (d/2) log(2πe σ²)
 *   diag  Q = N(p, diag s²)  s_j² = mean (z_j − p_j)²      E[NLL] = ½ Σ_j log(2πe s_j²)
 *   full  Q = N(p, Σ_r)      Σ_r = mean (z − p)(z − p)ᵀ    E[NLL] = ½ log det(2πe Σ_r)
 *   vmf   Q = vMF(p/‖p‖, κ) on S^{d−1}, for ẑ = z/‖z‖
 *                            κ by ML from R̄ = mean μᵀẑ     E[NLL] = −κR̄ − log C_d(κ)
 *
 * Σ_r and s² are second moments about p, not centred: Q's mean is p itself.
 * Each fitted Gaussian is the maximum-likelihood member of its family and
 * the families are nested, so the fitted E[NLL] obeys full <= diag <= iso
 * (Hadamard's and the AM–GM inequalities) on any data.
 *
 * The vmf NLL is a density on the sphere (w.r.t. surface measure): compare it
 * only with entropies of ẑ taken on the sphere, never with the Gaussian
 * families' values or with entropies of z in R^d.
 *
 * A model is a plain struct: allocate it for a family and d, fit it on rows
 * (z_i, p_i), then evaluate log Q(z; p) on any pairs, including the cross
 * pairs (z2_j, p1_i) of the InfoNCE critic (estimators/bound.h).  Rows are
 * row-major doubles; ws is scratch memory (may be NULL). */
#ifndef SM_ESTIMATORS_NLL_H
#define SM_ESTIMATORS_NLL_H

#include <stddef.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

typedef enum { SM_NLL_L2, SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF } sm_nll_family;

/* "l2", "iso", "diag", "full", "vmf"; also docs/design.md's "gauss-iso",
 * "gauss-diag", "gauss-full".  Unknown: SM_ERR_USAGE naming the choices. */
SM_API int sm_nll_family_parse(const char *name, sm_nll_family *family, sm_status *st);
/* The short name ("l2", "iso", …). */
SM_API const char *sm_nll_family_name(sm_nll_family family);

typedef struct {
    sm_nll_family family;
    size_t d;
    double mean_nll; /* mean NLL of the rows of the last fit (nats) */
    double log_norm; /* log of Q's normaliser: −½ log det(2πΣ), or log C_d(κ) */
    double sigma2;   /* iso: σ² */
    double *s2;      /* diag: the d variances s_j² (NULL for other families) */
    double *chol;    /* full: L (d×d row-major, lower, upper part 0), Σ_r = L Lᵀ (else NULL) */
    double kappa;    /* vmf: κ */
    double mean_cos; /* vmf: R̄ = mean μᵢᵀẑᵢ */
} sm_nll_model;

/* A model with unit parameters (σ² = 1, s² = 1, Σ = I, κ = 0; mean_nll = 0)
 * until it is fitted.  vmf needs d >= 2, the others d >= 1 (else
 * SM_ERR_USAGE); NULL + status on failure. */
SM_API sm_nll_model *sm_nll_model_alloc(sm_nll_family family, size_t d, sm_status *st);
SM_API void sm_nll_model_free(sm_nll_model *m);

/* Fit m's parameters on n >= 1 rows z (n×d) and p (n×d) and set m->mean_nll
 * (the mean NLL of row z_i under Q(·; p_i) with those parameters).
 * Errors (SM_ERR_DATA): a non-finite value; a zero-norm row (vmf); a fitted
 * variance of 0 (iso, diag); full: n <= d rows (Σ_r singular, or at n = d a
 * fit that only reproduces the sample), or residuals z − p not spanning R^d.
 * On error m keeps its previous parameters. */
SM_API int sm_nll_model_fit(sm_nll_model *m, const double *z, const double *p, size_t n,
                            sm_arena *ws, sm_status *st);

/* Fit a model of family f on the n rows (z, p) and give its mean NLL: the
 * allocation, sm_nll_model_fit and the free in one call. */
SM_API int sm_nll_mean(sm_nll_family f, const double *z, const double *p, size_t n, size_t d, double *mean_nll,
                       sm_arena *ws, sm_status *st);

/* out[i] = log Q(z_i; p_i) for n row pairs (any rows: pass the pairs to score).
 * Errors as for fitting (non-finite values, zero-norm rows for vmf). */
SM_API int sm_nll_model_log_q(const sm_nll_model *m, const double *z, const double *p, size_t n,
                              double *out, sm_arena *ws, sm_status *st);

/* The critic's feature map φ, applied to n rows x into out (n×d, may alias x):
 *   Gaussian families  φ(x) = W x with W Wᵀ = Σ⁻¹ (W = I, I/σ, diag(1/s), L⁻¹), so
 *                      log Q(z; p) = log_norm − ½‖φ(z) − φ(p)‖²
 *   vmf                φ(x) = x/‖x‖, so log Q(z; p) = log_norm + κ φ(z)ᵀφ(p)
 * Score matrices over all pairs then cost one gemm (estimators/bound.h).
 * Errors: non-finite values, zero-norm rows (vmf). */
SM_API int sm_nll_model_features(const sm_nll_model *m, const double *x, size_t n, double *out,
                                 sm_status *st);

#endif
