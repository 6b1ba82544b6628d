/* Tests for src/cli/track.c and the trainer's tracking: track.csv and
 * track_detail.csv of a short real Fashion-MNIST run (header, event steps,
 * the fitted-family order, the InfoNCE cap, no NaN), the offline event
 * equal to the online one, tracking across a resume, and the error exits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/support.h"

#define SMALL "arch=mlp width=4 proj_hidden=32 z_dim=8 pred_hidden=16 batch=64 threads=1 knn_every=0"
#define TRACKING "track_every=5 track_samples=256 track_views=16 track_images=8"

static const char TRACK_HEADER[] =
    "step,loss_cos,nll_l2,nll_iso,nll_diag,nll_full,nll_vmf,kappa,h_z_kl,h_z_gauss,h_z_given_z1,h_z_given_x,"
    "i_ksg,i_gauss,i_ba,i_infonce,infonce_cap,z_std,dim_used\n";
static const char DETAIL_HEADER[] =
    "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1_lo,h_z_given_z1_hi,"
    "h_z_given_x_lo,h_z_given_x_hi,i_ksg_lo,i_ksg_hi,nll_vmf_lo,nll_vmf_hi,h_s_z,";

static void train(const char *args)
{
    char cmd[8192], *err;
    snprintf(cmd, sizeof cmd, "train %s", args);
    int rc = sm_test_cli(cmd, NULL, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    assert_null(strstr(err, "warning"));
    free(err);
}

/* A 20-step Fashion-MNIST run tracked every 5 steps, trained once. */
static const char *real_run(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s", sm_test_path("track_run"));
    char args[4400];
    snprintf(args, sizeof args, "dataset=fashion-mnist " SMALL " " TRACKING " steps=20 out=%s", dir);
    train(args);
    return dir;
}

static char *read_file(const char *dir, const char *name)
{
    char *s = sm_test_read(sm_test_join(dir, name), NULL);
    assert_non_null(s);
    return s;
}

/* Parse the CSV row starting at line into v (up to max values); returns
 * the count. */
static int parse_row(const char *line, double *v, int max)
{
    int n = 0;
    for (const char *c = line; n < max;) {
        char *end;
        v[n++] = strtod(c, &end);
        if (*end != ',') break;
        c = end + 1;
    }
    return n;
}

static void test_real_run_rows(void **state)
{
    (void)state;
    char *track = read_file(real_run(), "track.csv");
    assert_true(strncmp(track, TRACK_HEADER, strlen(TRACK_HEADER)) == 0);
    assert_int_equal(sm_test_lines(track), 1 + 5); /* steps 0, 5, 10, 15, 20 */
    assert_null(strstr(track, "nan"));
    const char *line = strchr(track, '\n') + 1;
    for (int e = 0; e < 5; e++, line = strchr(line, '\n') + 1) {
        double v[32];
        assert_int_equal(parse_row(line, v, 32), 19);
        assert_true(v[0] == 5 * e);                     /* step */
        assert_true(v[5] <= v[4] && v[4] <= v[3]);      /* nll_full <= nll_diag <= nll_iso */
        assert_true(v[15] <= v[16]);                    /* i_infonce <= infonce_cap */
        assert_true(fabs(v[16] - log(256.0)) < 1e-6);   /* cap = log N */
        assert_true(v[18] == 8);                        /* dim_used = z_dim */
        assert_true(v[17] >= 0 && v[17] <= 1.0 + 1e-6); /* z_std */
        assert_true(fabs(v[14] - (v[8] - v[5])) < 1e-5); /* i_ba = h_z_kl − nll_full (dim_used = z_dim) */
    }
    free(track);
    char *detail = read_file(real_run(), "track_detail.csv");
    assert_true(strncmp(detail, DETAIL_HEADER, strlen(DETAIL_HEADER)) == 0);
    assert_int_equal(sm_test_lines(detail), 1 + 5);
    assert_null(strstr(detail, "nan"));
    double v[64];
    line = strchr(detail, '\n') + 1;
    int columns = 1;
    for (const char *c = detail; *c != '\n'; c++) columns += *c == ',';
    assert_int_equal(parse_row(line, v, 64), columns); /* a row as wide as its header, every value a number */
    assert_true(v[0] == 0 && v[1] == 8 && v[2] == 256 && v[3] == 16 && v[4] == 8);
    assert_true(v[6] < v[5] && v[5] < v[7]); /* nll_r inside its interval */
    free(detail);
}

