/* The hyper model's training step on the GPU: models/hyper.c's
 * nic_hyper_train_step, layer for layer, over device buffers. */
#include "cuda/hyper_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct dact {
    float *v, *d;
    size_t n;
} dact;

typedef struct dconv {
    nic_conv_block b; /* a copy of the model's block, shaped for this trainer */
    nn_cuda_conv *plan;
} dconv;

typedef struct dgdn {
    int beta, gamma, c, inverse;
    nn_cuda_conv *plan; /* the 1x1 convolution of x^2 */
    float *beta_eff, *gamma_eff, *dbeta_eff, *dgamma_eff, *dnorm, *dsq;
    size_t count;
} dgdn;

struct nic_hyper_cuda {
    nn_cuda *dev;
    nic_hyper_model *m;
    nn_cuda_params p;
    int batch, crop, first, global;
    size_t hw_y, hw_z;
    dconv ga[4], ha[3], hm[3], hs[3], gs[4];
    dgdn ga_gdn[3], gs_gdn[3];
    dact ga_out[4], ga_gdn_out[3], ga_norm[3], ga_sq[3];
    dact ha_out[3], ha_relu[2], z_tilde;
    dact hm_out[3], hm_relu[2], hs_out[3], hs_relu[2];
    dact y_q, v, sigma_q, yhat_q, yhat;
    dact gs_out[4], gs_gdn_out[3], gs_norm[3], gs_sq[3];
    float *x, *dz_extra, *q_hidden, *log_step, *dlog_step;
    float *rates;      /* device [2][batch]: t_rate, then the distortion factors */
    float *host_rates; /* host [2][batch] */
    dact *all[64];
    int nall;
    float **bufs[16]; /* other device buffers, freed with the trainer */
    int nbufs;
};

static nic_status act_alloc(nic_context *ctx, nic_hyper_cuda *t, dact *a, size_t n)
{
    a->n = n;
    t->all[t->nall++] = a;
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, n, &a->v));
    return nn_cuda_alloc_floats(ctx, t->dev, n, &a->d);
}

static nic_status buf_alloc(nic_context *ctx, nic_hyper_cuda *t, float **p, size_t n)
{
    t->bufs[t->nbufs++] = p;
    return nn_cuda_alloc_floats(ctx, t->dev, n, p);
}

static void gdn_release(dgdn *g)
{
    nn_cuda_conv_destroy(g->plan);
    nn_cuda_free(g->beta_eff);
    nn_cuda_free(g->gamma_eff);
    nn_cuda_free(g->dbeta_eff);
    nn_cuda_free(g->dgamma_eff);
    nn_cuda_free(g->dnorm);
    nn_cuda_free(g->dsq);
    memset(g, 0, sizeof(*g));
}

void nic_hyper_cuda_destroy(nic_hyper_cuda *t)
{
    if (!t)
        return;
    nn_cuda_sync(NULL, t->dev);
    dconv *chains[5] = {t->ga, t->ha, t->hm, t->hs, t->gs};
    int lens[5] = {4, 3, 3, 3, 4};
    for (int c = 0; c < 5; c++)
        for (int i = 0; i < lens[c]; i++)
            nn_cuda_conv_destroy(chains[c][i].plan);
    for (int i = 0; i < 3; i++) {
        gdn_release(&t->ga_gdn[i]);
        gdn_release(&t->gs_gdn[i]);
    }
    for (int i = 0; i < t->nall; i++) {
        nn_cuda_free(t->all[i]->v);
        nn_cuda_free(t->all[i]->d);
    }
    for (int i = 0; i < t->nbufs; i++)
        nn_cuda_free(*t->bufs[i]);
    nn_cuda_params_free(&t->p);
    free(t->host_rates);
    free(t);
}

