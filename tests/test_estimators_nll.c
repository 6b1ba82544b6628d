/* Tests for src/estimators/nll: the five NLL families, fitted models, log Q. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_math.h>
#include <gsl/gsl_sf_bessel.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "estimators/nll.h"
#include "estimators/vmf.h"

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (|diff| %.3g > tol %.3g)", got, want, fabs(got - want),
                 tol);
}

static sm_nll_model *fitted(sm_nll_family f, const double *z, const double *p, size_t n,
                            size_t d, sm_arena *ws)
{
    sm_status st;
    sm_status_clear(&st);
    sm_nll_model *m = sm_nll_model_alloc(f, d, &st);
    assert_non_null(m);
    if (sm_nll_model_fit(m, z, p, n, ws, &st) != SM_OK) fail_msg("fit failed: %s", st.msg);
    return m;
}

/* mean over the fitting rows of −log Q(z_i; p_i) must equal mean_nll. */
static void assert_log_q_consistent(const sm_nll_model *m, const double *z, const double *p,
                                    size_t n)
{
    double *lq = malloc(n * sizeof *lq);
    assert_non_null(lq);
    assert_int_equal(sm_nll_model_log_q(m, z, p, n, lq, NULL, NULL), SM_OK);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s -= lq[i];
    assert_close(s / (double)n, m->mean_nll, 1e-12 * fmax(1.0, fabs(m->mean_nll)));
    free(lq);
}

static void test_family_names(void **state)
{
    (void)state;
    const char *names[] = {"l2", "iso", "diag", "full", "vmf"};
    for (int i = 0; i < 5; i++) {
        sm_nll_family f;
        assert_int_equal(sm_nll_family_parse(names[i], &f, NULL), SM_OK);
        assert_string_equal(sm_nll_family_name(f), names[i]);
    }
    sm_nll_family f;
    assert_int_equal(sm_nll_family_parse("gauss-full", &f, NULL), SM_OK);
    assert_int_equal(f, SM_NLL_FULL);
    assert_int_equal(sm_nll_family_parse("gauss-iso", &f, NULL), SM_OK);
    assert_int_equal(f, SM_NLL_ISO);
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_nll_family_parse("cosine", &f, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "'cosine'"));
    assert_non_null(strstr(st.msg, "l2, iso, diag, full or vmf"));
}

/* The tiny fixture: n = 3, d = 2, residuals r = z − p = (½, 1), (0, 1), (1, −1). */
static const double Z3[6] = {1, 2, 0, 1, 2, -1};
static const double P3[6] = {0.5, 1, 0, 0, 1, 0};

static void test_hand_values_gaussian_families(void **state)
{
    (void)state;
    const double l2pe = log(2.0 * M_PI * M_E);
    /* Σ‖r‖² = 1.25 + 1 + 2 = 4.25. */
    sm_nll_model *m = fitted(SM_NLL_L2, Z3, P3, 3, 2, NULL);
    assert_close(m->mean_nll, 4.25 / 6.0 + log(2.0 * M_PI), 1e-12);
    assert_log_q_consistent(m, Z3, P3, 3);
    sm_nll_model_free(m);

    m = fitted(SM_NLL_ISO, Z3, P3, 3, 2, NULL);
    assert_close(m->sigma2, 4.25 / 6.0, 1e-15);
    assert_close(m->mean_nll, log(2.0 * M_PI * M_E * 4.25 / 6.0), 1e-12);
    assert_log_q_consistent(m, Z3, P3, 3);
    sm_nll_model_free(m);

    /* s1² = (¼ + 0 + 1)/3, s2² = (1 + 1 + 1)/3 = 1. */
    m = fitted(SM_NLL_DIAG, Z3, P3, 3, 2, NULL);
    assert_close(m->s2[0], 1.25 / 3.0, 1e-15);
    assert_close(m->s2[1], 1.0, 1e-15);
    assert_close(m->mean_nll, 0.5 * (log(2.0 * M_PI * M_E * 1.25 / 3.0) + l2pe), 1e-12);
    assert_log_q_consistent(m, Z3, P3, 3);
    sm_nll_model_free(m);

    /* Σ_r = [[1.25, −0.5], [−0.5, 3]]/3 (about p, not centred): det = 3.5/9. */
    m = fitted(SM_NLL_FULL, Z3, P3, 3, 2, NULL);
    const double s11 = 1.25 / 3.0, s12 = -0.5 / 3.0, s22 = 1.0, det = 3.5 / 9.0;
    assert_close(m->chol[0], sqrt(s11), 1e-15);
    assert_close(m->chol[1], 0.0, 0.0);
    assert_close(m->chol[2], s12 / sqrt(s11), 1e-15);
    assert_close(m->chol[3], sqrt(det / s11), 1e-15);
    assert_close(m->mean_nll, l2pe + 0.5 * log(det), 1e-12);
    assert_log_q_consistent(m, Z3, P3, 3);
    /* A cross pair (z row 0, p row 2) against −½ rᵀΣ⁻¹r − ½ log det(2πΣ). */
    const double r0 = Z3[0] - P3[4], r1 = Z3[1] - P3[5];
    const double maha = (s22 * r0 * r0 - 2.0 * s12 * r0 * r1 + s11 * r1 * r1) / det;
    double lq;
    assert_int_equal(sm_nll_model_log_q(m, Z3, P3 + 4, 1, &lq, NULL, NULL), SM_OK);
    assert_close(lq, -0.5 * maha - 0.5 * log(4.0 * M_PI * M_PI * det), 1e-12);
    sm_nll_model_free(m);
}

