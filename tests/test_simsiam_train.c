/* Tests for src/simsiam/train.c: outputs of a short run, learning, exact
 * resume, checkpoint errors, extra predictor steps, NaN stop, and the
 * closed-form predictor modes (runs, exact resume, the same bits on any
 * thread count, mode checks). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint.h"
#include "io/config.h"
#include "simsiam/model.h"
#include "simsiam/state.h"
#include "simsiam/train.h"
#include "support/support.h"

/* The tiny network every test trains: mlp, width 2, threads 1 (bitwise
 * reproducible), synthetic data, batch 16. */
#define TINY "dataset=synthetic", "arch=mlp", "width=2", "proj_hidden=32", "z_dim=8", "pred_hidden=8", \
             "batch=16", "threads=1"

static void assert_near(double a, double b, double tol)
{
    if (!(fabs(a - b) <= tol)) fail_msg("%.17g differs from %.17g by more than %g", a, b, tol);
}

static void load_config(sm_config *cfg, int n, const char *const *overrides)
{
    sm_status st;
    assert_int_equal(sm_config_load(cfg, NULL, n, overrides, &st), SM_OK);
}

#define NARGS(a) ((int)(sizeof a / sizeof a[0]))

static int train(int n, const char *const *overrides, sm_train_result *r, sm_status *st)
{
    sm_config cfg;
    load_config(&cfg, n, overrides);
    return sm_train_run(&cfg, NULL, r, st);
}

static const char *out_file(const char *dir, const char *name)
{
    static char buf[4][8400];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* Column col (0-based) of every data row of a CSV. */
static size_t csv_column(const char *text, int col, double *out, size_t max)
{
    size_t n = 0;
    const char *line = strchr(text, '\n');
    while (line && line[1] && n < max) {
        const char *p = line + 1;
        for (int c = 0; c < col; c++) p = strchr(p, ',') + 1;
        out[n++] = strtod(p, NULL);
        line = strchr(line + 1, '\n');
    }
    return n;
}

/* Parameter and BN-statistics counts of the TINY network. */
static void tiny_counts(size_t *n_params, size_t *n_backbone, size_t *n_stats)
{
    const char *const ov[] = {TINY};
    sm_config cfg;
    load_config(&cfg, 8, ov);
    sm_status st;
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 16, &st);
    assert_non_null(m);
    *n_params = m->n_params;
    *n_backbone = m->n_backbone;
    *n_stats = m->n_stats;
    sm_model_free(m);
}

/* A malloc'd copy of section `name` (count values: f32, or u64 when
 * u64 is set) of a checkpoint. */
static void *read_any_section(const char *path, sm_state_section name, size_t count, int u64)
{
    sm_status st;
    sm_ckpt *c;
    assert_int_equal(sm_ckpt_read(path, &c, &st), SM_OK);
    const void *v;
    if (u64) assert_int_equal(sm_ckpt_get_u64(c, sm_state_name(name), count, (const uint64_t **)&v, &st), SM_OK);
    else assert_int_equal(sm_ckpt_get_f32(c, sm_state_name(name), count, (const float **)&v, &st), SM_OK);
    size_t bytes = count * (u64 ? sizeof(uint64_t) : sizeof(float));
    void *copy = malloc(bytes);
    assert_non_null(copy);
    memcpy(copy, v, bytes);
    sm_ckpt_free(c);
    return copy;
}

static float *read_section(const char *path, sm_state_section name, size_t count)
{
    return read_any_section(path, name, count, 0);
}

static uint64_t *read_u64_section(const char *path, sm_state_section name, size_t count)
{
    return read_any_section(path, name, count, 1);
}

static const uint64_t *checkpoint_step(const char *path, sm_ckpt **c)
{
    sm_status st;
    const uint64_t *step;
    assert_int_equal(sm_ckpt_read(path, c, &st), SM_OK);
    assert_int_equal(sm_ckpt_get_u64(*c, sm_state_name(SM_STATE_STEP), SM_STATE_STEP_FIELDS, &step, &st), SM_OK);
    return step;
}

/* 30 steps at a lr high enough to learn: every output file is there and
 * right, and the cosine loss falls from ~0 toward −1. */
