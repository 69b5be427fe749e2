#include "models/mnist_ae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/likelihood.h"
#include "nn/ssim_loss.h"

#define S1 NIC_MNIST_SIDE            /* 28 */
#define S2 (NIC_MNIST_SIDE / 2)      /* 14 */
#define S3 NIC_MNIST_LATENT_SIDE     /* 7 */
#define LOG_SCALE_MIN (-7.0f)
#define LOG_SCALE_MAX (7.0f)

void nic_mnist_ae_config_default(nic_mnist_ae_config *cfg)
{
    cfg->c1 = 16;
    cfg->c2 = 48;
    cfg->latent = 8;
    cfg->levels = 8;
    cfg->lambda_min = 150.0f;
    cfg->lambda_max = 15000.0f;
    cfg->mse_weight = 1.0f;
}

double nic_mnist_ae_lambda(const nic_mnist_ae_config *cfg, int level)
{
    if (cfg->levels <= 1)
        return cfg->lambda_max;
    double t = (double)level / (cfg->levels - 1);
    return exp(log(cfg->lambda_min) + t * (log(cfg->lambda_max) - log(cfg->lambda_min)));
}

int nic_mnist_ae_latent_count(const nic_mnist_ae *m)
{
    return m->cfg.latent * NIC_MNIST_LATENT_HW;
}

nic_status nic_mnist_ae_create(nic_context *ctx, const nic_mnist_ae_config *cfg,
                               nic_mnist_ae *m)
{
    memset(m, 0, sizeof(*m));
    if (cfg->c1 < 1 || cfg->c2 < 1 || cfg->latent < 1 || cfg->c1 > 1024 || cfg->c2 > 1024 ||
        cfg->latent > 1024 || cfg->levels < 1 || cfg->levels > NIC_MNIST_MAX_LEVELS ||
        !(cfg->lambda_min > 0) || !(cfg->lambda_max >= cfg->lambda_min) ||
        !(cfg->mse_weight >= 0))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist model: bad configuration (channels %d,%d,%d, %d levels, "
                        "lambda %g..%g, mse weight %g)",
                        cfg->c1, cfg->c2, cfg->latent, cfg->levels, cfg->lambda_min,
                        cfg->lambda_max, cfg->mse_weight);
    m->cfg = *cfg;
    nn_params_init(&m->params);
    nn_params *p = &m->params;
    const int c1 = cfg->c1, c2 = cfg->c2, C = cfg->latent;
    const int enc_in[4] = {1, c1, c2, c2}, enc_out[4] = {c1, c2, c2, C};
    const int dec_in[5] = {C, c2, c2, c1, c1}, dec_out[5] = {c2, c2, c1, c1, 1};
    char name[32];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "enc.%d", i);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, enc_in[i], enc_out[i], 3, 1, 0, &m->enc[i]));
    }
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "dec.%d", i);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, dec_in[i], dec_out[i], 3, 1, 0, &m->dec[i]));
    }
    int64_t ys[3] = {C, S3, S3}, ls[2] = {cfg->levels, C};
    NIC_TRY(nn_params_add(ctx, p, "prior.mean", 3, ys, 0, &m->latent_mean));
    NIC_TRY(nn_params_add(ctx, p, "prior.log_scale", 3, ys, 0, &m->latent_log_scale));
    NIC_TRY(nn_params_add(ctx, p, "quant.log_step", 2, ls, 0, &m->log_step));
    return nn_params_alloc(ctx, p);
}

void nic_mnist_ae_free(nic_mnist_ae *m)
{
    nn_params_free(&m->params);
    memset(m, 0, sizeof(*m));
}

void nic_mnist_ae_init(nic_mnist_ae *m, nn_rng *rng)
{
    nn_params *p = &m->params;
    for (int i = 0; i < 4; i++)
        nic_conv_block_init(&m->enc[i], p, rng);
    for (int i = 0; i < 5; i++)
        nic_conv_block_init(&m->dec[i], p, rng);
    size_t n = (size_t)nic_mnist_ae_latent_count(m);
    memset(nn_param_data(p, m->latent_mean), 0, n * sizeof(float));
    memset(nn_param_data(p, m->latent_log_scale), 0, n * sizeof(float));
    /* Coarse steps at the low levels, fine at the high ones; training moves them. */
    float *ls = nn_param_data(p, m->log_step);
    for (int l = 0; l < m->cfg.levels; l++) {
        float t = m->cfg.levels > 1 ? (float)l / (m->cfg.levels - 1) : 1.0f;
        for (int c = 0; c < m->cfg.latent; c++)
            ls[l * m->cfg.latent + c] = 1.0f - 2.0f * t;
    }
}

