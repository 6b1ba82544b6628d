#include "io/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/threads.h"
#include "io/atomic.h"

#define FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- the key table: the one definition of every key ---------------------- */

typedef enum { KEY_INT, KEY_REAL, KEY_WORD, KEY_TEXT } key_type;

typedef struct {
    const char *name;
    key_type type;
    size_t offset;             /* of the field in sm_config */
    const char *def;           /* default, as text: parsed like any input */
    long ilo, ihi;             /* KEY_INT: inclusive range (ihi LONG_MAX = no limit) */
    double rlo, rhi;           /* KEY_REAL: range (rhi INFINITY = no limit) ... */
    int rlo_open, rhi_open;    /* ... with these ends excluded */
    const char *const *words;  /* KEY_WORD: NULL-terminated; the enum value is the index */
    const char *doc;
    const char *legacy;        /* the value a saved configuration without this key
                                  meant (it predates the key); NULL = def */
} key_spec;

/* Word order = enum order in config.h. */
static const char *const DATASETS[] = {"fashion-mnist", "mnist", "cifar10", "synthetic", "random", NULL};
static const char *const ARCHS[] = {"resnet", "mlp", NULL};
static const char *const SCHEDULES[] = {"cosine", "const", NULL};
static const char *const LOSSES[] = {"cosine", "l2", "gauss", NULL};
static const char *const PRED_MODES[] = {"sgd", "optimal", "directpred", NULL};
static const char *const AUGS[] = {"default", "none", NULL};

/* Word keys are stored through an int. */
_Static_assert(sizeof(sm_dataset_kind) == sizeof(int) && sizeof(sm_arch_kind) == sizeof(int) &&
                   sizeof(sm_schedule_kind) == sizeof(int) && sizeof(sm_loss_kind) == sizeof(int) &&
                   sizeof(sm_pred_mode) == sizeof(int) && sizeof(sm_aug_kind) == sizeof(int),
               "enum fields must be int-sized");

/* offsetof, but only compiles when the field has type T: a key declared
 * with the wrong kind is a build error, not a memory overwrite. */
#define FIELD(k, T) _Generic(((sm_config *)0)->k, T: offsetof(sm_config, k))
#define INT_KEY(k, dflt, lo, hi, d) {#k, KEY_INT, FIELD(k, long), dflt, .ilo = lo, .ihi = hi, .doc = d}
/* A real key whose default changed: old is what a saved configuration without the key meant. */
#define REAL_KEY_WAS(k, dflt, old, lo, lo_open, hi, hi_open, d)                                                   \
    {#k, KEY_REAL, FIELD(k, double), dflt, .rlo = lo, .rhi = hi, .rlo_open = lo_open, .rhi_open = hi_open, \
     .legacy = old, .doc = d}
#define REAL_KEY(k, dflt, lo, lo_open, hi, hi_open, d) REAL_KEY_WAS(k, dflt, NULL, lo, lo_open, hi, hi_open, d)
#define WORD_KEY(k, T, w, dflt, d) {#k, KEY_WORD, FIELD(k, T), dflt, .words = w, .doc = d}
#define TEXT_KEY(k, d) \
    {#k, KEY_TEXT, _Generic(&((sm_config *)0)->k, char(*)[SM_CONFIG_TEXT_MAX]: offsetof(sm_config, k)), "", \
     .doc = d}
enum { CLOSED = 0, OPEN = 1 };

