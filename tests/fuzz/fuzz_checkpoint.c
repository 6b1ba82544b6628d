/* libFuzzer harness: checkpoints through sm_ckpt_read (src/io/checkpoint.h),
 * under the contract of tests/fuzz/harness.h.  Each input is read twice: as
 * it is, and with its CRC-32 fixed up (sm_fuzz_checksummed).  A checkpoint
 * that reads is then used as the trainer uses one: its sections looked up
 * with the getters (whose failures keep the same contract, their outputs
 * NULL) and its config section parsed as a configuration. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz/harness.h"
#include "io/checkpoint.h"
#include "io/config.h"

static void use(const sm_ckpt *c, const char *path)
{
    static const char *const names[] = {"config", "step", "params", "bn_stats", "train_csv"};
    sm_status st;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const void *bytes;
        size_t n;
        int rc = sm_ckpt_get_bytes(c, names[i], &bytes, &n, &st);
        sm_fuzz_check(rc, &st, path, rc == SM_OK || (bytes == NULL && n == 0));
        if (!rc) sm_fuzz_touch(bytes, n);
        const float *f;
        rc = sm_ckpt_get_f32(c, names[i], 4, &f, &st);
        sm_fuzz_check(rc, &st, path, rc == SM_OK || f == NULL);
        const uint64_t *u;
        rc = sm_ckpt_get_u64(c, names[i], 1, &u, &st);
        sm_fuzz_check(rc, &st, path, rc == SM_OK || u == NULL);
        const char *text;
        rc = sm_ckpt_get_text(c, names[i], &text, &st);
        sm_fuzz_check(rc, &st, path, rc == SM_OK || text == NULL);
        if (rc || strcmp(names[i], "config")) continue;
        sm_config cfg;
        sm_config_defaults(&cfg);
        rc = sm_config_parse_text(&cfg, text, path, &st);
        sm_fuzz_check(rc, &st, path, 1);
    }
}

static void read_and_use(const uint8_t *data, size_t size)
{
    const char *path = sm_fuzz_input("checkpoint.bin", data, size);
    sm_status st;
    sm_ckpt *c;
    sm_fuzz_garbage(&c, sizeof c);
    int rc = sm_ckpt_read(path, &c, &st);
    sm_fuzz_check(rc, &st, path, rc == SM_OK || c == NULL);
    if (rc) return;
    use(c, path);
    sm_ckpt_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sm_fuzz_checksummed(data, size, read_and_use);
    return 0;
}