/* The offline event on a run's final checkpoint is the run's last row
 * (to 1e-5: the restored model runs in other chunks). */
static void check_offline_equals_online(const char *dir)
{
    char cmd[4400], *out, *err;
    snprintf(cmd, sizeof cmd, "track --checkpoint %s", sm_test_join(dir, "checkpoint.bin"));
    int rc = sm_test_cli(cmd, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    char *track = read_file(dir, "track.csv");
    const char *last = track + strlen(track) - 1;
    while (last > track && last[-1] != '\n') last--;
    assert_true(strncmp(out, TRACK_HEADER, strlen(TRACK_HEADER)) == 0);
    double online[32], offline[32];
    assert_int_equal(parse_row(last, online, 32), 19);
    assert_int_equal(parse_row(out + strlen(TRACK_HEADER), offline, 32), 19);
    for (int i = 0; i < 19; i++) assert_true(fabs(online[i] - offline[i]) <= 1e-5 * (1 + fabs(online[i])));
    free(track);
    free(out);
    free(err);
}

static void test_offline_equals_online(void **state)
{
    (void)state;
    check_offline_equals_online(real_run());
}

/* With a closed-form predictor the offline event restores it too (the
 * network's own predictor is untrained in that mode: its p would differ). */
static void test_offline_closed_form_predictor(void **state)
{
    (void)state;
    char dir[4096], args[8400];
    snprintf(dir, sizeof dir, "%s", sm_test_path("track_directpred"));
    snprintf(args, sizeof args,
             "dataset=synthetic pred_mode=directpred " SMALL " track_every=2 track_samples=64 track_views=8 "
             "track_images=4 steps=4 out=%s", dir);
    train(args);
    check_offline_equals_online(dir);
}

/* out=DIR writes both files once and never replaces them. */
static void test_offline_out_dir(void **state)
{
    (void)state;
    const char *dir = sm_test_path("track_offline");
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=64 track_views=8 track_images=4 out=%s",
             sm_test_join(real_run(), "checkpoint.bin"), dir);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    char *track = read_file(dir, "track.csv"), *detail = read_file(dir, "track_detail.csv");
    assert_int_equal(sm_test_lines(track), 2);
    assert_int_equal(sm_test_lines(detail), 2);
    assert_non_null(strstr(detail, "\n20,8,64,8,4,"));
    sm_test_cli_error(cmd, 1, "already exists; not replaced", "track.csv");
    char *again = read_file(dir, "track.csv");
    assert_string_equal(again, track);
    /* out= a directory whose parents do not exist yet: made, as train makes its own */
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=64 track_views=8 track_images=4 out=%s/new/deeper",
             sm_test_join(real_run(), "checkpoint.bin"), dir);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    /* Only the second file there: refused before the event, the first not written. */
    const char *half = sm_test_dir("track_offline_half");
    sm_test_write_text(sm_test_join(half, "track_detail.csv"), "old\n");
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=64 track_views=8 track_images=4 out=%s",
             sm_test_join(real_run(), "checkpoint.bin"), half);
    sm_test_cli_error(cmd, 1, "already exists; not replaced", "track_detail.csv");
    assert_int_equal(access(sm_test_join(half, "track.csv"), F_OK), -1);
    /* out= too long for track_detail.csv's temporary: said before the checkpoint is even read */
    char base[1100], deep[4200];
    snprintf(base, sizeof base, "%s", sm_test_path("track_long"));
    sm_test_deep_path(deep, sizeof deep, base, 4072);
    snprintf(cmd, sizeof cmd, "track --checkpoint %s out=%s", sm_test_path("no_such.bin"), deep);
    sm_test_cli_error(cmd, 1, "output directory path of 4072 bytes is too long: at most 4071", NULL);
    assert_int_equal(access(base, F_OK), -1);
    free(track);
    free(detail);
    free(again);
}

