#include "core/threads.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OpenBLAS's own API (declared in its cblas.h, which we keep out of core). */
void openblas_set_num_threads(int num_threads);
char *openblas_get_config(void);
char *openblas_get_corename(void);

int sm_threads_available(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void sm_threads_set(int n)
{
    if (n <= 0) n = sm_threads_available();
    if (n > SM_THREADS_MAX) n = SM_THREADS_MAX;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int sm_threads_share(long threads, int processes)
{
    if (threads > 0) return (int)threads;
    const int each = sm_threads_available() / (processes > 0 ? processes : 1);
    return each > 0 ? each : 1;
}

int sm_threads_get(void) { return omp_get_max_threads(); }

const char *sm_threads_blas_config(void) { return openblas_get_config(); }

const char *sm_threads_blas_core(void) { return openblas_get_corename(); }

const char *sm_threads_better_core(const char *chosen, int avx512, int avx2_fma)
{
    if (strcmp(chosen, "Prescott") != 0) return NULL;
    if (avx512) return "SkylakeX";
    return avx2_fma ? "Haswell" : NULL;
}

const char *sm_threads_blas_better_core(void)
{
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    const int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return sm_threads_better_core(sm_threads_blas_core(), avx512, avx2_fma);
}

void sm_threads_exec_with_better_blas(char **argv)
{
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : sm_threads_blas_better_core();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
}
