/* Tests for src/io/config: defaults, files and overrides, every error class,
 * range boundaries, write → read round trip and the key listing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/config.h"
#include "support/support.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define NKEYS 46

static sm_status st;

static void apply_ok(sm_config *cfg, const char *assignment)
{
    if (sm_config_apply(cfg, assignment, "command line", &st)) fail_msg("%s: %s", assignment, st.msg);
}

static void expect_message(int rc, int code, const char *message)
{
    if (rc != code || strcmp(st.msg, message) != 0)
        fail_msg("got rc %d \"%s\"; wanted rc %d \"%s\"", rc, st.msg, code, message);
}

static void expect_apply_error(const char *assignment, const char *message)
{
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_status_clear(&st);
    expect_message(sm_config_apply(&cfg, assignment, "command line", &st), SM_ERR_USAGE, message);
}

/* Two configurations agree in every field (the struct has padding, so no memcmp). */
static void assert_config_equal(const sm_config *a, const sm_config *b)
{
    assert_int_equal(a->dataset, b->dataset);
    assert_string_equal(a->data_dir, b->data_dir);
    assert_int_equal(a->arch, b->arch);
    const long *la[] = {&a->width, &a->stem_stride, &a->holdout, &a->proj_hidden, &a->z_dim, &a->pred_hidden, &a->batch, &a->epochs,
                        &a->steps, &a->threads, &a->seed, &a->pred_fixed_lr, &a->pred_steps, &a->knn_every,
                        &a->track_every, &a->track_samples, &a->track_views, &a->track_images,
                        &a->checkpoint_every, &a->translate};
    const long *lb[] = {&b->width, &b->stem_stride, &b->holdout, &b->proj_hidden, &b->z_dim, &b->pred_hidden, &b->batch, &b->epochs,
                        &b->steps, &b->threads, &b->seed, &b->pred_fixed_lr, &b->pred_steps, &b->knn_every,
                        &b->track_every, &b->track_samples, &b->track_views, &b->track_images,
                        &b->checkpoint_every, &b->translate};
    for (size_t i = 0; i < sizeof la / sizeof la[0]; i++) assert_int_equal(*la[i], *lb[i]);
    /* Exact equality on purpose: the round trip must be lossless. */
    assert_true(a->lr == b->lr);
    assert_true(a->momentum == b->momentum);
    assert_true(a->wd == b->wd);
    assert_true(a->pred_lr_mult == b->pred_lr_mult);
    assert_true(a->crop_min == b->crop_min);
    assert_true(a->jitter == b->jitter);
    assert_true(a->blur == b->blur);
    assert_true(a->solarize == b->solarize);
    assert_true(a->gamma == b->gamma);
    assert_true(a->erase == b->erase);
    assert_int_equal(a->schedule, b->schedule);
    assert_int_equal(a->loss, b->loss);
    assert_int_equal(a->pred_mode, b->pred_mode);
    assert_int_equal(a->aug, b->aug);
    assert_string_equal(a->resume, b->resume);
    assert_string_equal(a->out, b->out);
}

/* ---- defaults ------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    sm_config cfg;
    sm_config_defaults(&cfg);
    assert_int_equal(cfg.dataset, SM_DATASET_FASHION_MNIST);
    assert_string_equal(cfg.data_dir, "");
    assert_int_equal(cfg.arch, SM_ARCH_RESNET);
    assert_int_equal(cfg.width, 32);
    assert_int_equal(cfg.stem_stride, 2);
    assert_int_equal(cfg.proj_hidden, 512);
    assert_int_equal(cfg.z_dim, 64);
    assert_int_equal(cfg.pred_hidden, 32);
    assert_int_equal(cfg.batch, 256);
    assert_int_equal(cfg.epochs, 60);
    assert_int_equal(cfg.steps, 0);
    assert_int_equal(cfg.threads, 0);
    assert_int_equal(cfg.seed, 0);
    assert_true(cfg.lr == 0.1);
    assert_true(cfg.momentum == 0.9);
    assert_true(cfg.wd == 5e-4);
    assert_int_equal(cfg.schedule, SM_SCHEDULE_COSINE);
    assert_int_equal(cfg.loss, SM_LOSS_COSINE);
    assert_true(cfg.pred_lr_mult == 1.0);
    assert_int_equal(cfg.pred_fixed_lr, 1);
    assert_int_equal(cfg.pred_steps, 1);
    assert_int_equal(cfg.pred_mode, SM_PRED_SGD);
    assert_int_equal(cfg.aug, SM_AUG_DEFAULT);
    assert_int_equal(cfg.knn_every, 1);
    assert_int_equal(cfg.track_every, 0);
    assert_int_equal(cfg.track_samples, 1024);
    assert_int_equal(cfg.track_views, 64);
    assert_int_equal(cfg.track_images, 32);
    assert_int_equal(cfg.checkpoint_every, 1);
    assert_string_equal(cfg.resume, "");
    assert_string_equal(cfg.out, "");

    /* Loading nothing = defaults plus the Debian directory for fashion-mnist. */
    sm_config loaded;
    assert_int_equal(sm_config_load(&loaded, NULL, 0, NULL, &st), SM_OK);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", FASHION_DIR);
    assert_config_equal(&cfg, &loaded);
}

