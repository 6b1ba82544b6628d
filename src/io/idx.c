#include "io/idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/mem.h"

enum { IDX_UBYTE = 0x08, IDX_MAX_DIMS = 3 };

/* gzread takes an unsigned count; 16 MiB per call keeps the number of calls
 * small (Fashion-MNIST train is 47 MB) without approaching that limit. */
#define READ_CHUNK ((size_t)1 << 24)
/* The data buffer starts at this size (or the claimed size, if smaller) and
 * doubles as data arrive, so a lying header cannot make us allocate more
 * than about twice what the file really holds. */
#define FIRST_CAPACITY ((size_t)1 << 24)
/* zlib's input buffer: larger than its 8 KiB default to cut read() calls. */
#define GZ_BUFFER (1u << 18)

static int stream_error(gzFile gz, const char *path, sm_status *st)
{
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    if (errnum == Z_ERRNO) return sm_status_fail(st, SM_ERR_DATA, path, "read error: %s", strerror(errno));
    /* zlib prefixes "<path>: "; the path goes in the parenthesis instead. */
    size_t len = strlen(path);
    if (strncmp(msg, path, len) == 0 && strncmp(msg + len, ": ", 2) == 0) msg += len + 2;
    return sm_status_fail(st, SM_ERR_DATA, path, "corrupt gzip data: %s", msg);
}

/* Read up to n bytes into buf; *got < n only at the end of the data.  A zlib
 * error, including one reported alongside a short read (a gzip stream cut
 * short gives "unexpected end of file"), is a failure. */
static int read_up_to(gzFile gz, const char *path, uint8_t *buf, size_t n, size_t *got, sm_status *st)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got < READ_CHUNK ? n - *got : READ_CHUNK;
        int r = gzread(gz, buf + *got, (unsigned)want);
        if (r < 0) return stream_error(gz, path, st);
        if (r == 0) break;
        *got += (size_t)r;
    }
    int errnum = Z_OK;
    gzerror(gz, &errnum);
    if (errnum != Z_OK) return stream_error(gz, path, st);
    return SM_OK;
}

static size_t read_be32(const uint8_t *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
}

/* Header: magic, then ndims big-endian dimensions.  Fills dims and *total
 * (their product, in bytes since the type is ubyte). */
static int read_header(gzFile gz, const char *path, unsigned ndims, const char *what, size_t *dims,
                       size_t *total, sm_status *st)
{
    uint8_t head[4 + 4 * IDX_MAX_DIMS];
    size_t got;
    int rc = read_up_to(gz, path, head, 4, &got, st);
    if (rc) return rc;
    if (got < 4) return sm_status_fail(st, SM_ERR_DATA, path, "not an IDX file: only %zu bytes", got);
    size_t magic = read_be32(head), expected = IDX_UBYTE << 8 | ndims;
    if (head[0] != 0 || head[1] != 0)
        return sm_status_fail(st, SM_ERR_DATA, path, "not an IDX file: magic 0x%08zx, expected 0x%08zx", magic,
                              expected);
    if (head[2] != IDX_UBYTE)
        return sm_status_fail(st, SM_ERR_DATA, path,
                              "unsupported IDX data type 0x%02x (only 0x08, unsigned byte, is read)", head[2]);
    if (head[3] != ndims)
        return sm_status_fail(st, SM_ERR_DATA, path, "IDX file has %u dimensions, %s need %u (magic 0x%08zx)",
                              head[3], what, ndims, expected);
    if ((rc = read_up_to(gz, path, head + 4, 4 * ndims, &got, st))) return rc;
    if (got < 4 * ndims) return sm_status_fail(st, SM_ERR_DATA, path, "truncated IDX header");
    *total = 1;
    for (unsigned d = 0; d < ndims; d++) {
        dims[d] = read_be32(head + 4 + 4 * d);
        if (dims[d] == 0) return sm_status_fail(st, SM_ERR_DATA, path, "IDX dimension %u is zero", d);
        if (!sm_mem_size_ok(*total, dims[d], total))
            return sm_status_fail(st, SM_ERR_DATA, path, "IDX dimensions overflow the address space");
    }
    return SM_OK;
}

/* Replace *buf (holding `have` bytes) by a zeroed buffer of new_cap bytes. */
static int grow(uint8_t **buf, size_t have, size_t new_cap, const char *path, sm_status *st)
{
    uint8_t *bigger = sm_mem_alloc(new_cap, 1, st);
    if (!bigger) return sm_status_fail(st, SM_ERR_DATA, path, "out of memory reading %zu bytes", new_cap);
    if (have) memcpy(bigger, *buf, have); /* *buf is NULL on the first call */
    sm_mem_free(*buf);
    *buf = bigger;
    return SM_OK;
}

/* The data must be exactly `total` bytes: fewer is truncation, more is
 * trailing garbage (a header for a different file, a concatenation...). */
