/* libFuzzer harness: a CIFAR-10 test_batch.bin through sm_cifar_load_split
 * (src/data/cifar.h), under the contract of tests/fuzz/harness.h.  A
 * successful load holds what the trainer relies on: 32 × 32 × 3 images,
 * every label a class 0..9, every pixel readable. */
#include <stddef.h>
#include <stdint.h>

#include "data/cifar.h"
#include "fuzz/harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sm_fuzz_input("test_batch.bin", data, size);
    sm_status st;
    sm_dataset ds;
    sm_fuzz_garbage(&ds, sizeof ds);
    int rc = sm_cifar_load_split(sm_fuzz_dir(), SM_SPLIT_TEST, &ds, &st);
    sm_fuzz_check(rc, &st, sm_fuzz_dir(), rc == SM_OK || sm_fuzz_zeroed(&ds, sizeof ds));
    if (rc) return 0;
    sm_fuzz_require(ds.n > 0 && ds.c == SM_CIFAR_CHANNELS && ds.h == SM_CIFAR_SIDE && ds.w == SM_CIFAR_SIDE,
                    "a CIFAR image of another shape");
    for (size_t i = 0; i < ds.n; i++) sm_fuzz_require(ds.labels[i] < SM_CIFAR_CLASSES, "a label beyond the classes");
    sm_fuzz_touch(ds.pixels, ds.n * SM_CIFAR_IMAGE);
    sm_dataset_free(&ds);
    return 0;
}
