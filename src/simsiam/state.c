/* A training run's checkpoint: sections, save, load (see state.h). */
#include "simsiam/state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "data/loader.h"
#include "simsiam/track.h"

/* Moments and the step's reals go into checkpoints as the bits of doubles. */
_Static_assert(sizeof(double) == sizeof(uint64_t), "double is not 64 bits");

enum { PREDICTOR_FIELDS = 2, IMAGE_FIELDS = 3 };

static const char *const NAMES[SM_STATE_NSECTIONS] = {
    [SM_STATE_CONFIG] = "config",
    [SM_STATE_STEP] = "step",
    [SM_STATE_PARAMS] = "params",
    [SM_STATE_MOMENTUM] = "momentum",
    [SM_STATE_BN_STATS] = "bn_stats",
    [SM_STATE_PREDICTOR] = "predictor",
    [SM_STATE_PREDICTOR_MOMENTS] = "predictor_moments",
    [SM_STATE_TRAIN_CSV] = "train_csv",
    [SM_STATE_EVAL_CSV] = "eval_csv",
    [SM_STATE_TRACK_CSV] = "track_csv",
    [SM_STATE_TRACK_DETAIL_CSV] = "track_detail_csv",
    [SM_STATE_TRACK_CSV_HEADER] = "track_csv_header",
    [SM_STATE_TRACK_DETAIL_CSV_HEADER] = "track_detail_csv_header",
    [SM_STATE_IMAGE] = "image",
};

/* Each tracking header section and the file whose header it records. */
static const struct {
    sm_state_section section;
    sm_track_file file;
} TRACK_HEADERS[] = {{SM_STATE_TRACK_CSV_HEADER, SM_TRACK_CSV}, {SM_STATE_TRACK_DETAIL_CSV_HEADER, SM_TRACK_DETAIL_CSV}};
enum { N_TRACK_HEADERS = sizeof TRACK_HEADERS / sizeof *TRACK_HEADERS };

const char *sm_state_name(sm_state_section s) { return NAMES[s]; }

static uint64_t double_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static size_t moment_count(sm_pred_mode mode, size_t d) { return (mode == SM_PRED_OPTIMAL ? 2 : 1) * d * d; }

/* ---- saving ---------------------------------------------------------------- */

/* cfg as sm_config_fprint writes it (every key, in table order), in a
 * buffer to free() (open_memstream's belongs to the C library's allocator);
 * NULL and "out of memory <doing>" on failure. */
static char *config_text(const sm_config *cfg, const char *doing, sm_status *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        sm_config_fprint(f, cfg);
        if (fclose(f) == 0) return text;
    }
    free(text);
    sm_status_fail(st, SM_ERR_DATA, NULL, "out of memory %s", doing);
    return NULL;
}

static int add_config(sm_ckpt_writer *w, const sm_config *cfg, sm_status *st)
{
    char *text = config_text(cfg, "writing the checkpoint", st);
    if (!text) return st ? st->code : SM_ERR_DATA;
    int rc = sm_ckpt_add_text(w, NAMES[SM_STATE_CONFIG], text, st);
    free(text);
    return rc;
}

static int add_step(sm_ckpt_writer *w, const sm_state_step *s, sm_status *st)
{
    const uint64_t v[SM_STATE_STEP_FIELDS] = {s->steps, s->epochs, (uint64_t)llround(s->seconds * 1e6),
                                              double_bits(s->last_loss), double_bits(s->knn_acc)};
    return sm_ckpt_add_u64(w, NAMES[SM_STATE_STEP], v, SM_STATE_STEP_FIELDS, st);
}

static int add_predictor(sm_ckpt_writer *w, const sm_predictor *p, sm_status *st)
{
    const size_t dd = p->d * p->d, count = moment_count(p->mode, p->d);
    const uint64_t header[PREDICTOR_FIELDS] = {(uint64_t)p->mode, p->updates};
    uint64_t *bits = sm_mem_alloc(count, sizeof *bits, st);
    if (!bits) return st ? st->code : SM_ERR_DATA;
    memcpy(bits, p->corr, dd * sizeof *bits);
    if (count > dd) memcpy(bits + dd, p->cross, dd * sizeof *bits);
    int rc = sm_ckpt_add_u64(w, NAMES[SM_STATE_PREDICTOR], header, PREDICTOR_FIELDS, st);
    if (!rc) rc = sm_ckpt_add_u64(w, NAMES[SM_STATE_PREDICTOR_MOMENTS], bits, count, st);
    sm_mem_free(bits);
    return rc;
}

