/* Tests for src/simsiam/state.c: the save/load round trip bit for bit (every
 * pred_mode), the sections on disk in the order and with the types
 * checkpoints have always had, a checkpoint of that layout written section
 * by section (as train.c did before state.c) loading, and the failures —
 * missing section, wrong size, corrupt file, another pred_mode or z_dim,
 * non-finite moments, tracking rows under other columns, images of another
 * shape — each a one-line SM_ERR_DATA naming the file; then restoring a
 * tiny trained checkpoint. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/le.h"
#include "simsiam/state.h"
#include "simsiam/track.h"
#include "simsiam/train.h"
#include "support/support.h"

/* The images the tiny models are built for (mlp: any shape will do). */
static const sm_dataset SHAPE = {.c = 1, .h = 6, .w = 6};

static sm_config tiny_config(const char *pred_mode, const char *width)
{
    const char *ov[] = {"arch=mlp", width, "proj_hidden=8", "z_dim=4", "pred_hidden=4", "batch=8", pred_mode};
    sm_config cfg;
    sm_status st;
    if (sm_config_load(&cfg, NULL, 7, ov, &st)) fail_msg("%s", st.msg);
    return cfg;
}

static sm_model *tiny_model(const sm_config *cfg)
{
    sm_status st;
    sm_model *m = sm_model_alloc(cfg, (int)SHAPE.c, (int)SHAPE.h, (int)SHAPE.w, 8, &st);
    if (!m) fail_msg("%s", st.msg);
    return m;
}

/* Every array filled with draws, and the bits a text round trip would
 * lose: −0, the largest float, a denormal (not NaN: the loader refuses it). */
static void fill(float *a, size_t n, sm_rng *rng)
{
    sm_test_fill_uniform(a, n, rng, -2, 2);
    const uint32_t odd[] = {0x80000000u, 0x7f7fffffu, 0x00000001u};
    for (size_t i = 0; i < 3 && i < n; i++) memcpy(&a[i], &odd[i], sizeof *a);
}

/* A predictor for mode after two updates (NULL for sgd). */
static sm_predictor *tiny_predictor(sm_pred_mode mode, sm_rng *rng)
{
    if (mode == SM_PRED_SGD) return NULL;
    sm_status st;
    sm_predictor *p = sm_predictor_alloc(mode, 4, &st);
    assert_non_null(p);
    float z1[16 * 4], z2[16 * 4];
    for (int k = 0; k < 2; k++) {
        sm_test_fill_uniform(z1, 64, rng, -1, 1);
        sm_test_fill_uniform(z2, 64, rng, -1, 1);
        assert_int_equal(sm_predictor_update(p, z1, z2, 16, &st), SM_OK);
    }
    return p;
}

static char *config_text(const sm_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sm_config_fprint(f, cfg);
    fclose(f);
    return text;
}

/* The tracking rows' header line of this build, as a checkpoint records it. */
static const char *header(sm_track_file file)
{
    static char buf[2][SM_TRACK_LINE_MAX];
    sm_track_header(file, buf[file], sizeof buf[file]);
    return buf[file];
}

/* A saved state and what it was made from. */
typedef struct {
    sm_config cfg;
    sm_model *m;
    sm_predictor *pred;
    sm_state s;
    const char *path;
} saved;

static void save_tiny(saved *v, const char *mode, const char *name)
{
    sm_rng rng;
    sm_rng_seed(&rng, 7, 0);
    v->cfg = tiny_config(mode, "width=2");
    v->m = tiny_model(&v->cfg);
    fill(v->m->params, v->m->n_params, &rng);
    fill(v->m->momentum, v->m->n_params, &rng);
    fill(v->m->stats, v->m->n_stats, &rng);
    v->pred = tiny_predictor(v->cfg.pred_mode, &rng);
    v->s = (sm_state){&v->cfg, {7, 1, 12.345678, -0.5, NAN}, v->m, v->pred,
                      {"1,0.5\n2,1\n", "1,2,0.7\n", "0,1.5\n", "0,4\n"}};
    v->path = sm_test_path(name);
    sm_status st;
    if (sm_state_save(&v->s, v->path, NULL, &st)) fail_msg("%s", st.msg);
}