static void test_every_word_maps_to_its_enum(void **state)
{
    (void)state;
    sm_config cfg;
    sm_config_defaults(&cfg);
    const struct {
        const char *assignment;
        const int *field;
        int value;
    } words[] = {
        {"dataset=fashion-mnist", (const int *)&cfg.dataset, SM_DATASET_FASHION_MNIST},
        {"dataset=mnist", (const int *)&cfg.dataset, SM_DATASET_MNIST},
        {"dataset=cifar10", (const int *)&cfg.dataset, SM_DATASET_CIFAR10},
        {"dataset=synthetic", (const int *)&cfg.dataset, SM_DATASET_SYNTHETIC},
        {"dataset=random", (const int *)&cfg.dataset, SM_DATASET_RANDOM},
        {"arch=mlp", (const int *)&cfg.arch, SM_ARCH_MLP},
        {"arch=resnet", (const int *)&cfg.arch, SM_ARCH_RESNET},
        {"schedule=const", (const int *)&cfg.schedule, SM_SCHEDULE_CONST},
        {"schedule=cosine", (const int *)&cfg.schedule, SM_SCHEDULE_COSINE},
        {"loss=l2", (const int *)&cfg.loss, SM_LOSS_L2},
        {"loss=gauss", (const int *)&cfg.loss, SM_LOSS_GAUSS},
        {"loss=cosine", (const int *)&cfg.loss, SM_LOSS_COSINE},
        {"pred_mode=optimal", (const int *)&cfg.pred_mode, SM_PRED_OPTIMAL},
        {"pred_mode=directpred", (const int *)&cfg.pred_mode, SM_PRED_DIRECTPRED},
        {"pred_mode=sgd", (const int *)&cfg.pred_mode, SM_PRED_SGD},
        {"aug=none", (const int *)&cfg.aug, SM_AUG_NONE},
        {"aug=default", (const int *)&cfg.aug, SM_AUG_DEFAULT},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        apply_ok(&cfg, words[i].assignment);
        if (*words[i].field != words[i].value)
            fail_msg("%s gave %d, want %d", words[i].assignment, *words[i].field, words[i].value);
    }
}

/* ---- files and overrides --------------------------------------------------- */

static void test_file_then_overrides_later_wins(void **state)
{
    (void)state;
    const char *path = sm_test_path("order.txt");
    sm_test_write_text(path, "batch=128\nlr=0.1\nloss=l2\nbatch=64\n");
    const char *overrides[] = {"batch=32", "loss=gauss", "batch=16"};
    sm_config cfg;
    assert_int_equal(sm_config_load(&cfg, path, 3, overrides, &st), SM_OK);
    assert_int_equal(cfg.batch, 16);   /* file 128, file 64, cli 32, cli 16 */
    assert_true(cfg.lr == 0.1);        /* file only */
    assert_int_equal(cfg.loss, SM_LOSS_GAUSS);
    assert_int_equal(cfg.epochs, 60);  /* untouched: default */
}

