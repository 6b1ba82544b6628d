#include "io/checkpoint.h"
#include "io/le.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/mem.h"
#include "io/atomic.h"

enum {
    MAGIC_LEN = 8,
    HEADER_LEN = MAGIC_LEN + 4 + 4,  /* magic, version, section count */
    CRC_LEN = 4,
    CHUNK = 32768                    /* bytes encoded per fwrite */
};

/* One section, in host byte order in memory.  data always has one zero byte
 * past the payload, so a text section is a C string as it stands. */
typedef struct {
    char name[SM_CKPT_NAME_MAX + 1];
    size_t name_len;
    uint32_t type;
    size_t bytes;
    unsigned char *data;
} ckpt_section;

struct sm_ckpt_writer {
    ckpt_section *sec;  /* SM_CKPT_MAX_SECTIONS slots */
    size_t n;
};

struct sm_ckpt {
    ckpt_section *sec;
    size_t n;
    char *path;  /* for the getters' messages */
};

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                           */

/* Element size of a type tag; 0 for an unknown tag. */
static size_t elem_size(uint32_t type)
{
    switch (type) {
    case SM_CKPT_BYTES:
    case SM_CKPT_TEXT: return 1;
    case SM_CKPT_F32: return 4;
    case SM_CKPT_U64: return 8;
    default: return 0;
    }
}

static const char *type_noun(uint32_t type)
{
    switch (type) {
    case SM_CKPT_BYTES: return "bytes";
    case SM_CKPT_F32: return "f32 values";
    case SM_CKPT_U64: return "u64 values";
    default: return "text";
    }
}

/* Names end up in error messages and are compared as C strings, so they are
 * restricted to characters that need no escaping (and never contain NUL). */
static int name_ok(const char *name, size_t len)
{
    if (len == 0 || len > SM_CKPT_NAME_MAX) return 0;
    for (size_t k = 0; k < len; k++) {
        char ch = name[k];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && (ch == '\0' || !strchr("_-./:", ch))) return 0;
    }
    return 1;
}

static const ckpt_section *find_section(const ckpt_section *sec, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sec[i].name, name) == 0) return &sec[i];
    return NULL;
}

static void free_sections(ckpt_section *sec, size_t n)
{
    if (!sec) return;
    for (size_t i = 0; i < n; i++) sm_mem_free(sec[i].data);
    sm_mem_free(sec);
}

static void host_to_le(unsigned char *dst, const unsigned char *src, size_t count, size_t es)
{
    for (size_t i = 0; i < count; i++, src += es, dst += es) {
        uint64_t v = 0;
        if (es == 4) {
            uint32_t u;
            memcpy(&u, src, sizeof u);
            v = u;
        } else if (es == 8) {
            memcpy(&v, src, sizeof v);
        } else {
            v = *src;
        }
        sm_le_store(dst, v, es);
    }
}

