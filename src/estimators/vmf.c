#include "estimators/vmf.h"

#include <assert.h>
#include <float.h>
#include <math.h>

#include <gsl/gsl_math.h> /* M_PI, M_LN2 */
#include <gsl/gsl_sf_bessel.h>
#include <gsl/gsl_sf_gamma.h>

/* ---- Bessel functions ------------------------------------------------------ */

/* Perron's continued fraction for the ratio R_v(x) = I_v(x)/I_{v−1}(x), v >= 1,
 * x > 0 (Gautschi & Slavik 1978):
 *
 *   R_v = x / (x + f),   f = 2v + a_1/(b_1 + a_2/(b_2 + …)),
 *   a_k = −(2v + 2k − 1) x,   b_k = 2(v + x) + k.
 *
 * Returning f rather than R gives 1 − R = f/(x + f) without cancellation.
 * The tail b_1 + a_2/(b_2 + …) is evaluated by the modified Lentz method; it
 * converges in at most 49 terms for v <= 1024 and x in [1e-300, 1e12]
 * (measured), so the iteration cap is never the stopping rule in practice. */
static double perron_f(double v, double x)
{
    const double tiny = 1e-300;
    const double b1 = 2.0 * (v + x) + 1.0;
    double tail = b1, c = b1, dinv = 0.0;
    for (int k = 2; k < 2000; k++) {
        const double a = -(2.0 * v + 2.0 * k - 1.0) * x;
        const double b = 2.0 * (v + x) + k;
        dinv = b + a * dinv;
        if (fabs(dinv) < tiny) dinv = tiny;
        dinv = 1.0 / dinv;
        c = b + a / c;
        if (fabs(c) < tiny) c = tiny;
        const double delta = c * dinv;
        tail *= delta;
        if (fabs(delta - 1.0) <= 0.5 * DBL_EPSILON) break;
    }
    return 2.0 * v - (2.0 * v + 1.0) * x / tail;
}

/* Below this (x² <= 4(ν + 1)) the power series converges in a few terms and
 * avoids the cancellation of ν log x against log I_ν(x) as x → 0. */
static int series_regime(double nu, double x) { return x * x <= 4.0 * (nu + 1.0); }

/* log S(ν, x), S = Σ_k (x²/4)^k / (k! (ν + 1)_k) = Γ(ν + 1) (2/x)^ν I_ν(x).
 * In the series regime the term ratio is <= 1 from k = 1 and <= ½ from k = 2,
 * so S <= e and all terms are positive: the sum is accurate to a few ulps. */
static double log_bessel_series(double nu, double x)
{
    const double q = 0.25 * x * x;
    double term = 1.0, sum = 1.0;
    for (double k = 1.0; term > 0.5 * DBL_EPSILON * sum; k += 1.0) {
        term *= q / (k * (nu + k));
        sum += term;
    }
    return log(sum);
}

/* log(I_ν(x) e^{−x}) outside the series regime: the base order ν0 = ν mod 1
 * (0 or ½) in closed form or from GSL, then up the orders by the ratios
 * I_v/I_{v−1}.  Each ratio is accurate to an ulp, so the sum of up to ~1000
 * logs stays accurate to ~1e-13 absolute. */
static double log_bessel_scaled_chain(double nu, double x)
{
    const double nu0 = nu - floor(nu);
    double s;
    if (nu0 == 0.0) {
        s = log(gsl_sf_bessel_I0_scaled(x));
    } else {
        /* I_½(x) = sqrt(2/(πx)) sinh x. */
        s = log(-expm1(-2.0 * x)) - 0.5 * log(2.0 * M_PI * x);
    }
    for (double v = nu0 + 1.0; v <= nu; v += 1.0) {
        s -= log1p(perron_f(v, x) / x); /* log R_v = −log(1 + f/x) */
    }
    return s;
}

/* ν must be a non-negative multiple of ½ (ν = d/2 − 1). */
static void assert_order(double nu) { assert(nu >= 0.0 && 2.0 * nu == floor(2.0 * nu)); }

double sm_vmf_log_bessel_i(double nu, double x)
{
    assert_order(nu);
    assert(x >= 0.0);
    if (x == 0.0) return nu == 0.0 ? 0.0 : -INFINITY;
    if (series_regime(nu, x))
        return nu * log(0.5 * x) - gsl_sf_lngamma(nu + 1.0) + log_bessel_series(nu, x);
    return log_bessel_scaled_chain(nu, x) + x;
}