static void test_comments_blank_lines_whitespace(void **state)
{
    (void)state;
    const char *path = sm_test_path("layout.txt");
    sm_test_write_text(path, "# SimSiam on Fashion-MNIST\n"
                             "\n"
                             "   \t\n"
                             "  batch =  128   # inline comment\n"
                             "\tlr\t=\t0.5\r\n"
                             "out = runs/exp#3 \n"
                             "resume=  runs/a b/checkpoint.bin\n"
                             "    # indented comment = not a key\n"
                             "wd=0#no space before '#': part of the value, which is then invalid\n");
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_status_clear(&st);
    int rc = sm_config_read_file(&cfg, path, &st);
    assert_int_equal(rc, SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "bad value '0#no space before"));
    char where[1200];
    snprintf(where, sizeof where, "(%s:9)", path);
    assert_non_null(strstr(st.msg, where));
    /* Everything before line 9 was applied. */
    assert_int_equal(cfg.batch, 128);
    assert_true(cfg.lr == 0.5);
    assert_string_equal(cfg.out, "runs/exp#3");
    assert_string_equal(cfg.resume, "runs/a b/checkpoint.bin");
    assert_true(cfg.wd == 5e-4);

    /* The same text without line 9, from a string with no final newline. */
    sm_config_defaults(&cfg);
    assert_int_equal(sm_config_parse_text(&cfg, "  batch = 8 # x\n\n  z_dim=4", "inline", &st), SM_OK);
    assert_int_equal(cfg.batch, 8);
    assert_int_equal(cfg.z_dim, 4);
    assert_int_equal(sm_config_parse_text(&cfg, "", "empty", &st), SM_OK);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_unknown_key_suggests_closest(void **state)
{
    (void)state;
    const char *path = sm_test_path("typo.txt");
    sm_test_write_text(path, "batch=2\n\nbacth=3\n");
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_status_clear(&st);
    char want[1200];
    snprintf(want, sizeof want, "unknown key 'bacth' (did you mean 'batch'?) (%s:3)", path);
    expect_message(sm_config_read_file(&cfg, path, &st), SM_ERR_USAGE, want);

    expect_apply_error("pred_step=2", "unknown key 'pred_step' (did you mean 'pred_steps'?) (command line)");
    expect_apply_error("z-dim=2", "unknown key 'z-dim' (did you mean 'z_dim'?) (command line)");
    expect_apply_error("trak_veiws=9", "unknown key 'trak_veiws' (did you mean 'track_views'?) (command line)");
    expect_apply_error("  Epochs = 3", "unknown key 'Epochs' (did you mean 'epochs'?) (command line)");
    expect_apply_error("datadir=x", "unknown key 'datadir' (did you mean 'data_dir'?) (command line)");

    /* Through sm_config_load: the override's error, and nothing after it runs. */
    const char *overrides[] = {"batch=8", "lrr=0.1"};
    expect_message(sm_config_load(&cfg, NULL, 2, overrides, &st), SM_ERR_USAGE,
                   "unknown key 'lrr' (did you mean 'lr'?) (command line)");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_apply_error("batch=abc", "bad value 'abc' for batch: expected an integer in [2, 1048576] (command line)");
    expect_apply_error("batch=12x", "bad value '12x' for batch: expected an integer in [2, 1048576] (command line)");
    expect_apply_error("batch=1.5", "bad value '1.5' for batch: expected an integer in [2, 1048576] (command line)");
    expect_apply_error("batch=", "bad value '' for batch: expected an integer in [2, 1048576] (command line)");
    expect_apply_error("batch=0x10", "bad value '0x10' for batch: expected an integer in [2, 1048576] (command line)");
    expect_apply_error("steps=99999999999999999999",
                       "bad value '99999999999999999999' for steps: expected an integer >= 0 (command line)");
    expect_apply_error("loss=huber", "bad value 'huber' for loss: expected one of cosine|l2|gauss (command line)");
    expect_apply_error("loss=Cosine", "bad value 'Cosine' for loss: expected one of cosine|l2|gauss (command line)");
    expect_apply_error("dataset=cifar100", "bad value 'cifar100' for dataset: expected one of "
                                           "fashion-mnist|mnist|cifar10|synthetic|random (command line)");
    expect_apply_error("lr=abc", "bad value 'abc' for lr: expected a finite number > 0 (command line)");
    expect_apply_error("momentum=0.9.1",
                       "bad value '0.9.1' for momentum: expected a finite number in [0, 1) (command line)");
    expect_apply_error("batch 256", "expected key=value, got 'batch 256' (command line)");
    expect_apply_error(" = 5", "missing key before '=' in ' = 5' (command line)");
}

