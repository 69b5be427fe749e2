/*
 * Data-parallel training across processes (MPI), or a single process.
 *
 * `mpirun -np K nic train ...` starts K copies of nic; each calls
 * cli_dist_init, which joins MPI when the process was started by an MPI
 * launcher (Open MPI, MPICH, Slurm/PMIx variables) and the build has MPI
 * (NIC_HAVE_MPI). Otherwise, and in builds without MPI, it is one process of
 * rank 0 in a world of 1, and every collective below is a no-op: the
 * single-process path runs the same code.
 *
 * All collectives are over every process, called by all of them in the same
 * order (as MPI requires); results are identical on every rank.
 */
#ifndef NIC_CLI_DIST_H
#define NIC_CLI_DIST_H

#include <stddef.h>

typedef struct cli_dist {
    int rank, size;
    int mpi; /* 1 when MPI was initialized here (finalize it) */
} cli_dist;

/* 0 on success; on failure prints why and returns nonzero. */
int cli_dist_init(cli_dist *d);
/* failed != 0 on any rank that failed alone aborts the whole job (MPI_Abort),
 * so no rank waits forever in a collective. */
void cli_dist_finalize(cli_dist *d, int failed);
/* 1 if the build can run data-parallel (MPI compiled in). */
int cli_dist_available(void);

/* In-place elementwise sums over all ranks. */
void cli_dist_sum_floats(const cli_dist *d, float *buf, size_t count);
void cli_dist_sum_doubles(const cli_dist *d, double *buf, size_t count);
/* 1 if flag is nonzero on any rank. */
int cli_dist_any(const cli_dist *d, int flag);
/* Copies rank 0's bytes to every rank. */
void cli_dist_broadcast(const cli_dist *d, void *buf, size_t bytes);

/* The shard of a global batch of n items that rank takes: [*first, *first + *count),
 * sizes differing by at most one. */
void cli_dist_shard(int n, int rank, int size, int *first, int *count);

#endif
