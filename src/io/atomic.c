#include "io/atomic.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What mkstemp makes a temporary's name from: the destination's name and this. */
static const char TMP_SUFFIX[] = ".XXXXXX";

int sm_atomic_open(sm_atomic_file *af, const char *path, sm_status *st)
{
    af->f = NULL;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof af->path)
        return sm_status_fail(st, SM_ERR_DATA, path, "output path is empty or too long");
    memcpy(af->path, path, len + 1);
    snprintf(af->tmp, sizeof af->tmp, "%s%s", path, TMP_SUFFIX);
    int fd = mkstemp(af->tmp);
    if (fd < 0)
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot create file: %s", strerror(errno));
    /* mkstemp makes 0600; results are ordinary files. */
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        return sm_status_fail(st, SM_ERR_DATA, path, "cannot open file: %s", strerror(e));
    }
    return SM_OK;
}

void sm_atomic_abort(sm_atomic_file *af)
{
    if (!af->f) return;
    fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

/* fsync the directory holding path so the rename itself is durable. */
static void sync_parent_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int sm_atomic_commit(sm_atomic_file *af, sm_status *st)
{
    if (!af->f) return sm_status_fail(st, SM_ERR_DATA, af->path, "file is not open");
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    int e = errno;
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->f = NULL;
    if (!bad && rename(af->tmp, af->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(af->tmp);
        return sm_status_fail(st, SM_ERR_DATA, af->path, "write failed: %s", strerror(e));
    }
    sync_parent_dir(af->path);
    return SM_OK;
}

/* mkstemp's suffix: "." and six letters or digits at the end of name; the
 * length of what comes before it, or 0. */
static size_t stale_stem(const char *name)
{
    const size_t len = strlen(name);
    if (len < 8 || name[len - 7] != '.') return 0;
    for (size_t i = len - 6; i < len; i++)
        if (!isalnum((unsigned char)name[i])) return 0;
    return len - 7;
}

/* Whether dir's entry name is one to remove: a temporary of a name ours
 * accepts, or with files_too such a name itself. */
static int removable(const char *name, int (*ours)(const char *name), int files_too)
{
    char stem[256];
    const size_t n = stale_stem(name);
    if (n > 0 && n < sizeof stem) {
        memcpy(stem, name, n);
        stem[n] = '\0';
        if (ours(stem)) return 1;
    }
    return files_too && ours(name);
}

void sm_atomic_remove_stale(const char *dir, int (*ours)(const char *name), int files_too)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (const struct dirent *e; (e = readdir(d));) {
        if (!removable(e->d_name, ours, files_too)) continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

int sm_atomic_write(const char *path, const void *data, size_t n, sm_status *st)
{
    sm_atomic_file af;
    if (sm_atomic_open(&af, path, st)) return st ? st->code : SM_ERR_DATA;
    if (n && fwrite(data, 1, n, af.f) != n) {
        sm_atomic_abort(&af);
        return sm_status_fail(st, SM_ERR_DATA, path, "write failed: %s", strerror(errno));
    }
    return sm_atomic_commit(&af, st);
}

int sm_out_dir_fits(const char *path, size_t longest_name, sm_status *st)
{
    if (!path[0]) return sm_status_fail(st, SM_ERR_DATA, NULL, "empty output path");
    /* path + '/' + name + the temporary's suffix + NUL within the system's 4096 */
    const size_t room = sizeof ((sm_atomic_file *)0)->path - 1 - longest_name - (sizeof TMP_SUFFIX - 1) - 1;
    if (strlen(path) > room)
        return sm_status_fail(st, SM_ERR_DATA, path, "output directory path of %zu bytes is too long: at most %zu, "
                              "for the longest file name written in it (%zu bytes)", strlen(path), room, longest_name);
    return SM_OK;
}

int sm_make_dirs(const char *path, size_t longest_name, sm_status *st)
{
    char p[sizeof ((sm_atomic_file *)0)->path];
    int rc = sm_out_dir_fits(path, longest_name, st);
    if (rc) return rc;
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1;; c++) {
        if (*c != '/' && *c) continue;
        char keep = *c;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            return sm_status_fail(st, SM_ERR_DATA, p, "cannot create directory: %s", strerror(errno));
        *c = keep;
        if (!keep) break;
    }
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sm_status_fail(st, SM_ERR_DATA, p, "output path is not a directory");
    return SM_OK;
}

int sm_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
