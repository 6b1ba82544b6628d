/* Tests for src/cli/train.c: the final JSON line, a config file with
 * overrides, and usage / data errors as one line with the right exit code. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

#define TINY "dataset=synthetic arch=mlp width=2 proj_hidden=16 z_dim=4 pred_hidden=4 batch=16 threads=1"

static int run_cli(const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s", sm_test_bin(), args);
    return sm_test_run(cmd, out, err);
}

/* The last line of s (a pointer into s). */
static const char *last_line(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') n--;
    while (n > 0 && s[n - 1] != '\n') n--;
    return s + n;
}

static double json_number(const char *line, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *p = strstr(line, needle);
    return p ? strtod(p + strlen(needle), NULL) : NAN;
}

static void expect_error(const char *args, int rc, const char *needle1, const char *needle2)
{
    char *out, *err;
    int got = run_cli(args, &out, &err);
    if (got != rc) fprintf(stderr, "args: %s\nstderr: %s", args, err);
    assert_int_equal(got, rc);
    assert_string_equal(out, "");
    assert_int_equal(sm_test_lines(err), 1);
    assert_true(strncmp(err, "simsiam-mi: error: ", 19) == 0);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2))) fail_msg("stderr: %s", err);
    free(out);
    free(err);
}

/* A config file plus overrides (later wins): the final line has every key
 * and the values of the run. */
static void test_tiny_run_prints_summary(void **state)
{
    (void)state;
    const char *conf = sm_test_path("tiny.conf");
    const char *dir = sm_test_path("cli_run");
    sm_test_write_text(conf, "# a tiny run\nsteps = 50\nknn_every = 1\n");
    char args[4096], *out, *err;
    snprintf(args, sizeof args, "train --config %s " TINY " steps=5 out=%s", conf, dir);
    int rc = run_cli(args, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    assert_true(strncmp(line, "{\"steps\":5,\"epochs\":0.04,\"images_per_s\":", 40) == 0);
    assert_true(json_number(line, "images_per_s") > 0);
    assert_true(isfinite(json_number(line, "final_loss")));
    double acc = json_number(line, "knn_acc");
    assert_true(acc > 0 && acc <= 1);
    char tail[4200];
    snprintf(tail, sizeof tail, ",\"out\":\"%s\"}\n", dir);
    assert_string_equal(strstr(line, ",\"out\":"), tail);
    assert_non_null(strstr(err, "step 5/5 epoch 0 loss "));
    size_t n;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *summary = sm_test_read(path, &n);
    assert_string_equal(summary, line);
    free(summary);
    free(out);
    free(err);
}

static void test_usage_errors(void **state)
{
    (void)state;
    expect_error("train " TINY " bacth=16", 2, "unknown key 'bacth'", "did you mean 'batch'?");
    expect_error("train --confg x", 2, "unknown option '--confg'", "--config");
    expect_error("train " TINY " steps=2 pred_mode=directpred", 2, "pred_mode=directpred is not available yet",
                 NULL);
    expect_error("train dataset=synthetic batch=4000 steps=1", 2, "batch", NULL);
}

static void test_data_errors(void **state)
{
    (void)state;
    const char *bad = sm_test_path("bad.bin");
    sm_test_write_text(bad, "not a checkpoint at all");
    char args[4096];
    snprintf(args, sizeof args, "train " TINY " steps=2 out=%s resume=%s", sm_test_path("cli_bad"), bad);
    expect_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "train --config %s", sm_test_path("missing.conf"));
    expect_error(args, 1, "missing.conf", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_run_prints_summary),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_data_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
