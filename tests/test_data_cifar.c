/* Tests for src/data/cifar.c on small CIFAR-10 binary files written here:
 * layout (label byte, R, G, B planes), concatenation of the five training
 * batches, and every kind of bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "data/cifar.h"
#include "support/support.h"

/* ---- fixtures ------------------------------------------------------------ */

static uint8_t label_of(size_t file, size_t r) { return (uint8_t)((r * 3 + file) % 10); }

/* Pixel byte j (0..3071) of record r in file k. */
static uint8_t pixel_of(size_t file, size_t r, size_t j) { return (uint8_t)((j * 7 + r * 13 + file * 29) & 0xff); }

/* A batch file of `records` records with the pattern of file number `file`. */
static void write_batch(const char *path, size_t file, size_t records)
{
    size_t n = records * SM_CIFAR_RECORD;
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t r = 0; r < records; r++) {
        uint8_t *rec = b + r * SM_CIFAR_RECORD;
        rec[0] = label_of(file, r);
        for (size_t j = 0; j < SM_CIFAR_IMAGE; j++) rec[1 + j] = pixel_of(file, r, j);
    }
    sm_test_write(path, b, n);
    free(b);
}

static const size_t TRAIN_RECORDS[SM_CIFAR_TRAIN_FILES] = {3, 1, 2, 4, 2};

/* A directory with data_batch_1..5.bin (TRAIN_RECORDS) and test_batch.bin (2). */
static const char *write_cifar_dir(const char *name)
{
    const char *dir = sm_test_dir(name);
    char file[64];
    for (size_t k = 0; k < SM_CIFAR_TRAIN_FILES; k++) {
        snprintf(file, sizeof file, "data_batch_%zu.bin", k + 1);
        write_batch(sm_test_join(dir, file), k, TRAIN_RECORDS[k]);
    }
    write_batch(sm_test_join(dir, "test_batch.bin"), SM_CIFAR_TRAIN_FILES, 2);
    return dir;
}

static void assert_fails(int rc, const sm_status *st, int code, const char *what, const char *where)
{
    if (rc != code || !strstr(st->msg, what) || !strstr(st->msg, where))
        fail_msg("got rc %d, message \"%s\"; wanted rc %d with \"%s\" and \"%s\"", rc, st->msg, code, what, where);
}

static void expect_train_error(const char *dir, const char *what, const char *where)
{
    sm_status st;
    sm_status_clear(&st);
    sm_dataset ds;
    assert_fails(sm_cifar_load_split(dir, SM_SPLIT_TRAIN, &ds, &st), &st, SM_ERR_DATA, what, where);
    assert_null(ds.pixels);
    assert_null(ds.labels);
    assert_int_equal(ds.n, 0);
}

/* ---- good files ------------------------------------------------------------ */

/* Records of file k appear in order after those of files 1..k−1; pixel byte j
 * of a record is channel j / 1024, row (j mod 1024) / 32, column j mod 32. */
static void test_train_concatenates_five_batches(void **state)
{
    (void)state;
    const char *dir = write_cifar_dir("cifar_good");
    sm_status st;
    sm_status_clear(&st);
    sm_dataset ds;
    int rc = sm_cifar_load_split(dir, SM_SPLIT_TRAIN, &ds, &st);
    if (rc) fail_msg("%s", st.msg);
    assert_int_equal(ds.n, 12);
    assert_int_equal(ds.c, 3);
    assert_int_equal(ds.h, 32);
    assert_int_equal(ds.w, 32);
    assert_int_equal(ds.classes, 10);
    size_t i = 0, wrong = 0;
    for (size_t k = 0; k < SM_CIFAR_TRAIN_FILES; k++)
        for (size_t r = 0; r < TRAIN_RECORDS[k]; r++, i++) {
            assert_int_equal(ds.labels[i], label_of(k, r));
            for (size_t ch = 0; ch < 3; ch++)
                for (size_t y = 0; y < 32; y++)
                    for (size_t x = 0; x < 32; x++)
                        wrong += ds.pixels[((i * 3 + ch) * 32 + y) * 32 + x] != pixel_of(k, r, ch * 1024 + y * 32 + x);
        }
    assert_int_equal(wrong, 0);
    sm_dataset_free(&ds);
}

