#include "io/csv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/mem.h"

typedef struct {
    const char *path;
    sm_status *st;
    size_t line;         /* 1-based number of the line being parsed */
    int started;         /* a non-blank line has been seen (header decided) */
    int comma;           /* separator ',' (1) or blanks (0), from the first data line */
    size_t header_cols;  /* names in the header, 0 without one */
    size_t d;            /* columns, 0 until the first data row */
    size_t n;            /* committed rows */
    double *vals;        /* n × d committed values, then the row being parsed */
    size_t cap;          /* elements allocated in vals */
} csv_reader;

/* One parsed line: its cells, how many were numbers, the first that was not. */
typedef struct {
    size_t cells, numbers;
    const char *bad;
    size_t bad_col;
} row_scan;

static int fail_at(csv_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(csv_reader *r, const char *fmt, ...)
{
    char where[4200], what[256];
    snprintf(where, sizeof where, "%s:%zu", r->path, r->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sm_status_fail(r->st, SM_ERR_DATA, where, "%s", what);
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t len = strlen(s);
    while (len > 0 && is_blank(s[len - 1])) s[--len] = '\0';
    return s;
}

/* Next cell of the line at *pos, NUL-terminated in place; NULL after the last. */
static char *next_cell(char **pos, int comma)
{
    char *s = *pos;
    if (!s) return NULL;
    if (comma) {
        char *sep = strchr(s, ',');
        *pos = sep ? sep + 1 : NULL;
        if (sep) *sep = '\0';
        return trim(s);
    }
    while (is_blank(*s)) s++;
    if (!*s) {
        *pos = NULL;
        return NULL;
    }
    char *e = s;
    while (*e && !is_blank(*e)) e++;
    *pos = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

static int parse_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end != s && *end == '\0';
}

/* Make room for one value after the first `used`, which are kept; the
 * capacity doubles so that appends stay linear. */
static int reserve_one(csv_reader *r, size_t used)
{
    if (used < r->cap) return SM_OK;
    size_t cap = r->cap ? r->cap : 1024;
    if (used >= cap && !sm_mem_size_ok(cap, 2, &cap)) return fail_at(r, "too many values");
    sm_status ast;
    double *p = sm_mem_alloc_aligned(cap, sizeof *p, &ast);
    if (!p) return fail_at(r, "%s", ast.msg);
    if (used) memcpy(p, r->vals, used * sizeof *p);
    sm_mem_free(r->vals);
    r->vals = p;
    r->cap = cap;
    return SM_OK;
}

/* Split the line and parse every cell, appending the numbers after the
 * committed rows (they become a row only if the caller commits them). */
static int scan_row(csv_reader *r, char *line, row_scan *rs)
{
    memset(rs, 0, sizeof *rs);
    const size_t base = r->n * r->d;
    char *pos = line, *cell;
    while ((cell = next_cell(&pos, r->comma))) {
        double v;
        rs->cells++;
        if (!parse_number(cell, &v)) {
            if (!rs->bad) {
                rs->bad = cell;
                rs->bad_col = rs->cells;
            }
            continue;
        }
        if (reserve_one(r, base + rs->numbers)) return SM_ERR_DATA;
        r->vals[base + rs->numbers++] = v;
    }
    return SM_OK;
}

static int fail_cell(csv_reader *r, const row_scan *rs)
{
    if (!*rs->bad) return fail_at(r, "empty cell in column %zu", rs->bad_col);
    return fail_at(r, "non-numeric cell '%.40s' in column %zu", rs->bad, rs->bad_col);
}

/* Strip the line end; 1 if nothing but blanks remains. */
static int strip_line(char *line)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!is_blank(line[i])) return 0;
    return 1;
}

/* np.savetxt writes its header as "# a,b", "# a b" or "# a": the '#' is its
 * comment mark, not a name (take_line refuses a '#' line with numbers). */
static char *drop_comment_mark(char *line)
{
    char *s = line;
    while (is_blank(*s)) s++;
    return *s == '#' ? s + 1 : line;
}

static int take_line(csv_reader *r, char *line)
{
    if (r->line == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0) line += 3; /* UTF-8 BOM */
    char *unmarked = r->started ? line : drop_comment_mark(line);
    const int commented = unmarked != line;
    line = unmarked;
    if (strip_line(line)) return SM_OK;
    if (r->d == 0) r->comma = strchr(line, ',') != NULL;
    row_scan rs;
    if (scan_row(r, line, &rs)) return SM_ERR_DATA;
    int first_line = !r->started;
    r->started = 1;
    if (first_line && rs.numbers == 0) {
        r->header_cols = rs.cells;
        return SM_OK;
    }
    if (commented) /* a row commented out, not a header: neither read as data nor skipped unseen */
        return fail_at(r, "first line starts with '#' but holds numbers: a header has none");
    if (rs.bad) return fail_cell(r, &rs);
    if (r->d == 0) {
        if (r->header_cols && r->header_cols != rs.cells)
            return fail_at(r, "header has %zu names but the first data row has %zu columns", r->header_cols,
                           rs.cells);
        r->d = rs.cells;
    } else if (rs.cells != r->d) {
        return fail_at(r, "row has %zu columns, expected %zu", rs.cells, r->d);
    }
    r->n++;
    return SM_OK;
}

int sm_csv_read(const char *path, double **data, size_t *n, size_t *d, sm_status *st)
{
    *data = NULL;
    *n = *d = 0;
    FILE *f = fopen(path, "r");
    if (!f) return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s", strerror(errno));
    int rc = sm_csv_read_stream(f, path, data, n, d, st);
    fclose(f);
    return rc;
}

int sm_csv_read_stream(FILE *f, const char *path, double **data, size_t *n, size_t *d, sm_status *st)
{
    *data = NULL;
    *n = *d = 0;
    csv_reader r = {.path = path, .st = st};
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int rc = SM_OK;
    while (!rc && (len = getline(&line, &line_cap, f)) >= 0) {
        r.line++;
        if (strlen(line) != (size_t)len) rc = fail_at(&r, "NUL byte in a text file (binary data?)");
        else rc = take_line(&r, line);
    }
    if (!rc && !feof(f)) rc = sm_status_fail(st, SM_ERR_DATA, path, "read error: %s", strerror(errno));
    free(line);
    if (!rc && r.n == 0) rc = sm_status_fail(st, SM_ERR_DATA, path, "no data rows");
    if (rc) {
        sm_mem_free(r.vals);
        return rc;
    }
    *data = r.vals;
    *n = r.n;
    *d = r.d;
    return SM_OK;
}
