/* Tests for src/cli/train.c: the final JSON line, a config file with
 * overrides, and usage / data errors as one line with the right exit code;
 * faults on purpose: SIGTERM and SIGKILL at random moments, a full disk, an
 * unreadable data directory. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/threads.h"
#include "core/timer.h"
#include "io/checkpoint.h"
#include "simsiam/state.h"
#include "support/support.h"

#define TINY "dataset=synthetic arch=mlp width=2 proj_hidden=16 z_dim=4 pred_hidden=4 batch=16 threads=1"

/* The last line of s (a pointer into s). */
static const char *last_line(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') n--;
    while (n > 0 && s[n - 1] != '\n') n--;
    return s + n;
}

/* A config file plus overrides (later wins): the final line has every key
 * and the values of the run. */
static void test_tiny_run_prints_summary(void **state)
{
    (void)state;
    const char *conf = sm_test_path("tiny.conf");
    const char *dir = sm_test_path("cli_run");
    sm_test_write_text(conf, "# a tiny run\nsteps = 50\nknn_every = 1\n");
    char args[4096], *out, *err;
    snprintf(args, sizeof args, "train --config %s " TINY " steps=5 out=%s", conf, dir);
    int rc = sm_test_cli(args, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    const char *line = last_line(out);
    assert_true(strncmp(line, "{\"steps\":5,\"epochs\":0.04,\"images_per_s\":", 40) == 0);
    assert_true(sm_test_json_number(line, "images_per_s") > 0);
    assert_true(isfinite(sm_test_json_number(line, "final_loss")));
    double acc = sm_test_json_number(line, "knn_acc");
    assert_true(acc > 0 && acc <= 1);
    char tail[4200];
    snprintf(tail, sizeof tail, ",\"out\":\"%s\"}\n", dir);
    assert_string_equal(strstr(line, ",\"out\":"), tail);
    assert_non_null(strstr(err, "step 5/5 epoch 0 loss "));
    size_t n;
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", dir);
    char *summary = sm_test_read(path, &n);
    assert_string_equal(summary, line);
    free(summary);
    free(out);
    free(err);
}

/* A resume with the checkpoint's keys says nothing; one with other values
 * (a longer run, another lr) goes on with them and says so, naming the old
 * values, since config.txt will show only the new.  A resume refused after
 * those keys were compared (another pred_mode, a total the checkpoint is
 * past), or a run with too many threads that then fails, prints its error
 * alone: the warnings come once the run has started. */
static void test_resume_with_other_values_warns(void **state)
{
    (void)state;
    char dir[1024], args[4096], *err; /* a copy: sm_test_path's buffers are a ring */
    snprintf(dir, sizeof dir, "%s", sm_test_path("cli_other_values"));
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=2 out=%s", dir);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=2 out=%s resume=%s/checkpoint.bin", dir, dir);
    assert_int_equal(sm_test_cli(args, NULL, &err), 0);
    assert_null(strstr(err, "warning"));
    free(err);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=4 lr=0.05 out=%s resume=%s/checkpoint.bin", dir,
             dir);
    assert_int_equal(sm_test_cli(args, NULL, &err), 0);
    if (!strstr(err, "simsiam-mi: warning: resumed with values other than the checkpoint's: steps=4 (was 2), "
                     "lr=0.05 (was 0.1); the run goes on with the new values"))
        fail_msg("stderr: %s", err);
    free(err);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=4 pred_mode=optimal out=%s resume=%s/checkpoint.bin",
             dir, dir);
    sm_test_cli_error(args, 1, "checkpoint was written with pred_mode=sgd, this run has pred_mode=optimal", NULL);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=3 out=%s resume=%s/checkpoint.bin", dir, dir);
    sm_test_cli_error(args, 2, "checkpoint is at step 4, past the configured total of 3", NULL);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=1 threads=%d dataset=mnist data_dir=%s/none out=%s/t",
             2 * sm_threads_available() + 1, dir, dir);
    sm_test_cli_error(args, 1, "data directory not found", NULL);
    snprintf(args, sizeof args, "train " TINY " knn_every=0 steps=1 threads=%d out=%s/t", 2 * sm_threads_available() + 1,
             dir);
    assert_int_equal(sm_test_cli(args, NULL, &err), 0);
    if (!strstr(err, "simsiam-mi: warning: threads=") || !strstr(err, "in 1 process(es) is more than this machine's"))
        fail_msg("stderr: %s", err);
    free(err);
}

/* Several --config files apply in order, then the key=value arguments
 * (later wins; how the experiment runner puts experiments/small.config
 * under an experiment's config); an error in a later file names that file
 * and line. */