static void free_saved(saved *v)
{
    sm_model_free(v->m);
    sm_predictor_free(v->pred);
}

static void open_file(sm_state_file *f, const char *path)
{
    sm_status st;
    if (sm_state_open(f, path, &st)) fail_msg("%s", st.msg);
}

/* A failure: SM_ERR_DATA, one line, naming the file and containing want. */
static void expect_error(int rc, const sm_status *st, const char *path, const char *want)
{
    assert_int_equal(rc, SM_ERR_DATA);
    if (!strstr(st->msg, want)) fail_msg("'%s' lacks '%s'", st->msg, want);
    if (!strstr(st->msg, path)) fail_msg("'%s' does not name %s", st->msg, path);
    assert_null(strchr(st->msg, '\n'));
}

/* ---- round trip ----------------------------------------------------------- */

static void check_loaded(const saved *v, const sm_state_file *f)
{
    sm_status st;
    sm_config cfg;
    assert_int_equal(sm_state_read_config(f, NULL, 0, &cfg, &st), SM_OK);
    char *a = config_text(&v->cfg), *b = config_text(&cfg);
    assert_string_equal(a, b);
    free(a);
    free(b);
    sm_state_step step;
    assert_int_equal(sm_state_read_step(f, &step, &st), SM_OK);
    assert_int_equal(step.steps, 7);
    assert_int_equal(step.epochs, 1);
    assert_true(fabs(step.seconds - 12.345678) < 1e-9);
    assert_true(step.last_loss == -0.5 && isnan(step.knn_acc));
    assert_int_equal(sm_state_check_model(f, &cfg, &SHAPE, &st), SM_OK);
    sm_model *m = tiny_model(&cfg);
    assert_int_equal(sm_state_load_model(f, m, 1, &st), SM_OK);
    assert_memory_equal(m->params, v->m->params, m->n_params * sizeof *m->params);
    assert_memory_equal(m->momentum, v->m->momentum, m->n_params * sizeof *m->momentum);
    assert_memory_equal(m->stats, v->m->stats, m->n_stats * sizeof *m->stats);
    sm_model_free(m);
    sm_state_rows rows;
    assert_int_equal(sm_state_read_rows(f, &rows, &st), SM_OK);
    assert_string_equal(rows.train, v->s.rows.train);
    assert_string_equal(rows.eval, v->s.rows.eval);
    assert_string_equal(rows.track, v->s.rows.track);
    assert_string_equal(rows.detail, v->s.rows.detail);
}

static void check_predictor(const saved *v, const sm_state_file *f)
{
    sm_status st;
    sm_predictor *q = v->pred ? sm_predictor_alloc(v->cfg.pred_mode, 4, &st) : NULL;
    assert_int_equal(sm_state_load_predictor(f, v->cfg.pred_mode, q, &st), SM_OK);
    if (!q) return;
    assert_int_equal(q->updates, 2);
    assert_memory_equal(q->corr, v->pred->corr, 16 * sizeof *q->corr);
    if (q->cross) assert_memory_equal(q->cross, v->pred->cross, 16 * sizeof *q->cross);
    assert_memory_equal(q->w, v->pred->w, 16 * sizeof *q->w);
    sm_predictor_free(q);
}

/* Everything saved reads back bit for bit, in every pred_mode; the copy
 * is the same bytes. */
