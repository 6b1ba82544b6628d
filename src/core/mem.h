/* Checked allocation.  Sizes are count × size with an overflow check; a
 * failure sets the status and returns NULL.  Memory is zeroed. */
#ifndef SM_CORE_MEM_H
#define SM_CORE_MEM_H

#include <stddef.h>
#include "core/status.h"

void *sm_mem_alloc(size_t count, size_t size, sm_status *st);
/* 64-byte aligned (for sgemm tiles and SIMD loops); free with sm_mem_free. */
void *sm_mem_alloc_aligned(size_t count, size_t size, sm_status *st);
void sm_mem_free(void *p);
/* Is count × size representable?  Writes the product to *out when it is. */
int sm_mem_size_ok(size_t count, size_t size, size_t *out);

#endif