/* The rows, then the headers this build writes tracking rows under. */
static int add_rows(sm_ckpt_writer *w, const sm_state_rows *r, sm_status *st)
{
    const char *text[] = {r->train, r->eval, r->track, r->detail};
    int rc = SM_OK;
    for (int i = 0; i < 4 && !rc; i++) rc = sm_ckpt_add_text(w, NAMES[SM_STATE_TRAIN_CSV + i], text[i] ? text[i] : "", st);
    for (size_t i = 0; i < N_TRACK_HEADERS && !rc; i++) {
        char header[SM_TRACK_LINE_MAX];
        sm_track_header(TRACK_HEADERS[i].file, header, sizeof header);
        rc = sm_ckpt_add_text(w, NAMES[TRACK_HEADERS[i].section], header, st);
    }
    return rc;
}

int sm_state_save(const sm_state *s, const char *path, const char *copy, sm_status *st)
{
    const sm_model *m = s->m;
    sm_ckpt_writer *w = sm_ckpt_writer_alloc(st);
    int rc = w ? SM_OK : (st ? st->code : SM_ERR_DATA);
    if (!rc) rc = add_config(w, s->cfg, st);
    if (!rc) rc = add_step(w, &s->step, st);
    if (!rc) rc = sm_ckpt_add_f32(w, NAMES[SM_STATE_PARAMS], m->params, m->n_params, st);
    if (!rc) rc = sm_ckpt_add_f32(w, NAMES[SM_STATE_MOMENTUM], m->momentum, m->n_params, st);
    if (!rc) rc = sm_ckpt_add_f32(w, NAMES[SM_STATE_BN_STATS], m->stats, m->n_stats, st);
    if (!rc && s->pred) rc = add_predictor(w, s->pred, st);
    if (!rc) rc = add_rows(w, &s->rows, st);
    const uint64_t image[IMAGE_FIELDS] = {m->in_c, m->in_h, m->in_w};
    if (!rc) rc = sm_ckpt_add_u64(w, NAMES[SM_STATE_IMAGE], image, IMAGE_FIELDS, st);
    /* the copy first: a run killed between the two writes resumes from the
     * checkpoint before and writes the copy again; the other way round it
     * would resume past the copy's step and never write it */
    if (!rc && copy) rc = sm_ckpt_write(copy, w, st);
    if (!rc) rc = sm_ckpt_write(path, w, st);
    sm_ckpt_writer_free(w);
    return rc;
}

/* ---- reading ----------------------------------------------------------------- */

int sm_state_open(sm_state_file *f, const char *path, sm_status *st)
{
    f->path = path;
    return sm_ckpt_read(path, &f->c, st);
}

void sm_state_close(sm_state_file *f)
{
    sm_ckpt_free(f->c);
    f->c = NULL;
}

/* The configuration a checkpoint carries is data, not the user's command
 * line: an unknown key or bad value in it is a corrupt file (exit 1). */
static int parse_saved_config(sm_config *cfg, const char *text, const char *path, sm_status *st)
{
    if (sm_config_parse_text(cfg, text, path, st) == SM_OK) return SM_OK;
    if (st) st->code = SM_ERR_DATA;
    return SM_ERR_DATA;
}

