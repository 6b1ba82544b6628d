/* KSG-1 on S² × S² for `make bench` (scripts/bench.sh): the k-NN part of
 * `estimate bound --family vmf` at d = 3, without the command's O(N²)
 * InfoNCE, which would hide it.
 *
 *   ksg_sphere_bench N     prints one JSON line
 *   {"n":N,"d":3,"k":3,"threads":1,"cpu_seconds":best,"mi":…,"h_y_given_x":…}
 *
 * x̂ uniform on S², ŷ = (x̂ + 0.5 g)/‖x̂ + 0.5 g‖ with g standard normal
 * (seed 0).  sm_mi_ksg1 with the block-L2 norm and sphere set: the joint
 * k-NN search under the max of the per-side Euclidean norms, then the counts
 * on each sphere.  One thread; the figure is the least CPU time of REPEATS
 * runs (the first also sizes the workspace): on a shared machine wall time
 * at N = 1e4 (~50 ms) is mostly other processes' time slices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/arena.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "estimators/mi.h"

enum { D = 3, K = 3, REPEATS = 5 };

/* CPU seconds of this process (one thread: its compute time alone). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* v scaled to unit length. */
static void normalise(double *v)
{
    double s = 0.0;
    for (size_t c = 0; c < D; c++) s += v[c] * v[c];
    s = sqrt(s);
    for (size_t c = 0; c < D; c++) v[c] /= s;
}

static void fill_pairs(double *x, double *y, size_t n)
{
    sm_rng rng;
    sm_rng_seed(&rng, 0, 0);
    for (size_t i = 0; i < n; i++) {
        double *xi = x + i * D, *yi = y + i * D;
        for (size_t c = 0; c < D; c++) xi[c] = sm_rng_normal(&rng);
        normalise(xi);
        for (size_t c = 0; c < D; c++) yi[c] = xi[c] + 0.5 * sm_rng_normal(&rng);
        normalise(yi);
    }
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long n = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || n <= K || n > 100000000L) {
        fprintf(stderr, "usage: %s N (%d < N <= 1e8)\n", argv[0], K);
        return 2;
    }
    sm_threads_set(1);

    sm_status st = {0};
    double *x = sm_mem_alloc(2 * (size_t)n * D, sizeof *x, &st);
    if (!x) {
        fprintf(stderr, "ksg_sphere_bench: error: %s\n", st.msg);
        return 1;
    }
    double *y = x + (size_t)n * D;
    fill_pairs(x, y, (size_t)n);

    const sm_mi_opts o = {.k = K, .norm = SM_MI_BLOCK_L2, .sphere = 1};
    sm_ksg1_result r = {0};
    sm_arena ws = {0};
    double best = INFINITY;
    int rc = SM_OK;
    for (int rep = 0; rep < REPEATS && rc == SM_OK; rep++) {
        double t0 = cpu_now();
        rc = sm_mi_ksg1(x, y, (size_t)n, D, D, &o, &r, &ws, &st);
        double seconds = cpu_now() - t0;
        if (seconds < best) best = seconds;
    }
    sm_arena_free(&ws);
    sm_mem_free(x);
    if (rc) {
        fprintf(stderr, "ksg_sphere_bench: error: %s\n", st.msg);
        return 1;
    }
    printf("{\"n\":%ld,\"d\":%d,\"k\":%d,\"threads\":1,\"cpu_seconds\":%.6f,\"mi\":%.12f,"
           "\"h_y_given_x\":%.12f}\n",
           n, D, K, best, r.mi, r.h_y_given_x);
    return 0;
}
