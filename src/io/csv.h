/* Numeric CSV / whitespace-separated text matrices in.
 *
 * One row per line, rows are samples.  Rules:
 * - Blank lines (empty or only spaces/tabs) are skipped anywhere; "\r\n"
 *   line ends and a leading UTF-8 byte-order mark are accepted.
 * - The separator is decided once per file from the first data line: ','
 *   if it contains a comma (cells are then trimmed of spaces and tabs),
 *   otherwise runs of spaces and tabs.
 * - The first non-blank line is a header when none of its cells is a number;
 *   a leading '#' on it is dropped (np.savetxt's "# a,b", "# a b", "# a"),
 *   and a first line of '#' and numbers (a row commented out) is an error;
 *   it must have as many names as the data have columns.  A first line
 *   mixing numbers and text is an error.
 * - Cells are parsed with strtod (C locale): "1e-3", "-2", ".5", "nan" and
 *   "inf" are numbers; NaN, Inf and out-of-range values (which become ±Inf)
 *   are returned as they are, sm_matrix_load rejects them.  Magnitudes
 *   under the normal range round as strtod rounds them (4e-320 is
 *   subnormal, 1e-400 is 0), as numpy's loadtxt reads them.
 * Errors are SM_ERR_DATA with where = "path:line", e.g.
 *   "row has 3 columns, expected 2 (data.csv:7)"
 *   "non-numeric cell 'abc' in column 2 (data.csv:3)"
 * and "no data rows (path)" for an empty file or a header alone. */
#ifndef SM_IO_CSV_H
#define SM_IO_CSV_H

#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

/* Read path into a new 64-byte-aligned array of n × d doubles (row-major),
 * freed with sm_mem_free.  On failure *data = NULL and *n = *d = 0. */
int sm_csv_read(const char *path, double **data, size_t *n, size_t *d, sm_status *st);

/* The same from an open stream (read up to its end, not closed); path names
 * it in messages. */
int sm_csv_read_stream(FILE *f, const char *path, double **data, size_t *n, size_t *d, sm_status *st);

#endif
