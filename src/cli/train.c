/* simsiam-mi train [--config FILE ...] [key=value ...] (docs/design.md §2): resolve the
 * configuration, train (src/simsiam/train.h), print the summary as the last
 * stdout line.  Progress on stderr: on a terminal one line rewritten with
 * '\r' every step, otherwise a line every max(10, total / 100) steps and at
 * the last, e.g. "step 10/200 epoch 0 loss -0.51 img/s 812 eta 0:03:12".
 * SIGINT or SIGTERM: the trainer finishes its step and writes the checkpoint
 * (train.h), then one line says how to resume and the exit code is 130 or
 * 143 (128 + the first signal); a second SIGINT kills at once, a second
 * SIGTERM changes nothing (a scheduler and the experiment runner may each
 * send one; SIGKILL is the way to force).
 * Under mpirun (build/simsiam-mi-mpi, src/dist/dist.h) every process trains
 * its slice of each batch; rank 0 alone draws progress and prints the
 * summary; a configuration error is said once (read_config_everywhere), and
 * a process that fails later prints its error and ends them all. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "dist/dist.h"
#include "io/config.h"
#include "simsiam/train.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    if (!stop_signal) stop_signal = sig;
}

/* SIGINT and SIGTERM set stop_signal (the first one's); SIGINT then takes
 * its default action (Ctrl-C twice kills), SIGTERM stays caught.  The
 * handler only sets a flag, so interrupted system calls restart (a write
 * to a pipe must not fail with EINTR); each handler blocks the other
 * signal, so the second cannot land between the first's test and store. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
}

static void draw_progress(void *ctx, const sm_progress *p)
{
    const int *tty = ctx;
    int last = p->done == p->total;
    uint64_t every = p->total / 100 > 10 ? p->total / 100 : 10;
    if (!*tty && p->done % every != 0 && !last) return;
    long s = (long)(p->eta_seconds + 0.5);
    fprintf(stderr, "%sstep %llu/%llu epoch %llu loss %.4g img/s %.0f eta %ld:%02ld:%02ld%s", *tty ? "\r" : "",
            (unsigned long long)p->done, (unsigned long long)p->total, (unsigned long long)p->epoch, p->loss,
            p->images_per_s, s / 3600, s / 60 % 60, s % 60, *tty && !last ? "" : "\n");
    fflush(stderr);
}

static int is_plain(const char *s)
{
    return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./=:,@%+-")] == '\0';
}

/* s inside single quotes, a quote in it written '\''. */
static void print_quoted(const char *s)
{
    for (; *s; s++)
        if (*s == '\'') fputs("'\\''", stderr);
        else fputc(*s, stderr);
}

/* " key+value" as one shell word: as is when every byte is plain, else in
 * single quotes, so that the resume command can be pasted as printed. */
static void print_word(const char *key, const char *value)
{
    if (is_plain(key) && is_plain(value)) {
        fprintf(stderr, " %s%s", key, value);
        return;
    }
    fputs(" '", stderr);
    print_quoted(key);
    print_quoted(value);
    fputc('\'', stderr);
}

/* "stopped by SIGTERM at step 120/2000; resume with: simsiam-mi train ARGS resume=CKPT"
 * (with R processes: "mpirun -np R simsiam-mi-mpi train ...") */
static int report_stop(const sm_train_result *r, int argc, char **argv)
{
    int sig = stop_signal;
    fprintf(stderr, "%ssimsiam-mi: stopped by %s at step %llu/%llu; checkpoint written; resume with: ",
            isatty(STDERR_FILENO) ? "\n" : "", sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)r->steps,
            (unsigned long long)r->total);
    if (sm_dist_size() > 1) fprintf(stderr, "mpirun -np %d simsiam-mi-mpi", sm_dist_size());
    else fputs("simsiam-mi", stderr);
    int has_out = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "resume=", 7) == 0) continue; /* a resumed run's: the new one follows */
        print_word("", argv[i]);
        has_out |= strncmp(argv[i], "out=", 4) == 0;
    }
    if (!has_out) print_word("out=", r->out); /* the default runs/<time> would be a new directory */
    print_word("resume=", r->checkpoint);
    fputc('\n', stderr);
    return 128 + sig;
}

