/* Tests for src/io/matrix.c: format dispatch, NaN/Inf rejection, saving. */
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

#include "core/rng.h"
#include "core/status.h"
#include "io/matrix.h"
#include "io/npy.h"
#include "support/support.h"

static const double ref[6] = {1.5, -2, 3e-3, 4, 5.25, -6};

static void write_ref_npy(const char *path)
{
    sm_status st;
    const sm_npy_array a = {ref, SM_NPY_F64, 3, 2, 2};
    assert_int_equal(sm_npy_write(path, &a, SM_NPY_F64, &st), SM_OK);
}

static const char ref_csv[] = "a,b\n1.5,-2\n3e-3,4\n5.25,-6\n";

static void expect_ref(const char *path)
{
    sm_matrix m;
    sm_status st;
    sm_status_clear(&st);
    if (sm_matrix_load(path, &m, &st)) fail_msg("%s", st.msg);
    assert_true(m.n == 3 && m.d == 2);
    assert_memory_equal(m.data, ref, sizeof ref);
    sm_matrix_free(&m);
    assert_null(m.data);
    assert_true(m.n == 0 && m.d == 0);
}

/* Must fail with SM_ERR_DATA, a zeroed matrix and exactly "<what> (<path>)". */
static void expect_error(const char *path, const char *what)
{
    sm_matrix m = {(double *)ref, 9, 9};
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_matrix_load(path, &m, &st), SM_ERR_DATA);
    assert_int_equal(st.code, SM_ERR_DATA);
    assert_null(m.data);
    assert_true(m.n == 0 && m.d == 0);
    char want[1024];
    snprintf(want, sizeof want, "%s (%s)", what, path);
    assert_string_equal(st.msg, want);
}

static void test_dispatch_by_extension(void **state)
{
    (void)state;
    const char *npy = sm_test_path("m_ref.npy"), *upper = sm_test_path("m_ref.NPY");
    write_ref_npy(npy);
    write_ref_npy(upper);
    expect_ref(npy);
    expect_ref(upper);
    const char *text_names[] = {"m_ref.csv", "m_ref.txt", "m_ref.tsv", "m_ref.CSV"};
    for (size_t k = 0; k < sizeof text_names / sizeof text_names[0]; k++) {
        const char *p = sm_test_path(text_names[k]);
        sm_test_write_text(p, ref_csv);
        expect_ref(p);
    }
    const char *tsv = sm_test_path("m_tabs.tsv");
    sm_test_write_text(tsv, "1.5\t-2\n3e-3\t4\n5.25\t-6\n");
    expect_ref(tsv);
}

/* The extension wins over the content: a misnamed file is an error, not a guess. */
static void test_extension_beats_content(void **state)
{
    (void)state;
    const char *npy_named = sm_test_path("m_text.npy");
    sm_test_write_text(npy_named, ref_csv);
    expect_error(npy_named, "not a .npy file (bad magic)");
    const char *csv_named = sm_test_path("m_binary.csv");
    write_ref_npy(csv_named);
    sm_matrix m;
    sm_status st;
    assert_int_equal(sm_matrix_load(csv_named, &m, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "NUL byte"));
    assert_non_null(strstr(st.msg, csv_named));
}

static void test_unknown_extension_sniffs(void **state)
{
    (void)state;
    const char *a = sm_test_path("m_sniff_npy.dat"), *b = sm_test_path("m_sniff_text.dat");
    const char *c = sm_test_path("m_sniff_noext");
    write_ref_npy(a);
    sm_test_write_text(b, ref_csv);
    write_ref_npy(c);
    expect_ref(a);
    expect_ref(b);
    expect_ref(c);
    /* A dot in a directory name is not an extension. */
    const char *in_dir = sm_test_path("m.d");
    mkdir(in_dir, 0777);
    char path[1100];
    snprintf(path, sizeof path, "%s/plain", in_dir);
    write_ref_npy(path);
    expect_ref(path);
    /* Binary that is not .npy is told from its first bytes: an endless one
     * (/dev/zero) was read as one text line until memory ran out. */
    sm_matrix m;
    sm_status st;
    assert_int_equal(sm_matrix_load("/dev/zero", &m, &st), SM_ERR_DATA);
    assert_string_equal(st.msg, "NUL byte in a text file (binary data?) (/dev/zero)");
    assert_null(m.data);
}