static void test_config_files_layer(void **state)
{
    (void)state;
    const char *base = sm_test_path("layer_base.conf"), *top = sm_test_path("layer_top.conf");
    const char *dir = sm_test_path("cli_layers");
    sm_test_write_text(base, "seed = 3\nsteps = 50\nknn_every = 7\nlr = 0.5\n");
    sm_test_write_text(top, "steps = 40\nknn_every = 0\n");
    char args[4096], *out, *err;
    snprintf(args, sizeof args, "train --config %s --config=%s " TINY " steps=2 out=%s", base, top, dir);
    int rc = sm_test_cli(args, &out, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.txt", dir);
    size_t n;
    char *config = sm_test_read(path, &n);
    const char *want[] = {"\nseed=3\n", "\nlr=0.5\n", "\nknn_every=0\n", "\nsteps=2\n"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(config, want[i])) fail_msg("config.txt lacks %s", want[i] + 1);
    free(config);
    free(out);
    free(err);
    sm_test_write_text(top, "steps = 40\nknn_evry = 0\n");
    snprintf(args, sizeof args, "train --config %s --config %s " TINY " steps=2 out=%s", base, top, dir);
    sm_test_cli_error(args, 2, "unknown key 'knn_evry'", "layer_top.conf:2");
}

#define LONG_RUN                                                                                       \
    TINY " steps=3000 knn_every=5 track_every=250 track_samples=64 track_views=8 track_images=4 checkpoint_keep=1"

/* Every line of a CSV with its last `drop` columns cut (train.csv's seconds). */
static char *without_last_column(char *csv)
{
    char *w = csv;
    for (char *line = csv; *line;) {
        char *end = strchr(line, '\n'), *cut = end;
        while (cut > line && cut[-1] != ',') cut--;
        size_t keep = (size_t)(cut - line);
        memmove(w, line, keep);
        w += keep;
        *w++ = '\n';
        line = end + 1;
    }
    *w = '\0';
    return csv;
}

/* The parameters, momentum and BN statistics of two checkpoints are the
 * same bits (their config, step and CSV sections hold paths and times). */
static void same_sections(const char *path_a, const char *path_b)
{
    sm_status st;
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    assert_int_equal(sm_state_restore(path_a, "train", &cfg, &ds, &m, &st), SM_OK);
    sm_ckpt *a, *b;
    assert_int_equal(sm_ckpt_read(path_a, &a, &st), SM_OK);
    assert_int_equal(sm_ckpt_read(path_b, &b, &st), SM_OK);
    const sm_state_section names[] = {SM_STATE_PARAMS, SM_STATE_MOMENTUM, SM_STATE_BN_STATS};
    const size_t counts[] = {m->n_params, m->n_params, m->n_stats};
    for (int i = 0; i < 3; i++) {
        const float *va, *vb;
        assert_int_equal(sm_ckpt_get_f32(a, sm_state_name(names[i]), counts[i], &va, &st), SM_OK);
        assert_int_equal(sm_ckpt_get_f32(b, sm_state_name(names[i]), counts[i], &vb, &st), SM_OK);
        assert_memory_equal(va, vb, counts[i] * sizeof *va);
    }
    sm_ckpt_free(a);
    sm_ckpt_free(b);
    sm_model_free(m);
    sm_dataset_free(&ds);
}

/* Two run directories hold the same results: the checkpoints' sections
 * (same_sections) and every CSV (train.csv up to its wall-clock column),
 * each present in both or in neither.  Returns how many files compared. */
static int same_outputs(const char *whole, const char *cut)
{
    const char *names[] = {"checkpoint.bin", "eval.csv", "track.csv", "track_detail.csv", "train.csv"};
    int compared = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        size_t na, nb;
        char *a = sm_test_read(sm_test_join(whole, names[i]), &na), *b = sm_test_read(sm_test_join(cut, names[i]), &nb);
        if (!a != !b) fail_msg("%s is in one run directory only (%s, %s)", names[i], whole, cut);
        if (a && i == 0) {
            same_sections(sm_test_join(whole, names[i]), sm_test_join(cut, names[i]));
        } else if (a) {
            if (i == 4) without_last_column(a), without_last_column(b);
            assert_string_equal(a, b);
        }
        compared += a != NULL;
        free(a);
        free(b);
    }
    return compared;
}

/* The names of dir's kept checkpoints (checkpoint-<step>.bin), in glob's
 * order, joined by blanks; malloc'd. */
static char *kept_checkpoints(const char *dir)
{
    glob_t g;
    char pattern[PATH_MAX + 32];
    snprintf(pattern, sizeof pattern, "%s/checkpoint-*.bin", dir);
    assert_int_equal(glob(pattern, 0, NULL, &g), 0);
    size_t n = 1;
    for (size_t i = 0; i < g.gl_pathc; i++) n += strlen(strrchr(g.gl_pathv[i], '/')) + 1;
    char *names = calloc(n, 1);
    assert_non_null(names);
    for (size_t i = 0; i < g.gl_pathc; i++) strcat(strcat(names, strrchr(g.gl_pathv[i], '/') + 1), " ");
    globfree(&g);
    return names;
}

