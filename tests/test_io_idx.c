/* Tests for src/io/idx: the real Fashion-MNIST files, generated IDX files
 * (plain and gzip) and every kind of malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/idx.h"
#include "support/support.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ---- fixtures ------------------------------------------------------------ */

/* An IDX file in memory: 4-byte magic (0, 0, type, ndims), big-endian dims,
 * then ndata bytes with byte i = (i * 7 + 3) mod 256 (or all `fill` when
 * fill >= 0).  Caller frees. */
static uint8_t *make_idx(uint8_t type, uint8_t ndims, const uint32_t *dims, size_t ndata, int fill,
                         size_t *n)
{
    *n = 4 + 4 * (size_t)ndims + ndata;
    uint8_t *b = malloc(*n);
    assert_non_null(b);
    b[0] = 0;
    b[1] = 0;
    b[2] = type;
    b[3] = ndims;
    for (int d = 0; d < ndims; d++) {
        b[4 + 4 * d] = (uint8_t)(dims[d] >> 24);
        b[5 + 4 * d] = (uint8_t)(dims[d] >> 16);
        b[6 + 4 * d] = (uint8_t)(dims[d] >> 8);
        b[7 + 4 * d] = (uint8_t)dims[d];
    }
    uint8_t *data = b + 4 + 4 * ndims;
    for (size_t i = 0; i < ndata; i++) data[i] = fill >= 0 ? (uint8_t)fill : (uint8_t)((i * 7 + 3) & 0xff);
    return b;
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile gz = gzopen(path, "wb1");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* Images file of n × rows × cols with the default pattern, gzip or plain. */
static void write_images(const char *path, uint32_t n, uint32_t rows, uint32_t cols, int gz)
{
    uint32_t dims[3] = {n, rows, cols};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, (size_t)n * rows * cols, -1, &len);
    if (gz) write_gz(path, b, len);
    else sm_test_write(path, b, len);
    free(b);
}

/* Labels file with the given values. */
static void write_labels(const char *path, const uint8_t *labels, uint32_t n, int gz)
{
    size_t len;
    uint8_t *b = make_idx(0x08, 1, &n, n, 0, &len);
    memcpy(b + 8, labels, n);
    if (gz) write_gz(path, b, len);
    else sm_test_write(path, b, len);
    free(b);
}

/* Expect a failure with `code` whose message contains `what` and names `where`. */
static void assert_fails(int rc, const sm_status *st, int code, const char *what, const char *where)
{
    if (rc != code || !strstr(st->msg, what) || !strstr(st->msg, where))
        fail_msg("got rc %d, message \"%s\"; wanted rc %d with \"%s\" and \"%s\"", rc, st->msg, code, what, where);
}

static void expect_images_error(const char *name, const uint8_t *bytes, size_t n, int gz, const char *what)
{
    const char *path = sm_test_path(name);
    if (gz) write_gz(path, bytes, n);
    else sm_test_write(path, bytes, n);
    sm_status st;
    sm_status_clear(&st);
    sm_idx_images im;
    assert_fails(sm_idx_read_images(path, &im, &st), &st, SM_ERR_DATA, what, path);
    assert_null(im.pixels);
    assert_int_equal(im.n, 0);
}

/* ---- the real data set --------------------------------------------------- */

