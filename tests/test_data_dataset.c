/* Tests for src/data/dataset.c: allocation, conversion of bytes to [0, 1]. */
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "data/dataset.h"

static void test_alloc_is_zeroed_with_its_shape(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_dataset ds;
    assert_int_equal(sm_dataset_alloc(&ds, 5, 3, 4, 2, 7, &st), SM_OK);
    assert_int_equal(ds.n, 5);
    assert_int_equal(ds.c, 3);
    assert_int_equal(ds.h, 4);
    assert_int_equal(ds.w, 2);
    assert_int_equal(ds.classes, 7);
    assert_int_equal(sm_dataset_image_size(&ds), 24);
    for (size_t i = 0; i < 5 * 24; i++) assert_int_equal(ds.pixels[i], 0);
    for (size_t i = 0; i < 5; i++) assert_int_equal(ds.labels[i], 0);
    sm_dataset_free(&ds);
    assert_null(ds.pixels);
    assert_null(ds.labels);
    assert_int_equal(ds.n, 0);
    sm_dataset_free(&ds); /* safe twice */
}

static void test_alloc_overflow_fails_cleanly(void **state)
{
    (void)state;
    sm_status st;
    sm_status_clear(&st);
    sm_dataset ds;
    assert_int_equal(sm_dataset_alloc(&ds, SIZE_MAX / 100, 1, 28, 28, 10, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "overflow"));
    assert_null(ds.pixels);
    assert_int_equal(ds.n, 0);
    assert_int_equal(sm_dataset_alloc(&ds, 1, SIZE_MAX / 2, 4, 1, 10, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "image size overflows"));
}

/* Every byte v becomes exactly v / 255 (0 → 0, 255 → 1), images in idx order. */
static void test_gather_converts_bytes_in_index_order(void **state)
{
    (void)state;
    sm_status st;
    sm_dataset ds;
    assert_int_equal(sm_dataset_alloc(&ds, 3, 1, 16, 16, 10, &st), SM_OK);
    for (size_t i = 0; i < 3 * 256; i++) ds.pixels[i] = (uint8_t)(i + 85 * (i / 256));
    const size_t idx[4] = {2, 0, 2, 1};
    float out[4 * 256];
    sm_dataset_gather(&ds, idx, 4, out);
    for (size_t k = 0; k < 4; k++)
        for (size_t j = 0; j < 256; j++) {
            uint8_t v = (uint8_t)(j + 85 * idx[k]);
            assert_true(out[k * 256 + j] == (float)v / 255.0f);
        }
    assert_true(out[85] == 1.0f); /* image 2: byte 85 + 170 = 255 */
    assert_true(out[86] == 0.0f); /* image 2: byte (86 + 170) mod 256 = 0 */
    sm_dataset_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_is_zeroed_with_its_shape),
        cmocka_unit_test(test_alloc_overflow_fails_cleanly),
        cmocka_unit_test(test_gather_converts_bytes_in_index_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
