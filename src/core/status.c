#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6" /* "…", marking a cut */

enum { WHERE_KEEP = 200 }; /* bytes of a long where kept when a message is cut */

static int utf8_continuation(char c) { return ((unsigned char)c & 0xC0) == 0x80; }

/* The largest length <= max at which s (at least max bytes long) can be cut
 * without splitting a UTF-8 character. */
static size_t cut_point(const char *s, size_t max)
{
    while (max > 0 && utf8_continuation(s[max])) max--;
    return max;
}

/* msg (size bytes) holds the start of a text `len` bytes long in full:
 * append " (where)", cutting the text rather than the location when both do
 * not fit, and the start of a long where rather than its end. */
static void add_where(char *msg, size_t size, size_t len, const char *where)
{
    size_t wlen = where ? strlen(where) + 3 : 0; /* " (" and ")" */
    if (len + wlen < size) {
        if (where) snprintf(msg + len, size - len, " (%s)", where);
        return;
    }
    const char *wmark = "";
    if (where && wlen - 3 > WHERE_KEEP) {
        size_t skip = strlen(where) - WHERE_KEEP;
        while (utf8_continuation(where[skip])) skip++;
        where += skip;
        wmark = ELLIPSIS;
        wlen = strlen(where) + 3 + strlen(wmark);
    }
    size_t keep = len;
    if (len + wlen >= size) keep = cut_point(msg, size - 1 - wlen - strlen(ELLIPSIS));
    const char *mark = keep < len ? ELLIPSIS : "";
    if (where) snprintf(msg + keep, size - keep, "%s (%s%s)", mark, wmark, where);
    else snprintf(msg + keep, size - keep, "%s", mark);
}

int sm_status_fail(sm_status *st, int code, const char *where, const char *fmt, ...)
{
    if (!st) return code;
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    add_where(st->msg, sizeof st->msg, n < 0 ? 0 : (size_t)n, where);
    sm_status_printable(st->msg);
    return code;
}

void sm_status_printable(char *s)
{
    for (unsigned char *c = (unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7f) *c = *c == '\n' || *c == '\r' || *c == '\t' ? ' ' : '?';
}

int sm_status_wrap(sm_status *st, const sm_status *inner, const char *prefix, const char *where)
{
    const char *msg = inner->msg, *open = strrchr(msg, '(');
    const int code = inner->code ? inner->code : SM_ERR_DATA;
    size_t what = strlen(msg);
    if (!where || !open || open == msg || open[-1] != ' ' || what == 0 || msg[what - 1] != ')')
        return sm_status_fail(st, code, where, "%s%s", prefix, msg);
    char joined[sizeof inner->msg + 1024]; /* inner's where, then ours */
    snprintf(joined, sizeof joined, "%.*s; %s", (int)(msg + what - 1 - (open + 1)), open + 1, where);
    what = (size_t)(open - 1 - msg);
    return sm_status_fail(st, code, joined, "%s%.*s", prefix, (int)what, msg);
}

const char *sm_status_value(char *buf, const char *s, size_t len)
{
    size_t keep = len > SM_STATUS_VALUE_MAX ? cut_point(s, SM_STATUS_VALUE_MAX) : len;
    memcpy(buf, s, keep);
    snprintf(buf + keep, SM_STATUS_VALUE_BUF - keep, "%s", keep < len ? ELLIPSIS : "");
    return buf;
}

void sm_status_clear(sm_status *st)
{
    if (!st) return;
    st->code = SM_OK;
    st->msg[0] = '\0';
}
