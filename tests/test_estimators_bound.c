/* Tests for src/estimators/bound: Barber–Agakov and InfoNCE with the predictor as critic. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <gsl/gsl_math.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "estimators/bound.h"
#include "estimators/entropy.h"
#include "estimators/mi.h"
#include "estimators/nll.h"
#include "estimators/vmf.h"

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (|diff| %.3g > tol %.3g)", got, want, fabs(got - want),
                 tol);
}

static sm_nll_model *fitted(sm_nll_family f, const double *z, const double *p, size_t n,
                            size_t d)
{
    sm_status st;
    sm_status_clear(&st);
    sm_nll_model *m = sm_nll_model_alloc(f, d, &st);
    assert_non_null(m);
    if (sm_nll_model_fit(m, z, p, n, NULL, &st) != SM_OK) fail_msg("fit failed: %s", st.msg);
    return m;
}

static void test_infonce_hand_3x3(void **state)
{
    (void)state;
    const double s[9] = {2, 0, 1, 0, 1, 0, 1, 1, 3};
    /* Row terms logsumexp_j S_ij − S_ii:
     *   log(e² + 1 + e) − 2 = 0.407606,  log(2 + e) − 1 = 0.551445,
     *   log(2e + e³) − 3 = 0.239545;  L = 0.399532, bound = log 3 − L = 0.699080. */
    const double e = M_E;
    const double loss = (log(e * e + 1 + e) - 2 + log(2 + e) - 1 + log(2 * e + e * e * e) - 3) / 3;
    sm_bound_nce r;
    assert_int_equal(sm_bound_infonce_scores(s, 3, &r, NULL), SM_OK);
    assert_int_equal(r.n, 3);
    assert_close(r.loss, loss, 1e-15);
    assert_close(r.loss, 0.399532, 1e-6);
    assert_close(r.value, 0.699080, 1e-6);
    assert_close(r.cap, log(3.0), 0.0);
    /* The critic is defined up to a function of i: shifting rows changes nothing. */
    double t[9];
    for (int i = 0; i < 9; i++) t[i] = s[i] + 100.0 * (i / 3) - 7.0;
    sm_bound_nce r2;
    assert_int_equal(sm_bound_infonce_scores(t, 3, &r2, NULL), SM_OK);
    assert_close(r2.value, r.value, 1e-13);
}

static void test_infonce_never_above_log_n(void **state)
{
    (void)state;
    enum { N = 16 };
    double s[N * N];
    sm_rng r;
    sm_rng_seed(&r, 3, 0);
    for (int rep = 0; rep < 50; rep++) {
        const double scale = pow(10.0, rep % 7 - 2); /* 0.01 … 1e4 */
        for (size_t i = 0; i < N * N; i++) s[i] = scale * sm_rng_normal(&r);
        for (size_t i = 0; i < N; i++) s[i * N + i] += scale * (rep % 5); /* favour positives */
        sm_bound_nce b;
        assert_int_equal(sm_bound_infonce_scores(s, N, &b, NULL), SM_OK);
        assert_true(b.loss >= 0.0);
        assert_true(b.value <= b.cap);
    }
    /* A perfect critic reaches the cap exactly, and no further. */
    for (size_t i = 0; i < N * N; i++) s[i] = i % (N + 1) == 0 ? 1e6 : -1e6;
    sm_bound_nce b;
    assert_int_equal(sm_bound_infonce_scores(s, N, &b, NULL), SM_OK);
    assert_close(b.value, log((double)N), 0.0);
    /* N = 1: the bound is log 1 = 0. */
    assert_int_equal(sm_bound_infonce_scores(s, 1, &b, NULL), SM_OK);
    assert_close(b.value, 0.0, 0.0);
}

/* Mean of logsumexp_j S_ij − S_ii with exp evaluated for every term, the
 * largest first (the order bound.c sums in). */
static double nce_loss_every_term(const double *s, size_t n)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double *row = s + i * n;
        size_t top = 0;
        for (size_t j = 1; j < n; j++)
            if (row[j] > row[top]) top = j;
        double sum = 1.0;
        for (size_t j = 0; j < n; j++)
            if (j != top) sum += exp(row[j] - row[top]);
        total += row[top] + log(sum) - row[i];
    }
    return total / (double)n;
}