/* In place: an element keeps its size. */
static void le_to_host(unsigned char *p, size_t count, size_t es)
{
    for (size_t i = 0; i < count; i++, p += es) {
        uint64_t v = sm_le_load(p, es);
        if (es == 4) {
            uint32_t u = (uint32_t)v;
            memcpy(p, &u, sizeof u);
        } else if (es == 8) {
            memcpy(p, &v, sizeof v);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */

sm_ckpt_writer *sm_ckpt_writer_alloc(sm_status *st)
{
    sm_ckpt_writer *w = sm_mem_alloc(1, sizeof *w, st);
    if (!w) return NULL;
    w->sec = sm_mem_alloc(SM_CKPT_MAX_SECTIONS, sizeof *w->sec, st);
    if (!w->sec) {
        sm_mem_free(w);
        return NULL;
    }
    return w;
}

void sm_ckpt_writer_free(sm_ckpt_writer *w)
{
    if (!w) return;
    free_sections(w->sec, w->n);
    sm_mem_free(w);
}

static int add_section(sm_ckpt_writer *w, const char *name, sm_ckpt_type type, const void *data,
                       size_t count, sm_status *st)
{
    size_t len = strlen(name);
    if (!name_ok(name, len))
        return sm_status_fail(st, SM_ERR_USAGE, NULL,
                              "invalid checkpoint section name '%s': use 1 to %d letters, digits or _-./:",
                              name, SM_CKPT_NAME_MAX);
    if (find_section(w->sec, w->n, name))
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "checkpoint section '%s' added twice", name);
    if (w->n == SM_CKPT_MAX_SECTIONS)
        return sm_status_fail(st, SM_ERR_USAGE, NULL,
                              "cannot add checkpoint section '%s': the limit is %d sections", name,
                              SM_CKPT_MAX_SECTIONS);
    size_t es = elem_size(type), bytes;
    /* The extra element keeps the copy's terminating zero byte in bounds. */
    if (!sm_mem_size_ok(count, es, &bytes) || bytes == SIZE_MAX)
        return sm_status_fail(st, SM_ERR_DATA, NULL, "checkpoint section '%s' is too large", name);
    unsigned char *copy = sm_mem_alloc(bytes + 1, 1, st);
    if (!copy) return SM_ERR_DATA;
    if (bytes) memcpy(copy, data, bytes);
    ckpt_section *s = &w->sec[w->n++];
    memcpy(s->name, name, len + 1);
    s->name_len = len;
    s->type = type;
    s->bytes = bytes;
    s->data = copy;
    return SM_OK;
}

int sm_ckpt_add_text(sm_ckpt_writer *w, const char *name, const char *text, sm_status *st)
{
    return add_section(w, name, SM_CKPT_TEXT, text, strlen(text), st);
}

int sm_ckpt_add_f32(sm_ckpt_writer *w, const char *name, const float *values, size_t n,
                    sm_status *st)
{
    return add_section(w, name, SM_CKPT_F32, values, n, st);
}

int sm_ckpt_add_u64(sm_ckpt_writer *w, const char *name, const uint64_t *values, size_t n,
                    sm_status *st)
{
    return add_section(w, name, SM_CKPT_U64, values, n, st);
}

int sm_ckpt_add_bytes(sm_ckpt_writer *w, const char *name, const void *data, size_t n,
                      sm_status *st)
{
    return add_section(w, name, SM_CKPT_BYTES, data, n, st);
}

/* Output stream with a running CRC; the first failure is remembered and
 * later writes are skipped, so callers check once at the end. */
typedef struct {
    FILE *f;
    uLong crc;
    int err;  /* errno of the first failed fwrite, or 0 */
} ckpt_out;

static void out_put(ckpt_out *o, const void *p, size_t n)
{
    if (o->err || n == 0) return;
    if (fwrite(p, 1, n, o->f) != n) {
        o->err = errno ? errno : EIO;
        return;
    }
    o->crc = crc32_z(o->crc, p, n);
}

static void out_uint(ckpt_out *o, uint64_t v, size_t bytes)
{
    unsigned char b[8];
    sm_le_store(b, v, bytes);
    out_put(o, b, bytes);
}

static void out_section(ckpt_out *o, const ckpt_section *s)
{
    out_uint(o, s->name_len, 4);
    out_put(o, s->name, s->name_len);
    out_uint(o, s->type, 4);
    out_uint(o, s->bytes, 8);
    unsigned char chunk[CHUNK];
    size_t es = elem_size(s->type);
    for (size_t done = 0; done < s->bytes;) {
        size_t n = s->bytes - done < CHUNK ? s->bytes - done : CHUNK;  /* CHUNK % 8 == 0 */
        host_to_le(chunk, s->data + done, n / es, es);
        out_put(o, chunk, n);
        done += n;
    }
}

int sm_ckpt_write(const char *path, const sm_ckpt_writer *w, sm_status *st)
{
    sm_atomic_file af;
    if (sm_atomic_open(&af, path, st)) return SM_ERR_DATA;
    ckpt_out o = {af.f, crc32_z(0L, Z_NULL, 0), 0};
    out_put(&o, SM_CKPT_MAGIC, MAGIC_LEN);
    out_uint(&o, SM_CKPT_VERSION, 4);
    out_uint(&o, w->n, 4);
    for (size_t i = 0; i < w->n; i++) out_section(&o, &w->sec[i]);
    out_uint(&o, o.crc & 0xffffffffu, CRC_LEN);
    if (o.err) {
        sm_atomic_abort(&af);
        return sm_status_fail(st, SM_ERR_DATA, path, "write failed: %s", strerror(o.err));
    }
    return sm_atomic_commit(&af, st);
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */

/* Input stream: bytes left in the file and a running CRC.  Callers compare
 * their needs with left before reading, so a short fread means the file
 * changed underneath or the device failed. */
typedef struct {
    FILE *f;
    const char *path;
    uintmax_t left;
    uLong crc;
} ckpt_in;

/* SM_ERR_DATA with the file as where. */
static int in_fail(const ckpt_in *in, sm_status *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int in_fail(const ckpt_in *in, sm_status *st, const char *fmt, ...)
{
    char what[sizeof st->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sm_status_fail(st, SM_ERR_DATA, in->path, "%s", what);
}

static int in_read(ckpt_in *in, void *dst, size_t n, sm_status *st)
{
    if (n && fread(dst, 1, n, in->f) != n) {
        if (ferror(in->f)) return in_fail(in, st, "read error: %s", strerror(errno));
        return in_fail(in, st, "truncated checkpoint: file shrank while being read");
    }
    in->left -= n;
    in->crc = crc32_z(in->crc, dst, n);
    return SM_OK;
}

static int in_uint(ckpt_in *in, size_t bytes, uint64_t *v, sm_status *st)
{
    unsigned char b[8];
    if (in_read(in, b, bytes, st)) return SM_ERR_DATA;
    *v = sm_le_load(b, bytes);
    return SM_OK;
}

/* "section 'params'", or "section 3" while the name is not known to be valid. */
static void section_label(char *buf, size_t cap, const ckpt_section *s, size_t index)
{
    if (name_ok(s->name, s->name_len)) snprintf(buf, cap, "section '%s'", s->name);
    else snprintf(buf, cap, "section %zu", index + 1);
}

static int read_header(ckpt_in *in, uint32_t *count, sm_status *st)
{
    unsigned char magic[MAGIC_LEN];
    size_t have = in->left < MAGIC_LEN ? (size_t)in->left : MAGIC_LEN;
    if (in_read(in, magic, have, st)) return SM_ERR_DATA;
    if (memcmp(magic, SM_CKPT_MAGIC, have) != 0)
        return in_fail(in, st, "not a simsiam-mi checkpoint: bad magic");
    if (have < MAGIC_LEN || in->left < HEADER_LEN - MAGIC_LEN)
        return in_fail(in, st, "truncated checkpoint: file ends inside the header");
    uint64_t version, n;
    if (in_uint(in, 4, &version, st) || in_uint(in, 4, &n, st)) return SM_ERR_DATA;
    if (version != SM_CKPT_VERSION)
        return in_fail(in, st, "unsupported checkpoint format version %" PRIu64
                       "; this build reads version %u",
                       version, SM_CKPT_VERSION);
    if (n > SM_CKPT_MAX_SECTIONS)
        return in_fail(in, st,
                       "checkpoint claims %" PRIu64 " sections, more than the limit of %d: file is corrupt",
                       n, SM_CKPT_MAX_SECTIONS);
    *count = (uint32_t)n;
    return SM_OK;
}

static int fail_cut(const ckpt_in *in, size_t index, uint32_t count, sm_status *st)
{
    return in_fail(in, st, "truncated checkpoint: file ends inside section %zu of %" PRIu32, index + 1,
                   count);
}

/* Name, type tag, length and payload of section index; only what is needed
 * to parse the file safely is checked here (see the header). */
static int read_section(ckpt_in *in, size_t index, uint32_t count, ckpt_section *s, sm_status *st)
{
    uint64_t name_len, type, bytes;
    if (in->left < 4) return fail_cut(in, index, count, st);
    if (in_uint(in, 4, &name_len, st)) return SM_ERR_DATA;
    if (name_len > SM_CKPT_NAME_MAX)
        return in_fail(in, st,
                       "checkpoint section %zu has a name length of %" PRIu64 " bytes; names have 1 to %d",
                       index + 1, name_len, SM_CKPT_NAME_MAX);
    if (in->left < name_len + 4 + 8) return fail_cut(in, index, count, st);
    if (in_read(in, s->name, (size_t)name_len, st) || in_uint(in, 4, &type, st) ||
        in_uint(in, 8, &bytes, st))
        return SM_ERR_DATA;
    s->name_len = (size_t)name_len;
    s->type = (uint32_t)type;
    if (bytes > in->left) {
        char label[SM_CKPT_NAME_MAX + 32];
        section_label(label, sizeof label, s, index);
        return in_fail(in, st,
                       "checkpoint %s claims %" PRIu64 " bytes but only %ju remain in the file: "
                       "file is truncated or corrupt",
                       label, bytes, in->left);
    }
    s->bytes = (size_t)bytes;
    /* bytes is at most the file size, so the terminating byte cannot overflow. */
    sm_status ast;
    s->data = sm_mem_alloc_aligned(s->bytes + 1, 1, &ast);
    if (!s->data) return in_fail(in, st, "%s", ast.msg);
    return in_read(in, s->data, s->bytes, st);
}

/* The end of the file must be exactly the checksum of everything before it. */
static int read_checksum(ckpt_in *in, sm_status *st)
{
    if (in->left < CRC_LEN)
        return in_fail(in, st, "truncated checkpoint: file ends before the checksum");
    if (in->left > CRC_LEN)
        return in_fail(in, st, "%ju trailing bytes after the last checkpoint section: file is corrupt",
                       in->left - CRC_LEN);
    uLong computed = in->crc & 0xffffffffu;
    uint64_t stored;
    if (in_uint(in, CRC_LEN, &stored, st)) return SM_ERR_DATA;
    if (stored != computed)
        return in_fail(in, st, "checksum mismatch: file is corrupt");
    return SM_OK;
}

/* After the checksum: what a consistent writer guarantees; then decode. */
static int check_section(const sm_ckpt *c, size_t index, sm_status *st)
{
    ckpt_section *s = &c->sec[index];
    if (!name_ok(s->name, s->name_len))
        return sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint section %zu has an invalid name",
                              index + 1);
    if (find_section(c->sec, index, s->name))
        return sm_status_fail(st, SM_ERR_DATA, c->path, "duplicate checkpoint section '%s'", s->name);
    size_t es = elem_size(s->type);
    if (es == 0)
        return sm_status_fail(st, SM_ERR_DATA, c->path,
                              "checkpoint section '%s' has unknown type tag %" PRIu32, s->name, s->type);
    if (s->bytes % es != 0)
        return sm_status_fail(st, SM_ERR_DATA, c->path,
                              "checkpoint section '%s' holds %zu bytes, not a whole number of "
                              "%zu-byte values",
                              s->name, s->bytes, es);
    if (s->type == SM_CKPT_TEXT && memchr(s->data, '\0', s->bytes))
        return sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint section '%s' text contains a NUL byte",
                              s->name);
    le_to_host(s->data, s->bytes / es, es);
    return SM_OK;
}

static int load(FILE *f, sm_ckpt *c, sm_status *st)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0)
        return sm_status_fail(st, SM_ERR_DATA, c->path, "cannot stat checkpoint: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint is not a regular file");
    ckpt_in in = {f, c->path, (uintmax_t)sb.st_size, crc32_z(0L, Z_NULL, 0)};
    uint32_t count = 0;
    if (read_header(&in, &count, st)) return SM_ERR_DATA;
    sm_status ast;
    c->sec = sm_mem_alloc(count, sizeof *c->sec, &ast);
    if (!c->sec) return sm_status_fail(st, ast.code, c->path, "%s", ast.msg);
    for (uint32_t i = 0; i < count; i++) {
        /* Counted before reading so a failure inside frees this section too. */
        c->n = (size_t)i + 1;
        if (read_section(&in, i, count, &c->sec[i], st)) return SM_ERR_DATA;
    }
    if (read_checksum(&in, st)) return SM_ERR_DATA;
    for (size_t i = 0; i < c->n; i++)
        if (check_section(c, i, st)) return SM_ERR_DATA;
    return SM_OK;
}

int sm_ckpt_read(const char *path, sm_ckpt **ckpt, sm_status *st)
{
    *ckpt = NULL;
    sm_status ast;
    sm_ckpt *c = sm_mem_alloc(1, sizeof *c, &ast);
    char *copy = c ? sm_mem_alloc(strlen(path) + 1, 1, &ast) : NULL;
    if (!copy) {
        sm_mem_free(c);
        return sm_status_fail(st, ast.code, path, "%s", ast.msg);
    }
    memcpy(copy, path, strlen(path) + 1);
    c->path = copy;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        sm_ckpt_free(c);
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot open checkpoint: %s", strerror(e));
    }
    int rc = load(f, c, st);
    fclose(f);
    if (rc) {
        sm_ckpt_free(c);
        return rc;
    }
    *ckpt = c;
    return SM_OK;
}

