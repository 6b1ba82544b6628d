/* Tests for analysis/ (run-report.sh, experiment-report.sh and their awk
 * programs): on hand-made run directories whose chain holds at some tracked
 * steps, overlaps at one and fails at another, the reports say exactly that
 * per step; the gap and its two shares are the hand-computed numbers; the
 * experiment report's generated conclusion follows the fixture's trend and
 * leaves out a run not finished;
 * garbled CSVs are one-line errors naming the file (an experiment report
 * still reports the other runs); a run without tracking gets a "no tracking
 * data" line; another loop's run quotes the configuration keys it has; the
 * refit report compares learning rates on hand numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/support.h"

#define TRAIN_CSV                                                                                                      \
    "step,epoch,lr,pred_lr,loss,z_std,seconds\n"                                                                       \
    "1,0.0107,0.0075,0.0075,-0.021,0.995,0.012\n"                                                                      \
    "20,0.213,0.0071,0.0071,-0.498,0.94,0.21\n"                                                                        \
    "40,0.427,0.0046,0.0046,-0.771,0.89,0.43\n"                                                                        \
    "60,0.64,0.0001,0.0001,-0.853,0.87,0.65\n"

#define TRACK_HEADER                                                                                                   \
    "step,loss_cos,nll_l2,nll_iso,nll_diag,nll_full,nll_vmf,kappa,h_z_kl,h_z_gauss,h_z_given_z1,h_z_given_x,i_ksg,"   \
    "i_gauss,i_ba,i_infonce,infonce_cap,z_std,dim_used\n"

/* Four tracked steps of a 4-d run.  With the detail below, the chain
 *   step 0:  NLL [5.50, 5.66] overlaps H(z2|z1) [5.52, 5.70]; H(z2|z1) above H(z2|x) [4.70, 5.10]
 *   step 20: both links ordered                                   -> holds
 *   step 40: H(z2|z1) [2.05, 2.35] below H(z2|x) [2.60, 3.00]      -> fails
 *   step 60: both links ordered                                   -> holds
 * and the vMF columns are nan at the last step (an estimator that could not run). */
#define TRACK_CSV                                                                                                      \
    TRACK_HEADER                                                                                                       \
    "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,5.68,5.61,4.9,0.04,0.03,0.07,0.02,5.545,0.99,4\n"                    \
    "20,-0.512,4.02,3.88,3.71,3.52,-1.32,6.4,4.91,5.1,2.95,1.2,1.96,1.71,1.39,1.1,5.545,0.93,4\n"                      \
    "40,-0.784,3.4,2.61,2.44,2.21,-2.75,21.7,4.52,4.8,2.2,2.8,2.32,2.05,2.31,1.62,5.545,0.88,4\n"                      \
    "60,-0.861,3.15,2.2,2.02,1.75,nan,nan,4.4,4.71,1.2,-0.35,2.5,2.21,2.65,1.83,5.545,0.86,4\n"

#define DETAIL_HEADER                                                                                                  \
    "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1_lo,h_z_given_z1_hi,h_z_given_x_lo,"  \
    "h_z_given_x_hi,i_ksg_lo,i_ksg_hi\n"
#define DETAIL_FIRST_ROWS                                                                                              \
    DETAIL_HEADER                                                                                                      \
    "0,4,256,16,8,5.58,5.5,5.66,5.59,5.52,5.7,4.7,5.1,-0.05,0.12\n"                                                    \
    "20,4,256,16,8,3.52,3.41,3.63,3.3,2.8,3.1,1,1.4,1.8,2.1\n"                                                         \
    "40,4,256,16,8,2.21,2.12,2.3,2.15,2.05,2.35,2.6,3,2.15,2.5\n"
/* The last row: nll_r, its interval and nll_r_opt vary in the experiment fixture. */
#define DETAIL_LAST_ROW "60,4,256,16,8,%.2f,%.2f,%.2f,%.2f,1.1,1.3,-0.55,-0.15,2.3,2.7\n"

/* A run directory: train.csv, config.txt, summary.json, and track.csv /
 * track_detail.csv when given.  Returns dir. */
static const char *write_run(const char *dir, long z_dim, long pred_steps, const char *pred_mode, const char *track,
                             const char *detail)
{
    char text[4096];
    mkdir(dir, 0777);
    sm_test_write_text(sm_test_join(dir, "train.csv"), TRAIN_CSV);
    snprintf(text, sizeof text,
             "dataset=synthetic\ndata_dir=\narch=mlp\nwidth=16\nproj_hidden=64\nz_dim=%ld\npred_hidden=128\nbatch=64\n"
             "epochs=100\nsteps=60\nthreads=1\nseed=0\nlr=0.05\nmomentum=0.9\nwd=0.0005\nschedule=cosine\n"
             "loss=cosine\npred_lr_mult=1\npred_fixed_lr=0\npred_steps=%ld\npred_mode=%s\naug=default\n"
             "knn_every=0\ntrack_every=20\ntrack_samples=256\ntrack_views=16\ntrack_images=8\n"
             "checkpoint_every=1\nresume=\nout=%s\n",
             z_dim, pred_steps, pred_mode, dir);
    sm_test_write_text(sm_test_join(dir, "config.txt"), text);
    snprintf(text, sizeof text,
             "{\"steps\":60,\"epochs\":0.64,\"images_per_s\":12000,\"final_loss\":-0.853,\"knn_acc\":null,"
             "\"out\":\"%s\"}\n",
             dir);
    sm_test_write_text(sm_test_join(dir, "summary.json"), text);
    if (track) sm_test_write_text(sm_test_join(dir, "track.csv"), track);
    if (detail) sm_test_write_text(sm_test_join(dir, "track_detail.csv"), detail);
    return dir;
}

/* The detail CSV with the given last row. */
static char *detail_csv(double nll_r, double nll_r_opt)
{
    static char text[2048];
    int n = snprintf(text, sizeof text, "%s", DETAIL_FIRST_ROWS);
    snprintf(text + n, sizeof text - (size_t)n, DETAIL_LAST_ROW, nll_r, nll_r - 0.07, nll_r + 0.07, nll_r_opt);
    return text;
}

/* Run a script with stdout and stderr captured; returns its exit code. */
static int run_script(const char *script, const char *args, char **out, char **err)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", script, args);
    return sm_test_run(cmd, out, err);
}

/* awk's stdout with these arguments (printf-style), which must exit 0 with
 * nothing on stderr. */
static char *awk_ok(const char *fmt, ...)
{
    char args[2048], *out, *err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    assert_int_equal(run_script("awk", args, &out, &err), 0);
    assert_string_equal(err, "");
    free(err);
    return out;
}

static char *read_file(const char *dir, const char *name)
{
    char *text = sm_test_read(sm_test_join(dir, name), NULL);
    if (!text) fail_msg("missing %s/%s", dir, name);
    return text;
}

static void expect_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle)) fail_msg("expected \"%s\" in:\n%s", needle, text);
}

/* A file of at least 200 bytes (the smallest report; every plot is larger). */
static void expect_nonempty_file(const char *dir, const char *name)
{
    struct stat s;
    const char *path = sm_test_join(dir, name);
    if (stat(path, &s) != 0 || s.st_size < 200) fail_msg("missing or tiny %s", path);
}

/* The per-step verdicts of the fixture, exactly, with N, V and d next to the values. */
static void test_run_report_verdict_per_step(void **state)
{
    (void)state;
    const char *dir = write_run(sm_test_dir("an_run"), 4, 1, "sgd", TRACK_CSV, detail_csv(1.75, 1.8));
    char *out, *err;
    int rc = run_script("analysis/run-report.sh", dir, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, ""); /* no gnuplot warning on a nan column either */
    char *report = read_file(dir, "report.md");
    expect_contains(report, "| 0 | 4 | 256 | 16 × 8 | 5.580 [5.500, 5.660] | 5.610 [5.520, 5.700] | "
                            "4.900 [4.700, 5.100] | within noise | holds | holds within noise |\n");
    expect_contains(report, "| 20 | 4 | 256 | 16 × 8 | 3.520 [3.410, 3.630] | 2.950 [2.800, 3.100] | "
                            "1.200 [1.000, 1.400] | holds | holds | holds |\n");
    expect_contains(report, "| 40 | 4 | 256 | 16 × 8 | 2.210 [2.120, 2.300] | 2.200 [2.050, 2.350] | "
                            "2.800 [2.600, 3.000] | within noise | fails | fails |\n");
    expect_contains(report, "| 60 | 4 | 256 | 16 × 8 | 1.750 [1.680, 1.820] | 1.200 [1.100, 1.300] | "
                            "-0.350 [-0.550, -0.150] | holds | holds | holds |\n");
    expect_contains(report, "**Verdict over 4 tracked steps: 2 hold, 1 hold within noise, 1 fail, 0 n/a.**\n"
                            "Fails at step 40 (Ĥ(z2|z1) below Ĥ(z2|x)).\n");
    expect_contains(report, "d = z_dim = 4: no reduction");
    expect_contains(report, " batch=64 steps=60 loss=cosine "); /* epochs ignored with steps > 0: not quoted */
    expect_contains(report, "not directly comparable");
    expect_contains(report, "| nll_vmf | nan |");
    for (const char *const *p = (const char *const[]){"train", "loss", "info", "chain", "zstd", "mi_loss", NULL}; *p;
         p++) {
        char name[64];
        snprintf(name, sizeof name, "plots/%s.png", *p);
        expect_nonempty_file(dir, name);
        snprintf(name, sizeof name, "plots/%s.svg", *p);
        expect_nonempty_file(dir, name);
        snprintf(name, sizeof name, "](plots/%s.png)", *p);
        expect_contains(report, name);
    }
    free(report);
    free(out);
    free(err);
}

