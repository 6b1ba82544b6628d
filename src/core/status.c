#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sm_status_fail(sm_status *st, int code, const char *where, const char *fmt, ...)
{
    if (!st) return code;
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t used = (size_t)n < sizeof st->msg ? (size_t)n : sizeof st->msg - 1;
    if (where) snprintf(st->msg + used, sizeof st->msg - used, " (%s)", where);
    /* Messages are one line: a path or value with a newline must not break that. */
    for (char *c = st->msg; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return code;
}

void sm_status_clear(sm_status *st)
{
    if (!st) return;
    st->code = SM_OK;
    st->msg[0] = '\0';
}