/* ---------------------------------------------------------------- trainer */

typedef struct act {
    float *v, *d;
    size_t n;
} act;

struct nic_mnist_ae_trainer {
    nic_mnist_ae *m;
    int batch;
    act e[4], er[3], ep[2];   /* encoder convs, ReLUs, pools */
    int32_t *argmax[2];
    act yq, v, sigma_q, yhat_q, yhat;
    act d[5], dr[4], du[2];   /* decoder convs, ReLUs, upsamplings */
    act xhat;
    act *all[32];
    int nall;
    double *ssim_work;
};

static nic_status act_alloc(nic_context *ctx, nic_mnist_ae_trainer *t, act *a, size_t n)
{
    a->n = n;
    a->v = nn_alloc(n * sizeof(float));
    a->d = nn_alloc(n * sizeof(float));
    t->all[t->nall++] = a;
    if (!a->v || !a->d)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist trainer: out of memory (%zu floats)", n);
    return NIC_OK;
}

void nic_mnist_ae_trainer_destroy(nic_mnist_ae_trainer *t)
{
    if (!t)
        return;
    for (int i = 0; i < 4; i++)
        nic_conv_block_release(&t->m->enc[i]);
    for (int i = 0; i < 5; i++)
        nic_conv_block_release(&t->m->dec[i]);
    for (int i = 0; i < t->nall; i++) {
        nn_free(t->all[i]->v);
        nn_free(t->all[i]->d);
    }
    nn_free(t->argmax[0]);
    nn_free(t->argmax[1]);
    nn_free(t->ssim_work);
    free(t);
}

int nic_mnist_ae_trainer_batch(const nic_mnist_ae_trainer *t)
{
    return t->batch;
}

static nic_status trainer_plan(nic_context *ctx, nn_engine *eng, nic_mnist_ae_trainer *t,
                               unsigned flags)
{
    nic_mnist_ae *m = t->m;
    const int B = t->batch, c1 = m->cfg.c1, c2 = m->cfg.c2, C = m->cfg.latent;
    const size_t b = (size_t)B;
    const int enc_side[4] = {S1, S2, S3, S3}, dec_side[5] = {S3, S3, S2, S1, S1};
    for (int i = 0; i < 4; i++) {
        NIC_TRY(nic_conv_block_plan(ctx, eng, &m->enc[i], B, enc_side[i], enc_side[i], flags));
        NIC_TRY(act_alloc(ctx, t, &t->e[i], nic_conv_block_out_count(&m->enc[i])));
        if (i < 3)
            NIC_TRY(act_alloc(ctx, t, &t->er[i], t->e[i].n));
    }
    for (int i = 0; i < 5; i++) {
        NIC_TRY(nic_conv_block_plan(ctx, eng, &m->dec[i], B, dec_side[i], dec_side[i], flags));
        NIC_TRY(act_alloc(ctx, t, &t->d[i], nic_conv_block_out_count(&m->dec[i])));
        if (i < 4)
            NIC_TRY(act_alloc(ctx, t, &t->dr[i], t->d[i].n));
    }
    NIC_TRY(act_alloc(ctx, t, &t->ep[0], b * c1 * S2 * S2));
    NIC_TRY(act_alloc(ctx, t, &t->ep[1], b * c2 * S3 * S3));
    NIC_TRY(act_alloc(ctx, t, &t->du[0], b * c2 * S2 * S2));
    NIC_TRY(act_alloc(ctx, t, &t->du[1], b * c1 * S1 * S1));
    const size_t ny = b * C * NIC_MNIST_LATENT_HW;
    act *q[5] = {&t->yq, &t->v, &t->sigma_q, &t->yhat_q, &t->yhat};
    for (int i = 0; i < 5; i++)
        NIC_TRY(act_alloc(ctx, t, q[i], ny));
    NIC_TRY(act_alloc(ctx, t, &t->xhat, b * NIC_MNIST_PIXELS));
    t->argmax[0] = nn_alloc(t->ep[0].n * sizeof(int32_t));
    t->argmax[1] = nn_alloc(t->ep[1].n * sizeof(int32_t));
    t->ssim_work = nn_alloc(nn_ssim_work_size(S1, S1) * sizeof(double));
    if (!t->argmax[0] || !t->argmax[1] || !t->ssim_work)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist trainer: out of memory");
    return NIC_OK;
}