static void test_nan_and_inf_rejected(void **state)
{
    (void)state;
    const char *values[] = {"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char assignment[64], want[256];
        snprintf(assignment, sizeof assignment, "wd=%s", values[i]);
        snprintf(want, sizeof want, "bad value '%s' for wd: expected a finite number >= 0 (command line)", values[i]);
        expect_apply_error(assignment, want);
        snprintf(assignment, sizeof assignment, "pred_lr_mult=%s", values[i]);
        snprintf(want, sizeof want, "bad value '%s' for pred_lr_mult: expected a finite number >= 0 (command line)",
                 values[i]);
        expect_apply_error(assignment, want);
    }
}

static void test_range_boundaries(void **state)
{
    (void)state;
    const struct {
        const char *assignment;
        int ok;
    } cases[] = {
        {"batch=2", 1}, {"batch=1", 0}, {"batch=1048576", 1}, {"batch=1048577", 0}, {"batch=-256", 0},
        {"width=1", 1}, {"width=0", 0}, {"width=4096", 1}, {"width=4097", 0},
        {"z_dim=1", 1}, {"z_dim=0", 0}, {"proj_hidden=0", 0}, {"pred_hidden=65536", 1}, {"pred_hidden=65537", 0},
        {"epochs=1", 1}, {"epochs=0", 0}, {"steps=0", 1}, {"steps=-1", 0},
        {"threads=0", 1}, {"threads=4096", 1}, {"threads=4097", 0}, {"threads=-1", 0},
        {"seed=0", 1}, {"seed=-1", 0}, {"seed=9223372036854775807", 1}, {"seed=9223372036854775808", 0},
        {"lr=1e-300", 1}, {"lr=1e-400", 0}, {"wd=1e-400", 1}, {"lr=0", 0}, {"lr=-0.03", 0}, {"lr=+0.5", 1}, {"lr=1e5", 1},
        {"momentum=0", 1}, {"momentum=0.999999", 1}, {"momentum=1", 0}, {"momentum=-0.01", 0},
        {"wd=0", 1}, {"wd=-1e-9", 0}, {"pred_lr_mult=0", 1}, {"pred_lr_mult=-1", 0},
        {"pred_fixed_lr=0", 1}, {"pred_fixed_lr=1", 1}, {"pred_fixed_lr=2", 0}, {"pred_fixed_lr=-1", 0},
        {"pred_steps=1", 1}, {"pred_steps=0", 0}, {"pred_steps=1000", 1}, {"pred_steps=1001", 0},
        {"knn_every=0", 1}, {"knn_every=-1", 0}, {"track_every=0", 1}, {"track_every=-1", 0},
        {"track_samples=2", 1}, {"track_samples=1", 0}, {"track_samples=16777216", 1},
        {"track_samples=16777217", 0}, {"track_views=2", 1}, {"track_views=1", 0},
        {"track_images=1", 1}, {"track_images=0", 0}, {"checkpoint_every=0", 1}, {"checkpoint_every=-1", 0},
        {"translate=0", 1}, {"translate=16", 1}, {"translate=17", 0}, {"translate=-1", 0}, {"translate=2.5", 0},
        {"blur=0", 1}, {"blur=1", 1}, {"blur=1.01", 0}, {"blur=-0.1", 0}, {"blur=nan", 0},
        {"solarize=0.2", 1}, {"solarize=1", 1}, {"solarize=1.5", 0}, {"solarize=nan", 0},
        {"gamma=0.5", 1}, {"gamma=1", 1}, {"gamma=1.5", 0}, {"gamma=-0.1", 0}, {"gamma=nan", 0},
        {"erase=0.5", 1}, {"erase=1", 1}, {"erase=2", 0}, {"erase=-1e-9", 0}, {"erase=inf", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sm_config cfg;
        sm_config_defaults(&cfg);
        sm_status_clear(&st);
        int rc = sm_config_apply(&cfg, cases[i].assignment, "command line", &st);
        if (rc != (cases[i].ok ? SM_OK : SM_ERR_USAGE))
            fail_msg("%s: rc %d (%s), expected %s", cases[i].assignment, rc, st.msg, cases[i].ok ? "ok" : "error");
        if (!cases[i].ok && (!strstr(st.msg, "bad value '") || !strstr(st.msg, "expected ")))
            fail_msg("%s: message \"%s\" does not give the value and the range", cases[i].assignment, st.msg);
    }
    /* The accepted boundary values are stored exactly. */
    sm_config cfg;
    sm_config_defaults(&cfg);
    apply_ok(&cfg, "seed=9223372036854775807");
    apply_ok(&cfg, "lr=1e-300");
    apply_ok(&cfg, "momentum=0.999999");
    apply_ok(&cfg, "wd=1e-310"); /* subnormal: kept, not rejected as an underflow */
    assert_true(cfg.wd == 1e-310 && cfg.wd > 0);
    apply_ok(&cfg, "pred_lr_mult=1e-400"); /* underflows to 0, which is in range */
    assert_true(cfg.pred_lr_mult == 0);
    assert_true(cfg.seed == 9223372036854775807L);
    assert_true(cfg.lr == 1e-300);
    assert_true(cfg.momentum == 0.999999);
}

/* A config file of one line: `head`, then `n` copies of `fill`, then `tail`. */
static void write_long_line(const char *path, const char *head, char fill, size_t n, const char *tail)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(head, f);
    for (size_t i = 0; i < n; i++) fputc(fill, f);
    fputs(tail, f);
    assert_int_equal(fclose(f), 0);
}

