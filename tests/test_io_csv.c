/* Tests for src/io/csv.c: accepted layouts and every rejection with its line. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "core/status.h"
#include "io/csv.h"
#include "support/support.h"

/* Write text to a fixture, read it, check the shape and every value. */
static void expect_matrix(const char *text, size_t n, size_t d, const double *want)
{
    const char *p = sm_test_path("csv_ok.csv");
    sm_test_write_text(p, text);
    double *x;
    size_t rn, rd;
    sm_status st;
    sm_status_clear(&st);
    if (sm_csv_read(p, &x, &rn, &rd, &st)) fail_msg("%s\n--- for input ---\n%s", st.msg, text);
    if (rn != n || rd != d) fail_msg("shape %zu x %zu, expected %zu x %zu for:\n%s", rn, rd, n, d, text);
    for (size_t i = 0; i < n * d; i++)
        if (x[i] != want[i]) fail_msg("value %zu is %.17g, expected %.17g for:\n%s", i, x[i], want[i], text);
    assert_true(((uintptr_t)x % 64) == 0);
    sm_mem_free(x);
}

/* Must fail with SM_ERR_DATA, zeroed output and exactly "<what> (<path><suffix>)". */
static void expect_error(const char *name, const char *text, const char *what, const char *suffix)
{
    const char *p = sm_test_path(name);
    sm_test_write_text(p, text);
    static double dummy;
    double *x = &dummy;
    size_t n = 9, d = 9;
    sm_status st;
    sm_status_clear(&st);
    assert_int_equal(sm_csv_read(p, &x, &n, &d, &st), SM_ERR_DATA);
    assert_int_equal(st.code, SM_ERR_DATA);
    assert_null(x);
    assert_true(n == 0 && d == 0);
    char want[1024];
    snprintf(want, sizeof want, "%s (%s%s)", what, p, suffix);
    assert_string_equal(st.msg, want);
}

static void test_header_and_comma(void **state)
{
    (void)state;
    const double want[] = {1, 2, 3.5, -0.04};
    expect_matrix("x,y\n1,2\n3.5,-4e-2\n", 2, 2, want);
    expect_matrix("1,2\n3.5,-4e-2\n", 2, 2, want);                 /* no header */
    expect_matrix("# x,y\n1, 2\n 3.5 ,\t-4e-2 \n", 2, 2, want);   /* np.savetxt header, padded cells */
    expect_matrix("\"x\",\"y\"\n1,2\n3.5,-4e-2", 2, 2, want);       /* no final newline */
    expect_matrix("\xEF\xBB\xBFx,y\n1,2\n3.5,-4e-2\n", 2, 2, want); /* UTF-8 BOM */
}

static void test_spaces_and_tabs(void **state)
{
    (void)state;
    const double want[] = {1, 2, 3, 4, 5, 6};
    expect_matrix("1 2 3\n  4   5 6  \n", 2, 3, want);
    expect_matrix("1\t2\t3\n4\t5\t6\n", 2, 3, want);
    expect_matrix("a b c\n1 \t2\t 3\n4 5 6\n", 2, 3, want);
    expect_matrix("a b c\n1,2,3\n4,5,6\n", 2, 3, want); /* separator is the data's, not the header's */
    expect_matrix("# a b c\n1 2 3\n4 5 6\n", 2, 3, want); /* np.savetxt's header, its '#' not a name */
    const double col[] = {7, -8, 9};
    expect_matrix("7\n-8\n9\n", 3, 1, col);
    expect_matrix("# x\n7\n-8\n9\n", 3, 1, col);
    expect_matrix("  #x\n7\n-8\n9\n", 3, 1, col);
}

static void test_crlf_and_blank_lines(void **state)
{
    (void)state;
    const double want[] = {1, 2, 3, 4};
    expect_matrix("a,b\r\n1,2\r\n3,4\r\n", 2, 2, want);
    expect_matrix("1 2\r\n3 4\r\n", 2, 2, want);
    expect_matrix("\n\na,b\n\n1,2\n   \n\t\n3,4\n\n\r\n", 2, 2, want);
}

