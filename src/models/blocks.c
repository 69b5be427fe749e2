#include "models/blocks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

nic_status nic_conv_block_declare(nic_context *ctx, nn_params *p, const char *name, int c_in,
                                  int c_out, int k, int stride, int transposed,
                                  nic_conv_block *b)
{
    memset(b, 0, sizeof(*b));
    b->c_in = c_in;
    b->c_out = c_out;
    b->k = k;
    b->stride = stride;
    b->transposed = transposed;
    char full[NN_NAME_MAX];
    int64_t wshape[4] = {transposed ? c_in : c_out, transposed ? c_out : c_in, k, k};
    int64_t bshape[1] = {c_out};
    snprintf(full, sizeof(full), "%s.weight", name);
    NIC_TRY(nn_params_add(ctx, p, full, 4, wshape, 0, &b->weight));
    snprintf(full, sizeof(full), "%s.bias", name);
    NIC_TRY(nn_params_add(ctx, p, full, 1, bshape, 0, &b->bias));
    return NIC_OK;
}

nic_status nic_conv_block_shape(nic_context *ctx, nic_conv_block *b, int n, int h_in, int w_in)
{
    b->n = n;
    b->h_in = h_in;
    b->w_in = w_in;
    int pad = b->k / 2;
    if (b->transposed) {
        int out_pad = b->stride - 1;
        NIC_TRY(nn_conv_desc_init_transposed(ctx, &b->desc, n, b->c_in, h_in, w_in, b->c_out,
                                             b->k, b->stride, pad, out_pad, 1));
        b->h_out = b->desc.h_in;
        b->w_out = b->desc.w_in;
    } else {
        NIC_TRY(nn_conv_desc_init(ctx, &b->desc, n, b->c_in, h_in, w_in, b->c_out, b->k,
                                  b->stride, pad, 1));
        b->h_out = b->desc.h_out;
        b->w_out = b->desc.w_out;
    }
    return NIC_OK;
}

nic_status nic_conv_block_plan(nic_context *ctx, nn_engine *eng, nic_conv_block *b, int n,
                               int h_in, int w_in, unsigned flags)
{
    nic_conv_block_release(b);
    NIC_TRY(nic_conv_block_shape(ctx, b, n, h_in, w_in));
    return nn_conv_create(ctx, eng, &b->desc, flags, &b->plan);
}

void nic_conv_block_release(nic_conv_block *b)
{
    nn_conv_destroy(b->plan);
    b->plan = NULL;
}

size_t nic_conv_block_out_count(const nic_conv_block *b)
{
    return (size_t)b->n * b->c_out * b->h_out * b->w_out;
}

void nic_conv_block_init(const nic_conv_block *b, nn_params *p, nn_rng *rng)
{
    /* PyTorch computes fan_in from weight dim 1 (c_out for ConvTranspose). */
    int fan_in = (b->transposed ? b->c_out : b->c_in) * b->k * b->k;
    float bound = 1.0f / sqrtf((float)fan_in);
    float *w = nn_param_data(p, b->weight);
    for (size_t i = 0; i < p->items[b->weight].count; i++)
        w[i] = (2.0f * nn_rng_uniform(rng) - 1.0f) * bound;
    float *bias = nn_param_data(p, b->bias);
    for (int i = 0; i < b->c_out; i++)
        bias[i] = (2.0f * nn_rng_uniform(rng) - 1.0f) * bound;
}

nic_status nic_conv_block_forward(nic_context *ctx, nic_conv_block *b, const nn_params *p,
                                  const float *x, float *y)
{
    const float *w = nn_param_data(p, b->weight), *bias = nn_param_data(p, b->bias);
    if (b->transposed)
        return nn_conv_transpose_forward(ctx, b->plan, x, w, bias, y);
    return nn_conv_forward(ctx, b->plan, x, w, bias, y);
}

nic_status nic_conv_block_backward(nic_context *ctx, nic_conv_block *b, nn_params *p,
                                   const float *x, const float *dy, float *dx)
{
    const float *w = nn_param_data(p, b->weight);
    if (b->transposed) {
        if (p->grad)
            NIC_TRY(nn_conv_transpose_backward_weights(ctx, b->plan, x, dy,
                                                       nn_param_grad(p, b->weight),
                                                       nn_param_grad(p, b->bias)));
        if (dx)
            NIC_TRY(nn_conv_transpose_backward_data(ctx, b->plan, dy, w, dx));
    } else {
        if (p->grad)
            NIC_TRY(nn_conv_backward_weights(ctx, b->plan, x, dy, nn_param_grad(p, b->weight),
                                             nn_param_grad(p, b->bias)));
        if (dx)
            NIC_TRY(nn_conv_backward_data(ctx, b->plan, dy, w, dx));
    }
    return NIC_OK;
}

/* ---------------------------------------------------------------- GDN */

nic_status nic_gdn_block_declare(nic_context *ctx, nn_params *p, const char *name, int c,
                                 int inverse, nic_gdn_block *g)
{
    memset(g, 0, sizeof(*g));
    g->c = c;
    g->inverse = inverse;
    char full[NN_NAME_MAX];
    int64_t bshape[1] = {c}, gshape[2] = {c, c};
    snprintf(full, sizeof(full), "%s.beta", name);
    NIC_TRY(nn_params_add(ctx, p, full, 1, bshape, 0, &g->beta));
    snprintf(full, sizeof(full), "%s.gamma", name);
    NIC_TRY(nn_params_add(ctx, p, full, 2, gshape, 0, &g->gamma));
    return NIC_OK;
}

