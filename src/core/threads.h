/* Thread setup: one number drives both OpenMP and OpenBLAS. */
#ifndef SM_CORE_THREADS_H
#define SM_CORE_THREADS_H

/* Number of online cores (>= 1). */
int sm_threads_available(void);
/* Use n threads (n <= 0: all cores) for OpenMP regions and OpenBLAS calls. */
void sm_threads_set(int n);
/* Threads currently configured for OpenMP regions. */
int sm_threads_get(void);
/* OpenBLAS's build description (openblas_get_config()), proving which BLAS
 * is linked: GSL's reference CBLAS has no such symbol. */
const char *sm_threads_blas_config(void);

#endif
