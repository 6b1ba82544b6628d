#include "support/support.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "nn/batchnorm.h"

const char *sm_test_bin(void)
{
    const char *b = getenv("SM_BIN");
    return b && *b ? b : "build/simsiam-mi";
}

const char *sm_test_path(const char *name)
{
    static char ring[8][1024];
    static int next;
    const char *dir = getenv("SM_TMP");
    if (!dir || !*dir) dir = "build/tmp";
    mkdir(dir, 0777);
    char *buf = ring[next++ % 8];
    snprintf(buf, sizeof ring[0], "%s/%s", dir, name);
    return buf;
}

const char *sm_test_blankless_path(const char *name)
{
    static char ring[4][1536];
    static int next;
    char *buf = ring[next++ % 4], cwd[512];
    const char *rel = sm_test_path(name);
    if (rel[0] == '/') snprintf(buf, sizeof ring[0], "%s", rel);
    else snprintf(buf, sizeof ring[0], "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", rel);
    if (strpbrk(buf, " \t\n")) snprintf(buf, sizeof ring[0], "/tmp/simsiam-mi-%ld-%s", (long)getpid(), name);
    return buf;
}

void sm_test_write(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

void sm_test_write_text(const char *path, const char *text) { sm_test_write(path, text, strlen(text)); }

char *sm_test_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (n) *n = len;
    return buf;
}

void sm_test_assert_file_is(const char *path, const char *want, size_t n)
{
    size_t got;
    char *now = sm_test_read(path, &got);
    if (!now) fail_msg("%s is gone", path);
    if (got != n || memcmp(now, want, n) != 0) fail_msg("%s changed (%zu bytes, was %zu)", path, got, n);
    free(now);
}

int sm_test_run(const char *cmd, char **out, char **err)
{
    static int serial;
    char o[64], e[64];
    snprintf(o, sizeof o, "run%d.out", serial);
    snprintf(e, sizeof e, "run%d.err", serial++);
    char opath[1024], epath[1024];
    snprintf(opath, sizeof opath, "%s", sm_test_path(o));
    snprintf(epath, sizeof epath, "%s", sm_test_path(e));
    size_t len = strlen(cmd) + strlen(opath) + strlen(epath) + 64;
    char *full = malloc(len);
    assert_non_null(full);
    snprintf(full, len, "(%s) >'%s' 2>'%s' </dev/null", cmd, opath, epath);
    int rc = system(full);
    free(full);
    if (out) *out = sm_test_read(opath, NULL);
    if (err) *err = sm_test_read(epath, NULL);
    remove(opath);
    remove(epath);
    if (rc == -1 || !WIFEXITED(rc)) return -1;
    return WEXITSTATUS(rc);
}

int sm_test_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

int sm_test_have_python(const char *module)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import %s' >/dev/null 2>&1", module);
    return system(cmd) == 0;
}

int sm_test_slow(void)
{
    const char *v = getenv("SM_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

void sm_test_check_gradient(double (*objective)(const void *ctx), const void *ctx, double *v,
                            size_t n, const float *analytic, double tol)
{
    const double h = 1e-3;
    double *fd = malloc((n ? n : 1) * sizeof *fd), scale = 0.0;
    assert_non_null(fd);
    for (size_t i = 0; i < n; i++) {
        double keep = v[i];
        v[i] = keep + h;
        double up = objective(ctx);
        v[i] = keep - h;
        double down = objective(ctx);
        v[i] = keep;
        fd[i] = (up - down) / (2.0 * h);
        scale = fmax(scale, fabs(fd[i]));
    }
    assert_true(scale > 0.1);
    for (size_t i = 0; i < n; i++)
        if (!(fabs(analytic[i] - fd[i]) <= tol * scale)) /* NaN fails too */
            fail_msg("gradient %zu: analytic %.9g, finite difference %.9g", i, analytic[i], fd[i]);
    free(fd);
}

/* "'<bin>' args", malloc'd. */
static char *cli_command(const char *args)
{
    size_t len = strlen(sm_test_bin()) + strlen(args) + 8;
    char *cmd = malloc(len);
    assert_non_null(cmd);
    snprintf(cmd, len, "'%s' %s", sm_test_bin(), args);
    return cmd;
}

int sm_test_cli(const char *args, char **out, char **err)
{
    char *cmd = cli_command(args);
    int rc = sm_test_run(cmd, out, err);
    free(cmd);
    return rc;
}

void sm_test_doc_table(const char *name)
{
    char cmd[4200], *err;
    snprintf(cmd, sizeof cmd, "scripts/readme-table.sh %s '%s' --check", name, sm_test_bin());
    int rc = sm_test_run(cmd, NULL, &err);
    if (rc) fprintf(stderr, "%s", err);
    free(err);
    assert_int_equal(rc, 0);
}

void sm_test_run_error(const char *cmd, int rc, const char *needle1, const char *needle2)
{
    char *out, *err;
    int got = sm_test_run(cmd, &out, &err);
    if (got != rc) fprintf(stderr, "command: %s\nstderr: %s", cmd, err);
    assert_int_equal(got, rc);
    assert_string_equal(out, "");
    assert_int_equal(sm_test_lines(err), 1);
    assert_true(strncmp(err, "simsiam-mi: error: ", 19) == 0);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2))) fail_msg("stderr: %s", err);
    free(out);
    free(err);
}