void sm_ckpt_free(sm_ckpt *c)
{
    if (!c) return;
    free_sections(c->sec, c->n);
    sm_mem_free(c->path);
    sm_mem_free(c);
}

int sm_ckpt_has(const sm_ckpt *c, const char *name) { return find_section(c->sec, c->n, name) != NULL; }

/* The section called name, of this type, or NULL with the reason in st. */
static const ckpt_section *lookup(const sm_ckpt *c, const char *name, sm_ckpt_type type, sm_status *st)
{
    const ckpt_section *s = find_section(c->sec, c->n, name);
    if (!s) {
        sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint has no section '%s'", name);
        return NULL;
    }
    if (s->type != (uint32_t)type) {
        sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint section '%s' holds %s, expected %s", name,
                       type_noun(s->type), type_noun(type));
        return NULL;
    }
    return s;
}

/* lookup, plus the element count the caller's model needs. */
static const ckpt_section *lookup_array(const sm_ckpt *c, const char *name, sm_ckpt_type type,
                                        size_t expected_count, sm_status *st)
{
    const ckpt_section *s = lookup(c, name, type, st);
    if (!s) return NULL;
    size_t count = s->bytes / elem_size(type);
    if (count != expected_count) {
        sm_status_fail(st, SM_ERR_DATA, c->path, "checkpoint section '%s' has %zu values, expected %zu",
                       name, count, expected_count);
        return NULL;
    }
    return s;
}