/* SIGTERM at a random moment (printed: that long after the run's first
 * progress line, so the moment falls inside the run on a fast idle machine
 * as on a loaded one) of a run, and another SIGTERM once the first is
 * delivered (as a scheduler and the experiment runner may each send one):
 * exit 143 with one line
 * naming the step and the resume command; that command finishes the run with
 * the same final parameters as a run never stopped, every CSV row once
 * (train.csv up to its wall-clock column) and the same kept checkpoints
 * (checkpoint_keep = 1: the stop's own is not kept). */
static void test_sigterm_then_resume(void **state)
{
    (void)state;
    char whole[1024], root[PATH_MAX], bin[PATH_MAX]; /* copies: sm_test_path's buffers are a ring */
    snprintf(whole, sizeof whole, "%s", sm_test_path("sig_whole"));
    char cmd[4 * PATH_MAX], *out, *err;
    snprintf(cmd, sizeof cmd, "train " LONG_RUN " out=%s", whole);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);

    /* The stopped run has no out=: it writes runs/<time> under root, its own
     * working directory, and the resume command must name that directory. */
    assert_non_null(realpath(sm_test_dir("sig_cut_root"), root));
    assert_non_null(realpath(sm_test_bin(), bin));
    sm_rng rng;
    sm_rng_seed(&rng, (uint64_t)time(NULL), 1);
    double delay = 0.25 * sm_rng_uniform(&rng);
    printf("# SIGTERM %.3f s after the first progress line\n", delay);
    snprintf(cmd, sizeof cmd,
             "cd '%s' || exit 9; '%s' train " LONG_RUN " 2>cut.err & pid=$!; "
             "until grep -q 'step ' cut.err || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done; "
             "sleep %.3f; kill -TERM $pid; kill -STOP $pid; "
             /* a second SIGTERM while the run is stopping: the first one delivered (the run held
              * by SIGSTOP with no signal pending), the second sent, then the run let go */
             "state() { sed -n 's/^State:[[:space:]]*\\(.\\).*/\\1/p' /proc/$pid/status 2>/dev/null; }; "
             "while s=$(state); [ \"$s\" = R ] || [ \"$s\" = S ] || [ \"$s\" = D ]; do :; done; "
             "while [ \"$(state)\" = T ] && grep -Eqs '^(Shd|Sig)Pnd:.*[1-9a-f]' /proc/$pid/status; do "
             "kill -CONT $pid; kill -STOP $pid; sleep 0.01; done; "
             "second=missed; [ \"$(state)\" = T ] && kill -TERM $pid && second=sent; kill -CONT $pid 2>/dev/null; "
             "wait $pid; rc=$?; cat cut.err >&2; echo \"second SIGTERM $second\" >&2; exit $rc",
             root, bin, delay);
    int rc = sm_test_run(cmd, &out, &err);
    if (rc == 0) fail_msg("the run finished before the signal (%.2f s); stderr: %s", delay, err);
    assert_int_equal(rc, 143);
    assert_string_equal(out, "");
    const char *stop = strstr(err, "simsiam-mi: stopped by SIGTERM at step ");
    assert_non_null(stop);
    if (!strstr(err, "second SIGTERM sent")) fail_msg("the second SIGTERM found no stopping run: %s", err);
    const char *resume = strstr(stop, "resume with: simsiam-mi train ");
    assert_non_null(resume);
    char again[4096];
    resume += strlen("resume with: simsiam-mi ");
    snprintf(again, sizeof again, "%.*s", (int)strcspn(resume, "\n"), resume);
    assert_non_null(strstr(again, " resume="));
    const char *out_kv = strstr(again, " out=runs/");
    assert_non_null(out_kv);
    assert_null(strstr(err, "error"));
    free(out);
    free(err);

    char cut[PATH_MAX + 64];
    snprintf(cut, sizeof cut, "%s/%.*s", root, (int)strcspn(out_kv + 5, " "), out_kv + 5);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", root, bin, again);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    assert_int_equal(same_outputs(whole, cut), 5);
    char *kept_whole = kept_checkpoints(whole), *kept_cut = kept_checkpoints(cut);
    assert_string_equal(kept_cut, kept_whole);
    free(kept_whole);
    free(kept_cut);
}

/* Ctrl-C (SIGINT) as SIGTERM above, without the random moment: exit 130,
 * "stopped by SIGINT", and the resume command finishes the run with its
 * final parameters. */
