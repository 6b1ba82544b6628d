/* Tests for src/simsiam/predictor: the optimal W against normal equations
 * solved here and against the known conditional mean of exchangeable views,
 * the moving averages by hand, DirectPred's spectrum on a correlation with
 * known eigenvectors, W at zero moments, apply/backward (finite
 * differences), non-finite input, and restoring from saved moments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "simsiam/predictor.h"
#include "support/support.h"

static void assert_near(double a, double b, double tol)
{
    if (!(fabs(a - b) <= tol)) fail_msg("%.17g differs from %.17g by more than %g", a, b, tol);
}

static sm_predictor *new_predictor(sm_pred_mode mode, size_t d)
{
    sm_status st;
    sm_predictor *p = sm_predictor_alloc(mode, d, &st);
    assert_non_null(p);
    return p;
}

static void update(sm_predictor *p, const float *z1, const float *z2, size_t n)
{
    sm_status st;
    assert_int_equal(sm_predictor_update(p, z1, z2, n, &st), SM_OK);
}

/* z2 = A z1 + 0.3 · noise, z1 standard normal: d = 3, A not symmetric, so a
 * transposed W anywhere shows. */
enum { D3 = 3 };
static const double A_ASYM[D3][D3] = {{0.9, 0.5, 0.0}, {-0.2, 0.7, 0.3}, {0.1, 0.0, -0.6}};

static void linear_pairs(float *z1, float *z2, size_t n, uint64_t seed)
{
    sm_rng rng;
    sm_rng_seed(&rng, seed, 1);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < D3; j++) z1[i * D3 + j] = (float)sm_rng_normal(&rng);
        for (int r = 0; r < D3; r++) {
            double v = 0.3 * sm_rng_normal(&rng);
            for (int c = 0; c < D3; c++) v += A_ASYM[r][c] * z1[i * D3 + c];
            z2[i * D3 + r] = (float)v;
        }
    }
}

/* x = m⁻¹ b for a d × d system (d <= 8) by Gauss–Jordan with partial
 * pivoting; m and b are overwritten, b (d × k) holds the solution. */
static void solve(double *m, double *b, int d, int k)
{
    for (int c = 0; c < d; c++) {
        int piv = c;
        for (int r = c + 1; r < d; r++)
            if (fabs(m[r * d + c]) > fabs(m[piv * d + c])) piv = r;
        for (int j = 0; j < d; j++) {
            double t = m[c * d + j];
            m[c * d + j] = m[piv * d + j];
            m[piv * d + j] = t;
        }
        for (int j = 0; j < k; j++) {
            double t = b[c * k + j];
            b[c * k + j] = b[piv * k + j];
            b[piv * k + j] = t;
        }
        for (int r = 0; r < d; r++) {
            if (r == c) continue;
            double f = m[r * d + c] / m[c * d + c];
            for (int j = 0; j < d; j++) m[r * d + j] -= f * m[c * d + j];
            for (int j = 0; j < k; j++) b[r * k + j] -= f * b[c * k + j];
        }
    }
    for (int r = 0; r < d; r++)
        for (int j = 0; j < k; j++) b[r * k + j] /= m[r * d + r];
}

/* One batch: W = argmin over W of the pooled ridge least squares
 *   Σ_i ‖z2_i − W z1_i‖² + ‖z1_i − W z2_i‖² + 2n λ ‖W‖²,
 * i.e. the normal equations W (S_in + 2nλ I) = S_cross, built here from
 * the samples directly. */
static void test_optimal_matches_normal_equations(void **state)
{
    (void)state;
    enum { N = 200 };
    float z1[N * D3], z2[N * D3];
    linear_pairs(z1, z2, N, 3);
    sm_predictor *p = new_predictor(SM_PRED_OPTIMAL, D3);
    update(p, z1, z2, N);

    double s_in[D3 * D3] = {0}, s_cross[D3 * D3] = {0}, trace = 0;
    for (size_t i = 0; i < N; i++) {
        const float *in[2] = {z1 + i * D3, z2 + i * D3}, *target[2] = {z2 + i * D3, z1 + i * D3};
        for (int v = 0; v < 2; v++)
            for (int r = 0; r < D3; r++)
                for (int c = 0; c < D3; c++) {
                    s_in[r * D3 + c] += (double)in[v][r] * in[v][c];
                    s_cross[r * D3 + c] += (double)target[v][r] * in[v][c]; /* Σ target inputᵀ */
                }
    }
    for (int j = 0; j < D3; j++) trace += s_in[j * D3 + j] / (2.0 * N);
    double lambda = SM_PREDICTOR_RIDGE * trace / D3;
    /* (S_in + 2nλI) Wᵀ = S_crossᵀ */
    double m[D3 * D3], wt[D3 * D3];
    for (int r = 0; r < D3; r++)
        for (int c = 0; c < D3; c++) {
            m[r * D3 + c] = s_in[r * D3 + c] + (r == c ? 2.0 * N * lambda : 0);
            wt[r * D3 + c] = s_cross[c * D3 + r];
        }
    solve(m, wt, D3, D3);
    for (int r = 0; r < D3; r++)
        for (int c = 0; c < D3; c++) assert_near(p->w[r * D3 + c], wt[c * D3 + r], 1e-6);
    /* the pooled fit of an asymmetric A is not symmetric */
    assert_true(fabs(p->w[1 * D3 + 2] - p->w[2 * D3 + 1]) > 0.1);
    sm_predictor_free(p);
}