/* Exponents are raised to e^−37.5 < 2⁻⁵³ (bound.c): the loss must be the
 * every-term sum bit for bit, at spreads where no term, some (around the
 * floor) and nearly all terms are raised, down to underflow. */
static void test_infonce_floored_terms_are_exact(void **state)
{
    (void)state;
    const size_t n = 600;
    double *s = malloc(n * n * sizeof *s);
    assert_non_null(s);
    sm_rng r;
    sm_rng_seed(&r, 8, 0);
    const double scales[] = {1.0, 15.0, 30.0, 300.0, 3000.0};
    for (size_t c = 0; c < sizeof scales / sizeof *scales; c++) {
        for (size_t i = 0; i < n * n; i++) s[i] = scales[c] * sm_rng_normal(&r);
        sm_bound_nce b;
        assert_int_equal(sm_bound_infonce_scores(s, n, &b, NULL), SM_OK);
        const double want = nce_loss_every_term(s, n);
        assert_memory_equal(&b.loss, &want, sizeof want);
    }
    free(s);
}

/* The gemm path against scores built pair by pair with sm_nll_model_log_q. */
static void check_against_explicit_scores(const sm_nll_model *m, const double *z2,
                                          const double *p1, size_t n, sm_arena *ws)
{
    const size_t d = m->d;
    double *s = malloc(n * n * sizeof *s), *rep = malloc(n * d * sizeof *rep);
    assert_non_null(s);
    assert_non_null(rep);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) memcpy(rep + j * d, p1 + i * d, d * sizeof *rep);
        assert_int_equal(sm_nll_model_log_q(m, z2, rep, n, s + i * n, ws, NULL), SM_OK);
    }
    sm_bound_nce want, got;
    assert_int_equal(sm_bound_infonce_scores(s, n, &want, NULL), SM_OK);
    assert_int_equal(sm_bound_infonce(m, z2, p1, n, &got, ws, NULL), SM_OK);
    assert_int_equal(got.n, n);
    assert_close(got.loss, want.loss, 1e-10 * fmax(1.0, want.loss));
    assert_close(got.value, want.value, 1e-10 * fmax(1.0, fabs(want.value)));
    assert_close(got.cap, log((double)n), 0.0);
    free(s);
    free(rep);
}

static void test_infonce_matches_explicit_scores_every_family(void **state)
{
    (void)state;
    /* n = 600: two row blocks of 2¹⁸/n = 436 rows.  Residuals anisotropic
     * and correlated, far from the origin (centring must not matter). */
    const size_t n = 600, d = 3;
    double *z = malloc(n * d * sizeof *z), *p = malloc(n * d * sizeof *p);
    assert_non_null(z);
    assert_non_null(p);
    sm_rng r;
    sm_rng_seed(&r, 21, 0);
    for (size_t i = 0; i < n; i++) {
        const double g = sm_rng_normal(&r);
        for (size_t j = 0; j < d; j++) {
            p[i * d + j] = 50.0 + sm_rng_normal(&r);
            z[i * d + j] = p[i * d + j] + 0.3 * (1 + j) * sm_rng_normal(&r) + 0.5 * g;
        }
    }
    sm_arena ws = {0};
    const sm_nll_family fams[] = {SM_NLL_L2, SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF};
    for (size_t f = 0; f < 5; f++) {
        sm_nll_model *m = fitted(fams[f], z, p, n, d);
        check_against_explicit_scores(m, z, p, n, &ws);
        check_against_explicit_scores(m, z, p, 7, NULL); /* one small block */
        sm_nll_model_free(m);
    }
    assert_int_equal(sm_arena_mark(&ws), 0);
    sm_arena_free(&ws);
    free(z);
    free(p);
}

/* Residuals 1e-9 of the spread, and every point twice (near neighbours
 * within a few σ): the expansion of ½‖u − v‖² would round the close pairs'
 * scores by tens of nats (ε·(spread/σ)²); they are computed again from the
 * residuals, and InfoNCE matches the explicit scores.  On the sphere the same
 * data give κ ~ 1e14, where κ û·v̂ + log C_d(κ) rounds by ~1e-1 nats: vmf's
 * close pairs are computed again from ½‖ẑ − p̂‖² too. */