/* sm_nll_mean is the fit's mean NLL, and passes a fit's failure on. */
static void test_mean_in_one_call(void **state)
{
    (void)state;
    sm_status st;
    double v = 0;
    assert_int_equal(sm_nll_mean(SM_NLL_ISO, Z3, P3, 3, 2, &v, NULL, &st), SM_OK);
    assert_close(v, log(2.0 * M_PI * M_E * 4.25 / 6.0), 1e-12);
    assert_int_equal(sm_nll_mean(SM_NLL_FULL, Z3, P3, 1, 2, &v, NULL, &st), SM_ERR_DATA);
}

static void test_hand_values_vmf(void **state)
{
    (void)state;
    /* cosines 1, 1/√2, 2/√5 (p need not be unit; z's norm is dropped). */
    const double p[6] = {0.5, 1, 1, 1, 1, 0};
    sm_nll_model *m = fitted(SM_NLL_VMF, Z3, p, 3, 2, NULL);
    const double rbar = (1.0 + 1.0 / sqrt(2.0) + 2.0 / sqrt(5.0)) / 3.0;
    assert_close(m->mean_cos, rbar, 1e-15);
    /* d = 2: κ solves I1(κ)/I0(κ) = R̄; NLL = −κR̄ + log(2π I0(κ)). */
    const double k = m->kappa;
    assert_close(gsl_sf_bessel_I1_scaled(k) / gsl_sf_bessel_I0_scaled(k), rbar, 1e-13);
    assert_close(m->mean_nll, -k * rbar + log(2.0 * M_PI) + log(gsl_sf_bessel_I0_scaled(k)) + k,
                 1e-12);
    assert_log_q_consistent(m, Z3, p, 3);
    sm_nll_model_free(m);
}

/* Nearly aligned rows (angles 1e-7 and 2e-7 on the circle): 1 − cos is
 * 2 sin²(θ/2) ≈ 5e-15 and 2e-14, which a computed cosine would give only to
 * an absolute 1e-16 (2% of it); the fit takes it from ½‖ẑ − p̂‖², so κ and
 * the NLL agree with the exact gap to 1e-9. */
static void test_vmf_nearly_aligned(void **state)
{
    (void)state;
    const double t1 = 1e-7, t2 = 2e-7;
    const double z[4] = {cos(t1), sin(t1), 3 * cos(t2), -3 * sin(t2)}, p[4] = {2, 0, 1, 0};
    sm_nll_model *m = fitted(SM_NLL_VMF, z, p, 2, 2, NULL);
    const double gap = (2 * pow(sin(t1 / 2), 2) + 2 * pow(sin(t2 / 2), 2)) / 2;
    const double k = sm_vmf_fit_kappa(2, gap);
    assert_true(k > 1e13);
    assert_close(m->kappa, k, 1e-9 * k);
    /* d = 2: NLL = κ·gap − (log C_2(κ) + κ), log C_2(κ) = −log(2π I0(κ)) */
    assert_close(m->mean_nll, k * gap + log(2.0 * M_PI) + log(gsl_sf_bessel_I0_scaled(k)), 1e-9);
    assert_log_q_consistent(m, z, p, 2);
    sm_nll_model_free(m);
}

static void random_rows(sm_rng *r, double *x, size_t n, size_t d, double scale)
{
    for (size_t i = 0; i < n * d; i++) x[i] = scale * sm_rng_normal(r);
}