static void test_sigint_then_resume(void **state)
{
    (void)state;
    char whole[1024], cut[1024], cmd[8192], *err;
    snprintf(whole, sizeof whole, "%s", sm_test_path("int_whole"));
    snprintf(cut, sizeof cut, "%s", sm_test_path("int_cut"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", whole, cut);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "train " LONG_RUN " out=%s", whole);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' train " LONG_RUN " out=%s 2>%s.err & pid=$!; "
             "until grep -q 'step ' %s.err || ! kill -0 $pid 2>/dev/null; do sleep 0.01; done; "
             "kill -INT $pid; wait $pid; rc=$?; cat %s.err >&2; exit $rc",
             sm_test_bin(), cut, cut, cut, cut);
    int rc = sm_test_run(cmd, NULL, &err);
    if (rc == 0) fail_msg("the run finished before the signal; stderr: %s", err);
    assert_int_equal(rc, 130);
    const char *stop = strstr(err, "simsiam-mi: stopped by SIGINT at step ");
    assert_non_null(stop);
    assert_non_null(strstr(stop, "resume with: simsiam-mi train "));
    free(err);
    snprintf(cmd, sizeof cmd, "train " LONG_RUN " out=%s resume=%s/checkpoint.bin", cut, cut);
    assert_int_equal(sm_test_cli(cmd, NULL, NULL), 0);
    assert_int_equal(same_outputs(whole, cut), 5);
}

/* ---- faults on purpose ---------------------------------------------------- */

/* A run that writes all the time: holdout leaves 8 of the 60000 random
 * images (the data set quickest to make, as every run of the chain below
 * makes it), one batch, so every step ends an epoch and writes
 * checkpoint.bin and the CSVs; a kill at a random moment then lands in or
 * next to a write. */
#define FAULT_RUN                                                                                       \
    "dataset=random arch=mlp width=1 proj_hidden=4 z_dim=2 pred_hidden=2 batch=8 holdout=59992 "      \
    "knn_every=0 checkpoint_every=1 threads=1"
enum { FAULT_STEPS = 24, KILLS = 50 };

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, us % 1000000 * 1000};
    nanosleep(&ts, NULL);
}

/* The step a checkpoint was written at (its "step" section: step, epoch,
 * microseconds, loss, kNN accuracy; src/simsiam/train.c), or -1 when the
 * file does not exist.  Any other failure to read it fails the test. */
static long checkpoint_step(const char *path)
{
    if (access(path, F_OK) != 0) return -1;
    sm_status st;
    sm_ckpt *c;
    if (sm_ckpt_read(path, &c, &st)) fail_msg("the checkpoint left by the kill does not load: %s", st.msg);
    const uint64_t *step;
    assert_int_equal(sm_ckpt_get_u64(c, "step", 5, &step, &st), SM_OK);
    long k = (long)step[0];
    sm_ckpt_free(c);
    return k;
}

/* The run never stopped, in whole, watched: the mean time in seconds from
 * the start of a checkpoint write (its temporary appears next to
 * checkpoint.bin) to its rename (the temporary is gone), as seen by polling
 * every 100 µs.  It sets how late after the start of a write the kills
 * come, so that they spread over whole writes on a slow disk and a fast one. */
static double watch_writes(const char *whole)
{
    char args[4096];
    snprintf(args, sizeof args, "train " FAULT_RUN " steps=%d out=%s", FAULT_STEPS, whole);
    const char *ckpt = sm_test_join(whole, "checkpoint.bin");
    pid_t pid = sm_test_cli_start(args, "/dev/null", "/dev/null", -1);
    double started = 0, total = 0;
    int writes = 0, status;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        int writing = access(whole, F_OK) == 0 && sm_test_count_temporaries(ckpt) > 0;
        if (writing && !started) started = sm_timer_now();
        if (!writing && started) {
            total += sm_timer_now() - started;
            writes++;
            started = 0;
        }
        sleep_us(100);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(writes > 0);
    return total / writes;
}

/* One run of the chain in cut: from checkpoint.bin if there is one, killed
 * (SIGKILL) at a random moment up to twice the mean write time after the
 * start of its first checkpoint write (a temporary next to checkpoint.bin).
 * The last kill's temporary is removed first, as the run would remove it
 * itself when it starts (test_simsiam_train checks that), so that the
 * first one seen is this run's.  Returns 1 when the write was cut short
 * (its temporary is left behind), 0 when the kill came after it, -1 when the
 * run finished first. */
static int kill_during_a_write(const char *cut, double write_s, sm_rng *rng)
{
    const char *ckpt = sm_test_join(cut, "checkpoint.bin");
    char args[4096];
    snprintf(args, sizeof args, "rm -f '%s'.??????", ckpt);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    assert_int_equal(sm_test_count_temporaries(ckpt), 0);
    snprintf(args, sizeof args, "train " FAULT_RUN " steps=%d out=%s%s%s", FAULT_STEPS, cut,
             access(ckpt, F_OK) == 0 ? " resume=" : "", access(ckpt, F_OK) == 0 ? ckpt : "");
    pid_t pid = sm_test_cli_start(args, "/dev/null", "/dev/null", -1);
    int status;
    while (sm_test_count_temporaries(ckpt) == 0) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return -1;
            fail_msg("the run failed before its first checkpoint write (status %d)", status);
        }
        sleep_us(100);
    }
    sleep_us((long)(2e6 * write_s * sm_rng_uniform(rng)));
    kill(pid, SIGKILL);
    int rc = sm_test_cli_wait(pid);
    if (rc == 0) return -1;
    assert_int_equal(rc, 128 + SIGKILL);
    return sm_test_count_temporaries(ckpt) > 0;
}

