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
#include <time.h>

#include "io/checkpoint.h"
#include "simsiam/state.h"
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

#define LONG_RUN TINY " steps=3000 knn_every=5 track_every=250 track_samples=64 track_views=8 track_images=4"

/* Every line of a CSV with its last `drop` columns cut (train.csv's seconds). */
static char *without_last_column(char *csv)
{
    char *w = csv;
    for (char *line = csv; *line;) {
        char *end = strchr(line, '\n'), *cut = end;
        while (cut > line && cut[-1] != ',') cut--;
        size_t keep = (size_t)(cut - line);
        memmove(w, line, keep);
        w += keep;
        *w++ = '\n';
        line = end + 1;
    }
    *w = '\0';
    return csv;
}

/* The parameters, momentum and BN statistics of two checkpoints are the
 * same bits (their config, step and CSV sections hold paths and times). */
static void same_sections(const char *path_a, const char *path_b)
{
    sm_status st;
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    assert_int_equal(sm_state_restore(path_a, "train", &cfg, &ds, &m, &st), SM_OK);
    sm_ckpt *a, *b;
    assert_int_equal(sm_ckpt_read(path_a, &a, &st), SM_OK);
    assert_int_equal(sm_ckpt_read(path_b, &b, &st), SM_OK);
    const sm_state_section names[] = {SM_STATE_PARAMS, SM_STATE_MOMENTUM, SM_STATE_BN_STATS};
    const size_t counts[] = {m->n_params, m->n_params, m->n_stats};
    for (int i = 0; i < 3; i++) {
        const float *va, *vb;
        assert_int_equal(sm_ckpt_get_f32(a, sm_state_name(names[i]), counts[i], &va, &st), SM_OK);
        assert_int_equal(sm_ckpt_get_f32(b, sm_state_name(names[i]), counts[i], &vb, &st), SM_OK);
        assert_memory_equal(va, vb, counts[i] * sizeof *va);
    }
    sm_ckpt_free(a);
    sm_ckpt_free(b);
    sm_model_free(m);
    sm_dataset_free(&ds);
}

/* SIGTERM at a random moment (printed) of a run: exit 143 with one line
 * naming the step and the resume command; that command finishes the run with
 * the same final parameters as a run never stopped and every CSV row once
 * (train.csv up to its wall-clock column). */
static void test_sigterm_then_resume(void **state)
{
    (void)state;
    const char *whole = sm_test_path("sig_whole"), *cut = sm_test_path("sig_cut");
    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd, "train " LONG_RUN " out=%s", whole);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);

    sm_rng rng;
    sm_rng_seed(&rng, (uint64_t)time(NULL), 1);
    double delay = 0.3 + 1.5 * sm_rng_uniform(&rng);
    printf("# SIGTERM after %.2f s\n", delay);
    snprintf(cmd, sizeof cmd, "%s train " LONG_RUN " out=%s & pid=$!; sleep %.2f; kill -TERM $pid; wait $pid",
             sm_test_bin(), cut, delay);
    int rc = sm_test_run(cmd, &out, &err);
    if (rc == 0) fail_msg("the run finished before the signal (%.2f s); stderr: %s", delay, err);
    assert_int_equal(rc, 143);
    assert_string_equal(out, "");
    const char *stop = strstr(err, "simsiam-mi: stopped by SIGTERM at step ");
    assert_non_null(stop);
    const char *resume = strstr(stop, "resume with: simsiam-mi train ");
    assert_non_null(resume);
    char again[8192];
    resume += strlen("resume with: simsiam-mi ");
    snprintf(again, sizeof again, "%.*s", (int)strcspn(resume, "\n"), resume);
    assert_non_null(strstr(again, " resume="));
    assert_null(strstr(err, "error"));
    free(out);
    free(err);

    assert_int_equal(sm_test_cli(again, NULL, NULL), 0);
    const char *names[] = {"checkpoint.bin", "eval.csv", "track.csv", "track_detail.csv", "train.csv"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t na, nb;
        char *a = sm_test_read(sm_test_join(whole, names[i]), &na), *b = sm_test_read(sm_test_join(cut, names[i]), &nb);
        assert_non_null(a);
        assert_non_null(b);
        if (i == 0) {
            same_sections(sm_test_join(whole, names[i]), sm_test_join(cut, names[i]));
        } else {
            if (i == 4) without_last_column(a), without_last_column(b);
            assert_string_equal(a, b);
        }
        free(a);
        free(b);
    }
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

/* Resuming a small run's checkpoint with width=1024 (an MLP of ~280 M
 * parameters, over 3 GB with its gradients and momentum): refused from the
 * checkpoint's sizes before the model is built; under the memory cap an
 * attempt to build it fails as "out of memory" instead. */
static void test_resume_into_a_huge_network(void **state)
{
    (void)state;
    const char *small = sm_test_path("resume_small");
    char args[4096], cmd[8400];
    snprintf(args, sizeof args, "train " TINY " steps=2 knn_every=0 out=%s", small);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    const char *ckpt = sm_test_join(small, "checkpoint.bin");
    snprintf(cmd, sizeof cmd, "%stimeout 300 '%s' train " TINY " width=1024 steps=3 knn_every=0 out=%s resume=%s",
             sm_test_memory_cap(), sm_test_bin(), sm_test_path("resume_huge"), ckpt);
    sm_test_run_error(cmd, 1, "checkpoint of another network: width=2 there, 1024 here", ckpt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_run_prints_summary),
        cmocka_unit_test(test_sigterm_then_resume),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_resume_into_a_huge_network),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
