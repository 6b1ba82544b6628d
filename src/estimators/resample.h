/* Uncertainty by subsampling without replacement (docs/design.md §1).
 *
 * k-NN estimators are not bootstrap-friendly: a bootstrap sample repeats rows,
 * and repeated rows are at distance 0.  Instead, B subsamples of m = ⌊N/2⌋
 * distinct rows are drawn (resample b uses sm_rng_seed(seed, b), so results
 * do not depend on anything but the seed), and the estimator is run on each.
 * With q_p the p-quantile of the B values (linear interpolation between order
 * statistics, numpy's default, Hyndman–Fan type 7), the interval is
 *
 *   ci = value + √(m/(N − m)) · (q_{0.025} − q_{0.5}, q_{0.975} − q_{0.5}),
 *
 * i.e. the spread of the m-row estimates about their median, rescaled to the
 * spread at N (subsampling without replacement: Var(θ_m − θ_N) ≈
 * σ²(1/m − 1/N), so the factor is 1 for m = N/2) and centred on the estimate
 * from all N rows.  Centring on the median drops the
 * larger small-sample bias of k-NN estimators at m (it says nothing about the
 * bias at N, which the interval does not cover). */
#ifndef SM_ESTIMATORS_RESAMPLE_H
#define SM_ESTIMATORS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/export.h"
#include "core/status.h"

/* One estimator on n paired rows of x (n×dx) and y (n×dy; NULL and dy = 0 for
 * single-variable quantities).  Writes *value (value[0..k) for a function
 * given to sm_resample_values with k values); returns an sm_status code. */
typedef int (*sm_resample_fn)(void *ctx, const double *x, size_t dx, const double *y, size_t dy,
                              size_t n, double *value, sm_arena *ws, sm_status *st);

typedef struct {
    double value;     /* estimate on all n rows */
    double ci_low;    /* lower end of the 95% subsampling interval */
    double ci_high;   /* upper end */
    size_t resamples; /* B */
    size_t m;         /* rows per subsample, ⌊n/2⌋ */
} sm_resample_result;

/* Point estimate and subsampling interval.  Rows of x and y stay paired and in
 * their original order inside a subsample.  Requires n >= 4, B >= 2 and a
 * column or more in x (and in y when given) (SM_ERR_USAGE); an estimator
 * error (e.g. k >= m) is returned as is. */
SM_API int sm_resample_subsample(const double *x, size_t dx, const double *y, size_t dy, size_t n,
                                 size_t resamples, uint64_t seed, sm_resample_fn fn, void *ctx,
                                 sm_resample_result *out, sm_arena *ws, sm_status *st);

/* The B subsample estimates alone, for a caller that already has the
 * full-data value or combines estimators row by row (the same n and seed
 * give the same subsamples, whatever fn): fn writes k values per subsample,
 * the j-th of subsample b going to vals[j·B + b] (vals: k·B).  The same
 * requirements as sm_resample_subsample. */
SM_API int sm_resample_values(const double *x, size_t dx, const double *y, size_t dy, size_t n, size_t resamples,
                              uint64_t seed, size_t k, sm_resample_fn fn, void *ctx, double *vals, sm_arena *ws,
                              sm_status *st);

/* out = the interval above about value (the estimate on all n rows) from
 * vals[0..B), the estimates on B subsamples of ⌊n/2⌋ rows; sorts vals. */
SM_API void sm_resample_interval(double value, double *vals, size_t resamples, size_t n, sm_resample_result *out);

/* The p-quantile (0 <= p <= 1) of v[0..n) by the interpolation above; sorts v
 * in place. */
SM_API double sm_resample_quantile(double *v, size_t n, double p);

#endif
