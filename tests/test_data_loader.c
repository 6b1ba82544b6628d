/* Tests for src/data/loader.c: sm_data_load for every dataset kind — the
 * packaged Fashion-MNIST (skipped, visibly, when absent), MNIST-format and
 * CIFAR files written here, the generated sets — and its errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <zlib.h>

#include "data/cifar.h"
#include "data/loader.h"
#include "data/synthetic.h"
#include "support/support.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- fixtures ------------------------------------------------------------ */

/* Configuration from "key=value" overrides, as the CLI builds it. */
static void config(sm_config *cfg, int n, const char *const *overrides)
{
    sm_status st;
    sm_status_clear(&st);
    if (sm_config_load(cfg, NULL, n, overrides, &st)) fail_msg("%s", st.msg);
}

static void load(const sm_config *cfg, const char *split, sm_dataset *ds)
{
    sm_status st;
    sm_status_clear(&st);
    if (sm_data_load(cfg, split, ds, &st)) fail_msg("%s", st.msg);
}

static void assert_shape(const sm_dataset *ds, size_t n, size_t c, size_t side)
{
    assert_int_equal(ds->n, n);
    assert_int_equal(ds->c, c);
    assert_int_equal(ds->h, side);
    assert_int_equal(ds->w, side);
    assert_int_equal(ds->classes, 10);
}

/* dataset=mnist reading dir. */
static void mnist_config(sm_config *cfg, const char *dir)
{
    char dir_kv[2100];
    snprintf(dir_kv, sizeof dir_kv, "data_dir=%s", dir);
    const char *ov[] = {"dataset=mnist", dir_kv};
    config(cfg, 2, ov);
}

/* ---- file-based sets --------------------------------------------------------- */

static int have_fashion(void)
{
    struct stat sb;
    return stat(FASHION_DIR, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Through the default configuration (data_dir filled in by the config). */
static void test_fashion_mnist_default(void **state)
{
    (void)state;
    if (!have_fashion()) {
        print_message("SKIP: %s not installed (Debian package fashion-mnist)\n", FASHION_DIR);
        skip();
    }
    sm_config cfg;
    config(&cfg, 0, NULL);
    sm_dataset test;
    load(&cfg, "test", &test);
    assert_shape(&test, 10000, 1, 28);
    size_t count[10] = {0};
    for (size_t i = 0; i < test.n; i++) count[test.labels[i]]++;
    for (int k = 0; k < 10; k++) assert_int_equal(count[k], 1000);
    /* As floats: in [0, 1], both ends reached; the first image's centre
     * pixel is byte 110 (see test_io_idx). */
    size_t idx[100];
    for (size_t i = 0; i < 100; i++) idx[i] = i * 97;
    float *x = malloc(100 * 784 * sizeof *x);
    assert_non_null(x);
    sm_dataset_gather(&test, idx, 100, x);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < 100 * 784; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
    assert_true(lo == 0.0f && hi == 1.0f);
    assert_true(x[14 * 28 + 14] == 110.0f / 255.0f);
    free(x);
    sm_dataset_free(&test);
    sm_dataset train;
    load(&cfg, "train", &train);
    assert_shape(&train, 60000, 1, 28);
    assert_int_equal(train.labels[0], 9);
    sm_dataset_free(&train);
}

static void test_mnist_from_written_files(void **state)
{
    (void)state;
    const char *dir = sm_test_write_mnist_dir("loader_mnist", 30, 28);
    sm_config cfg;
    mnist_config(&cfg, dir);
    for (int s = 0; s < 2; s++) {
        sm_dataset ds;
        load(&cfg, s ? "test" : "train", &ds);
        assert_shape(&ds, 30, 1, 28);
        for (size_t i = 0; i < 30; i++) {
            assert_int_equal(ds.labels[i], (i + 100 * s) % 10);
            for (size_t j = 0; j < 784; j += 97) assert_int_equal(ds.pixels[i * 784 + j], (uint8_t)(i + 100 * s + j));
        }
        sm_dataset_free(&ds);
    }
}

/* The test split beside train (sm_data_load_test): the same image shape, or
 * an error naming the directory, never a buffer sized for the other split. */
static void test_test_split_must_match_train(void **state)
{
    (void)state;
    const char *dir = sm_test_write_mnist_dir("loader_mismatch", 4, 28);
    sm_config cfg;
    mnist_config(&cfg, dir);
    sm_dataset train, test;
    load(&cfg, "train", &train);
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_data_load_test(&cfg, &train, &test, &st), SM_OK);
    assert_shape(&test, 4, 1, 28);
    sm_dataset_free(&test);

    uint8_t pix[4 * 16 * 16] = {0};
    uint32_t dims[3] = {4, 16, 16};
    sm_test_write_idx(sm_test_join(dir, "t10k-images-idx3-ubyte"), 3, dims, pix, sizeof pix);
    assert_int_equal(sm_data_load_test(&cfg, &train, &test, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "the test images are 1 x 16 x 16, the training images 1 x 28 x 28"));
    assert_non_null(strstr(st.msg, dir));
    assert_null(test.pixels);
    assert_int_equal(test.n, 0);
    sm_dataset_free(&train);
}

/* An image of more values than a model takes (11586² > SM_DATASET_MAX_IMAGE;
 * 134 MB of zeros, gzip-compressed): refused by the loader as a data error
 * naming the data directory, not later by the model as a usage error. */
static void test_images_too_large_for_a_model(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("loader_huge_image");
    uint8_t head[16] = {0, 0, 0x08, 3, 0, 0, 0, 1};
    const uint32_t side = 11586;
    for (int d = 1; d < 3; d++)
        for (int k = 0; k < 4; k++) head[4 + 4 * d + k] = (uint8_t)(side >> (24 - 8 * k));
    gzFile gz = gzopen(sm_test_join(dir, "train-images-idx3-ubyte.gz"), "wb1");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, head, sizeof head), (int)sizeof head);
    static uint8_t zeros[1 << 20];
    for (size_t left = (size_t)side * side; left > 0;) {
        unsigned n = left < sizeof zeros ? (unsigned)left : (unsigned)sizeof zeros;
        assert_int_equal(gzwrite(gz, zeros, n), (int)n);
        left -= n;
    }
    assert_int_equal(gzclose(gz), Z_OK);
    uint32_t one = 1;
    uint8_t label = 0;
    sm_test_write_idx(sm_test_join(dir, "train-labels-idx1-ubyte"), 1, &one, &label, 1);
    sm_config cfg;
    mnist_config(&cfg, dir);
    sm_dataset ds;
    sm_status st;
    assert_int_equal(sm_data_load(&cfg, "train", &ds, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "images of 11586 x 11586 pixels: a model takes at most 134217727"));
    assert_non_null(strstr(st.msg, dir));
    assert_null(ds.pixels);
}

