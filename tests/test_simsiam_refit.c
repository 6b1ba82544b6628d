/* simsiam/refit: the predictor retrained on a frozen encoder. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "simsiam/state.h"
#include "simsiam/refit.h"
#include "support/support.h"

#define SMALL "arch=mlp width=8 proj_hidden=64 z_dim=4 pred_hidden=16 batch=64 threads=1 knn_every=0"
#define TRACKING "track_samples=256 track_views=16 track_images=8"

/* A z_dim = 4 Fashion-MNIST model trained for 100 steps with `loss`, its
 * last tracking event at step 100; path of its checkpoint. */
static const char *trained(const char *name, const char *extra)
{
    const char *dir = sm_test_path(name);
    static char ckpt[4][4096];
    static int next;
    char *path = ckpt[next++ % 4];
    snprintf(path, sizeof ckpt[0], "%s/checkpoint.bin", dir);
    FILE *f = fopen(path, "rb");
    if (f) return fclose(f), path;
    char cmd[8192], *err;
    snprintf(cmd, sizeof cmd, "train " SMALL " " TRACKING " steps=100 track_every=100 %s out=%s", extra, dir);
    int rc = sm_test_cli(cmd, NULL, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    free(err);
    return path;
}

/* The checkpoint's configuration with the overrides kv. */
static void read_config(const char *checkpoint, const char *const *kv, size_t n, sm_config *cfg)
{
    sm_status st;
    sm_state_file f;
    int rc = sm_state_open(&f, checkpoint, &st);
    if (!rc) rc = sm_state_read_config(&f, kv, n, cfg, &st);
    sm_state_close(&f);
    if (rc) fail_msg("%s", st.msg);
}

/* refit.csv of a refit of checkpoint with the overrides kv. */
static char *refit(const char *checkpoint, const char *out, const char *const *kv, size_t n, sm_refit_result *res)
{
    sm_config cfg;
    sm_status st;
    sm_status_clear(&st);
    read_config(checkpoint, kv, n, &cfg);
    snprintf(cfg.out, sizeof cfg.out, "%s", out);
    int rc = sm_refit_run(checkpoint, &cfg, NULL, res, &st);
    if (rc) fail_msg("refit: %s", st.msg);
    char *text = sm_test_read(sm_test_join(out, "refit.csv"), NULL);
    assert_non_null(text);
    return text;
}

/* Column `name` of every data row of a CSV text into v (returns the rows). */
static int column(const char *csv, const char *name, double *v, int max)
{
    const char *line = csv;
    int col = -1, at = 0;
    for (const char *c = csv; *c && *c != '\n'; c++) {
        if (c == line || c[-1] == ',') {
            size_t len = strlen(name);
            if (!strncmp(c, name, len) && (c[len] == ',' || c[len] == '\n')) col = at;
            at++;
        }
    }
    assert_true(col >= 0);
    int rows = 0;
    for (line = strchr(csv, '\n') + 1; *line && rows < max; line = strchr(line, '\n') + 1) {
        const char *c = line;
        for (int k = 0; k < col; k++) c = strchr(c, ',') + 1;
        v[rows++] = strtod(c, NULL);
    }
    return rows;
}

static void test_tracked_steps(void **state)
{
    (void)state;
    const uint64_t tracked[] = {0, 1, 2, 4, 8, 64, 100};
    const uint64_t skipped[] = {3, 5, 6, 63, 65, 99};
    for (size_t i = 0; i < sizeof tracked / sizeof *tracked; i++) assert_true(sm_refit_tracked(tracked[i], 100));
    for (size_t i = 0; i < sizeof skipped / sizeof *skipped; i++) assert_false(sm_refit_tracked(skipped[i], 100));
}

/* A fresh predictor on a frozen l2-trained encoder: E[NLL_full] falls by
 * far more than its interval; the encoder's columns repeat on every row
 * (same z, same views); the chain E[NLL_full] >= H(z2|z1) holds within
 * intervals on every row; the same run twice gives the same file. */
static void test_reinit_converges(void **state)
{
    (void)state;
    const char *ckpt = trained("refit_l2", "loss=l2");
    const char *kv[] = {"refit_steps=64", "refit_batch=64", "refit_reinit=1"};
    sm_refit_result res;
    char *a = refit(ckpt, sm_test_path("refit_l2_a"), kv, 3, &res);
    assert_int_equal(res.checkpoint_step, 100);
    assert_int_equal(res.steps, 64);
    assert_int_equal(res.events, 8);
    assert_int_equal(strncmp(a, "refit_step,step,loss_cos,", 25), 0);
    double step[16], r[16], nll[16], lo[16], hi[16], h[16], h_hi[16], hx[16], hs[16], mix[16];
    assert_int_equal(column(a, "refit_step", r, 16), 8);
    column(a, "step", step, 16);
    column(a, "nll_full", nll, 16);
    column(a, "nll_r_lo", lo, 16);
    column(a, "nll_r_hi", hi, 16);
    column(a, "h_z_given_z1", h, 16);
    column(a, "h_z_given_z1_hi", h_hi, 16);
    column(a, "h_z_given_x", hx, 16);
    column(a, "h_s_given_z1", hs, 16);
    column(a, "nll_mix", mix, 16);
    const double expect_r[] = {0, 1, 2, 4, 8, 16, 32, 64};
    for (int i = 0; i < 8; i++) {
        assert_true(r[i] == expect_r[i] && step[i] == 100);
        assert_true(h[i] == h[0] && hx[i] == hx[0] && hs[i] == hs[0]); /* the encoder is frozen */
        assert_true(hi[i] >= h[i] && nll[i] >= h[i] - (h_hi[i] - h[i]));
        assert_true(isfinite(mix[i]));
    }
    assert_true(lo[0] > hi[7] + 0.1); /* falls well over its interval */
    char *b = refit(ckpt, sm_test_path("refit_l2_b"), kv, 3, &res);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Continuing the trained predictor: row 0 is the run's own last tracking
 * event (same model, probe and views), to the last bits of a model that
 * runs in other chunks. */
static void test_continue_starts_at_the_run(void **state)
{
    (void)state;
    const char *ckpt = trained("refit_l2", "loss=l2");
    const char *kv[] = {"refit_steps=2", "refit_batch=64", "refit_reinit=0"};
    sm_refit_result res;
    char *csv = refit(ckpt, sm_test_path("refit_continue"), kv, 3, &res);
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(ckpt, '/') - ckpt), ckpt);
    char *track = sm_test_read(sm_test_join(dir, "track.csv"), NULL);
    assert_non_null(track);
    double run[8], now[8];
    const char *cols[] = {"nll_full", "nll_vmf", "h_z_given_z1", "i_ksg", "loss_cos"};
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
        int rows = column(track, cols[c], run, 8);
        column(csv, cols[c], now, 8);
        assert_true(fabs(now[0] - run[rows - 1]) <= 1e-5 * (1 + fabs(run[rows - 1])));
    }
    free(track);
    free(csv);
}

