#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct sm_arena_block {
    sm_arena_block *prev;
    size_t start; /* arena offset of data[0] */
    size_t cap;   /* bytes of data */
    size_t top;   /* bytes used in this block */
    _Alignas(64) unsigned char data[];
};

enum { MIN_BLOCK = 1 << 20 };

void *sm_arena_alloc(sm_arena *a, size_t count, size_t size, sm_status *st)
{
    size_t bytes;
    if (!sm_mem_size_ok(count, size, &bytes) || bytes > ((size_t)-1) / 2) {
        sm_status_fail(st, SM_ERR_DATA, NULL, "workspace size overflows (%zu x %zu)", count, size);
        return NULL;
    }
    bytes = (bytes + 63) / 64 * 64;
    sm_arena_block *b = a->head;
    if (!b || b->cap - b->top < bytes) {
        size_t cap = bytes > MIN_BLOCK ? bytes : MIN_BLOCK;
        if (b && cap < 2 * b->cap) cap = 2 * b->cap;
        sm_arena_block *nb = aligned_alloc(64, (sizeof *nb + cap + 63) / 64 * 64);
        if (!nb) {
            sm_status_fail(st, SM_ERR_DATA, NULL, "out of memory (workspace of %zu bytes)", cap);
            return NULL;
        }
        nb->prev = b;
        nb->start = a->used;
        nb->cap = cap;
        nb->top = 0;
        a->head = b = nb;
    }
    void *p = b->data + b->top;
    b->top += bytes;
    a->used = b->start + b->top;
    memset(p, 0, bytes);
    return p;
}

size_t sm_arena_mark(const sm_arena *a) { return a->used; }

void sm_arena_release(sm_arena *a, size_t mark)
{
    if (mark == 0 && a->head) {
        /* Full reset: keep only the newest (largest) block, so a steady
         * workload converges to one block and stops allocating. */
        while (a->head->prev) {
            sm_arena_block *prev = a->head->prev;
            a->head->prev = prev->prev;
            free(prev);
        }
        a->head->start = 0;
    }
    while (a->head && a->head->start > mark) {
        sm_arena_block *prev = a->head->prev;
        free(a->head);
        a->head = prev;
    }
    if (a->head) a->head->top = mark - a->head->start;
    a->used = mark;
}

void sm_arena_free(sm_arena *a)
{
    while (a->head) {
        sm_arena_block *prev = a->head->prev;
        free(a->head);
        a->head = prev;
    }
    a->used = 0;
}
