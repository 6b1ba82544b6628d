#include "core/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int sm_mem_size_ok(size_t count, size_t size, size_t *out)
{
    if (size != 0 && count > SIZE_MAX / size) return 0;
    if (out) *out = count * size;
    return 1;
}

void *sm_mem_alloc(size_t count, size_t size, sm_status *st)
{
    size_t bytes;
    if (!sm_mem_size_ok(count, size, &bytes)) {
        sm_status_fail(st, SM_ERR_DATA, NULL, "allocation size overflows (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = calloc(bytes ? bytes : 1, 1);
    if (!p) sm_status_fail(st, SM_ERR_DATA, NULL, "out of memory (%zu bytes)", bytes);
    return p;
}

void *sm_mem_alloc_aligned(size_t count, size_t size, sm_status *st)
{
    size_t bytes;
    if (!sm_mem_size_ok(count, size, &bytes) || bytes > SIZE_MAX - 64) {
        sm_status_fail(st, SM_ERR_DATA, NULL, "allocation size overflows (%zu x %zu)", count, size);
        return NULL;
    }
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        sm_status_fail(st, SM_ERR_DATA, NULL, "out of memory (%zu bytes)", bytes);
        return NULL;
    }
    memset(p, 0, bytes ? bytes : 64);
    return p;
}

void sm_mem_free(void *p) { free(p); }