static void test_l2_against_formula(void **state)
{
    (void)state;
    enum { N = 50, D = 5 };
    double z[N * D], p[N * D];
    sm_rng r;
    sm_rng_seed(&r, 2, 0);
    random_rows(&r, z, N, D, 1.5);
    random_rows(&r, p, N, D, 0.7);
    double s = 0.0;
    for (size_t i = 0; i < N * D; i++) s += 0.5 * (z[i] - p[i]) * (z[i] - p[i]);
    sm_nll_model *m = fitted(SM_NLL_L2, z, p, N, D, NULL);
    assert_close(m->mean_nll, s / N + 0.5 * D * log(2.0 * M_PI), 1e-12);
    double lq[N];
    assert_int_equal(sm_nll_model_log_q(m, z, p, N, lq, NULL, NULL), SM_OK);
    for (size_t i = 0; i < N; i++) {
        double ri = 0.0;
        for (size_t j = 0; j < D; j++) ri += 0.5 * pow(z[i * D + j] - p[i * D + j], 2);
        assert_close(lq[i], -ri - 0.5 * D * log(2.0 * M_PI), 1e-12);
    }
    sm_nll_model_free(m);
}

static void test_full_le_diag_le_iso(void **state)
{
    (void)state;
    enum { N = 40, D = 6 };
    double z[N * D], p[N * D];
    sm_arena ws = {0};
    for (uint64_t seed = 0; seed < 20; seed++) {
        sm_rng r;
        sm_rng_seed(&r, seed, 1);
        random_rows(&r, p, N, D, 1.0);
        /* Correlated, anisotropic residuals with a non-zero mean. */
        for (size_t i = 0; i < N; i++) {
            double g = sm_rng_normal(&r);
            for (size_t j = 0; j < D; j++)
                z[i * D + j] = p[i * D + j] + (0.2 + j) * sm_rng_normal(&r) + g + 0.3;
        }
        sm_nll_model *full = fitted(SM_NLL_FULL, z, p, N, D, &ws);
        sm_nll_model *diag = fitted(SM_NLL_DIAG, z, p, N, D, &ws);
        sm_nll_model *iso = fitted(SM_NLL_ISO, z, p, N, D, &ws);
        assert_true(full->mean_nll <= diag->mean_nll + 1e-12);
        assert_true(diag->mean_nll <= iso->mean_nll + 1e-12);
        assert_true(iso->mean_nll < diag->mean_nll + 10.0); /* all finite */
        sm_nll_model_free(full);
        sm_nll_model_free(diag);
        sm_nll_model_free(iso);
    }
    assert_int_equal(sm_arena_mark(&ws), 0); /* every fit released its scratch */
    sm_arena_free(&ws);
}

static void test_gaussian_ground_truth(void **state)
{
    (void)state;
    /* z = p + A g, g ~ N(0, I): E[NLL_full] → ½ log det(2πe Σ), Σ = A Aᵀ. */
    enum { D = 4 };
    const size_t n = 20000;
    const double a[D * D] = {1.0, 0, 0, 0, 0.5, 0.8, 0, 0, -0.3, 0.2, 0.5, 0, 0.1, -0.4, 0.3, 1.5};
    double *z = malloc(n * D * sizeof *z), *p = malloc(n * D * sizeof *p);
    assert_non_null(z);
    assert_non_null(p);
    sm_rng r;
    sm_rng_seed(&r, 4, 0);
    random_rows(&r, p, n, D, 2.0);
    for (size_t i = 0; i < n; i++) {
        double g[D];
        for (size_t j = 0; j < D; j++) g[j] = sm_rng_normal(&r);
        for (size_t j = 0; j < D; j++) {
            double e = 0.0;
            for (size_t k = 0; k <= j; k++) e += a[j * D + k] * g[k];
            z[i * D + j] = p[i * D + j] + e;
        }
    }
    /* A is lower triangular: log det Σ = 2 Σ log A_jj; Σ_jj = Σ_k A_jk². */
    double logdet = 0.0, sum_log_diag = 0.0, trace = 0.0;
    for (size_t j = 0; j < D; j++) {
        logdet += 2.0 * log(a[j * D + j]);
        double sjj = 0.0;
        for (size_t k = 0; k < D; k++) sjj += a[j * D + k] * a[j * D + k];
        sum_log_diag += log(2.0 * M_PI * M_E * sjj);
        trace += sjj;
    }
    const double h_full = 0.5 * (D * log(2.0 * M_PI * M_E) + logdet);
    const double h_diag = 0.5 * sum_log_diag;
    const double h_iso = 0.5 * D * log(2.0 * M_PI * M_E * trace / D);
    sm_nll_model *m = fitted(SM_NLL_FULL, z, p, n, D, NULL);
    assert_close(m->mean_nll, h_full, 0.01 * fabs(h_full));
    sm_nll_model_free(m);
    m = fitted(SM_NLL_DIAG, z, p, n, D, NULL);
    assert_close(m->mean_nll, h_diag, 0.01 * fabs(h_diag));
    sm_nll_model_free(m);
    m = fitted(SM_NLL_ISO, z, p, n, D, NULL);
    assert_close(m->mean_nll, h_iso, 0.01 * fabs(h_iso));
    sm_nll_model_free(m);
    free(z);
    free(p);
}

