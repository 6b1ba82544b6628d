/* Tests for src/estimators/vmf: normaliser, A_d, κ fit, Wood sampling. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_sf_bessel.h>
#include <gsl/gsl_sf_gamma.h>

#include "core/rng.h"
#include "core/status.h"
#include "estimators/vmf.h"

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (|diff| %.3g > tol %.3g)", got, want, fabs(got - want),
                 tol);
}

/* −log |S^{d−1}| = lgamma(d/2) − log 2 − (d/2) log π. */
static double minus_log_area(size_t d)
{
    return gsl_sf_lngamma(0.5 * (double)d) - M_LN2 - 0.5 * (double)d * log(M_PI);
}

/* log sinh κ without overflow. */
static double log_sinh(double k)
{
    return k < 1.0 ? log(sinh(k)) : k - M_LN2 + log1p(-exp(-2.0 * k));
}

static void test_log_c_d3_closed_form(void **state)
{
    (void)state;
    /* C_3(κ) = κ / (4π sinh κ). */
    const double ks[] = {1e-3, 0.1, 1.0, 10.0, 100.0, 700.0, 1e4};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const double k = ks[i];
        const double want = log(k) - log(4.0 * M_PI) - log_sinh(k);
        assert_close(sm_vmf_log_c(3, k), want, 1e-13 * fmax(1.0, fabs(want)));
    }
    assert_close(sm_vmf_log_c(3, 0.0), -log(4.0 * M_PI), 1e-15);
}

static void test_log_c_at_zero_is_minus_log_area(void **state)
{
    (void)state;
    const size_t ds[] = {2, 3, 4, 10, 64, 511, 2048};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        const double want = minus_log_area(ds[i]);
        assert_close(sm_vmf_log_c(ds[i], 0.0), want, 1e-13 * fmax(1.0, fabs(want)));
        /* κ so small that I_ν(κ) underflows for large ν: the series form. */
        assert_close(sm_vmf_log_c(ds[i], 1e-300), want, 1e-13 * fmax(1.0, fabs(want)));
    }
    assert_close(sm_vmf_log_c(2, 0.0), -log(2.0 * M_PI), 1e-15);
}

static void test_log_c_small_kappa_expansion(void **state)
{
    (void)state;
    /* log C_d(κ) = −log|S| − κ²/(2d) + κ⁴/(4d²(d+2)) − κ⁶/(3d³(d+2)(d+4)) + R,
     * |R| ≈ 0.6 κ⁸/d⁷ (checked against 60-digit mpmath).  κ = 100 at d = 2048
     * is outside the series regime: the ratio chain is tested too. */
    const size_t ds[] = {2, 3, 10, 64, 512, 2048};
    const double ks[] = {1e-8, 1e-2, 0.1, 1.0, 10.0, 100.0};
    int checked = 0;
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            const double d = (double)ds[i], k = ks[j];
            if (k > 0.05 * d) continue; /* expansion not accurate there */
            const double k2 = k * k;
            const double want = minus_log_area(ds[i]) - k2 / (2.0 * d) +
                                k2 * k2 / (4.0 * d * d * (d + 2.0)) -
                                k2 * k2 * k2 / (3.0 * d * d * d * (d + 2.0) * (d + 4.0));
            const double tol = k2 * k2 * k2 * k2 / pow(d, 7.0) + 1e-13 * fmax(1.0, fabs(want));
            assert_close(sm_vmf_log_c(ds[i], k), want, tol);
            checked++;
        }
    assert_true(checked >= 20);
}

/* log I_ν(κ) by Hankel's large-argument expansion (κ ≫ ν²), five terms;
 * *next = the size of the first omitted term (relative). */
static double log_i_hankel(double nu, double k, double *next)
{
    const double mu = 4.0 * nu * nu;
    double term = 1.0, sum = 1.0;
    for (int j = 1; j <= 5; j++) {
        term *= -(mu - (2.0 * j - 1.0) * (2.0 * j - 1.0)) / (j * 8.0 * k);
        if (j < 5) sum += term;
    }
    *next = fabs(term);
    return k - 0.5 * log(2.0 * M_PI * k) + log(sum);
}

