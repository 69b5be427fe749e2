/*
 * Adam / AdamW over a parameter arena, with parameter groups, a learning-rate
 * schedule and gradient-norm clipping.
 *
 * Each parameter belongs to a group (nn_params_add's group argument); a group
 * has its own learning-rate multiplier and weight decay, so e.g. the factorized
 * prior's quantiles (auxiliary loss) can be trained apart from the main
 * network. The update follows torch.optim.Adam / AdamW (PyTorch 1.13) exactly:
 *   Adam:  g += wd * p
 *   AdamW: p *= 1 - lr * wd
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
#ifndef NIC_NN_OPTIM_H
#define NIC_NN_OPTIM_H

#include <stdint.h>

#include "nn/tensor.h"

#define NN_MAX_GROUPS 8

typedef struct nn_param_group {
    float lr_scale;     /* learning rate = schedule(step) * lr_scale */
    float weight_decay; /* L2 (Adam) or decoupled (AdamW) */
    int frozen;         /* skip this group */
} nn_param_group;

typedef struct nn_adam {
    float beta1, beta2, eps;
    int decoupled; /* 1: AdamW, 0: Adam with L2 in the gradient */
    nn_param_group groups[NN_MAX_GROUPS];
    int64_t step; /* number of updates done */
} nn_adam;

/* beta1 0.9, beta2 0.999, eps 1e-8, AdamW off, every group lr_scale 1, wd 0. */
void nn_adam_init(nn_adam *opt);
/* One update of every parameter of p with learning rate lr (the moments live in p->m, p->v). */
void nn_adam_step(nn_adam *opt, nn_params *p, float lr);

typedef enum nn_lr_kind {
    NN_LR_CONSTANT = 0,
    NN_LR_STEP,   /* lr * gamma^(floor(step / step_size)) */
    NN_LR_COSINE  /* lr_min + (lr - lr_min) (1 + cos(pi t / total)) / 2 */
} nn_lr_kind;

typedef struct nn_lr_schedule {
    nn_lr_kind kind;
    float lr;
    float lr_min;
    int64_t warmup; /* linear warm-up from lr / warmup over this many steps */
    int64_t step_size;
    float gamma;
    int64_t total; /* cosine: steps after warm-up */
} nn_lr_schedule;

/* Learning rate for update number `step` (0-based). */
float nn_lr_at(const nn_lr_schedule *s, int64_t step);

/* Global L2 norm of the gradients of the parameters in `group` (-1: all). */
double nn_grad_norm(const nn_params *p, int group);
/* Scales those gradients so their norm is at most max_norm (as
 * torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6) when
 * below 1). Returns the norm before clipping. */
double nn_grad_clip(nn_params *p, int group, double max_norm);

#endif