static void test_line_without_equals_and_missing_file(void **state)
{
    (void)state;
    const char *path = sm_test_path("noeq.txt");
    sm_test_write_text(path, "batch=8\nbatch 256\n");
    sm_config cfg;
    sm_config_defaults(&cfg);
    sm_status_clear(&st);
    char want[1200];
    snprintf(want, sizeof want, "expected key=value, got 'batch 256' (%s:2)", path);
    expect_message(sm_config_read_file(&cfg, path, &st), SM_ERR_USAGE, want);

    const char *missing = sm_test_path("no_such_config.txt");
    snprintf(want, sizeof want, "cannot open config file: No such file or directory (%s)", missing);
    expect_message(sm_config_load(&cfg, missing, 0, NULL, &st), SM_ERR_DATA, want);

    const char *dir = sm_test_path("config_is_a_dir");
    mkdir(dir, 0777);
    snprintf(want, sizeof want, "cannot read config file: Is a directory (%s)", dir);
    expect_message(sm_config_read_file(&cfg, dir, &st), SM_ERR_DATA, want);

    const char *binary = sm_test_path("nul.txt");
    sm_test_write(binary, "batch=8\n\0x", 10);
    snprintf(want, sizeof want, "config file contains a NUL byte (%s)", binary);
    expect_message(sm_config_read_file(&cfg, binary, &st), SM_ERR_DATA, want);

    /* an endless file is stopped at its first chunk, not read to the end of memory */
    expect_message(sm_config_read_file(&cfg, "/dev/zero", &st), SM_ERR_DATA,
                   "config file contains a NUL byte (/dev/zero)");
    const char *big = sm_test_path("big_config.txt");
    write_long_line(big, "# ", 'x', (size_t)1 << 22, "\nbatch=8\n");
    snprintf(want, sizeof want, "config file is larger than 4194304 bytes (%s)", big);
    expect_message(sm_config_read_file(&cfg, big, &st), SM_ERR_DATA, want);
}

/* A UTF-8 byte order mark, as some editors write one, is not part of the
 * first key (it was: "unknown key 'batch' (did you mean 'batch'?)"). */
static void test_byte_order_mark(void **state)
{
    (void)state;
    const char *path = sm_test_path("bom.txt");
    sm_test_write_text(path, "\xEF\xBB\xBF" "batch=16\n");
    sm_config cfg;
    sm_config_defaults(&cfg);
    assert_int_equal(sm_config_read_file(&cfg, path, &st), SM_OK);
    assert_int_equal(cfg.batch, 16);
}

/* However long the offending text, the error keeps its hint and ends with
 * its location; only the quoted text is cut (sm_status.msg is 512 bytes:
 * before, a long value pushed "(file:line)" and "did you mean" out). */
