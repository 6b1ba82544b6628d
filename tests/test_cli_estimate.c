/* Tests for src/cli/estimate.c: JSON output, bad input → one line + exit code. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/rng.h"
#include "estimators/registry.h"
#include "io/matrix.h"
#include "support/support.h"

/* Correlated Gaussian pair (rho = 0.8), n rows, written as a.npy / b.npy. */
static void write_pair(size_t n)
{
    sm_matrix a = {malloc(n * 2 * sizeof(double)), n, 2}, b = {malloc(n * sizeof(double)), n, 1};
    assert_non_null(a.data);
    assert_non_null(b.data);
    sm_rng r;
    sm_rng_seed(&r, 5, 0);
    for (size_t i = 0; i < n; i++) {
        a.data[2 * i] = sm_rng_normal(&r);
        a.data[2 * i + 1] = sm_rng_normal(&r);
        b.data[i] = 0.8 * a.data[2 * i] + 0.6 * sm_rng_normal(&r);
    }
    sm_status st;
    assert_int_equal(sm_matrix_save_npy(sm_test_path("a.npy"), &a, 0, &st), 0);
    assert_int_equal(sm_matrix_save_npy(sm_test_path("b.npy"), &b, 0, &st), 0);
    free(a.data);
    free(b.data);
}

static int group_setup(void **state)
{
    (void)state;
    write_pair(400);
    return 0;
}

static void test_mi_prints_one_json_line(void **state)
{
    (void)state;
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "estimate mi --x %s --y %s --estimator ksg1 --k 3",
             sm_test_path("a.npy"), sm_test_path("b.npy"));
    assert_int_equal(sm_test_cli(args, &out, &err), 0);
    assert_int_equal(sm_test_lines(out), 1);
    assert_true(strncmp(out, "{\"quantity\":\"mi\",\"estimator\":\"ksg1\",\"k\":3,\"n\":400,\"dx\":2,\"dy\":1,"
                             "\"value\":", 71) == 0);
    assert_non_null(strstr(out, "\"unit\":\"nats\",\"seconds\":"));
    /* True I = -1/2 log(1 - 0.64) = 0.5108; KSG at N = 400 is within ~0.1. */
    assert_true(fabs(sm_test_json_number(out, "value") - 0.5108) < 0.1);
    free(out);
    free(err);
}

static void test_threads_do_not_change_the_value(void **state)
{
    (void)state;
    char args[2048], *o1, *o2, *err;
    snprintf(args, sizeof args, "estimate mi --x %s --y %s --estimator ksg2 --threads 1",
             sm_test_path("a.npy"), sm_test_path("b.npy"));
    assert_int_equal(sm_test_cli(args, &o1, &err), 0);
    free(err);
    snprintf(args, sizeof args, "estimate mi --x %s --y %s --estimator ksg2 --threads 2",
             sm_test_path("a.npy"), sm_test_path("b.npy"));
    assert_int_equal(sm_test_cli(args, &o2, &err), 0);
    free(err);
    assert_true(sm_test_json_number(o1, "value") == sm_test_json_number(o2, "value"));
    free(o1);
    free(o2);
}

static void test_subsample_adds_interval(void **state)
{
    (void)state;
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "estimate entropy --x %s --subsample 20 --seed 3", sm_test_path("b.npy"));
    assert_int_equal(sm_test_cli(args, &out, &err), 0);
    double v = sm_test_json_number(out, "value"), lo = sm_test_json_number(out, "ci_low"), hi = sm_test_json_number(out, "ci_high");
    assert_true(lo <= hi);
    assert_true(lo < v + 0.2 && hi > v - 0.2);
    assert_int_equal((int)sm_test_json_number(out, "resamples"), 20);
    free(out);
    free(err);
}

static void test_gauss_estimators_have_no_k(void **state)
{
    (void)state;
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "estimate entropy --x %s --estimator gauss", sm_test_path("a.npy"));
    assert_int_equal(sm_test_cli(args, &out, &err), 0);
    assert_null(strstr(out, "\"k\":"));
    /* Two independent standard normals: H = log(2πe) = 2.8379; N = 400. */
    assert_true(fabs(sm_test_json_number(out, "value") - 2.8379) < 0.2);
    free(out);
    free(err);
}

