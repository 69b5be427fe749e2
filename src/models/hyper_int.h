/*
 * The integer side of the hyperprior model: everything that decides which
 * entropy-coding table a value uses, computed in exact integer arithmetic
 * (qconv.h) so encoder and decoder agree on every machine.
 *
 *   heads:  z^ (integers) -> mean and log-scale of y, Q16
 *   steps:  rate parameter t (Q16) -> log quantization step per channel, Q16
 *
 * Built from the float model by exact scaling; the float and integer outputs
 * differ by about 1e-4 (tested), which costs nothing measurable in rate.
 */
#ifndef NIC_MODELS_HYPER_INT_H
#define NIC_MODELS_HYPER_INT_H

#include "models/hyper.h"
#include "models/qconv.h"
#include "nn/phase.h"

/* A head layer in the form of the exact int32 x int32 -> int64 kernels
 * (nn/iconv.h): the same integer weights as its nic_qconv, phase-decomposed. */
typedef struct nic_hyper_int_layer {
    nn_phase_layout pl;
    nn_iconv32_group *groups;
    int64_t *w, *bias;
    int relu;
} nic_hyper_int_layer;

/* A 1x1 layer (the context network's) for the same kernels: one tap over all
 * input channels, outputs in groups of up to 32 lanes. */
typedef struct nic_hyper_int_dense {
    int c_in, c_out, lanes, relu, ngroups; /* lanes: c_out rounded up to 8 */
    nn_iconv_tap tap;
    nn_iconv32_group *groups;
    int64_t *w, *bias;
} nic_hyper_int_dense;

typedef struct nic_hyper_int {
    int n, m, nz;
    nic_qconv mean[3], scale[3]; /* the plain reference (nic_qconv_forward) */
    nic_hyper_int_layer mean_k[3], scale_k[3];
    nn_isa isa; /* any gives the same bits; the best by default */
    int32_t q1_w[NIC_HYPER_Q_HIDDEN];
    int64_t q1_b[NIC_HYPER_Q_HIDDEN];
    int ctx_width;  /* hidden channels of the context network; 0 = none */
    int ctx_nb;     /* anchors it sees (4 or 12; nic_hyper_ctx_neighbour) */
    nic_qconv ctx[2]; /* its 1x1 layers: ctx_nb m -> ctx_width (ReLU) -> 2m (reference) */
    nic_hyper_int_dense ctx_k[2]; /* the same weights for the fast kernels */
    int32_t *q2_w; /* [m][hidden] */
    int64_t *q2_b; /* [m], with the prior offset folded in */
} nic_hyper_int;

nic_status nic_hyper_int_create(nic_context *ctx, const nic_hyper_model *model,
                                nic_hyper_int *hi);
void nic_hyper_int_free(nic_hyper_int *hi);

/* zhat [nz][hz][wz] (plain integers) -> mean_q16, log_scale_q16 [m][4 hz][4 wz]. */
nic_status nic_hyper_int_heads(nic_context *ctx, const nic_hyper_int *hi, const int32_t *zhat,
                               int hz, int wz, int32_t *mean_q16, int32_t *log_scale_q16);
/* The same with nic_qconv_forward, layer by layer (slow; what the tests
 * compare nic_hyper_int_heads with). */
nic_status nic_hyper_int_heads_reference(nic_context *ctx, const nic_hyper_int *hi,
                                         const int32_t *zhat, int hz, int wz, int32_t *mean_q16,
                                         int32_t *log_scale_q16);

/* The checkerboard context (hi->ctx_width > 0; else nothing): from y^ in Q16
 * at the anchors (yhat_q16 [m][hy][wy]; other entries are not read), adds its
 * corrections to mean_q16 and log_scale_q16 at every non-anchor position
 * (nic_hyper_is_anchor). Exact integer arithmetic, any thread count. */
nic_status nic_hyper_int_context(nic_context *ctx, const nic_hyper_int *hi,
                                 const int32_t *yhat_q16, int hy, int wy, int32_t *mean_q16,
                                 int32_t *log_scale_q16);

/* The same with nic_qconv_forward (slow; what the tests compare it with). */
nic_status nic_hyper_int_context_reference(nic_context *ctx, const nic_hyper_int *hi,
                                           const int32_t *yhat_q16, int hy, int wy,
                                           int32_t *mean_q16, int32_t *log_scale_q16);

/* log steps (Q16, natural log) of the m channels for t = t_q16 / 2^16. */
void nic_hyper_int_log_steps(const nic_hyper_int *hi, int32_t t_q16, int32_t *log_step_q16);

#endif