/* ---- Normaliser, A_d, entropy --------------------------------------------- */

/* log C_d(κ) + κ: the normaliser with the e^κ of I_ν(κ) taken out, so large κ
 * loses nothing (log C_d(κ) ≈ −κ). */
static double log_c_scaled(size_t d, double kappa)
{
    assert(d >= 2 && kappa >= 0.0);
    const double nu = 0.5 * (double)d - 1.0;
    const double half_d_log_2pi = 0.5 * (double)d * log(2.0 * M_PI);
    if (series_regime(nu, kappa)) {
        /* ν log κ − log I_ν(κ) = ν log 2 + log Γ(ν + 1) − log S: no log κ. */
        return nu * M_LN2 + gsl_sf_lngamma(nu + 1.0) - half_d_log_2pi -
               log_bessel_series(nu, kappa) + kappa;
    }
    return nu * log(kappa) - half_d_log_2pi - log_bessel_scaled_chain(nu, kappa);
}

double sm_vmf_log_c(size_t d, double kappa) { return log_c_scaled(d, kappa) - kappa; }

/* A_d(κ) and 1 − A_d(κ), both to an ulp (A_d = R_{d/2}). */
static void a_and_complement(size_t d, double kappa, double *a, double *g)
{
    assert(d >= 2 && kappa >= 0.0);
    if (kappa == 0.0) {
        *a = 0.0;
        *g = 1.0;
        return;
    }
    const double f = perron_f(0.5 * (double)d, kappa);
    *a = kappa / (kappa + f);
    *g = f / (kappa + f);
}

double sm_vmf_a(size_t d, double kappa)
{
    double a, g;
    a_and_complement(d, kappa, &a, &g);
    return a;
}

double sm_vmf_a_complement(size_t d, double kappa)
{
    double a, g;
    a_and_complement(d, kappa, &a, &g);
    return g;
}

double sm_vmf_entropy(size_t d, double kappa)
{
    /* −κA − log C = κ(1 − A) − (log C + κ): no cancellation at large κ. */
    return kappa * sm_vmf_a_complement(d, kappa) - log_c_scaled(d, kappa);
}

double sm_vmf_nll(size_t d, double kappa, double gap) { return kappa * gap - log_c_scaled(d, kappa); }

/* ---- κ by maximum likelihood ----------------------------------------------- */

double sm_vmf_fit_kappa(size_t d, double gap)
{
    assert(d >= 2 && !isnan(gap));
    if (gap >= 1.0) return 0.0;
    if (gap < 0x1p-48) gap = 0x1p-48;
    /* The residual is A − R̄ while R̄ < ½ and gap − (1 − A) above: the
     * complement is what stays accurate as κ → ∞.  R̄ = 1 − gap keeps only an
     * absolute ε, so at small κ ≈ d R̄ the root is ε/R̄ relative: harmless. */
    const double rbar = 1.0 - gap;
    const double m1 = (double)d - 1.0;
    double kappa = rbar * ((double)d - rbar * rbar) / (gap * (1.0 + rbar));
    double lo = 0.0, hi = INFINITY; /* bracket of the root: 1 − A is decreasing */
    for (int it = 0; it < 200; it++) {
        double a, g;
        a_and_complement(d, kappa, &a, &g);
        const double resid = rbar < 0.5 ? rbar - a : g - gap; /* > 0: A too small */
        if (resid == 0.0) break;
        if (resid > 0.0) lo = kappa; /* root to the right */
        else hi = kappa;
        /* A' = 1 − A² − (d − 1)A/κ, with 1 − A² = g(2 − g). */
        const double slope = g * (2.0 - g) - m1 * a / kappa;
        double next = kappa + resid / slope;
        if (!(next > lo && next < hi)) /* Newton left the bracket (or slope <= 0) */
            next = isinf(hi) ? 2.0 * kappa : (lo > 0.0 ? sqrt(lo * hi) : 0.5 * hi);
        const double step = fabs(next - kappa);
        kappa = next;
        if (step <= 1e-13 * kappa || hi - lo <= 1e-15 * hi) break;
    }
    return kappa;
}

/* ---- Sampling (Wood 1994) --------------------------------------------------- */

/* Gamma(a, 1), a > 0: Marsaglia & Tsang (2000); a < 1 by G(a) = G(a + 1) U^{1/a}. */
static double gamma_draw(sm_rng *r, double a)
{
    if (a < 1.0) {
        const double u = 1.0 - sm_rng_uniform(r); /* (0, 1]: never 0 */
        return gamma_draw(r, a + 1.0) * pow(u, 1.0 / a);
    }
    const double dd = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
    for (;;) {
        double x, v;
        do {
            x = sm_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = sm_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x) return dd * v;
        if (log(u) < 0.5 * x * x + dd * (1.0 - v + log(v))) return dd * v;
    }
}

