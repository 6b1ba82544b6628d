/* IDX reader: the file format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a big-endian header followed by the raw array:
 *   bytes 0-1  zero
 *   byte  2    data type (only 0x08 = unsigned byte is accepted)
 *   byte  3    number of dimensions (3 for images, 1 for labels)
 *   then one uint32 per dimension, then prod(dims) bytes, row-major.
 * Images are magic 0x00000803 (n, rows, cols), labels 0x00000801 (n).
 *
 * Files starting with the gzip magic are inflated with zlib, others read as
 * they are, so gzip-compressed (.gz, as distributed) and uncompressed files
 * both work.  The reader is strict: wrong magic, data type or number of
 * dimensions, a zero or overflowing dimension, a data length that differs
 * from the header's (truncated or trailing bytes), a corrupt gzip stream and
 * bytes after the end of the gzip stream (other than further gzip members,
 * which gzip itself reads as one stream) are all SM_ERR_DATA errors whose
 * "where" is the path.
 * Memory grows with the data actually present, so a header that claims
 * billions of images in a small file fails as "truncated" without first
 * allocating the claimed size.
 *
 *   sm_idx_dataset train;
 *   if (sm_idx_load_split(dir, "train", &train, st)) return st->code;
 *   ... train.images.pixels[(i * rows + r) * cols + c], train.labels.labels[i] ...
 *   sm_idx_dataset_free(&train);
 */
#ifndef SM_IO_IDX_H
#define SM_IO_IDX_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* n images of rows × cols bytes, image i at pixels + i * rows * cols. */
typedef struct {
    uint8_t *pixels;
    size_t n, rows, cols;
} sm_idx_images;

typedef struct {
    uint8_t *labels;
    size_t n;
} sm_idx_labels;

/* One split of a 10-class data set: images.n == labels.n, labels < 10. */
typedef struct {
    sm_idx_images images;
    sm_idx_labels labels;
} sm_idx_dataset;

/* Read an images file (magic 0x00000803).  On failure *out is zeroed. */
int sm_idx_read_images(const char *path, sm_idx_images *out, sm_status *st);
/* Read a labels file (magic 0x00000801).  On failure *out is zeroed. */
int sm_idx_read_labels(const char *path, sm_idx_labels *out, sm_status *st);

/* Load split "train" or "t10k" from dir: "<split>-images-idx3-ubyte.gz" and
 * "<split>-labels-idx1-ubyte.gz", or the same names without ".gz" when the
 * .gz file does not exist.  Checks that both files hold the same number of
 * samples and that every label is below SM_IDX_CLASSES.  Errors: unknown
 * split → SM_ERR_USAGE; missing directory → "data directory not found (DIR)";
 * missing file → "data file not found ... (DIR/<name>.gz)"; a file that
 * cannot be looked at → "cannot read data file: <strerror> (...)"; the rest as
 * sm_idx_read_*.  On failure *out is zeroed. */
enum { SM_IDX_CLASSES = 10 };
int sm_idx_load_split(const char *dir, const char *split, sm_idx_dataset *out, sm_status *st);

/* Free and zero (safe on zeroed structs). */
void sm_idx_images_free(sm_idx_images *im);
void sm_idx_labels_free(sm_idx_labels *lb);
void sm_idx_dataset_free(sm_idx_dataset *ds);

#endif