int sm_state_read_config(const sm_state_file *f, const char *const *overrides, size_t n_overrides, sm_config *cfg,
                         sm_status *st)
{
    const char *text;
    sm_config_saved_defaults(cfg);
    int rc = sm_ckpt_get_text(f->c, NAMES[SM_STATE_CONFIG], &text, st);
    if (!rc) rc = parse_saved_config(cfg, text, f->path, st);
    for (size_t i = 0; i < n_overrides && !rc; i++) rc = sm_config_apply(cfg, overrides[i], "command line", st);
    if (rc) return rc;
    /* the overrides never touch dataset or data_dir: what finishing refuses is the file's */
    sm_status why;
    if (sm_config_finish(cfg, &why) == SM_OK) return SM_OK;
    why.code = SM_ERR_DATA; /* the file's, not the user's */
    return sm_status_wrap(st, &why, "checkpoint's configuration: ", f->path);
}

int sm_state_read_step(const sm_state_file *f, sm_state_step *step, sm_status *st)
{
    const uint64_t *v;
    int rc = sm_ckpt_get_u64(f->c, NAMES[SM_STATE_STEP], SM_STATE_STEP_FIELDS, &v, st);
    if (!rc) *step = (sm_state_step){v[0], v[1], (double)v[2] * 1e-6, bits_double(v[3]), bits_double(v[4])};
    return rc;
}

/* SM_ERR_DATA "checkpoint of another <what>: <key>=<there> there, <here>
 * here" for the first of the n keys whose values differ. */
static int first_difference(const sm_state_file *f, const char *what, const char *const *names, const long *there,
                            const long *here, size_t n, sm_status *st)
{
    for (size_t i = 0; i < n; i++)
        if (there[i] != here[i])
            return sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint of another %s: %s=%ld there, %ld here", what,
                                  names[i], there[i], here[i]);
    return SM_OK;
}

/* The keys that shape the network: a checkpoint of another network with the
 * same array sizes (stem_stride 1 and 2 have equal counts) must be refused
 * by its configuration, as the sizes cannot tell. */
static int check_same_network(const sm_state_file *f, const sm_config *saved, const sm_config *cfg, sm_status *st)
{
    if (saved->arch != cfg->arch)
        return sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint of another network: another arch");
    /* the mlp has no stem: its stem_stride shapes nothing */
    const long saved_stride = cfg->arch == SM_ARCH_RESNET ? saved->stem_stride : cfg->stem_stride;
    const char *names[] = {"width", "stem_stride", "proj_hidden", "z_dim", "pred_hidden"};
    const long there[] = {saved->width, saved_stride, saved->proj_hidden, saved->z_dim, saved->pred_hidden};
    const long here[] = {cfg->width, cfg->stem_stride, cfg->proj_hidden, cfg->z_dim, cfg->pred_hidden};
    return first_difference(f, "network", names, there, here, sizeof names / sizeof *names, st);
}

/* The keys that decide what a step and an epoch are. */
static int check_same_run(const sm_state_file *f, const sm_config *saved, const sm_config *cfg, sm_status *st)
{
    if (saved->dataset != cfg->dataset)
        return sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint of another run: dataset=%s there, %s here",
                              sm_config_dataset_name(saved->dataset), sm_config_dataset_name(cfg->dataset));
    const char *names[] = {"batch", "holdout"};
    const long there[] = {saved->batch, saved->holdout}, here[] = {cfg->batch, cfg->holdout};
    return first_difference(f, "run", names, there, here, sizeof names / sizeof *names, st);
}

/* Keys a resume changes as a matter of course: where things are, and the
 * run's length under a constant schedule (a longer run of the same kind; a
 * cosine schedule's horizon moves with it, which changes the lr to come). */
static int free_on_resume(const char *line, const sm_config *cfg)
{
    static const char *const keys[] = {"threads=", "out=", "resume=", "data_dir=", "steps=", "epochs="};
    const size_t n = cfg->schedule == SM_SCHEDULE_CONST ? 6 : 4;
    for (size_t i = 0; i < n; i++)
        if (strncmp(line, keys[i], strlen(keys[i])) == 0) return 1;
    return 0;
}

/* The keys a resume changed, "key=new (was old), ..." in buf ("" for none;
 * cut with "…" when it does not fit). */
