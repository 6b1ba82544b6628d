#include "data/loader.h"

#include <string.h>

#include "data/cifar.h"
#include "data/synthetic.h"
#include "io/idx.h"

static int parse_split(const char *name, sm_split *split, sm_status *st)
{
    if (strcmp(name, "train") == 0) *split = SM_SPLIT_TRAIN;
    else if (strcmp(name, "test") == 0) *split = SM_SPLIT_TEST;
    else return sm_status_fail(st, SM_ERR_USAGE, NULL, "unknown split '%s' (expected train or test)", name);
    return SM_OK;
}

static int need_dir(const sm_config *cfg, const char *dataset, sm_status *st)
{
    if (cfg->data_dir[0] == '\0')
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "dataset=%s needs data_dir=DIR", dataset);
    return SM_OK;
}

/* The IDX arrays become the data set's: same bytes, same layout (n × 1 ×
 * rows × cols), and both sides allocate with sm_mem_alloc, so the buffers
 * are handed over instead of copied. */
static int load_idx(const sm_config *cfg, const char *dataset, sm_split split, sm_dataset *out, sm_status *st)
{
    int rc = need_dir(cfg, dataset, st);
    if (rc) return rc;
    sm_idx_dataset idx;
    rc = sm_idx_load_split(cfg->data_dir, split == SM_SPLIT_TRAIN ? "train" : "t10k", &idx, st);
    if (rc) return rc;
    if (idx.images.rows * idx.images.cols > SM_DATASET_MAX_IMAGE) { /* each below 2^32: no overflow */
        sm_status_fail(st, SM_ERR_DATA, cfg->data_dir, "images of %zu x %zu pixels: a model takes at most %d",
                       idx.images.rows, idx.images.cols, SM_DATASET_MAX_IMAGE);
        sm_idx_dataset_free(&idx);
        return SM_ERR_DATA;
    }
    *out = (sm_dataset){.pixels = idx.images.pixels,
                        .labels = idx.labels.labels,
                        .n = idx.images.n,
                        .c = 1,
                        .h = idx.images.rows,
                        .w = idx.images.cols,
                        .classes = SM_IDX_CLASSES};
    return SM_OK;
}

/* The official split of the configured data set. */
static int load_split(const sm_config *cfg, sm_split split, sm_dataset *out, sm_status *st)
{
    int rc;
    uint64_t seed = (uint64_t)cfg->seed;
    int train = split == SM_SPLIT_TRAIN;
    switch (cfg->dataset) {
    case SM_DATASET_FASHION_MNIST: return load_idx(cfg, "fashion-mnist", split, out, st);
    case SM_DATASET_MNIST: return load_idx(cfg, "mnist", split, out, st);
    case SM_DATASET_CIFAR10:
        if ((rc = need_dir(cfg, "cifar10", st))) return rc;
        return sm_cifar_load_split(cfg->data_dir, split, out, st);
    case SM_DATASET_SYNTHETIC:
        return sm_synthetic_generate(seed, split, train ? SM_SYNTHETIC_TRAIN : SM_SYNTHETIC_TEST, out, st);
    case SM_DATASET_RANDOM:
        return sm_synthetic_random(seed, split, train ? SM_RANDOM_TRAIN : SM_RANDOM_TEST, 1, SM_RANDOM_SIDE,
                                   SM_RANDOM_SIDE, SM_RANDOM_CLASSES, out, st);
    }
    return sm_status_fail(st, SM_ERR_USAGE, NULL, "unknown dataset kind %d", (int)cfg->dataset);
}

/* Keep the first n - holdout images (train) or move the last holdout to
 * the front (test); the buffers keep their size, only n shrinks. */
static int cut_holdout(const sm_config *cfg, sm_split split, sm_dataset *ds, sm_status *st)
{
    size_t holdout = (size_t)cfg->holdout;
    if (holdout >= ds->n) {
        size_t n = ds->n;
        sm_dataset_free(ds);
        return sm_status_fail(st, SM_ERR_USAGE, NULL, "holdout=%zu leaves no training images (the training split has %zu)",
                              holdout, n);
    }
    size_t keep = split == SM_SPLIT_TRAIN ? ds->n - holdout : holdout;
    if (split == SM_SPLIT_TEST) {
        size_t first = ds->n - holdout, image = sm_dataset_image_size(ds);
        memmove(ds->pixels, ds->pixels + first * image, holdout * image);
        memmove(ds->labels, ds->labels + first, holdout);
    }
    ds->n = keep;
    return SM_OK;
}

int sm_data_load(const sm_config *cfg, const char *split_name, sm_dataset *out, sm_status *st)
{
    memset(out, 0, sizeof *out);
    sm_split split = SM_SPLIT_TRAIN;
    int rc = parse_split(split_name, &split, st);
    if (rc) return rc;
    if (cfg->holdout == 0) return load_split(cfg, split, out, st);
    if ((rc = load_split(cfg, SM_SPLIT_TRAIN, out, st))) return rc;
    return cut_holdout(cfg, split, out, st);
}

int sm_data_load_test(const sm_config *cfg, const sm_dataset *train, sm_dataset *test, sm_status *st)
{
    int rc = sm_data_load(cfg, "test", test, st);
    if (rc || (test->c == train->c && test->h == train->h && test->w == train->w)) return rc;
    sm_status_fail(st, SM_ERR_DATA, cfg->data_dir[0] ? cfg->data_dir : NULL,
                   "the test images are %zu x %zu x %zu, the training images %zu x %zu x %zu", test->c, test->h,
                   test->w, train->c, train->h, train->w);
    sm_dataset_free(test);
    return SM_ERR_DATA;
}