/* gap = nll_r − Ĥ(z2|z1), predictor share = nll_r − nll_r_opt, family share =
 * nll_r_opt − Ĥ(z2|z1), the gap interval [nll_r_lo − hi, nll_r_hi − lo]. */
static void test_run_report_gap_shares(void **state)
{
    (void)state;
    const char *dir = write_run(sm_test_dir("an_gap"), 4, 1, "sgd", TRACK_CSV, detail_csv(1.75, 1.8));
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    char *report = read_file(dir, "report.md");
    /* step 20: 3.52 − 2.95 = 0.57 in [3.41 − 3.10, 3.63 − 2.80]; 3.52 − 3.30; 3.30 − 2.95 */
    expect_contains(report, "| 20 | 0.570 [0.310, 0.830] | 0.220 | 0.350 | 3.300 |\n");
    /* step 40: 2.21 − 2.20; 2.21 − 2.15; 2.15 − 2.20 (the best affine predictor below the entropy) */
    expect_contains(report, "| 40 | 0.010 [-0.230, 0.250] | 0.060 | -0.050 | 2.150 |\n");
    expect_contains(report, "At the last tracked step (60): gap 0.550 = predictor share -0.050 + family share "
                            "0.600 nats.\n");
    /* every step with a negative share, not only the last (step 0: 5.58 − 5.59 and 5.59 − 5.61) */
    expect_contains(report, "The predictor share is negative at steps 0, 60: the trained predictor (non-linear, and "
                            "seeing all of z1 when d < z_dim) beats the best affine one");
    expect_contains(report, "The family share is negative at steps 0, 40: the best affine predictor's");
    char *chain = read_file(dir, "chain.csv");
    expect_contains(chain, "\n20,4,256,16,8,3.52,3.41,3.63,3.3,2.95,2.8,3.1,1.2,1,1.4,0.57,0.31,0.83,0.22,0.35,"
                           "holds,holds,holds,combined\n");
    free(chain);
    free(report);
}

/* With track_detail.csv's paired gap interval (gap_lo, gap_hi) the first link
 * is judged on it against 0, not on the two intervals' overlap, and chain.csv
 * says which: step 0's intervals overlap (within noise), its paired interval
 * lies below 0 (fails); step 40's overlap too, its paired one lies above 0
 * (holds); step 20 holds either way; step 60 has no paired interval (nan)
 * and falls back to the overlap rule (E[NLL] [1.25, 1.45] overlaps Ĥ
 * [1.1, 1.3]: within noise), its gap interval combined at its worst. */
static void test_run_report_paired_gap(void **state)
{
    (void)state;
    const char *detail = "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1_lo,"
                         "h_z_given_z1_hi,h_z_given_x_lo,h_z_given_x_hi,i_ksg_lo,i_ksg_hi,gap_lo,gap_hi\n"
                         "0,4,256,16,8,5.58,5.5,5.66,5.59,5.52,5.7,4.7,5.1,-0.05,0.12,-0.05,-0.01\n"
                         "20,4,256,16,8,3.52,3.41,3.63,3.3,2.8,3.1,1,1.4,1.8,2.1,0.5,0.64\n"
                         "40,4,256,16,8,2.21,2.12,2.3,2.15,2.05,2.35,1.6,2,2.15,2.5,0.002,0.02\n"
                         "60,4,256,16,8,1.35,1.25,1.45,1.8,1.1,1.3,-0.55,-0.15,2.3,2.7,nan,nan\n";
    const char *dir = write_run(sm_test_dir("an_paired"), 4, 1, "sgd", TRACK_CSV, detail);
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    char *chain = read_file(dir, "chain.csv");
    expect_contains(chain, "\n0,4,256,16,8,5.58,5.5,5.66,5.59,5.61,5.52,5.7,4.9,4.7,5.1,-0.03,-0.05,-0.01,-0.01,-0.02,"
                           "fails,holds,fails,paired\n");
    expect_contains(chain, ",0.57,0.5,0.64,0.22,0.35,holds,holds,holds,paired\n");
    expect_contains(chain, ",0.01,0.002,0.02,0.06,-0.05,holds,holds,holds,paired\n");
    expect_contains(chain, ",0.15,-0.05,0.35,-0.45,0.6,within noise,holds,holds within noise,combined\n");
    free(chain);
    char *report = read_file(dir, "report.md");
    expect_contains(report, "at 3 of the 4 steps the first link is judged instead on the paired interval of the "
                            "gap (above 0, containing 0, below 0)");
    expect_contains(report, "The gap interval is the paired one at 3 of the 4 steps, elsewhere the two intervals "
                            "combined at their worst.");
    expect_contains(report, "| 0 | -0.030 [-0.050, -0.010] |");
    expect_contains(report, "Where E[NLL_Q] ≥ Ĥ(z2|z1) fails, KSG's bias is a candidate cause");
    expect_contains(report, "**Verdict over 4 tracked steps: 2 hold, 1 hold within noise, 1 fail, 0 n/a.**");
    free(report);
}

/* The sphere chain reads its own paired interval, gap_s_lo and gap_s_hi:
 * E[NLL_vMF] [0.9, 1.1] overlaps Ĥ_S(ẑ2|ẑ1) [0.8, 1.0], the paired gap
 * [0.05, 0.15] lies above 0; gap_lo/gap_hi (the Gaussian chain's, below 0
 * here) are not read. */
static void test_sphere_chain_paired_gap(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("an_sphere_paired");
    mkdir(dir, 0777);
    const char *track = sm_test_join(dir, "track.csv"), *detail = sm_test_join(dir, "track_detail.csv");
    sm_test_write_text(track, "step,nll_vmf\n10,1\n");
    sm_test_write_text(detail, "step,dim_used,n,views,images,nll_vmf_lo,nll_vmf_hi,h_s_given_z1,h_s_given_z1_lo,"
                               "h_s_given_z1_hi,h_s_given_x,h_s_given_x_lo,h_s_given_x_hi,gap_lo,gap_hi,gap_s_lo,"
                               "gap_s_hi\n10,4,256,16,8,0.9,1.1,0.9,0.8,1,0.5,0.4,0.6,-0.3,-0.2,0.05,0.15\n");
    char *out = awk_ok("-v sphere=1 -f analysis/links.awk -f analysis/chain.awk %s %s", track, detail);
    expect_contains(out, "\n10,4,256,16,8,1,0.9,1.1,nan,0.9,0.8,1,0.5,0.4,0.6,0.1,0.05,0.15,nan,nan,holds,holds,holds,"
                         "paired\n");
    free(out);
}

/* The report rounds the gap from the two columns, not from a rounded
 * difference: 12.499258 − 10.653756 = 1.845502 is 1.846 (rounding 1.8455,
 * six digits, would give 1.845); one negative share is "at step". */
static void test_run_report_gap_rounded_once(void **state)
{
    (void)state;
    const char *dir = write_run(sm_test_dir("an_round"), 4, 1, "sgd",
                                TRACK_HEADER "0,-0.5,13,12.9,12.8,12.7,-1,6,12,12.1,10.653756,9,1.3,1.2,1.1,1,5.545,0.9,4\n",
                                DETAIL_HEADER "0,4,256,16,8,12.499258,12.4,12.6,12.5,10.6,10.7,8.9,9.1,1.2,1.4\n");
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    char *report = read_file(dir, "report.md");
    expect_contains(report, "| 0 | 1.846 [1.700, 2.000] | -0.001 | 1.846 | 12.500 |\n");
    expect_contains(report, "The predictor share is negative at step 0: ");
    free(report);
}

/* A share negative at many steps is summed up, not listed: 9 of 10 steps here. */
static void test_run_report_many_negative_steps(void **state)
{
    (void)state;
    char track[8192] = TRACK_HEADER, detail[8192] = DETAIL_HEADER;
    for (int i = 0; i < 10; i++) {
        size_t t = strlen(track), d = strlen(detail);
        snprintf(track + t, sizeof track - t, "%d,-0.5,13,12.9,12.8,12.7,-1,6,12,12.1,10,9,1.3,1.2,1.1,1,5.545,0.9,4\n",
                 10 * i);
        snprintf(detail + d, sizeof detail - d, "%d,4,256,16,8,12.4,12.3,12.5,%s,9.9,10.1,8.9,9.1,1.2,1.4\n", 10 * i,
                 i == 3 ? "12.3" : "12.5");
    }
    const char *dir = write_run(sm_test_dir("an_many"), 4, 1, "sgd", track, detail);
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    char *report = read_file(dir, "report.md");
    expect_contains(report, "The predictor share is negative at 9 of the 10 tracked steps, from 0 to 90: ");
    free(report);
}