static int have_fashion(void)
{
    struct stat sb;
    return stat(FASHION_DIR, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Known facts, checked independently with Python's gzip module: label counts
 * are 6000 (train) / 1000 (t10k) per class; first labels, the sum of all
 * pixels, of the first image's pixels and the first image's centre pixel. */
static void check_fashion_split(const char *split, size_t n, const uint8_t *first10, uint64_t pixel_sum,
                                uint64_t first_image_sum, uint8_t first_centre)
{
    if (!have_fashion()) {
        print_message("SKIP: %s not installed (Debian package fashion-mnist)\n", FASHION_DIR);
        skip();
    }
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    int rc = sm_idx_load_split(FASHION_DIR, split, &ds, &st);
    if (rc) fail_msg("%s", st.msg);
    assert_int_equal(ds.images.n, n);
    assert_int_equal(ds.labels.n, n);
    assert_int_equal(ds.images.rows, 28);
    assert_int_equal(ds.images.cols, 28);
    size_t count[SM_IDX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++) count[ds.labels.labels[i]]++;
    for (int c = 0; c < SM_IDX_CLASSES; c++) assert_int_equal(count[c], n / SM_IDX_CLASSES);
    assert_memory_equal(ds.labels.labels, first10, 10);
    uint64_t sum = 0, first = 0;
    for (size_t i = 0; i < n * 784; i++) sum += ds.images.pixels[i];
    for (size_t i = 0; i < 784; i++) first += ds.images.pixels[i];
    assert_true(sum == pixel_sum);
    assert_true(first == first_image_sum);
    assert_int_equal(ds.images.pixels[14 * 28 + 14], first_centre);
    sm_idx_dataset_free(&ds);
    assert_null(ds.images.pixels);
    assert_null(ds.labels.labels);
}

static void test_fashion_mnist_train(void **state)
{
    (void)state;
    /* Label 9 is "Ankle boot", 0 "T-shirt/top". */
    static const uint8_t first10[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    check_fashion_split("train", 60000, first10, 3431114169u, 76247, 217);
}

static void test_fashion_mnist_t10k(void **state)
{
    (void)state;
    static const uint8_t first10[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    check_fashion_split("t10k", 10000, first10, 573469082u, 33456, 110);
}

/* ---- generated files: good ----------------------------------------------- */

static void check_images(const char *path, uint32_t n, uint32_t rows, uint32_t cols)
{
    sm_status st;
    sm_status_clear(&st);
    sm_idx_images im;
    int rc = sm_idx_read_images(path, &im, &st);
    if (rc) fail_msg("%s", st.msg);
    assert_int_equal(im.n, n);
    assert_int_equal(im.rows, rows);
    assert_int_equal(im.cols, cols);
    size_t total = (size_t)n * rows * cols, wrong = 0;
    for (size_t i = 0; i < total; i++) wrong += im.pixels[i] != (uint8_t)((i * 7 + 3) & 0xff);
    assert_int_equal(wrong, 0);
    sm_idx_images_free(&im);
    assert_null(im.pixels);
}

static void test_read_images_plain_and_gzip(void **state)
{
    (void)state;
    write_images(sm_test_path("img_plain.idx"), 3, 2, 5, 0);
    check_images(sm_test_path("img_plain.idx"), 3, 2, 5);
    write_images(sm_test_path("img.idx.gz"), 3, 2, 5, 1);
    check_images(sm_test_path("img.idx.gz"), 3, 2, 5);
}

/* More than the reader's first 16 MiB buffer: the data arrive across
 * several buffer growths and gzread calls. */
static void test_read_images_larger_than_first_buffer(void **state)
{
    (void)state;
    uint32_t n = sm_test_slow() ? 260 : 400;
    write_images(sm_test_path("img_big.idx.gz"), n, 256, 256, 1);
    check_images(sm_test_path("img_big.idx.gz"), n, 256, 256);
}

static void test_read_labels(void **state)
{
    (void)state;
    const uint8_t values[5] = {0, 9, 3, 200, 7}; /* any byte is a valid IDX label */
    const char *path = sm_test_path("lab.idx.gz");
    write_labels(path, values, 5, 1);
    sm_status st;
    sm_status_clear(&st);
    sm_idx_labels lb;
    assert_int_equal(sm_idx_read_labels(path, &lb, &st), SM_OK);
    assert_int_equal(lb.n, 5);
    assert_memory_equal(lb.labels, values, 5);
    sm_idx_labels_free(&lb);
    assert_null(lb.labels);
    assert_int_equal(lb.n, 0);
}

/* ---- generated files: malformed ------------------------------------------ */

static void test_bad_magic(void **state)
{
    (void)state;
    const uint32_t dims[3] = {1, 2, 2};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, 4, -1, &n);
    b[0] = 0x12;
    expect_images_error("bad_magic.gz", b, n, 1, "not an IDX file: magic 0x12000803, expected 0x00000803");
    expect_images_error("bad_magic", b, n, 0, "not an IDX file");
    free(b);
}

static void test_wrong_data_type(void **state)
{
    (void)state;
    const uint32_t dims[3] = {1, 2, 2};
    size_t n;
    uint8_t *b = make_idx(0x0D, 3, dims, 16, -1, &n); /* 0x0D = float */
    expect_images_error("float.gz", b, n, 1, "unsupported IDX data type 0x0d");
    free(b);
}

static void test_wrong_ndims(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    /* A labels file read as images, and an images file read as labels. */
    const char *lpath = sm_test_path("as_images.gz");
    const uint8_t values[3] = {1, 2, 3};
    write_labels(lpath, values, 3, 1);
    sm_idx_images im;
    assert_fails(sm_idx_read_images(lpath, &im, &st), &st, SM_ERR_DATA, "IDX file has 1 dimensions, images need 3",
                 lpath);
    const char *ipath = sm_test_path("as_labels.gz");
    write_images(ipath, 2, 2, 2, 1);
    sm_idx_labels lb;
    assert_fails(sm_idx_read_labels(ipath, &lb, &st), &st, SM_ERR_DATA, "IDX file has 3 dimensions, labels need 1",
                 ipath);
    assert_null(lb.labels);
}

static void test_truncated(void **state)
{
    (void)state;
    const uint32_t dims[3] = {3, 2, 2};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, 12, -1, &n);
    expect_images_error("short_data.gz", b, n - 1, 1, "truncated IDX data: 11 of 12 bytes");
    expect_images_error("short_data", b, n - 1, 0, "truncated IDX data: 11 of 12 bytes");
    expect_images_error("no_data", b, 16, 0, "truncated IDX data: 0 of 12 bytes");
    expect_images_error("short_header.gz", b, 10, 1, "truncated IDX header");
    expect_images_error("three_bytes", b, 3, 0, "not an IDX file: only 3 bytes");
    expect_images_error("empty", b, 0, 0, "not an IDX file: only 0 bytes");
    expect_images_error("empty.gz", b, 0, 1, "not an IDX file: only 0 bytes");
    free(b);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    const uint32_t dims[3] = {3, 2, 2};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, 12 + 5000, -1, &n); /* 5000 > the reader's scratch buffer */
    expect_images_error("trailing.gz", b, n, 1, "5000 trailing bytes after the 12 bytes of IDX data");
    expect_images_error("trailing", b, n - 4997, 0, "3 trailing bytes after the 12 bytes of IDX data");
    free(b);
}

static void test_zero_and_overflowing_dims(void **state)
{
    (void)state;
    size_t n;
    const uint32_t zero[3] = {4, 0, 2};
    uint8_t *b = make_idx(0x08, 3, zero, 0, -1, &n);
    expect_images_error("zero_dim.gz", b, n, 1, "IDX dimension 1 is zero");
    free(b);
    /* (2^32 - 1)^3 does not fit in 64 bits. */
    const uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    b = make_idx(0x08, 3, huge, 16, -1, &n);
    expect_images_error("overflow.gz", b, n, 1, "IDX dimensions overflow");
    free(b);
}

/* A header claiming 3.4 TB over 16 real bytes: reported as truncation, and
 * (under ASan/valgrind, which would flag it) without allocating the claim. */
static void test_lying_header_is_truncation(void **state)
{
    (void)state;
    const uint32_t dims[3] = {0xffffffffu, 28, 28};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, 16, -1, &n);
    expect_images_error("lying.gz", b, n, 1, "truncated IDX data: 16 of 3367254359280 bytes");
    free(b);
}