static int changed_keys(const sm_config *saved, const sm_config *cfg, char *buf, size_t n, sm_status *st)
{
    buf[0] = '\0';
    char *was = config_text(saved, "comparing configurations", st);
    char *now = was ? config_text(cfg, "comparing configurations", st) : NULL;
    if (!now) {
        free(was);
        return st ? st->code : SM_ERR_DATA;
    }
    size_t len = 0;
    /* the same keys line for line: both texts are sm_config_fprint's */
    for (char *a = was, *b = now; *a && *b;) {
        char *a_end = strchr(a, '\n'), *b_end = strchr(b, '\n');
        if (!a_end || !b_end) break;
        *a_end = *b_end = '\0';
        if (strcmp(a, b) != 0 && !free_on_resume(b, cfg)) {
            const char *old = strchr(a, '=');
            int w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%s (was %s)",
                             len ? ", " : "", b, old ? old + 1 : "");
            if (w > 0) len += (size_t)w;
        }
        a = a_end + 1, b = b_end + 1;
    }
    if (len >= n && n > 4) snprintf(buf + n - 4, 4, "\xe2\x80\xa6"); /* "…" marks the cut */
    free(was);
    free(now);
    return SM_OK;
}

/* Checkpoints written before the image section have nothing to compare. */
static int check_image(const sm_state_file *f, const sm_dataset *data, sm_status *st)
{
    const uint64_t *v;
    if (!sm_ckpt_has(f->c, NAMES[SM_STATE_IMAGE])) return SM_OK;
    int rc = sm_ckpt_get_u64(f->c, NAMES[SM_STATE_IMAGE], IMAGE_FIELDS, &v, st);
    if (!rc && (v[0] != data->c || v[1] != data->h || v[2] != data->w))
        rc = sm_status_fail(st, SM_ERR_DATA, f->path,
                            "checkpoint of a model trained on %llu x %llu x %llu images; "
                            "the data set's images are %zu x %zu x %zu",
                            (unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2],
                            data->c, data->h, data->w);
    return rc;
}

static int check_model(const sm_state_file *f, const sm_config *saved, const sm_config *cfg, const sm_dataset *data,
                       sm_status *st)
{
    size_t n_params, n_stats;
    const float *v;
    int rc = check_same_network(f, saved, cfg, st);
    if (!rc) rc = check_image(f, data, st);
    if (!rc) rc = sm_model_counts(cfg, (int)data->c, (int)data->h, (int)data->w, &n_params, &n_stats, st);
    if (!rc) rc = sm_ckpt_get_f32(f->c, NAMES[SM_STATE_PARAMS], n_params, &v, st);
    if (!rc) rc = sm_ckpt_get_f32(f->c, NAMES[SM_STATE_BN_STATS], n_stats, &v, st);
    return rc;
}

int sm_state_check_model(const sm_state_file *f, const sm_config *cfg, const sm_dataset *data, sm_status *st)
{
    sm_config saved;
    int rc = sm_state_read_config(f, NULL, 0, &saved, st);
    return rc ? rc : check_model(f, &saved, cfg, data, st);
}

int sm_state_check_resume(const sm_state_file *f, const sm_config *cfg, const sm_dataset *data, char *changes,
                          size_t n, sm_status *st)
{
    sm_config saved;
    int rc = sm_state_read_config(f, NULL, 0, &saved, st);
    if (!rc) rc = check_same_run(f, &saved, cfg, st); /* first: another data set can mean other sizes */
    if (!rc) rc = check_model(f, &saved, cfg, data, st);
    if (!rc) rc = changed_keys(&saved, cfg, changes, n, st);
    return rc;
}

static int copy_f32(const sm_state_file *f, sm_state_section s, float *dst, size_t n, sm_status *st)
{
    const float *v;
    int rc = sm_ckpt_get_f32(f->c, NAMES[s], n, &v, st);
    for (size_t i = 0; !rc && i < n; i++) /* a diverged or damaged model is not resumed or evaluated */
        if (!isfinite(v[i]))
            rc = sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint section '%s' has a non-finite value at %zu",
                                NAMES[s], i);
    if (!rc && n) memcpy(dst, v, n * sizeof *dst);
    return rc;
}

