/* Tests for src/io/npy.c: round trips, hand-built headers, every rejection,
 * and interchange with numpy itself when /usr/bin/python3 has it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/status.h"
#include "io/npy.h"
#include "support/support.h"

/* Write magic, version, header length, dict padded numpy-style, then data.
 * Data bytes are host order: the tests assume a little-endian host (x86-64, arm64). */
static void write_raw_npy(const char *path, int major, int minor, const char *dict, const void *data,
                          size_t nbytes)
{
    size_t len_bytes = major == 1 ? 2 : 4, dl = strlen(dict), pre = 8 + len_bytes;
    size_t pad = (64 - (pre + dl + 1) % 64) % 64, hlen = dl + pad + 1;
    size_t total = pre + hlen + nbytes;
    unsigned char *buf = malloc(total);
    assert_non_null(buf);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = (unsigned char)minor;
    for (size_t k = 0; k < len_bytes; k++) buf[8 + k] = (unsigned char)(hlen >> (8 * k));
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', pad);
    buf[pre + hlen - 1] = '\n';
    if (nbytes) memcpy(buf + pre + hlen, data, nbytes);
    sm_test_write(path, buf, total);
    free(buf);
}

#define WRITE_LITERAL(path, lit) sm_test_write(path, lit, sizeof lit - 1)

/* Both readers must fail with SM_ERR_DATA, a zeroed output and a message
 * holding the path and word. */
static void expect_reject(const char *path, const char *word)
{
    sm_status st;
    sm_status_clear(&st);
    static double dummy;
    double *x = &dummy;
    size_t n = 7, d = 7;
    assert_int_equal(sm_npy_read(path, &x, &n, &d, &st), SM_ERR_DATA);
    assert_int_equal(st.code, SM_ERR_DATA);
    assert_null(x);
    assert_true(n == 0 && d == 0);
    if (!strstr(st.msg, path) || !strstr(st.msg, word))
        fail_msg("message \"%s\" lacks the path or \"%s\"", st.msg, word);
    char first[sizeof st.msg];
    snprintf(first, sizeof first, "%s", st.msg);
    static float dummyf;
    float *xf = &dummyf;
    assert_int_equal(sm_npy_read_f32(path, &xf, &n, &d, &st), SM_ERR_DATA);
    assert_null(xf);
    assert_string_equal(st.msg, first);
}

static void test_roundtrip_f64_2d_and_f32_reader(void **state)
{
    (void)state;
    const char *p = sm_test_path("npy_rt64.npy");
    double x[15];
    for (int i = 0; i < 15; i++) x[i] = (i - 7) / 3.0;
    x[4] = -0.0;
    x[5] = 1e-310; /* subnormal */
    sm_status st;
    const sm_npy_array a = {x, SM_NPY_F64, 5, 3, 2};
    assert_int_equal(sm_npy_write(p, &a, SM_NPY_F64, &st), SM_OK);
    double *y;
    size_t n, d;
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    assert_true(n == 5 && d == 3);
    assert_memory_equal(x, y, sizeof x); /* bit-exact, sign of zero included */
    assert_true(((uintptr_t)y % 64) == 0);
    sm_mem_free(y);
    float *yf;
    assert_int_equal(sm_npy_read_f32(p, &yf, &n, &d, &st), SM_OK);
    assert_true(n == 5 && d == 3);
    for (int i = 0; i < 15; i++) assert_true(yf[i] == (float)x[i]);
    sm_mem_free(yf);
}

static void test_roundtrip_f32_1d_from_doubles(void **state)
{
    (void)state;
    const char *p = sm_test_path("npy_rt32.npy");
    double x[4] = {0.1, -2.5, 1e30, 3.0};
    sm_status st;
    const sm_npy_array a = {x, SM_NPY_F64, 4, 1, 1};
    assert_int_equal(sm_npy_write(p, &a, SM_NPY_F32, &st), SM_OK);
    double *y;
    size_t n, d;
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    assert_true(n == 4 && d == 1);
    for (int i = 0; i < 4; i++) assert_true(y[i] == (double)(float)x[i]);
    assert_true(y[0] != 0.1); /* really went through float32 */
    sm_mem_free(y);
    size_t len;
    char *raw = sm_test_read(p, &len);
    size_t hlen = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    assert_int_equal(len, 10 + hlen + 4 * 4);
    assert_non_null(strstr(raw + 10, "'descr': '<f4'"));
    assert_non_null(strstr(raw + 10, "'shape': (4,)"));
    free(raw);
}

