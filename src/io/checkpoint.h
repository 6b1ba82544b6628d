/* Checkpoints: a versioned binary file of named sections, written atomically.
 *
 * The module is generic: it knows no section by name.  The layout of a
 * training run's checkpoint (which sections, in which order, what each
 * holds) is src/simsiam/state.h's alone (docs/design.md §4 checkpoint.bin).
 *
 * File format, version 1.  Every integer is little-endian whatever the host;
 * values are stored bit for bit (f32 as its IEEE-754 bits, so -0.0, NaN
 * payloads and denormals survive a round trip exactly):
 *
 *   8 bytes   magic "SSMICKPT"
 *   u32       format version (1)
 *   u32       section count (at most SM_CKPT_MAX_SECTIONS)
 *   sections, each:
 *     u32     name length (1 to SM_CKPT_NAME_MAX)
 *     bytes   name: letters, digits and "_-./:", no terminator
 *     u32     type tag (sm_ckpt_type)
 *     u64     payload length in bytes (a multiple of the element size)
 *     bytes   payload: bytes as is; text without a terminator (no NUL
 *             inside); f32 as 4-byte and u64 as 8-byte little-endian
 *             elements
 *   u32       CRC-32 (zlib's crc32) of every byte before it
 *
 * Reading checks the whole file before returning anything.  While streaming,
 * only what parsing needs: the magic, the version, the section count limit,
 * that every field and payload lies inside the file (a payload length
 * reaching past the end means "truncated or corrupt"), that the file ends
 * exactly with the checksum, then the checksum itself.  Only once the
 * checksum matches: names (valid, no duplicates), type tags, payload lengths
 * (whole values) and text without NUL bytes.  So damage to a payload, a
 * name or a type tag reads as "checksum mismatch: file is corrupt"; damage
 * to the magic, version or a length reads as the inconsistency it causes.
 * Every failure is SM_ERR_DATA with a one-line message naming the file.
 *
 *   sm_ckpt_writer *w = sm_ckpt_writer_alloc(st);
 *   if (!w || sm_ckpt_add_text(w, "config", text, st) ||
 *       sm_ckpt_add_f32(w, "params", params, n_params, st) ||
 *       sm_ckpt_write(path, w, st)) { sm_ckpt_writer_free(w); return st->code; }
 *   sm_ckpt_writer_free(w);
 *
 *   sm_ckpt *c;
 *   const float *p;
 *   if (sm_ckpt_read(path, &c, st)) return st->code;
 *   if (sm_ckpt_get_f32(c, "params", n_params, &p, st)) { sm_ckpt_free(c); return st->code; }
 *   memcpy(params, p, n_params * sizeof *p);
 *   sm_ckpt_free(c);
 */
#ifndef SM_IO_CHECKPOINT_H
#define SM_IO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

#define SM_CKPT_MAGIC "SSMICKPT"
#define SM_CKPT_VERSION 1u
#define SM_CKPT_NAME_MAX 64
#define SM_CKPT_MAX_SECTIONS 1024

/* Section types; the values are the type tags in the file. */
typedef enum {
    SM_CKPT_BYTES = 1,
    SM_CKPT_F32 = 2,
    SM_CKPT_U64 = 3,
    SM_CKPT_TEXT = 4
} sm_ckpt_type;

/* ------------------------------------------------------------------------ */
/* Writing: collect sections in memory, then write them in one atomic step. */

typedef struct sm_ckpt_writer sm_ckpt_writer;

sm_ckpt_writer *sm_ckpt_writer_alloc(sm_status *st);
void sm_ckpt_writer_free(sm_ckpt_writer *w);

/* Each add COPIES its data, so the caller's buffers may change as soon as it
 * returns.  Sections are written in the order added.  An invalid name (see
 * the format), a name added twice or more than SM_CKPT_MAX_SECTIONS sections
 * are SM_ERR_USAGE; running out of memory is SM_ERR_DATA.  values may be
 * NULL when n is 0. */
int sm_ckpt_add_text(sm_ckpt_writer *w, const char *name, const char *text, sm_status *st);
int sm_ckpt_add_f32(sm_ckpt_writer *w, const char *name, const float *values, size_t n,
                    sm_status *st);
int sm_ckpt_add_u64(sm_ckpt_writer *w, const char *name, const uint64_t *values, size_t n,
                    sm_status *st);
int sm_ckpt_add_bytes(sm_ckpt_writer *w, const char *name, const void *data, size_t n,
                      sm_status *st);

/* Write every section to path through src/io/atomic.h (temporary file, fsync,
 * rename): on any failure the file already at path is left as it was. */
int sm_ckpt_write(const char *path, const sm_ckpt_writer *w, sm_status *st);

/* ------------------------------------------------------------------------ */
/* Reading: load and verify the whole file, then look sections up by name.  */

typedef struct sm_ckpt sm_ckpt;

/* On failure *ckpt = NULL. */
int sm_ckpt_read(const char *path, sm_ckpt **ckpt, sm_status *st);
void sm_ckpt_free(sm_ckpt *c);

/* Does the checkpoint hold a section of this name (of any type)? */
int sm_ckpt_has(const sm_ckpt *c, const char *name);

/* The getters fail (SM_ERR_DATA, message naming the section and the file)
 * when the section is missing or of another type; the f32 and u64 getters
 * also when it does not hold exactly expected_count values, e.g.
 * "checkpoint section 'params' has 1000 values, expected 1200 (PATH)", so a
 * checkpoint of another architecture is refused.  Pointers stay valid until
 * sm_ckpt_free; arrays are 64-byte aligned. */
int sm_ckpt_get_f32(const sm_ckpt *c, const char *name, size_t expected_count,
                    const float **values, sm_status *st);
int sm_ckpt_get_u64(const sm_ckpt *c, const char *name, size_t expected_count,
                    const uint64_t **values, sm_status *st);
/* NUL-terminated. */
int sm_ckpt_get_text(const sm_ckpt *c, const char *name, const char **text, sm_status *st);
int sm_ckpt_get_bytes(const sm_ckpt *c, const char *name, const void **data, size_t *n,
                      sm_status *st);

#endif