/* The sphere chain names its own terms where a step fails, not the Gaussian
 * chain's: step 30 fails both links here. */
static void test_sphere_chain_names_its_terms(void **state)
{
    (void)state;
    const char *csv = sm_test_join(sm_test_dir("an_sphere"), "chain_sphere.csv");
    mkdir(sm_test_dir("an_sphere"), 0777);
    sm_test_write_text(csv, "step,dim_used,n,views,images,nll_r,nll_r_lo,nll_r_hi,nll_r_opt,h_z_given_z1,"
                            "h_z_given_z1_lo,h_z_given_z1_hi,h_z_given_x,h_z_given_x_lo,h_z_given_x_hi,gap,gap_lo,"
                            "gap_hi,predictor_share,family_share,nll_vs_z1,z1_vs_x,verdict\n"
                            "10,4,256,16,8,3,2.9,3.1,2.8,2,1.9,2.1,1,0.9,1.1,1,0.8,1.2,0.2,0.8,holds,holds,holds\n"
                            "30,4,256,16,8,1,0.9,1.1,0.9,2,1.9,2.1,3,2.9,3.1,-1,-1.2,-0.8,0.1,-1.1,fails,fails,fails\n");
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "awk -v sphere=1 -f analysis/chain_md.awk %s", csv);
    assert_int_equal(sm_test_run(cmd, &out, NULL), 0);
    expect_contains(out, "**Verdict over 2 tracked steps: 1 hold, 0 hold within noise, 1 fail, 0 n/a.**\n"
                         "Fails at step 30 (E[NLL_vMF] below Ĥ_S(ẑ2|ẑ1)), 30 (Ĥ_S(ẑ2|ẑ1) below Ĥ_S(ẑ2|x)).\n"
                         "Where E[NLL_vMF] ≥ Ĥ_S(ẑ2|ẑ1) fails, KSG's bias is a candidate cause: Ĥ_S(ẑ2|ẑ1) reads "
                         "high");
    free(out);
}

/* In 64-d the k-NN columns are on a PCA reduction: the report labels it.  A
 * step with a nan in the chain is n/a, not a verdict. */
static void test_run_report_reduction_and_nan(void **state)
{
    (void)state;
    const char *track = TRACK_HEADER "0,-0.01,90.1,91.2,91,90.8,-0.3,0.9,11.2,11.9,11.1,9.4,0.05,0.8,0.4,0.3,6.93,0.99,8\n"
                                     "50,-0.62,70.3,60.2,58.8,55.1,-8.8,40.2,9.8,10.7,6.1,2.2,3.6,9.9,4.9,3.1,6.93,0.81,8\n";
    const char *detail = DETAIL_HEADER "0,8,1024,64,32,11.0,10.9,11.1,11.05,11.0,11.2,9.3,9.5,-0.02,0.1\n"
                                       "50,8,1024,64,32,nan,nan,nan,nan,6.0,6.2,2.1,2.3,3.5,3.7\n";
    const char *dir = write_run(sm_test_dir("an_pca"), 64, 1, "sgd", track, detail);
    char *err;
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, &err), 0);
    assert_string_equal(err, "");
    char *report = read_file(dir, "report.md");
    expect_contains(report, "d = 8 < z_dim = 64: the k-NN estimates and nll_r are on a PCA reduction of z to its "
                            "first 8 principal coordinates");
    expect_contains(report, "The chain is then a heuristic (docs/design.md §1.8)"); /* not rigorous: said */
    expect_contains(report, "| 50 | 8 | 1024 | 64 × 32 | nan [nan, nan] | 6.100 [6.000, 6.200] | "
                            "2.200 [2.100, 2.300] | n/a | holds | n/a |\n");
    expect_contains(report, "**Verdict over 2 tracked steps: 0 hold, 1 hold within noise, 0 fail, 1 n/a.**");
    free(report);
    free(err);
}

/* A run directory named with a blank, an apostrophe and underscores (gnuplot
 * reads the paths in quotes), a training log whose
 * loss and z_std are nan at every step, and a step whose nll_r is nan inside
 * a finite interval: every plot drawn (the empty panels say so), no gnuplot
 * warning, and that step's verdict n/a. */
static void test_run_report_odd_name_and_nan_values(void **state)
{
    (void)state;
    const char *detail = DETAIL_FIRST_ROWS "60,4,256,16,8,nan,1.68,1.82,1.8,1.1,1.3,-0.55,-0.15,2.3,2.7\n";
    const char *dir = write_run(sm_test_dir("an odd_run's name"), 4, 1, "sgd", TRACK_CSV, detail);
    sm_test_write_text(sm_test_join(dir, "train.csv"), "step,epoch,lr,pred_lr,loss,z_std,seconds\n"
                                                        "1,0.0107,0.0075,0.0075,nan,nan,0.012\n");
    char args[2048], *err;
    snprintf(args, sizeof args, "\"%s\"", dir);
    assert_int_equal(run_script("analysis/run-report.sh", args, NULL, &err), 0);
    assert_string_equal(err, "");
    char *report = read_file(dir, "report.md");
    expect_contains(report, "| 60 | 4 | 256 | 16 × 8 | nan [1.680, 1.820] | 1.200 [1.100, 1.300] | "
                            "-0.350 [-0.550, -0.150] | n/a | holds | n/a |\n");
    for (const char *const *p = (const char *const[]){"train", "loss", "info", "chain", "zstd", "mi_loss", NULL}; *p;
         p++) {
        char name[64];
        snprintf(name, sizeof name, "plots/%s.png", *p);
        expect_nonempty_file(dir, name);
    }
    free(report);
    free(err);
}

/* No track.csv (track_every = 0, or a binary that does not track): the
 * training plot and a "no tracking data" line, exit 0.  A track.csv emptied
 * since an earlier report says the same, its plots gone with its rows. */
static void test_run_report_without_tracking(void **state)
{
    (void)state;
    const char *dir = write_run(sm_test_dir("an_untracked"), 4, 1, "sgd", NULL, NULL);
    char *err;
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, &err), 0);
    assert_string_equal(err, "");
    char *report = read_file(dir, "report.md");
    expect_contains(report, "no tracking data: ");
    expect_contains(report, "track.csv is missing");
    expect_contains(report, "Finished: 60 steps (0.64 epochs), final loss -0.853, kNN accuracy n/a,");
    assert_null(strstr(report, "## The chain"));
    expect_nonempty_file(dir, "plots/train.png");
    expect_nonempty_file(dir, "plots/train.svg");
    free(report);
    free(err);
    /* the plot names the loss config.txt gives (loss=cosine) */
    char *svg = read_file(dir, "plots/train.svg");
    expect_contains(svg, "D = −cos (not an NLL)");
    free(svg);

    /* Reported once with tracking data, then its track.csv cut to the header:
     * the plots of the rows since gone are neither linked nor left. */
    dir = write_run(sm_test_dir("an_header_only"), 4, 1, "sgd", TRACK_CSV, detail_csv(1.75, 1.6));
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    expect_nonempty_file(dir, "plots/loss.png");
    expect_nonempty_file(dir, "plots/chain.svg");
    sm_test_write_text(sm_test_join(dir, "track.csv"), TRACK_HEADER);
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    report = read_file(dir, "report.md");
    expect_contains(report, "no tracking data: ");
    expect_contains(report, "has no rows yet");
    expect_contains(report, "![training loss and z_std](plots/train.png)");
    assert_null(strstr(report, "plots/loss.png"));
    assert_null(strstr(report, "plots/chain.png"));
    assert_int_equal(access(sm_test_join(dir, "plots/loss.png"), F_OK), -1);
    assert_int_equal(access(sm_test_join(dir, "plots/chain.svg"), F_OK), -1);
    free(report);
}

/* A run of another training loop (python/examples/torch_simsiam_track.py's):
 * its config.txt has some of the quoted keys, written "key = value", and only
 * those are quoted; without a summary.json it is not finished, and a
 * train.log is named only where there is one (the experiment runner's). */
static void test_run_report_of_another_loop(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("an_torch");
    sm_test_write_text(sm_test_join(dir, "train.csv"), TRAIN_CSV);
    sm_test_write_text(sm_test_join(dir, "config.txt"),
                       "dataset = fashion-mnist\narch = torch-example\nz_dim = 8\nloss = cosine\npred_mode = sgd\n");
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    char *report = read_file(dir, "report.md");
    expect_contains(report,
                    "Not finished (no summary.json: still running, interrupted or failed): last logged step 60.\n");
    expect_contains(report, "Configuration: `dataset=fashion-mnist arch=torch-example z_dim=8 loss=cosine "
                            "pred_mode=sgd`\n");
    assert_null(strstr(report, "train.log"));
    free(report);
    sm_test_write_text(sm_test_join(dir, "train.log"), "# a runner's log\n");
    sm_test_write_text(sm_test_join(dir, "config.txt"), "threads = 2\n");
    assert_int_equal(run_script("analysis/run-report.sh", dir, NULL, NULL), 0);
    report = read_file(dir, "report.md");
    expect_contains(report, "still running, interrupted or failed; see train.log): last logged step 60.\n");
    expect_contains(report, "Configuration: config.txt has no key this report quotes\n");
    free(report);
}

/* A CSV that is not numbers, lacks a column or has a short row: exit 1 and one
 * line naming the file (and line). */
