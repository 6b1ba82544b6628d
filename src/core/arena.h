/* Workspace: a bump allocator that library functions borrow scratch memory
 * from, so repeated calls (tracking during training) do not hit malloc.
 *
 *   size_t mark = sm_arena_mark(ws);
 *   double *buf = sm_arena_alloc(ws, n, sizeof *buf, st);   // NULL + status on failure
 *   ...
 *   sm_arena_release(ws, mark);                               // frees everything after mark
 *
 * Blocks are never moved, so pointers stay valid until released.  Memory is
 * 64-byte aligned and zeroed.  An sm_arena is plain data: zero-initialise it
 * (sm_arena ws = {0};) and call sm_arena_free when done. */
#ifndef SM_CORE_ARENA_H
#define SM_CORE_ARENA_H

#include <stddef.h>
#include "core/export.h"
#include "core/status.h"

typedef struct sm_arena_block sm_arena_block;

typedef struct {
    sm_arena_block *head; /* newest block */
    size_t used;          /* bytes handed out in total (the mark) */
} sm_arena;

SM_API void *sm_arena_alloc(sm_arena *a, size_t count, size_t size, sm_status *st);
SM_API size_t sm_arena_mark(const sm_arena *a);
SM_API void sm_arena_release(sm_arena *a, size_t mark);
SM_API void sm_arena_free(sm_arena *a);

#endif