/* Finish the chain in cut (resume to the end) and compare it with the run
 * never stopped. */
static void finish_and_compare(const char *whole, const char *cut)
{
    const char *ckpt = sm_test_join(cut, "checkpoint.bin");
    char args[8192];
    snprintf(args, sizeof args, "train " FAULT_RUN " steps=%d out=%s%s%s", FAULT_STEPS, cut,
             access(ckpt, F_OK) == 0 ? " resume=" : "", access(ckpt, F_OK) == 0 ? ckpt : "");
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    assert_int_equal(same_outputs(whole, cut), 2);
}

/* SIGKILL at KILLS random moments in and just after checkpoint writes (a
 * chain of runs, each resuming from what the last one left): after every
 * kill checkpoint.bin is either absent (killed during the first write) or a
 * complete checkpoint that loads, never older than before the kill; each
 * chain, resumed to the end, has the same parameters, momentum, BN
 * statistics and CSV rows as a run never stopped.  A chain that reaches the
 * end starts over in a fresh directory. */
static void test_sigkill_during_checkpoint_writes(void **state)
{
    (void)state;
    char whole[1024], cut[1024], cmd[8192];
    snprintf(whole, sizeof whole, "%s", sm_test_path("kill_whole"));
    snprintf(cut, sizeof cut, "%s", sm_test_path("kill_cut"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mkdir '%s'", whole, cut, cut);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    double write_s = watch_writes(whole);

    sm_rng rng;
    uint64_t seed = (uint64_t)time(NULL);
    sm_rng_seed(&rng, seed, 7);
    int kills = 0, cut_short = 0, chains = 1;
    long step = -1;
    while (kills < KILLS) {
        int r = kill_during_a_write(cut, write_s, &rng);
        long now = checkpoint_step(sm_test_join(cut, "checkpoint.bin"));
        if (r >= 0) {
            if (now < step) fail_msg("kill %d: checkpoint.bin went back from step %ld to %ld", kills, step, now);
            kills++;
            cut_short += r;
            step = now;
        }
        if (r < 0 || now >= FAULT_STEPS - 2) { /* the chain is (nearly) done: check it, start another */
            finish_and_compare(whole, cut);
            snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", cut, cut);
            assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
            step = -1;
            chains++;
        }
    }
    finish_and_compare(whole, cut);
    printf("# %d SIGKILLs (seed %llu, writes of %.1f ms) in %d chains: %d cut a checkpoint write short, %d came "
           "after it; every checkpoint loaded, every chain resumed exactly\n",
           kills, (unsigned long long)seed, 1e3 * write_s, chains, cut_short, kills - cut_short);
    assert_true(cut_short > 0);
}

/* A full disk (a file size limit: writes past it fail with EFBIG) while a
 * resumed run writes: when even config.txt does not fit, and when the
 * checkpoint does not (config.txt, written first, is then the new run's).
 * Each time: exit 1, one error line naming the file (after the resume's
 * warning when the run had started, its config.txt written), nothing on
 * stdout, the earlier run's files byte for byte as they were, no
 * temporaries left; the checkpoint then resumes to the end. */
static void test_full_disk_keeps_earlier_files(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", sm_test_path("full_disk"));
    const char *keep[] = {"checkpoint.bin", "train.csv", "config.txt"};
    const struct {
        long limit;
        const char *file; /* the write that fails */
        int kept;         /* keep[0..kept) must be unchanged */
        int started;      /* config.txt was written: the run warns first */
    } cases[] = {{256, "config.txt", 3, 0}, {32768, "checkpoint.bin", 2, 1}};
    char args[4096], out[1100], err[1100];
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train " FAULT_RUN " steps=4 out=%s", dir);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    snprintf(out, sizeof out, "%s", sm_test_path("full_disk.out"));
    snprintf(err, sizeof err, "%s", sm_test_path("full_disk.err"));
    char *before[3];
    size_t n_before[3];
    for (int i = 0; i < 3; i++) assert_non_null(before[i] = sm_test_read(sm_test_join(dir, keep[i]), &n_before[i]));

    snprintf(args, sizeof args, "train " FAULT_RUN " steps=8 out=%s resume=%s/checkpoint.bin", dir, dir);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        assert_int_equal(sm_test_cli_wait(sm_test_cli_start(args, out, err, cases[c].limit)), 1);
        char *o = sm_test_read(out, NULL), *e = sm_test_read(err, NULL), expected[2400];
        assert_string_equal(o, "");
        snprintf(expected, sizeof expected, "%ssimsiam-mi: error: write failed: File too large (%s)\n",
                 cases[c].started ? "simsiam-mi: warning: resumed with values other than the checkpoint's: steps=8 "
                                    "(was 4); the run goes on with the new values, which config.txt records in "
                                    "place of the old\n"
                                  : "",
                 sm_test_join(dir, cases[c].file));
        assert_string_equal(e, expected);
        free(o);
        free(e);
        for (int i = 0; i < cases[c].kept; i++) {
            size_t n;
            char *now = sm_test_read(sm_test_join(dir, keep[i]), &n);
            assert_non_null(now);
            if (n != n_before[i] || memcmp(now, before[i], n)) fail_msg("%s changed (limit %d)", keep[i], (int)cases[c].limit);
            assert_int_equal(sm_test_count_temporaries(sm_test_join(dir, keep[i])), 0);
            free(now);
        }
    }
    for (int i = 0; i < 3; i++) free(before[i]);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    assert_int_equal(checkpoint_step(sm_test_join(dir, "checkpoint.bin")), 8);
}

/* A data directory that cannot be read: one error line naming the file and
 * the reason, exit 1.  Files that are directories or dangling symbolic
 * links (IDX and CIFAR-10), and a directory without permissions: as root,
 * whom permission bits do not stop, the run drops to nobody (setpriv), its
 * output going to a directory nobody may write. */
static void test_unreadable_data_directory(void **state)
{
    (void)state;
    char root[1024];
    snprintf(root, sizeof root, "%s", sm_test_path("unreadable"));
    char cmd[16384], args[8192];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' && mkdir -p '%s/dirs' '%s/links' '%s/cifar' '%s/locked' '%s/out' && chmod 1777 '%s/out' && "
             "for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do mkdir '%s/dirs/'$f; "
             "ln -s /nonexistent '%s/links/'$f.gz; : >'%s/locked/'$f.gz; done && mkdir '%s/cifar/data_batch_1.bin' && "
             "chmod 000 '%s/locked'",
             root, root, root, root, root, root, root, root, root, root, root, root);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    const struct {
        const char *data, *file, *message;
    } cases[] = {
        {"dataset=mnist data_dir=%s/dirs", "dirs/train-images-idx3-ubyte", "read error: Is a directory"},
        {"dataset=mnist data_dir=%s/links", "links/train-images-idx3-ubyte.gz", "data file not found, with or without .gz"},
        {"dataset=cifar10 data_dir=%s/cifar", "cifar/data_batch_1.bin", "data file is not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char data[2048], file[2048];
        snprintf(data, sizeof data, cases[i].data, root);
        snprintf(file, sizeof file, "(%s/%s)", root, cases[i].file);
        snprintf(args, sizeof args, "train %s steps=1 threads=1 out=%s/out/%zu", data, root, i);
        sm_test_cli_error(args, 1, cases[i].message, file);
    }
    /* As root, only a run as another user is stopped by the permission bits. */
    const char *as = geteuid() == 0 ? "setpriv --reuid=nobody --regid=nogroup --clear-groups " : "";
    if (geteuid() == 0 && sm_test_run("command -v setpriv && id nobody", NULL, NULL) != 0) {
        printf("# no setpriv or no user nobody: the directory without permissions is not tried\n");
        return;
    }
    snprintf(cmd, sizeof cmd, "%s'%s' train dataset=fashion-mnist data_dir=%s/locked steps=1 threads=1 out=%s/out/locked",
             as, sm_test_bin(), root, root);
    char file[2048];
    snprintf(file, sizeof file, "(%s/locked/train-images-idx3-ubyte.gz)", root);
    sm_test_run_error(cmd, 1, "cannot read data file: Permission denied", file);
}

static void test_usage_errors(void **state)
{
    (void)state;
    sm_test_cli_error("train " TINY " bacth=16", 2, "unknown key 'bacth'", "did you mean 'batch'?");
    sm_test_cli_error("train --confg x", 2, "unknown option '--confg'", "--config");
    sm_test_cli_error("train " TINY " steps=2 pred_mode=directpred pred_steps=2", 2,
                      "pred_steps=2 needs pred_mode=sgd: pred_mode=directpred trains no predictor", NULL);
    char args[4096];
    const char *out = sm_test_path("big_batch");
    snprintf(args, sizeof args, "rm -rf '%s'", out);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train dataset=synthetic batch=4000 steps=1 out=%s", out);
    sm_test_cli_error(args, 2, "batch", NULL);
    assert_int_equal(access(out, F_OK), -1); /* refused before the run directory is made */
}

/* A run that fails to start (missing data, a corrupt resume file) leaves an
 * existing run directory as it was: config.txt is written only after every
 * input has been read. */
/* A ResNet's array sizes do not depend on the image size, so a checkpoint
 * says which images it was trained on: a resume with a data_dir of smaller
 * images, and an eval after its data_dir's files were replaced by them, are
 * refused (exit 1, the checkpoint named) instead of running. */
static void test_images_of_another_size(void **state)
{
    (void)state;
    char big[1024], small[1024], run[1024], ckpt[1100], args[8192];
    snprintf(big, sizeof big, "%s", sm_test_write_mnist_dir("side12", 32, 12));
    snprintf(small, sizeof small, "%s", sm_test_write_mnist_dir("side8", 32, 8));
    snprintf(run, sizeof run, "%s", sm_test_path("side12_run"));
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", run);
    snprintf(args, sizeof args, "rm -rf '%s'", run);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    const char *keys = "dataset=mnist arch=resnet width=2 batch=8 threads=1 knn_every=0";
    snprintf(args, sizeof args, "train %s data_dir=%s steps=1 out=%s", keys, big, run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    const char *want = "checkpoint of a model trained on 1 x 12 x 12 images; the data set's images are 1 x 8 x 8";
    snprintf(args, sizeof args, "train %s data_dir=%s steps=2 out=%s resume=%s", keys, small, run, ckpt);
    sm_test_cli_error(args, 1, want, ckpt);
    snprintf(args, sizeof args, "cp '%s'/* '%s'", small, big);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "eval --checkpoint %s", ckpt);
    sm_test_cli_error(args, 1, want, ckpt);
}

static void test_failed_start_keeps_the_run_directory(void **state)
{
    (void)state;
    const char *run = sm_test_path("kept_run"), *bad = sm_test_path("kept_bad.bin");
    char args[4096];
    snprintf(args, sizeof args, "train " TINY " steps=2 knn_every=0 out=%s", run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    const char *config = sm_test_join(run, "config.txt");
    size_t n_before;
    char *before = sm_test_read(config, &n_before);
    sm_test_write_text(bad, "not a checkpoint at all");
    snprintf(args, sizeof args, "train " TINY " steps=5 knn_every=0 out=%s resume=%s", run, bad);
    sm_test_cli_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "train dataset=mnist data_dir=%s batch=64 out=%s", sm_test_path("no_such_dir"), run);
    sm_test_cli_error(args, 1, "no_such_dir", NULL);
    sm_test_assert_file_is(config, before, n_before);
    free(before);
}

/* out= too long for checkpoint-<step>.bin's temporary in it: refused
 * before any directory is made. */
static void test_out_too_long_for_its_files(void **state)
{
    (void)state;
    char base[1100], out[4200], args[4400];
    snprintf(base, sizeof base, "%s", sm_test_path("long_out"));
    sm_test_deep_path(out, sizeof out, base, 4053);
    snprintf(args, sizeof args, "train " TINY " steps=1 knn_every=0 out=%s", out);
    sm_test_cli_error(args, 1, "output directory path of 4053 bytes is too long: at most 4052", NULL);
    struct stat sb;
    assert_int_not_equal(stat(base, &sb), 0);
}

/* A run directory with a checkpoint (checkpoint.bin or a kept copy) belongs
 * to its run: a fresh run there, or one resumed from a checkpoint
 * elsewhere, is refused and changes none of its files (even one that would
 * fail at its third step); resumes from its checkpoints go on; the files
 * of one without any are replaced. */
static void test_another_run_in_the_same_out(void **state)
{
    (void)state;
    char run[1100], other[1100], args[4096];
    snprintf(run, sizeof run, "%s", sm_test_path("owned_run"));
    snprintf(other, sizeof other, "%s", sm_test_path("owned_other"));
    snprintf(args, sizeof args, "train " TINY " steps=2 knn_every=1 out=%s", run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train " TINY " steps=2 knn_every=0 seed=3 out=%s", other);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    static const char *const names[] = {"config.txt", "train.csv", "eval.csv", "summary.json", "checkpoint.bin"};
    enum { N = sizeof names / sizeof *names };
    char *before[N];
    size_t n_before[N];
    for (int i = 0; i < N; i++) before[i] = sm_test_read(sm_test_join(run, names[i]), &n_before[i]);
    const char *refused = "out= already holds a run with a checkpoint (checkpoint.bin): continue that run with "
                          "resume= of its checkpoint, or choose another out=";
    snprintf(args, sizeof args, "train " TINY " steps=5 knn_every=0 lr=1e30 loss=l2 out=%s", run);
    sm_test_cli_error(args, 1, refused, run);
    snprintf(args, sizeof args, "train " TINY " steps=4 knn_every=0 seed=3 out=%s resume=%s/checkpoint.bin", run,
             other);
    sm_test_cli_error(args, 1, refused, run);
    for (int i = 0; i < N; i++) {
        sm_test_assert_file_is(sm_test_join(run, names[i]), before[i], n_before[i]);
        free(before[i]);
    }
    /* a finished run resumed for more steps is not finished until it ends: its old summary.json goes */
    snprintf(args, sizeof args, "train " TINY " steps=5 knn_every=0 lr=1e30 out=%s resume=%s/checkpoint.bin", run, run);
    char *err;
    assert_int_equal(sm_test_cli(args, NULL, &err), 1); /* the changed keys' warning, then the error */
    if (!strstr(err, "loss is nan at step 4; last good checkpoint kept")) fail_msg("stderr: %s", err);
    free(err);
    struct stat sb;
    assert_int_not_equal(stat(sm_test_join(run, "summary.json"), &sb), 0);
    /* a kept copy alone is a checkpoint too: it resumes, a fresh run is refused */
    snprintf(args, sizeof args, "train " TINY " steps=3 knn_every=1 checkpoint_keep=1 out=%s resume=%s/checkpoint.bin",
             run, run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    assert_int_equal(unlink(sm_test_join(run, "checkpoint.bin")), 0);
    snprintf(args, sizeof args, "train " TINY " steps=1 knn_every=0 out=%s", run);
    sm_test_cli_error(args, 1, "out= already holds a run with a checkpoint (checkpoint-3.bin)", run);
    snprintf(args, sizeof args, "train " TINY " steps=4 knn_every=1 checkpoint_keep=1 out=%s resume=%s/checkpoint-3.bin",
             run, run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    /* no checkpoint at all: a fresh run removes the old run's files, eval.csv too */
    snprintf(args, sizeof args, "rm '%s'/checkpoint*.bin", run);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "train " TINY " steps=1 knn_every=0 out=%s", run);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    assert_int_not_equal(stat(sm_test_join(run, "eval.csv"), &sb), 0);
    assert_int_equal(stat(sm_test_join(run, "config.txt"), &sb), 0);
}

static void test_data_errors(void **state)
{
    (void)state;
    const char *bad = sm_test_path("bad.bin");
    sm_test_write_text(bad, "not a checkpoint at all");
    char args[4096];
    snprintf(args, sizeof args, "train " TINY " steps=2 out=%s resume=%s", sm_test_path("cli_bad"), bad);
    sm_test_cli_error(args, 1, bad, NULL);
    snprintf(args, sizeof args, "train --config %s", sm_test_path("missing.conf"));
    sm_test_cli_error(args, 1, "missing.conf", NULL);
    /* CIFAR batch files (sparse) whose sizes ask for 300 GB: out of memory,
     * naming the data directory (only under the memory cap, which an ASan
     * build cannot start under: without it the allocation might succeed) */
    if (!*sm_test_memory_cap()) return;
    char dir[1100], cmd[8400];
    snprintf(dir, sizeof dir, "%s", sm_test_dir("cifar_huge"));
    snprintf(cmd, sizeof cmd, "cd '%s' && for i in 1 2 3 4 5; do truncate -s %lld data_batch_$i.bin || exit 1; done",
             dir, 3073LL * 20000000);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s'%s' train dataset=cifar10 data_dir=%s steps=1 threads=1 out=%s/out",
             sm_test_memory_cap(), sm_test_bin(), dir, dir);
    sm_test_run_error(cmd, 1, "out of memory for the 100000000 images the batch files' sizes give", dir);
}

/* Resuming a small run's checkpoint with width=1024 (an MLP of ~280 M
 * parameters, over 3 GB with its gradients and momentum): refused from the
 * checkpoint's sizes before the model is built; under the memory cap an
 * attempt to build it fails as "out of memory" instead. */
static void test_resume_into_a_huge_network(void **state)
{
    (void)state;
    const char *small = sm_test_path("resume_small");
    char args[4096], cmd[8400];
    snprintf(args, sizeof args, "train " TINY " steps=2 knn_every=0 out=%s", small);
    assert_int_equal(sm_test_cli(args, NULL, NULL), 0);
    const char *ckpt = sm_test_join(small, "checkpoint.bin");
    snprintf(cmd, sizeof cmd, "%stimeout 300 '%s' train " TINY " width=1024 steps=3 knn_every=0 out=%s resume=%s",
             sm_test_memory_cap(), sm_test_bin(), sm_test_path("resume_huge"), ckpt);
    sm_test_run_error(cmd, 1, "checkpoint of another network: width=2 there, 1024 here", ckpt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_run_prints_summary),
        cmocka_unit_test(test_config_files_layer),
        cmocka_unit_test(test_resume_with_other_values_warns),
        cmocka_unit_test(test_sigterm_then_resume),
        cmocka_unit_test(test_sigint_then_resume),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_out_too_long_for_its_files),
        cmocka_unit_test(test_another_run_in_the_same_out),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_images_of_another_size),
        cmocka_unit_test(test_failed_start_keeps_the_run_directory),
        cmocka_unit_test(test_resume_into_a_huge_network),
        cmocka_unit_test(test_sigkill_during_checkpoint_writes),
        cmocka_unit_test(test_full_disk_keeps_earlier_files),
        cmocka_unit_test(test_unreadable_data_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