static void test_infonce_close_pairs_tiny_residuals(void **state)
{
    (void)state;
    const size_t n = 400, d = 2;
    double *z = malloc(n * d * sizeof *z), *p = malloc(n * d * sizeof *p);
    assert_non_null(z);
    assert_non_null(p);
    sm_rng r;
    sm_rng_seed(&r, 23, 0);
    for (size_t i = 0; i < n; i += 2)
        for (size_t j = 0; j < d; j++) p[i * d + j] = p[(i + 1) * d + j] = sm_rng_normal(&r);
    for (size_t k = 0; k < n * d; k++) {
        p[k] += 3e-9 * sm_rng_normal(&r);
        z[k] = p[k] + 1e-9 * sm_rng_normal(&r);
    }
    const sm_nll_family fams[] = {SM_NLL_ISO, SM_NLL_DIAG, SM_NLL_FULL, SM_NLL_VMF};
    for (size_t f = 0; f < 4; f++) {
        sm_nll_model *m = fitted(fams[f], z, p, n, d);
        if (fams[f] == SM_NLL_VMF) assert_true(m->kappa > 1e12);
        check_against_explicit_scores(m, z, p, n, NULL);
        sm_nll_model_free(m);
    }
    free(z);
    free(p);
}

/* Jointly Gaussian views: z1 ~ N(0, I_d), z2 = b z1 + A g, g ~ N(0, I_d), A
 * lower triangular.  The exact predictor is p1 = E[z2|z1] = b z1, so z2 − p1 =
 * A g ~ N(0, Σn), Σn = A Aᵀ, Σz = b² I + Σn, and
 *   H(z2) = ½ log det(2πe Σz),   I(z1; z2) = H(z2) − ½ log det(2πe Σn).
 *
 * InfoNCE with the critic log Q(z2_j; p1_i) = log p(z2_j|z1_i) does NOT tend
 * to I as N → ∞: the critic carries log p(z2_j), which varies along the
 * softmax axis j (the optimal InfoNCE critic is pmi + c(z1)).  Its limit is
 *   I∞ = −H(z2|z1) − E_z1 log E_{z2|z1} p(z2)
 *      = −½ log det(2πe Σn) + ½ log det(2πM) + ½ b² tr M⁻¹,   M = Σn + Σz,
 * below I by a Jensen gap; finite N approaches I∞ from below. */
enum { GD = 4 };
typedef struct {
    double b;
    double a[GD * GD];
} gauss_views;

static void gauss_draw(const gauss_views *g, size_t n, sm_rng *r, double *z2, double *p1)
{
    for (size_t i = 0; i < n; i++) {
        double e[GD];
        for (size_t j = 0; j < GD; j++) e[j] = sm_rng_normal(r);
        for (size_t j = 0; j < GD; j++) {
            double noise = 0.0;
            for (size_t k = 0; k <= j; k++) noise += g->a[j * GD + k] * e[k];
            p1[i * GD + j] = g->b * sm_rng_normal(r);
            z2[i * GD + j] = p1[i * GD + j] + noise;
        }
    }
}

/* log det and tr(M⁻¹) = ‖L⁻¹‖²_F of the GD×GD SPD matrix m (Cholesky, in a copy). */
static double log_det(const double *m, double *tr_inv)
{
    double l[GD * GD];
    memcpy(l, m, sizeof l);
    double ld = 0.0;
    for (size_t j = 0; j < GD; j++) {
        for (size_t k = 0; k < j; k++) l[j * GD + j] -= l[j * GD + k] * l[j * GD + k];
        l[j * GD + j] = sqrt(l[j * GD + j]);
        ld += 2.0 * log(l[j * GD + j]);
        for (size_t i = j + 1; i < GD; i++) {
            for (size_t k = 0; k < j; k++) l[i * GD + j] -= l[i * GD + k] * l[j * GD + k];
            l[i * GD + j] /= l[j * GD + j];
        }
    }
    *tr_inv = 0.0;
    for (size_t c = 0; c < GD; c++) { /* column c of L⁻¹ by forward substitution */
        double y[GD] = {0};
        for (size_t i = c; i < GD; i++) {
            double v = i == c ? 1.0 : 0.0;
            for (size_t k = c; k < i; k++) v -= l[i * GD + k] * y[k];
            y[i] = v / l[i * GD + i];
            *tr_inv += y[i] * y[i];
        }
    }
    return ld;
}