static void test_short_run_outputs_and_learning(void **state)
{
    (void)state;
    const char *dir = sm_test_path("run30");
    char out[4200];
    snprintf(out, sizeof out, "out=%s", dir);
    const char *const ov[] = {TINY, "steps=30", "lr=1", "schedule=const", "knn_every=1", out};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
    assert_int_equal(r.steps, 30);
    assert_int_equal(r.steps_run, 30);
    assert_near(r.epochs, 30.0 / 125.0, 1e-12); /* 2000 images / 16 = 125 steps per epoch */
    assert_true(r.images_per_s > 0);
    assert_true(r.knn_acc > 0.1 && r.knn_acc <= 1);
    assert_string_equal(r.out, dir);

    size_t n;
    char *csv = sm_test_read(out_file(dir, "train.csv"), &n);
    static const char header[] = "step,epoch,lr,pred_lr,loss,z_std,seconds\n";
    assert_int_equal(strncmp(csv, header, strlen(header)), 0);
    assert_int_equal(sm_test_lines(csv), 31); /* header + every step (30 < 50 per epoch) */
    double loss[30], step[30], zstd[30], lr[30];
    assert_int_equal(csv_column(csv, 4, loss, 30), 30);
    csv_column(csv, 0, step, 30);
    csv_column(csv, 5, zstd, 30);
    csv_column(csv, 2, lr, 30);
    double first = 0, last = 0;
    for (int i = 0; i < 5; i++) {
        first += loss[i] / 5;
        last += loss[25 + i] / 5;
    }
    assert_true(fabs(first) < 0.2);       /* random init: cosine ~ 0 */
    assert_true(last < first - 0.15);     /* learning toward −1 */
    assert_true(last > -1);
    assert_near(loss[29], r.final_loss, 1e-5);
    for (int i = 0; i < 30; i++) {
        assert_near(step[i], i + 1, 0);
        assert_near(lr[i], 1.0 * 16 / 256, 1e-9); /* lr × batch / 256, constant */
        assert_true(zstd[i] > 0.5 && zstd[i] <= sqrt(8.0) + 1e-9);
    }
    free(csv);

    char *eval = sm_test_read(out_file(dir, "eval.csv"), &n);
    double acc[2];
    assert_int_equal(strncmp(eval, "epoch,step,knn_acc\n", 19), 0);
    assert_int_equal(csv_column(eval, 2, acc, 2), 1); /* no epoch end: the final monitor only */
    assert_near(acc[0], r.knn_acc, 1e-6);
    free(eval);

    sm_ckpt *c;
    const uint64_t *s = checkpoint_step(out_file(dir, "checkpoint.bin"), &c);
    assert_int_equal(s[0], 30);
    assert_int_equal(s[1], 0);
    sm_ckpt_free(c);

    char line[SM_TRAIN_JSON_MAX];
    size_t len = sm_train_summary_json(&r, line, sizeof line);
    char *summary = sm_test_read(out_file(dir, "summary.json"), &n);
    assert_int_equal(n, len + 1);
    assert_memory_equal(summary, line, len);
    free(summary);

    sm_config back;
    assert_int_equal(sm_config_load(&back, out_file(dir, "config.txt"), 0, NULL, &st), SM_OK);
    assert_string_equal(back.out, dir);
    assert_int_equal(back.steps, 30);
    assert_near(back.lr, 1, 0);
}

/* 20 steps straight and 10 + resume + 10 give the same bits with pred_mode
 * `mode` ("sgd", "optimal", "directpred"): the model's arrays, the losses
 * and (closed-form modes) the predictor's state. */