nic_status nic_gdn_block_plan(nic_context *ctx, nn_engine *eng, nic_gdn_block *g, int n, int h,
                              int w, unsigned flags)
{
    nic_gdn_block_release(g);
    size_t c = (size_t)g->c;
    g->count = (size_t)n * c * h * w;
    g->beta_eff = nn_alloc(c * sizeof(float));
    g->dbeta_eff = nn_alloc(c * sizeof(float));
    g->gamma_eff = nn_alloc(c * c * sizeof(float));
    g->dgamma_eff = nn_alloc(c * c * sizeof(float));
    /* dnorm and dsq (backward only) come from the engine's shared scratch, or
     * without an engine are made on the first backward */
    if (!g->beta_eff || !g->dbeta_eff || !g->gamma_eff || !g->dgamma_eff) {
        nic_gdn_block_release(g);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "GDN: out of memory");
    }
    NIC_TRY(nn_conv_desc_init(ctx, &g->desc, n, g->c, h, w, g->c, 1, 1, 0, 1));
    return nn_conv_create(ctx, eng, &g->desc, flags, &g->plan);
}

void nic_gdn_block_release(nic_gdn_block *g)
{
    nn_conv_destroy(g->plan);
    g->plan = NULL;
    nn_free(g->beta_eff);
    nn_free(g->dbeta_eff);
    nn_free(g->gamma_eff);
    nn_free(g->dgamma_eff);
    nn_free(g->dnorm);
    nn_free(g->dsq);
    g->beta_eff = g->dbeta_eff = g->gamma_eff = g->dgamma_eff = g->dnorm = g->dsq = NULL;
}

void nic_gdn_block_init(const nic_gdn_block *g, nn_params *p)
{
    nn_gdn_reparam_init(nn_param_data(p, g->beta), (size_t)g->c, 1.0f);
    float *gamma = nn_param_data(p, g->gamma);
    for (int i = 0; i < g->c; i++)
        for (int j = 0; j < g->c; j++)
            nn_gdn_reparam_init(gamma + (size_t)i * g->c + j, 1, i == j ? 0.1f : 0.0f);
}

nic_status nic_gdn_block_forward(nic_context *ctx, nic_gdn_block *g, const nn_params *p,
                                 const float *x, float *y, float *sq, float *norm)
{
    size_t c = (size_t)g->c, n = g->count;
    nn_gdn_reparam_forward(nn_param_data(p, g->beta), c, NN_GDN_BETA_MIN, g->beta_eff);
    nn_gdn_reparam_forward(nn_param_data(p, g->gamma), c * c, 0.0, g->gamma_eff);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        sq[i] = x[i] * x[i];
    NIC_TRY(nn_conv_forward(ctx, g->plan, sq, g->gamma_eff, g->beta_eff, norm));
    if (g->inverse) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] * sqrtf(norm[i]);
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] / sqrtf(norm[i]);
    }
    return NIC_OK;
}

nic_status nic_gdn_block_backward(nic_context *ctx, nic_gdn_block *g, nn_params *p,
                                  const float *x, const float *sq, const float *norm,
                                  const float *dy, float *dx)
{
    size_t c = (size_t)g->c, n = g->count;
    nn_engine *eng = nn_conv_engine(g->plan);
    float *dnorm, *dsq;
    if (eng) {
        dnorm = nn_engine_scratch(ctx, eng, 0, n * sizeof(float));
        dsq = nn_engine_scratch(ctx, eng, 1, n * sizeof(float));
        if (!dnorm || !dsq)
            return nic_context_status(ctx);
    } else {
        if (!g->dnorm)
            g->dnorm = nn_alloc(n * sizeof(float));
        if (!g->dsq)
            g->dsq = nn_alloc(n * sizeof(float));
        if (!g->dnorm || !g->dsq)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "GDN: out of memory");
        dnorm = g->dnorm;
        dsq = g->dsq;
    }
    /* GDN: y = x norm^-1/2;  inverse: y = x norm^1/2. */
    if (g->inverse) {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float r = sqrtf(norm[i]);
            dnorm[i] = 0.5f * dy[i] * x[i] / r;
            dx[i] = dy[i] * r;
        }
    } else {
#pragma omp parallel for simd schedule(static)
        for (size_t i = 0; i < n; i++) {
            float r = 1.0f / sqrtf(norm[i]);
            dnorm[i] = -0.5f * dy[i] * x[i] * r * r * r;
            dx[i] = dy[i] * r;
        }
    }
    NIC_TRY(nn_conv_backward_data(ctx, g->plan, dnorm, g->gamma_eff, dsq));
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] += 2.0f * x[i] * dsq[i];
    if (!p->grad)
        return NIC_OK;
    memset(g->dbeta_eff, 0, c * sizeof(float));
    memset(g->dgamma_eff, 0, c * c * sizeof(float));
    NIC_TRY(nn_conv_backward_weights(ctx, g->plan, sq, dnorm, g->dgamma_eff, g->dbeta_eff));
    nn_gdn_reparam_backward(nn_param_data(p, g->beta), g->dbeta_eff, c, NN_GDN_BETA_MIN,
                            nn_param_grad(p, g->beta));
    nn_gdn_reparam_backward(nn_param_data(p, g->gamma), g->dgamma_eff, c * c, 0.0,
                            nn_param_grad(p, g->gamma));
    return NIC_OK;
}