int sm_state_load_model(const sm_state_file *f, sm_model *m, int momentum, sm_status *st)
{
    int rc = copy_f32(f, SM_STATE_PARAMS, m->params, m->n_params, st);
    if (!rc && momentum) rc = copy_f32(f, SM_STATE_MOMENTUM, m->momentum, m->n_params, st);
    if (!rc) rc = copy_f32(f, SM_STATE_BN_STATS, m->stats, m->n_stats, st);
    return rc;
}

/* *saved = the pred_mode the file was written with (sgd: no predictor section). */
static int saved_mode(const sm_state_file *f, const uint64_t **header, uint64_t *saved, sm_status *st)
{
    *saved = SM_PRED_SGD;
    if (!sm_ckpt_has(f->c, NAMES[SM_STATE_PREDICTOR])) return SM_OK;
    int rc = sm_ckpt_get_u64(f->c, NAMES[SM_STATE_PREDICTOR], PREDICTOR_FIELDS, header, st);
    if (rc) return rc;
    *saved = (*header)[0];
    if (*saved != SM_PRED_OPTIMAL && *saved != SM_PRED_DIRECTPRED)
        return sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint section '%s' has an unknown pred_mode %llu",
                              NAMES[SM_STATE_PREDICTOR], (unsigned long long)*saved);
    return SM_OK;
}

/* The moments of the predictor section as doubles (count of them, freed
 * by the caller); non-finite ones are SM_ERR_DATA naming the file. */
static double *read_moments(const sm_state_file *f, size_t count, sm_status *st)
{
    const uint64_t *bits;
    if (sm_ckpt_get_u64(f->c, NAMES[SM_STATE_PREDICTOR_MOMENTS], count, &bits, st)) return NULL;
    double *moments = sm_mem_alloc(count, sizeof *moments, st);
    if (!moments) return NULL;
    memcpy(moments, bits, count * sizeof *moments);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(moments[i])) {
            sm_mem_free(moments);
            sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint predictor moments are not finite");
            return NULL;
        }
    return moments;
}

int sm_state_load_predictor(const sm_state_file *f, sm_pred_mode mode, sm_predictor *p, sm_status *st)
{
    const uint64_t *header = NULL;
    uint64_t saved;
    int rc = saved_mode(f, &header, &saved, st);
    if (rc) return rc;
    if (saved != (uint64_t)mode)
        return sm_status_fail(st, SM_ERR_DATA, f->path, "checkpoint was written with pred_mode=%s, this run has pred_mode=%s",
                              sm_config_pred_mode_name((sm_pred_mode)saved), sm_config_pred_mode_name(mode));
    if (!p) return SM_OK;
    const size_t dd = p->d * p->d, count = moment_count(mode, p->d);
    double *moments = read_moments(f, count, st);
    if (!moments) return st ? st->code : SM_ERR_DATA;
    sm_status why;
    rc = sm_predictor_restore(p, moments, count > dd ? moments + dd : NULL, header[1], &why);
    sm_mem_free(moments);
    if (!rc) return SM_OK;
    /* finite, yet no training gives them: a corrupt file */
    char prefix[96];
    snprintf(prefix, sizeof prefix, "checkpoint predictor moments give no %s predictor: ",
             sm_config_pred_mode_name(mode));
    why.code = SM_ERR_DATA;
    return sm_status_wrap(st, &why, prefix, f->path);
}

static int read_text(const sm_state_file *f, sm_state_section s, const char **text, sm_status *st)
{
    return sm_ckpt_get_text(f->c, NAMES[s], text, st);
}

/* SM_ERR_DATA unless the file records this build's tracking headers. */
static int check_track_headers(const sm_state_file *f, sm_status *st)
{
    for (size_t i = 0; i < N_TRACK_HEADERS; i++) {
        char header[SM_TRACK_LINE_MAX];
        const char *saved = NULL;
        sm_track_header(TRACK_HEADERS[i].file, header, sizeof header);
        if (sm_ckpt_has(f->c, NAMES[TRACK_HEADERS[i].section]) && read_text(f, TRACK_HEADERS[i].section, &saved, st))
            return st ? st->code : SM_ERR_DATA;
        if (!saved || strcmp(saved, header))
            return sm_status_fail(st, SM_ERR_DATA, f->path,
                                  "checkpoint's tracking rows have other columns than this version writes; "
                                  "finish the run with the version that started it, or start a new run");
    }
    return SM_OK;
}

