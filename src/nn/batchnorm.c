#include "nn/batchnorm.h"

#include <assert.h>
#include <math.h>

#include "core/simd.h"

void sm_batchnorm_init(size_t c, float *gamma, float *beta, float *running_mean, float *running_var)
{
    for (size_t j = 0; j < c; j++) {
        if (gamma) gamma[j] = 1.0f;
        if (beta) beta[j] = 0.0f;
        if (running_mean) running_mean[j] = 0.0f;
        if (running_var) running_var[j] = 1.0f;
    }
}

/* Channel j's values are n runs of hw floats: x[i·c·hw + j·hw + t]. */
static const float *run(const float *x, size_t c, size_t hw, size_t i, size_t j)
{
    return x + (i * c + j) * hw;
}

/* Sums over a run use LANES independent double accumulators in a fixed
 * pattern: a single accumulator would serialise on the add latency (the
 * compiler must keep IEEE order and may not reassociate), and a fixed pattern
 * keeps the result independent of threads. */
enum { LANES = 8 };

static double lanes_total(const double *acc)
{
    double s = 0.0;
    for (int l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* Σ (r[t] − shift) and Σ (r[t] − shift)² over a run. */
SM_VECTOR_CLONES static void run_moments(const float *r, size_t len, double shift, double *sum, double *sum_sq)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t t = 0;
    for (; t + LANES <= len; t += LANES)
        for (int l = 0; l < LANES; l++) {
            double d = r[t + l] - shift;
            a[l] += d;
            b[l] += d * d;
        }
    for (; t < len; t++) {
        double d = r[t] - shift;
        a[0] += d;
        b[0] += d * d;
    }
    *sum += lanes_total(a);
    *sum_sq += lanes_total(b);
}

/* Σ dy[t] and Σ dy[t] · (x[t] − mean) over a run. */
SM_VECTOR_CLONES static void run_grad_sums(const float *x, const float *dy, size_t len, double mean, double *sum_dy,
                          double *sum_dy_xc)
{
    double a[LANES] = {0}, b[LANES] = {0};
    size_t t = 0;
    for (; t + LANES <= len; t += LANES)
        for (int l = 0; l < LANES; l++) {
            a[l] += dy[t + l];
            b[l] += dy[t + l] * (x[t + l] - mean);
        }
    for (; t < len; t++) {
        a[0] += dy[t];
        b[0] += dy[t] * (x[t] - mean);
    }
    *sum_dy += lanes_total(a);
    *sum_dy_xc += lanes_total(b);
}

/* Batch mean and biased variance of channel j in one pass, from moments
 * about the channel's first value K: var = (Σ(x − K)² − (Σ(x − K))²/m) / m.
 * K is a sample, so it lies within a few σ of the mean and the subtraction
 * loses at most a few digits of double precision (unlike moments about 0). */
static void channel_stats(const float *x, size_t n, size_t c, size_t hw, size_t j, double *mean, double *var)
{
    const double shift = run(x, c, hw, 0, j)[0], m = (double)(n * hw);
    double sum = 0.0, sum_sq = 0.0;
    for (size_t i = 0; i < n; i++) run_moments(run(x, c, hw, i, j), hw, shift, &sum, &sum_sq);
    *mean = shift + sum / m;
    *var = (sum_sq - sum * sum / m) / m;
    if (*var < 0.0) *var = 0.0; /* rounding when all values are equal */
}

/* y = (x − μ) · γ/σ + β over channel j, in float; subtracting μ first keeps
 * the precision when |μ| is large against σ. */
SM_VECTOR_CLONES static void channel_apply(const float *x, float *y, size_t n, size_t c, size_t hw, size_t j,
                          float mean, double invstd, const float *gamma, const float *beta)
{
    const float scale = (float)((gamma ? gamma[j] : 1.0) * invstd), shift = beta ? beta[j] : 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *xr = run(x, c, hw, i, j);
        float *yr = y + (i * c + j) * hw;
#pragma omp simd
        for (size_t t = 0; t < hw; t++) yr[t] = (xr[t] - mean) * scale + shift;
    }
}