nic_status nic_mnist_ae_trainer_create(nic_context *ctx, nn_engine *eng, nic_mnist_ae *m,
                                       int batch, unsigned conv_flags,
                                       nic_mnist_ae_trainer **out)
{
    *out = NULL;
    if (batch < 1 || batch > 65536)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "mnist trainer: batch %d not in 1..65536",
                        batch);
    nic_mnist_ae_trainer *t = calloc(1, sizeof(*t));
    if (!t)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist trainer: out of memory");
    t->m = m;
    t->batch = batch;
    nic_status st = trainer_plan(ctx, eng, t, conv_flags);
    if (st != NIC_OK) {
        nic_mnist_ae_trainer_destroy(t);
        return st;
    }
    *out = t;
    return NIC_OK;
}

/* ---------------------------------------------------------------- passes */

static nic_status encoder_forward(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x)
{
    nic_mnist_ae *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, c1 = m->cfg.c1, c2 = m->cfg.c2;
    NIC_TRY(nic_conv_block_forward(ctx, &m->enc[0], p, x, t->e[0].v));
    nn_relu_forward(t->e[0].v, t->e[0].n, t->er[0].v);
    nn_maxpool2d_forward(t->er[0].v, B, c1, S1, S1, 2, 2, t->ep[0].v, t->argmax[0]);
    NIC_TRY(nic_conv_block_forward(ctx, &m->enc[1], p, t->ep[0].v, t->e[1].v));
    nn_relu_forward(t->e[1].v, t->e[1].n, t->er[1].v);
    nn_maxpool2d_forward(t->er[1].v, B, c2, S2, S2, 2, 2, t->ep[1].v, t->argmax[1]);
    NIC_TRY(nic_conv_block_forward(ctx, &m->enc[2], p, t->ep[1].v, t->e[2].v));
    nn_relu_forward(t->e[2].v, t->e[2].n, t->er[2].v);
    return nic_conv_block_forward(ctx, &m->enc[3], p, t->er[2].v, t->e[3].v);
}

static nic_status decoder_forward(nic_context *ctx, nic_mnist_ae_trainer *t, const float *yhat)
{
    nic_mnist_ae *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, c1 = m->cfg.c1, c2 = m->cfg.c2;
    NIC_TRY(nic_conv_block_forward(ctx, &m->dec[0], p, yhat, t->d[0].v));
    nn_relu_forward(t->d[0].v, t->d[0].n, t->dr[0].v);
    NIC_TRY(nic_conv_block_forward(ctx, &m->dec[1], p, t->dr[0].v, t->d[1].v));
    nn_relu_forward(t->d[1].v, t->d[1].n, t->dr[1].v);
    nn_upsample_nearest_forward(t->dr[1].v, B, c2, S3, S3, 2, t->du[0].v);
    NIC_TRY(nic_conv_block_forward(ctx, &m->dec[2], p, t->du[0].v, t->d[2].v));
    nn_relu_forward(t->d[2].v, t->d[2].n, t->dr[2].v);
    nn_upsample_nearest_forward(t->dr[2].v, B, c1, S2, S2, 2, t->du[1].v);
    NIC_TRY(nic_conv_block_forward(ctx, &m->dec[3], p, t->du[1].v, t->d[3].v));
    nn_relu_forward(t->d[3].v, t->d[3].n, t->dr[3].v);
    NIC_TRY(nic_conv_block_forward(ctx, &m->dec[4], p, t->dr[3].v, t->d[4].v));
    nn_sigmoid_forward(t->d[4].v, t->d[4].n, t->xhat.v);
    return NIC_OK;
}

