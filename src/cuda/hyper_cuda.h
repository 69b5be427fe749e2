/*
 * The hyper model's training step on the GPU (models/hyper.h's
 * nic_hyper_train_step, the same network, loss, noise and gradients).
 *
 * The host model (nic_hyper_model) stays the master copy for checkpoints and
 * export: nic_hyper_cuda_create uploads its values and Adam moments, the
 * step and the optimizer run on the device (cuda_backend.h: nn_cuda_zero_grad,
 * nn_cuda_grad_clip, nn_cuda_adam_step on nic_hyper_cuda_params), and
 * nn_cuda_params_download brings everything back before a checkpoint. The
 * checkpoint is the CPU's (nn_checkpoint_save), so runs move freely between
 * CPU and GPU.
 */
#ifndef NIC_CUDA_HYPER_CUDA_H
#define NIC_CUDA_HYPER_CUDA_H

#include "cuda/cuda_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#include "models/hyper.h"

typedef struct nic_hyper_cuda nic_hyper_cuda;

/* Plans every layer for batches [batch][3][crop][crop] on dev and uploads m's
 * parameters and moments. m must outlive the trainer. */
nic_status nic_hyper_cuda_create(nic_context *ctx, nn_cuda *dev, nic_hyper_model *m, int batch,
                                 int crop, nic_hyper_cuda **out);
void nic_hyper_cuda_destroy(nic_hyper_cuda *t);
/* As nic_hyper_trainer_set_shard. */
nic_status nic_hyper_cuda_set_shard(nic_context *ctx, nic_hyper_cuda *t, int first, int global);
/* The device copy of the model's parameters, gradients and moments. */
nn_cuda_params *nic_hyper_cuda_params(nic_hyper_cuda *t);
/* As nic_hyper_train_step (x and t_rate on the host; gradients ACCUMULATE in
 * the device arena). Returns after the step has finished on the GPU. */
nic_status nic_hyper_cuda_train_step(nic_context *ctx, nic_hyper_cuda *t, const float *x,
                                     const float *t_rate, nn_rng *rng, int train,
                                     nic_hyper_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