int sm_ckpt_get_f32(const sm_ckpt *c, const char *name, size_t expected_count,
                    const float **values, sm_status *st)
{
    const ckpt_section *s = lookup_array(c, name, SM_CKPT_F32, expected_count, st);
    *values = s ? (const float *)(const void *)s->data : NULL;
    return s ? SM_OK : SM_ERR_DATA;
}

int sm_ckpt_get_u64(const sm_ckpt *c, const char *name, size_t expected_count,
                    const uint64_t **values, sm_status *st)
{
    const ckpt_section *s = lookup_array(c, name, SM_CKPT_U64, expected_count, st);
    *values = s ? (const uint64_t *)(const void *)s->data : NULL;
    return s ? SM_OK : SM_ERR_DATA;
}

int sm_ckpt_get_text(const sm_ckpt *c, const char *name, const char **text, sm_status *st)
{
    const ckpt_section *s = lookup(c, name, SM_CKPT_TEXT, st);
    *text = s ? (const char *)s->data : NULL;
    return s ? SM_OK : SM_ERR_DATA;
}

int sm_ckpt_get_bytes(const sm_ckpt *c, const char *name, const void **data, size_t *n,
                      sm_status *st)
{
    const ckpt_section *s = lookup(c, name, SM_CKPT_BYTES, st);
    *data = s ? s->data : NULL;
    *n = s ? s->bytes : 0;
    return s ? SM_OK : SM_ERR_DATA;
}