static void test_long_values_keep_hint_and_location(void **state)
{
    (void)state;
    const size_t mb = 1 << 20;
    const struct {
        const char *head;
        char fill;
        size_t n;
        const char *tail, *needle;
    } cases[] = {
        {"bacth = ", '7', mb, "\n", "unknown key 'bacth' (did you mean 'batch'?)"},
        {"batch = ", '7', mb, "\n", "bad value for batch: longer than 4095 bytes"},
        {"batch = ", '7', 3000, "\n", "' for batch: expected an integer in [2, 1048576]"},
        {"loss = ", 'x', 3000, "\n", "' for loss: expected one of cosine|l2|gauss"},
        {"bacth", 'h', mb, " = 3\n", "' (did you mean '"},
        {"", 'x', mb, "\n", "expected key=value, got '"},
        {" = ", 'x', mb, "\n", "missing key before '=' in '"},
    };
    const char *path = sm_test_path("long_line.txt");
    char end[1100];
    snprintf(end, sizeof end, " (%s:1)", path);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        write_long_line(path, cases[c].head, cases[c].fill, cases[c].n, cases[c].tail);
        sm_config cfg;
        sm_config_defaults(&cfg);
        sm_status_clear(&st);
        assert_int_equal(sm_config_read_file(&cfg, path, &st), SM_ERR_USAGE);
        size_t len = strlen(st.msg);
        if (!strstr(st.msg, cases[c].needle) || len < strlen(end) || strcmp(st.msg + len - strlen(end), end) != 0 ||
            len > 400)
            fail_msg("case %zu: \"%s\"", c, st.msg);
        assert_null(strchr(st.msg, '\n'));
    }
    /* In a file "a #..." is a comment; on the command line it is an error. */
    char assignment[4000] = "data_dir=a #";
    memset(assignment + 12, 'x', sizeof assignment - 13);
    sm_config cfg;
    sm_config_defaults(&cfg);
    assert_int_equal(sm_config_apply(&cfg, assignment, "command line", &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "' for data_dir: '#' after a space starts a comment in config files (command line)"));
}

static void test_paths_that_would_not_read_back(void **state)
{
    (void)state;
    expect_apply_error("out=runs/a\nb", "bad value for out: control character 0x0a (command line)");
    expect_apply_error("resume=a\tb", "bad value for resume: control character 0x09 (command line)");
    expect_apply_error("out=runs/a #1",
                       "bad value 'runs/a #1' for out: '#' after a space starts a comment in config files "
                       "(command line)");
    char *long_value = malloc(SM_CONFIG_TEXT_MAX + 16);
    assert_non_null(long_value);
    strcpy(long_value, "data_dir=");
    memset(long_value + 9, 'a', SM_CONFIG_TEXT_MAX);
    long_value[9 + SM_CONFIG_TEXT_MAX] = '\0';
    expect_apply_error(long_value, "bad value for data_dir: longer than 4095 bytes (command line)");
    long_value[9 + SM_CONFIG_TEXT_MAX - 1] = '\0'; /* 4095 bytes: fits */
    sm_config cfg;
    sm_config_defaults(&cfg);
    apply_ok(&cfg, long_value);
    assert_int_equal(strlen(cfg.data_dir), SM_CONFIG_TEXT_MAX - 1);
    free(long_value);
}

static void test_data_dir_default_depends_on_dataset(void **state)
{
    (void)state;
    sm_config cfg;
    const char *mnist[] = {"dataset=mnist"};
    expect_message(sm_config_load(&cfg, NULL, 1, mnist, &st), SM_ERR_USAGE, "dataset=mnist needs data_dir=DIR");
    const char *cifar[] = {"dataset=cifar10"};
    expect_message(sm_config_load(&cfg, NULL, 1, cifar, &st), SM_ERR_USAGE, "dataset=cifar10 needs data_dir=DIR");
    const char *mnist_dir[] = {"dataset=mnist", "data_dir=/data/mnist"};
    assert_int_equal(sm_config_load(&cfg, NULL, 2, mnist_dir, &st), SM_OK);
    assert_string_equal(cfg.data_dir, "/data/mnist");
    const char *synthetic[] = {"dataset=synthetic"};
    assert_int_equal(sm_config_load(&cfg, NULL, 1, synthetic, &st), SM_OK);
    assert_string_equal(cfg.data_dir, "");
    const char *random_data[] = {"dataset=random"};
    assert_int_equal(sm_config_load(&cfg, NULL, 1, random_data, &st), SM_OK);
    assert_string_equal(cfg.data_dir, "");
    const char *fashion_dir[] = {"data_dir=/elsewhere/fm"};
    assert_int_equal(sm_config_load(&cfg, NULL, 1, fashion_dir, &st), SM_OK);
    assert_string_equal(cfg.data_dir, "/elsewhere/fm");
}