static void test_garbage_not_gzip_nor_idx(void **state)
{
    (void)state;
    const char *text = "This is a README, not a data set.\n";
    expect_images_error("garbage.txt", (const uint8_t *)text, strlen(text), 0,
                        "not an IDX file: magic 0x54686973, expected 0x00000803");
}

/* Compressible data large enough for a real deflate body, gzipped. */
static uint8_t *gz_fixture(const char *path, size_t *n)
{
    write_images(path, 20, 64, 64, 1);
    uint8_t *gz = (uint8_t *)sm_test_read(path, n);
    assert_non_null(gz);
    assert_true(*n > 100);
    return gz;
}

static void test_corrupt_gzip_body(void **state)
{
    (void)state;
    size_t n;
    uint8_t *gz = gz_fixture(sm_test_path("body.gz"), &n);
    /* The gzip header is 10 bytes and the trailer 8: flip bytes in between.
     * (zlib 1.2.13 says "invalid distance too far back"; the wording depends
     * on the deflate output, so only the prefix is checked.) */
    for (size_t i = n / 2; i < n / 2 + 4; i++) gz[i] ^= 0x5a;
    expect_images_error("body_flipped.gz", gz, n, 0, "corrupt gzip data: ");
    free(gz);
}

static void test_corrupt_gzip_crc(void **state)
{
    (void)state;
    size_t n;
    uint8_t *gz = gz_fixture(sm_test_path("crc.gz"), &n);
    gz[n - 8] ^= 0xff; /* first byte of the CRC-32 in the trailer */
    expect_images_error("crc_flipped.gz", gz, n, 0, "corrupt gzip data: incorrect data check");
    free(gz);
}

