#include "cli/dist.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef NIC_HAVE_MPI
#include <mpi.h>
#endif

void cli_dist_shard(int n, int rank, int size, int *first, int *count)
{
    int base = n / size, extra = n % size;
    *count = base + (rank < extra ? 1 : 0);
    *first = rank * base + (rank < extra ? rank : extra);
}

int cli_dist_available(void)
{
#ifdef NIC_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

/* Launchers announce themselves in the environment; without one, MPI_Init
 * would make a singleton world (and with Open MPI spawn a daemon): skip it. */
static int launched_by_mpi(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                 "MPI_LOCALNRANKS", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int cli_dist_init(cli_dist *d)
{
    d->rank = 0;
    d->size = 1;
    d->mpi = 0;
    if (!launched_by_mpi())
        return 0;
#ifdef NIC_HAVE_MPI
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "nic: error: MPI_Init failed\n");
        return 1;
    }
    d->mpi = !inited;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    return 0;
#else
    if (getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1) {
        fprintf(stderr, "nic: error: started by mpirun, but this nic was built without MPI "
                        "(install libopenmpi-dev and rebuild; see docs/TRAINING.md)\n");
        return 1;
    }
    return 0;
#endif
}

void cli_dist_finalize(cli_dist *d, int failed)
{
#ifdef NIC_HAVE_MPI
    if (d->size > 1 && failed)
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (d->mpi)
        MPI_Finalize();
#endif
    (void)failed;
    d->mpi = 0;
}

#ifdef NIC_HAVE_MPI
/* MPI counts are int: large buffers go in pieces. */
#define CHUNK (INT_MAX / 8)
#endif

#ifdef NIC_HAVE_MPI
static void sum_in_place(const cli_dist *d, void *buf, size_t count, size_t size, MPI_Datatype type)
{
    if (d->size < 2)
        return;
    for (size_t o = 0; o < count; o += CHUNK) {
        size_t n = count - o < CHUNK ? count - o : CHUNK;
        MPI_Allreduce(MPI_IN_PLACE, (uint8_t *)buf + o * size, (int)n, type, MPI_SUM,
                      MPI_COMM_WORLD);
    }
}
#endif

void cli_dist_sum_floats(const cli_dist *d, float *buf, size_t count)
{
#ifdef NIC_HAVE_MPI
    sum_in_place(d, buf, count, sizeof(float), MPI_FLOAT);
#else
    (void)d, (void)buf, (void)count;
#endif
}

void cli_dist_sum_doubles(const cli_dist *d, double *buf, size_t count)
{
#ifdef NIC_HAVE_MPI
    sum_in_place(d, buf, count, sizeof(double), MPI_DOUBLE);
#else
    (void)d, (void)buf, (void)count;
#endif
}

int cli_dist_any(const cli_dist *d, int flag)
{
#ifdef NIC_HAVE_MPI
    if (d->size < 2)
        return flag != 0;
    int v = flag != 0, any = 0;
    MPI_Allreduce(&v, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
#else
    (void)d;
    return flag != 0;
#endif
}

void cli_dist_broadcast(const cli_dist *d, void *buf, size_t bytes)
{
#ifdef NIC_HAVE_MPI
    if (d->size < 2)
        return;
    for (size_t o = 0; o < bytes; o += CHUNK) {
        size_t n = bytes - o < CHUNK ? bytes - o : CHUNK;
        MPI_Bcast((uint8_t *)buf + o, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
#else
    (void)d, (void)buf, (void)bytes;
#endif
}