static void test_roundtrip_float_source(void **state)
{
    (void)state;
    const char *p32 = sm_test_path("npy_fs32.npy"), *p64 = sm_test_path("npy_fs64.npy");
    float x[6] = {1.5f, -0.25f, 3.4e38f, 1e-45f, 7.0f, -8.125f};
    sm_status st;
    const sm_npy_array a = {x, SM_NPY_F32, 2, 3, 2};
    assert_int_equal(sm_npy_write(p32, &a, SM_NPY_F32, &st), SM_OK);
    assert_int_equal(sm_npy_write(p64, &a, SM_NPY_F64, &st), SM_OK);
    const char *paths[2] = {p32, p64};
    for (int k = 0; k < 2; k++) {
        float *y;
        size_t n, d;
        assert_int_equal(sm_npy_read_f32(paths[k], &y, &n, &d, &st), SM_OK);
        assert_true(n == 2 && d == 3);
        assert_memory_equal(x, y, sizeof x);
        sm_mem_free(y);
    }
}

/* numpy's layout: version 1.0, header ends in '\n', data 64-byte aligned,
 * for headers of many lengths (shapes with zero columns need no data). */
static void test_written_header_is_aligned(void **state)
{
    (void)state;
    sm_status st;
    static const double x[21];
    const size_t shapes[][2] = {{1, 1}, {7, 3}, {0, 4}, {123456789, 0}, {1000000000000000000, 0},
                                {SIZE_MAX, 0}};
    const char *p = sm_test_path("npy_align.npy");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const sm_npy_array a = {x, SM_NPY_F64, shapes[s][0], shapes[s][1], 2};
        assert_int_equal(sm_npy_write(p, &a, SM_NPY_F64, &st), SM_OK);
        size_t len;
        unsigned char *raw = (unsigned char *)sm_test_read(p, &len);
        assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
        size_t hlen = raw[8] | (size_t)raw[9] << 8;
        assert_int_equal((10 + hlen) % 64, 0);
        assert_int_equal(raw[10 + hlen - 1], '\n');
        assert_int_equal(len, 10 + hlen + 8 * shapes[s][0] * shapes[s][1]);
        char want[96];
        snprintf(want, sizeof want, "{'descr': '<f8', 'fortran_order': False, 'shape': (%zu, %zu), }",
                 shapes[s][0], shapes[s][1]);
        assert_memory_equal(raw + 10, want, strlen(want));
        free(raw);
        double *y;
        size_t n, d;
        assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
        assert_true(n == shapes[s][0] && d == shapes[s][1]);
        sm_mem_free(y);
    }
}

