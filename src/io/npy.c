#include "io/npy.h"
#include "io/le.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "io/atomic.h"

static const unsigned char npy_magic[SM_NPY_MAGIC_LEN] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

enum {
    NPY_PREAMBLE = 8,        /* magic + major + minor */
    NPY_HEADER_MAX = 16384,  /* real headers are ~120 bytes; this bounds a hostile length */
    NPY_ALIGN = 64,          /* numpy pads the header so the data start is 64-byte aligned */
    NPY_CHUNK = 32768,       /* bytes converted per fread/fwrite */
    NPY_FIRST_VALUES = 1 << 17 /* allocated before a stream of unknown size has shown more */
};

/* ------------------------------------------------------------------------ */
/* Elements: the file is little-endian whatever the host is.                */

/* float -> double is exact, so every element can travel as a double. */
static double decode(const unsigned char *p, sm_npy_type t)
{
    if (t == SM_NPY_F32) {
        uint32_t u = (uint32_t)sm_le_load(p, 4);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    uint64_t u = sm_le_load(p, 8);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* v must fit in t (see fits_float). */
static void encode(unsigned char *p, double v, sm_npy_type t)
{
    if (t == SM_NPY_F32) {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, sizeof u);
        sm_le_store(p, u, 4);
    } else {
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        sm_le_store(p, u, 8);
    }
}

/* Narrowing a finite double beyond FLT_MAX is undefined in C and would turn
 * data into Inf silently; NaN and Inf themselves convert fine. */
static int fits_float(double v) { return !isfinite(v) || fabs(v) <= FLT_MAX; }

static double elem_get(const void *base, sm_npy_type t, size_t i)
{
    return t == SM_NPY_F32 ? ((const float *)base)[i] : ((const double *)base)[i];
}

static void elem_set(void *base, sm_npy_type t, size_t i, double v)
{
    if (t == SM_NPY_F32) ((float *)base)[i] = (float)v;
    else ((double *)base)[i] = v;
}

static int fail_float_range(sm_status *st, const char *path, double v, size_t i, size_t d)
{
    return sm_status_fail(st, SM_ERR_DATA, path,
                          "value %g at row %zu, column %zu does not fit in float32", v, i / d + 1,
                          i % d + 1);
}

/* ------------------------------------------------------------------------ */
/* Header dict: {'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), } */

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

/* The dict must have exactly these keys (numpy refuses others too). */
static const struct {
    unsigned bit;
    const char *name;
} npy_keys[] = {{KEY_DESCR, "descr"}, {KEY_FORTRAN, "fortran_order"}, {KEY_SHAPE, "shape"}};

typedef struct {
    const char *s;    /* parse cursor in the NUL-terminated header */
    unsigned seen;    /* KEY_* bits */
    char descr[32];
    int fortran;
    size_t ndim;      /* dimensions listed */
    size_t dim[2];    /* the first two */
    int dim_too_big;  /* a dimension does not fit in size_t */
    char err[160];
} npy_header;

static int header_bad(npy_header *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int header_bad(npy_header *h, const char *fmt, ...)
{
    int n = snprintf(h->err, sizeof h->err, "malformed .npy header: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->err + n, sizeof h->err - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void skip_space(npy_header *h)
{
    while (*h->s == ' ' || *h->s == '\t' || *h->s == '\n' || *h->s == '\r') h->s++;
}

static int expect_char(npy_header *h, char c)
{
    skip_space(h);
    if (*h->s != c) return header_bad(h, "expected '%c'", c);
    h->s++;
    return 0;
}

/* A Python string literal without escapes; copied (truncated) into out. */
static int parse_string(npy_header *h, char *out, size_t cap)
{
    skip_space(h);
    char q = *h->s;
    if (q != '\'' && q != '"') return header_bad(h, "expected a quoted string");
    size_t len = 0;
    for (h->s++; *h->s != q; h->s++) {
        if (*h->s == '\0' || *h->s == '\\') return header_bad(h, "unterminated or escaped string");
        if (len + 1 < cap) out[len++] = *h->s;
    }
    h->s++;
    out[len] = '\0';
    return 0;
}

static int parse_bool(npy_header *h, int *out)
{
    skip_space(h);
    for (int v = 0; v <= 1; v++) {
        const char *word = v ? "True" : "False";
        size_t len = strlen(word);
        if (strncmp(h->s, word, len) == 0 && !isalnum((unsigned char)h->s[len])) {
            h->s += len;
            *out = v;
            return 0;
        }
    }
    return header_bad(h, "'fortran_order' is not True or False");
}

/* A non-negative integer (Python 2's "3L" too); too big for size_t sets
 * dim_too_big rather than failing, so the message can say "overflows". */
static int parse_dim(npy_header *h, size_t *out)
{
    skip_space(h);
    if (!isdigit((unsigned char)*h->s)) return header_bad(h, "shape entries must be non-negative integers");
    size_t v = 0;
    for (; isdigit((unsigned char)*h->s); h->s++) {
        unsigned digit = (unsigned)(*h->s - '0');
        if (v > (SIZE_MAX - digit) / 10) h->dim_too_big = 1;
        else v = v * 10 + digit;
    }
    if (*h->s == 'L') h->s++;
    *out = v;
    return 0;
}

/* "()", "(n,)", "(n, d)", "(n, d,)", ...; "(n)" is an int in Python, not a tuple. */
static int parse_shape(npy_header *h)
{
    if (expect_char(h, '(')) return header_bad(h, "'shape' is not a tuple");
    h->ndim = 0;
    skip_space(h);
    int trailing_comma = 0;
    while (*h->s != ')') {
        size_t v = 0;
        if (parse_dim(h, &v)) return -1;
        if (h->ndim < 2) h->dim[h->ndim] = v;
        h->ndim++;
        skip_space(h);
        trailing_comma = *h->s == ',';
        if (trailing_comma) h->s++;
        else if (*h->s != ')') return header_bad(h, "expected ',' or ')' in 'shape'");
        skip_space(h);
    }
    h->s++;
    if (h->ndim == 1 && !trailing_comma) return header_bad(h, "'shape' is not a tuple");
    return 0;
}

static int parse_value(npy_header *h, const char *key)
{
    unsigned bit = 0;
    for (size_t k = 0; k < sizeof npy_keys / sizeof npy_keys[0]; k++)
        if (strcmp(key, npy_keys[k].name) == 0) bit = npy_keys[k].bit;
    if (!bit) return header_bad(h, "unexpected key '%s'", key);
    if (h->seen & bit) return header_bad(h, "duplicate key '%s'", key);
    h->seen |= bit;
    if (bit == KEY_FORTRAN) return parse_bool(h, &h->fortran);
    if (bit == KEY_SHAPE) return parse_shape(h);
    skip_space(h);
    if (*h->s == '[' || *h->s == '{') {
        snprintf(h->err, sizeof h->err, "unsupported dtype: structured array (need '<f4' or '<f8')");
        return -1;
    }
    return parse_string(h, h->descr, sizeof h->descr);
}

static int parse_header(npy_header *h, const char *text)
{
    memset(h, 0, sizeof *h);
    h->s = text;
    if (expect_char(h, '{')) return header_bad(h, "not a dict");
    skip_space(h);
    while (*h->s != '}') {
        char key[32];
        if (parse_string(h, key, sizeof key) || expect_char(h, ':') || parse_value(h, key)) return -1;
        skip_space(h);
        if (*h->s == ',') h->s++;
        else if (*h->s != '}') return header_bad(h, "expected ',' or '}'");
        skip_space(h);
    }
    h->s++;
    skip_space(h);
    if (*h->s) return header_bad(h, "text after the dict");
    for (size_t k = 0; k < sizeof npy_keys / sizeof npy_keys[0]; k++)
        if (!(h->seen & npy_keys[k].bit)) return header_bad(h, "missing key '%s'", npy_keys[k].name);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

typedef struct {
    sm_npy_type type;
    size_t n, d, count, bytes;
    int fortran; /* the data column by column (NumPy writes transposed and sliced arrays so) */
} npy_layout;

/* Where the file's k-th value goes in the row-major matrix. */
static size_t value_index(const npy_layout *lay, size_t k)
{
    return lay->fortran ? (k % lay->n) * lay->d + k / lay->n : k;
}

/* *buf, read in the file's order, into row-major order (a new buffer: the
 * data arrive before their size is known, from a pipe). */
static int to_row_major(const npy_layout *lay, sm_npy_type t, void **buf, const char *path, sm_status *st)
{
    if (!lay->fortran) return SM_OK;
    sm_status ast;
    unsigned char *rows = sm_mem_alloc_aligned(lay->count, t, &ast);
    if (!rows) return sm_status_fail(st, ast.code, path, "%s", ast.msg);
    const unsigned char *cols = *buf;
    for (size_t k = 0; k < lay->count; k++) memcpy(rows + value_index(lay, k) * t, cols + k * t, t);
    sm_mem_free(*buf);
    *buf = rows;
    return SM_OK;
}

/* From a parsed header to a layout, or the reason the file is not supported. */
static int check_header(const npy_header *h, const char *path, npy_layout *lay, sm_status *st)
{
    if (strcmp(h->descr, "<f4") == 0) lay->type = SM_NPY_F32;
    else if (strcmp(h->descr, "<f8") == 0) lay->type = SM_NPY_F64;
    else if (h->descr[0] == '>')
        return sm_status_fail(st, SM_ERR_DATA, path,
                              "big-endian dtype '%s' is not supported (need '<f4' or '<f8')", h->descr);
    else
        return sm_status_fail(st, SM_ERR_DATA, path,
                              "unsupported dtype '%s' (need float32 '<f4' or float64 '<f8')", h->descr);
    if (h->ndim < 1 || h->ndim > 2)
        return sm_status_fail(st, SM_ERR_DATA, path,
                              "array has %zu dimensions; only 1-D and 2-D are supported", h->ndim);
    lay->n = h->dim[0];
    lay->d = h->ndim == 2 ? h->dim[1] : 1;
    lay->fortran = h->fortran && lay->d > 1 && lay->n > 1;
    if (h->dim_too_big || !sm_mem_size_ok(lay->n, lay->d, &lay->count) ||
        !sm_mem_size_ok(lay->count, lay->type, &lay->bytes))
        return sm_status_fail(st, SM_ERR_DATA, path, "shape overflows: its size does not fit in size_t");
    return SM_OK;
}

static int fail_read(FILE *f, sm_status *st, const char *path, const char *what)
{
    if (ferror(f)) return sm_status_fail(st, SM_ERR_DATA, path, "read error: %s", strerror(errno));
    return sm_status_fail(st, SM_ERR_DATA, path, "%s", what);
}

/* Magic, version, header length and dict; leaves f at the first data byte. */
static int read_header(FILE *f, const char *path, npy_layout *lay, sm_status *st)
{
    unsigned char pre[NPY_PREAMBLE + 4];
    size_t got = fread(pre, 1, NPY_PREAMBLE, f);
    if (got < sizeof npy_magic || memcmp(pre, npy_magic, sizeof npy_magic) != 0)
        return fail_read(f, st, path, "not a .npy file (bad magic)");
    if (got < NPY_PREAMBLE) return fail_read(f, st, path, "truncated .npy header");
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return sm_status_fail(st, SM_ERR_DATA, path,
                              "unsupported .npy version %d.%d (supported: 1.0, 2.0, 3.0)", major, minor);
    size_t len_bytes = major == 1 ? 2 : 4;
    if (fread(pre + NPY_PREAMBLE, 1, len_bytes, f) != len_bytes)
        return fail_read(f, st, path, "truncated .npy header");
    size_t hlen = (size_t)sm_le_load(pre + NPY_PREAMBLE, len_bytes);
    if (hlen > NPY_HEADER_MAX)
        return sm_status_fail(st, SM_ERR_DATA, path, "header length %zu exceeds the %d-byte limit", hlen,
                              NPY_HEADER_MAX);
    char text[NPY_HEADER_MAX + 1];
    if (fread(text, 1, hlen, f) != hlen) {
        char what[96];
        snprintf(what, sizeof what, "header length %zu runs past the end of the file", hlen);
        return fail_read(f, st, path, what);
    }
    text[hlen] = '\0';
    if (memchr(text, '\0', hlen)) /* the parser would stop there and never see what follows */
        return sm_status_fail(st, SM_ERR_DATA, path, "malformed .npy header: a NUL byte in it");
    npy_header h;
    if (parse_header(&h, text)) return sm_status_fail(st, SM_ERR_DATA, path, "%s", h.err);
    return check_header(&h, path, lay, st);
}

static int fail_truncated(sm_status *st, const char *path, size_t need, uintmax_t have)
{
    return sm_status_fail(st, SM_ERR_DATA, path,
                          "truncated data: the shape needs %zu bytes, the file has %ju", need, have);
}

static int fail_trailing(sm_status *st, const char *path)
{
    return sm_status_fail(st, SM_ERR_DATA, path, "trailing bytes after the array data");
}

/* How many values to allocate before reading the data.  A regular file's
 * size is compared with the shape first, so a header claiming 2^40 rows in a
 * small file fails as "truncated" before anything is allocated, and then all
 * of them.  Any other stream (a pipe, a FIFO) tells its size only by ending:
 * at most NPY_FIRST_VALUES, and read_data grows the buffer as data arrive. */
static int first_capacity(FILE *f, const char *path, const npy_layout *lay, size_t *first, sm_status *st)
{
    struct stat sb;
    long pos = ftell(f);
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || pos < 0) {
        *first = lay->count < NPY_FIRST_VALUES ? lay->count : NPY_FIRST_VALUES;
        return SM_OK;
    }
    uintmax_t have = (uintmax_t)sb.st_size - (uintmax_t)pos;
    if (have < lay->bytes) return fail_truncated(st, path, lay->bytes, have);
    if (have > lay->bytes) return fail_trailing(st, path);
    *first = lay->count;
    return SM_OK;
}

/* Make room for `need` values of type t in *buf (*cap allocated; exactly
 * `need` when *buf is NULL), doubling up to the count the shape claims, so
 * that memory follows the data actually read. */
static int reserve(void **buf, size_t *cap, size_t need, size_t count, sm_npy_type t, const char *path,
                   sm_status *st)
{
    if (*buf && need <= *cap) return SM_OK;
    size_t next = !*buf ? need : *cap > count / 2 ? count : 2 * *cap;
    if (next < need) next = need;
    sm_status ast;
    void *bigger = sm_mem_alloc_aligned(next, t, &ast);
    if (!bigger) return sm_status_fail(st, ast.code, path, "%s", ast.msg);
    if (*cap) memcpy(bigger, *buf, *cap * t);
    sm_mem_free(*buf);
    *buf = bigger;
    *cap = next;
    return SM_OK;
}

/* Stream the elements through a small buffer into *out (NULL on entry;
 * `first` values allocated, grown as needed), converting to out_type. */
static int read_data(FILE *f, const char *path, const npy_layout *lay, sm_npy_type out_type, size_t first,
                     void **out, sm_status *st)
{
    unsigned char chunk[NPY_CHUNK];
    const size_t es = lay->type, per = sizeof chunk / es;
    size_t cap = 0;
    int rc = reserve(out, &cap, first, lay->count, out_type, path, st);
    if (rc) return rc;
    for (size_t i = 0; i < lay->count;) {
        size_t want = lay->count - i < per ? lay->count - i : per;
        size_t got_bytes = fread(chunk, 1, want * es, f), got = got_bytes / es; /* bytes: a cut element counts */
        if (got < want) {
            if (ferror(f)) return sm_status_fail(st, SM_ERR_DATA, path, "read error: %s", strerror(errno));
            return fail_truncated(st, path, lay->bytes, (uintmax_t)i * es + got_bytes);
        }
        if ((rc = reserve(out, &cap, i + got, lay->count, out_type, path, st))) return rc;
        for (size_t j = 0; j < got; j++) {
            double v = decode(chunk + j * es, lay->type);
            if (out_type == SM_NPY_F32 && !fits_float(v))
                return fail_float_range(st, path, v, value_index(lay, i + j), lay->d);
            elem_set(*out, out_type, i + j, v);
        }
        i += got;
    }
    if (fgetc(f) != EOF) return fail_trailing(st, path);
    return SM_OK;
}

/* The one reader behind sm_npy_read, sm_npy_read_f32 and sm_npy_read_stream. */
static int npy_load(FILE *f, const char *path, sm_npy_type out_type, void **out, size_t *n, size_t *d,
                    sm_status *st)
{
    *out = NULL;
    *n = *d = 0;
    npy_layout lay;
    size_t first = 0;
    void *buf = NULL;
    int rc = read_header(f, path, &lay, st);
    if (!rc) rc = first_capacity(f, path, &lay, &first, st);
    if (!rc) rc = read_data(f, path, &lay, out_type, first, &buf, st);
    if (!rc) rc = to_row_major(&lay, out_type, &buf, path, st);
    if (rc) {
        sm_mem_free(buf);
        return rc;
    }
    *out = buf;
    *n = lay.n;
    *d = lay.d;
    return SM_OK;
}

static int npy_load_path(const char *path, sm_npy_type out_type, void **out, size_t *n, size_t *d,
                         sm_status *st)
{
    *out = NULL;
    *n = *d = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s", strerror(errno));
    int rc = npy_load(f, path, out_type, out, n, d, st);
    fclose(f);
    return rc;
}

int sm_npy_read(const char *path, double **data, size_t *n, size_t *d, sm_status *st)
{
    void *p;
    int rc = npy_load_path(path, SM_NPY_F64, &p, n, d, st);
    *data = p;
    return rc;
}

int sm_npy_read_f32(const char *path, float **data, size_t *n, size_t *d, sm_status *st)
{
    void *p;
    int rc = npy_load_path(path, SM_NPY_F32, &p, n, d, st);
    *data = p;
    return rc;
}

int sm_npy_read_stream(FILE *f, const char *path, double **data, size_t *n, size_t *d, sm_status *st)
{
    void *p;
    int rc = npy_load(f, path, SM_NPY_F64, &p, n, d, st);
    *data = p;
    return rc;
}

int sm_npy_is_magic(const void *head, size_t n)
{
    return n >= sizeof npy_magic && memcmp(head, npy_magic, sizeof npy_magic) == 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

/* Version 1.0 preamble + dict, space-padded and '\n'-terminated so that the
 * data start at a multiple of NPY_ALIGN.  Returns the total length. */
static size_t format_header(unsigned char *out, size_t cap, const sm_npy_array *a, sm_npy_type t)
{
    char shape[64];
    if (a->ndim == 1) snprintf(shape, sizeof shape, "(%zu,)", a->n);
    else snprintf(shape, sizeof shape, "(%zu, %zu)", a->n, a->d);
    const size_t pre = NPY_PREAMBLE + 2;
    int len = snprintf((char *)out + pre, cap - pre, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       t == SM_NPY_F32 ? "<f4" : "<f8", shape);
    size_t total = pre + (size_t)len + 1;
    size_t pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    assert(total + pad <= cap);
    memset(out + pre + len, ' ', pad);
    total += pad;
    out[total - 1] = '\n';
    memcpy(out, npy_magic, sizeof npy_magic);
    out[6] = 1;
    out[7] = 0;
    sm_le_store(out + NPY_PREAMBLE, total - pre, 2);
    return total;
}

static int write_data(FILE *f, const char *path, const sm_npy_array *a, sm_npy_type t, sm_status *st)
{
    unsigned char chunk[NPY_CHUNK];
    const size_t es = t, per = sizeof chunk / es, count = a->n * a->d;
    for (size_t i = 0; i < count;) {
        size_t k = count - i < per ? count - i : per;
        for (size_t j = 0; j < k; j++) {
            double v = elem_get(a->data, a->type, i + j);
            if (t == SM_NPY_F32 && !fits_float(v)) return fail_float_range(st, path, v, i + j, a->d);
            encode(chunk + j * es, v, t);
        }
        if (fwrite(chunk, es, k, f) != k)
            return sm_status_fail(st, SM_ERR_DATA, path, "write failed: %s", strerror(errno));
        i += k;
    }
    return SM_OK;
}

int sm_npy_write(const char *path, const sm_npy_array *a, sm_npy_type file_type, sm_status *st)
{
    assert(path && a && (a->ndim == 2 || (a->ndim == 1 && a->d == 1)));
    assert(sm_mem_size_ok(a->n, a->d, NULL) && (a->data || a->n * a->d == 0));
    unsigned char header[256];
    size_t hlen = format_header(header, sizeof header, a, file_type);
    sm_atomic_file af;
    int rc = sm_atomic_open(&af, path, st);
    if (rc) return rc;
    if (fwrite(header, 1, hlen, af.f) != hlen)
        rc = sm_status_fail(st, SM_ERR_DATA, path, "write failed: %s", strerror(errno));
    if (!rc) rc = write_data(af.f, path, a, file_type, st);
    if (rc) {
        sm_atomic_abort(&af);
        return rc;
    }
    return sm_atomic_commit(&af, st);
}
