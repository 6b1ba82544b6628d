/* Tests for experiments/ and scripts/experiment.sh: every experiment's quick
 * size runs end to end with the project binary ($SM_BIN), every run leaves a
 * summary.json, a second invocation skips them all (its pool of runs is the
 * machine's cores, not OMP_NUM_THREADS), a run with a checkpoint
 * but no summary resumes, and the experiment report is written; a failing run
 * fails the whole command after the others finish, naming its log; two
 * invocations on the same results at once: the second refuses (the lock of
 * scripts/lock.sh); SIGINT and SIGTERM stop it at a checkpoint and the next
 * invocation resumes; usage errors exit 2 (also through make).  Results go to the scratch directory
 * (SM_RESULTS), never into experiments/<name>/results/.  Each quick
 * experiment's wall time is printed (information, not asserted). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/timer.h"
#include "support/support.h"

enum { MAX_RUNS = 16, NAME_LEN = 64 };

/* The run names of a runs file (first word of each line that is not a
 * comment).  Returns how many. */
static int run_names(const char *runs_file, char names[MAX_RUNS][NAME_LEN])
{
    char *text = sm_test_read(runs_file, NULL);
    if (!text) fail_msg("missing %s", runs_file);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        line += strspn(line, " \t");
        size_t len = strcspn(line, " \t#");
        if (len == 0) continue;
        assert_true(n < MAX_RUNS && len < NAME_LEN);
        memcpy(names[n], line, len);
        names[n++][len] = '\0';
    }
    free(text);
    return n;
}

static void expect_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle)) fail_msg("expected \"%s\" in:\n%s", needle, text);
}

/* The cores this process may run on, as nproc counts them without OMP_*. */
static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) fail_msg("sched_getaffinity failed");
    return CPU_COUNT(&set);
}

static int exists(const char *dir, const char *run, const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", dir, run, file);
    return access(path, F_OK) == 0;
}

/* SM_BIN=… SM_RESULTS=results [env] script args, captured. */
static int run_with(const char *results, const char *env, const char *script, const char *args, char **out,
                    char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "SM_BIN='%s' SM_RESULTS='%s' %s %s %s", sm_test_bin(), results, env, script, args);
    return sm_test_run(cmd, out, err);
}

/* The quick size of experiments/<name>: runs, skips, resumes, reports. */
static void check_quick_experiment(const char *name)
{
    char results[2048], sized[2100], runs_file[256], script[256], line[2400], scratch[128];
    char names[MAX_RUNS][NAME_LEN];
    snprintf(scratch, sizeof scratch, "xq_%s", name);
    snprintf(results, sizeof results, "%s", sm_test_path(scratch));
    snprintf(sized, sizeof sized, "%s/quick", results);
    snprintf(runs_file, sizeof runs_file, "experiments/%s/runs", name);
    snprintf(script, sizeof script, "experiments/%s/run.sh", name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", results);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    int n = run_names(runs_file, names);
    assert_true(n > 0);

    char *out, *err;
    double t0 = sm_timer_now();
    int rc = run_with(results, "", script, "quick", &out, &err);
    double seconds = sm_timer_now() - t0;
    if (rc) fprintf(stderr, "%s\n%s", out, err);
    assert_int_equal(rc, 0);
    if (strstr(err, "scripts/experiment.sh: line ")) fail_msg("bash complained: %s", err); /* kept[-1] of () */
    printf("# experiment %s, quick size: %d runs in %.1f s\n", name, n, seconds);
    for (int i = 0; i < n; i++) {
        if (!exists(sized, names[i], "summary.json")) fail_msg("%s: no summary.json for %s", name, names[i]);
        assert_true(exists(sized, names[i], "train.log"));
        snprintf(line, sizeof line, "run %s: done in ", names[i]);
        expect_contains(out, line);
    }
    snprintf(line, sizeof line, "experiment %s (quick): %d finished, 0 skipped, 0 failed\n", name, n);
    expect_contains(out, line);
    free(out);
    free(err);

    /* Everything finished: a second invocation only says so.  Its pool is
     * the machine's cores (at most one per run) even when OMP_NUM_THREADS
     * says 1, as under make valgrind: GNU nproc alone would answer 1. */
    assert_int_equal(run_with(results, "OMP_NUM_THREADS=1 JOBS=", script, "", &out, &err), 0);
    const int cores = usable_cores();
    snprintf(line, sizeof line, "up to %d at once", cores < n ? cores : n);
    expect_contains(out, line);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "run %s: skipped (finished: ", names[i]);
        expect_contains(out, line);
    }
    snprintf(line, sizeof line, "experiment %s (quick): 0 finished, %d skipped, 0 failed\n", name, n);
    expect_contains(out, line);
    assert_string_equal(err, "");
    free(out);
    free(err);

    /* A checkpoint without a summary (a run cut short) resumes from it. */
    snprintf(cmd, sizeof cmd, "rm '%s/%s/summary.json'", sized, names[0]);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    assert_int_equal(run_with(results, "", script, "quick", &out, &err), 0);
    snprintf(line, sizeof line, "run %s: resumed from %s/%s/checkpoint.bin\n", names[0], sized, names[0]);
    expect_contains(out, line);
    snprintf(line, sizeof line, "experiment %s (quick): 1 finished, %d skipped, 0 failed\n", name, n - 1);
    expect_contains(out, line);
    assert_true(exists(sized, names[0], "summary.json"));
    free(out);
    free(err);

    /* Without checkpoint.bin, the newest kept copy (validate_bound keeps
     * them): train would refuse a fresh run over it. */
    if (exists(sized, names[0], "checkpoint-200.bin")) {
        snprintf(cmd, sizeof cmd, "cd '%s/%s' && rm summary.json checkpoint.bin && cp checkpoint-200.bin checkpoint-7.bin",
                 sized, names[0]);
        assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
        assert_int_equal(run_with(results, "", script, "quick", &out, &err), 0);
        snprintf(line, sizeof line, "run %s: resumed from %s/%s/checkpoint-200.bin\n", names[0], sized, names[0]);
        expect_contains(out, line);
        assert_true(exists(sized, names[0], "summary.json"));
        free(out);
        free(err);
    }

    /* The report: a row per run, with its chain counts or "no tracking data". */
    snprintf(cmd, sizeof cmd, "experiments/%s quick", name);
    rc = run_with(results, "", "analysis/experiment-report.sh", cmd, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    snprintf(cmd, sizeof cmd, "%s/report.md", sized);
    char *report = sm_test_read(cmd, NULL);
    if (!report) fail_msg("no %s", cmd);
    snprintf(line, sizeof line, "# Experiment %s (quick size)\n", name);
    expect_contains(report, line);
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "| %s | ", names[i]);
        expect_contains(report, line);
        assert_true(exists(sized, names[i], "report.md"));
        assert_true(exists(sized, names[i], "plots/train.png"));
        /* every quick size tracks: a run without tracking data is a failure here */
        if (!exists(sized, names[i], "track.csv")) fail_msg("%s: no track.csv for %s", name, names[i]);
        assert_true(exists(sized, names[i], "plots/info.svg"));
        assert_true(exists(sized, names[i], "plots/chain.svg"));
    }
    expect_contains(report, "## Conclusion (computed from the tables above)");
    if (strstr(report, "no tracking data")) fail_msg("%s: the report says \"no tracking data\"", name);
    free(report);
    free(out);
    free(err);
}