static void test_nonfinite_npy_rejected_with_position(void **state)
{
    (void)state;
    const char *p = sm_test_path("m_nan.npy");
    double x[12];
    for (int i = 0; i < 12; i++) x[i] = i;
    const struct {
        size_t at;
        double v;
        const char *what;
    } cases[] = {
        {9, NAN, "NaN at row 5, column 2"},
        {0, INFINITY, "Inf at row 1, column 1"},
        {11, -INFINITY, "-Inf at row 6, column 2"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double y[12];
        memcpy(y, x, sizeof y);
        y[cases[c].at] = cases[c].v;
        const sm_npy_array a = {y, SM_NPY_F64, 6, 2, 2};
        sm_status st;
        assert_int_equal(sm_npy_write(p, &a, c == 0 ? SM_NPY_F32 : SM_NPY_F64, &st), SM_OK);
        expect_error(p, cases[c].what);
    }
}

static void test_nonfinite_csv_rejected_with_position(void **state)
{
    (void)state;
    const char *p = sm_test_path("m_nan.csv");
    sm_test_write_text(p, "x,y\n1,2\nnan,3\n");
    expect_error(p, "NaN at row 2, column 1");
    sm_test_write_text(p, "1 2 3\n4 5 6\n7 8 inf\n");
    expect_error(p, "Inf at row 3, column 3");
    sm_test_write_text(p, "1,-1e999\n");
    expect_error(p, "-Inf at row 1, column 2");
}

static void test_missing_and_empty(void **state)
{
    (void)state;
    const char *names[] = {"m_missing.npy", "m_missing.csv", "m_missing.bin"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *p = sm_test_path(names[k]);
        remove(p);
        expect_error(p, "cannot open file: No such file or directory");
    }
    const char *e = sm_test_path("m_empty.npy");
    const sm_npy_array a = {ref, SM_NPY_F64, 0, 2, 2};
    sm_status st;
    assert_int_equal(sm_npy_write(e, &a, SM_NPY_F64, &st), SM_OK);
    expect_error(e, "array is empty (0 x 2)");
    const sm_npy_array b = {ref, SM_NPY_F64, 4, 0, 2};
    assert_int_equal(sm_npy_write(e, &b, SM_NPY_F64, &st), SM_OK);
    expect_error(e, "array is empty (4 x 0)");
}

static void test_save_npy_round_trip(void **state)
{
    (void)state;
    const char *p64 = sm_test_path("m_save64.npy"), *p32 = sm_test_path("m_save32.npy");
    const sm_matrix m = {(double *)ref, 3, 2};
    sm_status st;
    assert_int_equal(sm_matrix_save_npy(p64, &m, 0, &st), SM_OK);
    assert_int_equal(sm_matrix_save_npy(p32, &m, 1, &st), SM_OK);
    expect_ref(p64);
    sm_matrix r;
    assert_int_equal(sm_matrix_load(p32, &r, &st), SM_OK);
    assert_true(r.n == 3 && r.d == 2);
    for (int i = 0; i < 6; i++) assert_true(r.data[i] == (double)(float)ref[i]);
    assert_true(r.data[2] != ref[2]); /* 3e-3 is not a float: the file really is float32 */
    sm_matrix_free(&r);
    sm_matrix_free(&r); /* safe twice */
}

/* "n" and "value" of the JSON line that the shell command cmd (a gauss
 * entropy run) prints. */
static void entropy_of(const char *cmd, double *n, double *value)
{
    char *out, *err;
    int rc = sm_test_run(cmd, &out, &err);
    if (rc) fail_msg("exit %d from %s: %s", rc, cmd, err);
    *n = sm_test_json_number(out, "n");
    *value = sm_test_json_number(out, "value");
    free(out);
    free(err);
}

/* The rows of `file` read through a pipe to /dev/stdin, a process
 * substitution and a FIFO without an extension must be the regular file's:
 * the bytes read to pick the format are not lost to the reader (before,
 * they were: "n":1181 of 2000 rows, "bad magic" for a .npy, and a FIFO was
 * opened twice and waited forever for a second writer, hence the timeout). */
static void expect_same_through_pipes(const char *file, const char *fifo, double n_rows)
{
    const char *bin = sm_test_bin();
    char cmd[4][4096];
    snprintf(cmd[0], sizeof cmd[0], "'%s' estimate entropy --x '%s' --estimator gauss", bin, file);
    snprintf(cmd[1], sizeof cmd[1], "cat '%s' | timeout 60 '%s' estimate entropy --x /dev/stdin --estimator gauss",
             file, bin);
    snprintf(cmd[2], sizeof cmd[2],
             "bash -c \"timeout 60 '%s' estimate entropy --x <(cat '%s') --estimator gauss\"", bin, file);
    snprintf(cmd[3], sizeof cmd[3],
             "rm -f '%s' && mkfifo '%s' && { cat '%s' > '%s' & } && "
             "timeout 60 '%s' estimate entropy --x '%s' --estimator gauss",
             fifo, fifo, file, fifo, bin, fifo);
    double n0, v0;
    entropy_of(cmd[0], &n0, &v0);
    assert_true(n0 == n_rows);
    for (int k = 1; k < 4; k++) {
        double n, v;
        entropy_of(cmd[k], &n, &v);
        if (n != n0 || v != v0) fail_msg("%s: n %g, value %.17g; the file gives n %g, value %.17g", cmd[k], n, v, n0, v0);
    }
}

static void test_pipes_read_every_row_of_text(void **state)
{
    (void)state;
    const char *p = sm_test_path("m_seq.txt");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 1000; i < 3000; i++) fprintf(f, "%d\n", i); /* seq 1000 2999 */
    assert_int_equal(fclose(f), 0);
    expect_same_through_pipes(p, sm_test_path("m_seq_fifo"), 2000);
}

