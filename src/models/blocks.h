/*
 * Building blocks of the codec models: named layers over the nn engine.
 *
 * A block owns parameter indices (into an nn_params arena, with PyTorch-style
 * names such as "g_a.0.weight") and, once planned for a batch shape, its
 * convolution plan and saved buffers. forward() reads x and writes y;
 * backward() ACCUMULATES parameter gradients and WRITES dx (dx may be NULL
 * when the input needs no gradient, e.g. the image). In an arena without
 * gradient buffers (nn_params_alloc_values: a model that only codes),
 * backward() computes dx alone.
 */
#ifndef NIC_MODELS_BLOCKS_H
#define NIC_MODELS_BLOCKS_H

#include "nn/conv.h"
#include "nn/rng.h"
#include "nn/tensor.h"

typedef struct nic_conv_block {
    int weight, bias; /* parameter indices */
    int c_in, c_out, k, stride, transposed;
    nn_conv_desc desc; /* for transposed blocks: the adjoint convolution */
    nn_conv *plan;
    int n, h_in, w_in, h_out, w_out;
} nic_conv_block;

/* Declares NAME.weight ([c_out][c_in][k][k], or [c_in][c_out][k][k] when
 * transposed, as PyTorch) and NAME.bias [c_out]. Padding is k/2; transposed
 * blocks with stride 2 double the size exactly (output_padding 1). */
nic_status nic_conv_block_declare(nic_context *ctx, nn_params *p, const char *name, int c_in,
                                  int c_out, int k, int stride, int transposed,
                                  nic_conv_block *b);
/* Sets the shape fields and the convolution descriptor for input
 * [n][c_in][h_in][w_in] without making a plan (other backends plan from desc). */
nic_status nic_conv_block_shape(nic_context *ctx, nic_conv_block *b, int n, int h_in, int w_in);
/* Plans for input [n][c_in][h_in][w_in]. flags: NN_CONV_REFERENCE etc. */
nic_status nic_conv_block_plan(nic_context *ctx, nn_engine *eng, nic_conv_block *b, int n,
                               int h_in, int w_in, unsigned flags);
void nic_conv_block_release(nic_conv_block *b);
size_t nic_conv_block_out_count(const nic_conv_block *b);
/* PyTorch's default init: weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void nic_conv_block_init(const nic_conv_block *b, nn_params *p, nn_rng *rng);
nic_status nic_conv_block_forward(nic_context *ctx, nic_conv_block *b, const nn_params *p,
                                  const float *x, float *y);
nic_status nic_conv_block_backward(nic_context *ctx, nic_conv_block *b, nn_params *p,
                                   const float *x, const float *dy, float *dx);

/* GDN or inverse GDN over c channels: norm = beta + gamma (*) x^2 is a 1x1
 * convolution of x^2, so it runs through a convolution plan (oneDNN) instead
 * of a c^2-per-pixel loop; y = x / sqrt(norm) (GDN) or x * sqrt(norm) (inverse). */
typedef struct nic_gdn_block {
    int beta, gamma; /* parameter indices (reparametrized values) */
    int c, inverse;
    nn_conv_desc desc; /* the 1x1 convolution */
    nn_conv *plan;
    float *beta_eff, *gamma_eff, *dbeta_eff, *dgamma_eff; /* effective values and grads */
    float *dnorm, *dsq; /* [n][c][hw] backward scratch without an engine (else the engine's) */
    size_t count;       /* n * c * hw */
} nic_gdn_block;

/* Declares NAME.beta [c] and NAME.gamma [c][c]. */
nic_status nic_gdn_block_declare(nic_context *ctx, nn_params *p, const char *name, int c,
                                 int inverse, nic_gdn_block *g);
nic_status nic_gdn_block_plan(nic_context *ctx, nn_engine *eng, nic_gdn_block *g, int n, int h,
                              int w, unsigned flags);
void nic_gdn_block_release(nic_gdn_block *g);
/* beta = 1, gamma = 0.1 I (CompressAI's GDN init). */
void nic_gdn_block_init(const nic_gdn_block *g, nn_params *p);
/* y = GDN(x); sq = x^2 and norm are saved for backward (both [n][c][hw]). */
nic_status nic_gdn_block_forward(nic_context *ctx, nic_gdn_block *g, const nn_params *p,
                                 const float *x, float *y, float *sq, float *norm);
nic_status nic_gdn_block_backward(nic_context *ctx, nic_gdn_block *g, nn_params *p,
                                  const float *x, const float *sq, const float *norm,
                                  const float *dy, float *dx);

#endif