static void test_round_trip(void **state)
{
    (void)state;
    const char *modes[] = {"pred_mode=sgd", "pred_mode=optimal", "pred_mode=directpred"};
    for (int k = 0; k < 3; k++) {
        saved v;
        save_tiny(&v, modes[k], "state_round.bin");
        const char *copy = sm_test_path("state_copy.bin");
        sm_status st;
        assert_int_equal(sm_state_save(&v.s, v.path, copy, &st), SM_OK);
        size_t na, nb;
        char *a = sm_test_read(v.path, &na), *b = sm_test_read(copy, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
        free(a);
        free(b);
        sm_state_file f;
        open_file(&f, v.path);
        check_loaded(&v, &f);
        check_predictor(&v, &f);
        sm_state_close(&f);
        free_saved(&v);
    }
}

/* ---- the layout on disk --------------------------------------------------- */

/* The sections of the file at path, in order: "name:type" joined by ' '. */
static void section_list(const char *path, char *out, size_t n)
{
    size_t len;
    unsigned char *b = (unsigned char *)sm_test_read(path, &len);
    assert_non_null(b);
    size_t at = 16, count = (uint32_t)sm_le_load(b + 12, 4);
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        uint32_t name_len = (uint32_t)sm_le_load(b + at, 4);
        uint32_t type = (uint32_t)sm_le_load(b + at + 4 + name_len, 4);
        uint64_t bytes = sm_le_load(b + at + 8 + name_len, 8);
        snprintf(out + strlen(out), n - strlen(out), "%s%.*s:%u", i ? " " : "", (int)name_len, (char *)b + at + 4,
                 (unsigned)type);
        at += 4 + name_len + 4 + 8 + bytes;
    }
    assert_int_equal(at + 4, len);
    free(b);
}

/* The names, order and types (1 bytes, 2 f32, 3 u64, 4 text) every
 * checkpoint has had since format version 1, and the image section after
 * them: checkpoints written before state.c (or before the image section)
 * load, and older binaries read the new ones. */
static void test_layout(void **state)
{
    (void)state;
    static const char *const want[] = {
        "config:4 step:3 params:2 momentum:2 bn_stats:2 train_csv:4 eval_csv:4 track_csv:4 track_detail_csv:4 "
        "track_csv_header:4 track_detail_csv_header:4 image:3",
        "config:4 step:3 params:2 momentum:2 bn_stats:2 predictor:3 predictor_moments:3 train_csv:4 eval_csv:4 "
        "track_csv:4 track_detail_csv:4 track_csv_header:4 track_detail_csv_header:4 image:3"};
    const char *modes[] = {"pred_mode=sgd", "pred_mode=directpred"};
    for (int k = 0; k < 2; k++) {
        saved v;
        save_tiny(&v, modes[k], "state_layout.bin");
        char got[1024];
        section_list(v.path, got, sizeof got);
        assert_string_equal(got, want[k]);
        free_saved(&v);
    }
    for (int s = 0; s < SM_STATE_NSECTIONS; s++) assert_non_null(strstr(want[1], sm_state_name((sm_state_section)s)));
}

/* A checkpoint written the way train.c wrote them before this module,
 * section by section under their names (and, as versions before the
 * tracking headers, without those): it loads, rows and all. */