static void test_cifar_from_written_files(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("loader_cifar");
    uint8_t rec[2 * SM_CIFAR_RECORD];
    for (size_t i = 0; i < sizeof rec; i++) rec[i] = (uint8_t)(i * 5);
    rec[0] = 3;
    rec[SM_CIFAR_RECORD] = 8;
    sm_test_write(sm_test_join(dir, "test_batch.bin"), rec, sizeof rec);
    char dir_kv[2100];
    snprintf(dir_kv, sizeof dir_kv, "data_dir=%s", dir);
    const char *ov[] = {"dataset=cifar10", dir_kv};
    sm_config cfg;
    config(&cfg, 2, ov);
    sm_dataset ds;
    load(&cfg, "test", &ds);
    assert_shape(&ds, 2, 3, 32);
    assert_int_equal(ds.labels[0], 3);
    assert_int_equal(ds.labels[1], 8);
    assert_memory_equal(ds.pixels, rec + 1, SM_CIFAR_IMAGE);
    assert_memory_equal(ds.pixels + SM_CIFAR_IMAGE, rec + SM_CIFAR_RECORD + 1, SM_CIFAR_IMAGE);
    sm_dataset_free(&ds);
    /* No training batches in that directory: the first missing one is named. */
    sm_status st;
    assert_int_equal(sm_data_load(&cfg, "train", &ds, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "data_batch_1.bin"));
    assert_null(ds.pixels);
}

/* ---- generated sets ---------------------------------------------------------- */

static void test_synthetic_sizes_and_seed(void **state)
{
    (void)state;
    const char *ov[] = {"dataset=synthetic", "seed=5"};
    sm_config cfg;
    config(&cfg, 2, ov);
    sm_dataset train, test, direct;
    load(&cfg, "train", &train);
    load(&cfg, "test", &test);
    assert_shape(&train, SM_SYNTHETIC_TRAIN, 1, 28);
    assert_shape(&test, SM_SYNTHETIC_TEST, 1, 28);
    sm_status st;
    assert_int_equal(sm_synthetic_generate(5, SM_SPLIT_TEST, SM_SYNTHETIC_TEST, &direct, &st), SM_OK);
    assert_memory_equal(test.pixels, direct.pixels, SM_SYNTHETIC_TEST * 784);
    assert_memory_equal(test.labels, direct.labels, SM_SYNTHETIC_TEST);
    sm_dataset_free(&train);
    sm_dataset_free(&test);
    sm_dataset_free(&direct);
}