static void check_resume_bit_identical(const char *mode)
{
    char a[4200], b[4200], c[4200], resume[4300], dir[64], pred_mode[64];
    snprintf(pred_mode, sizeof pred_mode, "pred_mode=%s", mode);
    snprintf(dir, sizeof dir, "straight_%s", mode);
    snprintf(a, sizeof a, "out=%s", sm_test_path(dir));
    snprintf(dir, sizeof dir, "first10_%s", mode);
    snprintf(b, sizeof b, "out=%s", sm_test_path(dir));
    snprintf(dir, sizeof dir, "resumed_%s", mode);
    snprintf(c, sizeof c, "out=%s", sm_test_path(dir));
    snprintf(resume, sizeof resume, "resume=%s/checkpoint.bin", b + 4);
    /* const schedule: the cosine's horizon is the configured total, and the
     * first half of an interrupted run must be configured like the whole */
    const char *const straight[] = {TINY, "lr=1", "schedule=const", "knn_every=0", "steps=20", pred_mode, a};
    const char *const first[] = {TINY, "lr=1", "schedule=const", "knn_every=0", "steps=10", pred_mode, b};
    const char *const second[] = {TINY, "lr=1", "schedule=const", "knn_every=0", "steps=20", pred_mode, c, resume};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(straight), straight, &r, &st), SM_OK);
    assert_int_equal(train(NARGS(first), first, &r, &st), SM_OK);
    assert_int_equal(train(NARGS(second), second, &r, &st), SM_OK);
    assert_int_equal(r.steps, 20);
    assert_int_equal(r.steps_run, 10); /* really resumed, not a fresh 20-step run */

    size_t np, nb, ns;
    tiny_counts(&np, &nb, &ns);
    const char *ca = out_file(a + 4, "checkpoint.bin"), *cc = out_file(c + 4, "checkpoint.bin");
    static const sm_state_section sections[] = {SM_STATE_PARAMS, SM_STATE_MOMENTUM, SM_STATE_BN_STATS};
    for (int i = 0; i < 3; i++) {
        size_t count = i == 2 ? ns : np;
        float *x = read_section(ca, sections[i], count);
        float *y = read_section(cc, sections[i], count);
        assert_memory_equal(x, y, count * sizeof *x);
        free(x);
        free(y);
    }
    if (strcmp(mode, "sgd") != 0) { /* z_dim 8: Ĉ (and for optimal X̂) */
        size_t counts[] = {2, (strcmp(mode, "optimal") == 0 ? 2 : 1) * 8 * 8};
        static const sm_state_section pred[] = {SM_STATE_PREDICTOR, SM_STATE_PREDICTOR_MOMENTS};
        for (int i = 0; i < 2; i++) {
            uint64_t *x = read_u64_section(ca, pred[i], counts[i]), *y = read_u64_section(cc, pred[i], counts[i]);
            assert_memory_equal(x, y, counts[i] * sizeof *x);
            free(x);
            free(y);
        }
    }
    /* the resumed train.csv carries the first run's rows: same losses */
    size_t n;
    char *ta = sm_test_read(out_file(a + 4, "train.csv"), &n), *tc = sm_test_read(out_file(c + 4, "train.csv"), &n);
    double la[20], lc[20];
    assert_int_equal(csv_column(ta, 4, la, 20), 20);
    assert_int_equal(csv_column(tc, 4, lc, 20), 20);
    assert_memory_equal(la, lc, sizeof la);
    free(ta);
    free(tc);
}

static void test_resume_is_bit_identical(void **state)
{
    (void)state;
    check_resume_bit_identical("sgd");
}

static void test_resume_closed_form_is_bit_identical(void **state)
{
    (void)state;
    check_resume_bit_identical("optimal");
    check_resume_bit_identical("directpred");
}

/* pred_steps = 3 moves only the predictor beyond pred_steps = 1 in one step. */
static void test_extra_predictor_steps(void **state)
{
    (void)state;
    char a[4200], b[4200];
    snprintf(a, sizeof a, "out=%s", sm_test_path("pred1"));
    snprintf(b, sizeof b, "out=%s", sm_test_path("pred3"));
    const char *const one[] = {TINY, "knn_every=0", "steps=1", "pred_steps=1", a};
    const char *const three[] = {TINY, "knn_every=0", "steps=1", "pred_steps=3", b};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(one), one, &r, &st), SM_OK);
    assert_int_equal(train(NARGS(three), three, &r, &st), SM_OK);
    size_t np, nb, ns;
    tiny_counts(&np, &nb, &ns);
    float *x = read_section(out_file(a + 4, "checkpoint.bin"), SM_STATE_PARAMS, np);
    float *y = read_section(out_file(b + 4, "checkpoint.bin"), SM_STATE_PARAMS, np);
    assert_memory_equal(x, y, nb * sizeof *x);
    assert_memory_not_equal(x + nb, y + nb, (np - nb) * sizeof *x);
    free(x);
    free(y);
}

