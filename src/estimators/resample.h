/* Uncertainty by subsampling without replacement (DESIGN.md §1).
 *
 * k-NN estimators are not bootstrap-friendly: a bootstrap sample repeats rows,
 * and repeated rows are at distance 0.  Instead, B subsamples of m = ⌊N/2⌋
 * distinct rows are drawn (resample b uses sm_rng_seed(seed, b), so results
 * do not depend on anything but the seed), the estimator is run on each, and
 * the interval is the 2.5 / 97.5 percentiles of the B values, linearly
 * interpolated between order statistics (position p·(B − 1) in the sorted
 * values: numpy's default, Hyndman–Fan type 7).
 *
 * What the interval is: the spread of the estimator at sample size m = N/2.
 * It is wider than the sampling spread at N (about √2 for a root-N estimator)
 * and carries the small-sample bias at m, so it is a conservative statement
 * about the point estimate, which is always computed on all N rows. */
#ifndef SM_ESTIMATORS_RESAMPLE_H
#define SM_ESTIMATORS_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include "core/arena.h"
#include "core/status.h"

/* One estimator on n paired rows of x (n×dx) and y (n×dy; NULL and dy = 0 for
 * single-variable quantities).  Writes *value; returns an sm_status code. */
typedef int (*sm_resample_fn)(void *ctx, const double *x, size_t dx, const double *y, size_t dy,
                              size_t n, double *value, sm_arena *ws, sm_status *st);

typedef struct {
    double value;     /* estimate on all n rows */
    double ci_low;    /* 2.5th percentile of the subsample estimates */
    double ci_high;   /* 97.5th percentile */
    size_t resamples; /* B */
    size_t m;         /* rows per subsample, ⌊n/2⌋ */
} sm_resample_result;

/* Point estimate and subsampling interval.  Rows of x and y stay paired and in
 * their original order inside a subsample.  Requires n >= 4 and B >= 2
 * (SM_ERR_USAGE); an estimator error (e.g. k >= m) is returned as is. */
int sm_resample_subsample(const double *x, size_t dx, const double *y, size_t dy, size_t n,
                          size_t resamples, uint64_t seed, sm_resample_fn fn, void *ctx,
                          sm_resample_result *out, sm_arena *ws, sm_status *st);

/* The p-quantile (0 <= p <= 1) of v[0..n) by the interpolation above; sorts v
 * in place. */
double sm_resample_quantile(double *v, size_t n, double p);

#endif
