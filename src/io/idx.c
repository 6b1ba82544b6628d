#include "io/idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/mem.h"

enum { IDX_UBYTE = 0x08, IDX_MAX_DIMS = 3 };

/* inflate takes an unsigned output count; 16 MiB per call keeps the number
 * of calls small (Fashion-MNIST train is 47 MB) without approaching that
 * limit. */
#define READ_CHUNK ((size_t)1 << 24)
/* The data buffer starts at this size (or the claimed size, if smaller) and
 * doubles as data arrive, so a lying header cannot make us allocate more
 * than about twice what the file really holds. */
#define FIRST_CAPACITY ((size_t)1 << 24)
/* Bytes read from the file per fread. */
#define IN_BUFFER ((size_t)1 << 18)

/* An IDX file as bytes: inflated when it starts with the gzip magic, as is
 * otherwise.  zlib's gzread is not used: it silently drops whatever follows
 * the gzip stream ("trailing garbage"), so a .gz with junk or another file
 * appended would load.  Here the end of a gzip member must be followed by
 * another member (gzip's own rule: concatenated members are one stream) or
 * by the end of the file. */
typedef struct {
    FILE *f;
    const char *path;
    int gzip;       /* the file is gzip */
    int member_end; /* inflate has finished a member */
    int eof;        /* f has no more bytes */
    z_stream zs;    /* next_in / avail_in: the unread bytes of in, in both modes */
    unsigned char *in;
} idx_stream;

static int fail_corrupt(idx_stream *s, const char *why, sm_status *st)
{
    return sm_status_fail(st, SM_ERR_DATA, s->path, "corrupt gzip data: %s", why);
}

/* Unless the file ends first, have at least `want` (<= IN_BUFFER) unread
 * bytes in the input buffer. */
static int refill(idx_stream *s, size_t want, sm_status *st)
{
    if (s->zs.avail_in >= want || s->eof) return SM_OK;
    memmove(s->in, s->zs.next_in, s->zs.avail_in);
    size_t room = IN_BUFFER - s->zs.avail_in, got = fread(s->in + s->zs.avail_in, 1, room, s->f);
    if (got < room) {
        if (ferror(s->f)) return sm_status_fail(st, SM_ERR_DATA, s->path, "read error: %s", strerror(errno));
        s->eof = 1;
    }
    s->zs.next_in = s->in;
    s->zs.avail_in += (uInt)got;
    return SM_OK;
}

static int stream_open(idx_stream *s, const char *path, sm_status *st)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f) return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s", strerror(errno));
    sm_status ast;
    s->in = sm_mem_alloc(IN_BUFFER, 1, &ast);
    if (!s->in) return sm_status_fail(st, ast.code, path, "%s", ast.msg);
    s->zs.next_in = s->in;
    int rc = refill(s, 2, st);
    if (rc) return rc;
    s->gzip = s->zs.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b;
    int zr = s->gzip ? inflateInit2(&s->zs, 16 + MAX_WBITS) : Z_OK; /* 16 +: gzip, not zlib, framing */
    if (zr != Z_OK) {
        s->gzip = 0; /* nothing for stream_close to end */
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot start zlib: %s", zError(zr));
    }
    return SM_OK;
}

static void stream_close(idx_stream *s)
{
    if (s->gzip) inflateEnd(&s->zs);
    if (s->f) fclose(s->f);
    sm_mem_free(s->in);
}

/* The next member after the end of one: the end of the file, or a gzip
 * header; anything else is trailing data. */
static int next_member(idx_stream *s, int *end, sm_status *st)
{
    int rc = refill(s, 2, st);
    if (rc) return rc;
    *end = s->zs.avail_in == 0;
    if (*end) return SM_OK;
    if (s->zs.avail_in < 2 || s->zs.next_in[0] != 0x1f || s->zs.next_in[1] != 0x8b)
        return sm_status_fail(st, SM_ERR_DATA, s->path, "trailing data after the gzip stream");
    s->member_end = 0;
    return inflateReset(&s->zs) == Z_OK ? SM_OK : fail_corrupt(s, "cannot restart inflate", st);
}

