/* One entry point from a training configuration to a data set in memory.
 *
 *   dataset        data_dir     shape        train / test images
 *   fashion-mnist  required*    1 × 28 × 28  60000 / 10000 (IDX, src/io/idx.h)
 *   mnist          required     1 × 28 × 28  60000 / 10000 (IDX)
 *   cifar10        required     3 × 32 × 32  50000 / 10000 (binary batches, src/data/cifar.h)
 *   synthetic      unused       1 × 28 × 28   2000 /   500 (generated from cfg->seed, src/data/synthetic.h)
 *   random         unused       1 × 28 × 28  60000 / 10000 (uniform bytes from cfg->seed)
 * (* sm_config_finish fills in the Debian package's directory.)  File-based
 * sets take whatever the files hold; the counts are those of the official
 * files.  "random" has Fashion-MNIST's shape and size, so a throughput
 * benchmark on it does the work of a real run minus the file reading; it is
 * never augmented (sm_augment_from_config).
 *
 * With cfg->holdout = H > 0 both splits come from the training files: "train"
 * is their first n − H images, "test" their last H (H >= n: SM_ERR_USAGE), so
 * settings can be chosen without looking at the test split.
 *
 * split is "train" or "test" (anything else: SM_ERR_USAGE); an empty
 * data_dir where one is required is SM_ERR_USAGE; file errors are
 * SM_ERR_DATA naming the file.  On failure *out is zeroed. */
#ifndef SM_DATA_LOADER_H
#define SM_DATA_LOADER_H

#include "core/status.h"
#include "data/dataset.h"
#include "io/config.h"

enum { SM_RANDOM_SIDE = 28, SM_RANDOM_TRAIN = 60000, SM_RANDOM_TEST = 10000, SM_RANDOM_CLASSES = 10 };

int sm_data_load(const sm_config *cfg, const char *split, sm_dataset *out, sm_status *st);

/* The "test" split for use beside train (a k-NN monitor, a probe): its images
 * must have train's c × h × w, or SM_ERR_DATA naming data_dir. */
int sm_data_load_test(const sm_config *cfg, const sm_dataset *train, sm_dataset *test, sm_status *st);

#endif
