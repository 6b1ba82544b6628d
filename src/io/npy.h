/* .npy files (NumPy's array format): float32/float64 matrices in and out.
 *
 * A .npy file is "\x93NUMPY", a version (major, minor), a little-endian
 * header length (2 bytes in version 1.0, 4 bytes in 2.0 and 3.0), an ASCII
 * Python dict literal such as
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (100, 4), }
 * padded with spaces to a newline, then the raw array.
 *
 * Reading accepts versions 1.0, 2.0 and 3.0; dtypes '<f4' and '<f8' only;
 * C or Fortran order (NumPy saves a transposed or column-sliced array in
 * Fortran order; it is read into row-major order, which costs a second
 * copy); shapes (n,) (read as n × 1) and (n, d).  The header is parsed as a
 * dict (keys in any order, single or double quotes, free whitespace, trailing
 * commas).  Everything else is an SM_ERR_DATA error whose where is the path:
 * bad magic, other versions, big-endian or any other
 * dtype, a malformed header (missing, duplicate or unknown key), 0-d or >2-d
 * shapes, a shape whose element count or byte size overflows size_t, data
 * shorter than the shape needs ("truncated") and bytes after the data
 * ("trailing", rejected: they mean the header and the data disagree).  A
 * regular file's size is checked before anything is allocated, so a header
 * claiming 2^40 rows in a small file fails as "truncated", not out of memory;
 * from any other stream (a pipe, a FIFO) memory grows with the data that
 * arrive, so the same header fails the same way once the stream ends.
 *
 * Writing makes a version 1.0 file whose data start at a multiple of 64 bytes
 * (NumPy's convention), through src/io/atomic.h.
 *
 *   double *x; size_t n, d;
 *   if (sm_npy_read(path, &x, &n, &d, st)) return st->code;
 *   ... x[i * d + j] ...
 *   sm_mem_free(x);
 */
#ifndef SM_IO_NPY_H
#define SM_IO_NPY_H

#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

/* Element types; the value is the size in bytes. */
typedef enum { SM_NPY_F32 = 4, SM_NPY_F64 = 8 } sm_npy_type;

/* Read a float32 or float64 file into a new 64-byte-aligned array of n × d
 * doubles (row-major; 1-D files give d = 1), freed with sm_mem_free.  NaN
 * and Inf are returned as stored (sm_matrix_load rejects them).  On failure
 * *data = NULL and *n = *d = 0. */
int sm_npy_read(const char *path, double **data, size_t *n, size_t *d, sm_status *st);

/* Same into floats.  A float64 value beyond float32's range is an error
 * naming its (1-based) row and column; others are rounded to nearest. */
int sm_npy_read_f32(const char *path, float **data, size_t *n, size_t *d, sm_status *st);

/* sm_npy_read from an open stream at the start of the file (read up to its
 * end, not closed); path names it in messages. */
int sm_npy_read_stream(FILE *f, const char *path, double **data, size_t *n, size_t *d, sm_status *st);

/* Bytes a file must start with to be sniffed as .npy, and whether the n
 * bytes at head start with the .npy magic. */
enum { SM_NPY_MAGIC_LEN = 6 };
int sm_npy_is_magic(const void *head, size_t n);

/* An in-memory row-major array to write. */
typedef struct {
    const void *data;  /* n × d elements of type */
    sm_npy_type type;
    size_t n, d;
    int ndim;          /* 2: shape (n, d); 1: shape (n,), requires d == 1 */
} sm_npy_array;

/* Write a as file_type (converting if needed; a double that does not fit in
 * float32 is an error naming its row and column, and nothing is written). */
int sm_npy_write(const char *path, const sm_npy_array *a, sm_npy_type file_type, sm_status *st);

#endif