static void expect_data_error(const char *script, const char *args, const char *needle1, const char *needle2)
{
    char *out, *err;
    int rc = run_script(script, args, &out, &err);
    assert_int_equal(rc, 1);
    assert_int_equal(sm_test_lines(err), 1);
    assert_true(strncmp(err, "analysis: error: ", 17) == 0);
    expect_contains(err, needle1);
    if (needle2) expect_contains(err, needle2);
    free(out);
    free(err);
}

static void test_garbled_csv_is_one_line_error(void **state)
{
    (void)state;
    char where[2200], dir[1024];
    snprintf(dir, sizeof dir, "%s", sm_test_dir("an_garbled")); /* sm_test_path's ring is reused below */
    write_run(dir, 4, 1, "sgd",
              TRACK_HEADER "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,5.68,5.61,4.9,0.04,0.03,0.07,0.02,5.545,0.99,4\n"
                           "20,-0.512,4.02,3.88,3.71,abc,-1.32,6.4,4.91,5.1,2.95,1.2,1.96,1.71,1.39,1.1,5.545,0.93,4\n",
              NULL);
    snprintf(where, sizeof where, "(%s/track.csv:3)", dir);
    expect_data_error("analysis/run-report.sh", dir, "not a number in column nll_full: \"abc\"", where);

    sm_test_write_text(sm_test_join(dir, "track.csv"), "step,loss_cos\n0,1\n");
    snprintf(where, sizeof where, "(%s/track.csv:1)", dir);
    expect_data_error("analysis/run-report.sh", dir, "no column \"nll_l2\" in the header", where);

    sm_test_write_text(sm_test_join(dir, "track.csv"), TRACK_CSV);
    sm_test_write_text(sm_test_join(dir, "track_detail.csv"), DETAIL_HEADER "0,4,256,16,8,5.58\n");
    snprintf(where, sizeof where, "(%s/track_detail.csv:2)", dir);
    expect_data_error("analysis/run-report.sh", dir, "row has 6 cells, the header 15", where);

    /* a tracked step in one file only: the two are written together, so this is damage */
    sm_test_write_text(sm_test_join(dir, "track_detail.csv"), DETAIL_HEADER "0,4,256,16,8,5.58,5.5,5.66,5.59,5.52,5.7,"
                                                                            "4.7,5.1,-0.05,0.12\n");
    snprintf(where, sizeof where, "step 20 has no row in %s/track_detail.csv (%s/track.csv:3)", dir, dir);
    expect_data_error("analysis/run-report.sh", dir, where, NULL);
    assert_int_equal(access(sm_test_join(dir, "chain.csv"), F_OK), -1);
    sm_test_write_text(sm_test_join(dir, "track_detail.csv"), detail_csv(1.75, 1.8));
    sm_test_write_text(sm_test_join(dir, "track.csv"), TRACK_HEADER "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,"
                                                                    "5.68,5.61,4.9,0.04,0.03,0.07,0.02,5.545,0.99,4\n");
    snprintf(where, sizeof where, "step 20 has no row in %s/track.csv (%s/track_detail.csv:3)", dir, dir);
    expect_data_error("analysis/run-report.sh", dir, where, NULL);

    /* a step repeated (a row appended twice): the last row is no longer the last step */
    sm_test_write_text(sm_test_join(dir, "track.csv"),
                       TRACK_HEADER "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,5.68,5.61,4.9,0.04,0.03,0.07,0.02,5.545,0.99,4\n"
                                    "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,5.68,5.61,4.9,0.04,0.03,0.07,0.02,5.545,0.99,4\n");
    snprintf(where, sizeof where, "(%s/track.csv:3)", dir);
    expect_data_error("analysis/run-report.sh", dir, "step 0 after step 0: one row per step, in order", where);

    sm_test_write_text(sm_test_join(dir, "track.csv"), TRACK_CSV);
    sm_test_write_text(sm_test_join(dir, "train.csv"), "");
    snprintf(where, sizeof where, "(%s/train.csv)", dir);
    expect_data_error("analysis/run-report.sh", dir, "empty file", where);
}

/* An experiment directory in the layout of experiments/ (config, quick.config,
 * runs, results/quick/<run>/) with a pred_steps-like sweep: steps1, steps2,
 * steps5 and optimal tracked, the gap falling as the predictor improves while
 * the family share stays (optimal's predictor beats the affine h*: a negative
 * predictor share); one run without tracking and one not run at all.
 * The directory's path goes to exp. */
static void write_experiment(const char *name, char *exp, size_t n)
{
    static const struct {
        const char *run, *mode;
        long steps;
        double nll_r, nll_r_opt;
    } tracked[] = {{"steps1", "sgd", 1, 1.75, 1.50},
                   {"steps2", "sgd", 2, 1.65, 1.49},
                   {"steps5", "sgd", 5, 1.58, 1.50},
                   {"optimal", "optimal", 1, 1.52, 1.55}};
    char sub[512], dir[2048];
    snprintf(exp, n, "%s", sm_test_dir(name));
    sm_test_write_text(sm_test_join(exp, "config"), "# a fixture sweep over pred_steps\n"
                                                    "# (second description line)\ndataset = synthetic\n"
                                                    "pred_steps = 3\n"); /* varied: not a shared setting */
    sm_test_write_text(sm_test_join(exp, "quick.config"), "steps = 60\nlr = 0.05\n"); /* over small.config's */
    sm_test_write_text(sm_test_join(exp, "runs"), "# run keys\nsteps1 pred_steps=1\nsteps2 pred_steps=2\n"
                                                  "steps5 pred_steps=5\noptimal pred_mode=optimal\n"
                                                  "untracked pred_steps=10\nmissing pred_steps=20\n");
    snprintf(sub, sizeof sub, "%s/results", name);
    sm_test_dir(sub);
    snprintf(sub, sizeof sub, "%s/results/quick", name);
    sm_test_dir(sub);
    for (size_t i = 0; i < sizeof tracked / sizeof tracked[0]; i++) {
        snprintf(sub, sizeof sub, "%s/results/quick/%s", name, tracked[i].run);
        snprintf(dir, sizeof dir, "%s", sm_test_dir(sub));
        write_run(dir, 4, tracked[i].steps, tracked[i].mode, TRACK_CSV,
                  detail_csv(tracked[i].nll_r, tracked[i].nll_r_opt));
    }
    snprintf(sub, sizeof sub, "%s/results/quick/untracked", name);
    snprintf(dir, sizeof dir, "%s", sm_test_dir(sub));
    write_run(dir, 4, 10, "sgd", NULL, NULL);
}

/* The experiment report: runs with their varied keys and verdict counts,
 * the gap table and gap.csv (hand numbers), the generated conclusion. */