static void test_pred_lr_quick(void **state)
{
    (void)state;
    check_quick_experiment("pred_lr");
}

static void test_pred_steps_quick(void **state)
{
    (void)state;
    check_quick_experiment("pred_steps");
}

static void test_validate_bound_quick(void **state)
{
    (void)state;
    check_quick_experiment("validate_bound");
}

static void test_mi_vs_loss_quick(void **state)
{
    (void)state;
    check_quick_experiment("mi_vs_loss");
}

/* The paths of a refit experiment's quick run in the scratch space: its
 * results, its source experiment's (SM_SOURCE_RESULTS in env) and the
 * results' quick/ directory. */
typedef struct {
    char results[2048], source[2048], env[4200], sized[2100];
} refit_paths;

/* Refit experiment NAME's quick size from scratch, validate_bound's quick
 * models trained first into the scratch space too: exit 0 and "N refits
 * finished" for the N = want lines of its runs file (their names in names).
 * Returns its stdout (free it). */
static char *run_refit_quick(const char *name, int want, char names[][NAME_LEN], refit_paths *p)
{
    char scratch[128], cmd[4400], line[256];
    snprintf(scratch, sizeof scratch, "xq_%s", name);
    snprintf(p->results, sizeof p->results, "%s", sm_test_path(scratch));
    snprintf(scratch, sizeof scratch, "xq_%s_source", name);
    snprintf(p->source, sizeof p->source, "%s", sm_test_path(scratch));
    snprintf(p->env, sizeof p->env, "SM_SOURCE_RESULTS='%s'", p->source);
    snprintf(p->sized, sizeof p->sized, "%s/quick", p->results);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", p->results, p->source);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "experiments/%s/runs", name);
    assert_int_equal(run_names(cmd, names), want);

    char *out, *err, script[256];
    snprintf(script, sizeof script, "experiments/%s/run.sh", name);
    int rc = run_with(p->results, p->env, script, "quick", &out, &err);
    if (rc) fprintf(stderr, "%s\n%s", out, err);
    assert_int_equal(rc, 0);
    snprintf(line, sizeof line, "experiment %s (quick): %d refits finished, 0 skipped, 0 failed\n", name, want);
    expect_contains(out, line);
    free(err);
    return out;
}

/* analysis/experiment-report.sh on refit experiment NAME's quick results,
 * with env (the source's results): exit 0, nothing on stderr.  Returns
 * report.md (free it). */