int sm_state_read_rows(const sm_state_file *f, sm_state_rows *rows, sm_status *st)
{
    *rows = (sm_state_rows){"", "", "", ""};
    int rc = read_text(f, SM_STATE_TRAIN_CSV, &rows->train, st);
    if (!rc) rc = read_text(f, SM_STATE_EVAL_CSV, &rows->eval, st);
    if (!rc && sm_ckpt_has(f->c, NAMES[SM_STATE_TRACK_CSV])) rc = read_text(f, SM_STATE_TRACK_CSV, &rows->track, st);
    if (!rc && sm_ckpt_has(f->c, NAMES[SM_STATE_TRACK_DETAIL_CSV]))
        rc = read_text(f, SM_STATE_TRACK_DETAIL_CSV, &rows->detail, st);
    if (!rc && rows->track[0]) rc = check_track_headers(f, st);
    return rc;
}

/* ---- restoring a model for inference ----------------------------------------- */

int sm_state_restore_model(const sm_state_file *f, const sm_config *cfg, const char *split, size_t max_batch,
                           const char *batch_key, sm_dataset *data, sm_model **m, sm_status *st)
{
    *m = NULL;
    memset(data, 0, sizeof *data);
    int rc = sm_data_load(cfg, split, data, st);
    if (!rc && batch_key && max_batch > data->n)
        rc = sm_status_fail(st, SM_ERR_USAGE, batch_key, "%zu images a batch but the %s split has %zu", max_batch,
                            strcmp(split, "train") == 0 ? "training" : "test", data->n);
    if (!rc) rc = sm_state_check_model(f, cfg, data, st);
    if (!rc) {
        *m = sm_model_alloc(cfg, (int)data->c, (int)data->h, (int)data->w, max_batch, st);
        if (!*m) rc = st ? st->code : SM_ERR_DATA;
    }
    if (!rc) rc = sm_state_load_model(f, *m, 0, st);
    if (rc) {
        sm_model_free(*m);
        *m = NULL;
        sm_dataset_free(data);
    }
    return rc;
}

static int restore_predictor(const sm_state_file *f, const sm_config *cfg, size_t z_dim, sm_predictor **pred,
                             sm_status *st)
{
    if (cfg->pred_mode != SM_PRED_SGD && !(*pred = sm_predictor_alloc(cfg->pred_mode, z_dim, st)))
        return st ? st->code : SM_ERR_DATA;
    return sm_state_load_predictor(f, cfg->pred_mode, *pred, st);
}

int sm_state_restore_tracking(const sm_state_file *f, const sm_config *cfg, size_t max_batch, const char *batch_key,
                              sm_dataset *train, sm_model **m, sm_predictor **pred, uint64_t *step, sm_status *st)
{
    *pred = NULL;
    *step = 0;
    sm_state_step s;
    int rc = sm_state_restore_model(f, cfg, "train", max_batch, batch_key, train, m, st);
    if (!rc) rc = sm_state_read_step(f, &s, st);
    if (!rc) rc = restore_predictor(f, cfg, (*m)->z_dim, pred, st);
    if (!rc) *step = s.steps;
    if (rc && *m) {
        sm_predictor_free(*pred);
        sm_model_free(*m);
        sm_dataset_free(train);
        *pred = NULL, *m = NULL;
    }
    return rc;
}

int sm_state_restore(const char *path, const char *split, sm_config *cfg, sm_dataset *data, sm_model **m,
                     sm_status *st)
{
    *m = NULL;
    memset(data, 0, sizeof *data);
    sm_state_file f;
    int rc = sm_state_open(&f, path, st);
    if (!rc) rc = sm_state_read_config(&f, NULL, 0, cfg, st);
    if (!rc) rc = sm_state_restore_model(&f, cfg, split, SM_STATE_BATCH, NULL, data, m, st);
    sm_state_close(&f);
    return rc;
}
