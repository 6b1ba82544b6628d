/* Thread setup: one number drives both OpenMP and OpenBLAS. */
#ifndef SM_CORE_THREADS_H
#define SM_CORE_THREADS_H
#include "core/export.h"

/* Number of online cores (>= 1). */
SM_API int sm_threads_available(void);
/* The most threads sm_threads_set gives (the `threads` key's maximum):
 * libgomp crashes when it cannot start the threads it is asked for. */
#define SM_THREADS_MAX 4096
/* Use n threads (n <= 0: all cores; more than SM_THREADS_MAX: that many)
 * for OpenMP regions and OpenBLAS calls. */
SM_API void sm_threads_set(int n);
/* The threads each of `processes` processes on this machine should use for
 * a `threads` setting: threads itself when positive; for 0 ("all cores")
 * the cores shared among the processes, at least 1 each. */
SM_API int sm_threads_share(long threads, int processes);
/* Threads currently configured for OpenMP regions. */
SM_API int sm_threads_get(void);
/* OpenBLAS's build description (openblas_get_config()), proving which BLAS
 * is linked: GSL's reference CBLAS has no such symbol. */
SM_API const char *sm_threads_blas_config(void);

/* The kernel family OpenBLAS runs (openblas_get_corename(): "Haswell",
 * "SkylakeX", "Prescott", ...). */
SM_API const char *sm_threads_blas_core(void);

/* The kernel family OpenBLAS should have picked when it fell back to its
 * generic "Prescott" kernels on a CPU its CPUID table does not know (seen on
 * virtual "Intel Xeon Processor" CPUs with AVX-512: sgemm ~2.3x slower):
 * "SkylakeX" with AVX-512 F/DQ/BW/VL (avx512), "Haswell" with AVX2 and FMA
 * (avx2_fma); NULL when `chosen` (OpenBLAS's corename) stands.  OpenBLAS
 * reads OPENBLAS_CORETYPE once, when it is loaded, so only a new process
 * can use the answer (src/cli/main.c). */
SM_API const char *sm_threads_better_core(const char *chosen, int avx512, int avx2_fma);
/* sm_threads_better_core for this process's OpenBLAS and CPU. */
SM_API const char *sm_threads_blas_better_core(void);

/* For a program's main() only: run the program again (execv of
 * /proc/self/exe with argv) with OPENBLAS_CORETYPE set to the better core
 * above, if there is one and the user has not set OPENBLAS_CORETYPE; returns
 * (with the slow kernels) when there is none or the exec fails. */
SM_API void sm_threads_exec_with_better_blas(char **argv);

#endif