static void test_reader_keeps_empty_and_nonfinite(void **state)
{
    (void)state;
    const char *p = sm_test_path("npy_special.npy");
    double x[3] = {NAN, INFINITY, -INFINITY};
    write_raw_npy(p, 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", x, sizeof x);
    double *y;
    size_t n, d;
    sm_status st;
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    assert_true(isnan(y[0]) && y[1] == INFINITY && y[2] == -INFINITY);
    sm_mem_free(y);
    write_raw_npy(p, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", NULL, 0);
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    assert_true(n == 0 && d == 4);
    sm_mem_free(y);
}

/* Fortran order (NumPy's np.save of a transposed or column-sliced array):
 * the file holds the columns one after the other; read row-major.  A value
 * beyond float32 is named by its row and column, not its place in the file. */
static void test_fortran_order(void **state)
{
    (void)state;
    const double cols[6] = {1, 2, 3, 10, 20, 30}; /* columns (1 2 3) and (10 20 30) */
    const double rows[6] = {1, 10, 2, 20, 3, 30};
    const char *p = sm_test_path("npy_fortran.npy");
    for (int major = 1; major <= 3; major++) {
        write_raw_npy(p, major, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }", cols, sizeof cols);
        double *y;
        size_t n, d;
        sm_status st;
        if (sm_npy_read(p, &y, &n, &d, &st)) fail_msg("%s", st.msg);
        assert_true(n == 3 && d == 2);
        assert_memory_equal(y, rows, sizeof rows);
        sm_mem_free(y);
    }
    /* one column or one row: the same bytes either way */
    write_raw_npy(p, 1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 6), }", cols, sizeof cols);
    double *y;
    size_t n, d;
    sm_status st;
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    assert_true(n == 1 && d == 6);
    assert_memory_equal(y, cols, sizeof cols);
    sm_mem_free(y);
    const double big[6] = {1, 2, 3, 10, 1e300, 30}; /* file value 4: row 2, column 2 */
    write_raw_npy(p, 1, 0, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }", big, sizeof big);
    float *yf;
    assert_int_equal(sm_npy_read_f32(p, &yf, &n, &d, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "value 1e+300 at row 2, column 2 does not fit in float32"));
}

/* Hand-built headers in every accepted version and spelling. */
static void test_hand_built_headers(void **state)
{
    (void)state;
    static const struct {
        int major;
        const char *dict;
        size_t n, d;
    } cases[] = {
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 2, 3},
        {2, "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }", 6, 1},
        {3, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 3, 2},
        {1, "{ \"shape\" :( 3 ,2 , ) ,\n'fortran_order':False , 'descr' : \"<f8\"}", 3, 2},
        {1, "{'fortran_order': False, 'shape': (6L,), 'descr': '<f8'}", 6, 1}, /* Python 2 longs */
    };
    const double x[6] = {1, -2, 3.5, 1e-3, 5e10, -0.125};
    const char *p = sm_test_path("npy_hand.npy");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_raw_npy(p, cases[c].major, 0, cases[c].dict, x, sizeof x);
        double *y;
        size_t n, d;
        sm_status st;
        sm_status_clear(&st);
        if (sm_npy_read(p, &y, &n, &d, &st)) fail_msg("case %zu: %s", c, st.msg);
        assert_true(n == cases[c].n && d == cases[c].d);
        assert_memory_equal(x, y, sizeof x);
        sm_mem_free(y);
    }
    float xf[4] = {0.5f, -1.25f, 2.0f, 1e-3f};
    write_raw_npy(p, 1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", xf, sizeof xf);
    double *y;
    size_t n, d;
    sm_status st;
    assert_int_equal(sm_npy_read(p, &y, &n, &d, &st), SM_OK);
    for (int i = 0; i < 4; i++) assert_true(y[i] == (double)xf[i]);
    sm_mem_free(y);
}

static void test_rejects_bad_headers_and_shapes(void **state)
{
    (void)state;
    static const struct {
        int major, minor;
        const char *dict;
        size_t data_bytes;
        const char *word;
    } cases[] = {
        {9, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "version 9.0"},
        {1, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, "version 1.1"},
        {1, 0, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", 16, "big-endian"},
        {1, 0, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8, "dtype '<i4'"},
        {1, 0, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32, "dtype '<c16'"},
        {1, 0, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4, "dtype '<f2'"},
        {1, 0, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "dtype '|O'"},
        {1, 0, "{'descr': 'f8', 'fortran_order': False, 'shape': (2,), }", 16, "dtype 'f8'"},
        {1, 0, "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", 16, "structured"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2, 2), }", 64, "3 dimensions"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, "0 dimensions"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 0,
         "overflows"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952, 1), }", 0,
         "overflows"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 0,
         "overflows"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 3), }", 80, "truncated"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1), }", 8, "truncated"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 24, "trailing"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False}", 16, "missing key 'shape'"},
        {1, 0, "{'descr': '<f8', 'shape': (2,)}", 16, "missing key 'fortran_order'"},
        {1, 0, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", 16, "duplicate"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", 16, "unexpected key 'x'"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)", 48, "malformed"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2)}", 16, "not a tuple"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", 16, "not a tuple"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", 16, "malformed"},
        {1, 0, "{'descr': '<f8', 'fortran_order': 0, 'shape': (2,)}", 16, "True or False"},
        {1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", 16, "text after"},
        {1, 0, "{'descr': '<f8 'fortran_order': False, 'shape': (2,)}", 16, "malformed"},
        {1, 0, "", 16, "not a dict"},
    };
    const char *p = sm_test_path("npy_bad.npy");
    unsigned char zeros[96] = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        write_raw_npy(p, cases[c].major, cases[c].minor, cases[c].dict, zeros, cases[c].data_bytes);
        expect_reject(p, cases[c].word);
    }
    /* A NUL inside the header would end the parser's text before the junk
     * after it: "...}" NUL "junk" must be refused, not read as "...}". */
    write_raw_npy(p, 1, 0, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }@junk", zeros, 16);
    size_t n;
    char *bytes = sm_test_read(p, &n);
    char *at = memchr(bytes, '@', n);
    assert_non_null(at);
    *at = '\0';
    sm_test_write(p, bytes, n);
    free(bytes);
    expect_reject(p, "NUL byte");
}

