#include "fuzz/harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { MAX_INPUTS = 4 };

static char scratch[4096];
static char input_path[4096 + 256];
/* The names written so far: the only entries the scratch directory may hold. */
static char inputs[MAX_INPUTS][64];
static int n_inputs;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

static void remove_scratch(void)
{
    DIR *d = opendir(scratch);
    if (!d) return;
    char path[sizeof scratch + 256];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", scratch, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(scratch);
}

const char *sm_fuzz_dir(void)
{
    if (scratch[0]) return scratch;
    /* Memory-backed by default: every execution rewrites the input, and on a
     * disk file system that metadata traffic makes a harness ten times slower. */
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if (!tmp || !*tmp) tmp = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/sm-fuzz-XXXXXX", tmp);
    if (!mkdtemp(scratch)) die("cannot make the scratch directory", strerror(errno));
    atexit(remove_scratch);
    return scratch;
}

static void remember(const char *name)
{
    for (int i = 0; i < n_inputs; i++)
        if (!strcmp(inputs[i], name)) return;
    if (n_inputs == MAX_INPUTS || strlen(name) >= sizeof inputs[0]) die("too many or too long input names", name);
    strcpy(inputs[n_inputs++], name);
}

const char *sm_fuzz_input(const char *name, const uint8_t *data, size_t size)
{
    remember(name);
    snprintf(input_path, sizeof input_path, "%s/%s", sm_fuzz_dir(), name);
    int fd = open(input_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) die("cannot write the input", strerror(errno));
    for (size_t done = 0; done < size;) {
        ssize_t k = write(fd, data + done, size - done);
        if (k < 0) die("cannot write the input", strerror(errno));
        done += (size_t)k;
    }
    if (close(fd)) die("cannot write the input", strerror(errno));
    return input_path;
}

void sm_fuzz_garbage(void *p, size_t n) { memset(p, 0xa5, n); }

void sm_fuzz_touch(const void *p, size_t n)
{
    const volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i++) (void)b[i];
}

int sm_fuzz_zeroed(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

void sm_fuzz_require(int cond, const char *what)
{
    if (!cond) die("broken rule", what);
}

void sm_fuzz_checksummed(const uint8_t *data, size_t size, void (*read)(const uint8_t *, size_t))
{
    read(data, size);
    if (size < 4) return;
    uint8_t *fixed = malloc(size);
    sm_fuzz_require(fixed != NULL, "out of memory");
    memcpy(fixed, data, size);
    uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
    for (int k = 0; k < 4; k++) fixed[size - 4 + k] = (uint8_t)(crc >> 8 * k);
    read(fixed, size);
    free(fixed);
}

/* Does the scratch directory hold exactly the inputs (the reader wrote nothing)? */
static int only_inputs(void)
{
    DIR *d = opendir(sm_fuzz_dir());
    if (!d) die("cannot list the scratch directory", strerror(errno));
    int entries = 0, known = 1;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        entries++;
        int found = 0;
        for (int i = 0; i < n_inputs; i++) found |= !strcmp(e->d_name, inputs[i]);
        known &= found;
    }
    closedir(d);
    return known && entries == n_inputs;
}

void sm_fuzz_check(int rc, const sm_status *st, const char *where, int output_ok)
{
    sm_fuzz_require(only_inputs(), "the reader wrote a file");
    if (rc == SM_OK) return;
    if (rc != SM_ERR_DATA && rc != SM_ERR_USAGE) die("unknown return code", st->msg);
    if (st->code != rc) die("status code differs from the return code", st->msg);
    if (!st->msg[0]) die("failure without a message", NULL);
    if (strchr(st->msg, '\n')) die("message of more than one line", st->msg);
    if (!strstr(st->msg, where)) die("message does not name the input", st->msg);
    if (!output_ok) die("failure left partial output", st->msg);
}
