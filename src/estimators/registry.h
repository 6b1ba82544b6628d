/* The estimators by name (docs/design.md §1.6, §2.3): one row each — its
 * name, the quantity it estimates, the options it takes, a one-line doc
 * and an adapter of the one shape subsampling needs.  `simsiam-mi estimate`
 * dispatches through it and lists its choices and help from it; the
 * tracker runs its intervals through the same adapters, and the Python
 * module calls it as the command line does (public API, SM_API).  Adding an
 * estimator is its module, one row in registry.c, and its test.
 *
 *   sm_est_opts o = {.k = 3};
 *   const sm_estimator *e = sm_estimator_find(SM_EST_MI, "ksg1");
 *   if (e && !e->fn(&o, x, dx, y, dy, n, &mi, ws, st)) ... */
#ifndef SM_ESTIMATORS_REGISTRY_H
#define SM_ESTIMATORS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/export.h"
#include "estimators/prep.h"
#include "estimators/resample.h"

/* What a row estimates from its inputs: H(x); I(x; y); the mean NLL of
 * rows z given predictions p (the adapter's x = z, y = p). */
typedef enum { SM_EST_ENTROPY, SM_EST_MI, SM_EST_NLL, SM_EST_NKINDS } sm_est_kind;

/* The adapters' ctx: every option any row takes; each reads its own. */
typedef struct {
    size_t k;          /* k-NN: neighbour order */
    sm_prep_opts prep; /* k-NN: whitening and jitter */
    int sphere;        /* k-NN: rows are unit vectors (surface measure; KSG with per-block l2 norms) */
    double ridge;      /* Gaussian: added to the covariance's diagonal */
    size_t components; /* mixture: components */
    uint64_t seed;     /* mixture: EM's seed */
    double kappa;      /* out, vmf: the κ of the last fit */
} sm_est_opts;

/* Which options a row reads (sm_estimator.uses). */
enum {
    SM_EST_USES_KNN = 1,      /* k, prep, sphere */
    SM_EST_USES_RIDGE = 2,    /* ridge */
    SM_EST_USES_MIXTURE = 4,  /* components, seed */
    SM_EST_HELD_OUT = 8,      /* the value is held out (fitted on one half, scored on the other) */
    SM_EST_DEFAULT = 16       /* the kind's default */
};

typedef struct {
    const char *name;
    const char *alias; /* another accepted name, or NULL */
    sm_est_kind kind;
    unsigned uses;
    sm_resample_fn fn; /* ctx: sm_est_opts */
    const char *doc;
} sm_estimator;

SM_API extern const sm_estimator SM_ESTIMATORS[];
SM_API extern const size_t SM_NESTIMATORS;

/* "entropy", "mi", "nll" ("?" for a kind out of range). */
SM_API const char *sm_est_kind_name(sm_est_kind kind);

/* The row of kind named name (or its alias); NULL when there is none. */
SM_API const sm_estimator *sm_estimator_find(sm_est_kind kind, const char *name);

/* The kind's default row (marked SM_EST_DEFAULT). */
SM_API const sm_estimator *sm_estimator_default(sm_est_kind kind);

/* The kind's names as "a, b or c" into buf (cut to n bytes). */
SM_API void sm_estimator_choices(sm_est_kind kind, char *buf, size_t n);

#endif