static nic_status plan_chain(nic_context *ctx, nic_hyper_cuda *t, const nic_conv_block *src,
                             dconv *dst, int count, int *h, int *w, dact *outs)
{
    for (int i = 0; i < count; i++) {
        dst[i].b = src[i];
        dst[i].b.plan = NULL; /* the CPU plan stays the model's */
        NIC_TRY(nic_conv_block_shape(ctx, &dst[i].b, t->batch, *h, *w));
        NIC_TRY(nn_cuda_conv_create(ctx, t->dev, &dst[i].b.desc, &dst[i].plan));
        *h = dst[i].b.h_out;
        *w = dst[i].b.w_out;
        NIC_TRY(act_alloc(ctx, t, &outs[i], nic_conv_block_out_count(&dst[i].b)));
    }
    return NIC_OK;
}

static nic_status plan_gdn(nic_context *ctx, nic_hyper_cuda *t, const nic_gdn_block *src,
                           dgdn *g, int h, int w)
{
    g->beta = src->beta;
    g->gamma = src->gamma;
    g->c = src->c;
    g->inverse = src->inverse;
    size_t c = (size_t)g->c;
    g->count = (size_t)t->batch * c * h * w;
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, c, &g->beta_eff));
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, c, &g->dbeta_eff));
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, c * c, &g->gamma_eff));
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, c * c, &g->dgamma_eff));
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, g->count, &g->dnorm));
    NIC_TRY(nn_cuda_alloc_floats(ctx, t->dev, g->count, &g->dsq));
    nn_conv_desc d;
    NIC_TRY(nn_conv_desc_init(ctx, &d, t->batch, g->c, h, w, g->c, 1, 1, 0, 1));
    return nn_cuda_conv_create(ctx, t->dev, &d, &g->plan);
}

static nic_status create(nic_context *ctx, nic_hyper_cuda *t)
{
    nic_hyper_model *m = t->m;
    const int B = t->batch;
    int h = t->crop, w = t->crop;
    NIC_TRY(nn_cuda_params_create(ctx, t->dev, &m->params, &t->p));
    NIC_TRY(nn_cuda_params_upload(ctx, t->dev, &t->p));
    NIC_TRY(buf_alloc(ctx, t, &t->x, (size_t)B * 3 * t->crop * t->crop));
    NIC_TRY(plan_chain(ctx, t, m->ga, t->ga, 4, &h, &w, t->ga_out));
    for (int i = 0; i < 3; i++) {
        size_t n = t->ga_out[i].n;
        NIC_TRY(act_alloc(ctx, t, &t->ga_gdn_out[i], n));
        NIC_TRY(act_alloc(ctx, t, &t->ga_norm[i], n));
        NIC_TRY(act_alloc(ctx, t, &t->ga_sq[i], n));
        NIC_TRY(plan_gdn(ctx, t, &m->ga_gdn[i], &t->ga_gdn[i], t->ga[i].b.h_out,
                         t->ga[i].b.w_out));
    }
    t->hw_y = (size_t)h * w;
    int hy = h, wy = w;
    NIC_TRY(plan_chain(ctx, t, m->ha, t->ha, 3, &h, &w, t->ha_out));
    for (int i = 0; i < 2; i++)
        NIC_TRY(act_alloc(ctx, t, &t->ha_relu[i], t->ha_out[i].n));
    t->hw_z = (size_t)h * w;
    int hz = h, wz = w;
    NIC_TRY(act_alloc(ctx, t, &t->z_tilde, t->ha_out[2].n));
    h = hz;
    w = wz;
    NIC_TRY(plan_chain(ctx, t, m->hm, t->hm, 3, &h, &w, t->hm_out));
    h = hz;
    w = wz;
    NIC_TRY(plan_chain(ctx, t, m->hs, t->hs, 3, &h, &w, t->hs_out));
    for (int i = 0; i < 2; i++) {
        NIC_TRY(act_alloc(ctx, t, &t->hm_relu[i], t->hm_out[i].n));
        NIC_TRY(act_alloc(ctx, t, &t->hs_relu[i], t->hs_out[i].n));
    }
    if (h != hy || w != wy)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "hyper trainer: h_s gives %dx%d, y is %dx%d", h, w,
                        hy, wy);
    size_t ny = t->ga_out[3].n;
    NIC_TRY(act_alloc(ctx, t, &t->y_q, ny));
    NIC_TRY(act_alloc(ctx, t, &t->v, ny));
    NIC_TRY(act_alloc(ctx, t, &t->sigma_q, ny));
    NIC_TRY(act_alloc(ctx, t, &t->yhat_q, ny));
    NIC_TRY(act_alloc(ctx, t, &t->yhat, ny));
    h = hy;
    w = wy;
    NIC_TRY(plan_chain(ctx, t, m->gs, t->gs, 4, &h, &w, t->gs_out));
    for (int i = 0; i < 3; i++) {
        size_t n = t->gs_out[i].n;
        NIC_TRY(act_alloc(ctx, t, &t->gs_gdn_out[i], n));
        NIC_TRY(act_alloc(ctx, t, &t->gs_norm[i], n));
        NIC_TRY(act_alloc(ctx, t, &t->gs_sq[i], n));
        NIC_TRY(plan_gdn(ctx, t, &m->gs_gdn[i], &t->gs_gdn[i], t->gs[i].b.h_out,
                         t->gs[i].b.w_out));
    }
    NIC_TRY(buf_alloc(ctx, t, &t->dz_extra, t->ha_out[2].n));
    NIC_TRY(buf_alloc(ctx, t, &t->q_hidden, (size_t)B * NIC_HYPER_Q_HIDDEN));
    NIC_TRY(buf_alloc(ctx, t, &t->log_step, (size_t)B * m->cfg.m));
    NIC_TRY(buf_alloc(ctx, t, &t->dlog_step, (size_t)B * m->cfg.m));
    NIC_TRY(buf_alloc(ctx, t, &t->rates, (size_t)2 * B));
    t->host_rates = malloc(sizeof(float) * 2 * B);
    if (!t->host_rates)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    return nn_cuda_sync(ctx, t->dev);
}