static void test_vmf_nll_matches_entropy(void **state)
{
    (void)state;
    /* z_i = s_i · x_i, x_i ~ vMF(μ_i, κ), p_i = t_i μ_i with arbitrary scales
     * s_i, t_i > 0: E[NLL] → H_vMF = −κA_d(κ) − log C_d(κ) on the sphere.
     * The per-row NLL has sd κ sqrt(A'(κ)) (≈ 1.0, 2.1, 3.8 here): n is set so
     * that 1% of |H| (0.012, 0.081, 0.52) is at least 3.9 standard errors. */
    const size_t ds[] = {3, 10, 64}, ns[] = {100000, 20000, 5000};
    const double ks[] = {5.0, 100.0, 50.0};
    for (size_t c = 0; c < 3; c++) {
        const size_t d = ds[c], n = ns[c];
        double *z = malloc(n * d * sizeof *z), *p = malloc(n * d * sizeof *p);
        assert_non_null(z);
        assert_non_null(p);
        sm_rng r;
        sm_rng_seed(&r, 8, d);
        random_rows(&r, p, n, d, 1.0);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(sm_vmf_sample(p + i * d, d, ks[c], 1, &r, z + i * d, NULL), SM_OK);
            const double s = 0.1 + 3.0 * sm_rng_uniform(&r);
            for (size_t j = 0; j < d; j++) z[i * d + j] *= s;
        }
        sm_nll_model *m = fitted(SM_NLL_VMF, z, p, n, d, NULL);
        const double h = sm_vmf_entropy(d, ks[c]);
        assert_close(m->mean_nll, h, 0.01 * fabs(h));
        assert_close(m->kappa, ks[c], 0.05 * ks[c]);
        assert_close(m->log_norm, sm_vmf_log_c(d, m->kappa), 1e-12 * fabs(m->log_norm));
        assert_log_q_consistent(m, z, p, n);
        sm_nll_model_free(m);
        free(z);
        free(p);
    }
}

static void test_features_give_log_q_of_cross_pairs(void **state)
{
    (void)state;
    enum { N = 30, D = 3 };
    double z[N * D], p[N * D], fz[N * D], fp[N * D];
    sm_rng r;
    sm_rng_seed(&r, 12, 0);
    random_rows(&r, p, N, D, 1.0);
    for (size_t i = 0; i < N * D; i++) z[i] = p[i] + (1 + i % D) * 0.3 * sm_rng_normal(&r);
    const sm_nll_family fams[] = {SM_NLL_L2, SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF};
    for (size_t f = 0; f < 5; f++) {
        sm_nll_model *m = fitted(fams[f], z, p, N, D, NULL);
        assert_int_equal(sm_nll_model_features(m, z, N, fz, NULL), SM_OK);
        memcpy(fp, p, sizeof fp);
        assert_int_equal(sm_nll_model_features(m, fp, N, fp, NULL), SM_OK); /* in place */
        for (size_t i = 0; i < N; i++) {
            const size_t j = (i * 7 + 3) % N; /* a cross pair (z_j, p_i) */
            double lq;
            assert_int_equal(sm_nll_model_log_q(m, z + j * D, p + i * D, 1, &lq, NULL, NULL),
                             SM_OK);
            double dd = 0.0, dot = 0.0;
            for (size_t k = 0; k < D; k++) {
                dd += pow(fz[j * D + k] - fp[i * D + k], 2);
                dot += fz[j * D + k] * fp[i * D + k];
            }
            const double want =
                fams[f] == SM_NLL_VMF ? m->log_norm + m->kappa * dot : m->log_norm - 0.5 * dd;
            assert_close(lq, want, 1e-12 * fmax(1.0, fabs(want)));
        }
        sm_nll_model_free(m);
    }
}