/* ---- write-out ---------------------------------------------------------------- */

static void round_trip(const char *name, int noverrides, const char *const *overrides)
{
    sm_config cfg, back;
    if (sm_config_load(&cfg, NULL, noverrides, overrides, &st)) fail_msg("%s", st.msg);
    const char *path = sm_test_path(name);
    assert_int_equal(sm_config_write(path, &cfg, &st), SM_OK);
    if (sm_config_load(&back, path, 0, NULL, &st)) fail_msg("%s", st.msg);
    assert_config_equal(&cfg, &back);
    /* Writing what was read gives the same bytes. */
    char path2[1100];
    snprintf(path2, sizeof path2, "%s.again", path);
    assert_int_equal(sm_config_write(path2, &back, &st), SM_OK);
    char *a = sm_test_read(path, NULL), *b = sm_test_read(path2, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_write_read_round_trip(void **state)
{
    (void)state;
    round_trip("defaults.txt", 0, NULL);
    const char *everything[] = {
        "dataset=mnist", "data_dir=/data/mnist dir", "arch=mlp", "width=7", "proj_hidden=33", "z_dim=3",
        "pred_hidden=5", "batch=2", "epochs=9", "steps=123456789012", "threads=3", "seed=9223372036854775807",
        "lr=0.30000000000000004", "momentum=0.99999999999999989", "wd=4.9406564584124654e-324",
        "schedule=const", "loss=gauss", "pred_lr_mult=1e300", "pred_fixed_lr=1", "pred_steps=1000",
        "pred_mode=directpred", "aug=none", "stem_stride=1", "crop_min=0.30000000000000004", "jitter=0",
        "translate=16", "blur=0.30000000000000004", "gamma=0.5", "solarize=0.2", "erase=1", "holdout=17",
        "knn_every=0", "track_every=50", "track_samples=2", "track_views=2", "track_images=1", "checkpoint_every=0",
        "resume=runs/x/checkpoint.bin",
        "out=runs/exp#3",
    };
    round_trip("everything.txt", (int)(sizeof everything / sizeof everything[0]), everything);
    const char *third[] = {"lr=0.1", "momentum=0.3333333333333333", "wd=1e-4", "pred_lr_mult=10"};
    round_trip("thirds.txt", 4, third);
}

static void test_written_form(void **state)
{
    (void)state;
    sm_config cfg;
    assert_int_equal(sm_config_load(&cfg, NULL, 0, NULL, &st), SM_OK);
    const char *path = sm_test_path("written.txt");
    assert_int_equal(sm_config_write(path, &cfg, &st), SM_OK);
    char *text = sm_test_read(path, NULL);
    assert_non_null(text);
    assert_int_equal(sm_test_lines(text), NKEYS);
    /* Table order, and reals in their shortest exact form. */
    const char *head = "dataset=fashion-mnist\ndata_dir=" FASHION_DIR "\narch=resnet\nwidth=32\nstem_stride=2\n";
    assert_memory_equal(text, head, strlen(head));
    assert_non_null(strstr(text, "\nlr=0.1\nmomentum=0.9\nwd=0.0005\nschedule=cosine\n"));
    assert_non_null(strstr(text, "\nresume=\nout=\n"));
    free(text);

    /* The shortest of the exact forms, not the least precision's: 10 as a
     * runs line writes it, not 1e+01. */
    const char *reals[] = {"lr=100", "wd=1e-05", "pred_lr_mult=10", "refit_lr=1500", "momentum=0.25"};
    assert_int_equal(sm_config_load(&cfg, NULL, 5, reals, &st), SM_OK);
    assert_int_equal(sm_config_write(path, &cfg, &st), SM_OK);
    text = sm_test_read(path, NULL);
    for (int i = 0; i < 5; i++) {
        char line[64];
        snprintf(line, sizeof line, "\n%s\n", reals[i]);
        if (!strstr(text, line)) fail_msg("no line %s in:\n%s", reals[i], text);
    }
    free(text);

    sm_status_clear(&st);
    const char *bad = sm_test_path("no_such_dir/config.txt");
    assert_int_equal(sm_config_write(bad, &cfg, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, bad));
}

/* A saved configuration predating stem_stride, jitter, solarize, blur or
 * gamma (no such line) meant stride 1, jitter 0.4 and none of solarization,
 * blur and gamma curve, whatever today's defaults; a line present wins as
 * usual. */
static void test_saved_defaults_keep_old_behaviour(void **state)
{
    (void)state;
    sm_config fresh, saved;
    sm_config_defaults(&fresh);
    sm_config_saved_defaults(&saved);
    assert_int_equal(fresh.stem_stride, 2);
    assert_int_equal(saved.stem_stride, 1);
    assert_true(fresh.jitter == 0.8 && saved.jitter == 0.4);
    assert_true(fresh.solarize == 0.2 && saved.solarize == 0);
    assert_true(fresh.blur == 0.5 && saved.blur == 0 && fresh.gamma == 0.5 && saved.gamma == 0);
    saved.stem_stride = fresh.stem_stride; /* the only keys with an old meaning */
    saved.jitter = fresh.jitter;
    saved.solarize = fresh.solarize;
    saved.blur = fresh.blur;
    saved.gamma = fresh.gamma;
    assert_config_equal(&saved, &fresh);
    sm_config_saved_defaults(&saved);
    const char *text = "width=16\nstem_stride=2\njitter=0.8\nsolarize=0.2\nblur=0.5\ngamma=0.5\n";
    assert_int_equal(sm_config_parse_text(&saved, text, "ckpt", &st), SM_OK);
    assert_int_equal(saved.stem_stride, 2);
    assert_true(saved.jitter == 0.8 && saved.solarize == 0.2 && saved.blur == 0.5 && saved.gamma == 0.5);
}

/* docs/design.md's key table is the one `train --help` makes from the key
 * table (scripts/readme-table.sh keys; `make readme-tables` rewrites it). */
static void test_design_key_table(void **state)
{
    (void)state;
    sm_test_doc_table("keys");
}

static void test_print_keys(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    sm_config_print_keys(f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sm_test_lines(text), NKEYS);
    assert_non_null(strstr(text, "  batch=256 "));
    assert_non_null(strstr(text, "(an integer in [2, 1048576])"));
    assert_non_null(strstr(text, "  dataset=fashion-mnist "));
    assert_non_null(strstr(text, "(one of fashion-mnist|mnist|cifar10|synthetic|random)"));
    assert_non_null(strstr(text, "  momentum=0.9 "));
    assert_non_null(strstr(text, "(a finite number in [0, 1))"));
    assert_non_null(strstr(text, "  lr=0.1 "));
    assert_non_null(strstr(text, "(a finite number > 0)"));
    assert_non_null(strstr(text, FASHION_DIR));
    /* Every key the writer emits is listed. */
    sm_config cfg;
    sm_config_defaults(&cfg);
    char *written = NULL;
    size_t wlen = 0;
    f = open_memstream(&written, &wlen);
    assert_non_null(f);
    sm_config_fprint(f, &cfg);
    assert_int_equal(fclose(f), 0);
    for (char *line = strtok(written, "\n"); line; line = strtok(NULL, "\n")) {
        char key[64];
        snprintf(key, sizeof key, "  %.*s=", (int)strcspn(line, "="), line);
        if (!strstr(text, key)) fail_msg("key %s is not listed", key);
    }
    free(written);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_word_maps_to_its_enum),
        cmocka_unit_test(test_file_then_overrides_later_wins),
        cmocka_unit_test(test_comments_blank_lines_whitespace),
        cmocka_unit_test(test_unknown_key_suggests_closest),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_nan_and_inf_rejected),
        cmocka_unit_test(test_range_boundaries),
        cmocka_unit_test(test_line_without_equals_and_missing_file),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_long_values_keep_hint_and_location),
        cmocka_unit_test(test_paths_that_would_not_read_back),
        cmocka_unit_test(test_data_dir_default_depends_on_dataset),
        cmocka_unit_test(test_write_read_round_trip),
        cmocka_unit_test(test_written_form),
        cmocka_unit_test(test_saved_defaults_keep_old_behaviour),
        cmocka_unit_test(test_print_keys),
        cmocka_unit_test(test_design_key_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
