/* Status codes and error messages.
 *
 * Library code never exits: a function that can fail at run time returns an
 * int code (SM_OK, SM_ERR_DATA, SM_ERR_USAGE) and fills an sm_status with a
 * one-line message "<what> (<where>)".  Only src/cli turns that into
 * "simsiam-mi: error: <message>" on stderr and an exit code.  What a caller
 * can get wrong in its own code is not a run-time failure: a NULL pointer
 * where a function's comment does not allow one, an enum value outside its
 * type, a size the comment rules out; those are assert()s (an abort in the
 * library as built), as in the C library's own functions. */
#ifndef SM_CORE_STATUS_H
#define SM_CORE_STATUS_H

#include <stddef.h>
#include "core/export.h"

enum {
    SM_OK = 0,
    SM_ERR_DATA = 1,  /* runtime or data error: bad file, NaN, I/O (exit 1) */
    SM_ERR_USAGE = 2  /* usage error: unknown flag or key, bad value (exit 2) */
};

typedef struct {
    int code;
    char msg[512];
} sm_status;

/* Set st (may be NULL) to code with message "<fmt...> (<where>)"; where may be
 * NULL to omit the parenthesis.  Returns code, so callers can write
 * `return sm_status_fail(st, SM_ERR_DATA, path, "bad magic");`.  A message
 * longer than msg holds is cut in its text, marked "…", never in its
 * "(<where>)"; a where over 200 bytes keeps its end (a path's file name and
 * line).  It is made one printable line (sm_status_printable). */
SM_API int sm_status_fail(sm_status *st, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Pass inner's failure on from a caller that knows more: st gets the message
 * "<prefix><inner's what> (<inner's where>; <where>)", or "(<where>)" when
 * inner has no where (where NULL: inner's message as it is, after prefix),
 * and inner's code (SM_ERR_DATA when it has none), which is returned.  One
 * parenthesis, as every message has:
 *   "second moments with trace -1 (pred_mode=optimal)" with prefix "no W: " and where "a.bin"
 *   → "no W: second moments with trace -1 (pred_mode=optimal; a.bin)" */
SM_API int sm_status_wrap(sm_status *st, const sm_status *inner, const char *prefix, const char *where);

/* A value quoted in a message (a config line, a key): s[0..len) copied into
 * buf, cut to SM_STATUS_VALUE_MAX bytes plus "…" when longer (never inside
 * a UTF-8 character), so that a long value cannot crowd what follows it, a
 * hint such as "did you mean", out of the message.  Returns buf.
 *   char v[SM_STATUS_VALUE_BUF];
 *   sm_status_fail(st, SM_ERR_USAGE, where, "bad value '%s'", sm_status_value(v, s, strlen(s))); */
enum { SM_STATUS_VALUE_MAX = 200, SM_STATUS_VALUE_BUF = SM_STATUS_VALUE_MAX + 4 };
SM_API const char *sm_status_value(char *buf, const char *s, size_t len);

/* s made one printable line in place: newlines, carriage returns and tabs
 * become spaces, every other control byte '?', so that a path or value
 * quoted in a message can neither break it nor send the terminal escape
 * sequences. */
SM_API void sm_status_printable(char *s);

/* Reset st to SM_OK with an empty message. */
SM_API void sm_status_clear(sm_status *st);

#endif
