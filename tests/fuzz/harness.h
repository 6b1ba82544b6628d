/* What every libFuzzer harness in tests/fuzz/ shares: the fuzz input as a
 * file (the readers take paths, and a file is what users give them), and
 * the contract each reader must keep beyond "no crash" (docs/design.md §5.6):
 *
 *   - a failed read returns SM_ERR_DATA or SM_ERR_USAGE, the same code in
 *     its status, and exactly one message line: non-empty, no newline,
 *     naming the file it read;
 *   - it leaves no partial output: the caller's struct zeroed (the harness
 *     fills it with garbage first, so "zeroed" means the reader zeroed it),
 *     nothing allocated (the leak checker sees that), no file written (the
 *     scratch directory holds the inputs and nothing else).
 *
 * A broken rule prints what broke and aborts, which libFuzzer reports as a
 * crash and saves the input as an artifact.
 *
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
 *   {
 *       const char *path = sm_fuzz_input("x.npy", data, size);
 *       ... rc = reader(path, &out, &st) ...
 *       sm_fuzz_check(rc, &st, path, rc == SM_OK || sm_fuzz_zeroed(&out, sizeof out));
 *       return 0;
 *   }
 */
#ifndef SM_TESTS_FUZZ_HARNESS_H
#define SM_TESTS_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* Write data to "<scratch>/<name>" and return that path (static storage,
 * valid until the next call).  The scratch directory is made once per
 * process in $TMPDIR, or /dev/shm, or /tmp, and removed at exit. */
const char *sm_fuzz_input(const char *name, const uint8_t *data, size_t size);

/* The scratch directory that holds the inputs. */
const char *sm_fuzz_dir(void);

/* Fill n bytes at p with a non-zero pattern, before handing p to a reader
 * as its output. */
void sm_fuzz_garbage(void *p, size_t n);

/* Read every one of the n bytes at p (in its own translation unit, so the
 * reads happen): ASan then sees an array shorter than the reader claims. */
void sm_fuzz_touch(const void *p, size_t n);

/* Are the n bytes at p all zero? */
int sm_fuzz_zeroed(const void *p, size_t n);

/* The contract above, after a reader returned rc with st: where must appear
 * in a failure's message; output_ok says the reader's output is as it must
 * be (on failure: zeroed or NULL). */
void sm_fuzz_check(int rc, const sm_status *st, const char *where, int output_ok);

/* Fail (print, abort) unless cond holds: for a harness's own checks of a
 * successful read. */
void sm_fuzz_require(int cond, const char *what);

/* read(data, size) as it is, then (size >= 4) with the last four bytes set
 * to the CRC-32 of the rest, little-endian: a checkpoint's trailer.  Nearly
 * every mutation breaks the checksum, so the checks behind it (names, type
 * tags, whole values, text) would otherwise go unexplored. */
void sm_fuzz_checksummed(const uint8_t *data, size_t size, void (*read)(const uint8_t *, size_t));

#endif
