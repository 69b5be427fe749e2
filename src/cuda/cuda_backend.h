/*
 * CUDA backend of the nn engine (built with -DNIC_CUDA=ON / `make cuda` when
 * nvcc and cuDNN are found; everything here is absent otherwise and
 * NIC_HAVE_CUDA is undefined).
 *
 * The device mirrors the CPU engine's design instead of hiding it:
 *  - nn_cuda: one GPU, one stream, one cuDNN handle, and ONE convolution
 *    workspace sized for the largest plan when the plans are made (a step
 *    allocates nothing).
 *  - Parameters keep the CPU arena's layout: nn_cuda_params holds four device
 *    buffers (values, gradients, Adam m and v) with the same offsets as
 *    nn_params, so moving a model between host and device is one copy per
 *    buffer and checkpoints are the CPU's (nn_checkpoint_save of the host copy).
 *  - Convolution plans take the same nn_conv_desc as the CPU plans (conv.h),
 *    choose cuDNN's forward, backward-data and backward-filter algorithms once
 *    per shape (cudnnFind*, measured), and follow the same gradient convention:
 *    backward-data WRITES dx, backward-weights ACCUMULATES into dw and db.
 *    Transposed convolutions run as the adjoint convolution, as on the CPU.
 *  - Every other layer is a kernel here with the CPU reference kernel's
 *    semantics (layers.h, likelihood.h); tests/unit/test_cuda.c compares each
 *    with the CPU kernels, forward and backward.
 *
 * All pointers named d_* or taken by the kernels are device pointers. Calls are
 * asynchronous on the device's stream unless they return host values
 * (downloads, reductions); errors are reported through the context like the
 * rest of the library. Convolutions may use TF32 tensor cores (on by default;
 * nn_cuda_set_tf32(dev, 0) before making plans for exact FP32).
 */
#ifndef NIC_CUDA_BACKEND_H
#define NIC_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "common/context.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/tensor.h"

/* ---------------------------------------------------------------- device */

typedef struct nn_cuda nn_cuda;

/* Number of usable GPUs (0 without a GPU or driver: never fails). */
int nn_cuda_device_count(void);
/* Why there is no GPU, for skip messages ("no CUDA driver", ...). */
const char *nn_cuda_unavailable_reason(void);
nic_status nn_cuda_create(nic_context *ctx, int device, nn_cuda **out);
void nn_cuda_destroy(nn_cuda *dev);
/* "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" */
const char *nn_cuda_name(const nn_cuda *dev);
/* 1: convolutions may use TF32 (default); 0: FP32 FMA only. Affects plans made later. */
void nn_cuda_set_tf32(nn_cuda *dev, int on);
/* Waits for the stream and reports any asynchronous error. */
nic_status nn_cuda_sync(nic_context *ctx, nn_cuda *dev);

nic_status nn_cuda_malloc(nic_context *ctx, nn_cuda *dev, size_t bytes, void **out);
void nn_cuda_free(void *d_ptr);
nic_status nn_cuda_upload(nic_context *ctx, nn_cuda *dev, void *d_dst, const void *src,
                          size_t bytes);
nic_status nn_cuda_download(nic_context *ctx, nn_cuda *dev, void *dst, const void *d_src,
                            size_t bytes);
nic_status nn_cuda_zero(nic_context *ctx, nn_cuda *dev, void *d_ptr, size_t bytes);
/* Floats of device memory (zeroed). */
nic_status nn_cuda_alloc_floats(nic_context *ctx, nn_cuda *dev, size_t count, float **out);

/* ---------------------------------------------------------------- parameters */

typedef struct nn_cuda_params {
    const nn_params *host; /* layout (items, offsets, total) */
    float *data, *grad, *m, *v;
} nn_cuda_params;

nic_status nn_cuda_params_create(nic_context *ctx, nn_cuda *dev, const nn_params *host,
                                 nn_cuda_params *out);
void nn_cuda_params_free(nn_cuda_params *p);
/* Host <-> device copies of values and both moments (not gradients). */
nic_status nn_cuda_params_upload(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p);
nic_status nn_cuda_params_download(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p,
                                   nn_params *host);