typedef struct {
    double h_z2, mi, nce_limit;
} gauss_truth_t;

static gauss_truth_t gauss_truth(const gauss_views *g)
{
    double sn[GD * GD], sz[GD * GD], mm[GD * GD];
    for (size_t i = 0; i < GD; i++)
        for (size_t j = 0; j < GD; j++) {
            double s = 0.0;
            for (size_t k = 0; k < GD; k++) s += g->a[i * GD + k] * g->a[j * GD + k];
            sn[i * GD + j] = s;
            sz[i * GD + j] = s + (i == j ? g->b * g->b : 0.0);
            mm[i * GD + j] = sn[i * GD + j] + sz[i * GD + j];
        }
    double unused, tr_inv_m;
    const double h_cond = 0.5 * (GD * log(2.0 * M_PI * M_E) + log_det(sn, &unused));
    gauss_truth_t t;
    t.h_z2 = 0.5 * (GD * log(2.0 * M_PI * M_E) + log_det(sz, &unused));
    t.mi = t.h_z2 - h_cond;
    const double ld_m = log_det(mm, &tr_inv_m);
    t.nce_limit = -h_cond + 0.5 * (GD * log(2.0 * M_PI) + ld_m) + 0.5 * g->b * g->b * tr_inv_m;
    return t;
}

/* BA within 0.05 nats of the true I at N = 5000 (the sd of the mean NLL is
 * sqrt(d/2)/sqrt(N) = 0.02 for the exact l2 critic).  InfoNCE (averaged over
 * the disjoint batches of a pool of 4096 pairs) increases with N, stays below
 * I∞ + 0.05 < I, and at N = 2048 is within 0.1 of I∞ (over 12 seeds it lies
 * 0–0.07 below). */
static void check_gaussian_bounds(const gauss_views *g, sm_nll_family family, uint64_t seed)
{
    const gauss_truth_t t = gauss_truth(g);
    assert_true(t.nce_limit < t.mi);
    const size_t n = 5000;
    double *z2 = malloc(n * GD * sizeof *z2), *p1 = malloc(n * GD * sizeof *p1);
    assert_non_null(z2);
    assert_non_null(p1);
    sm_rng r;
    sm_rng_seed(&r, seed, 0);
    gauss_draw(g, n, &r, z2, p1);
    sm_nll_model *m = fitted(family, z2, p1, n, GD);
    assert_close(sm_bound_ba(t.h_z2, m->mean_nll), t.mi, 0.05);

    const size_t sizes[] = {8, 32, 128, 512, 2048};
    double prev = -INFINITY;
    sm_arena ws = {0};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t nb = sizes[k], batches = 4096 / nb;
        double mean = 0.0;
        for (size_t b = 0; b < batches; b++) {
            sm_bound_nce res;
            assert_int_equal(
                sm_bound_infonce(m, z2 + b * nb * GD, p1 + b * nb * GD, nb, &res, &ws, NULL),
                SM_OK);
            assert_true(res.value <= res.cap);
            mean += res.value / (double)batches;
        }
        assert_true(mean <= t.nce_limit + 0.05);
        assert_true(mean > prev);
        prev = mean;
    }
    assert_close(prev, t.nce_limit, 0.1);
    sm_arena_free(&ws);
    sm_nll_model_free(m);
    free(z2);
    free(p1);
}

static void test_gaussian_l2_critic(void **state)
{
    (void)state;
    /* Σn = I: Q = N(p1, I) is P(z2|z1) itself.  I = 2 log 5 = 3.22 nats. */
    /* I∞ = ½ log(2π·6)⁴ − ½ log(2πe)⁴ + ½·4·(4/6) = 2 log(6/e) + 4/3 = 2.916. */
    gauss_views g = {.b = 2.0};
    for (size_t j = 0; j < GD; j++) g.a[j * GD + j] = 1.0;
    const gauss_truth_t t = gauss_truth(&g);
    assert_close(t.mi, 2.0 * log(5.0), 1e-12);
    assert_close(t.nce_limit, 2.0 * log(6.0 / M_E) + 4.0 / 3.0, 1e-12);
    check_gaussian_bounds(&g, SM_NLL_L2, 1);
}

