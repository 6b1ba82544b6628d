/* Tests for src/cli/eval.c on a tiny trained run: the JSON line of both
 * probes, kNN agreeing with the trainer's own monitor, and the error exits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader.h"
#include "io/checkpoint.h"
#include "simsiam/probe.h"
#include "simsiam/state.h"
#include "support/support.h"

#define TINY "dataset=synthetic arch=mlp width=2 proj_hidden=16 z_dim=4 pred_hidden=4 batch=16 threads=1"

static char run_dir[4096];

/* A 3-step run with the kNN monitor on, trained once per test binary. */
static const char *checkpoint(void)
{
    static char path[4200];
    if (path[0]) return path;
    snprintf(run_dir, sizeof run_dir, "%s", sm_test_path("eval_run"));
    char args[4400];
    snprintf(args, sizeof args, "train " TINY " steps=3 knn_every=1 out=%s", run_dir);
    char *err;
    int rc = sm_test_cli(args, NULL, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    free(err);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s", sm_test_join(run_dir, "checkpoint.bin"));
    return path;
}

/* Run eval with --probe probe --features features: exit 0, nothing on
 * stderr, one JSON line with the fixed keys in order; returns the accuracy. */
static double eval_features(const char *probe, const char *features)
{
    char args[4400], *out, *err;
    snprintf(args, sizeof args, "eval --checkpoint %s --probe %s --features %s", checkpoint(), probe, features);
    int rc = sm_test_cli(args, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    assert_int_equal(sm_test_lines(out), 1);
    char head[128];
    snprintf(head, sizeof head, "{\"probe\":\"%s\",\"features\":\"%s\",\"accuracy\":", probe, features);
    assert_true(strncmp(out, head, strlen(head)) == 0);
    assert_non_null(strstr(out, ",\"n_train\":2000,\"n_test\":500,\"seconds\":"));
    assert_true(strcmp(out + strlen(out) - 2, "}\n") == 0);
    assert_true(sm_test_json_number(out, "seconds") >= 0);
    double acc = sm_test_json_number(out, "accuracy");
    assert_true(acc >= 0 && acc <= 1);
    if (sm_test_have_python("json")) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<'EOF'\n%sEOF\n",
                 out);
        assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    }
    free(out);
    free(err);
    return acc;
}

static double eval_accuracy(const char *probe) { return eval_features(probe, "encoder"); }

/* The same model, bank and queries as the trainer's last monitor row: the
 * same accuracy (summary.json prints it with 4 decimals too). */
static void test_knn_matches_monitor(void **state)
{
    (void)state;
    double acc = eval_accuracy("knn");
    size_t n;
    char *summary = sm_test_read(sm_test_join(run_dir, "summary.json"), &n);
    assert_true(fabs(acc - sm_test_json_number(summary, "knn_acc")) < 1e-9);
    free(summary);
}

/* The CLI's linear probe is the library's on the same features: the same
 * accuracy to the 4 printed decimals (the probe itself is tested against
 * separable blobs in test_simsiam_probe.c).  Synthetic has 10 classes
 * (chance 0.1). */
static void test_linear(void **state)
{
    (void)state;
    double acc = eval_accuracy("linear");
    sm_status st;
    sm_config cfg;
    sm_dataset train, test;
    sm_model *m;
    assert_int_equal(sm_state_restore(checkpoint(), "train", &cfg, &train, &m, &st), SM_OK);
    assert_int_equal(sm_data_load(&cfg, "test", &test, &st), SM_OK);
    float *ftrain = sm_test_floats(train.n * m->features), *ftest = sm_test_floats(test.n * m->features);
    assert_int_equal(sm_model_embed_dataset(m, &train, train.n, ftrain, NULL, &st), SM_OK);
    assert_int_equal(sm_model_embed_dataset(m, &test, test.n, ftest, NULL, &st), SM_OK);
    sm_probe_opts o;
    sm_probe_defaults(&o);
    double want = 0;
    assert_int_equal(sm_probe_linear(ftrain, train.labels, train.n, ftest, test.labels, test.n, m->features,
                                     train.classes, &o, &want, &st), SM_OK);
    assert_true(fabs(acc - want) < 5e-5);
    assert_true(acc > 0.1);
    free(ftrain);
    free(ftest);
    sm_model_free(m);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
}

/* The raw-pixel baselines through the kNN probe (the linear probe takes
 * the same features through the same sm_probe_linear as the encoder's, at
 * ~40 s for 784 pixels here).  Synthetic images are their class's template
 * plus noise: pixels alone beat chance (0.1) by far, and centring (cosine
 * similarity about the mean image) helps, as on Fashion-MNIST. */
static void test_pixel_baselines(void **state)
{
    (void)state;
    double raw = eval_features("knn", "pixels"), centred = eval_features("knn", "pixels-centred");
    assert_true(raw > 0.5 && centred > raw);
}

/* encoder-centred is the encoder's f minus the training mean (the centring
 * itself is test_simsiam_probe's hand case): through the CLI it gives
 * another vote than the uncentred f of the same model (the run is seeded,
 * so this holds or fails every time). */