static int inflate_up_to(idx_stream *s, uint8_t *buf, size_t n, size_t *got, sm_status *st)
{
    while (*got < n) {
        int rc, end;
        if (s->member_end) {
            if ((rc = next_member(s, &end, st))) return rc;
            if (end) return SM_OK;
        }
        if ((rc = refill(s, 1, st))) return rc;
        if (s->zs.avail_in == 0) return fail_corrupt(s, "unexpected end of file", st);
        size_t want = n - *got < READ_CHUNK ? n - *got : READ_CHUNK;
        s->zs.next_out = buf + *got;
        s->zs.avail_out = (uInt)want;
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        *got += want - s->zs.avail_out;
        if (zr == Z_STREAM_END) s->member_end = 1;
        else if (zr != Z_OK) return fail_corrupt(s, s->zs.msg ? s->zs.msg : zError(zr), st);
    }
    return SM_OK;
}

static int copy_up_to(idx_stream *s, uint8_t *buf, size_t n, size_t *got, sm_status *st)
{
    while (*got < n) {
        int rc = refill(s, 1, st);
        if (rc) return rc;
        if (s->zs.avail_in == 0) break;
        size_t k = n - *got < s->zs.avail_in ? n - *got : s->zs.avail_in;
        memcpy(buf + *got, s->zs.next_in, k);
        s->zs.next_in += k;
        s->zs.avail_in -= (uInt)k;
        *got += k;
    }
    return SM_OK;
}

/* Read up to n bytes into buf; *got < n only at the end of the data.  A
 * corrupt gzip stream, one cut short and bytes after its end are failures. */
static int read_up_to(idx_stream *s, uint8_t *buf, size_t n, size_t *got, sm_status *st)
{
    *got = 0;
    return s->gzip ? inflate_up_to(s, buf, n, got, st) : copy_up_to(s, buf, n, got, st);
}

static size_t read_be32(const uint8_t *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
}

/* Header: magic, then ndims big-endian dimensions.  Fills dims and *total
 * (their product, in bytes since the type is ubyte). */
static int read_header(idx_stream *s, unsigned ndims, const char *what, size_t *dims, size_t *total,
                       sm_status *st)
{
    const char *path = s->path;
    uint8_t head[4 + 4 * IDX_MAX_DIMS];
    size_t got;
    int rc = read_up_to(s, head, 4, &got, st);
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
    if ((rc = read_up_to(s, head + 4, 4 * ndims, &got, st))) return rc;
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
static int read_data(idx_stream *s, size_t total, uint8_t **out, sm_status *st)
{
    const char *path = s->path;
    size_t cap = total < FIRST_CAPACITY ? total : FIRST_CAPACITY, have = 0, got;
    uint8_t *buf = NULL;
    int rc = grow(&buf, 0, cap, path, st);
    if (rc) return rc;
    for (;;) {
        if ((rc = read_up_to(s, buf + have, cap - have, &got, st))) goto fail;
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
        if ((rc = read_up_to(s, scratch, sizeof scratch, &got, st))) goto fail;
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
    idx_stream s;
    size_t total;
    int rc = stream_open(&s, path, st);
    if (rc == SM_OK) rc = read_header(&s, ndims, what, dims, &total, st);
    if (rc == SM_OK) rc = read_data(&s, total, data, st);
    stream_close(&s);
    return rc;
}

int sm_idx_read_images(const char *path, sm_idx_images *out, sm_status *st)
{
    size_t dims[3] = {0};
    uint8_t *pixels = NULL;
    int rc = read_idx(path, 3, "images", dims, &pixels, st);
    *out = rc ? (sm_idx_images){0} : (sm_idx_images){pixels, dims[0], dims[1], dims[2]};
    return rc;
}

int sm_idx_read_labels(const char *path, sm_idx_labels *out, sm_status *st)
{
    size_t dims[1] = {0};
    uint8_t *labels = NULL;
    int rc = read_idx(path, 1, "labels", dims, &labels, st);
    *out = rc ? (sm_idx_labels){0} : (sm_idx_labels){labels, dims[0]};
    return rc;
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