/* A failure ends every process: the others may be waiting for this one. */
static int fail_all(int rc)
{
    if (sm_dist_size() > 1) sm_dist_abort(rc);
    return rc;
}

/* The configuration from the command line and every --config, in order,
 * checked as training will check it before it starts. */
static int read_config(int argc, char **argv, sm_config *cfg)
{
    sm_status st;
    sm_status_clear(&st);
    /* every --config, in order (each takes at least one argument) */
    const char **files = sm_mem_alloc((size_t)argc, sizeof *files, &st);
    if (!files) return cli_fail(&st);
    cli_opt opts[] = {{"config", 1, NULL, files, 0}};
    const char **assignments;
    size_t n;
    int rc = cli_parse_kv(argc, argv, opts, 1, &assignments, &n);
    if (!rc && (sm_config_load_files(cfg, (int)opts[0].n_all, files, (int)n, assignments, &st) ||
                sm_train_check(cfg, &st)))
        rc = cli_fail(&st);
    sm_mem_free(assignments);
    sm_mem_free(files);
    return rc;
}

/* read_config on every process, with one outcome: each process reads the
 * same command line, and the same files unless its machine's differ, so
 * rank 0 says its error and another process only an error of its own
 * (every process said the same line before, once per rank); then all end
 * with 2 if any had a usage error, else 1.  No process is left waiting in
 * a collective: all of them make the same calls. */
static int read_config_everywhere(int argc, char **argv, sm_config *cfg)
{
    static char error[8192], rank0_error[sizeof error];
    cli_capture_errors(error, sizeof error);
    int rc = read_config(argc, argv, cfg);
    cli_capture_errors(NULL, 0);
    if (!sm_dist_any(rc != 0)) return 0;
    memcpy(rank0_error, error, sizeof error);
    sm_dist_broadcast(rank0_error, sizeof rank0_error);
    if (rc && (sm_dist_rank() == 0 || strcmp(error, rank0_error) != 0)) fputs(error, stderr);
    return sm_dist_any(rc == 2) ? 2 : 1;
}

static int train(const sm_config *cfg, int argc, char **argv)
{
    sm_status st;
    sm_status_clear(&st);
    int tty = isatty(STDERR_FILENO);
    int rank0 = sm_dist_rank() == 0;
    sm_hooks hooks = {rank0 ? draw_progress : NULL, cli_print_warning, &tty, &stop_signal};
    catch_stop_signals();
    sm_train_result res;
    if (sm_train_run(cfg, &hooks, &res, &st)) return cli_fail(&st);
    /* the ranks stop at the same step, some without a signal of their own:
     * all name SIGTERM if any rank had one, else SIGINT (stopped is the
     * same on every rank, so every rank makes this collective call) */
    if (res.stopped) stop_signal = sm_dist_any(stop_signal == SIGTERM) ? SIGTERM : SIGINT;
    if (!rank0) return res.stopped ? 128 + stop_signal : 0;
    if (res.stopped) return report_stop(&res, argc, argv);
    char line[SM_TRAIN_JSON_MAX];
    sm_train_summary_json(&res, line, sizeof line);
    printf("%s\n", line);
    return cli_done(0);
}

int cli_train(int argc, char **argv)
{
    sm_dist_init(&argc, &argv);
    sm_config cfg;
    int rc = read_config_everywhere(argc, argv, &cfg);
    if (!rc) {
        rc = train(&cfg, argc, argv);
        if (rc && rc < 128) return fail_all(rc);
    }
    sm_dist_finalize(); /* a configuration error ends every process alike */
    return rc;
}
