/* Little-endian integers in byte buffers, independent of the host's byte
 * order (.npy headers and checkpoints are little-endian on disk). */
#ifndef SM_IO_LE_H
#define SM_IO_LE_H

#include <stddef.h>
#include <stdint.h>

/* The unsigned integer of `bytes` (<= 8) bytes at p, least significant first. */
static inline uint64_t sm_le_load(const unsigned char *p, size_t bytes)
{
    uint64_t v = 0;
    for (size_t k = bytes; k-- > 0;) v = v << 8 | p[k];
    return v;
}

/* Store the low `bytes` (<= 8) bytes of v at p, least significant first. */
static inline void sm_le_store(unsigned char *p, uint64_t v, size_t bytes)
{
    for (size_t k = 0; k < bytes; k++, v >>= 8) p[k] = (unsigned char)(v & 0xff);
}

#endif