static void test_number_syntax(void **state)
{
    (void)state;
    const double want[] = {1e3, -2.5e-3, 7, 0.5, -0.0, 1.5e-300, -12, 6.02214076e23};
    expect_matrix("1e3,-2.5E-3\n+7,.5\n-0,1.5e-300\n-12,6.02214076e+23\n", 4, 2, want);
    assert_true(signbit(want[4]));
    const double tiny[] = {0.0, -0.0, 4e-320, 5e-324}; /* under the normal range: subnormal, or 0 below it, as strtod rounds */
    expect_matrix("1e-400,-1e-400\n4e-320,4.9e-324\n", 2, 2, tiny);
    const char *p = sm_test_path("csv_nan.csv");
    sm_test_write_text(p, "nan,inf\n-inf,1e999\n");
    double *x;
    size_t n, d;
    sm_status st;
    assert_int_equal(sm_csv_read(p, &x, &n, &d, &st), SM_OK); /* left to sm_matrix_load */
    assert_true(isnan(x[0]) && x[1] == INFINITY && x[2] == -INFINITY && x[3] == INFINITY);
    sm_mem_free(x);
}

static void test_many_rows_grow(void **state)
{
    (void)state;
    const size_t n = 3000;
    char *text = malloc(n * 32);
    double *want = malloc(n * 3 * sizeof *want);
    assert_true(text && want);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(text + len, "%zu,%zu.25,-%zu\n", i, i, 2 * i);
        want[3 * i] = (double)i;
        want[3 * i + 1] = i + 0.25;
        want[3 * i + 2] = -2.0 * i;
    }
    expect_matrix(text, n, 3, want);
    free(text);
    free(want);
}

static void test_ragged_rows(void **state)
{
    (void)state;
    expect_error("csv_ragged.csv", "a,b\n1,2\n3,4\n\n5,6,7\n", "row has 3 columns, expected 2", ":5");
    expect_error("csv_short.csv", "1 2 3\n4 5 6\n7 8\n", "row has 2 columns, expected 3", ":3");
    expect_error("csv_hdr.csv", "a,b,c\n1,2\n", "header has 3 names but the first data row has 2 columns",
                 ":2");
}

static void test_non_numeric_cells(void **state)
{
    (void)state;
    expect_error("csv_text.csv", "x,y\n1,2\n3,abc\n", "non-numeric cell 'abc' in column 2", ":3");
    expect_error("csv_mixed.csv", "1,abc\n2,3\n", "non-numeric cell 'abc' in column 2", ":1");
    expect_error("csv_empty_cell.csv", "1,2\n3,,4\n", "empty cell in column 2", ":2");
    expect_error("csv_trailing_comma.csv", "1,2\n3,4,\n", "empty cell in column 3", ":2");
    expect_error("csv_unit.csv", "1,2\n3,4s\n", "non-numeric cell '4s' in column 2", ":2");
    expect_error("csv_sep.csv", "1 2\n\n3,4\n", "non-numeric cell '3,4' in column 1", ":3");
    expect_error("csv_crlf_text.csv", "1,2\r\n3,x\r\n", "non-numeric cell 'x' in column 2", ":2");
    expect_error("csv_commented_row.csv", "# 1 2\n3 4\n",
                 "first line starts with '#' but holds numbers: a header has none", ":1");
    const char *p = sm_test_path("csv_binary.csv");
    sm_test_write(p, "1,2\n3\0,4\n", 9);
    sm_status st;
    double *x;
    size_t n, d;
    assert_int_equal(sm_csv_read(p, &x, &n, &d, &st), SM_ERR_DATA);
    char want[1024];
    snprintf(want, sizeof want, "NUL byte in a text file (binary data?) (%s:2)", p);
    assert_string_equal(st.msg, want);
}

static void test_empty_inputs(void **state)
{
    (void)state;
    expect_error("csv_empty.csv", "", "no data rows", "");
    expect_error("csv_blank.csv", "\n \n\r\n", "no data rows", "");
    expect_error("csv_header_only.csv", "x,y\n", "no data rows", "");
    expect_error("csv_header_blank.csv", "x y\n\n\n", "no data rows", "");
    const char *p = sm_test_path("csv_no_such_file.csv");
    remove(p);
    sm_status st;
    double *x;
    size_t n, d;
    assert_int_equal(sm_csv_read(p, &x, &n, &d, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "cannot open"));
    assert_non_null(strstr(st.msg, p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_comma),
        cmocka_unit_test(test_spaces_and_tabs),
        cmocka_unit_test(test_crlf_and_blank_lines),
        cmocka_unit_test(test_number_syntax),
        cmocka_unit_test(test_many_rows_grow),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_non_numeric_cells),
        cmocka_unit_test(test_empty_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