/* 70000 x 2 float32 values: more than the reader allocates before it knows
 * how much a pipe holds, so its buffer grows while reading. */
static void test_pipes_read_every_row_of_npy(void **state)
{
    (void)state;
    const size_t n = 70000;
    double *x = malloc(2 * n * sizeof *x);
    assert_non_null(x);
    sm_rng r;
    sm_rng_seed(&r, 3, 0);
    for (size_t i = 0; i < 2 * n; i++) x[i] = sm_rng_normal(&r) * (i % 2 ? 1.0 : 3.0);
    const char *p = sm_test_path("m_pipe.npy");
    const sm_npy_array a = {x, SM_NPY_F64, n, 2, 2};
    sm_status st;
    assert_int_equal(sm_npy_write(p, &a, SM_NPY_F32, &st), SM_OK);
    free(x);
    expect_same_through_pipes(p, sm_test_path("m_pipe_fifo"), (double)n);
}

/* A .npy whose header claims shape (134217728, 2), 2 GiB of float64, over
 * 163 bytes of data (the last value cut; its bytes count), sent through a
 * FIFO (no file size to check first): the reader must find the truncation
 * without allocating the claim.  Under
 * the memory cap an attempt fails as "out of memory" instead. */
static void test_fifo_with_lying_header_is_truncation(void **state)
{
    (void)state;
    const char dict[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (134217728, 2), }";
    unsigned char buf[128 + 163] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}; /* 20 values and 3 bytes */
    assert_true(10 + sizeof dict <= 128); /* the header: padded with spaces to 128 bytes, then '\n' */
    memset(buf + 10, ' ', 118);
    memcpy(buf + 10, dict, sizeof dict - 1);
    buf[127] = '\n';
    const char *src = sm_test_path("m_lying_src"), *fifo = sm_test_path("m_lying_fifo.npy");
    sm_test_write(src, buf, sizeof buf);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%srm -f '%s' && mkfifo '%s' && { cat '%s' > '%s' & } && "
             "timeout 60 '%s' estimate entropy --x '%s' --estimator gauss --threads 1",
             sm_test_memory_cap(), fifo, fifo, src, fifo, sm_test_bin(), fifo);
    char want[1200];
    snprintf(want, sizeof want, "truncated data: the shape needs 2147483648 bytes, the file has 163 (%s)", fifo);
    sm_test_run_error(cmd, 1, want, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_by_extension),
        cmocka_unit_test(test_extension_beats_content),
        cmocka_unit_test(test_unknown_extension_sniffs),
        cmocka_unit_test(test_nonfinite_npy_rejected_with_position),
        cmocka_unit_test(test_nonfinite_csv_rejected_with_position),
        cmocka_unit_test(test_missing_and_empty),
        cmocka_unit_test(test_save_npy_round_trip),
        cmocka_unit_test(test_pipes_read_every_row_of_text),
        cmocka_unit_test(test_pipes_read_every_row_of_npy),
        cmocka_unit_test(test_fifo_with_lying_header_is_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