static const key_spec KEYS[] = {
    WORD_KEY(dataset, sm_dataset_kind, DATASETS, "fashion-mnist", "data set to train on (random: throughput only)"),
    TEXT_KEY(data_dir, "directory of the data set files; empty = " FASHION_MNIST_DIR
                       " for fashion-mnist, required for mnist and cifar10"),
    WORD_KEY(arch, sm_arch_kind, ARCHS, "resnet", "encoder: small ResNet or two-layer MLP"),
    INT_KEY(width, "32", 1, 4096, "encoder base width w (ResNet stages w, 2w, 4w)"),
    {"stem_stride", KEY_INT, FIELD(stem_stride, long), "2", .ilo = 1, .ihi = 2, .legacy = "1",
     .doc = "resnet stem stride: 2 halves every map (a quarter of the conv work)"},
    INT_KEY(proj_hidden, "512", 1, 65536, "projector hidden width"),
    INT_KEY(z_dim, "64", 1, 65536, "embedding dimension d of z and p"),
    INT_KEY(pred_hidden, "32", 1, 65536, "predictor hidden width"),
    INT_KEY(batch, "256", 2, 1048576, "source images per step, two views each (batch norm needs 2)"),
    INT_KEY(epochs, "60", 1, 1000000, "training epochs (ignored when steps > 0)"),
    INT_KEY(steps, "0", 0, LONG_MAX, "optimizer steps; 0 = run for epochs"),
    INT_KEY(threads, "0", 0, SM_THREADS_MAX, "worker threads; 0 = all cores (under mpirun: shared among the ranks on each machine)"),
    INT_KEY(seed, "0", 0, LONG_MAX, "random seed"),
    REAL_KEY(lr, "0.1", 0, OPEN, INFINITY, OPEN, "base learning rate; effective lr = lr x batch / 256"),
    REAL_KEY(momentum, "0.9", 0, CLOSED, 1, OPEN, "SGD momentum"),
    REAL_KEY(wd, "5e-4", 0, CLOSED, INFINITY, OPEN, "weight decay"),
    WORD_KEY(schedule, sm_schedule_kind, SCHEDULES, "cosine", "learning-rate schedule"),
    WORD_KEY(loss, sm_loss_kind, LOSSES, "cosine", "D(p, z) of the SimSiam loss (docs/design.md section 1)"),
    REAL_KEY(pred_lr_mult, "1", 0, CLOSED, INFINITY, OPEN,
             "predictor lr = pred_lr_mult x effective lr (scheduled with it unless pred_fixed_lr = 1)"),
    INT_KEY(pred_fixed_lr, "1", 0, 1, "1 = the predictor lr is not scheduled"),
    INT_KEY(pred_steps, "1", 1, 1000, "predictor updates per encoder update"),
    WORD_KEY(pred_mode, sm_pred_mode, PRED_MODES, "sgd", "predictor: SGD, closed-form optimal, or DirectPred"),
    WORD_KEY(aug, sm_aug_kind, AUGS, "default", "augmentations"),
    REAL_KEY(crop_min, "0.2", 0, OPEN, 1, CLOSED, "smallest crop area of a view, as a fraction of the image"),
    REAL_KEY_WAS(jitter, "0.8", "0.4", 0, CLOSED, 1, OPEN,
                 "brightness and contrast jitter: factors uniform in [1 - s, 1 + s]"),
    INT_KEY(translate, "0", 0, 16, "largest shift of a view in pixels, each axis uniform in [-t, t], zero fill; 0 = off"),
    REAL_KEY_WAS(blur, "0.5", "0", 0, CLOSED, 1, CLOSED,
                 "probability of a 3x3 Gaussian blur of a view, sigma uniform in [0.1, 2]"),
    REAL_KEY_WAS(gamma, "0.5", "0", 0, CLOSED, 1, CLOSED,
                 "probability of a gamma curve v^g of a view, ln g uniform in [-ln 2, ln 2]"),
    REAL_KEY_WAS(solarize, "0.2", "0", 0, CLOSED, 1, CLOSED,
                 "probability of solarizing a view (every value v >= 0.5 into 1 - v)"),
    REAL_KEY(erase, "0", 0, CLOSED, 1, CLOSED,
             "probability of erasing a rectangle of a view to 0 (area 2-33%, aspect 0.3-3.3)"),
    INT_KEY(holdout, "0", 0, LONG_MAX,
            "last training images held out as the evaluation split (model selection); 0 = the test split"),
    INT_KEY(knn_every, "1", 0, LONG_MAX, "epochs between kNN evaluations; 0 = off"),
    INT_KEY(track_every, "0", 0, LONG_MAX, "steps between entropy and MI tracking; 0 = off"),
    /* the ranges take 2 and 3 (old runs recorded them with tracking off); tracking checks for 4 (tracker.c) */
    INT_KEY(track_samples, "1024", 2, 16777216, "images for the population estimates; tracking needs 4 or more"),
    INT_KEY(track_views, "64", 2, 65536, "views per image for H(z2|x); tracking needs 4 or more"),
    INT_KEY(track_images, "32", 1, 65536, "images used for H(z2|x)"),
    INT_KEY(track_mix, "4", 0, 64, "Gaussian-mixture components of nll_mix; 0 = off"),
    INT_KEY(track_resamples, "20", 2, 10000,
            "subsamples per tracked 95% interval (measured coverage: ~0.9 at 20, ~0.94 at 100)"),
    INT_KEY(checkpoint_every, "1", 0, LONG_MAX, "epochs between checkpoints; 0 = only after the last step"),
    INT_KEY(checkpoint_keep, "0", 0, 1, "1 = keep every scheduled checkpoint as OUT/checkpoint-<step>.bin"),
    INT_KEY(refit_steps, "512", 0, 10000000, "refit: predictor-only steps on the frozen encoder"),
    REAL_KEY(refit_lr, "0.05", 0, OPEN, INFINITY, OPEN, "refit: constant predictor learning rate"),
    INT_KEY(refit_reinit, "1", 0, 1, "refit: 1 = a freshly initialised predictor, 0 = continue the checkpoint's"),
    INT_KEY(refit_batch, "256", 2, 1048576, "refit: images per predictor step, two views each"),
    TEXT_KEY(resume, "checkpoint to resume from; empty = start fresh"),
    TEXT_KEY(out, "output directory; empty = runs/<timestamp>"),
};
static const size_t NKEYS = sizeof KEYS / sizeof KEYS[0];

