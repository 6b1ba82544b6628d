/* Tests for src/cli/embed.c on a tiny trained run: shapes of the .npy,
 * rows that agree with a larger embedding, augmented views that differ and
 * reproduce byte for byte, and the error exits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "io/npy.h"
#include "support/support.h"

#define TINY "dataset=synthetic arch=mlp width=2 proj_hidden=16 z_dim=4 pred_hidden=4 batch=16 threads=1"

/* The checkpoint of a 3-step run, trained once per test binary. */
static const char *checkpoint(void)
{
    static char path[4096];
    if (path[0]) return path;
    const char *dir = sm_test_path("embed_run");
    char args[4200];
    snprintf(args, sizeof args, "train " TINY " steps=3 knn_every=0 out=%s", dir);
    char *err;
    int rc = sm_test_cli(args, NULL, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    free(err);
    assert_int_equal(rc, 0);
    snprintf(path, sizeof path, "%s", sm_test_join(dir, "checkpoint.bin"));
    return path;
}

/* n rows of z equal to those of ref up to float rounding: the model's matrix
 * products may round differently for another batch size. */
static void assert_rows_near(const float *z, const float *ref, size_t n)
{
    for (size_t i = 0; i < n * 4; i++) assert_true(fabsf(z[i] - ref[i]) <= 1e-5f * fmaxf(1.0f, fabsf(ref[i])));
}

/* Run embed with extra arguments into out and read the result back. */
static float *embed(const char *extra, const char *out, size_t *n, size_t *d)
{
    char args[8400], *err;
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s %s", checkpoint(), out, extra);
    int rc = sm_test_cli(args, NULL, &err);
    if (rc) fprintf(stderr, "stderr: %s", err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    free(err);
    float *z;
    sm_status st;
    assert_int_equal(sm_npy_read_f32(out, &z, n, d, &st), SM_OK);
    return z;
}

/* --n 50 is the first 50 rows of the whole test split (500 synthetic images). */
static void test_single_view_shapes(void **state)
{
    (void)state;
    size_t n, d, n_all, d_all;
    float *z = embed("--split test --n 50", sm_test_path("z50.npy"), &n, &d);
    float *all = embed("--split test", sm_test_path("zall.npy"), &n_all, &d_all);
    assert_int_equal(n, 50);
    assert_int_equal(d, 4);
    assert_int_equal(n_all, 500);
    assert_int_equal(d_all, 4);
    assert_rows_near(z, all, 50);
    for (size_t i = 0; i < 50 * 4; i++) assert_true(isfinite(z[i]));
    sm_mem_free(z);
    sm_mem_free(all);
}

/* Three views per image: 3× the rows, image-major, the views of an image
 * differ from each other, and a second run writes the same bytes. */
static void test_views(void **state)
{
    (void)state;
    size_t n, d, n2, d2;
    const char *a = sm_test_path("zv_a.npy"), *b = sm_test_path("zv_b.npy");
    float *z = embed("--views 3 --n 20", a, &n, &d);
    float *z2 = embed("--views 3 --n 20", b, &n2, &d2);
    assert_int_equal(n, 60);
    assert_int_equal(d, 4);
    for (size_t i = 0; i < 20; i++) {
        const float *v = z + i * 3 * 4;
        assert_memory_not_equal(v, v + 4, 4 * sizeof *v);
        assert_memory_not_equal(v + 4, v + 8, 4 * sizeof *v);
    }
    size_t la, lb;
    char *fa = sm_test_read(a, &la), *fb = sm_test_read(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(fa, fb, la);
    free(fa);
    free(fb);
    /* image-major: the first 10 images' views are the first 30 rows of the 20-image file */
    size_t n3, d3;
    float *z3 = embed("--views 3 --n 10", sm_test_path("zv_c.npy"), &n3, &d3);
    assert_int_equal(n3, 30);
    assert_rows_near(z3, z, 30);
    sm_mem_free(z);
    sm_mem_free(z2);
    sm_mem_free(z3);
}

static void test_errors(void **state)
{
    (void)state;
    char args[8400];
    const char *out = sm_test_path("zerr.npy");
    const char *bad = sm_test_path("embed_bad.bin");
    sm_test_write_text(bad, "SSMICKPT but not really");
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s", bad, out);
    sm_test_cli_error(args, 1, bad, NULL);
    const char *missing = sm_test_path("embed_missing.bin");
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s", missing, out);
    sm_test_cli_error(args, 1, missing, NULL);
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s --split valid", checkpoint(), out);
    sm_test_cli_error(args, 2, "--split 'valid'", NULL);
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s --split 'a\x1b[2Jb'", checkpoint(), out);
    sm_test_cli_error(args, 2, "unknown --split 'a?[2Jb'", NULL); /* no escape sequence reaches the terminal */
    char split[3001];
    memset(split, 's', sizeof split - 1);
    split[sizeof split - 1] = '\0';
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s --split %s", checkpoint(), out, split);
    sm_test_cli_error(args, 2, split, "' (choose train or test)"); /* a long message whole */
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s --split test --n 501", checkpoint(), out);
    sm_test_cli_error(args, 2, "--n 501 exceeds the 500 images", NULL);
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s --views 0", checkpoint(), out);
    sm_test_cli_error(args, 2, "views", NULL);
    snprintf(args, sizeof args, "embed --checkpoint %s", checkpoint());
    sm_test_cli_error(args, 2, "missing --out", NULL);
    sm_test_cli_error("embed --out z.npy", 2, "missing --checkpoint", NULL);
    /* --out naming the checkpoint itself, by another path: refused, the checkpoint kept */
    char ck[4096], other_name[1200];
    snprintf(ck, sizeof ck, "%s", checkpoint());
    size_t n_before;
    char *before = sm_test_read(ck, &n_before);
    snprintf(other_name, sizeof other_name, "%s", sm_test_join(sm_test_path("embed_run/."), "checkpoint.bin"));
    snprintf(args, sizeof args, "embed --checkpoint %s --out %s", ck, other_name);
    sm_test_cli_error(args, 2, "is the checkpoint it reads", NULL);
    sm_test_assert_file_is(ck, before, n_before);
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_view_shapes),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
