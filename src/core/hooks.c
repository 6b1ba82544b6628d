#include "core/hooks.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/status.h"

void sm_hooks_progress(const sm_hooks *h, const sm_progress *p)
{
    if (h && h->progress) h->progress(h->ctx, p);
}

void sm_hooks_warn(const sm_hooks *h, const char *fmt, ...)
{
    if (!h || !h->warning) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sm_status_printable(msg);
    h->warning(h->ctx, msg);
}

int sm_hooks_stop_requested(const sm_hooks *h) { return h && h->stop && *h->stop; }
