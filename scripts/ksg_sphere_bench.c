/* KSG-1 on S² × S² for `make bench` (scripts/bench.sh): the k-NN part of
 * `estimate bound --family vmf` at d = 3, without the command's O(N²)
 * InfoNCE, which would hide it.
 *
 *   ksg_sphere_bench N1 N2     prints one JSON line
 *   {"n1":N1,"n2":N2,"d":3,"k":3,"threads":1,"cpu_seconds_1":best,"cpu_seconds_2":best,
 *    "growth":median of t2/t1,"mi":… at N2,"h_y_given_x":… at N2}
 *
 * x̂ uniform on S², ŷ = (x̂ + 0.5 g)/‖x̂ + 0.5 g‖ with g standard normal
 * (seed 0; the N1 pairs are the first N1 of the N2).  sm_mi_ksg1 with the
 * block-L2 norm and sphere set: the joint k-NN search under the max of the
 * per-side Euclidean norms, then the counts on each sphere.  One thread,
 * CPU time (on a shared machine wall time at N = 1e4, ~50 ms, is mostly
 * other processes' time slices).  The two sizes take turns for ROUNDS
 * rounds (one untimed before, which also sizes the workspace), and the
 * growth is the median of the rounds' ratios: the host's speed drifts over
 * seconds (three back-to-back runs of the two sizes one after the other
 * read 19.3, 11.7 and 19.0 on 2026-12-06), and a ratio of two sizes timed
 * seconds apart measured the drift. */
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

enum { D = 3, K = 3, ROUNDS = 7 };

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

/* CPU seconds of one sm_mi_ksg1 call on the first n pairs. */
static double timed_ksg1(const double *x, const double *y, size_t n, const sm_mi_opts *o, sm_ksg1_result *r,
                         sm_arena *ws, sm_status *st, int *rc)
{
    const double t0 = cpu_now();
    *rc = sm_mi_ksg1(x, y, n, D, D, o, r, ws, st);
    return cpu_now() - t0;
}

static int compare_doubles(const void *a, const void *b)
{
    const double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* A size argument, or 0 unless it is a whole number in (K, 1e8]. */
static long size_arg(const char *arg)
{
    char *end = NULL;
    long n = strtol(arg, &end, 10);
    return *end || n <= K || n > 100000000L ? 0 : n;
}

int main(int argc, char **argv)
{
    const long n1 = argc == 3 ? size_arg(argv[1]) : 0, n2 = argc == 3 ? size_arg(argv[2]) : 0;
    if (!n1 || !n2 || n1 >= n2) {
        fprintf(stderr, "usage: %s N1 N2 (%d < N1 < N2 <= 1e8)\n", argv[0], K);
        return 2;
    }
    sm_threads_set(1);

    sm_status st = {0};
    double *x = sm_mem_alloc(2 * (size_t)n2 * D, sizeof *x, &st);
    if (!x) {
        fprintf(stderr, "ksg_sphere_bench: error: %s\n", st.msg);
        return 1;
    }
    double *y = x + (size_t)n2 * D;
    fill_pairs(x, y, (size_t)n2);

    const sm_mi_opts o = {.k = K, .norm = SM_MI_BLOCK_L2, .sphere = 1};
    sm_ksg1_result r1 = {0}, r2 = {0};
    sm_arena ws = {0};
    double best1 = INFINITY, best2 = INFINITY, ratio[ROUNDS];
    int rc = SM_OK;
    for (int round = -1; round < ROUNDS && rc == SM_OK; round++) {
        const double t1 = timed_ksg1(x, y, (size_t)n1, &o, &r1, &ws, &st, &rc);
        if (rc) break;
        const double t2 = timed_ksg1(x, y, (size_t)n2, &o, &r2, &ws, &st, &rc);
        if (round < 0) continue; /* the untimed round */
        best1 = t1 < best1 ? t1 : best1;
        best2 = t2 < best2 ? t2 : best2;
        ratio[round] = t2 / t1;
    }
    sm_arena_free(&ws);
    sm_mem_free(x);
    if (rc) {
        fprintf(stderr, "ksg_sphere_bench: error: %s\n", st.msg);
        return 1;
    }
    qsort(ratio, ROUNDS, sizeof *ratio, compare_doubles);
    printf("{\"n1\":%ld,\"n2\":%ld,\"d\":%d,\"k\":%d,\"threads\":1,\"cpu_seconds_1\":%.6f,"
           "\"cpu_seconds_2\":%.6f,\"growth\":%.3f,\"mi\":%.12f,\"h_y_given_x\":%.12f}\n",
           n1, n2, D, K, best1, best2, ratio[ROUNDS / 2], r2.mi, r2.h_y_given_x);
    return 0;
}