static void test_corrupt_and_mismatched_checkpoints(void **state)
{
    (void)state;
    const char *bad = sm_test_path("corrupt.bin");
    sm_test_write_text(bad, "SSMICKPT this is not a checkpoint");
    char out[4200], resume[4300];
    snprintf(out, sizeof out, "out=%s", sm_test_path("from_corrupt"));
    snprintf(resume, sizeof resume, "resume=%s", bad);
    const char *const ov[] = {TINY, "steps=2", "knn_every=0", out, resume};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, bad));
    assert_null(strchr(st.msg, '\n'));

    /* a width-2 checkpoint resumed as width 3: refused by its configuration */
    char src[4200], good[4300];
    snprintf(src, sizeof src, "out=%s", sm_test_path("width2"));
    const char *const make[] = {TINY, "steps=2", "knn_every=0", src};
    assert_int_equal(train(NARGS(make), make, &r, &st), SM_OK);
    snprintf(good, sizeof good, "resume=%s/checkpoint.bin", src + 4);
    const char *const wider[] = {TINY, "width=3", "steps=4", "knn_every=0", out, good};
    assert_int_equal(train(NARGS(wider), wider, &r, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "checkpoint of another network: width=2 there, 3 here"));

    /* stem strides 1 and 2 have the same parameter counts: only the
     * configuration tells them apart */
    char strided[4200], strided_ckpt[4300];
    snprintf(strided, sizeof strided, "out=%s", sm_test_path("stride1"));
    const char *const resnet[] = {"dataset=synthetic", "arch=resnet", "width=1", "proj_hidden=8", "z_dim=4",
                                  "pred_hidden=4", "batch=8", "steps=1", "knn_every=0", "stem_stride=1", strided};
    assert_int_equal(train(NARGS(resnet), resnet, &r, &st), SM_OK);
    snprintf(strided_ckpt, sizeof strided_ckpt, "resume=%s/checkpoint.bin", strided + 4);
    const char *const stride2[] = {"dataset=synthetic", "arch=resnet", "width=1", "proj_hidden=8", "z_dim=4",
                                   "pred_hidden=4", "batch=8", "steps=2", "knn_every=0", "stem_stride=2", out,
                                   strided_ckpt};
    assert_int_equal(train(NARGS(stride2), stride2, &r, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "checkpoint of another network: stem_stride=1 there, 2 here"));

    /* past the configured total */
    const char *const shorter[] = {TINY, "steps=1", "knn_every=0", out, good};
    assert_int_equal(train(NARGS(shorter), shorter, &r, &st), SM_ERR_USAGE);
}

/* checkpoint_keep = 1 leaves OUT/checkpoint-<step>.bin beside checkpoint.bin
 * (here the last one: 4 steps are less than an epoch); 0 leaves none. */
static void test_checkpoint_keep(void **state)
{
    (void)state;
    for (int keep = 0; keep <= 1; keep++) {
        char out[4200], k[32];
        const char *dir = sm_test_path(keep ? "kept" : "not_kept");
        snprintf(out, sizeof out, "out=%s", dir);
        snprintf(k, sizeof k, "checkpoint_keep=%d", keep);
        const char *const ov[] = {TINY, "steps=4", "knn_every=0", out, k};
        sm_train_result r;
        sm_status st;
        assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
        size_t n_last, n_kept;
        char *last = sm_test_read(out_file(dir, "checkpoint.bin"), &n_last);
        FILE *f = fopen(out_file(dir, "checkpoint-4.bin"), "rb");
        assert_int_equal(f != NULL, keep);
        if (f) {
            fclose(f);
            char *kept = sm_test_read(out_file(dir, "checkpoint-4.bin"), &n_kept);
            assert_int_equal(n_kept, n_last);
            assert_memory_equal(kept, last, n_last);
            free(kept);
        }
        free(last);
    }
    /* The copy is written before checkpoint.bin: here checkpoint.bin cannot
     * be written (a directory is in its place) and the run fails, its copy
     * already there.  A run killed between the two writes so resumes from
     * the checkpoint before and writes the copy again. */
    char cmd[8600], out[4200];
    const char *dir = sm_test_path("kept_first");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s/checkpoint.bin'", dir, dir);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    snprintf(out, sizeof out, "out=%s", dir);
    const char *const ov[] = {TINY, "steps=4", "knn_every=0", "checkpoint_keep=1", out};
    sm_train_result r;
    sm_status st;
    assert_int_not_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
    FILE *f = fopen(out_file(dir, "checkpoint-4.bin"), "rb");
    assert_non_null(f);
    fclose(f);
}

