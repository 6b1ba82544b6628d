/* The estimators by name (see registry.h). */
#include "estimators/registry.h"

#include <stdio.h>
#include <string.h>

#include "estimators/entropy.h"
#include "estimators/gauss.h"
#include "estimators/mi.h"
#include "estimators/mix.h"
#include "estimators/nll.h"

/* ---- adapters (sm_resample_fn, ctx = sm_est_opts) ------------------------------- */

static sm_mi_opts mi_opts(const sm_est_opts *o)
{
    return (sm_mi_opts){.k = o->k, .norm = o->sphere ? SM_MI_BLOCK_L2 : SM_MI_MAXNORM, .sphere = o->sphere,
                        .prep = o->prep};
}

static int entropy_kl(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *v,
                      sm_arena *ws, sm_status *st)
{
    (void)y, (void)dy;
    const sm_est_opts *o = c;
    const sm_entropy_opts eo = {.k = o->k, .sphere = o->sphere, .prep = o->prep};
    return sm_entropy_kl(x, n, dx, &eo, v, ws, st);
}

static int entropy_gauss(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *v,
                         sm_arena *ws, sm_status *st)
{
    (void)y, (void)dy;
    return sm_gauss_entropy(x, n, dx, ((const sm_est_opts *)c)->ridge, v, ws, st);
}

static int mi_ksg1(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *v,
                   sm_arena *ws, sm_status *st)
{
    const sm_mi_opts mo = mi_opts(c);
    sm_ksg1_result r;
    int rc = sm_mi_ksg1(x, y, n, dx, dy, &mo, &r, ws, st);
    if (!rc) *v = r.mi;
    return rc;
}

static int mi_ksg2(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *v,
                   sm_arena *ws, sm_status *st)
{
    const sm_mi_opts mo = mi_opts(c);
    return sm_mi_ksg2(x, y, n, dx, dy, &mo, v, ws, st);
}

static int mi_gauss(void *c, const double *x, size_t dx, const double *y, size_t dy, size_t n, double *v,
                    sm_arena *ws, sm_status *st)
{
    return sm_gauss_mi(x, y, n, dx, dy, ((const sm_est_opts *)c)->ridge, v, ws, st);
}

/* The mean NLL of family f fitted on (z, p); vmf's κ into the options. */
static int nll_fit(sm_nll_family f, sm_est_opts *o, const double *z, const double *p, size_t n, size_t d, double *v,
                   sm_arena *ws, sm_status *st)
{
    sm_nll_model *m = sm_nll_model_alloc(f, d, st);
    if (!m) return st ? st->code : SM_ERR_DATA;
    int rc = sm_nll_model_fit(m, z, p, n, ws, st);
    if (!rc) *v = m->mean_nll;
    if (!rc && f == SM_NLL_VMF) o->kappa = m->kappa;
    sm_nll_model_free(m);
    return rc;
}

#define NLL_ADAPTER(fn, family)                                                                                  \
    static int fn(void *c, const double *z, size_t dz, const double *p, size_t dp, size_t n, double *v,         \
                  sm_arena *ws, sm_status *st)                                                                  \
    {                                                                                                           \
        (void)dp;                                                                                               \
        return nll_fit(family, c, z, p, n, dz, v, ws, st);                                                      \
    }
NLL_ADAPTER(nll_l2, SM_NLL_L2)
NLL_ADAPTER(nll_iso, SM_NLL_ISO)
NLL_ADAPTER(nll_diag, SM_NLL_DIAG)
NLL_ADAPTER(nll_full, SM_NLL_FULL)
NLL_ADAPTER(nll_vmf, SM_NLL_VMF)

static int nll_mix(void *c, const double *z, size_t dz, const double *p, size_t dp, size_t n, double *v,
                   sm_arena *ws, sm_status *st)
{
    (void)dp;
    const sm_est_opts *o = c;
    sm_mix_opts mo;
    sm_mix_defaults(&mo, o->seed);
    mo.components = o->components;
    return sm_mix_nll_crossfit(z, p, n, dz, &mo, v, ws, st);
}

