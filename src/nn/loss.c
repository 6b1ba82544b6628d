#include "nn/loss.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* log(2π e) = log 2π + 1 (M_PI is not in strict C11). */
#define LOG_2PI_E 2.8378770664093454836

static const char *const NAMES[] = {[SM_LOSS_COSINE] = "cosine", [SM_LOSS_L2] = "l2", [SM_LOSS_GAUSS] = "gauss"};

const char *sm_loss_name(sm_loss_kind kind)
{
    assert(kind >= SM_LOSS_COSINE && kind <= SM_LOSS_GAUSS);
    return NAMES[kind];
}

static double dot(const float *a, const float *b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) s += (double)a[j] * b[j];
    return s;
}

static double clamped_norm(const float *a, size_t d)
{
    double nrm = sqrt(dot(a, a, d));
    return nrm > SM_LOSS_COSINE_EPS ? nrm : SM_LOSS_COSINE_EPS; /* norms below it are clamped to it */
}

static double squared_distance(const float *a, const float *b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        double r = (double)a[j] - b[j];
        s += r * r;
    }
    return s;
}

/* σ̂² of the gauss loss: mean squared residual per coordinate. */
static double residual_variance(size_t n, size_t d, const float *p, const float *z)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += squared_distance(p + i * d, z + i * d, d);
    return s / (double)(n * d);
}

double sm_loss_forward(sm_loss_kind kind, size_t n, size_t d, const float *p, const float *z)
{
    assert(n >= 1 && d >= 1);
    double sum = 0.0;
    switch (kind) {
    case SM_LOSS_COSINE:
        for (size_t i = 0; i < n; i++) {
            const float *pi = p + i * d, *zi = z + i * d;
            sum -= dot(pi, zi, d) / (clamped_norm(pi, d) * clamped_norm(zi, d));
        }
        return sum / (double)n;
    case SM_LOSS_L2:
        for (size_t i = 0; i < n; i++) sum += 0.5 * squared_distance(p + i * d, z + i * d, d);
        return sum / (double)n;
    case SM_LOSS_GAUSS: {
        double var = residual_variance(n, d, p, z);
        return var > 0.0 ? 0.5 * (double)d * (LOG_2PI_E + log(var)) : -INFINITY;
    }
    }
    assert(0 && "unknown loss kind");
    return NAN;
}

/* ∂/∂p of −cos(p, z) = −(ẑ − cos · p̂) / ‖p‖ when ‖p‖ > eps; below the clamp
 * the denominator is constant and it is −ẑ / eps. */
static void cosine_grad_add(const float *p, const float *z, size_t d, double scale, float *dp)
{
    double np = sqrt(dot(p, p, d)), nz = clamped_norm(z, d);
    if (np > SM_LOSS_COSINE_EPS) {
        double cos = dot(p, z, d) / (np * nz);
        for (size_t j = 0; j < d; j++) dp[j] += (float)(-scale * (z[j] / nz - cos * p[j] / np) / np);
    } else {
        for (size_t j = 0; j < d; j++) dp[j] += (float)(-scale * z[j] / (nz * SM_LOSS_COSINE_EPS));
    }
}

void sm_loss_backward(sm_loss_kind kind, size_t n, size_t d, const float *p, const float *z,
                      float scale, float *dp)
{
    assert(n >= 1 && d >= 1);
    assert(kind >= SM_LOSS_COSINE && kind <= SM_LOSS_GAUSS);
    double per_row = (double)scale / (double)n;
    if (kind == SM_LOSS_COSINE) {
        for (size_t i = 0; i < n; i++) cosine_grad_add(p + i * d, z + i * d, d, per_row, dp + i * d);
        return;
    }
    if (kind == SM_LOSS_GAUSS) { /* the l2 gradient divided by σ̂² */
        double var = residual_variance(n, d, p, z);
        if (var == 0.0) return; /* every residual is 0: so is the gradient */
        per_row /= var;
    }
    for (size_t k = 0; k < n * d; k++) dp[k] += (float)(per_row * ((double)p[k] - z[k]));
}
