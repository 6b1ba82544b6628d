/* simsiam-mi refit: the command line around simsiam/refit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/support.h"

/* A 20-step run of a small z_dim = 4 model; path of its checkpoint. */
static const char *checkpoint(void)
{
    static char path[4096];
    if (path[0]) return path;
    const char *dir = sm_test_path("cli_refit_run");
    char cmd[8192], *err;
    snprintf(cmd, sizeof cmd,
             "train arch=mlp width=4 proj_hidden=32 z_dim=4 pred_hidden=8 batch=64 threads=1 knn_every=0 "
             "steps=20 loss=l2 out=%s", dir);
    int rc = sm_test_cli(cmd, NULL, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    free(err);
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    return path;
}

#define SMALL_REFIT "refit_steps=3 refit_batch=32 track_samples=128 track_views=8 track_images=4"

/* The JSON line, refit.csv and refit_config.txt in the default OUT:
 * <checkpoint dir>/refit-checkpoint-<reinit|continue>. */
static void test_default_out_and_json(void **state)
{
    (void)state;
    const char *mode[] = {"1", "0"}, *dir_name[] = {"refit-checkpoint-reinit", "refit-checkpoint-continue"};
    for (int i = 0; i < 2; i++) {
        char cmd[8192], *out, *err;
        snprintf(cmd, sizeof cmd, "refit --checkpoint %s " SMALL_REFIT " refit_reinit=%s", checkpoint(), mode[i]);
        assert_int_equal(sm_test_cli(cmd, &out, &err), 0);
        assert_int_equal(sm_test_lines(out), 1);
        assert_true(sm_test_json_number(out, "checkpoint_step") == 20);
        assert_true(sm_test_json_number(out, "refit_steps") == 3);
        assert_true(sm_test_json_number(out, "events") == 4); /* refit steps 0, 1, 2, 3 */
        assert_non_null(strstr(out, dir_name[i]));
        assert_non_null(strstr(err, "refit step 3/3"));
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s/%s", (int)(strrchr(checkpoint(), '/') - checkpoint()), checkpoint(),
                 dir_name[i]);
        char *csv = sm_test_read(sm_test_join(dir, "refit.csv"), NULL), *cfg = sm_test_read(sm_test_join(dir, "refit_config.txt"), NULL);
        assert_non_null(csv);
        assert_non_null(cfg);
        assert_int_equal(sm_test_lines(csv), 1 + 4);
        assert_int_equal(strncmp(csv, "refit_step,step,", 16), 0);
        char want[32];
        snprintf(want, sizeof want, "\nrefit_reinit=%s\n", mode[i]);
        assert_non_null(strstr(cfg, want));
        free(csv);
        free(cfg);
        free(out);
        free(err);
    }
}

static void test_errors(void **state)
{
    (void)state;
    char cmd[8192];
    sm_test_cli_error("refit", 2, "missing --checkpoint", NULL);
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s lr=0.1", checkpoint());
    sm_test_cli_error(cmd, 2, "refit takes only", "lr=0.1");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s refit_steps=-1", checkpoint());
    sm_test_cli_error(cmd, 2, "refit_steps", "-1");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s refit_lr=nan", checkpoint());
    sm_test_cli_error(cmd, 2, "refit_lr", "nan");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s refit_batch=70000", checkpoint());
    sm_test_cli_error(cmd, 2, "70000", NULL);
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s out=", checkpoint()); /* the same key check as track's */
    sm_test_cli_error(cmd, 2, "out= needs a directory", NULL);
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s --bogus 1", checkpoint());
    sm_test_cli_error(cmd, 2, "bogus", NULL);
    const char *bad = sm_test_path("cli_refit_bad.bin");
    sm_test_write_text(bad, "not a checkpoint\n");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s", bad);
    sm_test_cli_error(cmd, 1, "cli_refit_bad.bin", NULL);
    sm_test_cli_error("refit --checkpoint /nonexistent/ckpt.bin", 1, "/nonexistent/ckpt.bin", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_out_and_json),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