/* A good TINY run of `steps` into dir, kNN off; out= and resume= (its
 * checkpoint) for the runs that follow it. */
static void good_run(const char *dir, const char *steps, char *out, size_t n_out, char *resume, size_t n_resume)
{
    snprintf(out, n_out, "out=%s", dir);
    snprintf(resume, n_resume, "resume=%s/checkpoint.bin", dir);
    const char *const ov[] = {TINY, steps, "knn_every=0", out};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
}

/* What a run killed in its writes left (temporaries of checkpoint.bin, a
 * kept copy, a CSV) goes when the run is resumed; other files stay. */
static void test_stale_temporaries_removed(void **state)
{
    (void)state;
    char out[4200], resume[4200];
    const char *dir = sm_test_path("stale_temporaries");
    good_run(dir, "steps=2", out, sizeof out, resume, sizeof resume);
    static const char *const gone[] = {"checkpoint.bin.Zsf1wr", "checkpoint-12.bin.a0B9zz", "train.csv.q1w2e3"};
    static const char *const kept[] = {"notes.txt.abcdef", "checkpoint-x.bin.Zsf1wr"};
    for (size_t i = 0; i < 3; i++) sm_test_write_text(out_file(dir, gone[i]), "half a file");
    for (size_t i = 0; i < 2; i++) sm_test_write_text(out_file(dir, kept[i]), "mine");
    const char *const ov[] = {TINY, "steps=4", "knn_every=0", out, resume};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
    for (size_t i = 0; i < 3; i++)
        if (fopen(out_file(dir, gone[i]), "rb")) fail_msg("%s is still there", gone[i]);
    for (size_t i = 0; i < 2; i++) {
        char *text = sm_test_read(out_file(dir, kept[i]), NULL);
        assert_non_null(text);
        assert_string_equal(text, "mine");
        free(text);
    }
}

/* The file at path still holds the n bytes of before (freed). */
static void expect_unchanged(const char *path, char *before, size_t n)
{
    size_t n_now;
    char *now = sm_test_read(path, &n_now);
    assert_int_equal(n_now, n);
    assert_memory_equal(now, before, n);
    free(now);
    free(before);
}

/* Resumed with another dataset, batch or holdout, the CSVs would mix two
 * runs (epochs going back, kNN accuracies of two data sets): refused, naming
 * the key and both values; the run directory's files stay as they were. */
