/* Tests for scripts/slurm-experiment.sh (SCHEDULER=slurm) on a real Slurm:
 * scripts/slurm-local.sh starts a throwaway single-node one (munge,
 * slurmctld, slurmd from Debian, slurm.conf under the scratch directory)
 * for the group and stops every daemon it started by PID afterwards (group
 * teardown; its watchdog also stops them if this process dies first).  The
 * validate_bound quick size goes in as a job array plus a dependent report
 * job; a second submission skips the finished runs; a data-parallel
 * submission (NODES=1 TASKS_PER_NODE=2) trains with mpirun inside its job;
 * one with more nodes than the cluster's is warned about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/support.h"

static char slurm_dir[1024], conf[1100];

static int start_slurm(void **state)
{
    (void)state;
    snprintf(slurm_dir, sizeof slurm_dir, "%s", sm_test_blankless_path("slurm")); /* slurm.conf's paths */
    char cmd[2400], *out = NULL, *err = NULL;
    /* a port of our own: another suite may run its Slurm at the same time */
    snprintf(cmd, sizeof cmd, "rm -rf %s && SM_SLURM_PORT=%d scripts/slurm-local.sh start %s %d", slurm_dir,
             20000 + (int)(getpid() % 10000) * 2, slurm_dir, (int)getpid());
    int rc = sm_test_run(cmd, &out, &err);
    if (rc) fprintf(stderr, "%s\n%s%s", cmd, out, err);
    free(out);
    free(err);
    if (rc) return -1;
    snprintf(conf, sizeof conf, "%s/slurm.conf", slurm_dir);
    setenv("SLURM_CONF", conf, 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* sbatch passes our environment to the jobs */
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    return 0;
}

static int stop_slurm(void **state)
{
    (void)state;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "scripts/slurm-local.sh stop %s", slurm_dir);
    return sm_test_run(cmd, NULL, NULL) ? -1 : 0;
}

/* The last "report job N" id in the submission's output. */
static long report_job(const char *out)
{
    const char *p = strstr(out, "report job ");
    assert_non_null(p);
    return strtol(p + strlen("report job "), NULL, 10);
}

/* Wait up to `seconds` for job `id` to leave the queue (squeue no longer lists it). */
static void wait_for_job(long id, int seconds)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "for i in $(seq %d); do [ -z \"$(squeue -h -j %ld 2>/dev/null)\" ] && exit 0; "
             "sleep 1; done; squeue; exit 1", seconds, id);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
}

/* Submit experiment directory EXP's quick size (environment `env` added)
 * into results; returns the report job's id; *out gets the submission
 * output, *err (unless err is NULL) its standard error. */
static long submit(const char *env, const char *exp, const char *results, char **out, char **err)
{
    char cmd[4400], *errors = NULL;
    snprintf(cmd, sizeof cmd, "%s SM_SCHEDULER=slurm SM_BIN=%s SM_RESULTS=%s scripts/experiment.sh %s quick", env,
             sm_test_bin(), results, exp);
    int rc = sm_test_run(cmd, out, &errors);
    if (rc) fprintf(stderr, "%s\n%s%s", cmd, *out, errors);
    if (err)
        *err = errors;
    else
        free(errors);
    assert_int_equal(rc, 0);
    return report_job(*out);
}

static void expect_contains(const char *path, const char *needle)
{
    char *text = sm_test_read(path, NULL);
    if (!strstr(text, needle)) fail_msg("%s lacks \"%s\"", path, needle);
    free(text);
}

static void test_job_array_then_report(void **state)
{
    (void)state;
    char results[1024], *out = NULL;
    snprintf(results, sizeof results, "%s", sm_test_path("slurm_vb"));
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", results);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);

    char *err = NULL;
    long id = submit("", "experiments/validate_bound", results, &out, &err);
    assert_non_null(strstr(out, "2 of 2 runs submitted as Slurm array job"));
    assert_string_equal(err, ""); /* a shape the node holds: no warning */
    free(out);
    free(err);
    wait_for_job(id, 180);
    expect_contains(sm_test_join(results, "quick/slurm/array.sbatch"), "#SBATCH --cpus-per-task=1\n");
    expect_contains(sm_test_join(results, "quick/slurm/array.sbatch"), "#SBATCH --array=0,1\n");
    expect_contains(sm_test_join(results, "quick/l2/summary.json"), "\"steps\":200,");
    expect_contains(sm_test_join(results, "quick/cosine/summary.json"), "\"steps\":200,");
    expect_contains(sm_test_join(results, "quick/report.md"), "| l2 | loss=l2 | finished | 200 |");
    expect_contains(sm_test_join(results, "quick/report.md"), "| cosine | loss=cosine | finished | 200 |");

    /* again: nothing left to run, only the report (not waited for: cancelled) */
    id = submit("", "experiments/validate_bound", results, &out, NULL);
    assert_non_null(strstr(out, "all 2 runs finished; only the report is submitted"));
    free(out);
    snprintf(cmd, sizeof cmd, "scancel %ld", id);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    wait_for_job(id, 60);
}

/* A tiny experiment of one run, written here (mi_vs_loss's quick size takes
 * a minute under MPI on a busy machine); its directory. */