/* Gradients, for data-parallel sums on the host. */
nic_status nn_cuda_grads_upload(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p,
                                const nn_params *host);
nic_status nn_cuda_grads_download(nic_context *ctx, nn_cuda *dev, const nn_cuda_params *p,
                                  nn_params *host);
nic_status nn_cuda_zero_grad(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p);
static inline float *nn_cuda_param_data(const nn_cuda_params *p, int i)
{
    return p->data + p->host->items[i].offset;
}
static inline float *nn_cuda_param_grad(const nn_cuda_params *p, int i)
{
    return p->grad + p->host->items[i].offset;
}
/* L2 norm of all gradients (double accumulation, as nn_grad_norm). */
nic_status nn_cuda_grad_norm(nic_context *ctx, nn_cuda *dev, const nn_cuda_params *p,
                             double *norm);
/* Scales all gradients by max_norm / (norm + 1e-6) when that is below 1 (as
 * nn_grad_clip); *norm receives the norm before clipping. max_norm <= 0: no clip. */
nic_status nn_cuda_grad_clip(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p, double max_norm,
                             double *norm);
/* One Adam / AdamW update with opt's settings and groups (as nn_adam_step, which
 * it mirrors operation for operation); increments opt->step. */
nic_status nn_cuda_adam_step(nic_context *ctx, nn_cuda *dev, nn_adam *opt, nn_cuda_params *p,
                             float lr);

/* ---------------------------------------------------------------- convolutions */

typedef struct nn_cuda_conv nn_cuda_conv;

nic_status nn_cuda_conv_create(nic_context *ctx, nn_cuda *dev, const nn_conv_desc *d,
                               nn_cuda_conv **out);
void nn_cuda_conv_destroy(nn_cuda_conv *c);
/* cuDNN's algorithm numbers chosen for fwd, bwd-data, bwd-filter (for logs). */
void nn_cuda_conv_algos(const nn_cuda_conv *c, int algo[3]);

nic_status nn_cuda_conv_forward(nic_context *ctx, nn_cuda_conv *c, const float *x,
                                const float *w, const float *b, float *y);
nic_status nn_cuda_conv_backward_data(nic_context *ctx, nn_cuda_conv *c, const float *dy,
                                      const float *w, float *dx);
nic_status nn_cuda_conv_backward_weights(nic_context *ctx, nn_cuda_conv *c, const float *x,
                                         const float *dy, float *dw, float *db);
nic_status nn_cuda_conv_transpose_forward(nic_context *ctx, nn_cuda_conv *c, const float *x,
                                          const float *w, const float *b, float *y);
nic_status nn_cuda_conv_transpose_backward_data(nic_context *ctx, nn_cuda_conv *c,
                                                const float *dy, const float *w, float *dx);
nic_status nn_cuda_conv_transpose_backward_weights(nic_context *ctx, nn_cuda_conv *c,
                                                   const float *x, const float *dy, float *dw,
                                                   float *db);

/* ---------------------------------------------------------------- elementwise layers
 * Same semantics as the float reference kernels of layers.h; launched on the
 * device's stream (no sync). */

void nn_cuda_relu_forward(nn_cuda *dev, const float *x, size_t count, float *y);
void nn_cuda_relu_backward(nn_cuda *dev, const float *x, const float *dy, size_t count,
                           float *dx);
/* y += x */
void nn_cuda_add(nn_cuda *dev, const float *x, size_t count, float *y);
/* GDN reparametrization (nn_gdn_reparam_forward / _backward; dparam accumulated). */
void nn_cuda_gdn_reparam_forward(nn_cuda *dev, const float *param, size_t count, double minimum,
                                 float *effective);
void nn_cuda_gdn_reparam_backward(nn_cuda *dev, const float *param, const float *deffective,
                                  size_t count, double minimum, float *dparam);
/* GDN around its 1x1 convolution (models/blocks.c): sq = x^2; y = x / sqrt(norm)
 * (inverse: x * sqrt(norm)); backward: dnorm and dx from dy, then dx += 2 x dsq. */
void nn_cuda_square(nn_cuda *dev, const float *x, size_t count, float *sq);
void nn_cuda_gdn_apply(nn_cuda *dev, const float *x, const float *norm, size_t count, int inverse,
                       float *y);
