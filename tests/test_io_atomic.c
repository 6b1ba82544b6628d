/* Tests for src/io/atomic.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/atomic.h"
#include "support/support.h"

static void test_write_replaces_whole_file(void **state)
{
    (void)state;
    const char *p = sm_test_path("atomic_a.txt");
    sm_status st;
    assert_int_equal(sm_atomic_write(p, "first version\n", 14, &st), SM_OK);
    assert_int_equal(sm_atomic_write(p, "2nd\n", 4, &st), SM_OK);
    size_t n;
    char *s = sm_test_read(p, &n);
    assert_string_equal(s, "2nd\n");
    free(s);
    assert_int_equal(sm_test_count_temporaries(p), 0);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
}

static void test_abort_keeps_old_content(void **state)
{
    (void)state;
    const char *p = sm_test_path("atomic_b.txt");
    sm_status st;
    assert_int_equal(sm_atomic_write(p, "kept\n", 5, &st), SM_OK);
    sm_atomic_file af;
    assert_int_equal(sm_atomic_open(&af, p, &st), SM_OK);
    fputs("half-written garbage", af.f);
    /* Before commit the destination still holds the old file. */
    char *s = sm_test_read(p, NULL);
    assert_string_equal(s, "kept\n");
    free(s);
    sm_atomic_abort(&af);
    s = sm_test_read(p, NULL);
    assert_string_equal(s, "kept\n");
    free(s);
    assert_int_equal(sm_test_count_temporaries(p), 0);
}

static void test_missing_directory_is_an_error(void **state)
{
    (void)state;
    sm_status st;
    const char *p = sm_test_path("no_such_dir/x.txt");
    assert_int_equal(sm_atomic_write(p, "x", 1, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "no_such_dir/x.txt"));
    assert_non_null(strstr(st.msg, "cannot create"));
}

/* sm_make_dirs makes every missing level, accepts what exists, and names the
 * component in the way: a file where a directory should be. */
static void test_make_dirs(void **state)
{
    (void)state;
    char deep[1200], file[1200], under[1300];
    snprintf(deep, sizeof deep, "%s", sm_test_path("dirs_a/b/c"));
    snprintf(file, sizeof file, "%s", sm_test_path("dirs_file"));
    snprintf(under, sizeof under, "%s/x", file);
    sm_status st;
    assert_int_equal(sm_make_dirs(deep, 8, &st), SM_OK);
    assert_int_equal(sm_make_dirs(deep, 8, &st), SM_OK); /* again: nothing to make */
    struct stat sb;
    assert_true(stat(deep, &sb) == 0 && S_ISDIR(sb.st_mode));
    sm_test_write_text(file, "a file\n");
    assert_int_equal(sm_make_dirs(file, 8, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "output path is not a directory"));
    assert_int_equal(sm_make_dirs(under, 8, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "cannot create directory: Not a directory"));
    assert_non_null(strstr(st.msg, under));
    assert_int_equal(sm_make_dirs("", 8, &st), SM_ERR_DATA); /* nothing to make: not "./" */
}

/* A directory path too long for its longest file name (and the name of
 * that file's temporary, which the system's 4096-byte limit bounds) is
 * refused before any component is made; one byte shorter, the directory
 * and the file in it are made. */
static void test_make_dirs_refuses_path_too_long_for_its_files(void **state)
{
    (void)state;
    enum { NAME = 16, ROOM = 4096 - 2 - NAME - 7 }; /* 7: the temporary's ".XXXXXX" */
    char base[1200], fits[4200], too_long[4200], file[4300];
    snprintf(base, sizeof base, "%s", sm_test_path("dirs_long_ok"));
    sm_test_deep_path(fits, sizeof fits, base, ROOM);
    snprintf(base, sizeof base, "%s", sm_test_path("dirs_long_refused"));
    sm_test_deep_path(too_long, sizeof too_long, base, ROOM + 1);
    sm_status st;
    assert_int_equal(sm_make_dirs(too_long, NAME, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "output directory path of 4072 bytes is too long: at most 4071"));
    struct stat sb;
    assert_int_not_equal(stat(base, &sb), 0); /* not even the first component */
    assert_int_equal(sm_make_dirs(fits, NAME, &st), SM_OK);
    snprintf(file, sizeof file, "%s/%0*d", fits, NAME, 0);
    assert_int_equal(sm_atomic_write(file, "x", 1, &st), SM_OK);
    assert_int_equal(stat(file, &sb), 0);
}

static void test_rename_failure_keeps_destination(void **state)
{
    (void)state;
    /* Destination is a non-empty directory: rename fails, the directory and
     * its content survive, and no temporary is left behind. */
    const char *dir = sm_test_path("atomic_dir");
    mkdir(dir, 0777);
    char inner[1024];
    snprintf(inner, sizeof inner, "%s/inside", dir);
    sm_test_write_text(inner, "x");
    sm_status st;
    assert_int_equal(sm_atomic_write(dir, "data", 4, &st), SM_ERR_DATA);
    assert_non_null(strstr(st.msg, "write failed"));
    char *s = sm_test_read(inner, NULL);
    assert_string_equal(s, "x");
    free(s);
    assert_int_equal(sm_test_count_temporaries(dir), 0);
}

static int is_a_csv(const char *name) { return strcmp(name, "a.csv") == 0; }

/* A killed writer's temporaries ("a.csv.Zsf1wr") go; the file itself, other
 * names' temporaries and names that only look alike stay. */
static void test_remove_stale(void **state)
{
    (void)state;
    char cmd[2400];
    const char *dir = sm_test_path("atomic_stale");
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", dir, dir);
    assert_int_equal(sm_test_run(cmd, NULL, NULL), 0);
    static const char *const gone[] = {"a.csv.Zsf1wr", "a.csv.000000"};
    static const char *const kept[] = {"a.csv", "a.csv.Zsf1w", "a.csv.Zsf1wr7", "a.csv.Zs-1wr", "b.csv.Zsf1wr",
                                       "xa.csv.Zsf1wr", ".Zsf1wr"};
    for (size_t i = 0; i < 2; i++) sm_test_write_text(sm_test_join(dir, gone[i]), "x");
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) sm_test_write_text(sm_test_join(dir, kept[i]), "x");
    sm_atomic_remove_stale(dir, is_a_csv, 0);
    for (size_t i = 0; i < 2; i++) assert_int_not_equal(access(sm_test_join(dir, gone[i]), F_OK), 0);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (access(sm_test_join(dir, kept[i]), F_OK) != 0) fail_msg("%s was removed", kept[i]);
    sm_atomic_remove_stale(sm_test_join(dir, "missing"), is_a_csv, 1); /* no directory: nothing to do */
    /* files_too: a.csv itself goes as well, the other names stay */
    sm_atomic_remove_stale(dir, is_a_csv, 1);
    assert_int_not_equal(access(sm_test_join(dir, "a.csv"), F_OK), 0);
    for (size_t i = 1; i < sizeof kept / sizeof *kept; i++)
        if (access(sm_test_join(dir, kept[i]), F_OK) != 0) fail_msg("%s was removed", kept[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_replaces_whole_file),
        cmocka_unit_test(test_abort_keeps_old_content),
        cmocka_unit_test(test_missing_directory_is_an_error),
        cmocka_unit_test(test_make_dirs),
        cmocka_unit_test(test_make_dirs_refuses_path_too_long_for_its_files),
        cmocka_unit_test(test_rename_failure_keeps_destination),
        cmocka_unit_test(test_remove_stale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