nic_status nic_hyper_cuda_create(nic_context *ctx, nn_cuda *dev, nic_hyper_model *m, int batch,
                                 int crop, nic_hyper_cuda **out)
{
    *out = NULL;
    if (batch < 1 || batch > 1024 || crop < 64 || crop % 64 != 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "GPU trainer: crop %d must be a positive multiple of 64, batch %d in 1..1024",
                        crop, batch);
    nic_hyper_cuda *t = calloc(1, sizeof(*t));
    if (!t)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory");
    t->dev = dev;
    t->m = m;
    t->batch = batch;
    t->crop = crop;
    t->first = 0;
    t->global = batch;
    nic_status st = create(ctx, t);
    if (st != NIC_OK) {
        nic_hyper_cuda_destroy(t);
        return nic_fail_prefix(ctx, "GPU trainer");
    }
    *out = t;
    return NIC_OK;
}

nic_status nic_hyper_cuda_set_shard(nic_context *ctx, nic_hyper_cuda *t, int first, int global)
{
    NIC_TRY(nic_hyper_check_shard(ctx, t->batch, first, global));
    t->first = first;
    t->global = global;
    return NIC_OK;
}

nn_cuda_params *nic_hyper_cuda_params(nic_hyper_cuda *t)
{
    return &t->p;
}

/* ---------------------------------------------------------------- blocks */

static nic_status conv_fwd(nic_context *ctx, nic_hyper_cuda *t, dconv *c, const float *x,
                           float *y)
{
    const float *w = nn_cuda_param_data(&t->p, c->b.weight);
    const float *b = nn_cuda_param_data(&t->p, c->b.bias);
    if (c->b.transposed)
        return nn_cuda_conv_transpose_forward(ctx, c->plan, x, w, b, y);
    return nn_cuda_conv_forward(ctx, c->plan, x, w, b, y);
}

