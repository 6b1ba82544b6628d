/* Atomic file writes: every result file, CSV and checkpoint goes through here.
 *
 * Data are written to a temporary file in the destination's directory, then
 * flushed, fsync'd and renamed over the destination (and the directory is
 * fsync'd), so a reader sees either the old complete file or the new complete
 * one, and a failure never destroys what was already written.
 *
 *   sm_atomic_file af;
 *   if (sm_atomic_open(&af, path, st)) return st->code;
 *   fprintf(af.f, ...);
 *   return sm_atomic_commit(&af, st);     // or sm_atomic_abort(&af) on error
 */
#ifndef SM_IO_ATOMIC_H
#define SM_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>
#include "core/status.h"

typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4096 + 16];
} sm_atomic_file;

int sm_atomic_open(sm_atomic_file *af, const char *path, sm_status *st);
/* Flush, fsync, close, rename; on any failure the temporary is removed and
 * the destination is left as it was. */
int sm_atomic_commit(sm_atomic_file *af, sm_status *st);
/* Close and remove the temporary; the destination is untouched. */
void sm_atomic_abort(sm_atomic_file *af);
/* Whole buffer in one call. */
int sm_atomic_write(const char *path, const void *data, size_t n, sm_status *st);

/* Remove the temporaries of writes that never ended (a process killed
 * between sm_atomic_open and its rename leaves "<name>.XXXXXX"): the files of
 * dir named <name> + "." + mkstemp's six letters or digits, for the names
 * ours accepts; with files_too the files of those names as well (a run
 * replacing another's).  For the one process that writes dir, before it
 * writes (a second writer's temporary would go too).  Failures are
 * ignored: a leftover is litter, not data. */
void sm_atomic_remove_stale(const char *dir, int (*ours)(const char *name), int files_too);

/* An output directory as `mkdir -p` makes it: every missing component of
 * path created; SM_ERR_DATA naming the component that cannot be, or path
 * when it is not a directory.  longest_name is the longest file name the
 * caller will write in it: a path too long for path/name is refused before
 * any directory is made. */
int sm_make_dirs(const char *path, size_t longest_name, sm_status *st);
/* sm_make_dirs' first check alone: SM_ERR_DATA when path is empty or too
 * long for path/name's temporary, for a command that checks before its work. */
int sm_out_dir_fits(const char *path, size_t longest_name, sm_status *st);

/* 1 when paths a and b name one existing file or directory (the same
 * device and inode), so that a command can refuse to write over its input. */
int sm_same_file(const char *a, const char *b);

#endif
