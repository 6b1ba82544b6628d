/* OpenBLAS sgemm peak for `make bench`: the yardstick the trainer's GFLOP/s
 * are measured against (scripts/bench.sh).
 *
 *   sgemm_peak THREADS     prints one JSON line
 *   {"threads":T,"gflops":best,"n":N_of_best,"by_n":{"512":…,"1024":…,"2048":…}}
 *
 * Square row-major C = A·B for N = 512, 1024, 2048, each timed REPEATS times
 * after one untimed warm-up call (thread start-up, page faults); a size's
 * figure is its fastest repeat, 2·N³ / seconds, and the peak is the best size.
 * Built by the Makefile with the project's flags and linked with OpenBLAS
 * exactly as build/simsiam-mi is, so both use the same sgemm kernels. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/mem.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/threads.h"
#include "core/timer.h"

enum { REPEATS = 5 };

static const int SIZES[] = {512, 1024, 2048};
#define N_SIZES (sizeof SIZES / sizeof *SIZES)

static void fill_uniform(float *x, size_t count, sm_rng *rng)
{
    for (size_t i = 0; i < count; i++) x[i] = (float)(2.0 * sm_rng_uniform(rng) - 1.0);
}

/* Best GFLOP/s of REPEATS timed N × N × N products; a, b, c hold N² floats. */
static double sgemm_gflops(int n, const float *a, const float *b, float *c)
{
    double best = 0;
    for (int r = 0; r <= REPEATS; r++) {
        double t0 = sm_timer_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double seconds = sm_timer_now() - t0;
        double gflops = 2.0 * n * n * (double)n / seconds / 1e9;
        if (r > 0 && gflops > best) best = gflops; /* r = 0 is the warm-up */
    }
    return best;
}

int main(int argc, char **argv)
{
    sm_threads_exec_with_better_blas(argv); /* the kernels the trainer runs (README "Speed") */
    char *end = NULL;
    long threads = argc == 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc != 2 || *end || threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: %s THREADS (1..1024)\n", argv[0]);
        return 2;
    }
    sm_threads_set((int)threads); /* OpenMP and openblas_set_num_threads */

    const size_t most = (size_t)SIZES[N_SIZES - 1] * (size_t)SIZES[N_SIZES - 1];
    sm_status st = {0};
    float *a = sm_mem_alloc_aligned(3 * most, sizeof(float), &st);
    if (!a) {
        fprintf(stderr, "sgemm_peak: error: %s\n", st.msg);
        return 1;
    }
    float *b = a + most, *c = b + most;
    sm_rng rng;
    sm_rng_seed(&rng, 0, 0);
    fill_uniform(a, 2 * most, &rng);

    double gflops[N_SIZES], best = 0;
    int best_n = 0;
    for (size_t i = 0; i < N_SIZES; i++) {
        gflops[i] = sgemm_gflops(SIZES[i], a, b, c);
        if (gflops[i] > best) best = gflops[i], best_n = SIZES[i];
    }
    sm_mem_free(a);

    printf("{\"threads\":%ld,\"gflops\":%.1f,\"n\":%d,\"by_n\":{", threads, best, best_n);
    for (size_t i = 0; i < N_SIZES; i++) printf("%s\"%d\":%.1f", i ? "," : "", SIZES[i], gflops[i]);
    printf("}}\n");
    return 0;
}