/* holdout=H: train = the first n - H training images, test = the last H,
 * byte for byte; H >= n is a usage error naming the key. */
static void test_holdout_splits_the_training_images(void **state)
{
    (void)state;
    const char *plain_ov[] = {"dataset=synthetic", "seed=5"};
    const char *held_ov[] = {"dataset=synthetic", "seed=5", "holdout=300"};
    sm_config plain, held;
    config(&plain, 2, plain_ov);
    config(&held, 3, held_ov);
    sm_dataset all, train, test;
    load(&plain, "train", &all);
    load(&held, "train", &train);
    load(&held, "test", &test);
    size_t first = SM_SYNTHETIC_TRAIN - 300;
    assert_shape(&train, first, 1, 28);
    assert_shape(&test, 300, 1, 28);
    assert_memory_equal(train.pixels, all.pixels, first * 784);
    assert_memory_equal(train.labels, all.labels, first);
    assert_memory_equal(test.pixels, all.pixels + first * 784, 300 * 784);
    assert_memory_equal(test.labels, all.labels + first, 300);
    sm_dataset_free(&all);
    sm_dataset_free(&train);
    sm_dataset_free(&test);

    const char *whole_ov[] = {"dataset=synthetic", "holdout=2000"};
    config(&held, 2, whole_ov);
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_data_load(&held, "test", &test, &st), SM_ERR_USAGE);
    assert_non_null(strstr(st.msg, "holdout=2000 leaves no training images"));
    assert_null(test.pixels);
}

static void test_random_has_fashion_mnist_shape(void **state)
{
    (void)state;
    const char *ov[] = {"dataset=random"};
    sm_config cfg;
    config(&cfg, 1, ov);
    sm_dataset test;
    load(&cfg, "test", &test);
    assert_shape(&test, 10000, 1, 28);
    for (size_t i = 0; i < test.n; i++) assert_true(test.labels[i] < 10);
    sm_dataset_free(&test);
    if (sm_test_slow()) skip(); /* 47 MB of random bytes: too slow under valgrind; reported as skipped */
    sm_dataset train;
    load(&cfg, "train", &train);
    assert_shape(&train, 60000, 1, 28);
    sm_dataset_free(&train);
}

/* ---- errors ---------------------------------------------------------------------- */

static void test_bad_split_and_missing_data_dir(void **state)
{
    (void)state;
    sm_config cfg;
    config(&cfg, 0, NULL);
    sm_status st;
    sm_dataset ds;
    assert_int_equal(sm_data_load(&cfg, "validation", &ds, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "unknown split 'validation' (expected train or test)");
    assert_null(ds.pixels);
    /* Without sm_config_finish nothing fills data_dir in. */
    sm_config_defaults(&cfg);
    cfg.dataset = SM_DATASET_CIFAR10;
    assert_int_equal(sm_data_load(&cfg, "train", &ds, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "dataset=cifar10 needs data_dir=DIR");
    cfg.dataset = SM_DATASET_MNIST;
    assert_int_equal(sm_data_load(&cfg, "train", &ds, &st), SM_ERR_USAGE);
    assert_string_equal(st.msg, "dataset=mnist needs data_dir=DIR");
}

static void test_missing_directory_is_named(void **state)
{
    (void)state;
    const char *dir = sm_test_path("loader_no_such_dir");
    char dir_kv[2100];
    snprintf(dir_kv, sizeof dir_kv, "data_dir=%s", dir);
    const char *kinds[] = {"dataset=mnist", "dataset=cifar10", "dataset=fashion-mnist"};
    for (int k = 0; k < 3; k++) {
        const char *ov[] = {kinds[k], dir_kv};
        sm_config cfg;
        config(&cfg, 2, ov);
        sm_status st;
        sm_dataset ds;
        assert_int_equal(sm_data_load(&cfg, "test", &ds, &st), SM_ERR_DATA);
        assert_non_null(strstr(st.msg, "data directory not found"));
        assert_non_null(strstr(st.msg, dir));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist_default),
        cmocka_unit_test(test_mnist_from_written_files),
        cmocka_unit_test(test_test_split_must_match_train),
        cmocka_unit_test(test_images_too_large_for_a_model),
        cmocka_unit_test(test_cifar_from_written_files),
        cmocka_unit_test(test_synthetic_sizes_and_seed),
        cmocka_unit_test(test_holdout_splits_the_training_images),
        cmocka_unit_test(test_random_has_fashion_mnist_shape),
        cmocka_unit_test(test_bad_split_and_missing_data_dir),
        cmocka_unit_test(test_missing_directory_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