/* track_resamples sets the subsamples of the intervals (track_detail.csv's *_lo, *_hi) and nothing
 * else: the same track.csv row at 20 (the default) and 100, other intervals; 1 is refused. */
static void test_offline_resamples(void **state)
{
    (void)state;
    char dirs[2][1100], cmd[8400];
    const char *resamples[2] = {"", "track_resamples=100"};
    for (int i = 0; i < 2; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s%d", sm_test_path("track_resamples"), i);
        snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=64 track_views=8 track_images=4 %s out=%s",
                 sm_test_join(real_run(), "checkpoint.bin"), resamples[i], dirs[i]);
        assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    }
    char *track[2], *detail[2];
    for (int i = 0; i < 2; i++) track[i] = read_file(dirs[i], "track.csv"), detail[i] = read_file(dirs[i], "track_detail.csv");
    assert_string_equal(track[0], track[1]);
    assert_string_not_equal(detail[0], detail[1]);
    for (int i = 0; i < 2; i++) free(track[i]), free(detail[i]);
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_resamples=1", sm_test_join(real_run(), "checkpoint.bin"));
    sm_test_cli_error(cmd, 2, "track_resamples", NULL);
}

/* A full disk (a file size limit between the two files' sizes, see
 * sm_test_cli_start) while track_detail.csv is written: exit 1 with one line
 * naming it, track.csv removed again and no temporary left, so that the same
 * command then runs. */
static void test_offline_full_disk_writes_neither(void **state)
{
    (void)state;
    const char *dir = sm_test_path("track_offline_full");
    char out[4200], err[4200], cmd[8400], track[4200], detail[4200], expected[4400];
    snprintf(out, sizeof out, "%s", sm_test_path("track_offline_full.out"));
    snprintf(err, sizeof err, "%s", sm_test_path("track_offline_full.err"));
    snprintf(track, sizeof track, "%s", sm_test_join(dir, "track.csv"));
    snprintf(detail, sizeof detail, "%s", sm_test_join(dir, "track_detail.csv"));
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=64 track_views=8 track_images=4 out=%s",
             sm_test_join(real_run(), "checkpoint.bin"), dir);
    /* track.csv is a header and a row of ~340 bytes, track_detail.csv ~560 */
    assert_int_equal(sm_test_cli_wait(sm_test_cli_start(cmd, out, err, 450)), 1);
    char *o = sm_test_read(out, NULL), *e = sm_test_read(err, NULL);
    assert_string_equal(o, "");
    snprintf(expected, sizeof expected, "simsiam-mi: error: write failed: File too large (%s)\n", detail);
    assert_string_equal(e, expected);
    assert_int_equal(access(track, F_OK), -1);
    assert_int_equal(access(detail, F_OK), -1);
    assert_int_equal(sm_test_count_temporaries(track) + sm_test_count_temporaries(detail), 0);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    assert_int_equal(access(track, F_OK), 0);
    assert_int_equal(access(detail, F_OK), 0);
    free(o);
    free(e);
}

/* 6 steps straight and 3 + resume + 3 track the same rows, bit for bit. */
static void test_tracking_across_resume(void **state)
{
    (void)state;
    char straight[4096], split[4096], args[8400];
    snprintf(straight, sizeof straight, "%s", sm_test_path("track_straight"));
    snprintf(split, sizeof split, "%s", sm_test_path("track_split"));
    /* schedule=const: a cosine schedule depends on the total, which the split run changes */
    const char *common = "dataset=synthetic schedule=const " SMALL " track_every=3 track_samples=64 track_views=8 track_images=4";
    snprintf(args, sizeof args, "%s steps=6 out=%s", common, straight);
    train(args);
    snprintf(args, sizeof args, "%s steps=3 out=%s", common, split);
    train(args);
    snprintf(args, sizeof args, "%s steps=6 out=%s resume=%s", common, split, sm_test_join(split, "checkpoint.bin"));
    train(args);
    const char *names[] = {"track.csv", "track_detail.csv"};
    for (int i = 0; i < 2; i++) {
        char *a = read_file(straight, names[i]), *b = read_file(split, names[i]);
        assert_string_equal(a, b);
        assert_int_equal(sm_test_lines(a), 1 + 3); /* steps 0, 3, 6 */
        free(a);
        free(b);
    }
}