/* ---- values ---------------------------------------------------------------- */

static void *field(sm_config *cfg, const key_spec *k) { return (char *)cfg + k->offset; }
static const void *cfield(const sm_config *cfg, const key_spec *k) { return (const char *)cfg + k->offset; }

/* The accepted values, as the tail of "expected ...". */
static void describe(const key_spec *k, char *buf, size_t n)
{
    switch (k->type) {
    case KEY_INT:
        if (k->ihi == LONG_MAX) snprintf(buf, n, "an integer >= %ld", k->ilo);
        else snprintf(buf, n, "an integer in [%ld, %ld]", k->ilo, k->ihi);
        return;
    case KEY_REAL:
        if (isinf(k->rhi)) snprintf(buf, n, "a finite number %s %g", k->rlo_open ? ">" : ">=", k->rlo);
        else
            snprintf(buf, n, "a finite number in %c%g, %g%c", k->rlo_open ? '(' : '[', k->rlo, k->rhi,
                     k->rhi_open ? ')' : ']');
        return;
    case KEY_WORD: {
        size_t used = 0;
        buf[0] = '\0';
        for (const char *const *w = k->words; *w && used < n; w++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", w == k->words ? "one of " : "|", *w);
        return;
    }
    case KEY_TEXT:
        snprintf(buf, n, "a path");
        return;
    }
}

static int bad_value(const key_spec *k, const char *value, const char *where, sm_status *st)
{
    char allowed[256], v[SM_STATUS_VALUE_BUF];
    describe(k, allowed, sizeof allowed);
    return sm_status_fail(st, SM_ERR_USAGE, where, "bad value '%s' for %s: expected %s",
                          sm_status_value(v, value, strlen(value)), k->name, allowed);
}

static int parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return *s && !isspace((unsigned char)*s) && !*end && errno == 0;
}

/* NaN and Inf parse as numbers but are never valid values, and overflow
 * gives Inf.  Underflow (ERANGE with a tiny result) is accepted as the
 * rounded value: the range check then judges it (1e-400 is 0, not > 0). */
static int parse_double(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !isspace((unsigned char)*s) && !*end && isfinite(*v);
}

static int in_real_range(const key_spec *k, double v)
{
    return (k->rlo_open ? v > k->rlo : v >= k->rlo) && (k->rhi_open ? v < k->rhi : v <= k->rhi);
}

/* A path must survive sm_config_write and reading back: no control
 * characters (a newline would split the line) and no '#' after whitespace
 * (it would start a comment).  Leading/trailing blanks are already gone. */
