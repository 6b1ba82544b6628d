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

/* The last line of s (a pointer into s). */
static const char *last_line(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') n--;
    while (n > 0 && s[n - 1] != '\n') n--;
    return s + n;
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
    int rc = sm_test_cli(args, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    assert_true(strncmp(line, "{\"steps\":5,\"epochs\":0.04,\"images_per_s\":", 40) == 0);
    assert_true(sm_test_json_number(line, "images_per_s") > 0);
    assert_true(isfinite(sm_test_json_number(line, "final_loss")));
    double acc = sm_test_json_number(line, "knn_acc");
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
    sm_test_cli_error("train " TINY " bacth=16", 2, "unknown key 'bacth'", "did you mean 'batch'?");
    sm_test_cli_error("train --confg x", 2, "unknown option '--confg'", "--config");
    sm_test_cli_error("train " TINY " steps=2 pred_mode=directpred pred_steps=2", 2,
                      "pred_steps=2 needs pred_mode=sgd: pred_mode=directpred trains no predictor", NULL);
    char args[4096]; /* out= keeps the run directory (made before the batch is checked) in the scratch space */
    snprintf(args, sizeof args, "train dataset=synthetic batch=4000 steps=1 out=%s", sm_test_path("big_batch"));
    sm_test_cli_error(args, 2, "batch", NULL);
}

static void test_data_errors(void **state)
{
    (void)state;
    const char *bad = sm_test_path("bad.bin");
    sm_test_write_text(bad, "not a checkpoint at all");
    char args[4096];
    snprintf(args, sizeof args, "train " TINY " steps=2 out=%s resume=%s", sm_test_path("cli_bad"), bad);
    sm_test_cli_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "train --config %s", sm_test_path("missing.conf"));
    sm_test_cli_error(args, 1, "missing.conf", NULL);
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
