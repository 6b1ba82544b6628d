/* Tests for src/cli/main.c: help, version, dispatch, exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support/support.h"

static const char *SUBCOMMANDS[] = {"train", "estimate", "embed", "eval", "track", "refit"};

static void test_help_lists_every_subcommand(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("--help", &out, &err), 0);
    for (size_t i = 0; i < sizeof SUBCOMMANDS / sizeof *SUBCOMMANDS; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "  %s ", SUBCOMMANDS[i]);
        assert_non_null(strstr(out, needle));
    }
    assert_non_null(strstr(out, "--version"));
    free(out);
    free(err);
}

static void test_version(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("--version", &out, &err), 0);
    assert_true(strncmp(out, "simsiam-mi ", 11) == 0);
    assert_int_equal(sm_test_lines(out), 1);
    free(out);
    free(err);
}

/* The last "Core: NAME" line OpenBLAS prints at load (OPENBLAS_VERBOSE=2)
 * when the CLI runs with env (the exec'd process prints last). */
static void blas_core(const char *env, char *core, size_t n)
{
    char cmd[512], *out, *err;
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE %s OPENBLAS_VERBOSE=2 %s --version", env, sm_test_bin());
    assert_int_equal(sm_test_run(cmd, &out, &err), 0);
    const char *at = NULL;
    for (const char *s = out; (s = strstr(s, "Core: ")); s++) at = s + 6;
    for (const char *s = err; (s = strstr(s, "Core: ")); s++) at = s + 6;
    assert_non_null(at);
    snprintf(core, n, "%.*s", (int)strcspn(at, "\n"), at);
    free(out);
    free(err);
}

/* OpenBLAS's generic Prescott fallback on a CPU with AVX2/AVX-512 is
 * replaced by the kernels it has (the CLI runs itself again); a user's own
 * OPENBLAS_CORETYPE stands. */
static void test_better_blas_kernels(void **state)
{
    (void)state;
    char core[64];
    blas_core("", core, sizeof core);
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) assert_string_not_equal(core, "Prescott");
    blas_core("OPENBLAS_CORETYPE=Prescott", core, sizeof core);
    assert_string_equal(core, "Prescott");
}

static void test_every_subcommand_has_help(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SUBCOMMANDS / sizeof *SUBCOMMANDS; i++) {
        char args[64], *out, *err;
        snprintf(args, sizeof args, "%s --help", SUBCOMMANDS[i]);
        assert_int_equal(sm_test_cli(args, &out, &err), 0);
        char needle[64];
        snprintf(needle, sizeof needle, "simsiam-mi %s", SUBCOMMANDS[i]);
        assert_non_null(strstr(out, needle));
        assert_non_null(strstr(out, "example:"));
        free(out);
        free(err);
    }
}

static void test_unknown_command_is_usage_error_with_suggestion(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("estimat", &out, &err), 2);
    assert_string_equal(err, "simsiam-mi: error: unknown command 'estimat' (did you mean 'estimate'?)\n");
    free(out);
    free(err);
    assert_int_equal(sm_test_cli("", &out, &err), 2);
    free(out);
    free(err);
}

static void test_unknown_option_is_usage_error(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(sm_test_cli("estimate mi --kk 3", &out, &err), 2);
    assert_int_equal(sm_test_lines(err), 1);
    assert_non_null(strstr(err, "simsiam-mi: error: unknown option '--kk' (did you mean '--k'?)"));
    free(out);
    free(err);
}

/* An option's value left empty (a variable unset in a script) is a usage
 * error naming the option, for every command: before, --x '' read a file
 * named '' and --out '' failed as a data error. */
static void test_empty_option_value_is_usage_error(void **state)
{
    (void)state;
    const char *cases[][2] = {{"estimate entropy --x ''", "--x"},
                              {"embed --checkpoint c.bin --out=", "--out"},
                              {"eval --checkpoint ''", "--checkpoint"},
                              {"track --checkpoint=", "--checkpoint"},
                              {"train --config ''", "--config"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char want[64];
        snprintf(want, sizeof want, "option '%s' needs a value, not ''", cases[i][1]);
        sm_test_cli_error(cases[i][0], 2, want, NULL);
    }
}

/* Launched as several processes (mpirun's environment), this build refuses
 * every command, on rank 0 with one line and on the others silently: it
 * ran as that many copies writing the same files. */
static void test_refuses_to_run_as_copies_under_mpirun(void **state)
{
    (void)state;
    const char *launches[] = {"OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK", "PMI_SIZE=3 PMI_RANK"};
    for (size_t i = 0; i < sizeof launches / sizeof *launches; i++)
        for (int rank = 0; rank < 2; rank++) {
            char cmd[2048];
            char *out, *err;
            snprintf(cmd, sizeof cmd, "env %s=%d '%s' train dataset=random steps=1 out='%s'", launches[i], rank,
                     sm_test_bin(), sm_test_path("copies"));
            assert_int_equal(sm_test_run(cmd, &out, &err), 2);
            if (rank == 0) {
                assert_int_equal(sm_test_lines(err), 1);
                assert_non_null(strstr(err, "simsiam-mi: error: this build runs as one process, launched as "));
                assert_non_null(strstr(err, "data-parallel training is build/simsiam-mi-mpi train"));
            } else {
                assert_string_equal(err, "");
            }
            assert_string_equal(out, "");
            free(out);
            free(err);
        }
    assert_int_equal(access(sm_test_path("copies"), F_OK), -1); /* nothing written */
    char *out, *err;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env OMPI_COMM_WORLD_SIZE=1 OMPI_COMM_WORLD_RANK=0 '%s' --version", sm_test_bin());
    assert_int_equal(sm_test_run(cmd, &out, &err), 0); /* one process: as usual */
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_every_subcommand),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_better_blas_kernels),
        cmocka_unit_test(test_every_subcommand_has_help),
        cmocka_unit_test(test_unknown_command_is_usage_error_with_suggestion),
        cmocka_unit_test(test_unknown_option_is_usage_error),
        cmocka_unit_test(test_refuses_to_run_as_copies_under_mpirun),
        cmocka_unit_test(test_empty_option_value_is_usage_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
