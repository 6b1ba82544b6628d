/* The command line (docs/design.md §2).  src/cli is the only place that calls
 * exit(): subcommands return an exit code (0, 1 runtime/data, 2 usage) and
 * report errors through cli_error. */
#ifndef SM_CLI_CLI_H
#define SM_CLI_CLI_H

#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

#define SM_VERSION "0.1.0"

typedef struct {
    const char *name;
    const char *summary;
    const char *usage;   /* full --help text */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
    void (*more_help)(FILE *f);        /* printed after usage (may be NULL) */
} cli_command;

/* "simsiam-mi: error: <msg>" on stderr, msg made one printable line
 * (sm_status_printable); returns code for `return cli_error(...)`. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a failed status; returns its code. */
int cli_fail(const sm_status *st);
/* With buf set (cap >= 2), cli_error keeps its first line in buf ("" until
 * then; cut to cap - 1 bytes, newline kept) instead of printing it, until
 * called again with NULL: for a caller that decides afterwards whether to
 * say it (train under mpirun). */
void cli_capture_errors(char *buf, size_t cap);

/* Options: "--name value" or "--name=value"; flags take no value.  Unknown
 * options are usage errors naming the closest known one. */
typedef struct {
    const char *name;   /* without dashes */
    int takes_value;
    const char *value;  /* filled by cli_parse (flags: "1"); the last one if repeated */
    const char **all;   /* when not NULL (room for argc entries): every value, in order */
    size_t n_all;       /* how many of them */
} cli_opt;

/* Parse argv[first..argc) into opts; positional arguments are collected in
 * pos (capacity npos_max, count in *npos).  Returns 0 or 2 (message printed). */
int cli_parse(int argc, char **argv, int first, cli_opt *opts, size_t nopts,
              const char **pos, size_t npos_max, size_t *npos);
/* Was "--help" among the arguments? */
int cli_wants_help(int argc, char **argv);
/* Value of an option or NULL. */
const char *cli_get(const cli_opt *opts, size_t nopts, const char *name);
/* Parse an option as a number in [lo, hi]: 0 or 2 (message printed). */
int cli_get_long(const cli_opt *opts, size_t nopts, const char *name, long dflt, long lo, long hi, long *out);
int cli_get_double(const cli_opt *opts, size_t nopts, const char *name, double dflt, double lo, double hi,
                   double *out);

/* cli_parse from argv[1] with the positional "key=value" arguments into
 * *kv (count *n; free with sm_mem_free even on failure).  0, 1 (out of
 * memory) or 2, the message printed. */
int cli_parse_kv(int argc, char **argv, cli_opt *opts, size_t nopts, const char ***kv, size_t *n);

/* The keys of the offline commands (track, refit), which change only what
 * does not alter the model: 2 (message printed) unless every "key=value" of
 * kv is one of the allowed keys, or when out= is empty; *out = the value of
 * the last out= (NULL when absent). */
int cli_offline_keys(const char *command, const char **kv, size_t n, const char *const *allowed, size_t n_allowed,
                     const char **out);

/* A command's exit code: rc, or 1 when what it printed cannot be flushed. */
int cli_done(int rc);

/* "simsiam-mi: warning: <msg>" on stderr: the warning hook of core/hooks.h. */
void cli_print_warning(void *ctx, const char *msg);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t cli_edit_distance(const char *a, const char *b);

int cli_estimate(int argc, char **argv);
/* The estimators of `estimate --help`, from the registry (estimators/registry.h). */
void cli_estimate_help(FILE *f);
int cli_train(int argc, char **argv);
int cli_embed(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_track(int argc, char **argv);
int cli_refit(int argc, char **argv);

#endif