static void test_rejects_bad_files(void **state)
{
    (void)state;
    const char *p = sm_test_path("npy_badfile.npy");
    WRITE_LITERAL(p, "\x93NUMPX\x01\x00\x10\x00{}");
    expect_reject(p, "bad magic");
    WRITE_LITERAL(p, "");
    expect_reject(p, "bad magic");
    WRITE_LITERAL(p, "x,y\n1,2\n");
    expect_reject(p, "bad magic");
    WRITE_LITERAL(p, "\x93NUMPY\x01");
    expect_reject(p, "truncated .npy header");
    WRITE_LITERAL(p, "\x93NUMPY\x02\x00\x10\x00");
    expect_reject(p, "truncated .npy header");
    /* Header length 5000 in a file of 30 bytes. */
    WRITE_LITERAL(p, "\x93NUMPY\x01\x00\x88\x13{'descr': '<f8', 'for");
    expect_reject(p, "header length 5000 runs past the end");
    /* Version 2.0 lengths are 32-bit: a hostile one is refused before reading. */
    WRITE_LITERAL(p, "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}");
    expect_reject(p, "exceeds");
    const char *missing = sm_test_path("npy_no_such_file.npy");
    remove(missing);
    expect_reject(missing, "cannot open");
    const char *dir = sm_test_path("npy_a_directory.npy");
    mkdir(dir, 0777);
    expect_reject(dir, "read error");
}

static void test_float32_range_errors(void **state)
{
    (void)state;
    const char *p = sm_test_path("npy_range.npy");
    remove(p);
    double x[4] = {1, 2, -1e300, 4};
    const sm_npy_array a = {x, SM_NPY_F64, 2, 2, 2};
    sm_status st;
    assert_int_equal(sm_npy_write(p, &a, SM_NPY_F32, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "row 2, column 1"));
    assert_non_null(strstr(st.msg, "float32"));
    assert_non_null(strstr(st.msg, p));
    struct stat sb;
    assert_int_not_equal(stat(p, &sb), 0); /* nothing written */
    assert_int_equal(sm_npy_write(p, &a, SM_NPY_F64, &st), SM_OK);
    float *y = (float *)x;
    size_t n = 1, d = 1;
    assert_int_equal(sm_npy_read_f32(p, &y, &n, &d, &st), SM_ERR_DATA);
    assert_null(y);
    assert_non_null(strstr(st.msg, "row 2, column 1"));
    assert_non_null(strstr(st.msg, p));
    double *yd;
    assert_int_equal(sm_npy_read(p, &yd, &n, &d, &st), SM_OK); /* doubles hold it */
    assert_true(yd[2] == -1e300);
    sm_mem_free(yd);
}

/* Run a python snippet; fail the test with its stderr if it fails. */
static void run_python(const char *code)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"%s\"", code);
    char *err = NULL;
    int rc = sm_test_run(cmd, NULL, &err);
    if (rc != 0) fail_msg("python failed (%d): %s", rc, err ? err : "");
    free(err);
}