static char *refit_report(const char *name, const refit_paths *p, const char *env)
{
    char args[256], path[2200], *out, *err;
    snprintf(args, sizeof args, "experiments/%s quick", name);
    int rc = run_with(p->results, env, "analysis/experiment-report.sh", args, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/report.md", p->sized);
    char *report = sm_test_read(path, NULL);
    if (!report) fail_msg("no %s", path);
    return report;
}

/* The refit experiment: validate_bound's quick models (in the scratch
 * space too, SM_SOURCE_RESULTS), one refit per line of its runs file, each
 * refit.csv tracked at refit steps 0, 1, 2, 4, ..., 64; a second invocation
 * skips them, a refit cut short is redone; the report has its tables, plots
 * and computed conclusion, and names each loss's own chain from the refits'
 * own configurations when the source results have moved; a damaged refit.csv
 * is named and left out. */
static void test_predictor_convergence_quick(void **state)
{
    (void)state;
    char line[2400], cmd[4400];
    char names[MAX_RUNS][NAME_LEN];
    refit_paths p;
    const int n = 12;
    char *out = run_refit_quick("predictor_convergence", n, names, &p), *err;
    const char *results = p.results, *source = p.source, *env = p.env, *sized = p.sized;
    expect_contains(out, "experiment validate_bound (quick): 2 finished");
    for (int i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s/refit.csv", sized, names[i]);
        char *csv = sm_test_read(cmd, NULL);
        if (!csv) fail_msg("no %s", cmd);
        assert_int_equal(sm_test_lines(csv), 1 + 8);
        free(csv);
    }
    free(out);

    /* Source results copied without their checkpoints (as committed
     * results are): the source runs are finished, so the refits cannot be
     * done; said once, before any refit, naming what to delete. */
    char bare[2200], bare_results[2200], copy[12000];
    snprintf(bare, sizeof bare, "%s-bare", source);
    snprintf(bare_results, sizeof bare_results, "%s-bare", results);
    snprintf(copy, sizeof copy, "rm -rf '%s' '%s' && cp -r '%s' '%s' && rm '%s'/quick/*/checkpoint*.bin", bare,
             bare_results, source, bare, bare);
    assert_int_equal(sm_test_run(copy, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "SM_SOURCE_RESULTS='%s'", bare);
    assert_int_equal(run_with(bare_results, cmd, "experiments/predictor_convergence/run.sh", "quick", &out, &err), 1);
    expect_contains(err, "finished but keeps no checkpoint-<step>.bin");
    assert_int_equal(sm_test_lines(err), 1);
    assert_null(strstr(out, "refit l2-"));
    free(out);
    free(err);

    /* A refit cut short (refit.csv without its last row) is redone, the others
     * skipped; a pool larger than the refits is cut to their number. */
    snprintf(cmd, sizeof cmd, "sed -i '$d' '%s/%s/refit.csv'", sized, names[0]);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    char env_jobs[4300];
    snprintf(env_jobs, sizeof env_jobs, "%s JOBS=%d", env, n + 4);
    assert_int_equal(run_with(results, env_jobs, "experiments/predictor_convergence/run.sh", "quick", &out, &err), 0);
    expect_contains(out, "experiment validate_bound (quick): 0 finished, 2 skipped");
    snprintf(line, sizeof line, "refits of validate_bound, up to %d at once", n);
    expect_contains(out, line);
    snprintf(line, sizeof line, "experiment predictor_convergence (quick): 1 refits finished, %d skipped, 0 failed\n", n - 1);
    expect_contains(out, line);
    free(out);
    free(err);

    char *report = refit_report("predictor_convergence", &p, env);
    expect_contains(report, "### l2: Gaussian chain: E[NLL_full] ≥ Ĥ(z2|z1) in R^d (the loss's own Q)");
    expect_contains(report, "### cosine: sphere chain: E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) on S^{d−1} (the loss's own Q)");
    expect_contains(report, "fell from refit step 0 to the last step by more than its interval in ");
    expect_contains(report, "![l2, gauss chain](plots/convergence-l2-gauss.png)");
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line, "| %s | ", names[i]);
        expect_contains(report, line);
    }
    snprintf(cmd, sizeof cmd, "%s/plots/convergence-cosine-sphere.svg", sized);
    assert_int_equal(access(cmd, F_OK), 0);
    free(report);

    /* The source results moved away: each refit's own refit_config.txt still
     * says which chain is its loss's own. */
    snprintf(p.env, sizeof p.env, "SM_SOURCE_RESULTS='%s-moved'", source);
    report = refit_report("predictor_convergence", &p, env);
    expect_contains(report, "### l2: Gaussian chain: E[NLL_full] ≥ Ĥ(z2|z1) in R^d (the loss's own Q)");
    expect_contains(report, "### cosine: sphere chain: E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) on S^{d−1} (the loss's own Q)");
    free(report);

    /* A damaged refit.csv: named and left out, the others still reported, exit 1
     * with one line naming the file. */
    snprintf(cmd, sizeof cmd, "echo 64,oops >> '%s/%s/refit.csv'", sized, names[0]);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    assert_int_equal(run_with(results, env, "analysis/experiment-report.sh", "experiments/predictor_convergence quick",
                              &out, &err), 1);
    assert_int_equal(sm_test_lines(err), 1);
    expect_contains(err, "analysis: error: row has 2 cells, the header ");
    snprintf(line, sizeof line, " (%s/%s/refit.csv:10)\n", sized, names[0]);
    expect_contains(err, line);
    snprintf(cmd, sizeof cmd, "%s/report.md", sized);
    report = sm_test_read(cmd, NULL);
    assert_non_null(report);
    snprintf(line, sizeof line, "Damaged, left out of the tables and the conclusion: %s:\n- row has 2 cells", names[0]);
    expect_contains(report, line);
    snprintf(line, sizeof line, "| %s | ", names[0]);
    assert_null(strstr(report, line));
    snprintf(line, sizeof line, "| %s | ", names[1]);
    expect_contains(report, line);
    free(report);
    free(out);
    free(err);
}