static void test_gaussian_full_critic(void **state)
{
    (void)state;
    /* Correlated, anisotropic noise: only the full family contains P(z2|z1). */
    const gauss_views g = {.b = 1.5,
                           .a = {0.8, 0, 0, 0, 0.4, 0.5, 0, 0, -0.3, 0.2, 1.0, 0, 0.2, -0.3, 0.1,
                                 0.6}};
    check_gaussian_bounds(&g, SM_NLL_FULL, 2);
}

static void test_vmf_critic_bounded_by_cap(void **state)
{
    (void)state;
    /* On the sphere: z2 ~ vMF(p1, κ).  The bound is at most log N and rises
     * with κ (more shared information). */
    const size_t n = 256, d = 8;
    double *z2 = malloc(n * d * sizeof *z2), *p1 = malloc(n * d * sizeof *p1);
    assert_non_null(z2);
    assert_non_null(p1);
    double prev = -INFINITY;
    const double ks[] = {1.0, 10.0, 100.0};
    for (size_t c = 0; c < 3; c++) {
        sm_rng r;
        sm_rng_seed(&r, 31, c);
        for (size_t i = 0; i < n * d; i++) p1[i] = sm_rng_normal(&r);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(sm_vmf_sample(p1 + i * d, d, ks[c], 1, &r, z2 + i * d, NULL), SM_OK);
        sm_nll_model *m = fitted(SM_NLL_VMF, z2, p1, n, d);
        sm_bound_nce b;
        assert_int_equal(sm_bound_infonce(m, z2, p1, n, &b, NULL, NULL), SM_OK);
        assert_true(b.value <= b.cap && b.value > prev);
        prev = b.value;
        sm_nll_model_free(m);
    }
    free(z2);
    free(p1);
}

static void test_infonce_same_for_any_thread_count(void **state)
{
    (void)state;
    const size_t n = 300, d = 5;
    double *z2 = malloc(n * d * sizeof *z2), *p1 = malloc(n * d * sizeof *p1);
    assert_non_null(z2);
    assert_non_null(p1);
    sm_rng r;
    sm_rng_seed(&r, 17, 0);
    for (size_t i = 0; i < n * d; i++) {
        p1[i] = sm_rng_normal(&r);
        z2[i] = p1[i] + 0.5 * sm_rng_normal(&r);
    }
    sm_nll_model *m = fitted(SM_NLL_FULL, z2, p1, n, d);
    const int saved = sm_threads_get();
    sm_bound_nce one, two;
    sm_threads_set(1);
    assert_int_equal(sm_bound_infonce(m, z2, p1, n, &one, NULL, NULL), SM_OK);
    sm_threads_set(2);
    assert_int_equal(sm_bound_infonce(m, z2, p1, n, &two, NULL, NULL), SM_OK);
    sm_threads_set(saved);
    assert_close(two.value, one.value, 1e-12);
    sm_nll_model_free(m);
    free(z2);
    free(p1);
}