void nn_cuda_gdn_apply_backward(nn_cuda *dev, const float *x, const float *norm, const float *dy,
                                size_t count, int inverse, float *dnorm, float *dx);
void nn_cuda_gdn_square_backward(nn_cuda *dev, const float *x, const float *dsq, size_t count,
                                 float *dx);
/* y = x + nn_noise_uniform(seed, nn_noise_index(first + b, stream, e)) for x
 * [n][per] (b < n, e < per): the CPU trainer's noise, bit for bit. */
void nn_cuda_noise_forward(nn_cuda *dev, const float *x, int n, size_t per, int first,
                           unsigned stream, uint64_t seed, float *y);
/* y = round_half_even(x) */
void nn_cuda_round(nn_cuda *dev, const float *x, size_t count, float *y);

/* ---------------------------------------------------------------- sums
 * Reductions without a sync: a kernel writes per-block partial sums (double)
 * into the device's sum buffer under a slot number; nn_cuda_sums_read
 * downloads every slot with one copy and adds each slot's partials on the
 * host (deterministic: fixed block order). nn_cuda_sums_reset starts over
 * (once per step). */
void nn_cuda_sums_reset(nn_cuda *dev);
nic_status nn_cuda_sums_read(nic_context *ctx, nn_cuda *dev, double *out, int slots);

/* ---------------------------------------------------------------- likelihoods
 * nic_gaussian_rate and nic_fp_rate (models/likelihood.h) on the device, in
 * double like the CPU code: the sum of bits goes to a new sum slot (*slot);
 * gradients as there (dv, dsigma, dz WRITTEN; dparams ACCUMULATED; NULL
 * gradients: none computed). */
nic_status nn_cuda_gaussian_rate(nic_context *ctx, nn_cuda *dev, const float *v,
                                 const float *sigma, size_t count, float scale, float *dv,
                                 float *dsigma, int *slot);
nic_status nn_cuda_fp_rate(nic_context *ctx, nn_cuda *dev, const float *params, const float *z,
                           int n, int channels, size_t hw, float scale, float *dz,
                           float *dparams, int *slot);

/* ---------------------------------------------------------------- hyper model pieces
 * The quantization, step network and distortion of models/hyper.c's training
 * step (see nic_hyper_train_step for the formulas), one kernel each. */

/* Step network for B samples: hidden [B][q_hidden] (pre-activation), log_step [B][m]. */
void nn_cuda_hyper_q_forward(nn_cuda *dev, const float *w1, const float *b1, const float *w2,
                             const float *b2, const float *t_rate, int batch, int m, int hidden,
                             float offset, float slope, float *d_hidden, float *d_log_step);
void nn_cuda_hyper_q_backward(nn_cuda *dev, const float *w2, const float *t_rate,
                              const float *d_hidden, const float *dlog_step, int batch, int m,
                              int hidden, float *dw1, float *db1, float *dw2, float *db2);
/* train: 0 rounding, 1 noise for the rate + rounding for the synthesis, 2 noise. */
void nn_cuda_hyper_quantize(nn_cuda *dev, const float *y, const float *mu, const float *log_scale,
                            const float *log_step, int batch, int m, size_t hw, int first,
                            uint64_t seed, int train, float ls_min, float ls_max, float *y_q,
                            float *sigma_q, float *yhat_q, float *yhat, float *v);
void nn_cuda_hyper_quantize_backward(nn_cuda *dev, const float *mu, const float *log_scale,
                                     const float *log_step, const float *y_q,
                                     const float *sigma_q, const float *yhat_q,
                                     const float *dyhat, const float *dv, const float *dsigma,
                                     int batch, int m, size_t hw, float ls_min, float ls_max,
                                     float *dy, float *dmu, float *dls, float *dlog_step);
/* Per-sample squared error of xhat vs x ([batch][per]) into a sum slot per
 * sample (slots *first_slot .. + batch - 1); with dxhat, dxhat = g[b] (xhat - x). */
nic_status nn_cuda_sse(nic_context *ctx, nn_cuda *dev, const float *xhat, const float *x,
                       int batch, size_t per, const float *g, float *dxhat, int *first_slot);

#ifdef __cplusplus
}
#endif

#endif
