#include "io/matrix.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "io/csv.h"
#include "io/npy.h"

typedef enum { FORMAT_NPY, FORMAT_TEXT } matrix_format;

static int has_extension(const char *path, const char *ext)
{
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    return dot && strcasecmp(dot, ext) == 0;
}

/* The extension decides; an unknown one is settled by the file's first bytes
 * (an unreadable file goes to the text reader, which reports why). */
static matrix_format choose_format(const char *path)
{
    if (has_extension(path, ".npy")) return FORMAT_NPY;
    if (has_extension(path, ".csv") || has_extension(path, ".txt") || has_extension(path, ".tsv"))
        return FORMAT_TEXT;
    return sm_npy_has_magic(path) ? FORMAT_NPY : FORMAT_TEXT;
}

/* Estimators assume finite data; name the first offending cell. */
static int check_finite(const sm_matrix *m, const char *path, sm_status *st)
{
    for (size_t i = 0; i < m->n * m->d; i++) {
        double v = m->data[i];
        if (isfinite(v)) continue;
        const char *what = isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
        return sm_status_fail(st, SM_ERR_DATA, path, "%s at row %zu, column %zu", what, i / m->d + 1,
                              i % m->d + 1);
    }
    return SM_OK;
}

int sm_matrix_load(const char *path, sm_matrix *m, sm_status *st)
{
    *m = (sm_matrix){0};
    int rc = choose_format(path) == FORMAT_NPY ? sm_npy_read(path, &m->data, &m->n, &m->d, st)
                           : sm_csv_read(path, &m->data, &m->n, &m->d, st);
    if (!rc && (m->n == 0 || m->d == 0)) rc = sm_status_fail(st, SM_ERR_DATA, path, "array is empty (%zu x %zu)", m->n, m->d);
    if (!rc) rc = check_finite(m, path, st);
    if (rc) sm_matrix_free(m);
    return rc;
}

int sm_matrix_save_npy(const char *path, const sm_matrix *m, int as_float32, sm_status *st)
{
    const sm_npy_array a = {m->data, SM_NPY_F64, m->n, m->d, 2};
    return sm_npy_write(path, &a, as_float32 ? SM_NPY_F32 : SM_NPY_F64, st);
}

void sm_matrix_free(sm_matrix *m)
{
    sm_mem_free(m->data);
    *m = (sm_matrix){0};
}