/* Exchangeable views z_v = s + e_v (s ~ N(0, diag(4, 1, 1/4)), e_v ~
 * N(0, I/2)): E[z2 | z1] = Σ_s (Σ_s + I/2)⁻¹ z1, so W → diag(8/9, 2/3, 1/3)
 * as n grows (λ's bias is 1e-4 of that). */
static void test_optimal_recovers_conditional_mean(void **state)
{
    (void)state;
    enum { N = 20000 };
    const double sd[D3] = {2, 1, 0.5}, expect[D3] = {8.0 / 9, 2.0 / 3, 1.0 / 3};
    float *z1 = sm_test_floats(N * D3), *z2 = sm_test_floats(N * D3);
    sm_rng rng;
    sm_rng_seed(&rng, 11, 2);
    for (size_t i = 0; i < N * D3; i++) {
        double s = sd[i % D3] * sm_rng_normal(&rng);
        z1[i] = (float)(s + sqrt(0.5) * sm_rng_normal(&rng));
        z2[i] = (float)(s + sqrt(0.5) * sm_rng_normal(&rng));
    }
    sm_predictor *p = new_predictor(SM_PRED_OPTIMAL, D3);
    update(p, z1, z2, N);
    for (int r = 0; r < D3; r++)
        for (int c = 0; c < D3; c++) assert_near(p->w[r * D3 + c], r == c ? expect[r] : 0, 0.03);
    sm_predictor_free(p);
    free(z1);
    free(z2);
}

/* Two tiny batches by hand, d = 2.
 * Batch 1 (n = 2): z1 = (1,0), (0,2); z2 = (1,1), (0,−1):
 *   C1 = ¼[(1,0)(1,0)ᵀ + (0,2)(0,2)ᵀ + (1,1)(1,1)ᵀ + (0,−1)(0,−1)ᵀ] = [[.5,.25],[.25,1.5]]
 *   X1 = ¼[(1,1)(1,0)ᵀ + (1,0)(1,1)ᵀ + 2 (0,−1)(0,2)ᵀ]            = [[.5,.25],[.25,−1]]
 * Batch 2 (n = 1): z1 = (2,0), z2 = (0,2):  C2 = [[2,0],[0,2]],  X2 = [[0,2],[2,0]].
 * After both: Ĉ = .3 C1 + .7 C2 = [[1.55,.075],[.075,1.85]],
 *             X̂ = .3 X1 + .7 X2 = [[.15,1.475],[1.475,−.3]]. */
static void test_moving_average_by_hand(void **state)
{
    (void)state;
    const float a1[] = {1, 0, 0, 2}, b1[] = {1, 1, 0, -1}, a2[] = {2, 0}, b2[] = {0, 2};
    const double c1[] = {0.5, 0.25, 0.25, 1.5}, x1[] = {0.5, 0.25, 0.25, -1};
    const double c[] = {1.55, 0.075, 0.075, 1.85}, x[] = {0.15, 1.475, 1.475, -0.3};
    for (sm_pred_mode mode = SM_PRED_OPTIMAL; mode <= SM_PRED_DIRECTPRED; mode++) {
        sm_predictor *p = new_predictor(mode, 2);
        update(p, a1, b1, 2);
        assert_int_equal(p->updates, 1);
        for (int i = 0; i < 4; i++) { /* the first batch is taken as is, not averaged with zeros */
            assert_near(p->corr[i], c1[i], 1e-15);
            if (mode == SM_PRED_OPTIMAL) assert_near(p->cross[i], x1[i], 1e-15);
        }
        update(p, a2, b2, 1);
        assert_int_equal(p->updates, 2);
        for (int i = 0; i < 4; i++) {
            assert_near(p->corr[i], c[i], 1e-15);
            if (mode == SM_PRED_OPTIMAL) assert_near(p->cross[i], x[i], 1e-15);
        }
        if (mode == SM_PRED_OPTIMAL) { /* W = X̂ (Ĉ + λI)⁻¹, the 2 × 2 inverse written out */
            double lambda = SM_PREDICTOR_RIDGE * (1.55 + 1.85) / 2;
            double m00 = 1.55 + lambda, m11 = 1.85 + lambda, m01 = 0.075, det = m00 * m11 - m01 * m01;
            double inv[] = {m11 / det, -m01 / det, -m01 / det, m00 / det};
            for (int r = 0; r < 2; r++)
                for (int k = 0; k < 2; k++)
                    assert_near(p->w[r * 2 + k], x[r * 2] * inv[k] + x[r * 2 + 1] * inv[2 + k], 1e-6);
        }
        sm_predictor_free(p);
    }
}

