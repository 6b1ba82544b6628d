/* Tests for src/core/status.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/status.h"

static void test_status_message_has_where_and_one_line(void **state)
{
    (void)state;
    sm_status st;
    int rc = sm_status_fail(&st, SM_ERR_USAGE, "a\nb.npy", "bad %s", "magic");
    assert_int_equal(rc, SM_ERR_USAGE);
    assert_string_equal(st.msg, "bad magic (a b.npy)");
    assert_int_equal(sm_status_fail(NULL, SM_ERR_DATA, NULL, "x"), SM_ERR_DATA);
    /* a quoted value's control bytes: no terminal escape, no bell, no NUL-like junk; UTF-8 kept */
    sm_status_fail(&st, SM_ERR_DATA, "x\r.csv", "cell '\x1b[31mred\x1b[0m\a\x7f\tñ'");
    assert_string_equal(st.msg, "cell '?[31mred?[0m?? ñ' (x .csv)");
}

/* Does s end with suffix? */
static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A message too long for sm_status.msg is cut in its text, marked "…",
 * and keeps its "(where)"; a long where keeps its end (file name, line). */
static void test_long_message_keeps_where(void **state)
{
    (void)state;
    char what[1000], where[700];
    memset(what, 'w', sizeof what - 1);
    what[sizeof what - 1] = '\0';
    sm_status st;
    sm_status_fail(&st, SM_ERR_DATA, "cfg.txt:3", "%s", what);
    assert_true(ends_with(st.msg, "w\xe2\x80\xa6 (cfg.txt:3)"));
    assert_true(strncmp(st.msg, "www", 3) == 0);
    assert_true(strlen(st.msg) == sizeof st.msg - 1);

    memset(where, 'd', sizeof where);
    snprintf(where + sizeof where - 12, 12, "/f.txt:7");
    sm_status_fail(&st, SM_ERR_USAGE, where, "unknown key '%s' (did you mean '%s'?)", "bacth", "batch");
    assert_true(strncmp(st.msg, "unknown key 'bacth' (did you mean 'batch'?) (\xe2\x80\xa6", 48) == 0);
    assert_true(ends_with(st.msg, "ddd/f.txt:7)"));
    assert_true(strlen(st.msg) < sizeof st.msg);

    sm_status_fail(&st, SM_ERR_DATA, NULL, "%s", what);
    assert_true(ends_with(st.msg, "w\xe2\x80\xa6"));
    assert_true(strlen(st.msg) < sizeof st.msg);
}

/* Values quoted in messages are cut to SM_STATUS_VALUE_MAX bytes plus "…",
 * never inside a UTF-8 character. */
static void test_status_value_clips(void **state)
{
    (void)state;
    char buf[SM_STATUS_VALUE_BUF], long_value[600];
    assert_string_equal(sm_status_value(buf, "abc", 3), "abc");
    assert_string_equal(sm_status_value(buf, "abcdef", 2), "ab");
    memset(long_value, 'v', sizeof long_value);
    const char *v = sm_status_value(buf, long_value, sizeof long_value);
    assert_int_equal(strlen(v), SM_STATUS_VALUE_MAX + 3);
    assert_true(ends_with(v, "v\xe2\x80\xa6"));
    long_value[0] = 'x'; /* then é (2 bytes) from byte 1 on: a cut after 200 bytes would split one */
    for (size_t i = 1; i + 1 < sizeof long_value; i += 2) memcpy(long_value + i, "\xc3\xa9", 2);
    v = sm_status_value(buf, long_value, sizeof long_value - 1);
    assert_true(ends_with(v, "\xc3\xa9\xe2\x80\xa6"));
    assert_true(strlen(v) <= SM_STATUS_VALUE_MAX + 3);
}

/* A caller passes a failure on with what it knows: its prefix before the
 * text, its where after the inner one, in one parenthesis; the inner code. */
static void test_status_wrap(void **state)
{
    (void)state;
    sm_status inner, st;
    sm_status_fail(&inner, SM_ERR_DATA, "pred_mode=optimal", "second moments with trace %g", -1.0);
    assert_int_equal(sm_status_wrap(&st, &inner, "no W: ", "a.bin"), SM_ERR_DATA);
    assert_string_equal(st.msg, "no W: second moments with trace -1 (pred_mode=optimal; a.bin)");

    sm_status_fail(&inner, SM_ERR_USAGE, NULL, "dataset=mnist needs data_dir=DIR");
    assert_int_equal(sm_status_wrap(&st, &inner, "", "a.bin"), SM_ERR_USAGE);
    assert_string_equal(st.msg, "dataset=mnist needs data_dir=DIR (a.bin)");
    assert_int_equal(sm_status_wrap(&st, &inner, "config: ", NULL), SM_ERR_USAGE);
    assert_string_equal(st.msg, "config: dataset=mnist needs data_dir=DIR");

    /* a parenthesis inside the text is not a where */
    sm_status_fail(&inner, SM_ERR_DATA, NULL, "f(x) is nan");
    sm_status_wrap(&st, &inner, "", "x.npy");
    assert_string_equal(st.msg, "f(x) is nan (x.npy)");
    sm_status_fail(&inner, SM_ERR_DATA, NULL, "log(x)");
    sm_status_wrap(&st, &inner, "", "x.npy");
    assert_string_equal(st.msg, "log(x) (x.npy)");

    sm_status_clear(&inner); /* no code: a data error */
    assert_int_equal(sm_status_wrap(&st, &inner, "p", "w"), SM_ERR_DATA);
    assert_string_equal(st.msg, "p (w)");
    assert_int_equal(sm_status_wrap(NULL, &inner, "p", "w"), SM_ERR_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_message_has_where_and_one_line),
        cmocka_unit_test(test_long_message_keeps_where),
        cmocka_unit_test(test_status_value_clips),
        cmocka_unit_test(test_status_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
