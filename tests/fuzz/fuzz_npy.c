/* libFuzzer harness: .npy files through sm_npy_read and sm_npy_read_f32
 * (src/io/npy.h), under the contract of tests/fuzz/harness.h; a successful
 * read's n × d values are all read (sm_fuzz_touch). */
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "fuzz/harness.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("x.npy", data, size);
    sm_status st;
    struct { double *x; size_t n, d; } r64;
    sm_fuzz_garbage(&r64, sizeof r64);
    int rc = sm_npy_read(path, &r64.x, &r64.n, &r64.d, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&r64, sizeof r64));
    if (!rc) sm_fuzz_touch(r64.x, r64.n * r64.d * sizeof *r64.x);
    if (!rc) sm_mem_free(r64.x);

    struct { float *x; size_t n, d; } r32;
    sm_fuzz_garbage(&r32, sizeof r32);
    rc = sm_npy_read_f32(path, &r32.x, &r32.n, &r32.d, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&r32, sizeof r32));
    if (!rc) sm_fuzz_touch(r32.x, r32.n * r32.d * sizeof *r32.x);
    if (!rc) sm_mem_free(r32.x);
    return 0;
}