static nic_status conv_bwd(nic_context *ctx, nic_hyper_cuda *t, dconv *c, const float *x,
                           const float *dy, float *dx)
{
    const float *w = nn_cuda_param_data(&t->p, c->b.weight);
    float *dw = nn_cuda_param_grad(&t->p, c->b.weight), *db = nn_cuda_param_grad(&t->p, c->b.bias);
    if (c->b.transposed) {
        NIC_TRY(nn_cuda_conv_transpose_backward_weights(ctx, c->plan, x, dy, dw, db));
        if (dx)
            NIC_TRY(nn_cuda_conv_transpose_backward_data(ctx, c->plan, dy, w, dx));
    } else {
        NIC_TRY(nn_cuda_conv_backward_weights(ctx, c->plan, x, dy, dw, db));
        if (dx)
            NIC_TRY(nn_cuda_conv_backward_data(ctx, c->plan, dy, w, dx));
    }
    return NIC_OK;
}

/* nic_gdn_block_forward */
static nic_status gdn_fwd(nic_context *ctx, nic_hyper_cuda *t, dgdn *g, const float *x, float *y,
                          float *sq, float *norm)
{
    nn_cuda *dev = t->dev;
    size_t c = (size_t)g->c;
    nn_cuda_gdn_reparam_forward(dev, nn_cuda_param_data(&t->p, g->beta), c, NN_GDN_BETA_MIN,
                                g->beta_eff);
    nn_cuda_gdn_reparam_forward(dev, nn_cuda_param_data(&t->p, g->gamma), c * c, 0.0,
                                g->gamma_eff);
    nn_cuda_square(dev, x, g->count, sq);
    NIC_TRY(nn_cuda_conv_forward(ctx, g->plan, sq, g->gamma_eff, g->beta_eff, norm));
    nn_cuda_gdn_apply(dev, x, norm, g->count, g->inverse, y);
    return NIC_OK;
}

/* nic_gdn_block_backward */
static nic_status gdn_bwd(nic_context *ctx, nic_hyper_cuda *t, dgdn *g, const float *x,
                          const float *sq, const float *norm, const float *dy, float *dx)
{
    nn_cuda *dev = t->dev;
    size_t c = (size_t)g->c;
    nn_cuda_gdn_apply_backward(dev, x, norm, dy, g->count, g->inverse, g->dnorm, dx);
    NIC_TRY(nn_cuda_zero(ctx, dev, g->dbeta_eff, c * sizeof(float)));
    NIC_TRY(nn_cuda_zero(ctx, dev, g->dgamma_eff, c * c * sizeof(float)));
    NIC_TRY(nn_cuda_conv_backward_weights(ctx, g->plan, sq, g->dnorm, g->dgamma_eff,
                                          g->dbeta_eff));
    NIC_TRY(nn_cuda_conv_backward_data(ctx, g->plan, g->dnorm, g->gamma_eff, g->dsq));
    nn_cuda_gdn_square_backward(dev, x, g->dsq, g->count, dx);
    nn_cuda_gdn_reparam_backward(dev, nn_cuda_param_data(&t->p, g->beta), g->dbeta_eff, c,
                                 NN_GDN_BETA_MIN, nn_cuda_param_grad(&t->p, g->beta));
    nn_cuda_gdn_reparam_backward(dev, nn_cuda_param_data(&t->p, g->gamma), g->dgamma_eff, c * c,
                                 0.0, nn_cuda_param_grad(&t->p, g->gamma));
    return NIC_OK;
}

/* ---------------------------------------------------------------- step */