static void test_experiment_report(void **state)
{
    (void)state;
    char exp[2048], results[2100];
    write_experiment("an_exp", exp, sizeof exp);
    snprintf(results, sizeof results, "%s/results/quick", exp);
    char *out, *err;
    char args[2200];
    snprintf(args, sizeof args, "%s quick", exp);
    int rc = run_script("analysis/experiment-report.sh", args, &out, &err);
    if (rc) fprintf(stderr, "%s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    char *report = read_file(results, "report.md");
    expect_contains(report, "# Experiment an_exp (quick size)\n\na fixture sweep over pred_steps\n"
                            "(second description line)\n");
    /* the small configuration's keys first (scripts/experiment.sh layers it under config) */
    expect_contains(report, "Shared settings (`experiments/small.config`, `");
    expect_contains(report, "`width=16 stem_stride=1 epochs=100 lr=0.05 ");
    expect_contains(report, " dataset=synthetic steps=60`");
    assert_null(strstr(report, "lr=0.03"));
    assert_null(strstr(report, "pred_steps=3"));
    expect_contains(report, "Varied between runs: pred_steps, pred_mode.");
    expect_contains(report, "| steps1 | pred_steps=1 pred_mode=sgd | finished | 60 | -0.853 | n/a | 4 | "
                            "2 / 1 / 1 / 0 | n/a | [report](steps1/report.md) |\n");
    expect_contains(report, "| optimal | pred_steps=1 pred_mode=optimal | finished |");
    expect_contains(report, "| untracked | pred_steps=10 pred_mode=sgd | finished | 60 | -0.853 | n/a | "
                            "no tracking data |");
    expect_contains(report, "| missing | pred_steps=20 pred_mode=? | not run |");
    expect_contains(report, "- untracked: no tracking data (");
    expect_contains(report, "- missing: not run yet");
    assert_null(strstr(report, "started, no step logged"));
    /* gap = nll_r − 1.2 in [nll_r − 0.07 − 1.3, nll_r + 0.07 − 1.1]; shares nll_r − opt, opt − 1.2 */
    expect_contains(report, "| steps2 | pred_steps=2 pred_mode=sgd | 60 | 4 | 256 | 16 × 8 | 0.450 [0.280, 0.620] | "
                            "0.160 | 0.290 |\n");
    expect_contains(report, "- **The chain E[NLL_Q] ≥ Ĥ(z2|z1) ≥ Ĥ(z2|x)** over 16 tracked steps of the runs above: "
                            "holds at 8, holds within noise at 4, fails at 4, n/a at 0.\n");
    expect_contains(report, "It fails in steps1 at step 40 (Ĥ(z2|z1) below Ĥ(z2|x)); steps2 at step 40");
    expect_contains(report, "- **The gap decreases with pred_steps, within noise** (pred_mode=sgd; last tracked step): "
                            "pred_steps=1: 0.550, pred_steps=2: 0.450, pred_steps=5: 0.380 nats. Change -0.170 "
                            "nats, within the typical interval width 0.340. The predictor share decreases "
                            "(pred_steps=1: 0.250, pred_steps=2: 0.160, pred_steps=5: 0.080). The family share is "
                            "not monotone (pred_steps=1: 0.300, pred_steps=2: 0.290, pred_steps=5: 0.300).\n");
    expect_contains(report, "- **The gap by pred_mode** (pred_steps=1; last tracked step): pred_mode=sgd: 0.550, "
                            "pred_mode=optimal: 0.320 nats; smallest with pred_mode=optimal. Spread 0.230 nats, "
                            "within the typical interval width 0.340. The predictor share: pred_mode=sgd: 0.250, "
                            "pred_mode=optimal: -0.030; smallest with pred_mode=optimal.");
    expect_contains(report, "- **The predictor share is negative** in optimal (-0.030): there the trained "
                            "predictor's E[NLL_Q] is below that of the cross-fitted affine h*");
    /* numpy.corrcoef of the four tracked (loss_cos, i_ksg) pairs, repeated per run: −0.9793 */
    expect_contains(report, "Pearson r = -0.98 over 16 tracked steps");
    expect_contains(report, "N = 256 probe pairs, V × images = 16×8");
    expect_contains(report, "not directly comparable");
    char *gap = read_file(results, "gap.csv");
    assert_string_equal(gap, "index,run,step,dim_used,n,views,images,gap,gap_lo,gap_hi,predictor_share,family_share,"
                             "pred_steps,pred_mode\n"
                             "1,steps1,60,4,256,16,8,0.55,0.38,0.72,0.25,0.3,1,sgd\n"
                             "2,steps2,60,4,256,16,8,0.45,0.28,0.62,0.16,0.29,2,sgd\n"
                             "3,steps5,60,4,256,16,8,0.38,0.21,0.55,0.08,0.3,5,sgd\n"
                             "4,optimal,60,4,256,16,8,0.32,0.15,0.49,-0.03,0.35,1,optimal\n");
    for (const char *const *p = (const char *const[]){"plots/gap.png", "plots/gap.svg", "plots/mi_loss.png",
                                                      "plots/mi_loss.svg", "steps1/report.md",
                                                      "steps1/plots/chain.svg", "untracked/report.md", NULL};
         *p; p++)
        expect_nonempty_file(results, *p);
    free(gap);
    free(report);
    free(out);
    free(err);

    /* missing started (its config.txt) but stopped before its first logged step: not "not run" */
    char missing[2200];
    snprintf(missing, sizeof missing, "%s", sm_test_dir("an_exp/results/quick/missing"));
    sm_test_write_text(sm_test_join(missing, "config.txt"), "pred_steps=20\n");
    sm_test_write_text(sm_test_join(missing, "train.csv"), "step,epoch,lr,pred_lr,loss,z_std,seconds\n");
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    report = read_file(results, "report.md");
    expect_contains(report, "| missing | pred_steps=20 pred_mode=? | started, no step logged |");
    expect_contains(report, "- missing: started (");
    expect_contains(report, "but no step logged yet in ");
    assert_null(strstr(report, "- missing: not run yet"));
    free(report);

    /* steps5 not finished (no summary.json): listed at its step, left out of the trend. */
    assert_int_equal(remove(sm_test_join(results, "steps5/summary.json")), 0);
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    report = read_file(results, "report.md");
    expect_contains(report, "| steps5 | pred_steps=5 pred_mode=sgd | not finished | 60 |");
    expect_contains(report, "- **The gap decreases with pred_steps, within noise** (pred_mode=sgd; last tracked "
                            "step): pred_steps=1: 0.550, pred_steps=2: 0.450 nats.");
    expect_contains(report, "- Not finished, so left out of the trends above: steps5 (step 60).\n");
    assert_null(strstr(report, "changed after the runs"));
    free(report);

    /* the files the shared settings are read from changed after a run: said, with what it ran with */
    char *cfg = read_file(results, "steps2/config.txt");
    char *lr = strstr(cfg, "lr=0.05");
    assert_non_null(lr);
    lr[6] = '7';
    sm_test_write_text(sm_test_join(results, "steps2/config.txt"), cfg);
    free(cfg);
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    report = read_file(results, "report.md");
    expect_contains(report, "changed after the runs**: steps2 ran with lr=0.07 (from each run's config.txt; the "
                            "tables show what each run ran with).\n");
    free(report);

    /* a runs line edited after its run: the tables show what the run ran with, the note says so */
    char *runs = read_file(exp, "runs");
    char *edited = strdup(runs);
    assert_non_null(edited);
    char *five = strstr(edited, "steps5 pred_steps=5");
    assert_non_null(five);
    five[strlen("steps5 pred_steps=")] = '6';
    sm_test_write_text(sm_test_join(exp, "runs"), edited);
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    report = read_file(results, "report.md");
    expect_contains(report, "| steps5 | pred_steps=5 pred_mode=sgd |");
    expect_contains(report, "steps5 ran with pred_steps=5");
    assert_null(strstr(report, "pred_steps=6"));
    free(report);
    sm_test_write_text(sm_test_join(exp, "runs"), runs);
    free(runs);
    free(edited);

    /* a nan gap at steps1's last step: it stays in its group (the family share, still finite, is
     * followed through it) and is named, not dropped */
    sm_test_write_text(sm_test_join(results, "steps1/track_detail.csv"), detail_csv(NAN, 1.8));
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    report = read_file(results, "report.md");
    expect_contains(report, "- **The gap cannot be followed (nan) with pred_steps** (pred_mode=sgd; last tracked "
                            "step): pred_steps=1: nan, pred_steps=2: 0.450 nats.");
    expect_contains(report, "The family share decreases (pred_steps=1: 0.600, pred_steps=2: 0.290).");
    expect_contains(report, "- **The gap is nan** at the last tracked step of steps1 ");
    free(report);
}

/* A varied key is printed as the runs line spells it where config.txt holds
 * the same number (an older binary wrote 10 as 1e+01), and as config.txt has
 * it where they differ. */
static void test_experiment_report_spells_as_runs(void **state)
{
    (void)state;
    char exp[2048], results[2100], args[2200];
    write_experiment("an_spell", exp, sizeof exp);
    sm_test_write_text(sm_test_join(exp, "runs"), "steps1 pred_steps=1e0\nsteps2 pred_steps=3\n");
    snprintf(results, sizeof results, "%s/results/quick", exp);
    snprintf(args, sizeof args, "%s quick", exp);
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 0);
    char *report = read_file(results, "report.md");
    expect_contains(report, "| steps1 | pred_steps=1e0 | finished |");
    expect_contains(report, "| steps2 | pred_steps=2 | finished |");
    free(report);
}

/* Errors: no results yet, a garbled CSV in one run (named, the others still
 * reported), usage. */
static void test_experiment_report_errors(void **state)
{
    (void)state;
    char exp[2048], args[2200], where[2400];
    write_experiment("an_exp_bad", exp, sizeof exp);
    snprintf(args, sizeof args, "%s full", exp);
    expect_data_error("analysis/experiment-report.sh", args, "no results for an_exp_bad (full)", "results/full)");

    char track[2100];
    snprintf(track, sizeof track, "%s/results/quick/steps2/track.csv", exp);
    sm_test_write_text(track, TRACK_HEADER "0,-0.012,5.51,5.62,5.6,5.58,-0.021,0.85,5.65,5.68,5.61,4.9,0.04,0.03,0.07,"
                                           "0.02,5.545,0.99,4\n20,oops\n");
    snprintf(args, sizeof args, "%s quick", exp);
    snprintf(where, sizeof where, "(%s:3)", track);
    expect_data_error("analysis/experiment-report.sh", args, "row has 2 cells, the header 19", where);
    /* the other runs are still reported, the damaged one named */
    char results[2100];
    snprintf(results, sizeof results, "%s/results/quick", exp);
    char *report = read_file(results, "report.md");
    expect_contains(report, "| steps2 | pred_steps=2 pred_mode=sgd | damaged |");
    snprintf(where, sizeof where, "- steps2: damaged, left out of the tables below and of the conclusion: row has 2 "
                                  "cells, the header 19 (%s:3)\n", track);
    expect_contains(report, where);
    expect_contains(report, "| steps1 | pred_steps=1 pred_mode=sgd | finished | 60 |");
    expect_contains(report, "pred_steps=1: 0.550, pred_steps=5: 0.380 nats.");
    expect_contains(report, "- Damaged, so left out of the tables and of the trends above: steps2 (see Runs).\n");
    assert_null(strstr(report, "| steps2 | pred_steps=2 pred_mode=sgd | 60 |")); /* not in the gap table */
    free(report);

    /* a cut summary.json is damage too, not a finished run with blank numbers */
    char summary[2200];
    snprintf(summary, sizeof summary, "%s/steps5/summary.json", results);
    sm_test_write_text(summary, "{\"steps\":20");
    snprintf(where, sizeof where, "analysis: error: not the trainer's summary line (%s)\n", summary);
    char *damage;
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, &damage), 1); /* steps2's, and this */
    expect_contains(damage, where);
    free(damage);
    report = read_file(results, "report.md");
    expect_contains(report, "| steps5 | pred_steps=5 pred_mode=sgd | damaged |");
    free(report);

    char *err;
    assert_int_equal(run_script("analysis/experiment-report.sh", "", NULL, &err), 2);
    expect_contains(err, "usage: analysis/experiment-report.sh EXPDIR [quick|medium|full]");
    free(err);
    snprintf(args, sizeof args, "%s huge", exp);
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, NULL), 2);
    assert_int_equal(run_script("analysis/experiment-report.sh", sm_test_path("nowhere"), NULL, NULL), 2);
    assert_int_equal(run_script("analysis/run-report.sh", "", NULL, NULL), 2);
    assert_int_equal(run_script("analysis/run-report.sh", sm_test_path("nowhere"), NULL, NULL), 2);
}

