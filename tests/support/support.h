/* Helpers shared by the cmocka tests: fixture paths, files, running the CLI. */
#ifndef SM_TESTS_SUPPORT_H
#define SM_TESTS_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/rng.h"
#include "nn/channel_map.h"

/* Path of the CLI under test ($SM_BIN, default build/simsiam-mi). */
const char *sm_test_bin(void);
/* Fixture path "<$SM_TMP>/<name>" (directory created on demand) in a static
 * ring of buffers: valid for the next 7 calls. */
const char *sm_test_path(const char *name);
/* An absolute fixture path for name that holds no blank (slurm.conf and an
 * install's PREFIX cannot): sm_test_path(name) made absolute, or, when that
 * has a blank, /tmp/simsiam-mi-<pid>-<name>.  Not created; a ring of 4. */
const char *sm_test_blankless_path(const char *name);
/* Write n bytes to path (fails the test on error). */
void sm_test_write(const char *path, const void *data, size_t n);
/* Write a NUL-terminated string to path. */
void sm_test_write_text(const char *path, const char *text);
/* Read a whole file into a malloc'd NUL-terminated buffer (*n = length). */
char *sm_test_read(const char *path, size_t *n);
/* Fail unless the file at path holds exactly the n bytes of want (a file
 * read before a command that must leave it as it was). */
void sm_test_assert_file_is(const char *path, const char *want, size_t n);
/* Run "sh -c cmd" with stdout and stderr captured into malloc'd strings
 * (either pointer may be NULL).  Returns the exit code (-1 if killed). */
int sm_test_run(const char *cmd, char **out, char **err);
/* Run the CLI under test with args (a shell fragment); as sm_test_run. */
int sm_test_cli(const char *args, char **out, char **err);
/* Start the CLI under test with args (a shell fragment) in a child, stdout
 * and stderr to the files out and err, and return its pid (the shell execs
 * the CLI, so it is the CLI's).  fsize >= 0 sets the child's file size
 * limit (RLIMIT_FSIZE) to fsize bytes with SIGXFSZ ignored: a write past it
 * then fails with EFBIG, as on a full disk, instead of killing the CLI. */
pid_t sm_test_cli_start(const char *args, const char *out, const char *err, long fsize);
/* Wait for a child: its exit code, or 128 + the signal that ended it. */
int sm_test_cli_wait(pid_t pid);
/* Expect the CLI to exit with rc, print nothing on stdout and exactly one
 * "simsiam-mi: error: " line on stderr containing needle1 (and needle2 if
 * not NULL). */
void sm_test_cli_error(const char *args, int rc, const char *needle1, const char *needle2);
/* The same for a whole shell command (a pipeline, a capped run...). */
void sm_test_run_error(const char *cmd, int rc, const char *needle1, const char *needle2);
/* Fail unless the document's generated table NAME is the one the CLI makes
 * (scripts/readme-table.sh NAME BIN --check; its message on failure). */
void sm_test_doc_table(const char *name);
/* A shell prefix ("... && ") that caps the address space of the commands
 * after it at 1 GB (ulimit -v), for runs that must not allocate what a
 * hostile file claims: an attempt then fails at once with "out of memory",
 * which the test sees as the wrong message.  Measuring the peak RSS instead
 * would let the attempt happen (gigabytes, on a shared machine) and miss
 * allocations never touched.  The prefix also sets one OpenMP and OpenBLAS
 * thread, as OpenBLAS spins forever when it cannot create its threads
 * under the cap; callers pass threads=1 for the same reason.  "" (with a
 * note) when the CLI cannot start under the cap at all, as in an ASan
 * build, whose shadow memory reserves terabytes of address space. */
const char *sm_test_memory_cap(void);
/* The number after "key": in a JSON line (NAN if absent). */
double sm_test_json_number(const char *line, const char *key);
/* Fixture directory sm_test_path(name), created; and "dir/name" in a static
 * ring of buffers (valid for the next 3 calls). */
const char *sm_test_dir(const char *name);
const char *sm_test_join(const char *dir, const char *name);
/* A directory path of exactly length bytes (< cap) in out: base, then
 * components of at most 200 bytes; for paths near the system's 4096. */
void sm_test_deep_path(char *out, size_t cap, const char *base, size_t length);
/* An uncompressed IDX file (the reader also takes names without .gz) of
 * unsigned bytes: ndims big-endian dims, then n bytes of data. */
void sm_test_write_idx(const char *path, int ndims, const uint32_t *dims, const uint8_t *data, size_t n);
/* An MNIST-format fixture directory sm_test_dir(name): n images of side ×
 * side per split, byte j of image i = (i + j) mod 256, label i mod 10 (the
 * test split offset by 100). */
const char *sm_test_write_mnist_dir(const char *name, uint32_t n, uint32_t side);
/* Number of '\n'-terminated lines in s. */
int sm_test_lines(const char *s);
/* Is /usr/bin/python3 with this module importable?  (Dev-only tools.) */
int sm_test_have_python(const char *module);
/* Central-difference gradient check (step 1e-3) of a double-precision
 * objective(ctx) w.r.t. every entry of v (which objective reads): fails the
 * test unless |analytic[i] − fd[i]| <= tol · max|fd| for all i (and the
 * gradient is not trivially small, max|fd| > 0.1). */
void sm_test_check_gradient(double (*objective)(const void *ctx), const void *ctx, double *v,
                            size_t n, const float *analytic, double tol);
/* Zeroed floats (at least one), failing the test if memory runs out. */
float *sm_test_floats(size_t n);
/* a[i] = lo + (hi − lo) u, u uniform in [0, 1) from rng. */
void sm_test_fill_uniform(float *a, size_t n, sm_rng *rng, double lo, double hi);
/* dx (n × c × hw) = BatchNorm's input gradient read through gm from dy
 * and gm->x, BatchNorm's expression in its order, one float at a time
 * (nn/channel_map.h), for the layers that read through such a map. */
void sm_test_apply_grad_map(const sm_grad_map *gm, size_t n, size_t c, size_t hw, const float *dy, float *dx);
/* A random gradient map of c channels over x: the forward map's mean,
 * scale and shift, a, b and d in stored (6c floats), ReLU or not. */
sm_grad_map sm_test_random_grad_map(size_t c, const float *x, int relu, sm_rng *rng, float *stored);
/* A malloc'd double copy of n floats (for double-precision references). */
double *sm_test_to_double(const float *a, size_t n);
/* Leftover atomic-write temporaries "<base>.XXXXXX" next to path. */
int sm_test_count_temporaries(const char *path);
/* Running under valgrind ($SM_VALGRIND): tests shrink their sizes. */
int sm_test_slow(void);

#endif