static void test_bad_data_is_exit_1_with_file(void **state)
{
    (void)state;
    char args[2048];
    const char *bad = sm_test_path("bad.npy");
    sm_test_write_text(bad, "not an npy file at all");
    snprintf(args, sizeof args, "estimate entropy --x %s", bad);
    sm_test_cli_error(args, 1, "bad.npy", "magic");

    const char *nan = sm_test_path("nan.csv");
    sm_test_write_text(nan, "1,2\n3,nan\n5,6\n7,8\n");
    snprintf(args, sizeof args, "estimate entropy --x %s", nan);
    sm_test_cli_error(args, 1, "nan.csv", "NaN");

    const char *inf = sm_test_path("inf.csv");
    sm_test_write_text(inf, "1\n2\ninf\n4\n5\n");
    snprintf(args, sizeof args, "estimate entropy --x %s --k 1", inf);
    sm_test_cli_error(args, 1, "inf.csv", "Inf");

    const char *empty = sm_test_path("empty.csv");
    sm_test_write_text(empty, "");
    snprintf(args, sizeof args, "estimate entropy --x %s", empty);
    sm_test_cli_error(args, 1, "empty.csv", NULL);

    snprintf(args, sizeof args, "estimate entropy --x %s", sm_test_path("missing.npy"));
    sm_test_cli_error(args, 1, "missing.npy", "cannot open");

    /* d = 0: a (4, 0) array. */
    const char *d0 = sm_test_path("d0.npy");
    char hdr[128] = "\x93NUMPY\x01\x00";
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 0), }";
    size_t len = strlen(dict), total = 10 + len + 1, pad = (64 - total % 64) % 64;
    hdr[8] = (char)(len + 1 + pad);
    hdr[9] = 0;
    memcpy(hdr + 10, dict, len);
    memset(hdr + 10 + len, ' ', pad);
    hdr[10 + len + pad] = '\n';
    sm_test_write(d0, hdr, 10 + len + pad + 1);
    snprintf(args, sizeof args, "estimate entropy --x %s", d0);
    sm_test_cli_error(args, 1, "d0.npy", "empty");
}

static void test_rows_differ_and_k_too_large(void **state)
{
    (void)state;
    char args[2048];
    const char *short_y = sm_test_path("short.csv");
    sm_test_write_text(short_y, "1\n2\n3\n");
    snprintf(args, sizeof args, "estimate mi --x %s --y %s", sm_test_path("a.npy"), short_y);
    sm_test_cli_error(args, 1, "row counts differ", "short.csv");

    snprintf(args, sizeof args, "estimate entropy --x %s --k 3", short_y);
    sm_test_cli_error(args, 1, "k = 3 must be below the number of samples N = 3", "short.csv");

    /* A request the rows cannot serve (an estimator's own limit, which tracking reads as
     * "not applicable" and the library as a usage error) is about the file's size here, as
     * k >= N is: exit 1, the message naming the file. */
    snprintf(args, sizeof args, "estimate entropy --x %s --estimator gauss --subsample 5", short_y);
    sm_test_cli_error(args, 1, "need at least 4 samples to subsample, got 3", "short.csv)");
    /* a k-NN estimator needs k below the rows of a subsample, ⌊N/2⌋ */
    snprintf(args, sizeof args, "estimate entropy --x %s --estimator kl --k 1 --subsample 5", short_y);
    sm_test_cli_error(args, 1, "need at least 2 samples, got 1 (subsamples of N/2 rows; ", "short.csv)");

    const char *dup = sm_test_path("dup.csv");
    sm_test_write_text(dup, "1\n1\n1\n1\n2\n");
    snprintf(args, sizeof args, "estimate entropy --x %s --k 2", dup);
    sm_test_cli_error(args, 1, "duplicate", "(KL entropy; "); /* one parenthesis, the file in it */
    sm_test_cli_error(args, 1, "duplicate", "dup.csv)");
}

static void test_usage_errors_are_exit_2(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args, "estimate mi --x %s --y %s --estimator kl", sm_test_path("a.npy"),
             sm_test_path("b.npy"));
    sm_test_cli_error(args, 2, "unknown --estimator 'kl'", NULL);
    sm_test_cli_error("estimate mi --y x.npy", 2, "missing --x", NULL);
    sm_test_cli_error("estimate entropy --x a.npy --k 0", 2, "--k", NULL);
    sm_test_cli_error("estimate entropy --x a.npy --k three", 2, "--k", NULL);
    sm_test_cli_error("estimate entropy --x a.npy --k ' 3'", 2, "--k", NULL); /* as config values: no blanks */
    sm_test_cli_error("estimate entropy --x a.npy --noise ' 0.1'", 2, "--noise", NULL);
    sm_test_cli_error("estimate entropy --x a.npy --noise -1", 2, "--noise", NULL);
    sm_test_cli_error("estimate volume --x a.npy", 2, "unknown quantity", NULL);
    sm_test_cli_error("estimate", 2, "quantity", NULL);
}