static void test_resume_refuses_another_run(void **state)
{
    (void)state;
    char out[4200], resume[4300];
    const char *dir = sm_test_path("other_run");
    good_run(dir, "steps=2", out, sizeof out, resume, sizeof resume);
    const char *const kept[] = {"train.csv", "config.txt", "checkpoint.bin"};
    size_t n[3];
    char *before[3];
    for (int i = 0; i < 3; i++) before[i] = sm_test_read(out_file(dir, kept[i]), &n[i]);
    sm_train_result r;
    sm_status st;
    const struct {
        const char *key, *message;
    } cases[] = {
        {"dataset=random", "checkpoint of another run: dataset=synthetic there, random here"},
        {"batch=8", "checkpoint of another run: batch=16 there, 8 here"},
        {"holdout=100", "checkpoint of another run: holdout=0 there, 100 here"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *const other[] = {TINY, "steps=4", "knn_every=0", cases[k].key, out, resume};
        assert_int_equal(train(NARGS(other), other, &r, &st), SM_ERR_DATA);
        assert_non_null(strstr(st.msg, cases[k].message));
        assert_non_null(strstr(st.msg, "checkpoint.bin"));
    }
    for (int i = 0; i < 3; i++) expect_unchanged(out_file(dir, kept[i]), before[i], n[i]);
}

/* Tracking rows written under another column set (an older version's
 * checkpoint: no header sections, or a different header) are refused on
 * resume with a clear error, never appended under this version's header. */
static void test_resume_refuses_other_track_columns(void **state)
{
    (void)state;
    char out[4200], resume[4300];
    const char *dir = sm_test_path("tracked_old");
    snprintf(out, sizeof out, "out=%s", dir);
    const char *const ov[] = {TINY, "steps=2", "knn_every=0", "track_every=2", "track_samples=64", "track_views=8",
                              "track_images=4", out};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);

    /* The same checkpoint with its detail header replaced by an older one. */
    const char *path = out_file(dir, "checkpoint.bin");
    sm_ckpt *c;
    assert_int_equal(sm_ckpt_read(path, &c, &st), SM_OK);
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
    assert_non_null(w);
    size_t n_params, n_backbone, n_stats;
    tiny_counts(&n_params, &n_backbone, &n_stats);
    const sm_state_section texts[] = {SM_STATE_CONFIG,    SM_STATE_TRAIN_CSV,        SM_STATE_EVAL_CSV,
                                      SM_STATE_TRACK_CSV, SM_STATE_TRACK_DETAIL_CSV, SM_STATE_TRACK_CSV_HEADER};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const char *t;
        assert_int_equal(sm_ckpt_get_text(c, sm_state_name(texts[i]), &t, &st), SM_OK);
        assert_int_equal(sm_ckpt_add_text(w, sm_state_name(texts[i]), t, &st), SM_OK);
    }
    const uint64_t *step;
    assert_int_equal(sm_ckpt_get_u64(c, sm_state_name(SM_STATE_STEP), SM_STATE_STEP_FIELDS, &step, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_u64(w, sm_state_name(SM_STATE_STEP), step, SM_STATE_STEP_FIELDS, &st), SM_OK);
    const sm_state_section floats[] = {SM_STATE_PARAMS, SM_STATE_MOMENTUM, SM_STATE_BN_STATS};
    const size_t counts[] = {n_params, n_params, n_stats};
    for (size_t i = 0; i < 3; i++) {
        const float *v;
        assert_int_equal(sm_ckpt_get_f32(c, sm_state_name(floats[i]), counts[i], &v, &st), SM_OK);
        assert_int_equal(sm_ckpt_add_f32(w, sm_state_name(floats[i]), v, counts[i], &st), SM_OK);
    }
    assert_int_equal(sm_ckpt_add_text(w, sm_state_name(SM_STATE_TRACK_DETAIL_CSV_HEADER), "step,dim_used,n,views,images,nll_r\n", &st),
                     SM_OK);
    const char *old = sm_test_path("old_columns.bin");
    assert_int_equal(sm_ckpt_write(old, w, &st), SM_OK);
    sm_ckpt_writer_free(w);
    sm_ckpt_free(c);

    snprintf(out, sizeof out, "out=%s", sm_test_path("tracked_resumed"));
    snprintf(resume, sizeof resume, "resume=%s", old);
    const char *const more[] = {TINY, "steps=4", "knn_every=0", "track_every=2", "track_samples=64", "track_views=8",
                                "track_images=4", out, resume};
    assert_int_equal(train(NARGS(more), more, &r, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "other columns"));
    assert_non_null(strstr(st.msg, old));
}

/* A diverging lr stops with SM_ERR_DATA and leaves the checkpoint as it was:
 * at lr = 1e30 the loss turns nan; at lr = 1e8 it stays finite while
 * BatchNorm's running variance overflows (z rounds to 0), which the check
 * before each checkpoint write catches. */
static void test_divergence_keeps_checkpoint(void **state)
{
    (void)state;
    const struct {
        const char *steps, *lr, *message;
    } cases[] = {
        {"steps=50", "lr=1e30", "loss is nan at step "},
        {"steps=8", "lr=1e8", "the model diverged (bn_stats["},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char out[4200], resume[4300];
        const char *dir = sm_test_path(k ? "diverged" : "nan");
        good_run(dir, "steps=3", out, sizeof out, resume, sizeof resume);
        size_t n;
        char *before = sm_test_read(out_file(dir, "checkpoint.bin"), &n);
        sm_train_result r;
        sm_status st;
        const char *const diverge[] = {TINY, cases[k].steps, cases[k].lr, "knn_every=0", out, resume};
        assert_int_equal(train(NARGS(diverge), diverge, &r, &st), SM_ERR_DATA);
        assert_non_null(strstr(st.msg, cases[k].message));
        assert_non_null(strstr(st.msg, "last good checkpoint kept"));
        assert_non_null(strstr(st.msg, "checkpoint.bin"));
        expect_unchanged(out_file(dir, "checkpoint.bin"), before, n);
    }
}