/* One draw of 1 − W, W = μᵀx the cosine to the mean direction.  Wood's
 * rejection sampler rewritten in terms of 1 − W and 1 − x0 so large κ (where
 * W and x0 are both within 1/κ of 1) loses nothing to cancellation.
 * b = (d − 1)/(2κ + sqrt(4κ² + (d − 1)²)) > 0. */
static double wood_gap(double kappa, double m1, double b, sm_rng *r)
{
    const double x0 = (1.0 - b) / (1.0 + b);
    const double one_minus_x0 = 2.0 * b / (1.0 + b);
    const double log_1mx0sq = log(4.0 * b) - 2.0 * log1p(b); /* log(1 − x0²) */
    for (;;) {
        const double g1 = gamma_draw(r, 0.5 * m1), g2 = gamma_draw(r, 0.5 * m1);
        const double z = g1 / (g1 + g2); /* Beta((d−1)/2, (d−1)/2) */
        const double gap = 2.0 * b * z / (1.0 - (1.0 - b) * z);
        /* κW + (d−1) log(1 − x0 W) − c  with  c = κ x0 + (d−1) log(1 − x0²). */
        const double t = kappa * (one_minus_x0 - gap) +
                         m1 * (log(one_minus_x0 + x0 * gap) - log_1mx0sq);
        if (log(1.0 - sm_rng_uniform(r)) <= t) return gap;
    }
}

/* A uniform unit vector orthogonal to mu (norm mu_norm) into v. */
static void tangent_draw(const double *mu, double mu_norm, size_t d, sm_rng *r, double *v)
{
    for (;;) {
        double dot = 0.0;
        for (size_t j = 0; j < d; j++) {
            v[j] = sm_rng_normal(r);
            dot += v[j] * mu[j];
        }
        dot /= mu_norm * mu_norm;
        double nrm = 0.0;
        for (size_t j = 0; j < d; j++) {
            v[j] -= dot * mu[j];
            nrm += v[j] * v[j];
        }
        if (nrm > 1e-200) {
            nrm = sqrt(nrm);
            for (size_t j = 0; j < d; j++) v[j] /= nrm;
            return;
        }
    }
}

int sm_vmf_sample(const double *mu, size_t d, double kappa, size_t n, sm_rng *r, double *out,
                  sm_status *st)
{
    assert(mu && r && (out || n == 0));
    if (d < 2)
        return sm_status_fail(st, SM_ERR_USAGE, "vMF sampling",
                              "dimension must be at least 2, got %zu", d);
    if (!(kappa >= 0.0) || !isfinite(kappa))
        return sm_status_fail(st, SM_ERR_USAGE, "vMF sampling",
                              "kappa must be finite and >= 0, got %g", kappa);
    double mu_norm = 0.0;
    for (size_t j = 0; j < d; j++) mu_norm += mu[j] * mu[j];
    mu_norm = sqrt(mu_norm);
    if (!(mu_norm > 0.0) || !isfinite(mu_norm))
        return sm_status_fail(st, SM_ERR_DATA, "vMF sampling",
                              "mean direction has zero or non-finite norm");

    const double m1 = (double)d - 1.0;
    /* b = (d−1)/(2κ + sqrt(4κ² + (d−1)²)), written not to overflow; b = 0
     * only when 2κ/(d−1) overflows, i.e. the point mass at μ. */
    const double t = kappa / (0.5 * m1);
    const double b = 1.0 / (t + hypot(t, 1.0));
    for (size_t i = 0; i < n; i++) {
        double *x = out + i * d;
        const double gap = b > 0.0 ? wood_gap(kappa, m1, b, r) : 0.0;
        const double w = 1.0 - gap, s = sqrt(gap * (2.0 - gap));
        tangent_draw(mu, mu_norm, d, r, x);
        double nrm = 0.0;
        for (size_t j = 0; j < d; j++) {
            x[j] = w * mu[j] / mu_norm + s * x[j];
            nrm += x[j] * x[j];
        }
        nrm = sqrt(nrm); /* 1 up to rounding; make it exact to an ulp */
        for (size_t j = 0; j < d; j++) x[j] /= nrm;
    }
    return SM_OK;
}