/* Ĉ = 4 u1 u1ᵀ + 1 u2 u2ᵀ + 0 e3 e3ᵀ, u1 = (cos 30°, sin 30°, 0),
 * u2 = (−sin 30°, cos 30°, 0), made exactly by rows ±√8 u1, ±√2 u2 (pooled
 * mean of z zᵀ over the 4 rows).  W must be symmetric with W u1 = (1 + ε) u1,
 * W u2 = (√(1/4) + ε) u2, W e3 = ε e3 (the zero eigenvalue); scaling every
 * z leaves it unchanged (only Ĉ's shape counts). */
static void test_directpred_spectrum(void **state)
{
    (void)state;
    const double cos30 = sqrt(3) / 2, sin30 = 0.5;
    const double u1[D3] = {cos30, sin30, 0}, u2[D3] = {-sin30, cos30, 0}, e3[D3] = {0, 0, 1};
    const double eps = SM_PREDICTOR_EPS;
    for (int scaled = 0; scaled < 2; scaled++) {
        double k = scaled ? 10 : 1;
        float z1[2 * D3], z2[2 * D3];
        for (int j = 0; j < D3; j++) {
            z1[j] = (float)(k * sqrt(8) * u1[j]);
            z1[D3 + j] = (float)(k * sqrt(2) * u2[j]);
            z2[j] = -z1[j];
            z2[D3 + j] = -z1[D3 + j];
        }
        sm_predictor *p = new_predictor(SM_PRED_DIRECTPRED, D3);
        update(p, z1, z2, 2);
        for (int r = 0; r < D3; r++)
            for (int c = 0; c < D3; c++) assert_true(p->w[r * D3 + c] == p->w[c * D3 + r]);
        const double *vecs[] = {u1, u2, e3}, vals[] = {1 + eps, 0.5 + eps, eps};
        for (int v = 0; v < 3; v++)
            for (int r = 0; r < D3; r++) {
                double wu = 0;
                for (int c = 0; c < D3; c++) wu += p->w[r * D3 + c] * vecs[v][c];
                assert_near(wu, vals[v] * vecs[v][r], 1e-6);
            }
        sm_predictor_free(p);
    }
}

/* Before any update, and after batches of zeros: W = 0 (optimal, nothing to
 * regress on) and εI (directpred). */
static void test_zero_moments(void **state)
{
    (void)state;
    enum { D = 4 };
    float zeros[2 * D] = {0};
    for (sm_pred_mode mode = SM_PRED_OPTIMAL; mode <= SM_PRED_DIRECTPRED; mode++) {
        sm_predictor *p = new_predictor(mode, D);
        for (int pass = 0; pass < 2; pass++) {
            for (int r = 0; r < D; r++)
                for (int c = 0; c < D; c++) {
                    double expect = mode == SM_PRED_DIRECTPRED && r == c ? SM_PREDICTOR_EPS : 0;
                    assert_near(p->w[r * D + c], expect, 1e-7);
                }
            update(p, zeros, zeros, 2);
        }
        sm_predictor_free(p);
    }
}

/* apply against a double product; backward by central differences of
 * f(z) = Σ c ⊙ p + ½ Σ p², p = W z, whose ∂f/∂p = c + p. */
typedef struct {
    const float *w;
    const double *c;
    double *z;
    size_t n;
} grad_ctx;

static void product(const float *w, const double *z, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++)
        for (int r = 0; r < D3; r++) {
            out[i * D3 + r] = 0;
            for (int c = 0; c < D3; c++) out[i * D3 + r] += (double)w[r * D3 + c] * z[i * D3 + c];
        }
}

static double objective(const void *ctx)
{
    const grad_ctx *g = ctx;
    double p[8 * D3], f = 0;
    product(g->w, g->z, g->n, p);
    for (size_t i = 0; i < g->n * D3; i++) f += g->c[i] * p[i] + 0.5 * p[i] * p[i];
    return f;
}

