/* fopencookie (glibc, musl): the stream that gives back the bytes read to
 * sniff the format.  It must come before any system header. */
#define _GNU_SOURCE
#include "io/matrix.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "core/mem.h"
#include "io/csv.h"
#include "io/npy.h"

typedef enum { FORMAT_UNKNOWN, FORMAT_NPY, FORMAT_TEXT } matrix_format;

static int has_extension(const char *path, const char *ext)
{
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    return dot && strcasecmp(dot, ext) == 0;
}

/* The extension decides when it is a known one; else sniff does. */
static matrix_format format_of_name(const char *path)
{
    if (has_extension(path, ".npy")) return FORMAT_NPY;
    if (has_extension(path, ".csv") || has_extension(path, ".txt") || has_extension(path, ".tsv"))
        return FORMAT_TEXT;
    return FORMAT_UNKNOWN;
}

/* ---- sniffing ------------------------------------------------------------ */

/* A file's first bytes, already read, then the rest of the file. */
typedef struct {
    FILE *f;
    unsigned char head[SM_NPY_MAGIC_LEN];
    size_t len, pos;
} replay;

static ssize_t replay_read(void *cookie, char *buf, size_t n)
{
    replay *r = cookie;
    if (r->pos < r->len) {
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(buf, r->head + r->pos, k);
        r->pos += k;
        return (ssize_t)k;
    }
    size_t got = fread(buf, 1, n, r->f);
    return got == 0 && ferror(r->f) ? -1 : (ssize_t)got;
}

static int replay_close(void *cookie)
{
    replay *r = cookie;
    int rc = fclose(r->f);
    sm_mem_free(r);
    return rc;
}

/* The format of a file whose name does not tell, from its first bytes.
 * Reading them consumes them, and a pipe, /dev/stdin or <(...) cannot be
 * read again from the start (nor a FIFO opened twice), so on success *f is
 * replaced by a stream that yields them again, then the rest of the file,
 * and closes the file when closed. */
static int sniff(FILE **f, const char *path, matrix_format *format, sm_status *st)
{
    sm_status ast;
    replay *r = sm_mem_alloc(1, sizeof *r, &ast);
    if (!r) return sm_status_fail(st, ast.code, path, "%s", ast.msg);
    r->len = fread(r->head, 1, sizeof r->head, *f);
    if (ferror(*f)) {
        int e = errno;
        sm_mem_free(r);
        return sm_status_fail(st, SM_ERR_DATA, path, "read error: %s", strerror(e));
    }
    FILE *again = fopencookie(r, "rb", (cookie_io_functions_t){.read = replay_read, .close = replay_close});
    if (!again) {
        sm_mem_free(r);
        return sm_status_fail(st, SM_ERR_DATA, path, "out of memory");
    }
    r->f = *f;
    *f = again;
    *format = sm_npy_is_magic(r->head, r->len) ? FORMAT_NPY : FORMAT_TEXT;
    /* told here, before a reader looks for the end of a line that may never come (/dev/zero) */
    if (*format == FORMAT_TEXT && memchr(r->head, '\0', r->len))
        return sm_status_fail(st, SM_ERR_DATA, path, "NUL byte in a text file (binary data?)");
    return SM_OK;
}

/* ---- loading --------------------------------------------------------------- */

/* Estimators assume finite data; name the first offending cell. */
static int check_finite(const sm_matrix *m, const char *path, sm_status *st)
{
    for (size_t i = 0; i < m->n * m->d; i++) {
        double v = m->data[i];
        if (isfinite(v)) continue;
        const char *what = isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
        return sm_status_fail(st, SM_ERR_DATA, path, "%s at row %zu, column %zu", what, i / m->d + 1,
                              i % m->d + 1);
    }
    return SM_OK;
}

/* The file is opened once and its one stream handed to the reader. */
int sm_matrix_load(const char *path, sm_matrix *m, sm_status *st)
{
    *m = (sm_matrix){0};
    FILE *f = fopen(path, "rb");
    if (!f) return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s", strerror(errno));
    matrix_format format = format_of_name(path);
    int rc = format == FORMAT_UNKNOWN ? sniff(&f, path, &format, st) : SM_OK;
    if (!rc)
        rc = format == FORMAT_NPY ? sm_npy_read_stream(f, path, &m->data, &m->n, &m->d, st)
                                  : sm_csv_read_stream(f, path, &m->data, &m->n, &m->d, st);
    fclose(f);
    if (!rc && (m->n == 0 || m->d == 0)) rc = sm_status_fail(st, SM_ERR_DATA, path, "array is empty (%zu x %zu)", m->n, m->d);
    if (!rc) rc = check_finite(m, path, st);
    if (rc) sm_matrix_free(m);
    return rc;
}

int sm_matrix_save_npy(const char *path, const sm_matrix *m, int as_float32, sm_status *st)
{
    const sm_npy_array a = {m->data, SM_NPY_F64, m->n, m->d, 2};
    return sm_npy_write(path, &a, as_float32 ? SM_NPY_F32 : SM_NPY_F64, st);
}

void sm_matrix_free(sm_matrix *m)
{
    sm_mem_free(m->data);
    *m = (sm_matrix){0};
}
