/* Tests for src/dist/mpi/dist_mpi.c through build/simsiam-mi-mpi under
 * mpirun: R = 2 and R = 1 at the same global batch train the same model
 * (SyncBN and the gradient allreduce), one rank count resumes another's
 * checkpoint, the single-process path is the plain binary's bit for bit,
 * a rank that dies ends the run instead of hanging it, threads = 0
 * shares the machine's cores among its ranks, and a configuration error is
 * said once. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/threads.h"
#include "io/checkpoint.h"
#include "support/support.h"

/* 20 steps of the MLP encoder with the l2 loss: tiny ResNets, and the
 * cosine loss at larger rates, are chaotic at these sizes (a 3e-8 relative
 * change of lr moves the width-4 ResNet's parameters by 2e-3 within 20
 * steps in ONE process), so their rounding differences could not be told
 * from bugs; and the cosine loss passes through 0 in the first steps, where
 * a relative test means nothing (l2 stays near 4).  const schedule: a
 * 10-step run resumed to 20 is then the 20-step run. */
/* solarize=0: with the default 0.2, seed 0's fifth step has one BN + ReLU
 * pre-activation at -2.0e-6 in one process and +4.2e-7 with two ranks (the
 * all-reduce's rounding moves it across 0; found by printing every one
 * within 3e-6 of 0), so the ReLU's mask, and with it the step's gradient,
 * differ by a whole term: the loss by 4e-5 at step 6, 5e-4 at step 20.  A
 * kink of the network, not the ranks: the views are a function of (seed,
 * step, image, view) only, and seed 1 agrees to train.csv's 6 digits. */
#define MLP "dataset=synthetic arch=mlp width=4 proj_hidden=32 z_dim=8 pred_hidden=8 batch=32 threads=1 " \
            "schedule=const loss=l2 knn_every=0 solarize=0"
/* The ResNet for SyncBN over feature maps: a few steps, before chaos. */
#define RESNET "dataset=synthetic arch=resnet width=2 proj_hidden=16 z_dim=8 pred_hidden=8 batch=16 threads=1 " \
               "knn_every=0 steps=3"

/* A fixture directory's path in buf (sm_test_path's ring is reused by every
 * sm_test_run). */
static const char *fixture(char buf[1024], const char *name)
{
    snprintf(buf, 1024, "%s", sm_test_path(name));
    return buf;
}

static const char *mpi_bin(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s-mpi", sm_test_bin());
    return path;
}

/* mpirun --oversubscribe MPIRUN_ARGS after DIR is removed; returns the
 * exit code, stderr in *err if err.  `timeout` only ends a run that would
 * never end (ranks waiting on each other); every caller asserts the exact
 * code it expects, which such a run does not give. */