/* The refit experiment over the predictor's rate: each run line's refit_lr
 * reaches its refit (refit_config.txt) over the size file's keys, and the
 * report compares the rates per model: a table of the gap at refit steps 0,
 * 1, 4, 16, 64 per rate and a computed line. */
static void test_refit_lr_quick(void **state)
{
    (void)state;
    char cmd[4400];
    char names[MAX_RUNS][NAME_LEN];
    refit_paths p;
    free(run_refit_quick("refit_lr", 8, names, &p));
    snprintf(cmd, sizeof cmd, "grep -qx 'refit_lr=0.2' '%s/l2-lr0.2/refit_config.txt' && "
                              "grep -qx 'refit_lr=0.005' '%s/cosine-lr0.005/refit_config.txt'", p.sized, p.sized);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);

    char *report = refit_report("refit_lr", &p, p.env);
    expect_contains(report, "## The gap vs the predictor's learning rate\n");
    expect_contains(report, "| refit_lr | step 0 | step 1 | step 4 | step 16 | step 64 |\n");
    expect_contains(report, "| 0.005 | ");
    expect_contains(report, "| 0.2 | ");
    expect_contains(report, "| l2-lr0.02 | ");
    expect_contains(report, " | reinit | 0.02 | ");
    expect_contains(report, "- **The predictor's learning rate** (l2, checkpoint step ");
    expect_contains(report, "- **The predictor's learning rate** (cosine, checkpoint step ");
    expect_contains(report, "At the last step (64): lr 0.005: ");
    free(report);
}

/* The experiment in expdir with this runs file: exit 1, want in stderr. */
static void expect_refused(const char *expdir, const char *results, const char *runs, const char *want)
{
    char args[2100], *err;
    sm_test_write_text(sm_test_join(expdir, "runs"), runs);
    snprintf(args, sizeof args, "%s quick", expdir);
    assert_int_equal(run_with(results, "", "scripts/experiment.sh", args, NULL, &err), 1);
    expect_contains(err, want);
    free(err);
}

/* A run that fails (here: an invalid key value) does not stop the others;
 * the command then exits 1 naming the run, its error and its log.  Malformed
 * runs files, and a bad value in the size file, are named with file and line. */
static void test_failed_run_is_named(void **state)
{
    (void)state;
    char expdir[2048], results[2100], line[4200];
    snprintf(line, sizeof line, "rm -rf '%s'", sm_test_path("xq_failing"));
    assert_int_equal(sm_test_run(line, NULL, NULL), 0);
    snprintf(expdir, sizeof expdir, "%s", sm_test_dir("xq_failing"));
    snprintf(results, sizeof results, "%s/results", expdir);
    sm_test_write_text(sm_test_join(expdir, "config"), "# failing\ndataset = synthetic\narch = mlp\nwidth = 2\n"
                                                       "proj_hidden = 8\nz_dim = 4\npred_hidden = 4\n");
    sm_test_write_text(sm_test_join(expdir, "quick.config"), "batch = 16\nsteps = 3\nknn_every = 0\n");
    sm_test_write_text(sm_test_join(expdir, "runs"), "bad width=0\ngood seed=1\n");
    char *out, *err;
    snprintf(line, sizeof line, "%s quick", expdir);
    assert_int_equal(run_with(results, "JOBS=1", "scripts/experiment.sh", line, &out, &err), 1);
    expect_contains(out, "experiment xq_failing (quick): 1 finished, 0 skipped, 1 failed\n");
    expect_contains(out, "run good: done in ");
    snprintf(line, sizeof line,
             "experiment xq_failing (quick): run bad failed (exit 2): simsiam-mi: error: bad value '0' for width");
    expect_contains(err, line);
    snprintf(line, sizeof line, "log %s/quick/bad/train.log\n", results);
    expect_contains(err, line);
    assert_true(exists(results, "quick/good", "summary.json"));
    assert_false(exists(results, "quick/bad", "summary.json"));
    free(out);
    free(err);
    /* a launcher's banner after the error (mpirun's): the summary still quotes the error */
    const char *noisy = sm_test_join(expdir, "noisy.sh");
    sm_test_write_text(noisy, "#!/bin/sh\n\"$@\"; rc=$?\necho '[vm:1] Set MCA parameter \"orte_base_help_aggregate\"' >&2\n"
                              "exit $rc\n");
    assert_int_equal(chmod(noisy, 0755), 0);
    char env[2400];
    snprintf(env, sizeof env, "JOBS=1 SM_LAUNCH='%s'", noisy);
    snprintf(line, sizeof line, "%s quick", expdir);
    assert_int_equal(run_with(results, env, "scripts/experiment.sh", line, &out, &err), 1);
    expect_contains(err, "run bad failed (exit 2): simsiam-mi: error: bad value '0' for width");
    free(out);
    free(err);

    /* results relative to the working directory, its first component holding "=" (RESULTS=seed=1): the
     * failed run's log is still read, not taken by awk for an assignment */
    char cwd[1024], cmd[8400];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(cmd, sizeof cmd,
             "bin=$(realpath '%s') && cd '%s' && SM_BIN=\"$bin\" SM_RESULTS=seed=1 JOBS=1 '%s/scripts/experiment.sh' "
             "\"$PWD\" quick",
             sm_test_bin(), expdir, cwd);
    assert_int_equal(sm_test_run(cmd, &out, &err), 1);
    expect_contains(err, "run bad failed (exit 2): simsiam-mi: error: bad value '0' for width");
    expect_contains(err, "log seed=1/quick/bad/train.log\n");
    free(out);
    free(err);

    /* A malformed runs file is named with its line. */
    snprintf(line, sizeof line, "experiment: error: run name \"good\" appears twice (%s/runs:2)\n", expdir);
    expect_refused(expdir, results, "good seed=1\ngood seed=2\n", line);
    expect_refused(expdir, results, "good seed\n", "expected key=value, got \"seed\"");
    expect_refused(expdir, results, "plots seed=1\n",
                   "run name \"plots\" is taken by the experiment report's plots directory");

    /* A bad value in the size file is named with its file and line. */
    sm_test_write_text(sm_test_join(expdir, "quick.config"), "batch = 16\nsteps = three\n");
    snprintf(line, sizeof line, "bad value 'three' for steps: expected an integer >= 0 (%s/quick.config:2)", expdir);
    expect_refused(expdir, results, "other seed=2\n", line);
}