static void test_gzip_cut_short(void **state)
{
    (void)state;
    size_t n;
    uint8_t *gz = gz_fixture(sm_test_path("cut.gz"), &n);
    expect_images_error("cut_short.gz", gz, n / 2, 0, "corrupt gzip data: unexpected end of file");
    free(gz);
}

/* The gzip file of `bytes` (n) followed by `extra` raw bytes. */
static void write_gz_then(const char *path, const uint8_t *bytes, size_t n, const void *extra, size_t n_extra)
{
    write_gz(path, bytes, n);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(extra, 1, n_extra, f), n_extra);
    assert_int_equal(fclose(f), 0);
}

/* zlib's gzread silently drops what follows the end of a gzip stream: the
 * reader must refuse it (junk, a byte, a second IDX file appended as is),
 * and still read a file of several gzip members, which gzip(1) itself
 * reads as one stream. */
static void test_bytes_after_the_gzip_stream(void **state)
{
    (void)state;
    const uint32_t dims[3] = {3, 2, 2};
    size_t n;
    uint8_t *b = make_idx(0x08, 3, dims, 12, -1, &n);
    const char *path = sm_test_path("after_gzip.gz");
    const struct {
        const void *extra;
        size_t n;
    } cases[] = {{"JUNK after the data\n", 20}, {"\x1f", 1}, {b, n}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        write_gz_then(path, b, n, cases[c].extra, cases[c].n);
        sm_status st;
        sm_status_clear(&st);
        sm_idx_images im;
        assert_fails(sm_idx_read_images(path, &im, &st), &st, SM_ERR_DATA, "trailing data after the gzip stream",
                     path);
        assert_null(im.pixels);
    }
    const char *tail = sm_test_path("after_gzip_tail.gz");
    write_gz(tail, b + 10, n - 10);
    size_t tail_len;
    char *second = sm_test_read(tail, &tail_len);
    assert_non_null(second);
    write_gz_then(path, b, 10, second, tail_len);
    check_images(path, 3, 2, 2);
    free(second);
    free(b);
}

static void test_missing_file(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    const char *path = sm_test_path("no_such_file.gz");
    sm_idx_images im;
    assert_fails(sm_idx_read_images(path, &im, &st), &st, SM_ERR_DATA, "cannot open file: No such file or directory",
                 path);
}

/* ---- splits -------------------------------------------------------------- */

static const uint8_t SPLIT_LABELS[4] = {9, 0, 3, 9};

/* dir/<split>-{images,labels}-idx{3,1}-ubyte[.gz] with 4 images of 3 × 2. */
static void write_split(const char *dir, const char *split, int gz, const uint8_t *labels, uint32_t nlabels)
{
    char name[256];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", split, gz ? ".gz" : "");
    write_images(sm_test_join(dir, name), 4, 3, 2, gz);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", split, gz ? ".gz" : "");
    write_labels(sm_test_join(dir, name), labels, nlabels, gz);
}

