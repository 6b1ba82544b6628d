/* Tests for mk/install.mk: `make install` into a temporary prefix (and a
 * DESTDIR staging), an outside program built with `pkg-config --cflags
 * --libs simsiam-mi` against the installed copy and run, the man page
 * through `man -l`, the exported symbols, then `make uninstall` leaving the
 * prefix empty. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

/* A nested make must not join the jobserver of the `make test` around us. */
#define MAKE "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory"

/* The directory of the CLI under test: the BUILD the libraries are in. */
static const char *build_dir(void)
{
    static char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", sm_test_bin());
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    return dir;
}

/* An absolute, new, empty directory without blanks (make install refuses a
 * PREFIX or DESTDIR with one): under $SM_TMP, or /tmp when that has a blank. */
static const char *fresh_dir(const char *name)
{
    const char *path = sm_test_blankless_path(name);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    return path;
}

static void run_ok(const char *cmd, char **out)
{
    char *err = NULL;
    int rc = sm_test_run(cmd, out, &err);
    if (rc != 0) fail_msg("exit %d: %s\n%s", rc, cmd, err ? err : "");
    free(err);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* The outside program: the public API only, through the umbrella header. */
static const char PROGRAM[] =
    "#define _GNU_SOURCE\n"
    "#include <dlfcn.h>\n"
    "#include <math.h>\n"
    "#include <stdio.h>\n"
    "#include <simsiam-mi.h>\n"
    "int main(void)\n"
    "{\n"
    "    enum { N = 500 };\n"
    "    static double x[N], y[N];\n"
    "    sm_rng r;\n"
    "    sm_rng_seed(&r, 1, 0);\n"
    "    for (int i = 0; i < N; i++) x[i] = sm_rng_normal(&r), y[i] = x[i] + 0.5 * sm_rng_normal(&r);\n"
    "    sm_status st;\n"
    "    sm_mi_opts o = {.k = 3};\n"
    "    sm_ksg1_result res;\n"
    "    if (sm_mi_ksg1(x, y, N, 1, 1, &o, &res, NULL, &st)) return 1;\n"
    "    printf(\"mi %.3f\\n\", res.mi);\n"
    "    sm_entropy_opts eo = {.k = N};\n"
    "    double h;\n"
    "    printf(\"error %d %s\\n\", sm_entropy_kl(x, N, 1, &eo, &h, NULL, &st), st.msg);\n"
    "    printf(\"columns %zu %s\\n\", SM_TRACK_NCOLUMNS, SM_TRACK_COLUMNS[1].name);\n"
    "    printf(\"exported %d hidden %d\\n\", dlsym(RTLD_DEFAULT, \"sm_mi_ksg1\") != NULL,\n"
    "           dlsym(RTLD_DEFAULT, \"sm_npy_load\") == NULL && dlsym(RTLD_DEFAULT, \"gsl_sf_psi\") == NULL);\n"
    "    return 0;\n"
    "}\n";

static const char *const INSTALLED[] = {
    "lib/libsimsiam-mi.so.0.1.0", "lib/libsimsiam-mi.so.0", "lib/libsimsiam-mi.so", "lib/libsimsiam-mi.a",
    "lib/pkgconfig/simsiam-mi.pc", "include/simsiam-mi/simsiam-mi.h", "include/simsiam-mi/estimators/mi.h",
    "include/simsiam-mi/simsiam/track.h", "bin/simsiam-mi", "share/man/man1/simsiam-mi.1"};

static void test_install_build_run_uninstall(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* no shared library in sanitized builds (mk/install.mk) */
#endif
    char prefix[PATH_MAX], cmd[4 * PATH_MAX], *out = NULL;
    snprintf(prefix, sizeof prefix, "%s", fresh_dir("install-prefix"));
    snprintf(cmd, sizeof cmd, MAKE " install PREFIX='%s' BUILD='%s'", prefix, build_dir());
    run_ok(cmd, NULL);
    for (size_t i = 0; i < sizeof INSTALLED / sizeof *INSTALLED; i++) {
        snprintf(cmd, sizeof cmd, "test -e '%s/%s'", prefix, INSTALLED[i]);
        if (sm_test_run(cmd, NULL, NULL) != 0) fail_msg("not installed: %s", INSTALLED[i]);
    }

    /* the versioned soname, and OpenBLAS without GSL's reference CBLAS */
    snprintf(cmd, sizeof cmd, "readelf -d '%s/lib/libsimsiam-mi.so' | grep SONAME; ldd '%s/lib/libsimsiam-mi.so'",
             prefix, prefix);
    run_ok(cmd, &out);
    assert_non_null(strstr(out, "[libsimsiam-mi.so.0]"));
    assert_non_null(strstr(out, "libopenblas"));
    assert_null(strstr(out, "gslcblas"));
    free(out);

    const char *src = sm_test_path("outside.c"), *prog = sm_test_path("outside");
    sm_test_write_text(src, PROGRAM);
    snprintf(cmd, sizeof cmd,
             "export PKG_CONFIG_PATH='%s/lib/pkgconfig' && cc -std=c11 -Wall -Werror -o '%s' '%s' "
             "$(pkg-config --cflags --libs simsiam-mi) && LD_LIBRARY_PATH='%s/lib' '%s'",
             prefix, prog, src, prefix, prog);
    run_ok(cmd, &out);
    assert_non_null(strstr(out, "mi 0.8")); /* I = ½ log 5 = 0.805 for ρ² = 0.8 */
    assert_non_null(strstr(out, "error 2 k must satisfy 1 <= k < N"));
    assert_non_null(strstr(out, "columns "));
    assert_non_null(strstr(out, " step\n"));
    assert_non_null(strstr(out, "exported 1 hidden 1"));
    free(out);

    /* every function the installed headers declare is exported (one lacking SM_API links nowhere) */
    snprintf(cmd, sizeof cmd,
             "grep -rhE '^(SM_API )?(const |unsigned |struct )?[a-z_0-9]+ \\**sm_[a-z0-9_]+\\(' '%s/include/simsiam-mi' "
             "| grep -v '^static' | sed -E 's/.*[ *](sm_[a-z0-9_]+)[(].*/\\1/' | sort -u >'%s' && "
             "nm -D --defined-only '%s/lib/libsimsiam-mi.so' | awk '{ print $3 }' | sort -u >'%s' && "
             "echo declared $(wc -l <'%s') && comm -23 '%s' '%s' | sed 's/^/not exported: /'",
             prefix, sm_test_path("declared.txt"), prefix, sm_test_path("exported.txt"), sm_test_path("declared.txt"),
             sm_test_path("declared.txt"), sm_test_path("exported.txt"));
    run_ok(cmd, &out);
    assert_null(strstr(out, "not exported: "));
    assert_true(atoi(strstr(out, "declared ") + strlen("declared ")) > 50);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s/bin/simsiam-mi' --version && MANWIDTH=80 man --warnings -l '%s/share/man/man1/simsiam-mi.1' 2>&1",
             prefix, prefix);
    run_ok(cmd, &out);
    assert_non_null(strstr(out, "simsiam-mi 0.1.0\n"));
    assert_non_null(strstr(out, "SIMSIAM-MI(1)"));
    assert_null(strstr(out, "warning"));
    free(out);

    snprintf(cmd, sizeof cmd, MAKE " uninstall PREFIX='%s' BUILD='%s'", prefix, build_dir());
    run_ok(cmd, NULL);
    assert_int_equal(entries(prefix), 0);
}

/* DESTDIR stages the files under DESTDIR/PREFIX; the .pc file names PREFIX. */
static void test_destdir_staging(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    char stage[PATH_MAX], cmd[4 * PATH_MAX], *out = NULL;
    snprintf(stage, sizeof stage, "%s", fresh_dir("install-stage"));
    snprintf(cmd, sizeof cmd, MAKE " install PREFIX=/opt/sm DESTDIR='%s' BUILD='%s' && cat '%s/opt/sm/lib/pkgconfig/simsiam-mi.pc'",
             stage, build_dir(), stage);
    run_ok(cmd, &out);
    assert_non_null(strstr(out, "prefix=/opt/sm\n"));
    assert_non_null(strstr(out, "Version: 0.1.0\n"));
    free(out);
    snprintf(cmd, sizeof cmd, MAKE " uninstall PREFIX=/opt/sm DESTDIR='%s' BUILD='%s'", stage, build_dir());
    run_ok(cmd, NULL);
    snprintf(cmd, sizeof cmd, "%s/opt/sm", stage);
    assert_int_equal(entries(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_build_run_uninstall),
        cmocka_unit_test(test_destdir_staging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