static int set_text(char *dst, const key_spec *k, const char *value, const char *where, sm_status *st)
{
    size_t len = strlen(value);
    if (len >= SM_CONFIG_TEXT_MAX)
        return sm_status_fail(st, SM_ERR_USAGE, where, "bad value for %s: longer than %d bytes", k->name,
                              SM_CONFIG_TEXT_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x20 || c == 0x7f)
            return sm_status_fail(st, SM_ERR_USAGE, where, "bad value for %s: control character 0x%02x", k->name, c);
        if (c == '#' && i > 0 && isspace((unsigned char)value[i - 1])) {
            char v[SM_STATUS_VALUE_BUF];
            return sm_status_fail(st, SM_ERR_USAGE, where,
                                  "bad value '%s' for %s: '#' after a space starts a comment in config files",
                                  sm_status_value(v, value, len), k->name);
        }
    }
    memcpy(dst, value, len + 1);
    return SM_OK;
}

static int set_value(sm_config *cfg, const key_spec *k, const char *value, const char *where, sm_status *st)
{
    switch (k->type) {
    case KEY_INT: {
        long v;
        if (!parse_long(value, &v) || v < k->ilo || v > k->ihi) return bad_value(k, value, where, st);
        *(long *)field(cfg, k) = v;
        return SM_OK;
    }
    case KEY_REAL: {
        double v;
        if (!parse_double(value, &v) || !in_real_range(k, v)) return bad_value(k, value, where, st);
        *(double *)field(cfg, k) = v;
        return SM_OK;
    }
    case KEY_WORD:
        for (int i = 0; k->words[i]; i++)
            if (strcmp(value, k->words[i]) == 0) {
                memcpy(field(cfg, k), &i, sizeof i);
                return SM_OK;
            }
        return bad_value(k, value, where, st);
    case KEY_TEXT:
        return set_text(field(cfg, k), k, value, where, st);
    }
    return bad_value(k, value, where, st);
}

/* The shortest %g form that reads back to exactly v (at most 17 digits),
 * over every precision that does: 10 is "10", not "1e+01", and 1500 "1500",
 * as a runs line or a person writes them (the experiment reports print these
 * values).  n >= 32. */
static void format_real(double v, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int prec = 1; prec <= 17; prec++) {
        char form[32];
        snprintf(form, sizeof form, "%.*g", prec, v);
        if (strtod(form, NULL) == v && (!buf[0] || strlen(form) < strlen(buf))) snprintf(buf, n, "%s", form);
    }
    if (!buf[0]) snprintf(buf, n, "%.17g", v); /* NaN, which no form reads back equal to */
}

static void fprint_value(FILE *f, const sm_config *cfg, const key_spec *k)
{
    const void *p = cfield(cfg, k);
    switch (k->type) {
    case KEY_INT:
        fprintf(f, "%ld", *(const long *)p);
        return;
    case KEY_REAL: {
        char buf[32];
        format_real(*(const double *)p, buf, sizeof buf);
        fputs(buf, f);
        return;
    }
    case KEY_WORD: {
        int i;
        memcpy(&i, p, sizeof i);
        fputs(k->words[i], f);
        return;
    }
    case KEY_TEXT:
        fputs((const char *)p, f);
        return;
    }
}

/* ---- keys ------------------------------------------------------------------ */

/* Optimal string alignment distance: Levenshtein plus the swap of two
 * adjacent letters as one edit, the commonest typo ('bacth' → 'batch'). */
enum { NAME_MAX_LEN = 31 };
static size_t edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    assert(lb <= NAME_MAX_LEN);
    size_t rows[3][NAME_MAX_LEN + 1], *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

static const key_spec *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(KEYS[i].name) == len && memcmp(KEYS[i].name, name, len) == 0) return &KEYS[i];
    return NULL;
}

/* The closest key by edit distance; ties go to the earlier key in the table. */
static const key_spec *closest_key(const char *name, size_t len)
{
    const key_spec *best = &KEYS[0];
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t d = edit_distance(name, len, KEYS[i].name);
        if (d < best_d) {
            best_d = d;
            best = &KEYS[i];
        }
    }
    return best;
}

