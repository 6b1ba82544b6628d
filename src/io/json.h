/* The pieces of one-line JSON output: a quoted, escaped string and a
 * "key":number member.  Both write like snprintf into buf (n bytes; may be
 * NULL when n = 0) and return the length the whole output needs. */
#ifndef SM_IO_JSON_H
#define SM_IO_JSON_H

#include <stddef.h>

/* "s" with '"', '\\' and control characters escaped. */
size_t sm_json_string(char *buf, size_t n, const char *s);

/* "key":x, with fmt for x (e.g. "%.6g"), or "key":null when x is not
 * finite; followed by a comma. */
size_t sm_json_number(char *buf, size_t n, const char *key, double x, const char *fmt);

#endif