static void check_loaded_split(const char *dir, const char *split)
{
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    int rc = sm_idx_load_split(dir, split, &ds, &st);
    if (rc) fail_msg("%s", st.msg);
    assert_int_equal(ds.images.n, 4);
    assert_int_equal(ds.images.rows, 3);
    assert_int_equal(ds.images.cols, 2);
    assert_int_equal(ds.images.pixels[23], (23 * 7 + 3) & 0xff);
    assert_int_equal(ds.labels.n, 4);
    assert_memory_equal(ds.labels.labels, SPLIT_LABELS, 4);
    sm_idx_dataset_free(&ds);
}

static void test_split_gzip_and_plain_names(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("split_ok");
    write_split(dir, "train", 1, SPLIT_LABELS, 4);
    write_split(dir, "t10k", 0, SPLIT_LABELS, 4);
    check_loaded_split(dir, "train");
    check_loaded_split(dir, "t10k");
}

static void test_split_missing_directory_and_files(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    const char *missing = sm_test_path("no_such_dir");
    assert_int_equal(sm_idx_load_split(missing, "train", &ds, &st), SM_ERR_DATA);
    char want[2048];
    snprintf(want, sizeof want, "data directory not found (%s)", missing);
    assert_string_equal(st.msg, want);

    const char *dir = sm_test_dir("split_no_labels");
    write_images(sm_test_join(dir, "train-images-idx3-ubyte.gz"), 4, 3, 2, 1);
    assert_fails(sm_idx_load_split(dir, "train", &ds, &st), &st, SM_ERR_DATA, "data file not found",
                 sm_test_join(dir, "train-labels-idx1-ubyte.gz"));
    assert_null(ds.images.pixels);
    assert_fails(sm_idx_load_split(dir, "t10k", &ds, &st), &st, SM_ERR_DATA, "data file not found",
                 sm_test_join(dir, "t10k-images-idx3-ubyte.gz"));
}

static void test_split_bad_name(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    assert_fails(sm_idx_load_split(FASHION_DIR, "test", &ds, &st), &st, SM_ERR_USAGE,
                 "unknown split 'test' (expected train or t10k)", "");
}

static void test_split_count_mismatch(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("split_mismatch");
    write_split(dir, "train", 1, SPLIT_LABELS, 3);
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    const char *images = sm_test_join(dir, "train-images-idx3-ubyte.gz"), *labels = sm_test_join(dir, "train-labels-idx1-ubyte.gz");
    int rc = sm_idx_load_split(dir, "train", &ds, &st);
    assert_fails(rc, &st, SM_ERR_DATA, "3 labels but 4 images in ", labels);
    assert_non_null(strstr(st.msg, images));
    assert_null(ds.images.pixels);
    assert_null(ds.labels.labels);
}

static void test_split_label_out_of_range(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("split_label11");
    const uint8_t bad[4] = {9, 0, 11, 9};
    write_split(dir, "train", 1, bad, 4);
    sm_status st;
    sm_status_clear(&st);
    sm_idx_dataset ds;
    assert_fails(sm_idx_load_split(dir, "train", &ds, &st), &st, SM_ERR_DATA, "label 11 of sample 2 is not a class 0..9",
                 sm_test_join(dir, "train-labels-idx1-ubyte.gz"));
    assert_null(ds.labels.labels);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist_train),
        cmocka_unit_test(test_fashion_mnist_t10k),
        cmocka_unit_test(test_read_images_plain_and_gzip),
        cmocka_unit_test(test_read_images_larger_than_first_buffer),
        cmocka_unit_test(test_read_labels),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_wrong_data_type),
        cmocka_unit_test(test_wrong_ndims),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_zero_and_overflowing_dims),
        cmocka_unit_test(test_lying_header_is_truncation),
        cmocka_unit_test(test_garbage_not_gzip_nor_idx),
        cmocka_unit_test(test_corrupt_gzip_body),
        cmocka_unit_test(test_bytes_after_the_gzip_stream),
        cmocka_unit_test(test_corrupt_gzip_crc),
        cmocka_unit_test(test_gzip_cut_short),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_split_gzip_and_plain_names),
        cmocka_unit_test(test_split_missing_directory_and_files),
        cmocka_unit_test(test_split_bad_name),
        cmocka_unit_test(test_split_count_mismatch),
        cmocka_unit_test(test_split_label_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