/* The closed-form modes train encoder + projector only: 8 steps run, the
 * losses are finite, pred_lr is 0, the network's predictor keeps its
 * initial parameters while the backbone moves, and the checkpoint holds the
 * predictor's state. */
static void test_closed_form_modes_run(void **state)
{
    (void)state;
    size_t np, nb, ns;
    tiny_counts(&np, &nb, &ns);
    const char *const tiny[] = {TINY};
    sm_config cfg;
    load_config(&cfg, NARGS(tiny), tiny);
    sm_status st;
    sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 16, &st);
    assert_non_null(m);
    sm_model_init(m, 0); /* seed 0: the runs' initial parameters */

    static const char *const modes[] = {"optimal", "directpred"};
    for (int k = 0; k < 2; k++) {
        char out[4200], pred_mode[64];
        const char *dir = sm_test_path(modes[k]);
        snprintf(out, sizeof out, "out=%s", dir);
        snprintf(pred_mode, sizeof pred_mode, "pred_mode=%s", modes[k]);
        const char *const ov[] = {TINY, "steps=8", "lr=1", "schedule=const", "knn_every=0", pred_mode, out};
        sm_train_result r;
        assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
        assert_int_equal(r.steps, 8);
        assert_true(isfinite(r.final_loss));

        size_t n;
        char *csv = sm_test_read(out_file(dir, "train.csv"), &n);
        double loss[8], pred_lr[8];
        assert_int_equal(csv_column(csv, 4, loss, 8), 8);
        csv_column(csv, 3, pred_lr, 8);
        for (int i = 0; i < 8; i++) {
            assert_true(isfinite(loss[i]) && loss[i] >= -1 && loss[i] <= 1);
            assert_near(pred_lr[i], 0, 0);
        }
        free(csv);

        const char *ckpt = out_file(dir, "checkpoint.bin");
        float *params = read_section(ckpt, SM_STATE_PARAMS, np);
        assert_memory_equal(params + nb, m->params + nb, (np - nb) * sizeof *params);
        assert_memory_not_equal(params, m->params, nb * sizeof *params);
        free(params);
        uint64_t *header = read_u64_section(ckpt, SM_STATE_PREDICTOR, 2);
        assert_int_equal(header[0], k == 0 ? SM_PRED_OPTIMAL : SM_PRED_DIRECTPRED);
        assert_int_equal(header[1], 8); /* one update per step */
        free(header);
    }
    sm_model_free(m);
}

/* The closed-form modes on 1 and 2 threads: the same parameters, bit for bit
 * (W comes from GSL's eigensolver or Cholesky, which call OpenBLAS, whose
 * threading is not bit-reproducible; z_dim 64 is large enough for it to
 * differ there, with directpred, from step 3 on). */
static void test_closed_form_same_on_any_thread_count(void **state)
{
    (void)state;
    static const char *const modes[] = {"optimal", "directpred"};
    for (int k = 0; k < 2; k++) {
        float *params[2];
        size_t np = 0;
        for (int t = 0; t < 2; t++) {
            char out[4200], pred_mode[64], threads[32], name[64];
            snprintf(name, sizeof name, "threads%d_%s", t + 1, modes[k]);
            snprintf(out, sizeof out, "out=%s", sm_test_path(name));
            snprintf(pred_mode, sizeof pred_mode, "pred_mode=%s", modes[k]);
            snprintf(threads, sizeof threads, "threads=%d", t + 1);
            const char *const ov[] = {TINY, "z_dim=64", "steps=6", "knn_every=0", pred_mode, threads, out};
            sm_config cfg;
            load_config(&cfg, NARGS(ov), ov);
            sm_status st;
            sm_model *m = sm_model_alloc(&cfg, 1, 28, 28, 16, &st);
            assert_non_null(m);
            np = m->n_params;
            sm_model_free(m);
            sm_train_result r;
            assert_int_equal(sm_train_run(&cfg, NULL, &r, &st), SM_OK);
            params[t] = read_section(out_file(out + 4, "checkpoint.bin"), SM_STATE_PARAMS, np);
        }
        assert_memory_equal(params[0], params[1], np * sizeof *params[0]);
        free(params[0]);
        free(params[1]);
    }
}

