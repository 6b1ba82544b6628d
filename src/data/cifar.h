/* CIFAR-10 in its "binary version" (cifar-10-binary.tar.gz, unpacked).
 *
 * Each file is a sequence of 3073-byte records: one label byte (0..9), then
 * 3072 pixel bytes of a 32 × 32 colour image — the 1024 red values, then the
 * 1024 green, then the 1024 blue, each plane row-major.  That is exactly the
 * C × H × W layout of sm_dataset, so a record's pixels are copied as they are.
 *
 * Split SM_SPLIT_TRAIN reads data_batch_1.bin … data_batch_5.bin from dir and
 * concatenates them in that order; SM_SPLIT_TEST reads test_batch.bin.  The
 * official files hold 10000 records each, but any positive number of records
 * is accepted (tests write small files).  Errors, all SM_ERR_DATA:
 *   "data directory not found (DIR)"
 *   "data file not found (DIR/data_batch_3.bin)"
 *   "cannot read data file: Permission denied (DIR/data_batch_3.bin)" (any
 *   other reason it cannot be looked at), "data file is not a regular file (...)"
 *   "file size 3000 is not a positive multiple of the 3073-byte record (PATH)"
 *   "label 12 of record 5 is not a class 0..9 (PATH)"
 *   "truncated: record 7 ends early (PATH)", read errors with strerror (PATH)
 * On failure *out is zeroed. */
#ifndef SM_DATA_CIFAR_H
#define SM_DATA_CIFAR_H

#include "core/status.h"
#include "data/dataset.h"

enum {
    SM_CIFAR_CLASSES = 10,
    SM_CIFAR_CHANNELS = 3,
    SM_CIFAR_SIDE = 32,
    SM_CIFAR_IMAGE = SM_CIFAR_CHANNELS * SM_CIFAR_SIDE * SM_CIFAR_SIDE,  /* 3072 */
    SM_CIFAR_RECORD = 1 + SM_CIFAR_IMAGE,                              /* 3073 */
    SM_CIFAR_TRAIN_FILES = 5
};

int sm_cifar_load_split(const char *dir, sm_split split, sm_dataset *out, sm_status *st);

#endif