/* A fresh experiment directory of that name in the scratch directory: a
 * tiny synthetic MLP, `steps` steps of 16 images a run, no kNN, the given
 * runs file; expdir[1024] and results[1100] (expdir/results) filled. */
static void tiny_experiment(const char *name, long steps, const char *runs, char *expdir, char *results)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sm_test_path(name));
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    snprintf(expdir, 1024, "%s", sm_test_dir(name));
    snprintf(results, 1100, "%s/results", expdir);
    sm_test_write_text(sm_test_join(expdir, "config"), "dataset = synthetic\narch = mlp\nwidth = 2\n"
                                                       "proj_hidden = 8\nz_dim = 4\npred_hidden = 4\n");
    snprintf(cmd, sizeof cmd, "batch = 16\nsteps = %ld\nknn_every = 0\n", steps);
    sm_test_write_text(sm_test_join(expdir, "quick.config"), cmd);
    sm_test_write_text(sm_test_join(expdir, "runs"), runs);
}

/* A refit experiment reads its runs and size files before its source
 * experiment trains: a malformed line is named at once, nothing trained. */
static void test_refit_experiment_checks_its_files_first(void **state)
{
    (void)state;
    char src_dir[1024], src_results[1100], refit_dir[1200], args[1300], env[1300];
    tiny_experiment("xq_refit_source", 3, "a seed=1\n", src_dir, src_results);
    snprintf(refit_dir, sizeof refit_dir, "%s", sm_test_dir("xq_refit_bad"));
    sm_test_write_text(sm_test_join(refit_dir, "source"), "xq_refit_source\n");
    sm_test_write_text(sm_test_join(refit_dir, "quick.config"), "refit_steps = 4\n");
    sm_test_write_text(sm_test_join(refit_dir, "runs"), "r1 source=a checkpoint=early refit_reinit=0\nr2 oops\n");
    snprintf(env, sizeof env, "SM_SOURCE_RESULTS='%s'", src_results);
    snprintf(args, sizeof args, "%s quick", refit_dir);
    char *err, line[2600];
    assert_int_equal(run_with(sm_test_join(refit_dir, "results"), env, "scripts/refit-experiment.sh", args, NULL, &err),
                     1);
    snprintf(line, sizeof line, "experiment: error: expected key=value, got \"oops\" (%s/runs:2)\n", refit_dir);
    assert_string_equal(err, line);
    assert_false(exists(src_results, "quick", "a"));
    free(err);
    /* a well-formed line with an unknown key, or a source that is not a run of the source
     * experiment: said before the source trains too */
    static const char *const bad[][2] = {
        {"r1 source=a checkpoint=early refit_reinit=0 refit_lrr=0.1\n", "refit r1: unknown key refit_lrr=0.1"},
        {"r1 source=b checkpoint=early refit_reinit=0\n", "refit r1: source=b is not a run of xq_refit_source"},
        {"r1 source=a checkpoint=latest refit_reinit=0\n", "refit r1: checkpoint= must be early, middle or late"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sm_test_write_text(sm_test_join(refit_dir, "runs"), bad[i][0]);
        assert_int_equal(run_with(sm_test_join(refit_dir, "results"), env, "scripts/refit-experiment.sh", args, NULL,
                                  &err), 2);
        snprintf(line, sizeof line, "experiment: error: %s", bad[i][1]);
        if (strncmp(err, line, strlen(line)) != 0 || sm_test_lines(err) != 1) fail_msg("stderr: %s", err);
        assert_false(exists(src_results, "quick", "a"));
        free(err);
    }
}

/* KEYS (SM_KEYS): key=value words every run gets after its runs line, so
 * an experiment can be replicated under another seed; anything but such
 * words, or KEYS for a refit experiment, is a usage error before a run starts. */
static void test_keys_for_every_run(void **state)
{
    (void)state;
    char expdir[1024], results[1100], args[1200], *out, *err;
    tiny_experiment("xq_keys", 3, "a seed=1\nb lr=0.05\n", expdir, results);
    snprintf(args, sizeof args, "%s quick", expdir);
    assert_int_equal(run_with(results, "JOBS=1 SM_KEYS='seed=5 wd=0.001'", "scripts/experiment.sh", args, &out, &err),
                     0);
    free(out);
    free(err);
    static const char *const runs[] = {"quick/a/config.txt", "quick/b/config.txt"};
    for (size_t i = 0; i < 2; i++) {
        char *config = sm_test_read(sm_test_join(results, runs[i]), NULL);
        expect_contains(config, "\nseed=5\n");
        expect_contains(config, "\nwd=0.001\n");
        expect_contains(config, i ? "\nlr=0.05\n" : "\nlr=0.03\n"); /* the runs line's own keys stay */
        free(config);
    }
    static const char *const bad[][2] = {
        {"seed", "expected key=value words, got \"seed\""},
        {"seed=$x", "expected key=value words, got \"seed=$x\""},
        {"Seed=1", "expected key=value words, got \"Seed=1\""},
        {"seed=1\\nLr=0.1", "expected key=value words, got \"Lr=0.1\""}, /* the second line too */
        {"resume=/tmp/x.bin", "resume is the runner's to set, not KEYS'"},
        {"threads=2", "threads is the runner's to set, not KEYS'"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char env[64], want[128];
        snprintf(env, sizeof env, "SM_KEYS=\"$(printf '%s')\"", bad[i][0]); /* printf turns \n into a newline */
        assert_int_equal(run_with(sm_test_join(expdir, "other"), env, "scripts/experiment.sh", args, NULL, &err), 2);
        snprintf(want, sizeof want, "experiment: error: KEYS: %s\n", bad[i][1]);
        assert_string_equal(err, want);
        free(err);
    }
    assert_int_equal(sm_test_run("SM_KEYS=seed=1 SM_RESULTS=/dev/null/x experiments/refit_lr/run.sh quick", NULL, &err),
                     2);
    assert_string_equal(err, "experiment: error: KEYS applies to training experiments; refit_lr refits its source "
                             "runs' checkpoints\n");
    free(err);
}

/* Two invocations on the same results directory at once: the second
 * refuses with one line naming the lock, runs nothing and writes nothing,
 * the first finishes untouched; once it is done, the directory is free.  The
 * first's run is held at a gate (a stand-in SM_BIN that waits for a file)
 * so that the two surely overlap, however loaded the machine. */
static void test_concurrent_invocations_refuse(void **state)
{
    (void)state;
    char expdir[1024], results[1100], gate[1100], fake[1100], args[1100], cmd[16384];
    tiny_experiment("xq_lock", 3, "only seed=1\n", expdir, results);
    snprintf(gate, sizeof gate, "%s/gate", expdir);
    snprintf(fake, sizeof fake, "%s/gated-simsiam-mi", expdir);
    snprintf(cmd, sizeof cmd, "#!/bin/sh\nwhile [ ! -e '%s' ]; do sleep 0.02; done\nexec '%s' \"$@\"\n", gate,
             sm_test_bin());
    sm_test_write_text(fake, cmd);
    snprintf(cmd, sizeof cmd, "chmod +x '%s'", fake);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);

    /* first: in the background, at the gate; second: while the first's run
     * waits there (its train.log exists); then open the gate. */
    snprintf(cmd, sizeof cmd,
             "SM_BIN='%s' SM_RESULTS='%s' scripts/experiment.sh '%s' quick >'%s/first.out' 2>&1 & first=$!\n"
             "while [ ! -e '%s/quick/only/train.log' ]; do sleep 0.02; done\n"
             "SM_BIN='%s' SM_RESULTS='%s' scripts/experiment.sh '%s' quick; second=$?\n"
             "touch '%s'; wait $first; echo \"first=$? second=$second\" >&2",
             fake, results, expdir, expdir, results, sm_test_bin(), results, expdir, gate);
    char *out, *err;
    assert_int_equal(sm_test_run(cmd, &out, &err), 0);
    assert_string_equal(out, "");
    char line[8192];
    snprintf(line, sizeof line,
             "experiment: error: another experiment is running on %s/quick (lock %s/quick/.lock is held); wait for "
             "it to finish, or set RESULTS to another directory\nfirst=0 second=1\n",
             results, results);
    assert_string_equal(err, line);
    free(out);
    free(err);
    snprintf(line, sizeof line, "%s/first.out", expdir);
    char *first = sm_test_read(line, NULL);
    assert_non_null(first);
    expect_contains(first, "experiment xq_lock (quick): 1 finished, 0 skipped, 0 failed\n");
    free(first);
    /* one run, once: its log has one command line */
    char *log = sm_test_read(sm_test_join(results, "quick/only/train.log"), NULL);
    assert_non_null(log);
    assert_int_equal(strstr(log, "# ") == log && !strstr(log + 1, "\n# "), 1);
    free(log);

    /* The lock went with the first invocation. */
    snprintf(args, sizeof args, "%s quick", expdir);
    assert_int_equal(run_with(results, "", "scripts/experiment.sh", args, &out, &err), 0);
    expect_contains(out, "experiment xq_lock (quick): 0 finished, 1 skipped, 0 failed\n");
    assert_string_equal(err, "");
    free(out);
    free(err);
}

/* The runner of scripts/experiment.sh started as a terminal starts it: in a
 * process group of its own with SIGINT and SIGHUP at their defaults (a test
 * run in the background inherits SIGINT ignored, under nohup SIGHUP, and
 * bash cannot trap a signal ignored at its start), JOBS=1, stdout and
 * stderr to files in expdir. */
static pid_t start_runner(const char *expdir, const char *results)
{
    char out[1100], err[1100];
    snprintf(out, sizeof out, "%s/runner.out", expdir);
    snprintf(err, sizeof err, "%s/runner.err", expdir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) return pid;
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || setpgid(0, 0) != 0 ||
        signal(SIGINT, SIG_DFL) == SIG_ERR || signal(SIGHUP, SIG_DFL) == SIG_ERR || setenv("SM_BIN", sm_test_bin(), 1) || setenv("SM_RESULTS", results, 1) ||
        setenv("JOBS", "1", 1))
        _exit(126);
    execl("/bin/bash", "bash", "scripts/experiment.sh", expdir, "quick", (char *)NULL);
    _exit(127);
}

