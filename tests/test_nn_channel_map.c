/* Tests for src/nn/channel_map: the map by hand, contiguous and every other
 * value, with and without its ReLU. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nn/channel_map.h"

/* Channel 1 of a two-channel map: (x − 2) · 0.5 − 1, by hand. */
static void test_channel_map_by_hand(void **state)
{
    (void)state;
    const float mean[2] = {0, 2}, scale[2] = {1, 0.5f}, shift[2] = {0, -1};
    const float in[8] = {6, 100, 2, 100, 0, 100, 5, 100};
    float out[4];
    sm_channel_map map = {mean, scale, shift, 0};
    sm_channel_map_run(&map, 1, in, 2, 4, NULL, out); /* 6, 2, 0, 5 */
    const float want[4] = {1.0f, -1.0f, -2.0f, 0.5f};
    assert_memory_equal(out, want, sizeof want);
    map.relu = 1;
    sm_channel_map_run(&map, 1, in, 2, 4, NULL, out);
    const float cut[4] = {1.0f, 0.0f, 0.0f, 0.5f};
    assert_memory_equal(out, cut, sizeof cut);
    const float row[3] = {3, 4, 1};
    sm_channel_map_run(&map, 1, row, 1, 3, NULL, out); /* -0.5 cut, 0, -1.5 cut */
    assert_true(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f && !signbit(out[1]));
    map.relu = 0;
    sm_channel_map_run(&map, 0, row, 1, 3, NULL, out); /* channel 0: the identity */
    assert_memory_equal(out, row, sizeof row);
}

/* A long contiguous run (vector code with a tail) against the expression. */
static void test_channel_map_long_run(void **state)
{
    (void)state;
    enum { N = 203 };
    float in[N], out[N];
    for (int i = 0; i < N; i++) in[i] = (float)(i % 17) - 8.25f;
    const float mean = 0.75f, scale = 1.5f, shift = 0.25f;
    for (int relu = 0; relu < 2; relu++) {
        const sm_channel_map map = {&mean, &scale, &shift, relu};
        sm_channel_map_run(&map, 0, in, 1, N, NULL, out);
        for (int i = 0; i < N; i++) {
            const float v = (in[i] - mean) * scale + shift;
            assert_true(out[i] == (relu && v <= 0.0f ? 0.0f : v));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_map_by_hand),
        cmocka_unit_test(test_channel_map_long_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