/* ---- the table ------------------------------------------------------------------- */

enum { KNN = SM_EST_USES_KNN, RIDGE = SM_EST_USES_RIDGE, DEF = SM_EST_DEFAULT };

const sm_estimator SM_ESTIMATORS[] = {
    {"kl", NULL, SM_EST_ENTROPY, KNN | DEF, entropy_kl, "Kozachenko–Leonenko, Euclidean, k-th neighbour, self excluded"},
    {"gauss", NULL, SM_EST_ENTROPY, RIDGE, entropy_gauss, "½ log det(2πe Σ), maximum-likelihood Σ (divide by N): an upper bound on H"},
    {"ksg1", NULL, SM_EST_MI, KNN | DEF, mi_ksg1, "Kraskov–Stögbauer–Grassberger algorithm 1, max-norm"},
    {"ksg2", NULL, SM_EST_MI, KNN, mi_ksg2, "Kraskov–Stögbauer–Grassberger algorithm 2, max-norm"},
    {"gauss", NULL, SM_EST_MI, RIDGE, mi_gauss, "½ log(det Σxx det Σyy / det Σ)"},
    {"l2", NULL, SM_EST_NLL, 0, nll_l2, "mean −log N(z; p, I): the l2 loss as an NLL"},
    {"iso", "gauss-iso", SM_EST_NLL, 0, nll_iso, "mean −log N(z; p, σ²I), σ² by maximum likelihood"},
    {"diag", "gauss-diag", SM_EST_NLL, 0, nll_diag, "mean −log N(z; p, diag s²), s² by maximum likelihood"},
    {"full", "gauss-full", SM_EST_NLL, DEF, nll_full, "mean −log N(z; p, Σ), full Σ of the residual by maximum likelihood"},
    {"vmf", NULL, SM_EST_NLL, 0, nll_vmf, "mean −log vMF(ẑ; p̂, κ) on the sphere, κ by maximum likelihood (also prints κ)"},
    {"mix", NULL, SM_EST_NLL, SM_EST_USES_MIXTURE | SM_EST_HELD_OUT, nll_mix,
     "Σ_k π_k N(z − p; m_k, Σ_k) by EM (4 seeded k-means++ starts, ridge 1e-6·tr Σ/d; --components K, default 4; "
     "--seed), fitted on each half of the rows and "
     "scored on the other: a held-out value"},
};
const size_t SM_NESTIMATORS = sizeof SM_ESTIMATORS / sizeof SM_ESTIMATORS[0];

const char *sm_est_kind_name(sm_est_kind kind)
{
    static const char *const NAMES[SM_EST_NKINDS] = {"entropy", "mi", "nll"};
    return (unsigned)kind < SM_EST_NKINDS ? NAMES[kind] : "?";
}

const sm_estimator *sm_estimator_find(sm_est_kind kind, const char *name)
{
    for (size_t i = 0; i < SM_NESTIMATORS; i++) {
        const sm_estimator *e = &SM_ESTIMATORS[i];
        if (e->kind == kind && (!strcmp(e->name, name) || (e->alias && !strcmp(e->alias, name)))) return e;
    }
    return NULL;
}

const sm_estimator *sm_estimator_default(sm_est_kind kind)
{
    for (size_t i = 0; i < SM_NESTIMATORS; i++)
        if (SM_ESTIMATORS[i].kind == kind && (SM_ESTIMATORS[i].uses & SM_EST_DEFAULT)) return &SM_ESTIMATORS[i];
    return NULL;
}

void sm_estimator_choices(sm_est_kind kind, char *buf, size_t n)
{
    size_t count = 0, seen = 0, len = 0;
    for (size_t i = 0; i < SM_NESTIMATORS; i++) count += SM_ESTIMATORS[i].kind == kind;
    buf[0] = '\0';
    for (size_t i = 0; i < SM_NESTIMATORS && len < n; i++) {
        if (SM_ESTIMATORS[i].kind != kind) continue;
        const char *sep = seen == 0 ? "" : seen + 1 == count ? " or " : ", ";
        len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, SM_ESTIMATORS[i].name);
        seen++;
    }
}
