/* Data matrices for the estimators: rows are samples, columns are dimensions.
 *
 * sm_matrix_load reads .npy (src/io/npy.h) or numeric text (src/io/csv.h):
 *   name ends in .npy                  → .npy
 *   name ends in .csv, .txt or .tsv    → text
 *   anything else                      → .npy if the file starts with the
 *                                        .npy magic, text otherwise
 * (case-insensitive).  The file is opened once and read from start to end
 * in one pass, the sniffed bytes included, so a pipe, /dev/stdin, <(...) or
 * a FIFO reads exactly like a regular file.  Then it rejects what no
 * estimator can use:
 *   "NaN at row 5, column 2 (a.npy)", "Inf at ...", "-Inf at ..."
 *   (rows and columns counted from 1), and "array is empty (0 x 3) (a.npy)"
 * for an array with no rows or no columns.  A missing file gives
 * "cannot open file: No such file or directory (path)". */
#ifndef SM_IO_MATRIX_H
#define SM_IO_MATRIX_H

#include <stddef.h>
#include "core/status.h"

/* n × d doubles, row-major, 64-byte aligned; plain data, owned by the struct. */
typedef struct {
    double *data;
    size_t n, d;
} sm_matrix;

/* On failure *m is zeroed (and safe to sm_matrix_free). */
int sm_matrix_load(const char *path, sm_matrix *m, sm_status *st);

/* Write m as a 2-D .npy of float32 (as_float32) or float64, atomically. */
int sm_matrix_save_npy(const char *path, const sm_matrix *m, int as_float32, sm_status *st);

/* Free the data and zero the struct (safe on a zeroed struct). */
void sm_matrix_free(sm_matrix *m);

#endif