static void test_loads_the_layout_written_before(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_ref.bin");
    v.s.rows.track = v.s.rows.detail = "";
    sm_status st;
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
    char *text = config_text(&v.cfg);
    const uint64_t step[5] = {7, 1, 12345678, 0xbfe0000000000000ull, 0x7ff8000000000000ull};
    assert_int_equal(sm_ckpt_add_text(w, "config", text, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_u64(w, "step", step, 5, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_f32(w, "params", v.m->params, v.m->n_params, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_f32(w, "momentum", v.m->momentum, v.m->n_params, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_f32(w, "bn_stats", v.m->stats, v.m->n_stats, &st), SM_OK);
    const char *names[] = {"train_csv", "eval_csv", "track_csv", "track_detail_csv"};
    const char *rows[] = {v.s.rows.train, v.s.rows.eval, "", ""};
    for (int i = 0; i < 4; i++) assert_int_equal(sm_ckpt_add_text(w, names[i], rows[i], &st), SM_OK);
    const char *path = sm_test_path("state_before.bin");
    assert_int_equal(sm_ckpt_write(path, w, &st), SM_OK);
    sm_ckpt_writer_free(w);
    free(text);
    sm_state_file f;
    open_file(&f, path);
    check_loaded(&v, &f);
    check_predictor(&v, &f);
    sm_state_close(&f);
    free_saved(&v);
}

/* ---- failures --------------------------------------------------------------- */

/* A checkpoint of v's config, step, params and bn_stats less the section
 * `skip`: no momentum, no predictor, no rows. */
static const char *without(const saved *v, sm_state_section skip, const char *name)
{
    sm_status st;
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
    char *text = config_text(&v->cfg);
    const uint64_t step[5] = {7};
    if (skip != SM_STATE_CONFIG) assert_int_equal(sm_ckpt_add_text(w, sm_state_name(SM_STATE_CONFIG), text, &st), SM_OK);
    if (skip != SM_STATE_STEP) assert_int_equal(sm_ckpt_add_u64(w, sm_state_name(SM_STATE_STEP), step, 5, &st), SM_OK);
    if (skip != SM_STATE_PARAMS)
        assert_int_equal(sm_ckpt_add_f32(w, sm_state_name(SM_STATE_PARAMS), v->m->params, v->m->n_params, &st), SM_OK);
    assert_int_equal(sm_ckpt_add_f32(w, sm_state_name(SM_STATE_BN_STATS), v->m->stats, v->m->n_stats, &st), SM_OK);
    const char *path = sm_test_path(name);
    assert_int_equal(sm_ckpt_write(path, w, &st), SM_OK);
    sm_ckpt_writer_free(w);
    free(text);
    return path;
}

static void test_missing_section(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_full.bin");
    const sm_state_section skip[] = {SM_STATE_CONFIG, SM_STATE_STEP, SM_STATE_PARAMS};
    for (int k = 0; k < 3; k++) {
        const char *path = without(&v, skip[k], "state_missing.bin");
        sm_state_file f;
        open_file(&f, path);
        sm_status st;
        sm_config cfg;
        sm_state_step step;
        char want[64];
        snprintf(want, sizeof want, "checkpoint has no section '%s'", sm_state_name(skip[k]));
        int rc = skip[k] == SM_STATE_CONFIG ? sm_state_read_config(&f, NULL, 0, &cfg, &st)
                 : skip[k] == SM_STATE_STEP ? sm_state_read_step(&f, &step, &st)
                                            : sm_state_load_model(&f, v.m, 0, &st);
        expect_error(rc, &st, path, want);
        if (skip[k] == SM_STATE_PARAMS) expect_error(sm_state_check_model(&f, &v.cfg, &SHAPE, &st), &st, path, want);
        /* no momentum section: resume needs it, inference does not */
        expect_error(sm_state_load_model(&f, v.m, 1, &st), &st, path, "no section");
        sm_state_close(&f);
    }
    free_saved(&v);
}

/* A NaN or Inf in params, momentum or bn_stats (a diverged run, a damaged
 * file with a valid CRC): refused by the loader, naming the section and
 * index; the state saved whole, one value spoiled at a time. */
static void test_non_finite_values(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_finite.bin");
    float *const arrays[] = {v.m->params, v.m->momentum, v.m->stats};
    const char *const wants[] = {"checkpoint section 'params' has a non-finite value at 5",
                                 "checkpoint section 'momentum' has a non-finite value at 7",
                                 "checkpoint section 'bn_stats' has a non-finite value at 1"};
    const size_t at[] = {5, 7, 1};
    const char *path = sm_test_path("state_nonfinite.bin");
    for (int k = 0; k < 3; k++) {
        float kept = arrays[k][at[k]];
        arrays[k][at[k]] = k ? INFINITY : NAN;
        sm_status st;
        if (sm_state_save(&v.s, path, NULL, &st)) fail_msg("%s", st.msg);
        arrays[k][at[k]] = kept;
        sm_state_file f;
        open_file(&f, path);
        expect_error(sm_state_load_model(&f, v.m, 1, &st), &st, path, wants[k]);
        sm_state_close(&f);
    }
    free_saved(&v);
}

/* A checkpoint of another width: refused from the sizes, before a model of
 * the configured size is built, and by the loader too. */
static void test_wrong_size(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_small.bin");
    sm_config wide = tiny_config("pred_mode=sgd", "width=3");
    sm_model *m = tiny_model(&wide);
    sm_state_file f;
    open_file(&f, v.path);
    sm_status st;
    char want[96];
    snprintf(want, sizeof want, "checkpoint section 'params' has %zu values, expected %zu", v.m->n_params, m->n_params);
    /* the configuration tells first; the counts are what loading checks */
    expect_error(sm_state_check_model(&f, &wide, &SHAPE, &st), &st, v.path,
                 "checkpoint of another network: width=2 there, 3 here");
    expect_error(sm_state_load_model(&f, m, 1, &st), &st, v.path, want);
    sm_state_close(&f);
    sm_model_free(m);
    free_saved(&v);
}

/* Images of another shape than the model was trained on: refused from the
 * image section, before the sizes (a ResNet's do not depend on it). */
static void test_other_image_shape(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_image.bin");
    sm_state_file f;
    open_file(&f, v.path);
    sm_status st;
    const sm_dataset smaller = {.c = 1, .h = 5, .w = 6}, colour = {.c = 3, .h = 6, .w = 6};
    expect_error(sm_state_check_model(&f, &v.cfg, &smaller, &st), &st, v.path,
                 "checkpoint of a model trained on 1 x 6 x 6 images; the data set's images are 1 x 5 x 6");
    expect_error(sm_state_check_model(&f, &v.cfg, &colour, &st), &st, v.path,
                 "checkpoint of a model trained on 1 x 6 x 6 images; the data set's images are 3 x 6 x 6");
    assert_int_equal(sm_state_check_model(&f, &v.cfg, &SHAPE, &st), SM_OK);
    sm_state_close(&f);
    free_saved(&v);
}

static void test_corrupt_file(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_corrupt.bin");
    size_t n;
    char *b = sm_test_read(v.path, &n);
    b[n / 2] ^= 0x10;
    sm_test_write(v.path, b, n);
    free(b);
    sm_state_file f;
    sm_status st;
    expect_error(sm_state_open(&f, v.path, &st), &st, v.path, "checksum mismatch: file is corrupt");
    sm_state_close(&f);
    const char *missing = sm_test_path("state_no_such.bin");
    expect_error(sm_state_open(&f, missing, &st), &st, missing, "cannot open checkpoint");
    sm_state_close(&f);
    free_saved(&v);
}

/* Another pred_mode either way, another z_dim, non-finite moments, finite
 * ones no training gives. */
static void test_predictor_mismatch(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=optimal", "state_optimal.bin");
    sm_state_file f;
    open_file(&f, v.path);
    sm_status st;
    sm_predictor *dp = sm_predictor_alloc(SM_PRED_DIRECTPRED, 4, &st), *wide = sm_predictor_alloc(SM_PRED_OPTIMAL, 5, &st);
    expect_error(sm_state_load_predictor(&f, SM_PRED_DIRECTPRED, dp, &st), &st, v.path,
                 "checkpoint was written with pred_mode=optimal, this run has pred_mode=directpred");
    expect_error(sm_state_load_predictor(&f, SM_PRED_SGD, NULL, &st), &st, v.path, "this run has pred_mode=sgd");
    expect_error(sm_state_load_predictor(&f, SM_PRED_OPTIMAL, wide, &st), &st, v.path, "'predictor_moments'");
    sm_state_close(&f);
    open_file(&f, without(&v, SM_STATE_NSECTIONS, "state_sgd.bin"));
    expect_error(sm_state_load_predictor(&f, SM_PRED_DIRECTPRED, dp, &st), &st, f.path, "written with pred_mode=sgd");
    sm_state_close(&f);

    v.pred->corr[5] = NAN;
    assert_int_equal(sm_state_save(&v.s, v.path, NULL, &st), SM_OK);
    open_file(&f, v.path);
    sm_predictor *q = sm_predictor_alloc(SM_PRED_OPTIMAL, 4, &st);
    expect_error(sm_state_load_predictor(&f, SM_PRED_OPTIMAL, q, &st), &st, v.path, "moments are not finite");
    sm_state_close(&f);
    /* Finite moments no training gives: a negative trace (an assertion in the
     * Cholesky once) or an infinite one, a factorisation that fails
     * (eigenvalues 7 and -1), a W beyond float. */
    static const struct {
        double diag, off, cross;
        const char *why; /* the reason given, the predictor's where joined to the file's */
    } bad[] = {{-1, 0, 0, "second moments with trace -4"},
               {1e308, 1e308, 0, "second moments with trace inf"},
               {1, 2, 0, "covariance + ridge 0.0001 is not positive definite"},
               {1e-300, 0, 1e300, "the moments give a predictor that is not finite"}};
    for (size_t c = 0; c < sizeof bad / sizeof *bad; c++) {
        for (size_t i = 0; i < 16; i++) {
            v.pred->corr[i] = i % 5 == 0 ? bad[c].diag : bad[c].off;
            v.pred->cross[i] = bad[c].cross;
        }
        assert_int_equal(sm_state_save(&v.s, v.path, NULL, &st), SM_OK);
        open_file(&f, v.path);
        assert_int_equal(sm_state_load_predictor(&f, SM_PRED_OPTIMAL, q, &st), SM_ERR_DATA);
        char want[1024];
        snprintf(want, sizeof want,
                 "checkpoint predictor moments give no optimal predictor: %s (pred_mode=optimal; %s)", bad[c].why,
                 v.path);
        assert_string_equal(st.msg, want);
        sm_state_close(&f);
    }
    sm_predictor_free(q);
    sm_predictor_free(dp);
    sm_predictor_free(wide);
    free_saved(&v);
}

/* Tracking rows under a header this build does not write, or under none
 * recorded (a version before the header sections), are refused. */
static void test_rows_under_other_columns(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_rows.bin");
    sm_status st;
    for (int k = 0; k < 2; k++) {
        sm_ckpt_writer *w = sm_ckpt_writer_alloc(&st);
        const sm_state_section texts[] = {SM_STATE_TRAIN_CSV, SM_STATE_EVAL_CSV, SM_STATE_TRACK_CSV,
                                          SM_STATE_TRACK_DETAIL_CSV};
        for (int i = 0; i < 4; i++) assert_int_equal(sm_ckpt_add_text(w, sm_state_name(texts[i]), "0,1\n", &st), SM_OK);
        if (k == 1) {
            assert_int_equal(sm_ckpt_add_text(w, sm_state_name(SM_STATE_TRACK_CSV_HEADER), header(SM_TRACK_CSV), &st),
                             SM_OK);
            assert_int_equal(sm_ckpt_add_text(w, sm_state_name(SM_STATE_TRACK_DETAIL_CSV_HEADER), "step,n\n", &st),
                             SM_OK);
        }
        const char *path = sm_test_path(k ? "state_other_header.bin" : "state_no_header.bin");
        assert_int_equal(sm_ckpt_write(path, w, &st), SM_OK);
        sm_ckpt_writer_free(w);
        sm_state_file f;
        open_file(&f, path);
        sm_state_rows rows;
        expect_error(sm_state_read_rows(&f, &rows, &st), &st, path, "other columns than this version writes");
        sm_state_close(&f);
    }
    free_saved(&v);
}

/* ---- restoring a trained model ------------------------------------------------ */

static const char *tiny_checkpoint(void)
{
    static char path[4096];
    if (path[0]) return path;
    const char *dir = sm_test_dir("state_run");
    char out[4200];
    snprintf(out, sizeof out, "out=%s", dir);
    const char *all[] = {"dataset=synthetic", "arch=mlp", "width=2", "proj_hidden=16", "z_dim=4", "pred_hidden=4",
                         "batch=16", "threads=1", "steps=3", "knn_every=0", out};
    sm_config cfg;
    sm_status st;
    assert_int_equal(sm_config_load(&cfg, NULL, 11, all, &st), SM_OK);
    sm_train_result res;
    int rc = sm_train_run(&cfg, NULL, &res, &st);
    if (rc) fail_msg("%s", st.msg);
    snprintf(path, sizeof path, "%s", sm_test_join(dir, "checkpoint.bin"));
    return path;
}

/* The restored model holds the checkpoint's arrays, and
 * sm_model_embed_dataset is sm_model_embed of the gathered images. */
static void test_restore_and_embed(void **state)
{
    (void)state;
    const char *path = tiny_checkpoint();
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    sm_status st;
    assert_int_equal(sm_state_restore(path, "test", &cfg, &ds, &m, &st), SM_OK);
    assert_int_equal(cfg.z_dim, 4);
    assert_int_equal(cfg.arch, SM_ARCH_MLP);
    assert_int_equal(ds.n, 500);
    sm_model *ref = sm_model_alloc(&cfg, (int)ds.c, (int)ds.h, (int)ds.w, 8, &st);
    sm_state_file f;
    open_file(&f, path);
    assert_int_equal(sm_state_load_model(&f, ref, 1, &st), SM_OK);
    sm_state_close(&f);
    assert_memory_equal(m->params, ref->params, m->n_params * sizeof *m->params);
    assert_memory_equal(m->stats, ref->stats, m->n_stats * sizeof *m->stats);
    sm_model_free(ref);

    enum { N = 130 }; /* more than one chunk of SM_STATE_BATCH */
    size_t image = sm_dataset_image_size(&ds);
    float *z = malloc(N * 4 * sizeof *z), *feat = malloc(N * m->features * sizeof *feat);
    float *zref = malloc(N * 4 * sizeof *z), *x = malloc(N * image * sizeof *x);
    size_t idx[N];
    for (size_t i = 0; i < N; i++) idx[i] = i;
    assert_int_equal(sm_model_embed_dataset(m, &ds, N, feat, z, &st), SM_OK);
    sm_dataset_gather(&ds, idx, N, x);
    sm_model_embed(m, x, N, NULL, zref, NULL);
    assert_memory_equal(z, zref, N * 4 * sizeof *z);
    free(z);
    free(feat);
    free(zref);
    free(x);
    sm_model_free(m);
    sm_dataset_free(&ds);
}

static void test_restore_errors(void **state)
{
    (void)state;
    const char *bad = sm_test_path("state_bad.bin");
    sm_test_write_text(bad, "not a checkpoint");
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    sm_status st;
    expect_error(sm_state_restore(bad, "train", &cfg, &ds, &m, &st), &st, bad, "bad magic");
    assert_null(m);
    assert_int_equal(sm_state_restore(tiny_checkpoint(), "valid", &cfg, &ds, &m, &st), SM_ERR_USAGE);
    assert_null(m);
    assert_null(ds.pixels);
    /* what an offline event needs, refused (another pred_mode): everything zeroed, the step too */
    sm_state_file t;
    open_file(&t, tiny_checkpoint());
    const char *optimal[] = {"pred_mode=optimal"};
    assert_int_equal(sm_state_read_config(&t, optimal, 1, &cfg, &st), SM_OK);
    sm_predictor *pred = (sm_predictor *)&st;
    uint64_t step = 77;
    expect_error(sm_state_restore_tracking(&t, &cfg, 16, NULL, &ds, &m, &pred, &step, &st), &st, tiny_checkpoint(),
                 "checkpoint was written with pred_mode=sgd, this run has pred_mode=optimal");
    assert_null(m);
    assert_null(pred);
    assert_null(ds.pixels);
    assert_int_equal(step, 0);
    sm_state_close(&t);
    /* a configuration that no command could have trained with: the file's error */
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_mnist_nodir.bin");
    v.cfg.dataset = SM_DATASET_MNIST;
    v.cfg.data_dir[0] = '\0';
    assert_int_equal(sm_state_save(&v.s, v.path, NULL, &st), SM_OK);
    sm_state_file f;
    open_file(&f, v.path);
    const char *track_kv[] = {"track_samples=64"};
    expect_error(sm_state_read_config(&f, track_kv, 1, &cfg, &st), &st, v.path,
                 "checkpoint's configuration: dataset=mnist needs data_dir=DIR");
    sm_state_close(&f);
    free_saved(&v);
}

/* resume='s checks: the keys a resume changes, against the checkpoint's:
 * none for the same configuration or where things are; "key=new (was old)"
 * in table order; a list too long for the buffer cut with "…"; steps free
 * only under a constant schedule; another run refused before its model. */
static void test_resume_checks(void **state)
{
    (void)state;
    saved v;
    save_tiny(&v, "pred_mode=sgd", "state_changed.bin");
    sm_state_file f;
    open_file(&f, v.path);
    sm_config cfg = v.cfg;
    char buf[64];
    sm_status st;
    snprintf(cfg.out, sizeof cfg.out, "elsewhere");
    cfg.threads = 7;
    assert_int_equal(sm_state_check_resume(&f, &cfg, &SHAPE, buf, sizeof buf, &st), SM_OK);
    assert_string_equal(buf, "");
    cfg.lr = 0.05;
    cfg.seed = 9;
    assert_int_equal(sm_state_check_resume(&f, &cfg, &SHAPE, buf, sizeof buf, &st), SM_OK);
    assert_string_equal(buf, "seed=9 (was 0), lr=0.05 (was 0.1)");
    cfg.steps = 123456, cfg.momentum = 0.5, cfg.wd = 0.25;
    assert_int_equal(sm_state_check_resume(&f, &cfg, &SHAPE, buf, sizeof buf, &st), SM_OK);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    assert_string_equal(buf + sizeof buf - 4, "\xe2\x80\xa6");
    cfg = v.cfg;
    cfg.steps = 123456;
    assert_int_equal(sm_state_check_resume(&f, &cfg, &SHAPE, buf, sizeof buf, &st), SM_OK);
    assert_string_equal(buf, "steps=123456 (was 0)"); /* cosine: its horizon moves */
    cfg.schedule = v.cfg.schedule == SM_SCHEDULE_CONST ? SM_SCHEDULE_COSINE : SM_SCHEDULE_CONST;
    assert_int_equal(sm_state_check_resume(&f, &cfg, &SHAPE, buf, sizeof buf, &st), SM_OK);
    assert_int_equal(strncmp(buf, "schedule=", 9), 0); /* now the schedule itself */
    cfg = v.cfg;
    cfg.batch = v.cfg.batch + 1;
    const sm_dataset colour = {.c = 3, .h = 6, .w = 6}; /* the run is checked first */
    char want[96];
    snprintf(want, sizeof want, "checkpoint of another run: batch=%ld there, %ld here", v.cfg.batch, cfg.batch);
    expect_error(sm_state_check_resume(&f, &cfg, &colour, buf, sizeof buf, &st), &st, v.path, want);
    expect_error(sm_state_check_resume(&f, &v.cfg, &colour, buf, sizeof buf, &st), &st, v.path,
                 "checkpoint of a model trained on 1 x 6 x 6 images; the data set's images are 3 x 6 x 6");
    sm_state_close(&f);
    free_saved(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_loads_the_layout_written_before),
        cmocka_unit_test(test_missing_section),
        cmocka_unit_test(test_non_finite_values),
        cmocka_unit_test(test_wrong_size),
        cmocka_unit_test(test_other_image_shape),
        cmocka_unit_test(test_corrupt_file),
        cmocka_unit_test(test_predictor_mismatch),
        cmocka_unit_test(test_rows_under_other_columns),
        cmocka_unit_test(test_restore_and_embed),
        cmocka_unit_test(test_restore_errors),
        cmocka_unit_test(test_resume_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
