/*
 * Convolution plans: one per layer shape, created up front, run every step.
 *
 * A plan runs either the plain C reference kernels (layers.h) or oneDNN
 * (Debian libdnnl-dev, when the build found it). Callers always pass NCHW
 * buffers and OIHW weights (PyTorch layouts); a oneDNN plan reorders into the
 * layouts its kernels want (blocked nChw16c, ...) through buffers allocated
 * when the plan is made, so a training step allocates nothing.
 *
 * Same gradient convention as layers.h: backward_data WRITES dx,
 * backward_weights ACCUMULATES into dw and db.
 */
#ifndef NIC_NN_CONV_H
#define NIC_NN_CONV_H

#include "common/context.h"
#include "nn/layers.h"

/* Holds the oneDNN engine and stream (when available); one per thread of use. */
typedef struct nn_engine nn_engine;

nic_status nn_engine_create(nic_context *ctx, nn_engine **out);
void nn_engine_destroy(nn_engine *eng);
/* 1 when oneDNN is compiled in and its CPU engine could be created. */
int nn_engine_has_dnnl(const nn_engine *eng);
/* Transient buffers owned by the engine, for layers' backward passes (the GDN
 * block's): slot 0 .. NN_ENGINE_SCRATCH_SLOTS - 1, at least `bytes`, valid
 * until the next call for the same slot (grown as needed, never shrunk).
 * Layers planned on one engine run one at a time, so they share them. NULL
 * (with the context's error) when out of memory. */
#define NN_ENGINE_SCRATCH_SLOTS 2
float *nn_engine_scratch(nic_context *ctx, nn_engine *eng, int slot, size_t bytes);

enum {
    NN_CONV_REFERENCE = 1u << 0,   /* use the plain C kernels even if oneDNN is there */
    NN_CONV_PLAIN_LAYOUT = 1u << 1, /* make oneDNN compute in NCHW itself (no reorders) */
    /* Mixed precision (oneDNN, where the CPU has BF16 dot products): the
     * passes read their inputs (x, w, dy) rounded to bfloat16 and write FP32
     * (y, dx, dw; FP32 accumulation). Callers keep FP32 tensors and FP32
     * master weights; the conversion happens in the reorders the plan has
     * anyway. Layers with fewer than 8 input channels per group (an RGB
     * image) stay FP32. Ignored (FP32) where oneDNN has no BF16 kernel. */
    NN_CONV_BF16 = 1u << 2
};

typedef struct nn_conv nn_conv;

/* Plans the convolution d. eng may be NULL (reference kernels). */
nic_status nn_conv_create(nic_context *ctx, nn_engine *eng, const nn_conv_desc *d,
                          unsigned flags, nn_conv **out);
void nn_conv_destroy(nn_conv *conv);
const nn_conv_desc *nn_conv_get_desc(const nn_conv *conv);
/* The engine the plan was made on (NULL: reference kernels without one). */
nn_engine *nn_conv_engine(const nn_conv *conv);
/* Implementation of each pass: "reference" or oneDNN's name (e.g.
 * "jit:avx512_core"). which: 0 forward, 1 backward data, 2 backward weights. */
const char *nn_conv_impl(const nn_conv *conv, int which);

/* y = conv(x, w) + b (b may be NULL). */
nic_status nn_conv_forward(nic_context *ctx, nn_conv *conv, const float *x, const float *w,
                           const float *b, float *y);
/* dx = conv^T(dy) (written). */
nic_status nn_conv_backward_data(nic_context *ctx, nn_conv *conv, const float *dy,
                                 const float *w, float *dx);
/* dw += dL/dw, db += dL/db (db may be NULL). */
nic_status nn_conv_backward_weights(nic_context *ctx, nn_conv *conv, const float *x,
                                    const float *dy, float *dw, float *db);

/* Transposed convolution through a plan of its adjoint convolution (made
 * from nn_conv_desc_init_transposed): forward is the conv's backward-data,
 * backward-data is the conv's forward, backward-weights swaps the roles.
 * x [n][d.c_out][d.h_out][d.w_out] -> y [n][d.c_in][d.h_in][d.w_in]. */
nic_status nn_conv_transpose_forward(nic_context *ctx, nn_conv *conv, const float *x,
                                     const float *w, const float *b, float *y);
nic_status nn_conv_transpose_backward_data(nic_context *ctx, nn_conv *conv, const float *dy,
                                           const float *w, float *dx);
nic_status nn_conv_transpose_backward_weights(nic_context *ctx, nn_conv *conv, const float *x,
                                              const float *dy, float *dw, float *db);

#endif
