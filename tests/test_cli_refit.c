/* simsiam-mi refit: the command line around simsiam/refit. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        free(out);
        free(err);
        /* Another refit into the same out (a sweep by hand over refit_lr) is
         * refused, and the first one's files stay as they were. */
        snprintf(cmd, sizeof cmd, "refit --checkpoint %s " SMALL_REFIT " refit_reinit=%s refit_lr=0.5", checkpoint(),
                 mode[i]);
        sm_test_cli_error(cmd, 1, "out= already holds a refit (refit.csv), which a refit does not replace", dir);
        char *csv2 = sm_test_read(sm_test_join(dir, "refit.csv"), NULL),
             *cfg2 = sm_test_read(sm_test_join(dir, "refit_config.txt"), NULL);
        assert_string_equal(csv2, csv);
        assert_string_equal(cfg2, cfg);
        free(csv);
        free(cfg);
        free(csv2);
        free(cfg2);
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
    /* within the key's range, over the data: refused before the model's
     * activations for such a batch are allocated (a ResNet's: gigabytes; the
     * cap is 1 GB) */
    const char *resnet = sm_test_path("cli_refit_resnet");
    snprintf(cmd, sizeof cmd, "train arch=resnet width=2 z_dim=4 proj_hidden=8 pred_hidden=4 batch=8 steps=1 "
             "threads=1 knn_every=0 out=%s", resnet);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s'%s' refit --checkpoint %s/checkpoint.bin refit_batch=60001 threads=1",
             sm_test_memory_cap(), sm_test_bin(), resnet);
    sm_test_run_error(cmd, 2, "60001 images a batch but the training split has 60000 (refit_batch)", NULL);
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s out=", checkpoint()); /* the same key check as track's */
    sm_test_cli_error(cmd, 2, "out= needs a directory", NULL);
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s --bogus 1", checkpoint());
    sm_test_cli_error(cmd, 2, "bogus", NULL);
    char bad[1024]; /* kept: sm_test_path's own buffers are reused */
    snprintf(bad, sizeof bad, "%s", sm_test_path("cli_refit_bad.bin"));
    sm_test_write_text(bad, "not a checkpoint\n");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s", bad);
    sm_test_cli_error(cmd, 1, "cli_refit_bad.bin", NULL);
    sm_test_cli_error("refit --checkpoint /nonexistent/ckpt.bin", 1, "/nonexistent/ckpt.bin", NULL);
    /* A diverging refit_lr: the predictor's outputs overflow before its loss turns nan; exit 1, not rows of NaN.
     * Its out= has parents that do not exist yet: made, as train makes its own; refit.csv keeps step 0. */
    char nested[1100];
    snprintf(nested, sizeof nested, "%s", sm_test_path("cli_refit_new/diverged"));
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s refit_lr=1e30 refit_steps=2 out=%s", checkpoint(), nested);
    char *err; /* after the progress line of refit step 0 */
    assert_int_equal(sm_test_cli(cmd, NULL, &err), 1);
    assert_non_null(strstr(err, "simsiam-mi: error: the predictor diverged ("));
    assert_non_null(strstr(err, "try a lower refit_lr"));
    free(err);
    char *rows = sm_test_read(sm_test_join(nested, "refit.csv"), NULL);
    assert_int_equal(sm_test_lines(rows), 2);
    free(rows);
    /* A refit that cannot start writes nothing: an earlier refit's files stay, no directory is made. */
    const char *earlier = sm_test_dir("cli_refit_earlier"), *config = sm_test_join(earlier, "refit_config.txt");
    sm_test_write_text(config, "earlier\n");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s out=%s", bad, earlier);
    sm_test_cli_error(cmd, 1, "cli_refit_bad.bin", NULL);
    char *kept = sm_test_read(config, NULL);
    assert_string_equal(kept, "earlier\n");
    free(kept);
    const char *fresh = sm_test_path("cli_refit_fresh");
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s out=%s", bad, fresh);
    sm_test_cli_error(cmd, 1, "cli_refit_bad.bin", NULL);
    assert_int_equal(access(fresh, F_OK), -1);
}

/* A full disk (a file size limit, see sm_test_cli_start) while refit.csv is
 * rewritten after each tracking event: once it outgrows the limit, exit 1
 * with one line naming it; refit.csv is then the last complete write, the
 * header and the rows that fitted, byte for byte the start of an unlimited
 * refit's file (the refit is seeded), with no temporary left. */
static void test_full_disk_keeps_the_last_complete_csv(void **state)
{
    (void)state;
    char dir[1024], out[1100], err[1100], cmd[8192], expected[2200];
    snprintf(dir, sizeof dir, "%s", sm_test_path("cli_refit_full"));
    snprintf(out, sizeof out, "%s", sm_test_path("cli_refit_full.out"));
    snprintf(err, sizeof err, "%s", sm_test_path("cli_refit_full.err"));
    snprintf(cmd, sizeof cmd, "refit --checkpoint %s " SMALL_REFIT " out=%s", checkpoint(), dir);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    char csv[1100];
    snprintf(csv, sizeof csv, "%s", sm_test_join(dir, "refit.csv"));
    size_t n_before, n_now;
    char *before = sm_test_read(csv, &n_before);
    assert_non_null(before);
    unlink(csv); /* the same refit again (refit does not replace a refit.csv) */
    /* room for the header and a row or two, not for all four rows */
    long limit = (long)n_before / 2;
    assert_int_equal(sm_test_cli_wait(sm_test_cli_start(cmd, out, err, limit)), 1);
    char *o = sm_test_read(out, NULL), *e = sm_test_read(err, NULL);
    assert_string_equal(o, "");
    snprintf(expected, sizeof expected, "simsiam-mi: error: write failed: File too large (%s)\n", csv);
    const char *last = e + strlen(e);
    while (last > e && last[-1] == '\n') last--;
    while (last > e && last[-1] != '\n') last--;
    assert_string_equal(last, expected);
    assert_true(strstr(e, "simsiam-mi: error: ") == last); /* the only error line (progress lines may precede it) */
    char *now = sm_test_read(csv, &n_now);
    assert_non_null(now);
    assert_true(sm_test_lines(now) >= 2 && n_now < n_before && now[n_now - 1] == '\n');
    assert_memory_equal(now, before, n_now);
    assert_int_equal(sm_test_count_temporaries(csv), 0);
    free(o);
    free(e);
    free(now);
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_out_and_json),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_full_disk_keeps_the_last_complete_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