/* The report of an experiment NAME of one run, "only" (so nothing varies),
 * tracked when track is given: experiment-report.sh exits 0, says nothing on
 * stderr. */
static char *single_run_report(const char *name, const char *track, const char *detail)
{
    char sub[512], dir[2200], args[2048];
    const char *exp = sm_test_dir(name);
    sm_test_write_text(sm_test_join(exp, "config"), "# one run\ndataset = synthetic\n");
    sm_test_write_text(sm_test_join(exp, "runs"), "only\n");
    snprintf(sub, sizeof sub, "%s/results", name);
    sm_test_dir(sub);
    snprintf(sub, sizeof sub, "%s/results/quick", name);
    sm_test_dir(sub);
    snprintf(sub, sizeof sub, "%s/results/quick/only", name);
    snprintf(dir, sizeof dir, "%s", sm_test_dir(sub));
    write_run(dir, 4, 1, "sgd", track, detail);
    snprintf(args, sizeof args, "%s", sm_test_path(name));
    char *err;
    assert_int_equal(run_script("analysis/experiment-report.sh", args, NULL, &err), 0);
    assert_string_equal(err, "");
    free(err);
    snprintf(dir, sizeof dir, "%s/results/quick", args);
    return read_file(dir, "report.md");
}

/* No run tracked: the report says so instead of concluding anything. */
static void test_experiment_report_without_tracking(void **state)
{
    (void)state;
    char *report = single_run_report("an_exp_untracked", NULL, NULL);
    expect_contains(report, "Varied between runs: nothing.");
    expect_contains(report, "| only |  | finished | 60 | -0.853 | n/a | no tracking data |");
    expect_contains(report, "No run has tracking data: nothing to conclude");
    free(report);
}

/* One run, so no key varies: no trend, but its negative share is still said. */
static void test_experiment_report_single_run(void **state)
{
    (void)state;
    char *report = single_run_report("an_exp_single", TRACK_CSV, detail_csv(1.52, 1.55));
    expect_contains(report, "- No key varies between the runs: no trend of the gap to report.\n"
                            "- **The predictor share is negative** in only (-0.030): ");
    free(report);
}

/* The refit report's rate comparison (analysis/convergence_md.awk) on a hand
 * fixture: one l2 model refitted from scratch at lr 0.01 and 0.1, E[NLL]
 * 3.0, 2.9, 2.6, 2.0 and 3.0, 2.5, 1.8, 1.5 at refit steps 0, 1, 2, 4 (each
 * ±0.1) against Ĥ(z2|z1) = 1: gaps 2.0, 1.9, 1.6, 1.0 and 2.0, 1.5, 0.8,
 * 0.5, apart by 0, 0.4, 0.8, 0.5, so most at step 2; the table shows steps
 * 0, 1 and 4 (the powers of 4 and the last). */
/* convergence.csv of two refits of l2 at refit_lr 0.01 and 0.1; with
 * nan_last, the second one's last row (E[NLL] and the gap) is nan. */
static void rates_csv(char *csv, size_t cap, int nan_last, double gap_mix)
{
    static const double nll[2][4] = {{3.0, 2.9, 2.6, 2.0}, {3.0, 2.5, 1.8, 1.5}};
    static const int steps[4] = {0, 1, 2, 4};
    static const char *const lr[2] = {"0.01", "0.1"};
    int n = snprintf(csv, cap, "refit,source,mode,chain,checkpoint_step,refit_step,x,nll,nll_lo,nll_hi,h,h_lo,"
                               "h_hi,gap,gap_lo,gap_hi,floor_affine,floor_mlp,gap_mix,link,refit_lr\n");
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 4; i++) {
            const double v = nan_last && r == 1 && i == 3 ? NAN : nll[r][i];
            n += snprintf(csv + n, cap - (size_t)n,
                          "l2-lr%s,l2,reinit,gauss,700,%d,%d,%g,%g,%g,1,0.9,1.1,%g,%g,%g,0.4,0.4,%g,holds,%s\n", lr[r],
                          steps[i], steps[i] + 1, v, nll[r][i] - 0.1, nll[r][i] + 0.1, v - 1, nll[r][i] - 1.2,
                          nll[r][i] - 0.8, gap_mix, lr[r]);
        }
}

static char *convergence_md(const char *csv)
{
    const char *dir = sm_test_dir("an_rates");
    sm_test_write_text(sm_test_join(dir, "convergence.csv"), csv);
    return awk_ok("-v loss_of=l2=l2 -f analysis/convergence_md.awk %s", sm_test_join(dir, "convergence.csv"));
}

/* analysis/trend.awk on a gap.csv written here, keys varied as given. */
static char *trend_md(const char *csv, const char *keys)
{
    const char *dir = sm_test_dir("a_trend");
    sm_test_write_text(sm_test_join(dir, "gap.csv"), csv);
    return awk_ok("-v 'keys=%s' -f analysis/trend.awk %s", keys, sm_test_join(dir, "gap.csv"));
}

/* The headline says "within noise" when the gaps' whole range is within the typical interval width (a
 * bold "decreases" read as a finding before), judged by the range, not the ends, for a trend that is not
 * monotone; a negative predictor share where the gap is nan is not said to leave the gap as a bound. */
static void test_trend_noise_and_nan_gaps(void **state)
{
    (void)state;
    const char *head = "index,run,step,dim_used,n,views,images,gap,gap_lo,gap_hi,predictor_share,family_share,"
                       "pred_steps\n";
    char csv[1024];
    snprintf(csv, sizeof csv, "%s1,a,60,4,256,16,8,1.0,0.8,1.2,0.5,0.5,1\n2,b,60,4,256,16,8,0.9,0.7,1.1,0.4,0.5,2\n",
             head);
    char *out = trend_md(csv, "pred_steps");
    expect_contains(out, "- **The gap decreases with pred_steps, within noise** (all runs; last tracked step): ");
    free(out);
    snprintf(csv, sizeof csv, "%s1,a,60,4,256,16,8,1.0,0.8,1.2,0.5,0.5,1\n2,b,60,4,256,16,8,2.0,1.8,2.2,0.4,1.6,2\n"
             "3,c,60,4,256,16,8,0.95,0.75,1.15,0.4,0.55,5\n",
             head);
    out = trend_md(csv, "pred_steps");
    expect_contains(out, "- **The gap is not monotone with pred_steps** (all runs; last tracked step): pred_steps=1: 1.000, "
                         "pred_steps=2: 2.000, pred_steps=5: 0.950 nats. Change -0.050 nats, within the typical "
                         "interval width 0.400.");
    free(out);
    snprintf(csv, sizeof csv, "%s1,a,60,4,256,16,8,nan,nan,nan,-0.1,nan,1\n2,b,60,4,256,16,8,1.0,0.8,1.2,-0.2,1.2,2\n",
             head);
    out = trend_md(csv, "pred_steps");
    expect_contains(out, "- **The predictor share is negative** in b (-0.200): there the trained predictor's");
    expect_contains(out, "- **The predictor share is negative** in a (-0.100), whose gap is nan: the trained "
                         "predictor's E[NLL_Q] is below that of the cross-fitted affine h*, and with no gap nothing "
                         "there bounds the family share.\n");
    free(out);
}