/* A checkpoint resumes only under the pred_mode that wrote it. */
static void test_pred_mode_mismatch_rejected(void **state)
{
    (void)state;
    static const char *const modes[] = {"sgd", "optimal", "directpred"};
    sm_train_result r;
    sm_status st;
    for (int k = 0; k < 3; k++) {
        char out[4200], pred_mode[64], name[64];
        snprintf(name, sizeof name, "mode_%s", modes[k]);
        snprintf(out, sizeof out, "out=%s", sm_test_path(name));
        snprintf(pred_mode, sizeof pred_mode, "pred_mode=%s", modes[k]);
        const char *const ov[] = {TINY, "steps=2", "knn_every=0", pred_mode, out};
        assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_OK);
    }
    for (int from = 0; from < 3; from++)
        for (int to = 0; to < 3; to++) {
            if (from == to) continue;
            char out[4200], resume[8500], pred_mode[64], name[64], want[128];
            snprintf(name, sizeof name, "mode_%s", modes[from]);
            const char *made = out_file(sm_test_path(name), "checkpoint.bin");
            snprintf(out, sizeof out, "out=%s", sm_test_path("mode_resumed"));
            snprintf(resume, sizeof resume, "resume=%s", made);
            snprintf(pred_mode, sizeof pred_mode, "pred_mode=%s", modes[to]);
            const char *const ov[] = {TINY, "steps=4", "knn_every=0", pred_mode, out, resume};
            assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_ERR_DATA);
            snprintf(want, sizeof want, "checkpoint was written with pred_mode=%s, this run has pred_mode=%s (",
                     modes[from], modes[to]);
            assert_non_null(strstr(st.msg, want));
            assert_non_null(strstr(st.msg, made));
        }
}

/* There is no predictor to train with a closed-form W: pred_steps > 1 is a
 * usage error (pred_steps = 1, the default, is what the runs above use). */
static void test_pred_steps_need_sgd(void **state)
{
    (void)state;
    const char *const ov[] = {TINY, "pred_mode=optimal", "pred_steps=2"};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "pred_steps=2 needs pred_mode=sgd: pred_mode=optimal trains no predictor");
}

/* A diverging lr stops a closed-form run like an sgd one. */
static void test_closed_form_nan_stops(void **state)
{
    (void)state;
    char out[4200];
    snprintf(out, sizeof out, "out=%s", sm_test_path("nan_directpred"));
    const char *const ov[] = {TINY, "steps=50", "lr=1e30", "knn_every=0", "pred_mode=directpred", out};
    sm_train_result r;
    sm_status st;
    assert_int_equal(train(NARGS(ov), ov, &r, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "loss is nan at step "));
}

static void test_summary_json(void **state)
{
    (void)state;
    sm_train_result r = {.steps = 50, .epochs = 0.25, .images_per_s = 812.25, .final_loss = -0.5,
                         .knn_acc = NAN};
    snprintf(r.out, sizeof r.out, "runs/a\"b");
    char line[SM_TRAIN_JSON_MAX];
    size_t n = sm_train_summary_json(&r, line, sizeof line);
    assert_string_equal(line, "{\"steps\":50,\"epochs\":0.25,\"images_per_s\":812.2,\"final_loss\":-0.5,"
                              "\"knn_acc\":null,\"out\":\"runs/a\\\"b\"}");
    assert_int_equal(n, strlen(line));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_run_outputs_and_learning),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_checkpoint_keep),
        cmocka_unit_test(test_stale_temporaries_removed),
        cmocka_unit_test(test_resume_refuses_other_track_columns),
        cmocka_unit_test(test_extra_predictor_steps),
        cmocka_unit_test(test_corrupt_and_mismatched_checkpoints),
        cmocka_unit_test(test_divergence_keeps_checkpoint),
        cmocka_unit_test(test_resume_refuses_another_run),
        cmocka_unit_test(test_resume_closed_form_is_bit_identical),
        cmocka_unit_test(test_closed_form_modes_run),
        cmocka_unit_test(test_closed_form_same_on_any_thread_count),
        cmocka_unit_test(test_pred_mode_mismatch_rejected),
        cmocka_unit_test(test_pred_steps_need_sgd),
        cmocka_unit_test(test_closed_form_nan_stops),
        cmocka_unit_test(test_summary_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