pid_t sm_test_cli_start(const char *args, const char *out, const char *err, long fsize)
{
    char *cmd = cli_command(args), *full = malloc(strlen(cmd) + 8);
    assert_non_null(full);
    sprintf(full, "exec %s", cmd);
    free(cmd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        free(full);
        return pid;
    }
    struct rlimit lim = {(rlim_t)fsize, (rlim_t)fsize};
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
        (fsize >= 0 && (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &lim) != 0)))
        _exit(126);
    execl("/bin/sh", "sh", "-c", full, (char *)NULL);
    _exit(127);
}

int sm_test_cli_wait(pid_t pid)
{
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void sm_test_cli_error(const char *args, int rc, const char *needle1, const char *needle2)
{
    char *cmd = cli_command(args);
    sm_test_run_error(cmd, rc, needle1, needle2);
    free(cmd);
}

const char *sm_test_memory_cap(void)
{
    static const char cap[] = "ulimit -v 1000000 && export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 && ";
    static int usable = -1;
    if (usable < 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "%stimeout 60 '%s' --help >/dev/null", cap, sm_test_bin());
        usable = sm_test_run(cmd, NULL, NULL) == 0;
        if (!usable) print_message("NOTE: %s does not start under ulimit -v: memory use not capped\n", sm_test_bin());
    }
    return usable ? cap : "";
}

double sm_test_json_number(const char *line, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":", key);
    const char *p = strstr(line, needle);
    return p ? strtod(p + strlen(needle), NULL) : NAN;
}

const char *sm_test_dir(const char *name)
{
    const char *dir = sm_test_path(name);
    mkdir(dir, 0777);
    return dir;
}

void sm_test_write_idx(const char *path, int ndims, const uint32_t *dims, const uint8_t *data, size_t n)
{
    uint8_t *b = malloc(4 + 4 * (size_t)ndims + n);
    assert_non_null(b);
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)ndims;
    for (int d = 0; d < ndims; d++)
        for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
    memcpy(b + 4 + 4 * ndims, data, n);
    sm_test_write(path, b, 4 + 4 * (size_t)ndims + n);
    free(b);
}

const char *sm_test_write_mnist_dir(const char *name, uint32_t n, uint32_t side)
{
    const char *dir = sm_test_dir(name);
    const size_t size = (size_t)side * side;
    uint8_t *pix = malloc(n * size), *lab = malloc(n);
    assert_non_null(pix);
    assert_non_null(lab);
    const char *splits[2] = {"train", "t10k"};
    for (int s = 0; s < 2; s++) {
        for (uint32_t i = 0; i < n; i++) {
            lab[i] = (uint8_t)((i + 100 * s) % 10);
            for (size_t j = 0; j < size; j++) pix[i * size + j] = (uint8_t)(i + 100 * s + j);
        }
        char file[64];
        const uint32_t dims[3] = {n, side, side};
        snprintf(file, sizeof file, "%s-images-idx3-ubyte", splits[s]);
        sm_test_write_idx(sm_test_join(dir, file), 3, dims, pix, n * size);
        snprintf(file, sizeof file, "%s-labels-idx1-ubyte", splits[s]);
        sm_test_write_idx(sm_test_join(dir, file), 1, &n, lab, n);
    }
    free(pix);
    free(lab);
    return dir;
}

const char *sm_test_join(const char *dir, const char *name)
{
    static char buf[4][2048];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

void sm_test_deep_path(char *out, size_t cap, const char *base, size_t length)
{
    size_t n = (size_t)snprintf(out, cap, "%s", base);
    assert_true(n + 2 <= length && length < cap);
    while (n < length) {
        out[n++] = '/';
        size_t part = length - n < 200 ? length - n : 200;
        if (length - n - part == 1) part--; /* never a last component of 0 bytes */
        memset(out + n, 'd', part);
        n += part;
    }
    out[n] = '\0';
}

float *sm_test_floats(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

void sm_test_fill_uniform(float *a, size_t n, sm_rng *rng, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)(lo + (hi - lo) * sm_rng_uniform(rng));
}

void sm_test_apply_grad_map(const sm_grad_map *gm, size_t n, size_t c, size_t hw, const float *dy, float *dx)
{
    for (size_t i = 0; i < n * c * hw; i++) {
        const size_t j = i / hw % c;
        const float xc = gm->x[i] - gm->map.mean[j];
        const float kept = xc * gm->map.scale[j] + gm->map.shift[j];
        const float g = gm->map.relu && !(kept > 0.0f) ? 0.0f : dy[i];
        dx[i] = gm->a[j] * g + gm->b[j] * xc + gm->d[j];
    }
}

sm_grad_map sm_test_random_grad_map(size_t c, const float *x, int relu, sm_rng *rng, float *stored)
{
    sm_test_fill_uniform(stored, c, rng, 0.5, 1.5);              /* mean */
    sm_test_fill_uniform(stored + c, c, rng, 0.5, 2.0);          /* scale */
    sm_test_fill_uniform(stored + 2 * c, c, rng, -0.5, 0.5);     /* shift */
    sm_test_fill_uniform(stored + 3 * c, 3 * c, rng, -1.0, 1.0); /* a, b, d */
    return sm_batchnorm_grad_map(c, relu, stored, x);
}

double *sm_test_to_double(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++) d[i] = a[i];
    return d;
}

int sm_test_count_temporaries(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    assert_non_null(slash);
    *slash = '\0';
    const char *base = slash + 1;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, base, blen) == 0 && e->d_name[blen] == '.') n++;
    closedir(d);
    return n;
}