static void test_convergence_rates(void **state)
{
    (void)state;
    char csv[4096];
    rates_csv(csv, sizeof csv, 0, 0.3);
    char *out = convergence_md(csv);
    expect_contains(out, "## The gap vs the predictor's learning rate\n\n"
                         "### l2 at checkpoint step 700, a fresh predictor: the gap vs refit_lr (Gaussian chain: "
                         "E[NLL_full] ≥ Ĥ(z2|z1) in R^d)\n\n"
                         "| refit_lr | step 0 | step 1 | step 4 |\n| ---: | ---: | ---: | ---: |\n"
                         "| 0.01 | 2.000 | 1.900 | 1.000 |\n| 0.1 | 2.000 | 1.500 | 0.500 |\n");
    expect_contains(out, "- **The predictor's learning rate** (l2, checkpoint step 700, a fresh predictor, the loss's "
                         "own Q): the gaps differ most at refit step 2 (by 0.800 nats): lr 0.01: 1.600, lr 0.1: 0.800 "
                         "(smallest with lr 0.1; E[NLL]'s intervals ±0.100 on average): the gap is smaller at each "
                         "larger rate. At the last step (4): lr 0.01: 1.000, lr 0.1: 0.500 (smallest with lr 0.1; "
                         "E[NLL]'s intervals ±0.100 on average).\n");
    expect_contains(out, "| l2-lr0.1 | 700 | reinit | 0.1 | 2.000 [1.800, 2.200] | 0.500 [0.300, 0.700] (step 4) |");
    expect_contains(out, "fell from refit step 0 to the last step by more than its interval in 2 of 2 refits.\n");
    /* last gaps 1.0 and 0.5 against the mixture's 0.3 */
    expect_contains(out, "- The mixture Q on the residual lowered the last gap by 0.450 nats on average (2 refits)");
    free(out);

    /* a mixture that scores worse than the Gaussian raised the gap: said so, with a positive number */
    rates_csv(csv, sizeof csv, 0, 3);
    out = convergence_md(csv);
    expect_contains(out, "- The mixture Q on the residual raised the last gap by 2.250 nats on average (2 refits)");
    free(out);

    /* a nan at the last row: no fall counted, no floor comparison, the rate line at the last finite step */
    rates_csv(csv, sizeof csv, 1, 0.3);
    out = convergence_md(csv);
    expect_contains(out, "| l2-lr0.1 | 700 | reinit | 0.1 | 2.000 [1.800, 2.200] | nan [0.300, 0.700] (step 4) | "
                         "nan (n/a) |");
    expect_contains(out, "by more than its interval in 1 of 2 refits; not in: l2-lr0.1 (nan).\n");
    expect_contains(out, "- The last gap is nan, so it cannot be set against the floor, in: l2-lr0.1.\n");
    expect_contains(out, "At the last step where every rate's gap is finite (2): lr 0.01: 1.600, lr 0.1: 0.800");
    free(out);
}

/* An E[NLL] that ROSE beyond its interval (1.0 ± 0.1 at refit step 0, 2.0 ± 0.1 at the last): the two
 * rows' intervals are disjoint, so the column "E[NLL] fall (disjoint intervals?)" says "yes, rose",
 * not "no" (which read as a change within noise); it still does not count as a fall. */
static void test_convergence_rise_is_disjoint(void **state)
{
    (void)state;
    const char *csv = "refit,source,mode,chain,checkpoint_step,refit_step,x,nll,nll_lo,nll_hi,h,h_lo,h_hi,gap,gap_lo,"
                      "gap_hi,floor_affine,floor_mlp,gap_mix,link,refit_lr\n"
                      "l2-rise,l2,continue,gauss,700,0,1,1,0.9,1.1,0,-0.1,0.1,1,0.8,1.2,0.4,0.4,0.5,holds,0.05\n"
                      "l2-rise,l2,continue,gauss,700,1,2,2,1.9,2.1,0,-0.1,0.1,2,1.8,2.2,0.4,0.4,1.5,holds,0.05\n"
                      "l2-flat,l2,reinit,gauss,700,0,1,1,0.9,1.1,0,-0.1,0.1,1,0.8,1.2,0.4,0.4,0.5,holds,0.05\n"
                      "l2-flat,l2,reinit,gauss,700,1,2,1.05,0.95,1.15,0,-0.1,0.1,1.05,0.85,1.25,0.4,0.4,0.5,holds,0.05\n";
    char *out = convergence_md(csv);
    expect_contains(out, "| l2-rise | 700 | continue | 0.05 | 1.000 [0.800, 1.200] | 2.000 [1.800, 2.200] (step 1) | "
                         "-1.000 (yes, rose) |");
    expect_contains(out, "| l2-flat | 700 | reinit | 0.05 | 1.000 [0.800, 1.200] | 1.050 [0.850, 1.250] (step 1) | "
                         "-0.050 (no) |");
    expect_contains(out, "by more than its interval in 0 of 2 refits; not in: l2-rise l2-flat.\n");
    free(out);
}

/* refit.csv's paired intervals (gap_lo/gap_hi, the sphere's gap_s_lo/gap_s_hi)
 * become convergence.csv's gap interval and decide its link against 0; a
 * refit.csv without them keeps the overlap rule.  The first row's intervals
 * overlap (E[NLL] [0.9, 1.1], Ĥ [0.95, 1.05]) while its paired gap [0.02, 0.08]
 * lies above 0: holds; the sphere's paired gap [-0.3, -0.1] lies below: fails. */
static void test_convergence_paired_gap(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("an_conv_paired");
    mkdir(dir, 0777);
    const char *paired = sm_test_join(dir, "paired.csv"), *old = sm_test_join(dir, "old.csv");
    sm_test_write_text(paired, "refit_step,step,nll_r,nll_r_lo,nll_r_hi,h_z_given_z1,h_z_given_z1_lo,h_z_given_z1_hi,"
                               "nll_r_opt,nll_mlp,nll_mix,nll_vmf,nll_vmf_lo,nll_vmf_hi,h_s_given_z1,h_s_given_z1_lo,"
                               "h_s_given_z1_hi,gap_lo,gap_hi,gap_s_lo,gap_s_hi\n"
                               "0,700,1,0.9,1.1,0.95,0.9,1.05,0.96,0.97,0.9,-2,-2.1,-1.9,-1.8,-1.9,-1.7,0.02,0.08,"
                               "-0.3,-0.1\n");
    sm_test_write_text(old, "refit_step,step,nll_r,nll_r_lo,nll_r_hi,h_z_given_z1,h_z_given_z1_lo,h_z_given_z1_hi\n"
                            "0,700,1,0.9,1.1,0.95,0.9,1.05\n");
    char *out = awk_ok("-f analysis/links.awk -f analysis/convergence.awk refit=a source=l2 mode=reinit lr=0.05 %s "
                       "refit=b %s", paired, old);
    expect_contains(out, "\na,l2,reinit,gauss,700,0,1,1,0.9,1.1,0.95,0.9,1.05,0.05,0.02,0.08,0.01,0.02,-0.05,holds,0.05,"
                         "paired\n");
    expect_contains(out, "\na,l2,reinit,sphere,700,0,1,-2,-2.1,-1.9,-1.8,-1.9,-1.7,-0.2,-0.3,-0.1,nan,nan,nan,fails,"
                         "0.05,paired\n");
    expect_contains(out, "\nb,l2,reinit,gauss,700,0,1,1,0.9,1.1,0.95,0.9,1.05,0.05,-0.15,0.2,nan,nan,nan,within noise,"
                         "0.05,combined\n");
    free(out);
}

/* The last gap against the best floor (0.4 here), both ways: within 0.05 nats or within E[NLL]'s
 * interval (±0.1) on the floor's side counts as at it; a gap further above or BELOW is named (below
 * passed as "within" before: a one-sided test). */
static void test_convergence_gap_against_floor(void **state)
{
    (void)state;
    const char *head = "refit,source,mode,chain,checkpoint_step,refit_step,x,nll,nll_lo,nll_hi,h,h_lo,h_hi,gap,gap_lo,"
                       "gap_hi,floor_affine,floor_mlp,gap_mix,link,refit_lr\n";
    char csv[4096];
    size_t len = (size_t)snprintf(csv, sizeof csv, "%s", head);
    const char *names[] = {"l2-at", "l2-under-noise", "l2-above", "l2-below"};
    const double last_gap[] = {0.44, 0.32, 1.0, 0.2};
    for (int r = 0; r < 4; r++)
        for (int step = 0; step < 2; step++) {
            const double gap = step ? last_gap[r] : 1.5;
            len += (size_t)snprintf(csv + len, sizeof csv - len,
                                    "%s,l2,reinit,gauss,700,%d,1,%g,%g,%g,0,-0.1,0.1,%g,%g,%g,0.4,0.5,0.5,holds,0.05\n",
                                    names[r], step, gap, gap - 0.1, gap + 0.1, gap, gap - 0.2, gap + 0.2);
        }
    char *out = convergence_md(csv);
    expect_contains(out, "- The last gap came within 0.05 nats (or within E[NLL]'s interval) of the best floor in 2 of 4 "
                         "refits with a floor; above it in: l2-above (0.600 above); below it in: l2-below (0.200 below) "
                         "(the predictor beat the floor's cross-fitted fit, so the floor overstates the family's share "
                         "there).\n");
    free(out);
}

/* Paths whose first component holds "=" (a replicate's RESULTS=seed=1, a run
 * directory lr=0.1, given relative to the working directory) are files to the
 * reports, not awk assignments. */