static void test_bound_singular_residuals_is_data_error(void **state)
{
    (void)state;
    char args[2048], *out, *err;
    snprintf(args, sizeof args, "estimate bound --z1 %s --z2 %s --p1 %s --family full --k 3",
             sm_test_path("a.npy"), sm_test_path("a.npy"), sm_test_path("a.npy"));
    /* p1 = z2 exactly: residuals are 0, Σ_r is singular → data error. */
    int rc = sm_test_cli(args, &out, &err);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "positive definite"));
    assert_non_null(strstr(err, "a.npy, ")); /* the three inputs named */
    assert_non_null(strstr(err, "(full NLL; ")); /* in the message's "(where)" */
    free(out);
    free(err);
}

static void test_bound_json_fields(void **state)
{
    (void)state;
    /* Views z1 = a, z2 = a + jitter written by the test, prediction p1 = a. */
    size_t n;
    sm_matrix a = {0}, z2 = {0};
    sm_status st;
    assert_int_equal(sm_matrix_load(sm_test_path("a.npy"), &a, &st), 0);
    n = a.n;
    z2 = (sm_matrix){malloc(n * 2 * sizeof(double)), n, 2};
    assert_non_null(z2.data);
    sm_rng r;
    sm_rng_seed(&r, 9, 0);
    for (size_t i = 0; i < 2 * n; i++) z2.data[i] = a.data[i] + 0.5 * sm_rng_normal(&r);
    assert_int_equal(sm_matrix_save_npy(sm_test_path("z2.npy"), &z2, 0, &st), 0);
    const char *families[] = {"l2", "iso", "diag", "full", "vmf"};
    double nll[5];
    for (int f = 0; f < 5; f++) {
        char args[2048], *out, *err;
        snprintf(args, sizeof args, "estimate bound --z1 %s --z2 %s --p1 %s --family %s",
                 sm_test_path("a.npy"), sm_test_path("z2.npy"), sm_test_path("a.npy"), families[f]);
        assert_int_equal(sm_test_cli(args, &out, &err), 0);
        assert_int_equal(sm_test_lines(out), 1);
        const char *keys[] = {"h_z2", "nll", "h_z2_given_z1", "gap", "i_ksg", "ba", "infonce", "infonce_cap"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) assert_true(isfinite(sm_test_json_number(out, keys[i])));
        assert_true(sm_test_json_number(out, "infonce") <= sm_test_json_number(out, "infonce_cap"));
        assert_true(fabs(sm_test_json_number(out, "infonce_cap") - log((double)n)) < 1e-12);
        assert_true(fabs(sm_test_json_number(out, "ba") - (sm_test_json_number(out, "h_z2") - sm_test_json_number(out, "nll"))) < 1e-12);
        assert_non_null(strstr(out, "never exceeds"));
        if (f == 4) assert_true(sm_test_json_number(out, "kappa") > 0);
        nll[f] = sm_test_json_number(out, "nll");
        free(out);
        free(err);
    }
    /* Fitted Gaussian families are nested: full <= diag <= iso. */
    assert_true(nll[3] <= nll[2] + 1e-12 && nll[2] <= nll[1] + 1e-12);
    /* bound whitens KSG-1's blocks itself (the tracker's chain): --whiten is not its option */
    {
        char args[2048];
        snprintf(args, sizeof args, "estimate bound --z1 %s --z2 %s --p1 %s --whiten", sm_test_path("a.npy"),
                 sm_test_path("z2.npy"), sm_test_path("a.npy"));
        sm_test_cli_error(args, 2, "option '--whiten' does not apply to 'estimate bound'", NULL);
    }
    /* mix is an nll family, not one of bound's: said so, not "unknown NLL family" */
    for (int f = 0; f < 2; f++) {
        char args[2048], msg[128];
        const char *name = f ? "gumbel" : "mix";
        snprintf(args, sizeof args, "estimate bound --z1 %s --z2 %s --p1 %s --family %s", sm_test_path("a.npy"),
                 sm_test_path("z2.npy"), sm_test_path("a.npy"), name);
        snprintf(msg, sizeof msg, "unknown --family '%s' for bound (choose l2, iso, diag, full or vmf: every nll "
                                  "family but mix)", name);
        sm_test_cli_error(args, 2, msg, NULL);
    }
    sm_matrix_free(&a);
    free(z2.data);
}