/* Backward from t->xhat.d into t->yhat.d. */
static nic_status decoder_backward(nic_context *ctx, nic_mnist_ae_trainer *t)
{
    nic_mnist_ae *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, c1 = m->cfg.c1, c2 = m->cfg.c2;
    nn_sigmoid_backward(t->xhat.v, t->xhat.d, t->xhat.n, t->d[4].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->dec[4], p, t->dr[3].v, t->d[4].d, t->dr[3].d));
    nn_relu_backward(t->d[3].v, t->dr[3].d, t->d[3].n, t->d[3].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->dec[3], p, t->du[1].v, t->d[3].d, t->du[1].d));
    nn_upsample_nearest_backward(t->du[1].d, B, c1, S2, S2, 2, t->dr[2].d);
    nn_relu_backward(t->d[2].v, t->dr[2].d, t->d[2].n, t->d[2].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->dec[2], p, t->du[0].v, t->d[2].d, t->du[0].d));
    nn_upsample_nearest_backward(t->du[0].d, B, c2, S3, S3, 2, t->dr[1].d);
    nn_relu_backward(t->d[1].v, t->dr[1].d, t->d[1].n, t->d[1].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->dec[1], p, t->dr[0].v, t->d[1].d, t->dr[0].d));
    nn_relu_backward(t->d[0].v, t->dr[0].d, t->d[0].n, t->d[0].d);
    return nic_conv_block_backward(ctx, &m->dec[0], p, t->yhat.v, t->d[0].d, t->yhat.d);
}

/* Backward from t->e[3].d (dy) to the parameters of the encoder. */
static nic_status encoder_backward(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x)
{
    nic_mnist_ae *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, c1 = m->cfg.c1, c2 = m->cfg.c2;
    NIC_TRY(nic_conv_block_backward(ctx, &m->enc[3], p, t->er[2].v, t->e[3].d, t->er[2].d));
    nn_relu_backward(t->e[2].v, t->er[2].d, t->e[2].n, t->e[2].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->enc[2], p, t->ep[1].v, t->e[2].d, t->ep[1].d));
    nn_maxpool2d_backward(t->ep[1].d, t->argmax[1], B, c2, S2, S2, 2, 2, t->er[1].d);
    nn_relu_backward(t->e[1].v, t->er[1].d, t->e[1].n, t->e[1].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->enc[1], p, t->ep[0].v, t->e[1].d, t->ep[0].d));
    nn_maxpool2d_backward(t->ep[0].d, t->argmax[0], B, c1, S1, S1, 2, 2, t->er[0].d);
    nn_relu_backward(t->e[0].v, t->er[0].d, t->e[0].n, t->e[0].d);
    return nic_conv_block_backward(ctx, &m->enc[0], p, x, t->e[0].d, NULL);
}

nic_status nic_mnist_ae_analyze(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x,
                                const float **y)
{
    NIC_TRY(encoder_forward(ctx, t, x));
    *y = t->e[3].v;
    return NIC_OK;
}

nic_status nic_mnist_ae_synthesize(nic_context *ctx, nic_mnist_ae_trainer *t, const float *yhat,
                                   const float **xhat)
{
    NIC_TRY(decoder_forward(ctx, t, yhat));
    *xhat = t->xhat.v;
    return NIC_OK;
}

static float clamp_log_scale(float ls)
{
    return ls < LOG_SCALE_MIN ? LOG_SCALE_MIN : (ls > LOG_SCALE_MAX ? LOG_SCALE_MAX : ls);
}