/* log I_ν(νz) by Debye's uniform expansion (large ν), terms u1..u3. */
static double log_i_debye(double nu, double k)
{
    const double z = k / nu, s = hypot(1.0, z), t = 1.0 / s, t2 = t * t;
    const double eta = s + log(z / (1.0 + s));
    const double u1 = t * (3.0 - 5.0 * t2) / 24.0;
    const double u2 = t2 * (81.0 - 462.0 * t2 + 385.0 * t2 * t2) / 1152.0;
    const double u3 = t * t2 * (30375.0 - 369603.0 * t2 + 765765.0 * t2 * t2 -
                                425425.0 * t2 * t2 * t2) / 414720.0;
    return nu * eta - 0.5 * log(2.0 * M_PI * nu) - 0.5 * log(s) +
           log1p(u1 / nu + u2 / (nu * nu) + u3 / (nu * nu * nu));
}

static double log_c_from_log_i(size_t d, double k, double log_i)
{
    const double nu = 0.5 * (double)d - 1.0;
    return nu * log(k) - 0.5 * (double)d * log(2.0 * M_PI) - log_i;
}

static void test_log_c_large_kappa_expansions(void **state)
{
    (void)state;
    /* Hankel's expansion where it converges (small d, κ ≫ ν²). */
    const size_t ds[] = {2, 3, 4, 10, 64};
    const double ks[] = {1e3, 1e4, 1e5};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            const double nu = 0.5 * (double)ds[i] - 1.0, k = ks[j];
            if (4.0 * nu * nu > k) continue;
            double next;
            const double want = log_c_from_log_i(ds[i], k, log_i_hankel(nu, k, &next));
            assert_close(sm_vmf_log_c(ds[i], k), want, 2.0 * next + 1e-14 * fabs(want));
        }
    /* Debye's uniform expansion for large d (Hankel's diverges there: at
     * d = 2048, κ = 1e5, (4ν² − 1)/(8κ) = 5.2).  Omitted u4/ν⁴ < 1/ν⁴. */
    const size_t dl[] = {256, 1024, 2048};
    const double kl[] = {100.0, 1e3, 1e4, 1e5};
    for (size_t i = 0; i < sizeof dl / sizeof dl[0]; i++)
        for (size_t j = 0; j < sizeof kl / sizeof kl[0]; j++) {
            const double nu = 0.5 * (double)dl[i] - 1.0, k = kl[j];
            const double want = log_c_from_log_i(dl[i], k, log_i_debye(nu, k));
            assert_close(sm_vmf_log_c(dl[i], k), want, pow(nu, -4.0) + 1e-14 * fabs(want));
        }
}

static void test_log_c_and_a_reference_values(void **state)
{
    (void)state;
    /* 60-digit mpmath: log C_d(κ) = ν log κ − (d/2) log 2π − log besseli(ν, κ),
     * A_d(κ) = besseli(ν + 1, κ)/besseli(ν, κ). */
    static const struct {
        size_t d;
        double k, log_c, a;
    } ref[] = {
        {2, 1e5, -99995.162477050725809, 0.999994999987499875},
        {3, 1e5, -99990.324951601439117, 0.99999},
        {10, 0.5, -3.2512297895341127761, 0.049896203861781465213},
        {64, 50, 24.748380226565230553, 0.54939448887983946137},
        {65, 44, 29.239154550095153006, 0.50645075168505075943},
        {512, 1e-3, 867.9681031594176984, 1.95312499999257841e-6},
        {1000, 620, 1865.3698029835582745, 0.47832514392279672387},
        {2048, 1, 4898.3836185135090127, 0.00048828113369830944566},
        {2048, 300, 4876.640250102937559, 0.14347193526442437026},
        {2048, 1e4, -2402.0002579286430001, 0.9028695425624988145},
        {2048, 1e5, -90092.35533979365993, 0.98981732559176106777},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        assert_close(sm_vmf_log_c(ref[i].d, ref[i].k), ref[i].log_c,
                     2e-14 * fmax(1.0, fabs(ref[i].log_c)));
        assert_close(sm_vmf_a(ref[i].d, ref[i].k), ref[i].a, 1e-14 * ref[i].a);
    }
}

