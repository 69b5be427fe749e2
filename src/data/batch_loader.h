/*
 * Training batches made ahead: random crops (and flips) of an image set,
 * prepared on a worker thread while the current training step runs.
 *
 * Batch i depends only on (seed, i): its crops are drawn by
 * nic_image_set_sample from an RNG seeded with both. So the worker gives
 * exactly the batches the caller's thread would (nic_batch_sample), the
 * training RNG (noise, rates) is not touched, and a run resumed at step s
 * continues with batch s: the checkpoint needs nothing more than the step.
 */
#ifndef NIC_DATA_BATCH_LOADER_H
#define NIC_DATA_BATCH_LOADER_H

#include <stdint.h>

#include "common/context.h"
#include "data/image_set.h"

/* Batch `index` into out[batch][channels][height][width], on this thread. */
nic_status nic_batch_sample(nic_context *ctx, const nic_image_set *set,
                            const nic_crop_options *opt, int batch, uint64_t seed, int64_t index,
                            float *out);
/* Only crops first .. first + count - 1 of that batch (a data-parallel
 * process's shard), into out[count][channels][height][width]. */
nic_status nic_batch_sample_range(nic_context *ctx, const nic_image_set *set,
                                  const nic_crop_options *opt, int batch, int first, int count,
                                  uint64_t seed, int64_t index, float *out);

typedef struct nic_batch_loader nic_batch_loader;

/* Starts at batch `first`. threaded: prepare each next batch on a worker
 * thread (0: make it in nic_batch_loader_next, same results). The set must
 * stay unchanged while the loader lives. */
nic_status nic_batch_loader_create(nic_context *ctx, const nic_image_set *set,
                                   const nic_crop_options *opt, int batch, uint64_t seed,
                                   int64_t first, int threaded, nic_batch_loader **out);
/* The same, handing out only crops shard_first .. shard_first + shard_count - 1
 * of each batch (MPI training: every process its own share of the global batch). */
nic_status nic_batch_loader_create_shard(nic_context *ctx, const nic_image_set *set,
                                         const nic_crop_options *opt, int batch, int shard_first,
                                         int shard_count, uint64_t seed, int64_t first,
                                         int threaded, nic_batch_loader **out);
/* The next batch; *data stays valid until the next call (the worker fills
 * the other buffer meanwhile). *index (may be NULL) receives its number. */
nic_status nic_batch_loader_next(nic_context *ctx, nic_batch_loader *loader, const float **data,
                                 int64_t *index);
/* Stops the worker (waiting for the batch in progress) and frees everything. */
void nic_batch_loader_destroy(nic_batch_loader *loader);

#endif
