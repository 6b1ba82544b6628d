#include "data/cifar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { PATH_MAX_LEN = 4096 };

typedef struct {
    char path[PATH_MAX_LEN];
    size_t records;
} batch_file;

/* The file names of a split, in reading order; returns how many. */
static size_t split_files(const char *dir, sm_split split, batch_file *files, sm_status *st)
{
    size_t count = split == SM_SPLIT_TRAIN ? SM_CIFAR_TRAIN_FILES : 1;
    for (size_t k = 0; k < count; k++) {
        int len = split == SM_SPLIT_TRAIN ? snprintf(files[k].path, PATH_MAX_LEN, "%s/data_batch_%zu.bin", dir, k + 1)
                                          : snprintf(files[k].path, PATH_MAX_LEN, "%s/test_batch.bin", dir);
        if (len < 0 || len >= PATH_MAX_LEN) {
            sm_status_fail(st, SM_ERR_DATA, dir, "data directory path too long");
            return 0;
        }
    }
    return count;
}

/* Existence and size of every file, before anything is allocated, so a
 * missing fifth batch fails at once and the total is known in advance. */
static int measure(batch_file *f, sm_status *st)
{
    struct stat sb;
    if (stat(f->path, &sb) != 0)
        return errno == ENOENT ? sm_status_fail(st, SM_ERR_DATA, f->path, "data file not found")
                               : sm_status_fail(st, SM_ERR_DATA, f->path, "cannot read data file: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode)) return sm_status_fail(st, SM_ERR_DATA, f->path, "data file is not a regular file");
    size_t size = (size_t)sb.st_size;
    if (size == 0 || size % SM_CIFAR_RECORD != 0)
        return sm_status_fail(st, SM_ERR_DATA, f->path, "file size %zu is not a positive multiple of the %d-byte record",
                              size, SM_CIFAR_RECORD);
    f->records = size / SM_CIFAR_RECORD;
    return SM_OK;
}

/* Read f's records into labels[0..) and pixels[0..), checking every label. */
static int read_records(const batch_file *f, uint8_t *labels, uint8_t *pixels, sm_status *st)
{
    FILE *in = fopen(f->path, "rb");
    if (!in) return sm_status_fail(st, SM_ERR_DATA, f->path, "cannot open: %s", strerror(errno));
    int rc = SM_OK;
    uint8_t record[SM_CIFAR_RECORD];
    for (size_t r = 0; r < f->records && !rc; r++) {
        if (fread(record, 1, sizeof record, in) != sizeof record)
            rc = ferror(in) ? sm_status_fail(st, SM_ERR_DATA, f->path, "read error: %s", strerror(errno))
                            : sm_status_fail(st, SM_ERR_DATA, f->path, "truncated: record %zu ends early", r);
        else if (record[0] >= SM_CIFAR_CLASSES)
            rc = sm_status_fail(st, SM_ERR_DATA, f->path, "label %u of record %zu is not a class 0..%d", record[0], r,
                                SM_CIFAR_CLASSES - 1);
        else {
            labels[r] = record[0];
            memcpy(pixels + r * SM_CIFAR_IMAGE, record + 1, SM_CIFAR_IMAGE);
        }
    }
    fclose(in);
    return rc;
}

int sm_cifar_load_split(const char *dir, sm_split split, sm_dataset *out, sm_status *st)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) return sm_status_fail(st, SM_ERR_DATA, dir, "data directory not found");
    batch_file files[SM_CIFAR_TRAIN_FILES];
    size_t nfiles = split_files(dir, split, files, st);
    if (nfiles == 0) return SM_ERR_DATA;
    size_t total = 0;
    for (size_t k = 0; k < nfiles; k++) {
        int rc = measure(&files[k], st);
        if (rc) return rc;
        total += files[k].records;
    }
    int rc = sm_dataset_alloc(out, total, SM_CIFAR_CHANNELS, SM_CIFAR_SIDE, SM_CIFAR_SIDE, SM_CIFAR_CLASSES, st);
    if (rc) /* the files' sizes ask for it: name where they are */
        return sm_status_fail(st, rc, dir, "out of memory for the %zu images the batch files' sizes give", total);
    size_t done = 0;
    for (size_t k = 0; k < nfiles && !rc; k++) {
        rc = read_records(&files[k], out->labels + done, out->pixels + done * SM_CIFAR_IMAGE, st);
        done += files[k].records;
    }
    if (rc) sm_dataset_free(out);
    return rc;
}