/* ---- assignments and files ---------------------------------------------------- */

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s)) (*s)++, (*len)--;
    while (*len && isspace((unsigned char)(*s)[*len - 1])) (*len)--;
}

/* Apply the assignment s[0..len): "key = value" with blanks trimmed. */
static int apply_range(sm_config *cfg, const char *s, size_t len, const char *where, sm_status *st)
{
    char v[SM_STATUS_VALUE_BUF];
    const char *eq = memchr(s, '=', len);
    if (!eq) return sm_status_fail(st, SM_ERR_USAGE, where, "expected key=value, got '%s'", sm_status_value(v, s, len));
    const char *key = s, *value = eq + 1;
    size_t klen = (size_t)(eq - s), vlen = len - klen - 1;
    trim(&key, &klen);
    trim(&value, &vlen);
    if (klen == 0)
        return sm_status_fail(st, SM_ERR_USAGE, where, "missing key before '=' in '%s'", sm_status_value(v, s, len));
    const key_spec *k = find_key(key, klen);
    if (!k)
        return sm_status_fail(st, SM_ERR_USAGE, where, "unknown key '%s' (did you mean '%s'?)",
                              sm_status_value(v, key, klen), closest_key(key, klen)->name);
    if (vlen >= SM_CONFIG_TEXT_MAX)
        return sm_status_fail(st, SM_ERR_USAGE, where, "bad value for %s: longer than %d bytes", k->name,
                              SM_CONFIG_TEXT_MAX - 1);
    char buf[SM_CONFIG_TEXT_MAX];
    memcpy(buf, value, vlen);
    buf[vlen] = '\0';
    return set_value(cfg, k, buf, where, st);
}

int sm_config_apply(sm_config *cfg, const char *assignment, const char *where, sm_status *st)
{
    return apply_range(cfg, assignment, strlen(assignment), where, st);
}

/* Length of line[0..len) before its comment: '#' at the start or after a blank. */
static size_t before_comment(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] == '#' && (i == 0 || isspace((unsigned char)line[i - 1]))) return i;
    return len;
}

int sm_config_parse_text(sm_config *cfg, const char *text, const char *name, sm_status *st)
{
    const char *p = text;
    for (long line = 1; *p; line++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *s = p;
        size_t slen = before_comment(p, len);
        trim(&s, &slen);
        if (slen) {
            char where[SM_CONFIG_TEXT_MAX + 32];
            snprintf(where, sizeof where, "%s:%ld", name, line);
            int rc = apply_range(cfg, s, slen, where, st);
            if (rc) return rc;
        }
        p += nl ? len + 1 : len;
    }
    return SM_OK;
}

/* A configuration is a few dozen lines (a value at most 4095 bytes): a file
 * past this is not one (a data file named by mistake), and is not read to
 * its end. */
enum { CONFIG_FILE_MAX = 1 << 22 };

/* The whole of f as a NUL-terminated string in *out (*len bytes).  Read in
 * a loop rather than sized with fseek, so pipes (--config <(...)) work;
 * each chunk is checked for NUL bytes as it comes. */
static int read_all(FILE *f, const char *path, char **out, size_t *len, sm_status *st)
{
    size_t cap = 4096, n = 0;
    char *buf = sm_mem_alloc(cap, 1, st);
    for (;;) {
        if (!buf) return sm_status_fail(st, SM_ERR_DATA, path, "out of memory reading config file");
        const size_t got = fread(buf + n, 1, cap - n - 1, f);
        const int nul = memchr(buf + n, '\0', got) != NULL;
        n += got;
        if (nul || n > CONFIG_FILE_MAX) {
            sm_mem_free(buf);
            return nul ? sm_status_fail(st, SM_ERR_DATA, path, "config file contains a NUL byte")
                       : sm_status_fail(st, SM_ERR_DATA, path, "config file is larger than %d bytes", CONFIG_FILE_MAX);
        }
        if (n < cap - 1) break;
        char *bigger = sm_mem_alloc(2, cap, st);
        if (bigger) memcpy(bigger, buf, n);
        sm_mem_free(buf);
        buf = bigger;
        cap *= 2;
    }
    if (ferror(f)) {
        int e = errno;
        sm_mem_free(buf);
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot read config file: %s", strerror(e));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SM_OK;
}

int sm_config_read_file(sm_config *cfg, const char *path, sm_status *st)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sm_status_fail(st, SM_ERR_DATA, path, "cannot open config file: %s", strerror(errno));
    char *text = NULL;
    size_t len = 0;
    int rc = read_all(f, path, &text, &len, st);
    fclose(f);
    if (rc) return rc;
    const int bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0; /* a UTF-8 BOM, as some editors write */
    rc = sm_config_parse_text(cfg, text + (bom ? 3 : 0), path, st);
    sm_mem_free(text);
    return rc;
}

