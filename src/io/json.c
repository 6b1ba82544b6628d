#include "io/json.h"

#include <math.h>
#include <stdio.h>

#define AT (len < n ? buf + len : NULL), (len < n ? n - len : 0)

size_t sm_json_string(char *buf, size_t n, const char *s)
{
    size_t len = (size_t)snprintf(buf, n, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') len += (size_t)snprintf(AT, "\\%c", *c);
        else if (*c < 0x20) len += (size_t)snprintf(AT, "\\u%04x", *c);
        else len += (size_t)snprintf(AT, "%c", *c);
    }
    return len + (size_t)snprintf(AT, "\"");
}

size_t sm_json_number(char *buf, size_t n, const char *key, double x, const char *fmt)
{
    if (!isfinite(x)) return (size_t)snprintf(buf, n, "\"%s\":null,", key);
    char num[64];
    snprintf(num, sizeof num, fmt, x);
    return (size_t)snprintf(buf, n, "\"%s\":%s,", key, num);
}