nic_status nic_hyper_cuda_train_step(nic_context *ctx, nic_hyper_cuda *t, const float *x,
                                     const float *t_rate, nn_rng *rng, int train,
                                     nic_hyper_stats *stats)
{
    nic_hyper_model *m = t->m;
    nn_cuda *dev = t->dev;
    nn_cuda_params *p = &t->p;
    const int B = t->batch, M = m->cfg.m, G = t->global;
    const size_t S2 = (size_t)t->crop * t->crop, per = 3 * S2;

    /* Inputs: the crops, the rates and each sample's distortion factor. */
    for (int b = 0; b < B; b++) {
        double lambda = nic_hyper_lambda(t_rate[b]);
        t->host_rates[b] = t_rate[b];
        t->host_rates[B + b] = (float)(lambda * 255.0 * 255.0 * 2.0 / per / G);
    }
    NIC_TRY(nn_cuda_upload(ctx, dev, t->x, x, (size_t)B * per * sizeof(float)));
    NIC_TRY(nn_cuda_upload(ctx, dev, t->rates, t->host_rates, sizeof(float) * 2 * B));
    const float *d_rate = t->rates, *d_g = t->rates + B;
    nn_cuda_sums_reset(dev);

    /* ---- analysis */
    const float *in = t->x;
    for (int i = 0; i < 4; i++) {
        NIC_TRY(conv_fwd(ctx, t, &t->ga[i], in, t->ga_out[i].v));
        if (i < 3) {
            NIC_TRY(gdn_fwd(ctx, t, &t->ga_gdn[i], t->ga_out[i].v, t->ga_gdn_out[i].v,
                            t->ga_sq[i].v, t->ga_norm[i].v));
            in = t->ga_gdn_out[i].v;
        }
    }
    const float *y = t->ga_out[3].v;
    NIC_TRY(conv_fwd(ctx, t, &t->ha[0], y, t->ha_out[0].v));
    nn_cuda_relu_forward(dev, t->ha_out[0].v, t->ha_out[0].n, t->ha_relu[0].v);
    NIC_TRY(conv_fwd(ctx, t, &t->ha[1], t->ha_relu[0].v, t->ha_out[1].v));
    nn_cuda_relu_forward(dev, t->ha_out[1].v, t->ha_out[1].n, t->ha_relu[1].v);
    NIC_TRY(conv_fwd(ctx, t, &t->ha[2], t->ha_relu[1].v, t->ha_out[2].v));
    const float *z = t->ha_out[2].v;
    size_t nzc = t->z_tilde.n;
    const uint64_t seed = train ? nn_rng_next(rng) : 0;
    if (train)
        nn_cuda_noise_forward(dev, z, B, nzc / B, t->first, 0, seed, t->z_tilde.v);
    else
        nn_cuda_round(dev, z, nzc, t->z_tilde.v);

    /* ---- hyper-synthesis: mean and log-scale */
    dconv *heads[2] = {t->hm, t->hs};
    dact *outs[2] = {t->hm_out, t->hs_out}, *relus[2] = {t->hm_relu, t->hs_relu};
    for (int h = 0; h < 2; h++) {
        NIC_TRY(conv_fwd(ctx, t, &heads[h][0], t->z_tilde.v, outs[h][0].v));
        nn_cuda_relu_forward(dev, outs[h][0].v, outs[h][0].n, relus[h][0].v);
        NIC_TRY(conv_fwd(ctx, t, &heads[h][1], relus[h][0].v, outs[h][1].v));
        nn_cuda_relu_forward(dev, outs[h][1].v, outs[h][1].n, relus[h][1].v);
        NIC_TRY(conv_fwd(ctx, t, &heads[h][2], relus[h][1].v, outs[h][2].v));
    }
    const float *mu = t->hm_out[2].v, *log_scale = t->hs_out[2].v;

    /* ---- adaptive quantization */
    nn_cuda_hyper_q_forward(dev, nn_cuda_param_data(p, m->q1_w), nn_cuda_param_data(p, m->q1_b),
                            nn_cuda_param_data(p, m->q2_w), nn_cuda_param_data(p, m->q2_b),
                            d_rate, B, M, NIC_HYPER_Q_HIDDEN, NIC_HYPER_Q_OFFSET,
                            NIC_HYPER_Q_SLOPE, t->q_hidden, t->log_step);
    nn_cuda_hyper_quantize(dev, y, mu, log_scale, t->log_step, B, M, t->hw_y, t->first, seed,
                           train, NIC_HYPER_LOG_SCALE_MIN, NIC_HYPER_LOG_SCALE_MAX, t->y_q.v,
                           t->sigma_q.v, t->yhat_q.v, t->yhat.v, t->v.v);

    /* ---- synthesis */
    in = t->yhat.v;
    for (int i = 0; i < 4; i++) {
        NIC_TRY(conv_fwd(ctx, t, &t->gs[i], in, t->gs_out[i].v));
        if (i < 3) {
            NIC_TRY(gdn_fwd(ctx, t, &t->gs_gdn[i], t->gs_out[i].v, t->gs_gdn_out[i].v,
                            t->gs_sq[i].v, t->gs_norm[i].v));
            in = t->gs_gdn_out[i].v;
        }
    }
    const float *xhat = t->gs_out[3].v;

    /* ---- loss: sums in slots 0 (bits of y), 1 (bits of z), 2.. (squared error per sample) */
    const float rate_scale = 1.0f / ((float)S2 * G);
    int slot_y, slot_z, slot_sse;
    NIC_TRY(nn_cuda_gaussian_rate(ctx, dev, t->v.v, t->sigma_q.v, t->v.n, rate_scale,
                                  train ? t->v.d : NULL, train ? t->sigma_q.d : NULL, &slot_y));
    NIC_TRY(nn_cuda_fp_rate(ctx, dev, nn_cuda_param_data(p, m->prior), t->z_tilde.v, B,
                            m->cfg.nz, t->hw_z, rate_scale, train ? t->z_tilde.d : NULL,
                            train ? nn_cuda_param_grad(p, m->prior) : NULL, &slot_z));
    NIC_TRY(nn_cuda_sse(ctx, dev, xhat, t->x, B, per, d_g, train ? t->gs_out[3].d : NULL,
                        &slot_sse));

    if (train) {
        /* ---- backward: synthesis */
        for (int i = 3; i >= 0; i--) {
            const float *xin = i == 0 ? t->yhat.v : t->gs_gdn_out[i - 1].v;
            float *dxin = i == 0 ? t->yhat.d : t->gs_gdn_out[i - 1].d;
            NIC_TRY(conv_bwd(ctx, t, &t->gs[i], xin, t->gs_out[i].d, dxin));
            if (i > 0)
                NIC_TRY(gdn_bwd(ctx, t, &t->gs_gdn[i - 1], t->gs_out[i - 1].v,
                                t->gs_sq[i - 1].v, t->gs_norm[i - 1].v, t->gs_gdn_out[i - 1].d,
                                t->gs_out[i - 1].d));
        }
        /* ---- backward: quantization and the step network */
        float *dy = t->ga_out[3].d;
        nn_cuda_hyper_quantize_backward(dev, mu, log_scale, t->log_step, t->y_q.v, t->sigma_q.v,
                                        t->yhat_q.v, t->yhat.d, t->v.d, t->sigma_q.d, B, M,
                                        t->hw_y, NIC_HYPER_LOG_SCALE_MIN,
                                        NIC_HYPER_LOG_SCALE_MAX, dy, t->hm_out[2].d,
                                        t->hs_out[2].d, t->dlog_step);
        nn_cuda_hyper_q_backward(dev, nn_cuda_param_data(p, m->q2_w), d_rate, t->q_hidden,
                                 t->dlog_step, B, M, NIC_HYPER_Q_HIDDEN,
                                 nn_cuda_param_grad(p, m->q1_w), nn_cuda_param_grad(p, m->q1_b),
                                 nn_cuda_param_grad(p, m->q2_w), nn_cuda_param_grad(p, m->q2_b));
        /* ---- backward: hyper-synthesis heads into z~ (the rate gradient kept apart) */
        float *dzt[2] = {t->z_tilde.d, t->dz_extra};
        float *dz_rate = t->ha_out[2].d;
        NIC_TRY(nn_cuda_zero(ctx, dev, dz_rate, nzc * sizeof(float)));
        nn_cuda_add(dev, t->z_tilde.d, nzc, dz_rate);
        for (int h = 0; h < 2; h++) {
            NIC_TRY(conv_bwd(ctx, t, &heads[h][2], relus[h][1].v, outs[h][2].d, relus[h][1].d));
            nn_cuda_relu_backward(dev, outs[h][1].v, relus[h][1].d, outs[h][1].n, outs[h][1].d);
            NIC_TRY(conv_bwd(ctx, t, &heads[h][1], relus[h][0].v, outs[h][1].d, relus[h][0].d));
            nn_cuda_relu_backward(dev, outs[h][0].v, relus[h][0].d, outs[h][0].n, outs[h][0].d);
            NIC_TRY(conv_bwd(ctx, t, &heads[h][0], t->z_tilde.v, outs[h][0].d, dzt[h]));
        }
        nn_cuda_add(dev, t->z_tilde.d, nzc, dz_rate);
        nn_cuda_add(dev, t->dz_extra, nzc, dz_rate);
        /* ---- backward: hyper-analysis */
        NIC_TRY(conv_bwd(ctx, t, &t->ha[2], t->ha_relu[1].v, t->ha_out[2].d, t->ha_relu[1].d));
        nn_cuda_relu_backward(dev, t->ha_out[1].v, t->ha_relu[1].d, t->ha_out[1].n,
                              t->ha_out[1].d);
        NIC_TRY(conv_bwd(ctx, t, &t->ha[1], t->ha_relu[0].v, t->ha_out[1].d, t->ha_relu[0].d));
        nn_cuda_relu_backward(dev, t->ha_out[0].v, t->ha_relu[0].d, t->ha_out[0].n,
                              t->ha_out[0].d);
        float *dy_h = t->y_q.d; /* scratch of y's size */
        NIC_TRY(conv_bwd(ctx, t, &t->ha[0], y, t->ha_out[0].d, dy_h));
        nn_cuda_add(dev, dy_h, t->ga_out[3].n, dy);
        /* ---- backward: analysis */
        for (int i = 3; i >= 0; i--) {
            const float *xin = i == 0 ? t->x : t->ga_gdn_out[i - 1].v;
            float *dxin = i == 0 ? NULL : t->ga_gdn_out[i - 1].d;
            NIC_TRY(conv_bwd(ctx, t, &t->ga[i], xin, t->ga_out[i].d, dxin));
            if (i > 0)
                NIC_TRY(gdn_bwd(ctx, t, &t->ga_gdn[i - 1], t->ga_out[i - 1].v,
                                t->ga_sq[i - 1].v, t->ga_norm[i - 1].v, t->ga_gdn_out[i - 1].d,
                                t->ga_out[i - 1].d));
        }
    }

    /* One sync: the step's sums come back. */
    double sums[2 + 1024]; /* batch <= 1024 (create) */
    NIC_TRY(nn_cuda_sums_read(ctx, dev, sums, slot_sse + B));
    double bits_y = sums[slot_y], bits_z = sums[slot_z], sse_total = 0, loss = 0;
    for (int b = 0; b < B; b++) {
        double sse = sums[slot_sse + b];
        loss += nic_hyper_lambda(t_rate[b]) * (sse / per * 255.0 * 255.0);
        sse_total += sse;
    }
    if (stats)
        nic_hyper_stats_from_sums(bits_y, bits_z, sse_total, loss, S2, B, G, stats);
    return nn_cuda_sync(ctx, dev);
}