static void test_nll_shape_errors(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args, "estimate nll --z %s --p %s", sm_test_path("a.npy"), sm_test_path("b.npy"));
    sm_test_cli_error(args, 1, "column counts differ", "b.npy");
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family gumbel", sm_test_path("a.npy"),
             sm_test_path("a.npy"));
    sm_test_cli_error(args, 2, "unknown --family 'gumbel' for nll (choose l2, iso, diag, full, vmf or mix)", NULL);
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --subsample 5", sm_test_path("a.npy"),
             sm_test_path("a.npy"));
    sm_test_cli_error(args, 2, "--subsample", NULL);
}

/* --family mix: one JSON line with the components, the held-out value below
 * nll_full's for a bimodal residual z − p = ±2 e1 + N(0, 0.3² I), the same
 * value for the same --seed, and its own usage errors. */
static void test_nll_mix(void **state)
{
    (void)state;
    const size_t n = 600;
    sm_matrix z = {malloc(n * 2 * sizeof(double)), n, 2}, p = {malloc(n * 2 * sizeof(double)), n, 2};
    assert_non_null(z.data);
    assert_non_null(p.data);
    sm_rng r;
    sm_rng_seed(&r, 13, 0);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 2; j++) {
            p.data[2 * i + j] = sm_rng_normal(&r);
            z.data[2 * i + j] = p.data[2 * i + j] + 0.3 * sm_rng_normal(&r) + (j ? 0.0 : i % 2 ? 2.0 : -2.0);
        }
    sm_status st;
    assert_int_equal(sm_matrix_save_npy(sm_test_path("mz.npy"), &z, 0, &st), 0);
    assert_int_equal(sm_matrix_save_npy(sm_test_path("mp.npy"), &p, 0, &st), 0);
    free(z.data);
    free(p.data);

    char args[2048], *mix, *again, *full, *err;
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family mix --components 2 --seed 3",
             sm_test_path("mz.npy"), sm_test_path("mp.npy"));
    assert_int_equal(sm_test_cli(args, &mix, &err), 0);
    free(err);
    assert_int_equal(sm_test_cli(args, &again, &err), 0);
    free(err);
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family full", sm_test_path("mz.npy"),
             sm_test_path("mp.npy"));
    assert_int_equal(sm_test_cli(args, &full, &err), 0);
    free(err);
    assert_int_equal(sm_test_lines(mix), 1);
    assert_true(strncmp(mix, "{\"quantity\":\"nll\",\"family\":\"mix\",\"components\":2,\"n\":600,\"d\":2,"
                             "\"value\":", 70) == 0);
    assert_non_null(strstr(mix, "\"note\":\"held out"));
    assert_non_null(strstr(mix, "\"unit\":\"nats\",\"seconds\":"));
    /* H = log(2πe·0.09) + log 2 = 1.12 (these 600 rows' own true-density NLL:
     * 1.22, 2.5 standard errors up; the held-out fit: 1.24); nll_full =
     * ½ log det(2πe diag(4.09, 0.09)) = 2.34. */
    const double v = sm_test_json_number(mix, "value");
    assert_true(fabs(v - 1.12) < 0.15);
    assert_true(v < sm_test_json_number(full, "value") - 1.0);
    assert_true(v == sm_test_json_number(again, "value"));
    free(mix);
    free(again);
    free(full);

    snprintf(args, sizeof args, "estimate nll --z %s --p %s --components 2", sm_test_path("mz.npy"),
             sm_test_path("mp.npy"));
    sm_test_cli_error(args, 2, "option '--components' does not apply to 'estimate nll --family full'", NULL);
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family mix --components 0",
             sm_test_path("mz.npy"), sm_test_path("mp.npy"));
    sm_test_cli_error(args, 2, "--components", NULL);
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family mix --components 200",
             sm_test_path("mz.npy"), sm_test_path("mp.npy"));
    /* too many components for the rows is the data's size, as k >= N: exit 1, both files named */
    sm_test_cli_error(args, 1, "rows in each half", "mp.npy)");
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family mix --k 3", sm_test_path("mz.npy"),
             sm_test_path("mp.npy"));
    sm_test_cli_error(args, 2, "option '--k' does not apply to 'estimate nll --family mix'", NULL);
}