static void test_reports_of_paths_with_equals(void **state)
{
    (void)state;
    char exp[2048], cwd[1024], cmd[8192], *out, *err;
    assert_non_null(getcwd(cwd, sizeof cwd));
    write_experiment("a_equals", exp, sizeof exp);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && rm -rf 'seed=1' && mv results 'seed=1' && cp -r 'seed=1/quick/steps2' 'seed=1/quick/lr=0.1'",
             exp);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);

    snprintf(cmd, sizeof cmd, "cd '%s/seed=1/quick' && '%s/analysis/run-report.sh' lr=0.1", exp, cwd);
    assert_int_equal(sm_test_run(cmd, &out, &err), 0);
    assert_string_equal(err, "");
    char dir[2200];
    snprintf(dir, sizeof dir, "%s/seed=1/quick/lr=0.1", exp);
    char *report = read_file(dir, "report.md");
    expect_contains(report, "| 60 | 4 | 256 | 16 × 8 | 1.650 [1.580, 1.720] |");
    free(report);
    free(out);
    free(err);

    snprintf(cmd, sizeof cmd, "cd '%s' && SM_RESULTS=seed=1 '%s/analysis/experiment-report.sh' \"$PWD\" quick", exp,
             cwd);
    assert_int_equal(sm_test_run(cmd, &out, &err), 0);
    assert_string_equal(err, "");
    snprintf(dir, sizeof dir, "%s/seed=1/quick", exp);
    report = read_file(dir, "report.md");
    expect_contains(report, "| steps2 | pred_steps=2 pred_mode=sgd | 60 | 4 | 256 | 16 × 8 | 0.450 [0.280, 0.620] | ");
    free(report);
    free(out);
    free(err);
}

/* Replicates (analysis/replicates.sh): each run's gap per replicate with its
 * interval, the mean and spread of runs with a finite gap everywhere, the
 * runs' order per replicate (the same, or each listed with the order by the
 * mean); a missing row or a nan gap is shown and kept out of the order; bad
 * files are one line naming them (exit 1), one file is a usage error. */
static void test_replicates(void **state)
{
    (void)state;
    const char *dir = sm_test_dir("a_replicates");
    const char *head = "index,run,step,dim_used,n,views,images,gap,gap_lo,gap_hi,predictor_share,family_share,"
                       "pred_steps\n";
    char text[1024], a[1100], b[1100], c[1100], args[3400];
    snprintf(a, sizeof a, "%s", sm_test_join(dir, "a.csv"));
    snprintf(b, sizeof b, "%s", sm_test_join(dir, "b.csv"));
    snprintf(c, sizeof c, "%s", sm_test_join(dir, "c.csv"));
    snprintf(text, sizeof text, "%s1,s1,60,4,256,16,8,1.0,0.8,1.2,0.5,0.5,1\n2,s2,60,4,256,16,8,0.5,0.4,0.6,0.4,0.1,2\n"
             "3,s5,60,4,256,16,8,nan,nan,nan,0.4,nan,5\n", head);
    sm_test_write_text(a, text);
    snprintf(text, sizeof text, "%s1,s1,60,4,256,16,8,1.5,1.2,1.75,0.5,1.0,1\n2,s2,60,4,256,16,8,0.25,0.1,0.4,0.2,0.05,2\n"
             "3,s5,60,4,256,16,8,2.0,1.9,2.1,1.0,1.0,5\n", head);
    sm_test_write_text(b, text);
    snprintf(text, sizeof text, "%s1,s2,60,4,256,16,8,2.0,1.8,2.2,0.5,1.5,2\n2,s1,60,4,256,16,8,1.0,0.9,1.1,0.5,0.5,1\n",
             head);
    sm_test_write_text(c, text);
    char *out, *err;
    snprintf(args, sizeof args, "%s %s", a, b);
    assert_int_equal(run_script("analysis/replicates.sh", args, &out, &err), 0);
    assert_string_equal(err, "");
    expect_contains(out, "| run | gap, replicate 1 | gap, replicate 2 | mean | spread |\n");
    expect_contains(out, "| s1 | 1.000 [0.800, 1.200] | 1.500 [1.200, 1.750] | 1.250 | 0.500 |\n");
    expect_contains(out, "| s2 | 0.500 [0.400, 0.600] | 0.250 [0.100, 0.400] | 0.375 | 0.250 |\n");
    expect_contains(out, "| s5 | nan [nan, nan] | 2.000 [1.900, 2.100] | n/a | n/a |\n");
    expect_contains(out, "- The runs' mean gaps range over 0.875 nats (s2 0.375 to s1 1.250); a run's spread across "
                         "replicates is at most 0.500 (s1).\n");
    expect_contains(out, "- **The runs' order by gap is the same in all 2 replicates**: s2 < s1.\n");
    free(out);
    free(err);
    snprintf(args, sizeof args, "%s %s %s", a, b, c);
    assert_int_equal(run_script("analysis/replicates.sh", args, &out, &err), 0);
    expect_contains(out, "| s5 | nan [nan, nan] | 2.000 [1.900, 2.100] | (no row) | n/a | n/a |\n");
    expect_contains(out, "| s1 | 1.000 [0.800, 1.200] | 1.500 [1.200, 1.750] | 1.000 [0.900, 1.100] | 1.167 | 0.500 |\n");
    expect_contains(out, "- **The runs' order by gap differs between replicates** in 1 of 1 pairs of runs (s1 / s2); the "
                         "other pairs keep their order in every replicate. By replicate: replicate 1: s2 < s1; "
                         "replicate 2: s2 < s1; replicate 3: s1 < s2 (by the mean: s2 < s1).\n");
    free(out);
    free(err);

    /* an infinite gap is shown as such; ties print "="; a path with "=" is a file, not an awk assignment */
    const char *eq = sm_test_dir("a_replicates/seed=1");
    snprintf(text, sizeof text, "%s1,s1,60,4,256,16,8,inf,0.8,inf,0.5,inf,1\n2,s2,60,4,256,16,8,0.5,0.4,0.6,0.4,0.1,2\n"
             "3,s5,60,4,256,16,8,0.5,0.4,0.6,0.4,0.1,5\n\n", head);
    sm_test_write_text(sm_test_join(eq, "gap.csv"), text);
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(args, sizeof args, "cd '%s' && '%s/analysis/replicates.sh' seed=1/gap.csv seed=1/gap.csv", dir, cwd);
    assert_int_equal(sm_test_run(args, &out, &err), 0);
    assert_string_equal(err, "");
    expect_contains(out, "| s1 | inf [0.800, inf] | inf [0.800, inf] | n/a | n/a |\n");
    expect_contains(out, "- **The runs' order by gap is the same in all 2 replicates**: s2 = s5.\n");
    free(out);
    free(err);

    /* bad files: one line naming them; one file: usage */
    sm_test_write_text(c, "index,run,step,gap,gap_lo\n1,s1,60,1.0,0.8\n");
    snprintf(args, sizeof args, "%s %s", a, c);
    expect_data_error("analysis/replicates.sh", args, "no column \"gap_hi\" in the header", c);
    snprintf(text, sizeof text, "%s1,s1,60,4,256,16,8,one,0.8,1.2,0.5,0.5,1\n", head);
    sm_test_write_text(c, text);
    expect_data_error("analysis/replicates.sh", args, "not a number in column gap: \"one\"", ":2)");
    snprintf(text, sizeof text, "%s1,s1,60,4,256,16,8,1,0.8,1.2,0.5,0.5,1\n2,s1,60,4,256,16,8,1,0.8,1.2,0.5,0.5,1\n",
             head);
    sm_test_write_text(c, text);
    expect_data_error("analysis/replicates.sh", args, "run \"s1\" appears twice", ":3)");
    sm_test_write_text(c, "");
    expect_data_error("analysis/replicates.sh", args, "empty file: no header", c);
    sm_test_write_text(c, head);
    expect_data_error("analysis/replicates.sh", args, "no runs, only the header", c);
    snprintf(args, sizeof args, "%s %s", a, sm_test_join(dir, "missing.csv"));
    expect_data_error("analysis/replicates.sh", args, "no readable gap.csv", "missing.csv");
    assert_int_equal(run_script("analysis/replicates.sh", a, &out, &err), 2);
    expect_contains(err, "usage: analysis/replicates.sh GAP_CSV GAP_CSV...");
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_report_verdict_per_step),
        cmocka_unit_test(test_run_report_gap_shares),
        cmocka_unit_test(test_run_report_paired_gap),
        cmocka_unit_test(test_sphere_chain_paired_gap),
        cmocka_unit_test(test_run_report_gap_rounded_once),
        cmocka_unit_test(test_run_report_many_negative_steps),
        cmocka_unit_test(test_sphere_chain_names_its_terms),
        cmocka_unit_test(test_run_report_reduction_and_nan),
        cmocka_unit_test(test_run_report_odd_name_and_nan_values),
        cmocka_unit_test(test_run_report_without_tracking),
        cmocka_unit_test(test_run_report_of_another_loop),
        cmocka_unit_test(test_garbled_csv_is_one_line_error),
        cmocka_unit_test(test_experiment_report),
        cmocka_unit_test(test_experiment_report_spells_as_runs),
        cmocka_unit_test(test_experiment_report_errors),
        cmocka_unit_test(test_experiment_report_without_tracking),
        cmocka_unit_test(test_experiment_report_single_run),
        cmocka_unit_test(test_convergence_rates),
        cmocka_unit_test(test_trend_noise_and_nan_gaps),
        cmocka_unit_test(test_convergence_rise_is_disjoint),
        cmocka_unit_test(test_convergence_paired_gap),
        cmocka_unit_test(test_convergence_gap_against_floor),
        cmocka_unit_test(test_replicates),
        cmocka_unit_test(test_reports_of_paths_with_equals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