static int read_data(gzFile gz, const char *path, size_t total, uint8_t **out, sm_status *st)
{
    size_t cap = total < FIRST_CAPACITY ? total : FIRST_CAPACITY, have = 0, got;
    uint8_t *buf = NULL;
    int rc = grow(&buf, 0, cap, path, st);
    if (rc) return rc;
    for (;;) {
        if ((rc = read_up_to(gz, path, buf + have, cap - have, &got, st))) goto fail;
        have += got;
        if (have < cap || cap == total) break;
        size_t next = cap > total / 2 ? total : 2 * cap;
        if ((rc = grow(&buf, have, next, path, st))) goto fail;
        cap = next;
    }
    if (have < total) {
        rc = sm_status_fail(st, SM_ERR_DATA, path, "truncated IDX data: %zu of %zu bytes", have, total);
        goto fail;
    }
    uint8_t scratch[4096];
    size_t extra = 0;
    do {
        if ((rc = read_up_to(gz, path, scratch, sizeof scratch, &got, st))) goto fail;
        extra += got;
    } while (got == sizeof scratch);
    if (extra) {
        rc = sm_status_fail(st, SM_ERR_DATA, path, "%zu trailing bytes after the %zu bytes of IDX data", extra,
                            total);
        goto fail;
    }
    *out = buf;
    return SM_OK;
fail:
    sm_mem_free(buf);
    return rc;
}

static int read_idx(const char *path, unsigned ndims, const char *what, size_t *dims, uint8_t **data,
                    sm_status *st)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s",
                              errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, GZ_BUFFER);
    size_t total;
    int rc = read_header(gz, path, ndims, what, dims, &total, st);
    if (rc == SM_OK) rc = read_data(gz, path, total, data, st);
    /* Everything has been read and checked: closing a read-only stream
     * cannot lose data, so its result adds nothing. */
    gzclose(gz);
    return rc;
}

int sm_idx_read_images(const char *path, sm_idx_images *out, sm_status *st)
{
    memset(out, 0, sizeof *out);
    size_t dims[3];
    int rc = read_idx(path, 3, "images", dims, &out->pixels, st);
    if (rc) return rc;
    out->n = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];
    return SM_OK;
}

int sm_idx_read_labels(const char *path, sm_idx_labels *out, sm_status *st)
{
    memset(out, 0, sizeof *out);
    size_t dims[1];
    int rc = read_idx(path, 1, "labels", dims, &out->labels, st);
    if (rc) return rc;
    out->n = dims[0];
    return SM_OK;
}

/* path = "<dir>/<split>-<stem>.gz" if that exists, else the name without
 * ".gz" if that exists; otherwise an error naming the .gz file. */
static int find_file(const char *dir, const char *split, const char *stem, char *path, size_t size,
                     sm_status *st)
{
    int len = snprintf(path, size, "%s/%s-%s.gz", dir, split, stem);
    if (len < 0 || (size_t)len >= size) return sm_status_fail(st, SM_ERR_DATA, dir, "data directory path too long");
    struct stat sb;
    if (stat(path, &sb) == 0) return SM_OK;
    path[len - 3] = '\0';
    if (stat(path, &sb) == 0) return SM_OK;
    path[len - 3] = '.';
    return sm_status_fail(st, SM_ERR_DATA, path, "data file not found, with or without .gz");
}

static int check_split(const sm_idx_dataset *ds, const char *ipath, const char *lpath, sm_status *st)
{
    if (ds->images.n != ds->labels.n)
        return sm_status_fail(st, SM_ERR_DATA, lpath, "%zu labels but %zu images in %s", ds->labels.n,
                              ds->images.n, ipath);
    for (size_t i = 0; i < ds->labels.n; i++)
        if (ds->labels.labels[i] >= SM_IDX_CLASSES)
            return sm_status_fail(st, SM_ERR_DATA, lpath, "label %u of sample %zu is not a class 0..%d",
                                  ds->labels.labels[i], i, SM_IDX_CLASSES - 1);
    return SM_OK;
}

int sm_idx_load_split(const char *dir, const char *split, sm_idx_dataset *out, sm_status *st)
{
    memset(out, 0, sizeof *out);
    if (strcmp(split, "train") != 0 && strcmp(split, "t10k") != 0)
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "unknown split '%s' (expected train or t10k)", split);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sm_status_fail(st, SM_ERR_DATA, dir, "data directory not found");
    char ipath[4096], lpath[4096];
    int rc = find_file(dir, split, "images-idx3-ubyte", ipath, sizeof ipath, st);
    if (!rc) rc = find_file(dir, split, "labels-idx1-ubyte", lpath, sizeof lpath, st);
    if (!rc) rc = sm_idx_read_images(ipath, &out->images, st);
    if (!rc) rc = sm_idx_read_labels(lpath, &out->labels, st);
    if (!rc) rc = check_split(out, ipath, lpath, st);
    if (rc) sm_idx_dataset_free(out);
    return rc;
}

void sm_idx_images_free(sm_idx_images *im)
{
    sm_mem_free(im->pixels);
    memset(im, 0, sizeof *im);
}

void sm_idx_labels_free(sm_idx_labels *lb)
{
    sm_mem_free(lb->labels);
    memset(lb, 0, sizeof *lb);
}

void sm_idx_dataset_free(sm_idx_dataset *ds)
{
    sm_idx_images_free(&ds->images);
    sm_idx_labels_free(&ds->labels);
}