static void test_errors(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    /* full: residuals on a line are not positive definite. */
    const double z[6] = {1, 2, 2, 4, 3, 6}, p[6] = {0};
    sm_nll_model *m = sm_nll_model_alloc(SM_NLL_FULL, 2, &st);
    assert_non_null(m);
    assert_int_equal(sm_nll_model_fit(m, z, p, 3, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "not positive definite"));
    assert_non_null(strstr(st.msg, "do not span"));
    assert_close(m->chol[0], 1.0, 0.0); /* unchanged on error */
    /* n <= d: n = 1 < d is singular; n = d = 2 independent residuals give a
     * regular Σ_r = diag(½, 2) that only reproduces them (both rows at
     * Mahalanobis distance √2): refused as well.  One row more fits. */
    const double zi[6] = {1, 0, 0, 2, 1, 1};
    for (size_t n = 1; n <= 2; n++) {
        sm_status_clear(&st);
        assert_int_equal(sm_nll_model_fit(m, zi, p, n, NULL, &st), SM_ERR_DATA);
        assert_non_null(strstr(st.msg, "the full family needs n > d"));
    }
    assert_close(m->chol[0], 1.0, 0.0);
    assert_int_equal(sm_nll_model_fit(m, zi, p, 3, NULL, &st), SM_OK);
    /* residuals whose squares overflow: said so, not "do not span" */
    const double zb[6] = {1e155, 0, 0, 2e155, 1e155, 1e155};
    assert_int_equal(sm_nll_model_fit(m, zb, p, 3, NULL, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "second moments overflow: values too large to square (beyond ~1e154), rescale the "
                                "data (full NLL)");
    sm_nll_model_free(m);

    /* vmf: a zero-norm row of z or of p. */
    m = sm_nll_model_alloc(SM_NLL_VMF, 2, &st);
    assert_non_null(m);
    const double zz[4] = {1, 0, 0, 0}, pp[4] = {1, 1, 1, 1};
    assert_int_equal(sm_nll_model_fit(m, zz, pp, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 1 of z has zero norm"));
    assert_int_equal(sm_nll_model_fit(m, pp, zz, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 1 of p has zero norm"));
    double lq[2], feat[4];
    assert_int_equal(sm_nll_model_log_q(m, zz, pp, 2, lq, NULL, &st), SM_ERR_DATA);
    assert_int_equal(sm_nll_model_features(m, zz, 2, feat, &st), SM_ERR_DATA);
    assert_int_equal(sm_nll_model_fit(m, pp, pp, 0, NULL, &st), SM_ERR_USAGE);
    const double huge[4] = {1e200, 1e200, 1, 1};
    assert_int_equal(sm_nll_model_fit(m, huge, pp, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 0 of z is too large"));
    sm_nll_model_free(m);
    assert_null(sm_nll_model_alloc(SM_NLL_VMF, 1, &st));
    assert_int_equal(st.code, SM_ERR_USAGE);

    /* iso: z = p; diag: one coordinate of z − p always 0; NaN anywhere. */
    m = sm_nll_model_alloc(SM_NLL_ISO, 2, &st);
    assert_int_equal(sm_nll_model_fit(m, pp, pp, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "variance is 0"));
    const double nan_row[4] = {1, NAN, 0, 1};
    assert_int_equal(sm_nll_model_fit(m, nan_row, pp, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "non-finite value at row 0, column 1"));
    sm_nll_model_free(m);
    m = sm_nll_model_alloc(SM_NLL_DIAG, 2, &st);
    const double zd[4] = {2, 1, 0, 1};
    assert_int_equal(sm_nll_model_fit(m, zd, pp, 2, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "coordinate 1"));
    sm_nll_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_names),
        cmocka_unit_test(test_hand_values_gaussian_families),
        cmocka_unit_test(test_hand_values_vmf),
        cmocka_unit_test(test_vmf_nearly_aligned),
        cmocka_unit_test(test_mean_in_one_call),
        cmocka_unit_test(test_l2_against_formula),
        cmocka_unit_test(test_full_le_diag_le_iso),
        cmocka_unit_test(test_gaussian_ground_truth),
        cmocka_unit_test(test_vmf_nll_matches_entropy),
        cmocka_unit_test(test_features_give_log_q_of_cross_pairs),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
