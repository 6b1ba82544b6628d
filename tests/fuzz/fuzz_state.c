/* libFuzzer harness: training checkpoints through the readers of
 * src/simsiam/state.h, under the contract of tests/fuzz/harness.h.  As in
 * fuzz_checkpoint.c, each input is read twice: as it is, and with its CRC-32
 * fixed up (sm_fuzz_checksummed), so that mutations reach the sections behind
 * the checksum.  A file that opens is then read as train,
 * resume, refit, track, eval and embed read one:
 *
 *   - its configuration, without and with overrides; resume='s checks
 *     (sm_state_check_resume) against itself (no difference, when its model
 *     checks), another run (refused, naming the file) and other keys
 *     (listed, in a buffer large or cut short);
 *   - its step, and its rows (tracking rows only under this build's headers);
 *   - its model: sm_state_check_model for the data set's image shape, then,
 *     once the counts are the file's, the model built and loaded (every
 *     value finite);
 *   - its predictor under each pred_mode (only the file's loads; a closed-
 *     form one's W is finite).
 * Every failure must be one line naming the file.  The restore calls
 * (sm_state_restore_model, _tracking, sm_state_restore) are these readers
 * behind sm_data_load, which reads data_dir's files or generates the data
 * set (three seconds an input under the sanitizers): they are left to
 * the cmocka tests (tests/test_simsiam_state.c, and those of the commands
 * that take --checkpoint). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/harness.h"
#include "simsiam/state.h"
#include "simsiam/track.h"

/* The images a model is built for: the data sets' shapes (data/loader.h),
 * without loading them. */
static sm_dataset shape_of(const sm_config *cfg)
{
    if (cfg->dataset == SM_DATASET_CIFAR10) return (sm_dataset){.c = 3, .h = 32, .w = 32};
    return (sm_dataset){.c = 1, .h = 28, .w = 28};
}

static void require_finite_f32(const float *a, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) sm_fuzz_require(isfinite(a[i]), what);
}