static void test_apply_and_backward(void **state)
{
    (void)state;
    enum { N = 200, NB = 5 };
    float z1[N * D3], z2[N * D3];
    linear_pairs(z1, z2, N, 5);
    sm_predictor *p = new_predictor(SM_PRED_OPTIMAL, D3); /* asymmetric W */
    update(p, z1, z2, N);

    sm_rng rng;
    sm_rng_seed(&rng, 9, 3);
    float z[NB * D3], out[NB * D3], dp[NB * D3], dz[NB * D3];
    double zd[NB * D3], c[NB * D3], ref[NB * D3];
    sm_test_fill_uniform(z, NB * D3, &rng, -2, 2);
    for (int i = 0; i < NB * D3; i++) {
        zd[i] = z[i];
        c[i] = sm_rng_uniform(&rng) - 0.5;
    }
    sm_predictor_apply(p, z, NB, out);
    product(p->w, zd, NB, ref);
    for (int i = 0; i < NB * D3; i++) assert_near(out[i], ref[i], 1e-5);

    for (int i = 0; i < NB * D3; i++) dp[i] = (float)(c[i] + out[i]);
    for (int i = 0; i < NB * D3; i++) dz[i] = NAN; /* overwritten, not accumulated */
    sm_predictor_backward(p, dp, NB, dz);
    grad_ctx g = {p->w, c, zd, NB};
    sm_test_check_gradient(objective, &g, zd, NB * D3, dz, 1e-5);
    sm_predictor_free(p);
}

/* A non-finite z: SM_ERR_DATA, and nothing changed. */
static void test_non_finite_rejected(void **state)
{
    (void)state;
    enum { N = 8 };
    float z1[N * D3], z2[N * D3];
    linear_pairs(z1, z2, N, 7);
    for (sm_pred_mode mode = SM_PRED_OPTIMAL; mode <= SM_PRED_DIRECTPRED; mode++) {
        sm_predictor *p = new_predictor(mode, D3);
        update(p, z1, z2, N);
        float w[D3 * D3];
        double corr[D3 * D3];
        memcpy(w, p->w, sizeof w);
        memcpy(corr, p->corr, sizeof corr);
        const float keep = z2[5];
        const float bad[] = {NAN, INFINITY};
        for (int b = 0; b < 2; b++) {
            z2[5] = bad[b];
            sm_status st;
            assert_int_equal(sm_predictor_update(p, z1, z2, N, &st), SM_ERR_DATA);
            assert_non_null(strstr(st.msg, "non-finite z"));
            assert_non_null(strstr(st.msg, sm_config_pred_mode_name(mode)));
        }
        z2[5] = keep;
        assert_int_equal(p->updates, 1);
        assert_memory_equal(w, p->w, sizeof w);
        assert_memory_equal(corr, p->corr, sizeof corr);
        sm_predictor_free(p);
    }
}

/* Restored from the moments and update count of a predictor after two
 * updates, a fresh one has the same W bit for bit, and its next update
 * matches too (the saving and loading of checkpoints: test_simsiam_state.c). */
static void test_restore(void **state)
{
    (void)state;
    enum { N = 16 };
    float z1[3 * N * D3], z2[3 * N * D3];
    linear_pairs(z1, z2, 3 * N, 13);
    for (sm_pred_mode mode = SM_PRED_OPTIMAL; mode <= SM_PRED_DIRECTPRED; mode++) {
        sm_predictor *p = new_predictor(mode, D3), *q = new_predictor(mode, D3);
        update(p, z1, z2, N);
        update(p, z1 + N * D3, z2 + N * D3, N);
        sm_status st;
        assert_int_equal(sm_predictor_restore(q, p->corr, p->cross, p->updates, &st), SM_OK);
        assert_int_equal(q->updates, 2);
        assert_memory_equal(p->corr, q->corr, D3 * D3 * sizeof *p->corr);
        if (mode == SM_PRED_OPTIMAL) assert_memory_equal(p->cross, q->cross, D3 * D3 * sizeof *p->cross);
        assert_memory_equal(p->w, q->w, D3 * D3 * sizeof *p->w);
        update(p, z1 + 2 * N * D3, z2 + 2 * N * D3, N);
        update(q, z1 + 2 * N * D3, z2 + 2 * N * D3, N);
        assert_memory_equal(p->w, q->w, D3 * D3 * sizeof *p->w);
        sm_predictor_free(p);
        sm_predictor_free(q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimal_matches_normal_equations),
        cmocka_unit_test(test_optimal_recovers_conditional_mean),
        cmocka_unit_test(test_moving_average_by_hand),
        cmocka_unit_test(test_directpred_spectrum),
        cmocka_unit_test(test_zero_moments),
        cmocka_unit_test(test_apply_and_backward),
        cmocka_unit_test(test_non_finite_rejected),
        cmocka_unit_test(test_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