static void test_errors(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_bound_nce b;
    const double s[4] = {0, 1, NAN, 0};
    assert_int_equal(sm_bound_infonce_scores(s, 0, &b, &st), SM_ERR_USAGE);
    assert_int_equal(sm_bound_infonce_scores(s, 2, &b, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 1, column 0"));
    sm_nll_model *m = sm_nll_model_alloc(SM_NLL_VMF, 2, &st);
    assert_non_null(m);
    const double z2[4] = {1, 0, 0, 0}, p1[4] = {1, 1, 1, 1};
    assert_int_equal(sm_bound_infonce(m, z2, p1, 2, &b, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "zero norm"));
    assert_int_equal(sm_bound_infonce(m, z2, p1, 0, &b, NULL, &st), SM_ERR_USAGE);
    sm_nll_model_free(m);
    assert_close(sm_bound_ba(3.0, 1.25), 1.75, 0.0);
}

/* The chain is its parts: the family's fit and InfoNCE, KL Ĥ(z2) and KSG-1
 * on the rows as given (Gaussian families: KSG-1's blocks whitened, as the
 * tracker's) or normalised (vmf, on the sphere); a zero row has no
 * direction; whitening is the chain's own, not an option. */
static void test_chain_is_its_parts(void **state)
{
    (void)state;
    enum { N = 300, D = 3 };
    static double z1[N * D], z2[N * D], p1[N * D], u1[N * D], u2[N * D];
    sm_rng r;
    sm_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < N * D; i++) {
        z1[i] = 1 + sm_rng_normal(&r), p1[i] = 0.8 * z1[i], z2[i] = p1[i] + 0.5 * sm_rng_normal(&r);
    }
    for (size_t i = 0; i < N; i++) {
        double a = 0, b = 0;
        for (size_t j = 0; j < D; j++) a += z1[i * D + j] * z1[i * D + j], b += z2[i * D + j] * z2[i * D + j];
        for (size_t j = 0; j < D; j++) u1[i * D + j] = z1[i * D + j] / sqrt(a), u2[i * D + j] = z2[i * D + j] / sqrt(b);
    }
    sm_status st;
    for (int sphere = 0; sphere < 2; sphere++) {
        sm_bound_chain_opts o = {.family = sphere ? SM_NLL_VMF : SM_NLL_FULL, .k = 3};
        sm_bound_chain c;
        assert_int_equal(sm_bound_chain_estimate(z1, z2, p1, N, D, &o, &c, NULL, &st), SM_OK);
        sm_nll_model *m = fitted(o.family, z2, p1, N, D);
        sm_bound_nce nce;
        assert_int_equal(sm_bound_infonce(m, z2, p1, N, &nce, NULL, &st), SM_OK);
        sm_entropy_opts eo = {.k = 3, .sphere = sphere};
        sm_mi_opts mo = {.k = 3, .norm = sphere ? SM_MI_BLOCK_L2 : SM_MI_MAXNORM, .sphere = sphere,
                         .prep = {.whiten = !sphere}}; /* the tracker's KSG-1 */
        double h;
        sm_ksg1_result k;
        assert_int_equal(sm_entropy_kl(sphere ? u2 : z2, N, D, &eo, &h, NULL, &st), SM_OK);
        assert_int_equal(sm_mi_ksg1(sphere ? u1 : z1, sphere ? u2 : z2, N, D, D, &mo, &k, NULL, &st), SM_OK);
        assert_true(c.nll == m->mean_nll && c.nce.value == nce.value && c.nce.cap == nce.cap);
        assert_true(c.h_z2 == h && c.i_ksg == k.mi && c.h_z2_given_z1 == k.h_y_given_x);
        assert_true(c.gap == c.nll - c.h_z2_given_z1 && c.ba == c.h_z2 - c.nll);
        assert_true(sphere ? c.kappa == m->kappa : isnan(c.kappa));
        sm_nll_model_free(m);
    }
    z1[D] = z1[D + 1] = z1[D + 2] = 0;
    sm_bound_chain_opts o = {.family = SM_NLL_VMF, .k = 3};
    sm_bound_chain c;
    assert_int_equal(sm_bound_chain_estimate(z1, z2, p1, N, D, &o, &c, NULL, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 1 has norm 0"));
    o.prep.whiten = 1;
    assert_int_equal(sm_bound_chain_estimate(z1, z2, p1, N, D, &o, &c, NULL, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "whiten does not apply"));
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_infonce_hand_3x3),
        cmocka_unit_test(test_infonce_never_above_log_n),
        cmocka_unit_test(test_infonce_floored_terms_are_exact),
        cmocka_unit_test(test_infonce_matches_explicit_scores_every_family),
        cmocka_unit_test(test_infonce_close_pairs_tiny_residuals),
        cmocka_unit_test(test_gaussian_l2_critic),
        cmocka_unit_test(test_gaussian_full_critic),
        cmocka_unit_test(test_vmf_critic_bounded_by_cap),
        cmocka_unit_test(test_infonce_same_for_any_thread_count),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_chain_is_its_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