static void test_test_split_reads_test_batch(void **state)
{
    (void)state;
    const char *dir = write_cifar_dir("cifar_test");
    sm_status st;
    sm_dataset ds;
    int rc = sm_cifar_load_split(dir, SM_SPLIT_TEST, &ds, &st);
    if (rc) fail_msg("%s", st.msg);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.labels[0], label_of(SM_CIFAR_TRAIN_FILES, 0));
    assert_int_equal(ds.labels[1], label_of(SM_CIFAR_TRAIN_FILES, 1));
    for (size_t r = 0; r < 2; r++)
        for (size_t j = 0; j < SM_CIFAR_IMAGE; j++)
            assert_int_equal(ds.pixels[r * SM_CIFAR_IMAGE + j], pixel_of(SM_CIFAR_TRAIN_FILES, r, j));
    sm_dataset_free(&ds);
}

/* ---- bad input --------------------------------------------------------------- */

static void test_size_not_a_multiple_of_the_record(void **state)
{
    (void)state;
    const char *dir = write_cifar_dir("cifar_badsize");
    const char *bad = sm_test_join(dir, "data_batch_2.bin");
    uint8_t junk[3000] = {0};
    sm_test_write(bad, junk, sizeof junk);
    expect_train_error(dir, "file size 3000 is not a positive multiple of the 3073-byte record", bad);
    write_batch(bad, 1, 0); /* empty */
    expect_train_error(dir, "file size 0 is not a positive multiple", bad);
    /* One byte too many. */
    write_batch(bad, 1, 2);
    FILE *f = fopen(bad, "ab");
    assert_non_null(f);
    fputc(0, f);
    fclose(f);
    expect_train_error(dir, "file size 6147 is not", bad);
}

static void test_label_out_of_range(void **state)
{
    (void)state;
    const char *dir = write_cifar_dir("cifar_badlabel");
    const char *bad = sm_test_join(dir, "data_batch_4.bin");
    size_t n;
    uint8_t *b = (uint8_t *)sm_test_read(bad, &n);
    assert_non_null(b);
    assert_int_equal(n, 4 * SM_CIFAR_RECORD);
    b[2 * SM_CIFAR_RECORD] = 12; /* record 2's label */
    sm_test_write(bad, b, n);
    expect_train_error(dir, "label 12 of record 2 is not a class 0..9", bad);
    b[2 * SM_CIFAR_RECORD] = 10; /* the first invalid label */
    sm_test_write(bad, b, n);
    expect_train_error(dir, "label 10 of record 2", bad);
    free(b);
}

static void test_missing_file_is_named(void **state)
{
    (void)state;
    const char *dir = write_cifar_dir("cifar_missing");
    const char *gone = sm_test_join(dir, "data_batch_3.bin");
    assert_int_equal(unlink(gone), 0);
    expect_train_error(dir, "data file not found", gone);
    const char *test = sm_test_join(dir, "test_batch.bin");
    assert_int_equal(unlink(test), 0);
    sm_status st;
    sm_dataset ds;
    assert_fails(sm_cifar_load_split(dir, SM_SPLIT_TEST, &ds, &st), &st, SM_ERR_DATA, "data file not found", test);
}

static void test_missing_directory(void **state)
{
    (void)state;
    const char *dir = sm_test_path("cifar_no_such_dir");
    expect_train_error(dir, "data directory not found", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_concatenates_five_batches),
        cmocka_unit_test(test_test_split_reads_test_batch),
        cmocka_unit_test(test_size_not_a_multiple_of_the_record),
        cmocka_unit_test(test_label_out_of_range),
        cmocka_unit_test(test_missing_file_is_named),
        cmocka_unit_test(test_missing_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