static size_t occurrences(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static void config_and_runs(const sm_state_file *f, const sm_config *cfg)
{
    sm_status st;
    const sm_dataset shape = shape_of(cfg);
    const int model_checks = sm_state_check_model(f, cfg, &shape, &st) == SM_OK;
    /* the file against its own configuration: the same run, nothing changed */
    char buf[512], small[8];
    sm_fuzz_garbage(buf, sizeof buf);
    int rc = sm_state_check_resume(f, cfg, &shape, buf, sizeof buf, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    sm_fuzz_require((rc == SM_OK) == model_checks, "a checkpoint is not of its own run");
    sm_fuzz_require(rc || buf[0] == '\0', "a checkpoint's configuration differs from itself");

    /* another run: refused, naming the file, before its model is looked at */
    sm_config other = *cfg;
    other.batch = cfg->batch == 2 ? 3 : 2;
    rc = sm_state_check_resume(f, &other, &shape, buf, sizeof buf, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    sm_fuzz_require(rc == SM_ERR_DATA && strstr(st.msg, "checkpoint of another run: batch="),
                    "a checkpoint of another batch taken as the same run");
    if (!model_checks) return;

    /* keys that differ, listed in a buffer large or cut short */
    other = *cfg;
    other.lr = cfg->lr * 2;
    other.seed = cfg->seed ^ 1;
    other.threads = cfg->threads + 1; /* a key a resume changes freely */
    const size_t sizes[] = {sizeof buf, sizeof small};
    char *bufs[] = {buf, small};
    for (size_t k = 0; k < 2; k++) {
        sm_fuzz_garbage(bufs[k], sizes[k]);
        rc = sm_state_check_resume(f, &other, &shape, bufs[k], sizes[k], &st);
        sm_fuzz_check(rc, &st, f->path, 1);
        sm_fuzz_require(rc == SM_OK, "a checkpoint refused for its lr and seed");
        sm_fuzz_require(memchr(bufs[k], '\0', sizes[k]) != NULL, "changed keys: the list is not terminated");
    }
    sm_fuzz_require(occurrences(buf, " (was ") == 2 && strncmp(buf, "seed=", 5) == 0,
                    "changed keys: lr and seed are not the two");
    sm_fuzz_require(strlen(small) == sizeof small - 1 && strcmp(small + sizeof small - 4, "\xe2\x80\xa6") == 0,
                    "changed keys: a list cut short does not end in \"…\"");
}

/* The model for cfg: checked, built, loaded. */
static sm_model *model(const sm_state_file *f, const sm_config *cfg)
{
    sm_status st;
    const sm_dataset shape = shape_of(cfg);
    sm_config other = *cfg;
    other.width = cfg->width == 1 ? 2 : 1;
    int rc = sm_state_check_model(f, &other, &shape, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    sm_fuzz_require(rc != SM_OK, "a checkpoint of another width taken as this network");

    rc = sm_state_check_model(f, cfg, &shape, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    if (rc) return NULL;
    /* the counts are the file's: the model is no larger than the input */
    sm_model *m = sm_model_alloc(cfg, (int)shape.c, (int)shape.h, (int)shape.w, 2, &st);
    sm_fuzz_require(m != NULL, "no model for counts that check");
    for (int momentum = 0; momentum < 2; momentum++) {
        rc = sm_state_load_model(f, m, momentum, &st);
        sm_fuzz_check(rc, &st, f->path, 1);
        if (rc) break;
        require_finite_f32(m->params, m->n_params, "a loaded parameter is not finite");
        require_finite_f32(m->stats, m->n_stats, "a loaded bn_stats value is not finite");
        if (momentum) require_finite_f32(m->momentum, m->n_params, "a loaded momentum is not finite");
    }
    return m;
}

/* The predictor under each mode, for z_dim d. */
static void predictors(const sm_state_file *f, size_t d)
{
    static const sm_pred_mode modes[] = {SM_PRED_SGD, SM_PRED_OPTIMAL, SM_PRED_DIRECTPRED};
    int loaded = 0;
    for (size_t k = 0; k < 3; k++) {
        sm_status st;
        sm_predictor *p = NULL;
        if (modes[k] != SM_PRED_SGD) {
            p = sm_predictor_alloc(modes[k], d, &st);
            sm_fuzz_require(p != NULL, "no predictor for a small z_dim");
        }
        int rc = sm_state_load_predictor(f, modes[k], p, &st);
        sm_fuzz_check(rc, &st, f->path, 1);
        if (!rc && p) require_finite_f32(p->w, d * d, "a restored predictor's W is not finite");
        loaded += !rc;
        sm_predictor_free(p);
    }
    sm_fuzz_require(loaded <= 1, "a checkpoint's predictor loads under two pred_modes");
}

static void rows(const sm_state_file *f)
{
    sm_status st;
    sm_state_rows r;
    int rc = sm_state_read_rows(f, &r, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    if (rc) return;
    const char *text[] = {r.train, r.eval, r.track, r.detail};
    for (size_t i = 0; i < 4; i++) {
        sm_fuzz_require(text[i] != NULL, "a row section read as NULL");
        sm_fuzz_touch(text[i], strlen(text[i]) + 1);
    }
    if (!r.track[0]) return;
    /* tracking rows come with this build's headers */
    const struct {
        sm_state_section s;
        sm_track_file file;
    } headers[] = {{SM_STATE_TRACK_CSV_HEADER, SM_TRACK_CSV}, {SM_STATE_TRACK_DETAIL_CSV_HEADER, SM_TRACK_DETAIL_CSV}};
    for (size_t i = 0; i < 2; i++) {
        char want[SM_TRACK_LINE_MAX];
        const char *saved;
        sm_track_header(headers[i].file, want, sizeof want);
        sm_fuzz_require(sm_ckpt_get_text(f->c, sm_state_name(headers[i].s), &saved, &st) == SM_OK &&
                            strcmp(saved, want) == 0,
                        "tracking rows read under other headers");
    }
}

static void use(const sm_state_file *f)
{
    sm_status st;
    sm_state_step step;
    int rc = sm_state_read_step(f, &step, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    if (!rc) sm_fuzz_require(step.seconds >= 0, "negative seconds");
    rows(f);

    sm_config cfg, overridden;
    static const char *const overrides[] = {"lr=0.05", "seed=9", "steps=3", "threads=1"};
    rc = sm_state_read_config(f, overrides, sizeof overrides / sizeof *overrides, &overridden, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    if (!rc) sm_fuzz_require(overridden.lr == 0.05 && overridden.seed == 9, "overrides not applied");
    rc = sm_state_read_config(f, NULL, 0, &cfg, &st);
    sm_fuzz_check(rc, &st, f->path, 1);
    if (rc) {
        predictors(f, 2);
        return;
    }
    config_and_runs(f, &cfg);
    sm_model *m = model(f, &cfg);
    /* z_dim as the model has it, or the configuration's when small */
    predictors(f, m ? m->z_dim : cfg.z_dim <= 64 ? (size_t)cfg.z_dim : 2);
    sm_model_free(m);
}

static void read_and_use(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("checkpoint.bin", data, size);
    sm_status st;
    sm_state_file f;
    sm_fuzz_garbage(&f, sizeof f);
    int rc = sm_state_open(&f, path, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || f.c == NULL);
    if (!rc) use(&f);
    sm_state_close(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sm_fuzz_checksummed(data, size, read_and_use);
    return 0;
}
