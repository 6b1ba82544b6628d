/* MPI_COMM_WORLD as the run's processes (see dist/dist.h); linked into
 * build/simsiam-mi-mpi only.  MPI's default error handler stays
 * (MPI_ERRORS_ARE_FATAL): a process that dies makes mpirun or srun end the
 * others instead of leaving them blocked in a collective.
 *
 * Two environment variables, for tests and benchmarks:
 *   SM_DIST_FAULT=R:N  rank R kills itself (SIGKILL) at its N-th gradient
 *                      allreduce (sm_dist_sum_f32: one per optimizer step),
 *                      to test that the others then exit rather than hang;
 *   SM_DIST_STATS=1    at sm_dist_finalize rank 0 prints one line on stderr:
 *                      "dist: ranks R allreduce_ms A (N calls) allgather_ms G (M calls)",
 *                      A and G the mean wall milliseconds per call (waiting
 *                      for the slowest rank included). */
#include "dist/dist.h"

#include <limits.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static int fault_rank = -1, fault_signal = SIGKILL;
static long fault_call, sum_calls;
static double sum_seconds, gather_seconds;
static long gather_calls;
static int local_size = 1;

static void read_fault(void)
{
    const char *s = getenv("SM_DIST_FAULT"); /* R:N[:SIGNAL], SIGKILL by default */
    if (s && sscanf(s, "%d:%ld:%d", &fault_rank, &fault_call, &fault_signal) < 2) fault_rank = -1;
}

void sm_dist_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    read_fault();
    /* the ranks that share this machine's memory, counted once: the split is collective */
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
}

void sm_dist_finalize(void)
{
    const char *stats = getenv("SM_DIST_STATS");
    if (stats && *stats && sm_dist_rank() == 0)
        fprintf(stderr, "dist: ranks %d allreduce_ms %.4f (%ld calls) allgather_ms %.4f (%ld calls)\n",
                sm_dist_size(), sum_calls ? 1e3 * sum_seconds / (double)sum_calls : 0.0, sum_calls,
                gather_calls ? 1e3 * gather_seconds / (double)gather_calls : 0.0, gather_calls);
    MPI_Finalize();
}

int sm_dist_parallel_build(void) { return 1; }

void sm_dist_abort(int code)
{
    if (sm_dist_size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int sm_dist_rank(void)
{
    int r;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int sm_dist_size(void)
{
    int s;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

int sm_dist_local_size(void) { return local_size; }

/* MPI counts are int: larger buffers go in chunks. */
static void sum_in_place(void *v, size_t n, size_t elem, MPI_Datatype type)
{
    for (size_t done = 0; done < n;) {
        size_t k = n - done < (size_t)INT_MAX ? n - done : (size_t)INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, (char *)v + done * elem, (int)k, type, MPI_SUM, MPI_COMM_WORLD);
        done += k;
    }
}

void sm_dist_sum_f32(float *v, size_t n)
{
    if (++sum_calls == fault_call && sm_dist_rank() == fault_rank) raise(fault_signal);
    double t0 = MPI_Wtime();
    sum_in_place(v, n, sizeof *v, MPI_FLOAT);
    sum_seconds += MPI_Wtime() - t0;
}

void sm_dist_sum_f64(double *v, size_t n) { sum_in_place(v, n, sizeof *v, MPI_DOUBLE); }

/* The gathers carry per-channel sums and one batch's z rows: far below
 * INT_MAX elements; a larger one is a bug, and stops the run. */
static void gather(const void *v, size_t n, MPI_Datatype type, void *all)
{
    if (n > (size_t)INT_MAX / (size_t)sm_dist_size()) {
        fprintf(stderr, "simsiam-mi: error: allgather of %zu values is too large for MPI\n", n);
        MPI_Abort(MPI_COMM_WORLD, 1); /* a bug: every rank stops, whatever their count */
    }
    double t0 = MPI_Wtime();
    MPI_Allgather(v, (int)n, type, all, (int)n, type, MPI_COMM_WORLD);
    gather_seconds += MPI_Wtime() - t0;
    gather_calls++;
}

void sm_dist_allgather_f64(const double *v, size_t n, double *all) { gather(v, n, MPI_DOUBLE, all); }
void sm_dist_allgather_f32(const float *v, size_t n, float *all) { gather(v, n, MPI_FLOAT, all); }

void sm_dist_broadcast(void *buf, size_t bytes)
{
    for (size_t done = 0; done < bytes;) {
        size_t k = bytes - done < (size_t)INT_MAX ? bytes - done : (size_t)INT_MAX;
        MPI_Bcast((char *)buf + done, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
        done += k;
    }
}

int sm_dist_any(int flag)
{
    int any = flag != 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    return any;
}
