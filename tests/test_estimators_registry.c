/* Tests for src/estimators/registry.c: names, aliases, one default per kind,
 * the list of choices, and every row's adapter giving what its estimator
 * gives when called directly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/rng.h"
#include "estimators/entropy.h"
#include "estimators/gauss.h"
#include "estimators/mi.h"
#include "estimators/mix.h"
#include "estimators/nll.h"
#include "estimators/registry.h"
#include "support/support.h"

enum { N = 200, D = 3 };

static void test_names(void **state)
{
    (void)state;
    for (sm_est_kind k = 0; k < SM_EST_NKINDS; k++) {
        const sm_estimator *def = sm_estimator_default(k);
        assert_non_null(def);
        size_t defaults = 0;
        for (size_t i = 0; i < SM_NESTIMATORS; i++) {
            const sm_estimator *e = &SM_ESTIMATORS[i];
            if (e->kind != k) continue;
            defaults += (e->uses & SM_EST_DEFAULT) != 0;
            assert_ptr_equal(sm_estimator_find(k, e->name), e);
            if (e->alias) assert_ptr_equal(sm_estimator_find(k, e->alias), e);
            assert_true(e->doc[0] && !strchr(e->doc, '\n'));
        }
        assert_int_equal(defaults, 1);
    }
    assert_string_equal(sm_estimator_default(SM_EST_ENTROPY)->name, "kl");
    assert_string_equal(sm_estimator_default(SM_EST_MI)->name, "ksg1");
    assert_string_equal(sm_estimator_default(SM_EST_NLL)->name, "full");
    assert_null(sm_estimator_find(SM_EST_MI, "kl"));
    assert_null(sm_estimator_find(SM_EST_NLL, "gumbel"));
    assert_string_equal(sm_est_kind_name(SM_EST_NLL), "nll");
    assert_string_equal(sm_est_kind_name((sm_est_kind)SM_EST_NKINDS), "?"); /* as sm_nll_family_name */
    assert_string_equal(sm_est_kind_name((sm_est_kind)-1), "?");
    char buf[128];
    sm_estimator_choices(SM_EST_MI, buf, sizeof buf);
    assert_string_equal(buf, "ksg1, ksg2 or gauss");
    sm_estimator_choices(SM_EST_NLL, buf, sizeof buf);
    assert_string_equal(buf, "l2, iso, diag, full, vmf or mix");
    sm_estimator_choices(SM_EST_ENTROPY, buf, 6); /* cut, terminated */
    assert_string_equal(buf, "kl or");
}

/* Correlated rows x, y (N × D) and predictions p of y. */
static void sample(double *x, double *y, double *p)
{
    sm_rng r;
    sm_rng_seed(&r, 11, 0);
    for (size_t i = 0; i < N * D; i++) {
        x[i] = sm_rng_normal(&r);
        y[i] = 0.8 * x[i] + 0.6 * sm_rng_normal(&r);
        p[i] = 0.8 * x[i];
    }
}

/* The value of the row kind/name with options o on the sample. */
static double run(sm_est_kind kind, const char *name, sm_est_opts *o, const double *x, const double *y)
{
    const sm_estimator *e = sm_estimator_find(kind, name);
    assert_non_null(e);
    sm_status st;
    double v = NAN;
    if (e->fn(o, x, D, kind == SM_EST_ENTROPY ? NULL : y, kind == SM_EST_ENTROPY ? 0 : D, N, &v, NULL, &st))
        fail_msg("%s: %s", name, st.msg);
    return v;
}

static void test_adapters_are_the_estimators(void **state)
{
    (void)state;
    static double x[N * D], y[N * D], p[N * D];
    sample(x, y, p);
    sm_status st;
    sm_est_opts o = {.k = 3, .ridge = 1e-3, .components = 2, .seed = 5};
    double want;
    const sm_entropy_opts eo = {.k = 3};
    assert_int_equal(sm_entropy_kl(x, N, D, &eo, &want, NULL, &st), SM_OK);
    assert_true(run(SM_EST_ENTROPY, "kl", &o, x, y) == want);
    assert_int_equal(sm_gauss_entropy(x, N, D, 1e-3, &want, NULL, &st), SM_OK);
    assert_true(run(SM_EST_ENTROPY, "gauss", &o, x, y) == want);
    const sm_mi_opts mo = {.k = 3};
    sm_ksg1_result k1;
    assert_int_equal(sm_mi_ksg1(x, y, N, D, D, &mo, &k1, NULL, &st), SM_OK);
    assert_true(run(SM_EST_MI, "ksg1", &o, x, y) == k1.mi);
    assert_int_equal(sm_mi_ksg2(x, y, N, D, D, &mo, &want, NULL, &st), SM_OK);
    assert_true(run(SM_EST_MI, "ksg2", &o, x, y) == want);
    assert_int_equal(sm_gauss_mi(x, y, N, D, D, 1e-3, &want, NULL, &st), SM_OK);
    assert_true(run(SM_EST_MI, "gauss", &o, x, y) == want);
    const char *fam[] = {"l2", "iso", "diag", "full", "vmf"};
    for (sm_nll_family f = SM_NLL_L2; f <= SM_NLL_VMF; f++) {
        assert_int_equal(sm_nll_mean(f, y, p, N, D, &want, NULL, &st), SM_OK);
        assert_true(run(SM_EST_NLL, fam[f], &o, y, p) == want);
    }
    assert_true(o.kappa > 0); /* vmf's κ comes back through the options */
    sm_mix_opts mix;
    sm_mix_defaults(&mix, 5);
    mix.components = 2;
    assert_int_equal(sm_mix_nll_crossfit(y, p, N, D, &mix, &want, NULL, &st), SM_OK);
    assert_true(run(SM_EST_NLL, "mix", &o, y, p) == want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_adapters_are_the_estimators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
