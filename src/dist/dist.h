/* The processes of a data-parallel training run (docs/design.md §6) and the
 * few collectives the trainer and SyncBN need.  One interface, two builds:
 *   dist.c          one process (rank 0 of 1, every collective the
 *                   identity), in libsimsiam.a and so in build/simsiam-mi,
 *                   which never depends on MPI;
 *   mpi/dist_mpi.c  MPI_COMM_WORLD, linked into build/simsiam-mi-mpi only,
 *                   ahead of the library, so its definitions win and dist.o
 *                   is never pulled from the archive.
 * Every process must make the same collective calls in the same order.
 * Results are the same bits on every process. */
#ifndef SM_DIST_DIST_H
#define SM_DIST_DIST_H

#include <stddef.h>

/* Join the run (MPI_Init); once, before any other call. */
void sm_dist_init(int *argc, char ***argv);
/* Leave it after a successful run (MPI_Finalize). */
void sm_dist_finalize(void);
/* End every process of the run with exit code `code` (MPI_Abort: the others
 * may be waiting in a collective for this one); it does not return then.
 * With one process there is nothing to end: it returns, and the caller
 * (the CLI, the only code that exits) returns its code as usual. */
void sm_dist_abort(int code);

int sm_dist_rank(void);
int sm_dist_size(void);
/* 1 in build/simsiam-mi-mpi, whose train runs data-parallel under mpirun;
 * 0 in the one-process build. */
int sm_dist_parallel_build(void);
/* The processes of the run on this machine, this one included: they share
 * its cores (threads = 0 divides them among these). */
int sm_dist_local_size(void);

/* v[0..n) := the sum of every process's v (in place). */
void sm_dist_sum_f32(float *v, size_t n);
void sm_dist_sum_f64(double *v, size_t n);
/* all[r·n .. r·n+n) := process r's v, for every rank r. */
void sm_dist_allgather_f64(const double *v, size_t n, double *all);
void sm_dist_allgather_f32(const float *v, size_t n, float *all);
/* buf := rank 0's buf. */
void sm_dist_broadcast(void *buf, size_t bytes);
/* Is flag nonzero on any process? */
int sm_dist_any(int flag);

#endif
