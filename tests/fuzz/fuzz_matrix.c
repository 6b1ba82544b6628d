/* libFuzzer harness: sm_matrix_load (src/io/matrix.h) on a file without an
 * extension, so the reader sniffs .npy against text itself, under the
 * contract of tests/fuzz/harness.h.  A successful load is what the
 * estimators rely on: at least one row and one column, every value finite. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"
#include "io/matrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("x", data, size);
    sm_status st;
    sm_matrix m;
    sm_fuzz_garbage(&m, sizeof m);
    int rc = sm_matrix_load(path, &m, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&m, sizeof m));
    if (rc) return 0;
    sm_fuzz_require(m.n > 0 && m.d > 0, "an empty matrix was loaded");
    for (size_t i = 0; i < m.n * m.d; i++) sm_fuzz_require(isfinite(m.data[i]), "a loaded value is not finite");
    sm_matrix_free(&m);
    return 0;
}
