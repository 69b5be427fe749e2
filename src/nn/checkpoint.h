/*
 * Training checkpoints: everything needed to resume a run exactly.
 *
 * One safetensors file (safetensors.h) holding, for every parameter NAME:
 *   NAME            F32 values
 *   adam.m/NAME     F32 first moment
 *   adam.v/NAME     F32 second moment
 * and the metadata strings
 *   format  "nic-checkpoint-1"
 *   step    optimizer steps done (decimal)
 *   rng     the xoshiro256** state, 64 hex digits (nn_rng_save order)
 *   config  the training configuration as given by the caller (text/JSON)
 *   crc32   checksum of the data section
 * It is written atomically (temp file, fsync, rename): a run killed at any
 * moment leaves either the old or the new checkpoint, never half of one.
 */
#ifndef NIC_NN_CHECKPOINT_H
#define NIC_NN_CHECKPOINT_H

#include "nn/optim.h"
#include "nn/rng.h"
#include "nn/tensor.h"

nic_status nn_checkpoint_save(nic_context *ctx, const char *path, const nn_params *p,
                              const nn_adam *opt, const nn_rng *rng, const char *config);
/* p must be declared and allocated with the same names and shapes. opt->step
 * and *rng are restored; *config (may be NULL) receives a malloc'ed copy of
 * the stored configuration. */
nic_status nn_checkpoint_load(nic_context *ctx, const char *path, nn_params *p, nn_adam *opt,
                              nn_rng *rng, char **config);

#endif
