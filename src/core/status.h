/* Status codes and error messages.
 *
 * Library code never exits: a function that can fail at run time returns an
 * int code (SM_OK, SM_ERR_DATA, SM_ERR_USAGE) and fills an sm_status with a
 * one-line message "<what> (<where>)".  Only src/cli turns that into
 * "simsiam-mi: error: <message>" on stderr and an exit code. */
#ifndef SM_CORE_STATUS_H
#define SM_CORE_STATUS_H

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
 * `return sm_status_fail(st, SM_ERR_DATA, path, "bad magic");`. */
int sm_status_fail(sm_status *st, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reset st to SM_OK with an empty message. */
void sm_status_clear(sm_status *st);

#endif