/* The closed-form predictor refits W from moments of fresh batches: from
 * no moments (W = 0) E[NLL_full] falls. */
static void test_closed_form(void **state)
{
    (void)state;
    const char *ckpt = trained("refit_optimal", "loss=l2 pred_mode=optimal");
    const char *kv[] = {"refit_steps=4", "refit_batch=64", "refit_reinit=1"};
    sm_refit_result res;
    char *csv = refit(ckpt, sm_test_path("refit_optimal_out"), kv, 3, &res);
    double nll[8];
    assert_int_equal(column(csv, "nll_full", nll, 8), 4);
    assert_true(nll[3] < nll[0] - 0.1);
    free(csv);
}

static void test_errors(void **state)
{
    (void)state;
    const char *ckpt = trained("refit_l2", "loss=l2");
    sm_config cfg;
    sm_status st;
    sm_status_clear(&st);
    const char *big[] = {"refit_batch=70000"};
    read_config(ckpt, big, 1, &cfg);
    snprintf(cfg.out, sizeof cfg.out, "%s", sm_test_path("refit_big"));
    sm_refit_result res;
    assert_int_equal(sm_refit_run(ckpt, &cfg, NULL, &res, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "70000"));
    const char *bad = sm_test_path("refit_not_a_checkpoint.bin");
    sm_test_write_text(bad, "not a checkpoint\n");
    sm_status_clear(&st);
    cfg.refit_batch = 64;
    assert_int_equal(sm_refit_run(bad, &cfg, NULL, &res, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, bad));
    snprintf(cfg.out, sizeof cfg.out, "%s/refit", bad); /* under a file: no directory can be made */
    sm_status_clear(&st);
    assert_int_equal(sm_refit_run(ckpt, &cfg, NULL, &res, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "cannot create directory"));
    assert_non_null(strstr(st.msg, cfg.out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tracked_steps),
        cmocka_unit_test(test_reinit_converges),
        cmocka_unit_test(test_continue_starts_at_the_run),
        cmocka_unit_test(test_closed_form),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