nic_status nic_mnist_ae_step(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x,
                             const int *level, nn_rng *rng, int train, nic_mnist_ae_stats *stats,
                             nic_mnist_ae_stats *per_image)
{
    nic_mnist_ae *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, C = m->cfg.latent, L = m->cfg.levels;
    const size_t hw = NIC_MNIST_LATENT_HW, per = (size_t)C * hw;
    for (int b = 0; b < B; b++)
        if (level[b] < 0 || level[b] >= L)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "mnist model: level %d of image %d not in 0..%d", level[b], b, L - 1);
    NIC_TRY(encoder_forward(ctx, t, x));
    const float *y = t->e[3].v;
    const float *mu = nn_param_data(p, m->latent_mean);
    const float *lsig = nn_param_data(p, m->latent_log_scale);
    const float *lstep = nn_param_data(p, m->log_step);

    /* ---- quantization in units of the level's step */
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            float step = expf(lstep[level[b] * C + c]);
            for (size_t i = 0; i < hw; i++) {
                size_t e = (size_t)c * hw + i, k = (size_t)b * per + e;
                float yq = y[k] / step, mq = mu[e] / step;
                float r = nearbyintf(yq - mq);
                float u = train ? nn_rng_uniform(rng) - 0.5f : 0.0f;
                float q = train == 2 ? yq - mq + u : r;
                t->yq.v[k] = yq;
                t->sigma_q.v[k] = expf(clamp_log_scale(lsig[e])) / step;
                t->v.v[k] = train ? yq - mq + u : r;
                t->yhat_q.v[k] = q + mq;
                t->yhat.v[k] = (q + mq) * step;
            }
        }
    }
    NIC_TRY(decoder_forward(ctx, t, t->yhat.v));

    /* ---- loss per image: bits + lambda (1 - SSIM + w MSE) */
    const float *xh = t->xhat.v;
    const double inv_b = 1.0 / B;
    const double w_mse = m->cfg.mse_weight;
    double sum_loss = 0, sum_bits = 0, sum_ssim = 0, sum_mse = 0, sum_acc = 0;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * per;
        double bits = nic_gaussian_rate(t->v.v + o, t->sigma_q.v + o, per, (float)inv_b,
                                        train ? t->v.d + o : NULL,
                                        train ? t->sigma_q.d + o : NULL);
        double lambda = nic_mnist_ae_lambda(&m->cfg, level[b]);
        const float *xa = x + (size_t)b * NIC_MNIST_PIXELS, *xb = xh + (size_t)b * NIC_MNIST_PIXELS;
        float *dx = t->xhat.d + (size_t)b * NIC_MNIST_PIXELS;
        double ssim = nn_ssim_loss(xa, xb, 1, S1, S1, -lambda * inv_b, NULL,
                                   train ? dx : NULL, t->ssim_work);
        double sse = 0;
        int agree = 0;
        float g = (float)(lambda * w_mse * 2.0 / NIC_MNIST_PIXELS * inv_b);
        for (int i = 0; i < NIC_MNIST_PIXELS; i++) {
            double d = (double)xb[i] - xa[i];
            sse += d * d;
            agree += (xa[i] >= 0.5f) == (xb[i] >= 0.5f);
            if (train)
                dx[i] += g * (xb[i] - xa[i]);
        }
        double mse = sse / NIC_MNIST_PIXELS, acc = (double)agree / NIC_MNIST_PIXELS;
        double loss = bits + lambda * (1.0 - ssim + w_mse * mse);
        if (per_image)
            per_image[b] = (nic_mnist_ae_stats){loss, bits, ssim, mse, acc};
        sum_bits += bits;
        sum_ssim += ssim;
        sum_mse += mse;
        sum_acc += acc;
        sum_loss += loss;
    }
    if (stats) {
        stats->loss = sum_loss * inv_b;
        stats->bits = sum_bits * inv_b;
        stats->ssim = sum_ssim * inv_b;
        stats->mse = sum_mse * inv_b;
        stats->accuracy = sum_acc * inv_b;
    }
    if (!train)
        return NIC_OK;

    /* ---- backward */
    NIC_TRY(decoder_backward(ctx, t));
    float *dy = t->e[3].d;
    float *dmu = nn_param_grad(p, m->latent_mean);
    float *dlsig = nn_param_grad(p, m->latent_log_scale);
    float *dlstep = nn_param_grad(p, m->log_step);
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < C; c++) {
            float step = expf(lstep[level[b] * C + c]);
            double dstep = 0;
            for (size_t i = 0; i < hw; i++) {
                size_t e = (size_t)c * hw + i, k = (size_t)b * per + e;
                float dyhat = t->yhat.d[k];
                float dyq = dyhat * step + t->v.d[k]; /* straight-through rounding + rate */
                float dmq = -t->v.d[k];
                float sq = t->sigma_q.v[k];
                float mq = mu[e] / step;
                dstep += (double)dyhat * t->yhat_q.v[k] - (double)dyq * t->yq.v[k] / step -
                         (double)dmq * mq / step - (double)t->sigma_q.d[k] * sq / step;
                dy[k] = dyq / step;
                dmu[e] += dmq / step;
                if (lsig[e] > LOG_SCALE_MIN && lsig[e] < LOG_SCALE_MAX)
                    dlsig[e] += t->sigma_q.d[k] * sq;
            }
            dlstep[level[b] * C + c] += (float)(dstep * step);
        }
    }
    return encoder_backward(ctx, t, x);
}