static const char *tiny_experiment(void)
{
    const char *exp = sm_test_dir("slurm_tiny");
    sm_test_write_text(sm_test_join(exp, "config"), "# tiny: a data-parallel smoke test\ndataset = synthetic\n");
    sm_test_write_text(sm_test_join(exp, "quick.config"),
                       "arch = mlp\nwidth = 4\nproj_hidden = 32\nz_dim = 8\npred_hidden = 8\nbatch = 32\n"
                       "steps = 20\nknn_every = 0\ntrack_every = 10\ntrack_samples = 64\ntrack_views = 8\n"
                       "track_images = 4\n");
    sm_test_write_text(sm_test_join(exp, "runs"), "default\n");
    return exp;
}

/* sbatch -N 1 with 2 MPI ranks per node, mpirun inside the job, on
 * tiny_experiment(), with KEYS. */
static void test_data_parallel_job(void **state)
{
    (void)state;
    char results[1024], exp[1024], *out = NULL;
    snprintf(results, sizeof results, "%s", sm_test_path("slurm_mpi"));
    snprintf(exp, sizeof exp, "%s", tiny_experiment());
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", results);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    long id = submit("SM_NODES=1 SM_TASKS_PER_NODE=2 SM_KEYS=seed=3", exp, results, &out, NULL);
    free(out);
    wait_for_job(id, 180);
    const char *sbatch = sm_test_join(results, "quick/slurm/array.sbatch");
    expect_contains(sbatch, "#SBATCH --ntasks-per-node=2\n");
    expect_contains(sbatch, "export SM_LAUNCH='mpirun --bind-to none'\n"); /* not one core per rank */
    expect_contains(sbatch, "simsiam-mi-mpi");
    expect_contains(sbatch, " SM_KEYS='seed=3'\n"); /* KEYS reach the tasks */
    expect_contains(sm_test_join(results, "quick/default/config.txt"), "\nseed=3\n");
    /* one summary line in the log: rank 0 alone prints it */
    char *log = sm_test_read(sm_test_join(results, "quick/default/train.log"), NULL);
    int summaries = 0;
    for (const char *p = log; (p = strstr(p, "{\"steps\":20,")); p++) summaries++;
    free(log);
    assert_int_equal(summaries, 1);
    expect_contains(sm_test_join(results, "quick/report.md"), "| default |");
    /* ranks per node without NODES went to a one-process job without a word */
    char again[3200], *err = NULL;
    snprintf(again, sizeof again, "SM_SCHEDULER=slurm SM_TASKS_PER_NODE=2 SM_BIN=%s SM_RESULTS=%s "
             "scripts/experiment.sh %s quick", sm_test_bin(), results, exp);
    assert_int_equal(sm_test_run(again, NULL, &err), 2);
    assert_string_equal(err, "experiment: error: TASKS_PER_NODE=2 needs NODES (the data-parallel runs' nodes)\n");
    free(err);
    /* not while another runner holds the results (a submission took no lock before) */
    snprintf(again, sizeof again, "flock -x '%s/quick/.lock' env SM_SCHEDULER=slurm SM_NODES=1 SM_BIN=%s SM_RESULTS=%s "
             "scripts/experiment.sh %s quick", results, sm_test_bin(), results, exp);
    assert_int_equal(sm_test_run(again, NULL, &err), 1);
    if (!strstr(err, "experiment: error: another experiment is running on ")) fail_msg("stderr: %s", err);
    free(err);
    /* a $ in a path went unquoted into the sbatch files: the runs landed elsewhere */
    snprintf(again, sizeof again, "SM_SCHEDULER=slurm SM_BIN=%s SM_RESULTS='%s/p$q' scripts/experiment.sh %s quick",
             sm_test_bin(), results, exp);
    assert_int_equal(sm_test_run(again, NULL, &err), 2);
    if (!strstr(err, "experiment: error: SCHEDULER=slurm needs paths of letters, digits and ._/+,@:=- only, not '"))
        fail_msg("stderr: %s", err);
    free(err);
}

/* NODES beyond the one-node cluster: the array job is submitted (Slurm cannot
 * tell such a shape from nodes drained for a while) with a warning saying why it
 * will stay pending; it went without a word before. */
static void test_nodes_beyond_the_cluster(void **state)
{
    (void)state;
    char results[1024], exp[1024], cmd[1100], *out = NULL, *err = NULL;
    snprintf(results, sizeof results, "%s", sm_test_path("slurm_wide"));
    snprintf(exp, sizeof exp, "%s", tiny_experiment());
    long report = submit("SM_NODES=2", exp, results, &out, &err);
    if (!strstr(err, "experiment: warning: Slurm cannot start these runs now (") ||
        !strstr(err, "NODES, TASKS_PER_NODE, the size file's threads or SBATCH_ARGS ask for more than the partition"))
        fail_msg("stderr: %s", err);
    const char *p = strstr(out, "submitted as Slurm array job ");
    assert_non_null(p);
    long array = strtol(p + strlen("submitted as Slurm array job "), NULL, 10);
    snprintf(cmd, sizeof cmd, "scancel %ld %ld", array, report);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    wait_for_job(array, 60);
    wait_for_job(report, 60);
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_array_then_report),
        cmocka_unit_test(test_data_parallel_job),
        cmocka_unit_test(test_nodes_beyond_the_cluster),
    };
    return cmocka_run_group_tests(tests, start_slurm, stop_slurm);
}
