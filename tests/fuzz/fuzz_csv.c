/* libFuzzer harness: numeric text through sm_csv_read (src/io/csv.h), under
 * the contract of tests/fuzz/harness.h; a successful read's n × d values are
 * all read (sm_fuzz_touch). */
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "fuzz/harness.h"
#include "io/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("x.csv", data, size);
    sm_status st;
    struct { double *x; size_t n, d; } r;
    sm_fuzz_garbage(&r, sizeof r);
    int rc = sm_csv_read(path, &r.x, &r.n, &r.d, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&r, sizeof r));
    if (rc) return 0;
    sm_fuzz_require(r.n > 0 && r.d > 0, "no data rows, yet no error");
    sm_fuzz_touch(r.x, r.n * r.d * sizeof *r.x);
    sm_mem_free(r.x);
    return 0;
}
