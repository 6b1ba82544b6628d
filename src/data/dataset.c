#include "data/dataset.h"

#include <assert.h>
#include <string.h>

#include "core/mem.h"

int sm_dataset_alloc(sm_dataset *ds, size_t n, size_t c, size_t h, size_t w, size_t classes, sm_status *st)
{
    memset(ds, 0, sizeof *ds);
    size_t plane, image;
    if (!sm_mem_size_ok(h, w, &plane) || !sm_mem_size_ok(c, plane, &image))
        return sm_status_fail(st, SM_ERR_DATA, NULL, "image size overflows (%zu x %zu x %zu)", c, h, w);
    uint8_t *pixels = sm_mem_alloc(n, image, st);
    uint8_t *labels = pixels ? sm_mem_alloc(n, 1, st) : NULL;
    if (!labels) {
        sm_mem_free(pixels);
        return SM_ERR_DATA;
    }
    *ds = (sm_dataset){.pixels = pixels, .labels = labels, .n = n, .c = c, .h = h, .w = w, .classes = classes};
    return SM_OK;
}

void sm_dataset_free(sm_dataset *ds)
{
    sm_mem_free(ds->pixels);
    sm_mem_free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

size_t sm_dataset_image_size(const sm_dataset *ds) { return ds->c * ds->h * ds->w; }

void sm_dataset_gather(const sm_dataset *ds, const size_t *idx, size_t count, float *out)
{
    size_t size = sm_dataset_image_size(ds);
    for (size_t k = 0; k < count; k++) {
        assert(idx[k] < ds->n);
        const uint8_t *src = ds->pixels + idx[k] * size;
        float *dst = out + k * size;
        for (size_t j = 0; j < size; j++) dst[j] = (float)src[j] / 255.0f;
    }
}