static int mpi_run(const char *mpirun_args, const char *dir, char **err)
{
    char cmd[16800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && timeout 120 mpirun --oversubscribe %s", dir, mpirun_args);
    char *e = NULL;
    int rc = sm_test_run(cmd, NULL, &e);
    if (rc && !err) fprintf(stderr, "%s\nstderr: %s", cmd, e);
    if (err) *err = e;
    else free(e);
    return rc;
}

/* mpirun -np ranks simsiam-mi-mpi train ARGS out=DIR (fresh), as mpi_run. */
static int mpi_train(int ranks, const char *args, const char *dir, char **err)
{
    char mpirun_args[12000];
    snprintf(mpirun_args, sizeof mpirun_args, "-np %d '%s' train %s out=%s", ranks, mpi_bin(), args, dir);
    return mpi_run(mpirun_args, dir, err);
}

/* want in text exactly once. */
static void expect_once(const char *text, const char *want)
{
    const char *first = strstr(text, want);
    if (!first || strstr(first + 1, want)) fail_msg("want '%s' once in: %s", want, text);
}

typedef struct {
    sm_ckpt *c;
    const float *params, *stats;
    size_t n_params, n_stats;
    double loss; /* the last step's, all its bits (train.csv prints 6 digits) */
} run_state;

/* An f32 section's length, read from the getter's "has N values" refusal. */
static size_t section_count(const sm_ckpt *c, const char *name)
{
    const float *v;
    sm_status st;
    sm_status_clear(&st);
    size_t n = 0;
    if (sm_ckpt_get_f32(c, name, 0, &v, &st) == SM_OK) return 0;
    const char *has = strstr(st.msg, " has ");
    assert_non_null(has);
    assert_int_equal(sscanf(has, " has %zu values", &n), 1);
    return n;
}

static run_state load_run(const char *dir)
{
    run_state r = {0};
    sm_status st;
    sm_status_clear(&st);
    if (sm_ckpt_read(sm_test_join(dir, "checkpoint.bin"), &r.c, &st)) fail_msg("%s", st.msg);
    r.n_params = section_count(r.c, "params");
    r.n_stats = section_count(r.c, "bn_stats");
    const uint64_t *step;
    assert_int_equal(sm_ckpt_get_f32(r.c, "params", r.n_params, &r.params, &st), 0);
    assert_int_equal(sm_ckpt_get_f32(r.c, "bn_stats", r.n_stats, &r.stats, &st), 0);
    assert_int_equal(sm_ckpt_get_u64(r.c, "step", 5, &step, &st), 0);
    memcpy(&r.loss, &step[3], sizeof r.loss);
    return r;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

/* |a − b| / max(|a|, 0.1): a relative test means nothing near 0, where
 * early losses (and a few steps' final ones) sit. */
static double loss_diff(double a, double b) { return fabs(a - b) / fmax(fabs(a), 0.1); }

/* Losses within rel_loss (loss_diff), parameters and running statistics
 * within tol. */
static void expect_same_model(const char *dir_a, const char *dir_b, double rel_loss, double tol)
{
    run_state a = load_run(dir_a), b = load_run(dir_b);
    assert_int_equal(a.n_params, b.n_params);
    assert_int_equal(a.n_stats, b.n_stats);
    double dl = loss_diff(a.loss, b.loss), dp = max_abs_diff(a.params, b.params, a.n_params),
           ds = max_abs_diff(a.stats, b.stats, a.n_stats);
    printf("  %s vs %s: loss %.9g vs %.9g (loss_diff %.2g), params max |diff| %.2g, bn_stats %.2g\n", dir_a, dir_b,
           a.loss, b.loss, dl, dp, ds);
    assert_true(isfinite(a.loss) && dl <= rel_loss);
    assert_true(dp <= tol && ds <= tol);
    sm_ckpt_free(a.c);
    sm_ckpt_free(b.c);
}

/* Every row's loss (column 5 of train.csv) within tol of the other run's, by
 * loss_diff. */
static void expect_same_losses(const char *dir_a, const char *dir_b, double tol)
{
    size_t n;
    char *ta = sm_test_read(sm_test_join(dir_a, "train.csv"), &n), *tb = sm_test_read(sm_test_join(dir_b, "train.csv"), &n);
    assert_int_equal(sm_test_lines(ta), sm_test_lines(tb));
    const char *pa = strchr(ta, '\n') + 1, *pb = strchr(tb, '\n') + 1;
    for (; *pa && *pb; pa = strchr(pa, '\n') + 1, pb = strchr(pb, '\n') + 1) {
        double la, lb;
        assert_int_equal(sscanf(pa, "%*[^,],%*[^,],%*[^,],%*[^,],%lf", &la), 1);
        assert_int_equal(sscanf(pb, "%*[^,],%*[^,],%*[^,],%*[^,],%lf", &lb), 1);
        assert_true(loss_diff(la, lb) <= tol);
    }
    free(ta);
    free(tb);
}

static int setup(void **state)
{
    (void)state;
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* the suite runs as root in CI */
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* LeakSanitizer (make asan) reports OpenMPI's own allocations at exit */
    setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0:halt_on_error=1", 1);
    return 0;
}

/* 20 steps at global batch 32: R = 2 (16 images each) against R = 1, and
 * -np 1 against the plain binary (bit for bit: no collective runs). */
static void test_two_ranks_train_as_one(void **state)
{
    (void)state;
    char b1[1024], b2[1024], b3[1024];
    const char *one = fixture(b1, "mpi_np1"), *two = fixture(b2, "mpi_np2"), *plain = fixture(b3, "mpi_plain");
    assert_int_equal(mpi_train(1, MLP " steps=20", one, NULL), 0);
    assert_int_equal(mpi_train(2, MLP " steps=20 track_every=10 track_samples=64 track_views=8 track_images=4", two,
                               NULL), 0);
    expect_same_model(one, two, 1e-5, 1e-4);
    expect_same_losses(one, two, 1e-5);
    /* rank 0 tracked (4 rows: steps 0, 10, 20 and the header) and wrote alone */
    size_t n;
    char *track = sm_test_read(sm_test_join(two, "track.csv"), &n);
    assert_int_equal(sm_test_lines(track), 4);
    free(track);

    char args[4400];
    snprintf(args, sizeof args, "rm -rf %s && '%s' train " MLP " steps=20 out=%s", plain, sm_test_bin(), plain);
    assert_int_equal(sm_test_run(args, NULL, NULL), 0);
    run_state a = load_run(one), b = load_run(plain);
    assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
    assert_memory_equal(a.stats, b.stats, a.n_stats * sizeof(float));
    sm_ckpt_free(a.c);
    sm_ckpt_free(b.c);
}

/* A 2-rank checkpoint at step 10 resumed by one rank to 20 is the one-rank
 * 20-step run. */
static void test_resume_with_another_rank_count(void **state)
{
    (void)state;
    char b1[1024], b2[1024], b3[1024];
    const char *half = fixture(b1, "mpi_half"), *rest = fixture(b2, "mpi_rest");
    assert_int_equal(mpi_train(2, MLP " steps=10", half, NULL), 0);
    char args[4400];
    snprintf(args, sizeof args, MLP " steps=20 resume=%s", sm_test_join(half, "checkpoint.bin"));
    assert_int_equal(mpi_train(1, args, rest, NULL), 0);
    expect_same_model(fixture(b3, "mpi_np1"), rest, 1e-5, 1e-4);
}

/* SyncBN over feature maps (the ResNet's BatchNorm2d) and its convolutions. */
static void test_resnet_syncbn(void **state)
{
    (void)state;
    char b1[1024], b2[1024];
    const char *one = fixture(b1, "mpi_res1"), *two = fixture(b2, "mpi_res2");
    assert_int_equal(mpi_train(1, RESNET, one, NULL), 0);
    assert_int_equal(mpi_train(2, RESNET, two, NULL), 0);
    expect_same_model(one, two, 1e-5, 1e-5);
}

/* Rank 1 kills itself (SIGKILL) at its 3rd step: mpirun ends rank 0, which
 * would otherwise wait in the allreduce forever, and says which rank died. */
static void test_dead_rank_ends_the_run(void **state)
{
    (void)state;
    setenv("SM_DIST_FAULT", "1:3", 1);
    char *err;
    char b[1024];
    int rc = mpi_train(2, MLP " steps=200", fixture(b, "mpi_dead"), &err);
    unsetenv("SM_DIST_FAULT");
    if (rc != 128 + 9) fprintf(stderr, "rc %d, stderr: %s", rc, err);
    assert_int_equal(rc, 128 + 9); /* mpirun ends with the dead rank's status: killed by signal 9 */
    assert_non_null(strstr(err, "rank 1"));
    assert_non_null(strstr(err, "signal 9"));
    free(err);
}

/* threads = 0 divides this machine's cores among its ranks, so two ranks
 * are not warned of too many threads; a count that does oversubscribe
 * is, with the ranks on the machine. */
static void test_threads_shared_by_the_ranks(void **state)
{
    (void)state;
    char *err, b[1024], args[1024];
    assert_int_equal(mpi_train(2, MLP " steps=1 threads=0", fixture(b, "mpi_threads0"), &err), 0);
    assert_null(strstr(err, "warning"));
    free(err);
    const int cores = sm_threads_available();
    snprintf(args, sizeof args, MLP " steps=1 threads=%d", cores);
    assert_int_equal(mpi_train(2, args, fixture(b, "mpi_threads_all"), &err), 0);
    char want[160];
    snprintf(want, sizeof want,
             "simsiam-mi: warning: threads=%d in 2 process(es) is more than this machine's %d cores", cores, cores);
    if (!strstr(err, want)) fail_msg("'%s' lacks '%s'", err, want);
    free(err);
}

/* A batch that does not split into equal slices: one error line, exit 2
 * (each rank said it before). */
static void test_batch_must_split(void **state)
{
    (void)state;
    char *err;
    char b[1024];
    int rc = mpi_train(2, MLP " batch=15 steps=1", fixture(b, "mpi_odd"), &err);
    assert_int_equal(rc, 2);
    expect_once(err, "simsiam-mi: error: batch=15 must split into 2 equal slices of at least 2 images\n");
    free(err);
}

/* A configuration error is said once, not once per rank; a rank whose own
 * configuration fails (here another command line, as a file missing on one
 * node would) says its error, and every rank ends with the worst code,
 * nothing written. */
static void test_config_errors_said_once(void **state)
{
    (void)state;
    char *err;
    char dir[1024], missing[1024], args[16800];
    fixture(dir, "mpi_config");
    fixture(missing, "no-such.config");
    assert_int_equal(mpi_train(2, MLP " steps=1 bogus=1", dir, &err), 2);
    expect_once(err, "simsiam-mi: error: unknown key 'bogus'");
    free(err);
    snprintf(args, sizeof args, "-np 1 '%s' train " MLP " steps=1 out=%s : -np 1 '%s' train " MLP " steps=1 out=%s --config %s",
             mpi_bin(), dir, mpi_bin(), dir, missing);
    assert_int_equal(mpi_run(args, dir, &err), 1);
    expect_once(err, "simsiam-mi: error: cannot open config file: No such file or directory (");
    free(err);
    snprintf(args, sizeof args, "-np 1 '%s' train " MLP " out=%s steps=1 bogus=1 : -np 1 '%s' train " MLP " out=%s --config %s",
             mpi_bin(), dir, mpi_bin(), dir, missing);
    assert_int_equal(mpi_run(args, dir, &err), 2);
    expect_once(err, "simsiam-mi: error: unknown key 'bogus'");
    expect_once(err, "simsiam-mi: error: cannot open config file: No such file or directory (");
    free(err);
    assert_int_equal(access(dir, F_OK), -1);
}

/* SIGINT to rank 1 alone, raised at its third step (SM_DIST_FAULT's signal,
 * so the step is known and nothing waits for the run): both ranks stop at
 * that step and name that signal (rank 0, which had none, named SIGTERM and
 * exited 128). */
static void test_signal_to_one_rank_is_named(void **state)
{
    (void)state;
    setenv("SM_DIST_FAULT", "1:3:2", 1); /* rank 1, its 3rd step, SIGINT */
    char dir[1024], *err;
    const int rc = mpi_train(2, MLP " steps=200", fixture(dir, "mpi_sigint"), &err);
    unsetenv("SM_DIST_FAULT");
    if (!strstr(err, "simsiam-mi: stopped by SIGINT at step 3/200;")) fail_msg("rc %d, stderr: %s", rc, err);
    assert_int_equal(rc, 130);
    assert_null(strstr(err, "SIGTERM"));
    free(err);
}

/* Only train runs data-parallel: another command under mpirun is refused
 * (it ran as two copies writing the same files), one line from rank 0. */
static void test_other_commands_refused_under_mpirun(void **state)
{
    (void)state;
    char cmd[13000], *err;
    snprintf(cmd, sizeof cmd, "timeout 120 mpirun --oversubscribe -np 2 '%s' embed --checkpoint '%s' --out '%s'",
             mpi_bin(), sm_test_path("none.bin"), sm_test_path("copies.npy"));
    assert_int_equal(sm_test_run(cmd, NULL, &err), 2);
    expect_once(err, "simsiam-mi: error: 'embed' runs as one process, launched as 2 (mpirun): only train runs "
                     "data-parallel; run 'embed' without mpirun");
    assert_int_equal(access(sm_test_path("copies.npy"), F_OK), -1);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_ranks_train_as_one),
        cmocka_unit_test(test_resume_with_another_rank_count),
        cmocka_unit_test(test_resnet_syncbn),
        cmocka_unit_test(test_dead_rank_ends_the_run),
        cmocka_unit_test(test_batch_must_split),
        cmocka_unit_test(test_config_errors_said_once),
        cmocka_unit_test(test_other_commands_refused_under_mpirun),
        cmocka_unit_test(test_signal_to_one_rank_is_named),
        cmocka_unit_test(test_threads_shared_by_the_ranks),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