void sm_batchnorm_forward_train(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                                const float *beta, float *y, float *save_mean, float *save_invstd,
                                float *running_mean, float *running_var)
{
    const size_t m = n * hw;
    assert(m >= 2);
    assert(!running_mean == !running_var);
    const double mom = SM_BATCHNORM_MOMENTUM;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) {
        double mean, var;
        channel_stats(x, n, c, hw, j, &mean, &var);
        double invstd = 1.0 / sqrt(var + SM_BATCHNORM_EPS);
        save_mean[j] = (float)mean;
        save_invstd[j] = (float)invstd;
        if (running_mean) {
            running_mean[j] = (float)((1.0 - mom) * running_mean[j] + mom * mean);
            running_var[j] = (float)((1.0 - mom) * running_var[j] + mom * var * (double)m / (double)(m - 1));
        }
        /* Normalise with the saved (float) statistics, so backward's x̂ is
         * exactly the forward's. */
        channel_apply(x, y, n, c, hw, j, save_mean[j], save_invstd[j], gamma, beta);
    }
}

void sm_batchnorm_forward_eval(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                               const float *beta, const float *running_mean,
                               const float *running_var, float *y)
{
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) {
        double invstd = 1.0 / sqrt((double)running_var[j] + SM_BATCHNORM_EPS);
        channel_apply(x, y, n, c, hw, j, running_mean[j], invstd, gamma, beta);
    }
}

/* dx (=, or += when accumulate) a · dy + b · (x − μ) + d over channel j. */
SM_VECTOR_CLONES static void channel_input_grad(const float *x, const float *dy, float *dx, size_t n, size_t c,
                                                size_t hw, size_t j, float mean, float a, float b, float d,
                                                int accumulate)
{
    for (size_t i = 0; i < n; i++) {
        const float *xr = run(x, c, hw, i, j), *gr = run(dy, c, hw, i, j);
        float *dr = dx + (i * c + j) * hw;
        if (accumulate) {
#pragma omp simd
            for (size_t t = 0; t < hw; t++) dr[t] += a * gr[t] + b * (xr[t] - mean) + d;
        } else {
#pragma omp simd
            for (size_t t = 0; t < hw; t++) dr[t] = a * gr[t] + b * (xr[t] - mean) + d;
        }
    }
}

void sm_batchnorm_backward(size_t n, size_t c, size_t hw, const float *x, const float *gamma,
                           const float *save_mean, const float *save_invstd, const float *dy,
                           float *dx, int accumulate, float *dgamma, float *dbeta)
{
    const size_t m = n * hw;
    assert(!gamma == !dgamma && !gamma == !dbeta);
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < c; j++) {
        const float mean = save_mean[j], invstd = save_invstd[j];
        double sum_dy = 0.0, sum_dy_xc = 0.0;
        for (size_t i = 0; i < n; i++)
            run_grad_sums(run(x, c, hw, i, j), run(dy, c, hw, i, j), hw, mean, &sum_dy, &sum_dy_xc);
        const double sum_dy_xhat = sum_dy_xc * invstd;
        if (gamma) {
            dgamma[j] += (float)sum_dy_xhat;
            dbeta[j] += (float)sum_dy;
        }
        /* dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy · x̂)), x̂ = (x − μ)/σ, as
         * dx += a · dy + b · (x − μ) + d in float. */
        const double k = (gamma ? gamma[j] : 1.0) * invstd;
        const float a = (float)k, b = (float)(-k * invstd * sum_dy_xhat / (double)m),
                    d = (float)(-k * sum_dy / (double)m);
        channel_input_grad(x, dy, dx, n, c, hw, j, mean, a, b, d, accumulate);
    }
}
