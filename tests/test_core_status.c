/* Tests for src/core/status.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_message_has_where_and_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
