/* Tests for src/simsiam/tracker.c: events on a model (determinism, the
 * predictor the columns see, configuration errors). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "data/loader.h"
#include "io/config.h"
#include "simsiam/model.h"
#include "simsiam/predictor.h"
#include "simsiam/tracker.h"

static void assert_near(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) fail_msg("%s: got %.6f, want %.6f ± %.3f", what, got, want, tol);
}

typedef struct {
    sm_config cfg;
    sm_dataset train;
    sm_model *m;
} model_fixture;

static void model_setup(model_fixture *f, int noverrides, const char *const *overrides)
{
    sm_status st;
    const char *ov[16] = {"dataset=synthetic", "arch=mlp", "width=2", "proj_hidden=16", "z_dim=6", "pred_hidden=8",
                          "track_samples=64", "track_views=8", "track_images=4"};
    int n = 9;
    for (int i = 0; i < noverrides; i++) ov[n++] = overrides[i];
    assert_int_equal(sm_config_load(&f->cfg, NULL, n, ov, &st), SM_OK);
    assert_int_equal(sm_data_load(&f->cfg, "train", &f->train, &st), SM_OK);
    f->m = sm_model_alloc(&f->cfg, 1, 28, 28, 32, &st);
    assert_non_null(f->m);
    sm_model_init(f->m, 0);
}

static void model_teardown(model_fixture *f)
{
    sm_model_free(f->m);
    sm_dataset_free(&f->train);
}

static void event_row(model_fixture *f, const sm_predictor *pred, uint64_t step, char *buf, size_t n,
                      sm_track_row *row)
{
    sm_status st;
    sm_tracker *t = sm_tracker_alloc(&f->cfg, &f->train, f->m->z_dim, &st);
    assert_non_null(t);
    assert_int_equal(sm_tracker_event(t, f->m, pred, step, row, &st), SM_OK);
    sm_tracker_free(t);
    sm_track_format(row, SM_TRACK_CSV, buf, n);
}

/* Same (seed, step, model) → the same row, bit for bit; another step draws
 * other views.  Every column is finite on a healthy random-init model, the
 * fitted families are ordered and InfoNCE stays under its cap. */
static void test_event_is_deterministic(void **state)
{
    (void)state;
    model_fixture f;
    model_setup(&f, 0, NULL);
    char a[1024], b[1024], c[1024];
    sm_track_row row;
    event_row(&f, NULL, 5, a, sizeof a, &row);
    event_row(&f, NULL, 5, b, sizeof b, &row);
    assert_string_equal(a, b);
    assert_null(strstr(a, "nan"));
    assert_int_equal(row.step, 5);
    assert_int_equal(row.dim_used, 6);
    assert_true(row.nll_full <= row.nll_diag && row.nll_diag <= row.nll_iso);
    assert_true(row.i_infonce <= row.infonce_cap);
    assert_near(row.infonce_cap, log(64.0), 1e-12, "cap");
    assert_true(row.z_std > 0.05 && row.z_std <= 1.0 + 1e-9);
    event_row(&f, NULL, 6, c, sizeof c, &row);
    assert_string_not_equal(a, c);
    model_teardown(&f);
}

/* A closed-form predictor is what the columns see: with W = I the loss is
 * −mean cos(z1, z2), with W = −I exactly its negative. */
static sm_predictor *scaled_identity(size_t d, float sign)
{
    sm_status st;
    sm_predictor *p = sm_predictor_alloc(SM_PRED_OPTIMAL, d, &st);
    assert_non_null(p);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) p->w[i * d + j] = i == j ? sign : 0;
    return p;
}

static void test_event_with_closed_form_predictor(void **state)
{
    (void)state;
    model_fixture f;
    model_setup(&f, 0, NULL);
    char a[1024];
    sm_track_row same, negated;
    sm_predictor *plus = scaled_identity(6, 1), *minus = scaled_identity(6, -1);
    event_row(&f, plus, 0, a, sizeof a, &same);
    event_row(&f, minus, 0, a, sizeof a, &negated);
    assert_true(same.loss_cos < 0);
    assert_near(negated.loss_cos, -same.loss_cos, 1e-12, "loss_cos with p = -z");
    sm_predictor_free(plus);
    sm_predictor_free(minus);
    model_teardown(&f);
}

/* Each refused before the run starts, naming its key: z_dim = 1 among
 * them (the event's own check would stop a run already writing). */
static void test_tracker_config_errors(void **state)
{
    (void)state;
    const struct {
        const char *key_value[2], *message;
    } bad[] = {
        {{"track_samples=100000"}, "probe images but the training split has"},
        {{"track_samples=3", "track_images=2"}, "tracking needs at least 4 (track_samples)"},
        {{"track_views=3"}, "the k-NN entropy needs more than 3 (track_views)"},
        {{"track_images=65"}, "(track_images)"},
        {{"z_dim=1"}, "z_dim=1: tracking needs 2 or more dimensions (z_dim)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        model_fixture f;
        model_setup(&f, bad[i].key_value[1] ? 2 : 1, bad[i].key_value);
        sm_status st;
        assert_null(sm_tracker_alloc(&f.cfg, &f.train, f.m->z_dim, &st));
        assert_int_equal(st.code, SM_ERR_USAGE);
        if (!strstr(st.msg, bad[i].message)) fail_msg("'%s' lacks '%s'", st.msg, bad[i].message);
        model_teardown(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_is_deterministic),
        cmocka_unit_test(test_event_with_closed_form_predictor),
        cmocka_unit_test(test_tracker_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
