/* libFuzzer harness: IDX files, plain or gzip-compressed, through
 * sm_idx_read_images and sm_idx_read_labels (src/io/idx.h), under the
 * contract of tests/fuzz/harness.h; a successful read's bytes are all read
 * (sm_fuzz_touch). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/harness.h"
#include "io/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("x-idx-ubyte.gz", data, size);
    sm_status st;
    sm_idx_images im;
    sm_fuzz_garbage(&im, sizeof im);
    int rc = sm_idx_read_images(path, &im, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&im, sizeof im));
    if (!rc) sm_fuzz_touch(im.pixels, im.n * im.rows * im.cols);
    sm_idx_images_free(&im);

    sm_idx_labels lb;
    sm_fuzz_garbage(&lb, sizeof lb);
    rc = sm_idx_read_labels(path, &lb, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&lb, sizeof lb));
    if (!rc) sm_fuzz_touch(lb.labels, lb.n);
    sm_idx_labels_free(&lb);
    return 0;
}