static void test_numpy_writes_c_reads(void **state)
{
    (void)state;
    if (!sm_test_have_python("numpy")) skip();
    const char *p64 = sm_test_path("np_w64.npy"), *p32 = sm_test_path("np_w32.npy");
    const char *pf = sm_test_path("np_fortran.npy"), *pb = sm_test_path("np_big.npy");
    const char *pi = sm_test_path("np_int.npy");
    char code[2048];
    snprintf(code, sizeof code,
             "import numpy as np; "
             "a = (np.arange(12, dtype='<f8').reshape(4, 3) - 5) / 7; np.save('%s', a); "
             "np.save('%s', (np.arange(5, dtype=np.float32) - 2) / np.float32(7)); "
             "np.save('%s', np.asfortranarray(a)); np.save('%s', a.astype('>f8')); "
             "np.save('%s', np.arange(3))",
             p64, p32, pf, pb, pi);
    run_python(code);
    sm_status st;
    double *y;
    size_t n, d;
    assert_int_equal(sm_npy_read(p64, &y, &n, &d, &st), SM_OK);
    assert_true(n == 4 && d == 3);
    for (int i = 0; i < 12; i++) assert_true(y[i] == ((double)i - 5) / 7);
    sm_mem_free(y);
    float *yf;
    assert_int_equal(sm_npy_read_f32(p32, &yf, &n, &d, &st), SM_OK);
    assert_true(n == 5 && d == 1);
    for (int i = 0; i < 5; i++) assert_true(yf[i] == ((float)i - 2.0f) / 7.0f);
    sm_mem_free(yf);
    /* np.asfortranarray(a): the same matrix, its file in Fortran order */
    assert_int_equal(sm_npy_read(pf, &y, &n, &d, &st), SM_OK);
    assert_true(n == 4 && d == 3);
    for (int i = 0; i < 12; i++) assert_true(y[i] == ((double)i - 5) / 7);
    sm_mem_free(y);
    expect_reject(pb, "big-endian");
    expect_reject(pi, "dtype '<i8'");
}

static void test_c_writes_numpy_reads(void **state)
{
    (void)state;
    if (!sm_test_have_python("numpy")) skip();
    const char *p64 = sm_test_path("c_w64.npy"), *p32 = sm_test_path("c_w32.npy");
    double x[15], v[6];
    for (int i = 0; i < 15; i++) x[i] = i / 7.0 - 3;
    for (int i = 0; i < 6; i++) v[i] = i / 7.0;
    sm_status st;
    const sm_npy_array a = {x, SM_NPY_F64, 5, 3, 2}, b = {v, SM_NPY_F64, 6, 1, 1};
    assert_int_equal(sm_npy_write(p64, &a, SM_NPY_F64, &st), SM_OK);
    assert_int_equal(sm_npy_write(p32, &b, SM_NPY_F32, &st), SM_OK);
    char code[2048];
    snprintf(code, sizeof code,
             "import numpy as np; "
             "a = np.load('%s'); assert a.dtype == np.float64 and a.shape == (5, 3), (a.dtype, a.shape); "
             "assert np.array_equal(a, (np.arange(15.) / 7 - 3).reshape(5, 3)), a; "
             "b = np.load('%s', mmap_mode='r'); assert b.dtype == np.float32 and b.shape == (6,); "
             "assert np.array_equal(b, (np.arange(6.) / 7).astype(np.float32)), b",
             p64, p32);
    run_python(code);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_f64_2d_and_f32_reader),
        cmocka_unit_test(test_roundtrip_f32_1d_from_doubles),
        cmocka_unit_test(test_roundtrip_float_source),
        cmocka_unit_test(test_written_header_is_aligned),
        cmocka_unit_test(test_reader_keeps_empty_and_nonfinite),
        cmocka_unit_test(test_hand_built_headers),
        cmocka_unit_test(test_fortran_order),
        cmocka_unit_test(test_rejects_bad_headers_and_shapes),
        cmocka_unit_test(test_rejects_bad_files),
        cmocka_unit_test(test_float32_range_errors),
        cmocka_unit_test(test_numpy_writes_c_reads),
        cmocka_unit_test(test_c_writes_numpy_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