static void test_encoder_centred(void **state)
{
    (void)state;
    double centred = eval_features("knn", "encoder-centred"), plain = eval_features("knn", "encoder");
    assert_true(centred > 0.1 && centred != plain);
}

static void test_errors(void **state)
{
    (void)state;
    char args[8400];
    const char *bad = sm_test_path("eval_bad.bin");
    sm_test_write_text(bad, "corrupt");
    snprintf(args, sizeof args, "eval --checkpoint %s", bad);
    sm_test_cli_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "eval --checkpoint %s --probe linear", bad);
    sm_test_cli_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "eval --checkpoint %s --probe svm", checkpoint());
    sm_test_cli_error(args, 2, "--probe 'svm'", NULL);
    sm_test_cli_error("eval --probe knn", 2, "missing --checkpoint", NULL);
    snprintf(args, sizeof args, "eval --checkpoint %s --features edges", checkpoint());
    sm_test_cli_error(args, 2, "--features 'edges'", NULL);
    snprintf(args, sizeof args, "eval --checkpoint %s --features pixels", bad);
    sm_test_cli_error(args, 1, bad, NULL);
    sm_test_cli_error("eval --checkpoint x.bin extra", 2, "unexpected argument 'extra'", NULL);
}

/* The checkpoint of checkpoint() with its config section replaced by
 * config_tail appended to it (later keys win), the other sections copied:
 * a valid file (the writer computes the CRC) saying another network. */
static const char *with_config_tail(const char *name, const char *config_tail)
{
    sm_status st;
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    assert_int_equal(sm_state_restore(checkpoint(), "test", &cfg, &ds, &m, &st), SM_OK);
    sm_ckpt *c;
    assert_int_equal(sm_ckpt_read(checkpoint(), &c, &st), SM_OK);
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
    assert_non_null(w);
    const char *config;
    assert_int_equal(sm_ckpt_get_text(c, sm_state_name(SM_STATE_CONFIG), &config, &st), SM_OK);
    size_t len = strlen(config) + strlen(config_tail) + 1;
    char *edited = malloc(len);
    assert_non_null(edited);
    snprintf(edited, len, "%s%s", config, config_tail);
    assert_int_equal(sm_ckpt_add_text(w, sm_state_name(SM_STATE_CONFIG), edited, &st), SM_OK);
    free(edited);
    const uint64_t *step;
    assert_int_equal(sm_ckpt_get_u64(c, sm_state_name(SM_STATE_STEP), SM_STATE_STEP_FIELDS, &step, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_u64(w, sm_state_name(SM_STATE_STEP), step, SM_STATE_STEP_FIELDS, &st), SM_OK);
    const sm_state_section floats[] = {SM_STATE_PARAMS, SM_STATE_MOMENTUM, SM_STATE_BN_STATS};
    const size_t counts[] = {m->n_params, m->n_params, m->n_stats};
    for (size_t i = 0; i < 3; i++) {
        const float *v;
        assert_int_equal(sm_ckpt_get_f32(c, sm_state_name(floats[i]), counts[i], &v, &st), SM_OK);
        assert_int_equal(sm_ckpt_add_f32(w, sm_state_name(floats[i]), v, counts[i], &st), SM_OK);
    }
    const char *path = sm_test_path(name);
    assert_int_equal(sm_ckpt_write(path, w, &st), SM_OK);
    sm_ckpt_writer_free(w);
    sm_ckpt_free(c);
    sm_model_free(m);
    sm_dataset_free(&ds);
    return path;
}

/* Only the config section edited to arch=resnet width=1024, a network of
 * ~300 M parameters and tens of GB of activations: refused from the
 * sections' sizes before any model is built (before, eval built it first
 * and grew to 24 GB; under the memory cap that attempt fails as "out of
 * memory" instead of this message). */
static void test_checkpoint_config_edited_to_a_huge_network(void **state)
{
    (void)state;
    const char *path = with_config_tail("eval_huge.bin", "arch=resnet\nwidth=1024\n");
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "%stimeout 300 '%s' eval --checkpoint %s", sm_test_memory_cap(), sm_test_bin(), path);
    sm_test_run_error(cmd, 1, "checkpoint section 'params' has ", path);
}

/* A bad line in a checkpoint's configuration is a corrupt file (exit 1, the
 * file and line named), not a usage error as on the command line. */
static void test_checkpoint_config_with_a_bad_line(void **state)
{
    (void)state;
    const struct {
        const char *name, *tail, *message;
    } cases[] = {
        {"eval_unknown_key.bin", "bogus_key=1\n", "unknown key 'bogus_key'"},
        {"eval_bad_value.bin", "batch=abc\n", "bad value 'abc' for batch"},
    };
    char args[8400];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = with_config_tail(cases[i].name, cases[i].tail);
        snprintf(args, sizeof args, "eval --checkpoint %s", path);
        sm_test_cli_error(args, 1, cases[i].message, path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knn_matches_monitor),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_pixel_baselines),
        cmocka_unit_test(test_encoder_centred),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_checkpoint_config_edited_to_a_huge_network),
        cmocka_unit_test(test_checkpoint_config_with_a_bad_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
