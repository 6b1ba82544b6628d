#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static char *captured; /* cli_capture_errors */
static size_t captured_cap;

void cli_capture_errors(char *buf, size_t cap)
{
    captured = cap >= 2 ? buf : NULL;
    captured_cap = cap;
    if (captured) captured[0] = '\0';
}

int cli_error(int code, const char *fmt, ...)
{
    char small[1024], *msg = small; /* on the heap when longer: a message may quote several long paths */
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= (int)sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big) vsnprintf(msg = big, (size_t)n + 1, fmt, again); /* without memory: the first 1023 bytes */
    }
    va_end(again);
    va_end(ap);
    sm_status_printable(msg);
    if (!captured)
        fprintf(stderr, "simsiam-mi: error: %s\n", msg);
    else if (!captured[0] && snprintf(captured, captured_cap, "simsiam-mi: error: %s\n", msg) >= (int)captured_cap)
        captured[captured_cap - 2] = '\n'; /* cut, still one line */
    if (msg != small) free(msg);
    return code;
}

int cli_fail(const sm_status *st) { return cli_error(st->code ? st->code : 1, "%s", st->msg); }

size_t cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (lb > 63) lb = 63;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static cli_opt *find_opt(cli_opt *opts, size_t nopts, const char *name, size_t len)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

static int unknown_option(const char *arg, const cli_opt *opts, size_t nopts)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < nopts; i++) {
        size_t d = cli_edit_distance(arg + 2, opts[i].name);
        if (d < best_d) {
            best_d = d;
            best = opts[i].name;
        }
    }
    if (best && best_d <= 3)
        return cli_error(2, "unknown option '%s' (did you mean '--%s'?)", arg, best);
    return cli_error(2, "unknown option '%s' (see --help)", arg);
}

int cli_parse(int argc, char **argv, int first, cli_opt *opts, size_t nopts,
              const char **pos, size_t npos_max, size_t *npos)
{
    *npos = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (*npos >= npos_max) return cli_error(2, "unexpected argument '%s' (see --help)", arg);
            pos[(*npos)++] = arg;
            continue;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        cli_opt *o = find_opt(opts, nopts, arg + 2, len);
        if (!o) return unknown_option(arg, opts, nopts);
        if (!o->takes_value) {
            if (eq) return cli_error(2, "option '--%s' takes no value", o->name);
            o->value = "1";
        } else if (eq) {
            o->value = eq + 1;
        } else {
            if (i + 1 >= argc) return cli_error(2, "option '--%s' needs a value", o->name);
            o->value = argv[++i];
        }
        /* no option takes an empty value: a path or number left out of a script */
        if (o->takes_value && !o->value[0]) return cli_error(2, "option '--%s' needs a value, not ''", o->name);
        if (o->all) o->all[o->n_all++] = o->value;
    }
    return 0;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

const char *cli_get(const cli_opt *opts, size_t nopts, const char *name)
{
    for (size_t i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return opts[i].value;
    return NULL;
}

int cli_get_double(const cli_opt *opts, size_t nopts, const char *name, double dflt, double lo, double hi,
                   double *out)
{
    const char *v = cli_get(opts, nopts, name);
    *out = dflt;
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || isspace((unsigned char)*v) || *end != '\0' || errno == ERANGE || !isfinite(x) || x < lo || x > hi)
        return cli_error(2, "bad value '%s' for --%s (expected a number in [%g, %g])", v, name, lo, hi);
    *out = x;
    return 0;
}

int cli_get_long(const cli_opt *opts, size_t nopts, const char *name, long dflt, long lo, long hi, long *out)
{
    const char *v = cli_get(opts, nopts, name);
    *out = dflt;
    if (!v) return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || isspace((unsigned char)*v) || *end != '\0' || errno == ERANGE || x < lo || x > hi)
        return cli_error(2, "bad value '%s' for --%s (expected an integer in [%ld, %ld])", v, name, lo, hi);
    *out = x;
    return 0;
}

int cli_parse_kv(int argc, char **argv, cli_opt *opts, size_t nopts, const char ***kv, size_t *n)
{
    sm_status st;
    *n = 0;
    *kv = sm_mem_alloc((size_t)argc, sizeof **kv, &st);
    if (!*kv) return cli_fail(&st);
    return cli_parse(argc, argv, 1, opts, nopts, *kv, (size_t)argc, n);
}

static int check_keys(const char *command, const char **kv, size_t n, const char *const *allowed, size_t n_allowed)
{
    for (size_t i = 0; i < n; i++) {
        int known = 0;
        for (size_t k = 0; k < n_allowed; k++) {
            size_t len = strlen(allowed[k]);
            known |= !strncmp(kv[i], allowed[k], len) && kv[i][len] == '=';
        }
        if (known) continue;
        char list[512] = "";
        for (size_t k = 0; k < n_allowed; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", allowed[k]);
        return cli_error(2, "%s takes only the keys %s (got '%.200s')", command, list, kv[i]);
    }
    return 0;
}

int cli_offline_keys(const char *command, const char **kv, size_t n, const char *const *allowed, size_t n_allowed,
                     const char **out)
{
    *out = NULL;
    if (check_keys(command, kv, n, allowed, n_allowed)) return 2;
    for (size_t i = 0; i < n; i++)
        if (!strncmp(kv[i], "out=", 4)) *out = kv[i] + 4;
    return *out && !**out ? cli_error(2, "out= needs a directory") : 0;
}

int cli_done(int rc)
{
    if (rc) return rc;
    return fflush(stdout) == 0 ? 0 : cli_error(1, "cannot write to standard output");
}

void cli_print_warning(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "simsiam-mi: warning: %s\n", msg);
}