/* Until run's train.log shows a progress line of its (k+1)-th invocation:
 * the trainer is past its start. */
static void wait_for_progress(const char *results, const char *run, int k)
{
    char log[1200];
    snprintf(log, sizeof log, "%s/quick/%s/train.log", results, run);
    for (int tries = 0; tries < 6000; tries++) {
        char *text = sm_test_read(log, NULL);
        const char *p = text;
        for (int i = 0; p && i < k; i++) p = strstr(p + 1, "\n# ");
        int ready = p && strstr(p, "\nstep ") != NULL;
        free(text);
        if (ready) return;
        usleep(10000);
    }
    fail_msg("no progress in %s after 60 s", log);
}

/* The runner's exit code, waited for at most 120 s (then it and its group
 * are killed and the test fails, instead of hanging the suite). */
static int wait_runner(pid_t pid)
{
    int status;
    for (int tries = 0; tries < 12000; tries++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        assert_true(got >= 0);
        if (got == pid) {
            assert_true(WIFEXITED(status));
            return WEXITSTATUS(status);
        }
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    fail_msg("the runner did not exit within 120 s of the signal");
    return -1;
}

/* Ctrl-C or a closed terminal (SIGINT, SIGHUP to the runner's whole process
 * group) or SIGTERM to the runner alone: the run in progress (in a session
 * of its own, so only the runner's SIGTERM reaches it) writes its checkpoint
 * and stops, no other run starts, the runner says so and exits 130 / 129 /
 * 143; the next invocation resumes the run and finishes the rest, every
 * train.csv step once. */
static void test_interrupt_stops_and_resumes(void **state)
{
    (void)state;
    char expdir[1024], results[1100], cmd[4200], sized[1200];
    tiny_experiment("xq_interrupt", 4000, "a seed=1\nb seed=2\nc seed=3\n", expdir, results);
    snprintf(sized, sizeof sized, "%s/quick", results);
    static const struct {
        int sig, group, rc;
    } cases[] = {{SIGINT, 1, 130}, {SIGHUP, 1, 129}, {SIGTERM, 0, 143}};
    for (int c = 0; c < 3; c++) {
        pid_t pid = start_runner(expdir, results);
        wait_for_progress(results, "a", c);
        assert_int_equal(kill(cases[c].group ? -pid : pid, cases[c].sig), 0);
        assert_int_equal(wait_runner(pid), cases[c].rc);
        snprintf(cmd, sizeof cmd, "%s/runner.out", expdir);
        char *out = sm_test_read(cmd, NULL);
        snprintf(cmd, sizeof cmd, "%s/runner.err", expdir);
        char *err = sm_test_read(cmd, NULL);
        assert_non_null(out);
        assert_non_null(err);
        expect_contains(out, "run a: stopped (exit 143) after ");
        expect_contains(err, "experiment xq_interrupt (quick): interrupted: 1 stopped, 2 not started; the same "
                             "command resumes\n");
        free(out);
        free(err);
        char *log = sm_test_read(sm_test_join(sized, "a/train.log"), NULL);
        assert_non_null(log);
        const char *stop = strstr(log, "simsiam-mi: stopped by SIGTERM at step ");
        assert_non_null(stop);
        while (strstr(stop + 1, "simsiam-mi: stopped by ")) stop = strstr(stop + 1, "simsiam-mi: stopped by ");
        /* a resumed run's stop line names one resume=, the new checkpoint */
        const char *resume = strstr(stop, " resume=");
        assert_non_null(resume);
        assert_true(!strstr(resume + 1, " resume=") || strstr(resume + 1, " resume=") > strchr(stop, '\n'));
        free(log);
        assert_true(exists(sized, "a", "checkpoint.bin"));
        assert_false(exists(sized, "a", "summary.json"));
        assert_false(exists(sized, "b", "train.log"));
        /* the runner waited for its run: nothing of it is left running */
        snprintf(cmd, sizeof cmd, "pgrep -f 'out=%s/a$'", sized);
        assert_int_equal(sm_test_run(cmd, NULL, NULL), 1);
    }
    char *out, *err;
    snprintf(cmd, sizeof cmd, "%s quick", expdir);
    assert_int_equal(run_with(results, "JOBS=1", "scripts/experiment.sh", cmd, &out, &err), 0);
    expect_contains(out, "run a: resumed from ");
    expect_contains(out, "experiment xq_interrupt (quick): 3 finished, 0 skipped, 0 failed\n");
    free(out);
    free(err);
    snprintf(cmd, sizeof cmd, "awk -F, 'NR > 1 && $1 <= s { exit 1 } NR > 1 { s = $1 } END { exit s != 4000 }' '%s'",
             sm_test_join(sized, "a/train.csv"));
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_run("scripts/experiment.sh", NULL, &err), 2);
    expect_contains(err, "usage: scripts/experiment.sh EXPDIR [quick|medium|full]");
    free(err);
    assert_int_equal(sm_test_run("experiments/pred_lr/run.sh huge", NULL, &err), 2);
    assert_string_equal(err, "experiment: error: unknown size 'huge' (quick, medium or full)\n");
    free(err);
    assert_int_equal(sm_test_run("SM_RESULTS=/dev/null/x experiments/pred_lr/run.sh quick", NULL, &err), 1);
    assert_string_equal(err, "experiment: error: cannot create the results directory (/dev/null/x/quick)\n");
    free(err);
    /* the Slurm settings with the local scheduler were dropped without a word */
    static const char *const slurm_only[] = {"SM_NODES=2", "SM_TASKS_PER_NODE=4", "SM_SBATCH_ARGS=--hold"};
    for (size_t i = 0; i < sizeof slurm_only / sizeof *slurm_only; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s SM_RESULTS=/dev/null/x experiments/pred_lr/run.sh quick", slurm_only[i]);
        assert_int_equal(sm_test_run(cmd, NULL, &err), 2);
        assert_string_equal(err, "experiment: error: NODES, TASKS_PER_NODE and SBATCH_ARGS apply to SCHEDULER=slurm "
                                 "only\n");
        free(err);
    }
    assert_int_equal(sm_test_run("JOBS=none experiments/pred_lr/run.sh quick", NULL, NULL), 2);
    assert_int_equal(sm_test_run("JOBS=0 experiments/predictor_convergence/run.sh quick", NULL, NULL), 2);
    assert_int_equal(sm_test_run("scripts/experiment.sh experiments/no_such_experiment", NULL, NULL), 2);
    /* make: the targets' own usage lines (make itself exits 2 on any failure). */
    static const char *const targets[][2] = {
        {"experiment", "usage: make experiment NAME=<mi_vs_loss|pred_lr|pred_steps|predictor_convergence|refit_lr|validate_bound>"},
        {"experiment NAME=nope", "usage: make experiment NAME="},
        {"plots", "usage: make plots RUN=DIR"},
        {"report", "usage: make report EXP=<mi_vs_loss|pred_lr|pred_steps|predictor_convergence|refit_lr|validate_bound>"},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "env -u MAKEFLAGS -u MAKELEVEL make -s --no-print-directory %s", targets[i][0]);
        assert_int_equal(sm_test_run(cmd, &out, &err), 2);
        assert_string_equal(out, "");
        expect_contains(err, targets[i][1]);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),       cmocka_unit_test(test_failed_run_is_named),
        cmocka_unit_test(test_refit_experiment_checks_its_files_first), cmocka_unit_test(test_keys_for_every_run),
        cmocka_unit_test(test_concurrent_invocations_refuse),
        cmocka_unit_test(test_interrupt_stops_and_resumes),
        cmocka_unit_test(test_pred_lr_quick),      cmocka_unit_test(test_pred_steps_quick),
        cmocka_unit_test(test_validate_bound_quick), cmocka_unit_test(test_mi_vs_loss_quick),
        cmocka_unit_test(test_predictor_convergence_quick), cmocka_unit_test(test_refit_lr_quick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