static void test_log_bessel_matches_gsl_where_gsl_is_safe(void **state)
{
    (void)state;
    /* An independent implementation on the region where GSL's
     * Inu_scaled is accurate (moderate ν and κ); skip what GSL rejects. */
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    const double nus[] = {0.5, 1.0, 1.5, 4.0, 31.0, 50.0};
    const double ks[] = {1e-3, 0.5, 3.0, 10.0, 50.0, 200.0};
    int compared = 0;
    for (size_t i = 0; i < sizeof nus / sizeof nus[0]; i++)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            gsl_sf_result r;
            if (gsl_sf_bessel_Inu_scaled_e(nus[i], ks[j], &r) != GSL_SUCCESS || r.val < 1e-280)
                continue;
            const double want = log(r.val) + ks[j];
            assert_close(sm_vmf_log_bessel_i(nus[i], ks[j]), want,
                         1e-13 * fmax(1.0, fabs(want)));
            compared++;
        }
    gsl_set_error_handler(old);
    assert_true(compared >= 30);
    assert_close(sm_vmf_log_bessel_i(0.0, 0.0), 0.0, 0.0);
    assert_true(isinf(sm_vmf_log_bessel_i(2.0, 0.0)) && sm_vmf_log_bessel_i(2.0, 0.0) < 0);
}

static void test_log_c_finite_and_decreasing_everywhere(void **state)
{
    (void)state;
    /* d log C/dκ = −A < 0: strictly decreasing, finite on the whole range. */
    const size_t ds[] = {2, 3, 4, 5, 8, 15, 16, 63, 64, 255, 256, 1023, 1024, 2047, 2048};
    const double ks[] = {0.0, 1e-300, 1e-10, 1e-3, 0.1, 1.0, 3.0, 10.0, 44.0, 90.0,
                         300.0, 620.0, 1e3, 3e3, 1e4, 1e5};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        double prev = INFINITY;
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            const double lc = sm_vmf_log_c(ds[i], ks[j]);
            const double a = sm_vmf_a(ds[i], ks[j]), g = sm_vmf_a_complement(ds[i], ks[j]);
            assert_true(isfinite(lc) && isfinite(sm_vmf_entropy(ds[i], ks[j])));
            if (ks[j] > 1e-10) assert_true(lc < prev);
            assert_true(a >= 0.0 && a < 1.0 && g > 0.0 && g <= 1.0);
            assert_close(a + g, 1.0, 2.5e-16);
            prev = lc;
        }
    }
}

static void test_a_d3_closed_form(void **state)
{
    (void)state;
    /* A_3(κ) = coth κ − 1/κ, which cancels for small κ: there its series
     * κ/3 − κ³/45 + 2κ⁵/945 − κ⁷/4725 + 2κ⁹/93555 (error < κ¹¹/1e6).
     * 1 − A_3 = 1/κ − 2e^{−2κ}/(1 − e^{−2κ}) for large κ. */
    const double ks[] = {1e-6, 1e-3, 0.1, 1.0, 10.0, 100.0, 700.0, 1e4, 1e5};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const double k = ks[i], k2 = k * k;
        const double series =
            k * (1.0 / 3.0 +
                 k2 * (-1.0 / 45.0 + k2 * (2.0 / 945.0 + k2 * (-1.0 / 4725.0 + k2 * 2.0 / 93555.0))));
        const double a = k <= 0.1 ? series : 1.0 / tanh(k) - 1.0 / k;
        assert_close(sm_vmf_a(3, k), a, 1e-14 * a);
        if (k >= 1.0) {
            const double e = exp(-2.0 * k);
            const double g = 1.0 / k - 2.0 * e / (1.0 - e);
            assert_close(sm_vmf_a_complement(3, k), g, 1e-14 * g);
        }
    }
    assert_close(sm_vmf_a(3, 0.0), 0.0, 0.0);
    assert_close(sm_vmf_a_complement(3, 0.0), 1.0, 0.0);
}

static void test_circle_d2_against_i0_i1(void **state)
{
    (void)state;
    /* d = 2: A_2 = I1/I0, C_2(κ) = 1/(2π I0(κ)) (GSL's I0, I1 are accurate to ulps). */
    const double ks[] = {1e-3, 0.3, 1.0, 3.0, 10.0, 300.0, 1e4, 1e5};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const double k = ks[i];
        const double a = gsl_sf_bessel_I1_scaled(k) / gsl_sf_bessel_I0_scaled(k);
        assert_close(sm_vmf_a(2, k), a, 1e-14 * a);
        const double lc = -log(2.0 * M_PI) - log(gsl_sf_bessel_I0_scaled(k)) - k;
        assert_close(sm_vmf_log_c(2, k), lc, 1e-14 * fmax(1.0, fabs(lc)));
    }
}

