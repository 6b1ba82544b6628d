/* A Gaussian-mixture NLL family: a richer valid Q for splitting the gap
 * E[NLL_Q(z2; h(z1))] − H(z2|z1) into a predictor and a family share
 * (docs/design.md §1).  Natural logs, nats.
 *
 *   Q(z; p) = Σ_k π_k N(z − p; m_k, Σ_k)     K components on the residual r = z − p
 *
 * Unlike the families of estimators/nll.h the residual has free means m_k,
 * so K = 1 is N(p + m, Σ) with Σ centred at m, not the full family's N(p, Σ_r).
 *
 * Fitting is maximum likelihood by EM, from several seeded starts: k-means++
 * centres (D² sampling in the residuals whitened by their covariance C) as
 * the means, π_k = 1/K, Σ_k = C; the start with the best training
 * log-likelihood is kept.  Each Σ_k gets ridge · tr(C)/d · I on its diagonal:
 * a component cannot collapse onto a few rows (the mixture likelihood is
 * unbounded without it).  EM stops after max_iter M-steps, or earlier when the
 * mean log-likelihood changes by at most tol · (1 + |ll|) between E-steps.
 *
 * A K-component mixture fitted on n rows evaluated on the same rows is biased
 * low; sm_mix_nll_crossfit evaluates held-out rows only.  Everything is
 * sequential and OpenBLAS is pinned to one thread while it runs, so results
 * are bit-identical for a seed at any thread count.  Rows are row-major
 * doubles; ws is scratch memory (may be NULL). */
#ifndef SM_ESTIMATORS_MIX_H
#define SM_ESTIMATORS_MIX_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

typedef struct {
    size_t components; /* K >= 1 [4] */
    size_t starts;     /* EM starts >= 1, the best training log-likelihood kept [4] */
    size_t max_iter;   /* M-steps per start >= 1 [200] */
    double tol;        /* relative stopping tolerance >= 0 on the mean log-likelihood [1e-6] */
    double ridge;      /* >= 0, relative to tr(C)/d [1e-6]; 0 for the exact ML fit */
    uint64_t seed;     /* start k of a fit draws from sm_rng stream k of seed */
} sm_mix_opts;

SM_API void sm_mix_defaults(sm_mix_opts *o, uint64_t seed);

typedef struct {
    size_t components, d;
    double *weight; /* π_k (K) */
    double *mean;   /* m_k (K × d) */
    double *chol;   /* L_k (K × d × d, row-major lower, upper part 0), Σ_k = L_k L_kᵀ */
    double loglik;  /* mean log-likelihood of the rows of the last fit (nats) */
    size_t iters;   /* M-steps the kept start ran */
} sm_mix_model;

/* K >= 1 components in d >= 1 dimensions (else SM_ERR_USAGE), all zero until
 * fitted or set by the caller; NULL + status on failure. */
SM_API sm_mix_model *sm_mix_model_alloc(size_t components, size_t d, sm_status *st);
SM_API void sm_mix_model_free(sm_mix_model *m);

/* Fit m (K = o->components, m->components must equal it) on n residual rows r
 * (n × d) and set m->loglik.  Errors: bad options or n < K (d + 1), the rows
 * that K full covariances need (SM_ERR_USAGE); a non-finite value; C not
 * positive definite (the rows do not span R^d); every start degenerate (a
 * component without rows or with a singular Σ_k, possible only with a tiny
 * ridge) (SM_ERR_DATA).  On error m keeps its previous parameters. */
SM_API int sm_mix_model_fit(sm_mix_model *m, const double *r, size_t n, const sm_mix_opts *o,
                            sm_arena *ws, sm_status *st);

/* log_q[i] = log Q of residual row r_i (n × d) and, if resp is not NULL,
 * resp[i K + k] = the posterior P(k | r_i) (the E-step).  Non-finite values:
 * SM_ERR_DATA. */
SM_API int sm_mix_model_log_q(const sm_mix_model *m, const double *r, size_t n, double *log_q,
                              double *resp, sm_arena *ws, sm_status *st);

/* *mean_nll = the cross-fitted E[NLL] of z (n × d) under the mixture on
 * z − p: fitted on rows [0, n/2), evaluated (−log Q) on [n/2, n), and the
 * other way round; the mean over all n rows.  Errors as for fitting, with
 * n/2 < K (d + 1) an SM_ERR_USAGE error. */
SM_API int sm_mix_nll_crossfit(const double *z, const double *p, size_t n, size_t d,
                               const sm_mix_opts *o, double *mean_nll, sm_arena *ws, sm_status *st);

#endif