/* --columns lists every column once; the names it gives each file, in
 * order, are that file's header in a real run; it takes nothing else. */
static void test_columns(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("track --columns", &out, &err), 0);
    const char *head = "column\tfiles\tunit\tdescription\n";
    assert_int_equal(strncmp(out, head, strlen(head)), 0);
    const char *files[] = {"track.csv", "track_detail.csv"};
    for (int f = 0; f < 2; f++) {
        char header[4096] = "";
        for (const char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
            const char *tab = strchr(line, '\t'), *end = strchr(tab + 1, '\t');
            char list[256];
            snprintf(list, sizeof list, ",%.*s,", (int)(end - tab - 1), tab + 1);
            char want[64];
            snprintf(want, sizeof want, ",%s,", files[f]);
            if (strstr(list, want))
                snprintf(header + strlen(header), sizeof header - strlen(header), "%s%.*s", header[0] ? "," : "",
                         (int)(tab - line), line);
        }
        char *csv = read_file(real_run(), files[f]);
        assert_int_equal(strncmp(csv, header, strlen(header)), 0);
        assert_true(csv[strlen(header)] == '\n');
        free(csv);
    }
    free(out);
    free(err);
    /* anything else with it is a usage error, not silently ignored */
    sm_test_cli_error("track --columns knn_every=3", 2, "--columns takes no other argument", NULL);
    sm_test_cli_error("track --columns --checkpoint x.bin", 2, "--columns takes no other argument", NULL);
}

/* README's table of columns is the one `track --columns` makes. */
static void test_readme_columns(void **state)
{
    (void)state;
    sm_test_doc_table("columns");
}

static void test_errors(void **state)
{
    (void)state;
    sm_test_cli_error("track", 2, "missing --checkpoint", NULL);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "track --checkpoint %s lr=0.1", sm_test_join(real_run(), "checkpoint.bin"));
    sm_test_cli_error(cmd, 2, "track takes only", "lr=0.1");
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_views=3", sm_test_join(real_run(), "checkpoint.bin"));
    sm_test_cli_error(cmd, 2, "track_views", "more than 3");
    snprintf(cmd, sizeof cmd, "track --checkpoint %s track_samples=70000", sm_test_join(real_run(), "checkpoint.bin"));
    sm_test_cli_error(cmd, 2, "track_samples", "60000");
    snprintf(cmd, sizeof cmd, "track --checkpoint %s out=", sm_test_join(real_run(), "checkpoint.bin"));
    sm_test_cli_error(cmd, 2, "out= needs a directory", NULL);
    const char *bad = sm_test_path("not_a_checkpoint.bin");
    sm_test_write_text(bad, "this is not a checkpoint\n");
    snprintf(cmd, sizeof cmd, "track --checkpoint %s", bad);
    sm_test_cli_error(cmd, 1, "not_a_checkpoint.bin", NULL);
    sm_test_cli_error("track --checkpoint /nonexistent/ckpt.bin", 1, "/nonexistent/ckpt.bin", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_run_rows),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_readme_columns),
        cmocka_unit_test(test_offline_equals_online),
        cmocka_unit_test(test_offline_closed_form_predictor),
        cmocka_unit_test(test_offline_out_dir),
        cmocka_unit_test(test_offline_resamples),
        cmocka_unit_test(test_offline_full_disk_writes_neither),
        cmocka_unit_test(test_tracking_across_resume),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