static void test_fit_kappa_inverts_a(void **state)
{
    (void)state;
    const size_t ds[] = {2, 3, 10, 64, 512, 2048};
    const double ks[] = {1e-3, 0.5, 5.0, 50.0, 500.0, 1e4, 1e5};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            const double k = ks[j];
            /* Given as the complement 1 − A (to an ulp), κ comes back to 1e-12
             * at large κ too (δκ/κ = δgap/gap, gap ≈ (d − 1)/(2κ)); at small κ
             * R̄ = 1 − gap ≈ κ/d keeps an absolute ε, δκ/κ ≈ ε/A. */
            const double tol = fmax(1e-12, 4.0 * DBL_EPSILON / sm_vmf_a(ds[i], k));
            assert_close(sm_vmf_fit_kappa(ds[i], sm_vmf_a_complement(ds[i], k)), k, tol * k);
        }
    assert_close(sm_vmf_fit_kappa(10, 1.0), 0.0, 0.0); /* R̄ = 0 */
    assert_close(sm_vmf_fit_kappa(10, 1.3), 0.0, 0.0); /* R̄ = −0.3 */
    /* R̄ → 1: large but finite; κ ≈ (d − 1)/(2(1 − R̄)). */
    const double k1 = sm_vmf_fit_kappa(10, 0.0);
    assert_true(isfinite(k1) && k1 > 1e14);
    assert_close(sm_vmf_fit_kappa(10, 1e-10), 9.0 / 2e-10, 1e-5 * 9.0 / 2e-10);
}

/* Draw n samples per (d, κ) around a random μ; return the fitted κ. */
static double fit_kappa_from_samples(size_t d, double kappa, size_t n, uint64_t seed,
                                     double *mean_res)
{
    sm_rng r;
    sm_rng_seed(&r, seed, d);
    double *mu = malloc(d * sizeof *mu), *x = malloc(n * d * sizeof *x);
    assert_non_null(mu);
    assert_non_null(x);
    double nrm = 0.0;
    for (size_t j = 0; j < d; j++) {
        mu[j] = sm_rng_normal(&r);
        nrm += mu[j] * mu[j];
    }
    nrm = sqrt(nrm);
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_vmf_sample(mu, d, kappa, n, &r, x, &st), SM_OK);
    double sum_cos = 0.0;
    double *mean = calloc(d, sizeof *mean);
    assert_non_null(mean);
    for (size_t i = 0; i < n; i++) {
        double c = 0.0, len = 0.0;
        for (size_t j = 0; j < d; j++) {
            c += x[i * d + j] * mu[j] / nrm;
            len += x[i * d + j] * x[i * d + j];
            mean[j] += x[i * d + j] / (double)n;
        }
        assert_close(len, 1.0, 1e-14);
        sum_cos += c;
    }
    /* The sample mean vector is A_d(κ) μ: its residual off that vector. */
    double res = 0.0;
    const double a = sm_vmf_a(d, kappa);
    for (size_t j = 0; j < d; j++) res += pow(mean[j] - a * mu[j] / nrm, 2);
    *mean_res = sqrt(res);
    free(mean);
    free(mu);
    free(x);
    return sm_vmf_fit_kappa(d, 1.0 - sum_cos / (double)n);
}

static void test_fit_recovers_kappa_of_wood_samples(void **state)
{
    (void)state;
    const size_t ds[] = {3, 10, 64};
    const double ks[] = {5.0, 50.0, 500.0};
    const size_t n = 10000;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            double res;
            const double k = fit_kappa_from_samples(ds[i], ks[j], n, 11 + j, &res);
            assert_close(k, ks[j], 0.05 * ks[j]);
            /* Each coordinate of the mean has sd <= 1/sqrt(n): the residual
             * norm is about sqrt(d/n) at most. */
            assert_true(res < 3.0 * sqrt((double)ds[i] / (double)n));
        }
}

static void test_sample_circle_d2(void **state)
{
    (void)state;
    /* On the circle: E[cos θ] = I1/I0, E[sin θ] = 0, E[cos 2θ] = I2/I0. */
    const double kappa = 2.0, mu[2] = {0.0, 3.0}; /* direction (0, 1), not unit */
    const size_t n = 20000;
    double *x = malloc(n * 2 * sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, 5, 0);
    assert_int_equal(sm_vmf_sample(mu, 2, kappa, n, &r, x, NULL), SM_OK);
    double c1 = 0.0, s1 = 0.0, c2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double c = x[2 * i + 1], s = x[2 * i]; /* angle from μ = (0, 1) */
        c1 += c;
        s1 += s;
        c2 += c * c - s * s;
    }
    const double i0 = gsl_sf_bessel_I0(kappa);
    /* Standard errors: sd <= 1 over sqrt(n) = 0.007. */
    assert_close(c1 / n, gsl_sf_bessel_I1(kappa) / i0, 0.02);
    assert_close(s1 / n, 0.0, 0.02);
    assert_close(c2 / n, gsl_sf_bessel_In(2, kappa) / i0, 0.02);
    free(x);
}