/* ---- whole configurations ------------------------------------------------------- */

static void set_defaults(sm_config *cfg, int saved)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NKEYS; i++) {
        const char *value = saved && KEYS[i].legacy ? KEYS[i].legacy : KEYS[i].def;
        int rc = set_value(cfg, &KEYS[i], value, "defaults", NULL);
        assert(rc == SM_OK && "every default in KEYS is a valid value");
        (void)rc;
    }
}

void sm_config_defaults(sm_config *cfg) { set_defaults(cfg, 0); }

void sm_config_saved_defaults(sm_config *cfg) { set_defaults(cfg, 1); }

int sm_config_finish(sm_config *cfg, sm_status *st)
{
    if (cfg->data_dir[0] != '\0') return SM_OK;
    switch (cfg->dataset) {
    case SM_DATASET_FASHION_MNIST:
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", FASHION_MNIST_DIR);
        return SM_OK;
    case SM_DATASET_MNIST:
    case SM_DATASET_CIFAR10:
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "dataset=%s needs data_dir=DIR", DATASETS[cfg->dataset]);
    case SM_DATASET_SYNTHETIC:
    case SM_DATASET_RANDOM:
        return SM_OK;
    }
    return SM_OK;
}

int sm_config_load_files(sm_config *cfg, int npaths, const char *const *paths, int noverrides,
                         const char *const *overrides, sm_status *st)
{
    sm_config_defaults(cfg);
    int rc = SM_OK;
    for (int i = 0; i < npaths && !rc; i++) rc = sm_config_read_file(cfg, paths[i], st);
    for (int i = 0; i < noverrides && !rc; i++) rc = sm_config_apply(cfg, overrides[i], "command line", st);
    return rc ? rc : sm_config_finish(cfg, st);
}

int sm_config_load(sm_config *cfg, const char *path, int noverrides, const char *const *overrides,
                   sm_status *st)
{
    return sm_config_load_files(cfg, path ? 1 : 0, &path, noverrides, overrides, st);
}

void sm_config_fprint(FILE *f, const sm_config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++) {
        fprintf(f, "%s=", KEYS[i].name);
        fprint_value(f, cfg, &KEYS[i]);
        fputc('\n', f);
    }
}

int sm_config_write(const char *path, const sm_config *cfg, sm_status *st)
{
    sm_atomic_file af;
    int rc = sm_atomic_open(&af, path, st);
    if (rc) return rc;
    sm_config_fprint(af.f, cfg);
    return sm_atomic_commit(&af, st);
}

void sm_config_print_keys(FILE *f)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char entry[64], allowed[256];
        snprintf(entry, sizeof entry, "%s=%s", KEYS[i].name, KEYS[i].def);
        describe(&KEYS[i], allowed, sizeof allowed);
        fprintf(f, "  %-22s %s (%s)\n", entry, KEYS[i].doc, allowed);
    }
}

const char *sm_config_dataset_name(sm_dataset_kind kind)
{
    assert(kind >= SM_DATASET_FASHION_MNIST && kind <= SM_DATASET_RANDOM);
    return DATASETS[kind];
}

const char *sm_config_pred_mode_name(sm_pred_mode mode)
{
    assert(mode >= SM_PRED_SGD && mode <= SM_PRED_DIRECTPRED);
    return PRED_MODES[mode];
}
