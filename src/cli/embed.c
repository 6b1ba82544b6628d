/* simsiam-mi embed --checkpoint F --out Z.npy [--views V] [--split train|test]
 * [--n N] (docs/design.md §2): z of a checkpoint's model in inference mode, as a
 * float32 .npy.  V = 1: the first N un-augmented images, shape (N, z_dim).
 * V >= 2: V augmented views of each of them (the views of augmentation step
 * EMBED_STEP, so the file is reproducible), shape (N·V, z_dim), image-major:
 * image i's views are rows i·V .. i·V + V − 1. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "data/augment.h"
#include "io/atomic.h"
#include "io/npy.h"
#include "simsiam/state.h"

/* The fixed augmentation step of the views (the first training step's). */
enum { EMBED_STEP = 0 };

typedef struct {
    const char *checkpoint, *out, *split;
    size_t views, n; /* n = 0: the whole split */
} embed_args;

static int parse_args(int argc, char **argv, embed_args *a)
{
    cli_opt opts[] = {{"checkpoint", 1, NULL, NULL, 0}, {"out", 1, NULL, NULL, 0}, {"views", 1, NULL, NULL, 0},
                      {"split", 1, NULL, NULL, 0}, {"n", 1, NULL, NULL, 0}};
    const size_t nopts = sizeof opts / sizeof opts[0];
    size_t npos = 0;
    long views, n;
    int rc = cli_parse(argc, argv, 1, opts, nopts, NULL, 0, &npos);
    if (!rc) rc = cli_get_long(opts, nopts, "views", 1, 1, 65536, &views);
    if (!rc) rc = cli_get_long(opts, nopts, "n", 0, 1, 2147483647L, &n);
    if (rc) return rc;
    a->checkpoint = cli_get(opts, nopts, "checkpoint");
    a->out = cli_get(opts, nopts, "out");
    a->split = cli_get(opts, nopts, "split");
    if (!a->split) a->split = "train";
    a->views = (size_t)views;
    a->n = (size_t)n;
    if (!a->checkpoint) return cli_error(2, "missing --checkpoint F (see --help)");
    if (!a->out) return cli_error(2, "missing --out Z.npy (see --help)");
    if (sm_same_file(a->out, a->checkpoint))
        return cli_error(2, "--out %s is the checkpoint it reads; write z to another file", a->out);
    if (strcmp(a->split, "train") && strcmp(a->split, "test"))
        return cli_error(2, "unknown --split '%s' (choose train or test)", a->split);
    return 0;
}

/* z of V augmented views of each of the first n images into z, image-major,
 * as many whole images per model call as fit in its max_batch. */
static int embed_views(sm_model *m, const sm_config *cfg, const sm_dataset *ds, size_t n, size_t views, float *z,
                       sm_status *st)
{
    sm_augment aug;
    sm_augment_from_config(&aug, cfg);
    size_t image = sm_dataset_image_size(ds);
    size_t per_call = m->max_batch / views > 0 ? m->max_batch / views : 1;
    float *x = sm_mem_alloc_aligned(per_call * views * image, sizeof *x, st);
    if (!x) return st ? st->code : SM_ERR_DATA;
    for (size_t done = 0; done < n; done += per_call) {
        size_t nb = n - done < per_call ? n - done : per_call;
        for (size_t i = 0; i < nb; i++) sm_augment_views(&aug, ds, done + i, EMBED_STEP, views, x + i * views * image);
        sm_model_embed(m, x, nb * views, NULL, z + done * views * m->z_dim, NULL);
    }
    sm_mem_free(x);
    return SM_OK;
}

static int embed_and_write(const embed_args *a, sm_model *m, const sm_config *cfg, const sm_dataset *ds,
                           sm_status *st)
{
    size_t n = a->n ? a->n : ds->n;
    if (n > ds->n)
        return cli_error(2, "--n %zu exceeds the %zu images of the %s split", n, ds->n, a->split);
    size_t rows = n * a->views;
    float *z = sm_mem_alloc_aligned(rows * m->z_dim, sizeof *z, st);
    if (!z) return cli_fail(st);
    int rc = a->views == 1 ? sm_model_embed_dataset(m, ds, n, NULL, z, st) : embed_views(m, cfg, ds, n, a->views, z, st);
    sm_npy_array arr = {.data = z, .type = SM_NPY_F32, .n = rows, .d = m->z_dim, .ndim = 2};
    if (!rc) rc = sm_npy_write(a->out, &arr, SM_NPY_F32, st);
    sm_mem_free(z);
    return rc ? cli_fail(st) : 0;
}

int cli_embed(int argc, char **argv)
{
    embed_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    sm_status st;
    sm_status_clear(&st);
    sm_config cfg;
    sm_dataset ds;
    sm_model *m;
    if (sm_state_restore(a.checkpoint, a.split, &cfg, &ds, &m, &st)) return cli_fail(&st);
    rc = embed_and_write(&a, m, &cfg, &ds, &st);
    sm_model_free(m);
    sm_dataset_free(&ds);
    return rc;
}