static void test_sample_extremes(void **state)
{
    (void)state;
    sm_rng r;
    sm_rng_seed(&r, 9, 0);
    const double mu[4] = {1.0, 1.0, 1.0, 1.0};
    double x[4 * 200];
    /* κ = 0: uniform, E[cos] = 0 (sd 1/(2 sqrt(200)) = 0.035). */
    assert_int_equal(sm_vmf_sample(mu, 4, 0.0, 200, &r, x, NULL), SM_OK);
    double c = 0.0;
    for (size_t i = 0; i < 200; i++) /* μ̂ = (½, ½, ½, ½) */
        c += 0.5 * (x[4 * i] + x[4 * i + 1] + x[4 * i + 2] + x[4 * i + 3]);
    assert_close(c / 200.0, 0.0, 0.15);
    /* κ = 1e12: within ~1e-6 of μ, still unit and finite. */
    assert_int_equal(sm_vmf_sample(mu, 4, 1e12, 200, &r, x, NULL), SM_OK);
    for (size_t i = 0; i < 4 * 200; i++) assert_close(x[i], 0.5, 1e-5);
}

static void test_sample_errors(void **state)
{
    (void)state;
    sm_rng r;
    sm_rng_seed(&r, 1, 0);
    sm_status st;
    double x[6];
    const double zero[3] = {0, 0, 0}, mu[3] = {1, 0, 0};
    sm_status_clear(&st);
    assert_int_equal(sm_vmf_sample(zero, 3, 1.0, 2, &r, x, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "zero"));
    assert_int_equal(sm_vmf_sample(mu, 3, -1.0, 2, &r, x, &st), SM_ERR_USAGE);
    assert_int_equal(sm_vmf_sample(mu, 3, NAN, 2, &r, x, &st), SM_ERR_USAGE);
    assert_int_equal(sm_vmf_sample(mu, 1, 1.0, 2, &r, x, &st), SM_ERR_USAGE);
}

static void test_entropy_limits(void **state)
{
    (void)state;
    /* κ = 0: log |S^{d−1}|; d = 3 closed form −κ(coth κ − 1/κ) − log C_3(κ). */
    assert_close(sm_vmf_entropy(64, 0.0), -minus_log_area(64), 1e-12);
    const double k = 7.0;
    const double want = -k * (1.0 / tanh(k) - 1.0 / k) - (log(k) - log(4.0 * M_PI) - log_sinh(k));
    assert_close(sm_vmf_entropy(3, k), want, 1e-13);
    assert_close(sm_vmf_nll(3, k, 0.75), -k * 0.25 - sm_vmf_log_c(3, k), 1e-13); /* cos 0.25 */
    /* Large κ: entropy ≈ (d−1)/2 (1 − log(κ/2π)) + … decreases without bound. */
    assert_true(sm_vmf_entropy(10, 1e5) < sm_vmf_entropy(10, 1e4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_c_d3_closed_form),
        cmocka_unit_test(test_log_c_at_zero_is_minus_log_area),
        cmocka_unit_test(test_log_c_small_kappa_expansion),
        cmocka_unit_test(test_log_c_large_kappa_expansions),
        cmocka_unit_test(test_log_c_and_a_reference_values),
        cmocka_unit_test(test_log_bessel_matches_gsl_where_gsl_is_safe),
        cmocka_unit_test(test_log_c_finite_and_decreasing_everywhere),
        cmocka_unit_test(test_a_d3_closed_form),
        cmocka_unit_test(test_circle_d2_against_i0_i1),
        cmocka_unit_test(test_fit_kappa_inverts_a),
        cmocka_unit_test(test_fit_recovers_kappa_of_wood_samples),
        cmocka_unit_test(test_sample_circle_d2),
        cmocka_unit_test(test_sample_extremes),
        cmocka_unit_test(test_sample_errors),
        cmocka_unit_test(test_entropy_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