static void test_options_that_do_not_apply_are_usage_errors(void **state)
{
    (void)state;
    char args[2048];
    snprintf(args, sizeof args, "estimate entropy --x %s --estimator gauss --whiten", sm_test_path("a.npy"));
    sm_test_cli_error(args, 2, "option '--whiten' does not apply to 'estimate entropy --estimator gauss'", NULL);
    snprintf(args, sizeof args, "estimate entropy --x %s --y %s", sm_test_path("a.npy"), sm_test_path("b.npy"));
    sm_test_cli_error(args, 2, "option '--y' does not apply", NULL);
    snprintf(args, sizeof args, "estimate mi --x %s --y %s --ridge 1", sm_test_path("a.npy"), sm_test_path("b.npy"));
    sm_test_cli_error(args, 2, "option '--ridge' does not apply", NULL);
    snprintf(args, sizeof args, "estimate bound --z1 %s --z2 %s --p1 %s --estimator ksg2", sm_test_path("a.npy"),
             sm_test_path("a.npy"), sm_test_path("a.npy"));
    sm_test_cli_error(args, 2, "option '--estimator' does not apply to 'estimate bound'", NULL);
}

static void test_non_finite_results_and_tiny_inputs_are_data_errors(void **state)
{
    (void)state;
    char args[2048];
    /* Squared distances of values near 1e300 overflow: no "inf" in JSON. */
    const char *big = sm_test_path("big.csv");
    sm_test_write_text(big, "1e300\n-1e300\n3e300\n-2e300\n5e300\n");
    snprintf(args, sizeof args, "estimate entropy --x %s --k 1", big);
    sm_test_cli_error(args, 1, "not finite", "big.csv");
    /* One row: a data error for every estimator, not a usage error. */
    const char *one = sm_test_path("one.csv");
    sm_test_write_text(one, "1.5,2\n");
    snprintf(args, sizeof args, "estimate entropy --x %s --estimator gauss", one);
    sm_test_cli_error(args, 1, "at least 2 samples", "one.csv");
    snprintf(args, sizeof args, "estimate entropy --x %s", one);
    sm_test_cli_error(args, 1, "at least 2 samples", "one.csv");
    /* vmf needs a direction: one column is a data error. */
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family vmf", sm_test_path("b.npy"),
             sm_test_path("b.npy"));
    sm_test_cli_error(args, 1, "at least 2 columns", "b.npy");
    /* The full family on n = d independent residuals: a regular Σ_r that only
     * reproduces them, refused as a data error (it has no --ridge). */
    const char *zsq = sm_test_path("zsq.csv"), *psq = sm_test_path("psq.csv");
    sm_test_write_text(zsq, "1,0\n0,2\n");
    sm_test_write_text(psq, "0,0\n0,0\n");
    snprintf(args, sizeof args, "estimate nll --z %s --p %s --family full", zsq, psq);
    sm_test_cli_error(args, 1, "n = 2 rows for d = 2: the full family needs n > d", "zsq.csv");
}

/* --help lists every row of the estimator registry, and an unknown name's
 * "choose" list is the registry's too. */
static void test_help_lists_the_registry(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("estimate --help", &out, &err), 0);
    for (size_t i = 0; i < SM_NESTIMATORS; i++) {
        const sm_estimator *e = &SM_ESTIMATORS[i];
        char line[256];
        snprintf(line, sizeof line, "  %-8s %-6s%s %s\n", sm_est_kind_name(e->kind), e->name,
                 e->uses & SM_EST_DEFAULT ? "*" : " ", e->doc);
        if (!strstr(out, line)) fail_msg("estimate --help lacks '%s'", line);
    }
    free(out);
    free(err);
    sm_test_cli_error("estimate mi --x a.npy --y b.npy --estimator nope", 2,
                      "unknown --estimator 'nope' for mi (choose ksg1, ksg2 or gauss)", NULL);
}

/* README's table of estimators is the one `estimate --list` makes; --list takes nothing else. */
static void test_readme_estimators(void **state)
{
    (void)state;
    sm_test_doc_table("estimators");
    sm_test_cli_error("estimate --list entropy --k 0", 2, "--list takes no other argument", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_the_registry),
        cmocka_unit_test(test_readme_estimators),
        cmocka_unit_test(test_mi_prints_one_json_line),
        cmocka_unit_test(test_threads_do_not_change_the_value),
        cmocka_unit_test(test_subsample_adds_interval),
        cmocka_unit_test(test_gauss_estimators_have_no_k),
        cmocka_unit_test(test_bad_data_is_exit_1_with_file),
        cmocka_unit_test(test_rows_differ_and_k_too_large),
        cmocka_unit_test(test_usage_errors_are_exit_2),
        cmocka_unit_test(test_bound_singular_residuals_is_data_error),
        cmocka_unit_test(test_bound_json_fields),
        cmocka_unit_test(test_nll_shape_errors),
        cmocka_unit_test(test_nll_mix),
        cmocka_unit_test(test_options_that_do_not_apply_are_usage_errors),
        cmocka_unit_test(test_non_finite_results_and_tiny_inputs_are_data_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
