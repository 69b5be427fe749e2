#include "models/hyper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/context.h"
#include "models/likelihood.h"
#include "nn/layers.h"
#include "nn/safetensors.h"

#define LOG_SCALE_MIN NIC_HYPER_LOG_SCALE_MIN
#define LOG_SCALE_MAX NIC_HYPER_LOG_SCALE_MAX

void nic_hyper_config_default(nic_hyper_config *cfg)
{
    cfg->n = 96;
    cfg->m = 128;
    cfg->nz = 64;
    cfg->ctx = 0;
}

double nic_hyper_lambda(double t)
{
    return exp(log(NIC_HYPER_LAMBDA_MIN) + t * (log(NIC_HYPER_LAMBDA_MAX) - log(NIC_HYPER_LAMBDA_MIN)));
}

double nic_hyper_lambda_msssim(double t)
{
    return exp(log(NIC_HYPER_MSSSIM_LAMBDA_MIN) +
               t * (log(NIC_HYPER_MSSSIM_LAMBDA_MAX) - log(NIC_HYPER_MSSSIM_LAMBDA_MIN)));
}

const char *nic_hyper_distortion_name(nic_hyper_distortion d)
{
    return d == NIC_HYPER_MSSSIM ? "ms-ssim" : "mse";
}

int nic_hyper_distortion_parse(const char *name)
{
    if (name && strcmp(name, "mse") == 0)
        return NIC_HYPER_MSE;
    if (name && strcmp(name, "ms-ssim") == 0)
        return NIC_HYPER_MSSSIM;
    return -1;
}

static nic_status declare(nic_context *ctx, const nic_hyper_config *cfg, nic_hyper_model *m)
{
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    nn_params_init(&m->params);
    nn_params *p = &m->params;
    const int n = cfg->n, M = cfg->m, nz = cfg->nz;
    char name[64];
    /* Names follow CompressAI's modules (g_a.0, g_a.1 = GDN, ...). */
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "g_a.%d", 2 * i);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, i == 0 ? 3 : n, i == 3 ? M : n, 5, 2, 0,
                                       &m->ga[i]));
        if (i < 3) {
            snprintf(name, sizeof(name), "g_a.%d", 2 * i + 1);
            NIC_TRY(nic_gdn_block_declare(ctx, p, name, n, 0, &m->ga_gdn[i]));
        }
    }
    NIC_TRY(nic_conv_block_declare(ctx, p, "h_a.0", M, n, 3, 1, 0, &m->ha[0]));
    NIC_TRY(nic_conv_block_declare(ctx, p, "h_a.2", n, n, 5, 2, 0, &m->ha[1]));
    NIC_TRY(nic_conv_block_declare(ctx, p, "h_a.4", n, nz, 5, 2, 0, &m->ha[2]));
    const char *heads[2] = {"h_s_mean", "h_s_scale"};
    nic_conv_block *blocks[2] = {m->hm, m->hs};
    for (int h = 0; h < 2; h++) {
        snprintf(name, sizeof(name), "%s.0", heads[h]);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, nz, n, 5, 2, 1, &blocks[h][0]));
        snprintf(name, sizeof(name), "%s.2", heads[h]);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, n, n, 5, 2, 1, &blocks[h][1]));
        snprintf(name, sizeof(name), "%s.4", heads[h]);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, n, M, 3, 1, 0, &blocks[h][2]));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "g_s.%d", 2 * i);
        NIC_TRY(nic_conv_block_declare(ctx, p, name, i == 0 ? M : n, i == 3 ? 3 : n, 5, 2, 1,
                                       &m->gs[i]));
        if (i < 3) {
            snprintf(name, sizeof(name), "g_s.%d", 2 * i + 1);
            NIC_TRY(nic_gdn_block_declare(ctx, p, name, n, 1, &m->gs_gdn[i]));
        }
    }
    if (cfg->ctx < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "hyper model: context width %d", cfg->ctx);
    if (cfg->ctx > 0) {
        NIC_TRY(nic_conv_block_declare(ctx, p, "ctx.0", nic_hyper_ctx_k(cfg) * M, cfg->ctx,
                                       1, 1, 0, &m->cx[0]));
        NIC_TRY(nic_conv_block_declare(ctx, p, "ctx.2", cfg->ctx, 2 * M, 1, 1, 0, &m->cx[1]));
        for (int i = 0; i < 2; i++) {
            p->items[m->cx[i].weight].group = NIC_HYPER_CTX_GROUP;
            p->items[m->cx[i].bias].group = NIC_HYPER_CTX_GROUP;
        }
    }
    int64_t s1[2] = {NIC_HYPER_Q_HIDDEN, 1}, s2[2] = {M, NIC_HYPER_Q_HIDDEN};
    int64_t b1[1] = {NIC_HYPER_Q_HIDDEN}, b2[1] = {M};
    NIC_TRY(nn_params_add(ctx, p, "q.0.weight", 2, s1, 0, &m->q1_w));
    NIC_TRY(nn_params_add(ctx, p, "q.0.bias", 1, b1, 0, &m->q1_b));
    NIC_TRY(nn_params_add(ctx, p, "q.2.weight", 2, s2, 0, &m->q2_w));
    NIC_TRY(nn_params_add(ctx, p, "q.2.bias", 1, b2, 0, &m->q2_b));
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    int64_t ps[2] = {nz, (int64_t)l.count};
    NIC_TRY(nn_params_add(ctx, p, "z_prior", 2, ps, 0, &m->prior));
    return NIC_OK;
}

static nic_status create(nic_context *ctx, const nic_hyper_config *cfg, nic_hyper_model *m,
                         int values_only)
{
    nic_status st = declare(ctx, cfg, m);
    if (st == NIC_OK)
        st = values_only ? nn_params_alloc_values(ctx, &m->params) : nn_params_alloc(ctx, &m->params);
    if (st != NIC_OK)
        nic_hyper_model_free(m);
    return st;
}

nic_status nic_hyper_model_create(nic_context *ctx, const nic_hyper_config *cfg,
                                  nic_hyper_model *m)
{
    return create(ctx, cfg, m, 0);
}

nic_status nic_hyper_model_create_values(nic_context *ctx, const nic_hyper_config *cfg,
                                         nic_hyper_model *m)
{
    return create(ctx, cfg, m, 1);
}

void nic_hyper_model_free(nic_hyper_model *m)
{
    nn_params_free(&m->params);
    memset(m, 0, sizeof(*m));
}

void nic_hyper_model_init(nic_hyper_model *m, nn_rng *rng)
{
    nn_params *p = &m->params;
    for (int i = 0; i < 4; i++) {
        nic_conv_block_init(&m->ga[i], p, rng);
        nic_conv_block_init(&m->gs[i], p, rng);
    }
    for (int i = 0; i < 3; i++) {
        nic_conv_block_init(&m->ha[i], p, rng);
        nic_conv_block_init(&m->hm[i], p, rng);
        nic_conv_block_init(&m->hs[i], p, rng);
        nic_gdn_block_init(&m->ga_gdn[i], p);
        nic_gdn_block_init(&m->gs_gdn[i], p);
    }
    if (m->cfg.ctx > 0) {
        nic_conv_block_init(&m->cx[0], p, rng);
        memset(nn_param_data(p, m->cx[1].weight), 0, p->items[m->cx[1].weight].count * sizeof(float));
        memset(nn_param_data(p, m->cx[1].bias), 0, p->items[m->cx[1].bias].count * sizeof(float));
    }
    float *w1 = nn_param_data(p, m->q1_w), *bb1 = nn_param_data(p, m->q1_b);
    for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++) {
        w1[j] = 2.0f * nn_rng_uniform(rng) - 1.0f;
        bb1[j] = 2.0f * nn_rng_uniform(rng) - 1.0f;
    }
    float *w2 = nn_param_data(p, m->q2_w), *bb2 = nn_param_data(p, m->q2_b);
    float bound = 0.1f / sqrtf((float)NIC_HYPER_Q_HIDDEN);
    for (size_t i = 0; i < p->items[m->q2_w].count; i++)
        w2[i] = (2.0f * nn_rng_uniform(rng) - 1.0f) * bound;
    for (int c = 0; c < m->cfg.m; c++)
        bb2[c] = 0.0f;
    size_t count = p->items[m->prior].count;
    float *u = malloc(count * sizeof(float));
    if (u) {
        for (size_t i = 0; i < count; i++)
            u[i] = nn_rng_uniform(rng);
        nic_fp_init(nn_param_data(p, m->prior), m->cfg.nz, u);
        free(u);
    }
}

/* What an exported model file holds beside the parameters: the entropy
 * tables of z and y and the decoder's reconstruction offsets (src/codec). */
static const char *const exported_extras[] = {"z_tables.", "y_tables.", "recon.", NULL};

/* Copies tmp's parameters into m's, which has the same ones but perhaps a
 * wider context input (12 anchors where tmp has 4): the extra inputs' weights
 * are 0, so that m predicts what tmp does. */
static nic_status copy_params(nic_context *ctx, nic_hyper_model *m, const nic_hyper_model *tmp)
{
    for (int i = 0; i < tmp->params.count; i++) {
        const nn_param *from = &tmp->params.items[i];
        int j = nn_params_find(&m->params, from->name);
        const float *src = nn_param_data(&tmp->params, i);
        if (j >= 0 && m->params.items[j].count == from->count) {
            memcpy(nn_param_data(&m->params, j), src, from->count * sizeof(float));
        } else if (j >= 0 && strcmp(from->name, "ctx.0.weight") == 0) {
            /* [C][K M] from [C][k M]: the first k M inputs are the same anchors */
            const size_t C = (size_t)m->cfg.ctx, out_in = m->params.items[j].count / C,
                         in_in = from->count / C;
            float *dst = nn_param_data(&m->params, j);
            for (size_t o = 0; o < C; o++) {
                memcpy(dst + o * out_in, src + o * in_in, in_in * sizeof(float));
                memset(dst + o * out_in + in_in, 0, (out_in - in_in) * sizeof(float));
            }
        } else {
            return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "hyper model: no place for '%s'", from->name);
        }
    }
    return NIC_OK;
}

nic_status nic_hyper_model_load(nic_context *ctx, nic_hyper_model *m, const char *path)
{
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    const nn_st_tensor *c0 = nn_st_find(&f, "ctx.0.weight");
    int has_ctx = c0 != NULL, width = c0 && c0->ndim > 0 ? (int)c0->shape[0] : 0;
    int file_k = c0 && c0->ndim > 1 && m->cfg.m > 0 ? (int)(c0->shape[1] / m->cfg.m) : 0;
    nn_st_free(&f);
    const int k = nic_hyper_ctx_k(&m->cfg);
    if (m->cfg.ctx == 0 && has_ctx)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s has a checkerboard context network (width %d): train it with "
                        "--context %d",
                        path, width, width);
    if (has_ctx && m->cfg.ctx > 0 && file_k != k && !(file_k == 4 && k == 12))
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s has a context of %d anchors; this model's sees %d", path, file_k, k);
    if (m->cfg.ctx == 0 || (has_ctx && file_k == k))
        return nn_weights_load_ex(ctx, path, &m->params, exported_extras);
    /* a model without context, or with the 4-anchor one: load it as such, then
     * copy what both have (a new context keeps its start, whose output is 0) */
    nic_hyper_config plain = m->cfg;
    plain.ctx = has_ctx ? width : 0;
    plain.ctx_nb = has_ctx ? file_k : 0;
    if (has_ctx && width != m->cfg.ctx)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s has a context of width %d; this model's is %d",
                        path, width, m->cfg.ctx);
    nic_hyper_model tmp;
    NIC_TRY(nic_hyper_model_create_values(ctx, &plain, &tmp));
    nic_status st = nn_weights_load_ex(ctx, path, &tmp.params, exported_extras);
    if (st == NIC_OK)
        st = copy_params(ctx, m, &tmp);
    nic_hyper_model_free(&tmp);
    return st;
}

/* gather (from = y^, to = the context's input) or its adjoint, scatter (from =
 * the input's gradient, added into to = y^'s gradient). */
static void ctx_move(const float *from, float *to, int batch, int m, int h, int w, int k,
                     int scatter)
{
    const size_t plane = (size_t)h * w;
    for (int b = 0; b < batch; b++)
        for (int d = 0; d < k; d++)
            for (int c = 0; c < m; c++) {
                const size_t yo = ((size_t)b * m + c) * plane;
                const size_t io = ((size_t)b * k * m + (size_t)d * m + c) * plane;
                for (int r = 0; r < h; r++)
                    for (int col = 0; col < w; col++) {
                        size_t i = (size_t)r * w + col;
                        long nb = nic_hyper_is_anchor(r, col)
                                      ? -1
                                      : nic_hyper_ctx_neighbour(r, col, d, h, w);
                        if (scatter) {
                            if (nb >= 0)
                                to[yo + (size_t)nb] += from[io + i];
                        } else {
                            to[io + i] = nb >= 0 ? from[yo + (size_t)nb] : 0.0f;
                        }
                    }
            }
}

void nic_hyper_ctx_gather(const float *yhat, int batch, int m, int h, int w, int k, float *in)
{
    ctx_move(yhat, in, batch, m, h, w, k, 0);
}

void nic_hyper_q_forward(const nic_hyper_model *m, float t, float *hidden, float *log_step)
{
    const nn_params *p = &m->params;
    const float *w1 = nn_param_data(p, m->q1_w), *b1 = nn_param_data(p, m->q1_b);
    const float *w2 = nn_param_data(p, m->q2_w), *b2 = nn_param_data(p, m->q2_b);
    for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++)
        hidden[j] = w1[j] * t + b1[j]; /* pre-activation, kept for backward */
    for (int c = 0; c < m->cfg.m; c++) {
        float acc = b2[c] + NIC_HYPER_Q_OFFSET + NIC_HYPER_Q_SLOPE * t;
        for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++)
            acc += w2[(size_t)c * NIC_HYPER_Q_HIDDEN + j] * (hidden[j] > 0 ? hidden[j] : 0.0f);
        log_step[c] = acc;
    }
}

static void q_backward(nic_hyper_model *m, float t, const float *hidden, const float *dlog_step)
{
    nn_params *p = &m->params;
    const float *w2 = nn_param_data(p, m->q2_w);
    float *dw1 = nn_param_grad(p, m->q1_w), *db1 = nn_param_grad(p, m->q1_b);
    float *dw2 = nn_param_grad(p, m->q2_w), *db2 = nn_param_grad(p, m->q2_b);
    float dh[NIC_HYPER_Q_HIDDEN] = {0};
    for (int c = 0; c < m->cfg.m; c++) {
        float g = dlog_step[c];
        db2[c] += g;
        for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++) {
            float a = hidden[j] > 0 ? hidden[j] : 0.0f;
            dw2[(size_t)c * NIC_HYPER_Q_HIDDEN + j] += g * a;
            dh[j] += g * w2[(size_t)c * NIC_HYPER_Q_HIDDEN + j];
        }
    }
    for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++) {
        if (hidden[j] <= 0)
            continue;
        dw1[j] += dh[j] * t;
        db1[j] += dh[j];
    }
}

/* ---------------------------------------------------------------- trainer */

typedef struct act {
    float *v, *d;
    size_t n;
    int d_borrowed; /* d is another activation's gradient buffer (not freed here) */
} act;

struct nic_hyper_trainer {
    nic_hyper_model *m;
    int batch, h, w;   /* input [batch][3][h][w] */
    int no_analysis;   /* NIC_HYPER_TRAINER_FROM_Y: no g_a (y is given) */
    int first, global; /* shard of a global batch (nic_hyper_trainer_set_shard) */
    size_t hw_y, hw_z; /* positions per channel of y and z */
    int hy, wy;
    /* context network (cfg.ctx > 0): input, hidden pre-activation and ReLU, output */
    act ctx_in, ctx_out[2], ctx_relu;
    act mu_eff, ls_eff; /* the mean and log-scale the rate uses (with the context) */
    double *dstep;      /* [batch][m] gradient of each step, summed over both passes */
    /* analysis */
    act ga_out[4], ga_gdn[3], ga_norm[3], ga_sq[3];
    act ha_out[3], ha_relu[2];
    act z_tilde;
    act hm_out[3], hm_relu[2], hs_out[3], hs_relu[2];
    act y_q, v, sigma_q, yhat_q, yhat;
    act gs_out[4], gs_gdn[3], gs_norm[3], gs_sq[3];
    float *dz_extra; /* second head's gradient into z~ */
    float *q_hidden, *log_step, *dlog_step;
    nic_hyper_distortion distortion;
    int ms_scales;  /* MS-SSIM scales the crop holds */
    float *ms_work; /* nn_msssim_work_count floats (made on first use) */
    act *all[64];
    int nall;
};

/* An activation and its gradient; with_grad = 0 for values saved only for
 * backward (GDN's x^2 and norm), which never receive a gradient. */
static nic_status act_alloc_ex(nic_context *ctx, nic_hyper_trainer *t, act *a, size_t n,
                               int with_grad)
{
    a->n = n;
    a->v = nn_alloc(n * sizeof(float));
    a->d = with_grad ? nn_alloc(n * sizeof(float)) : NULL;
    if (!a->v || (with_grad && !a->d))
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory (%zu floats)", n);
    t->all[t->nall++] = a;
    return NIC_OK;
}

static nic_status act_alloc(nic_context *ctx, nic_hyper_trainer *t, act *a, size_t n)
{
    return act_alloc_ex(ctx, t, a, n, 1);
}

void nic_hyper_trainer_destroy(nic_hyper_trainer *t)
{
    if (!t)
        return;
    nic_hyper_model *m = t->m;
    for (int i = 0; i < 4; i++) {
        nic_conv_block_release(&m->ga[i]);
        nic_conv_block_release(&m->gs[i]);
    }
    if (m->cfg.ctx > 0)
        for (int i = 0; i < 2; i++)
            nic_conv_block_release(&m->cx[i]);
    for (int i = 0; i < 3; i++) {
        nic_conv_block_release(&m->ha[i]);
        nic_conv_block_release(&m->hm[i]);
        nic_conv_block_release(&m->hs[i]);
        nic_gdn_block_release(&m->ga_gdn[i]);
        nic_gdn_block_release(&m->gs_gdn[i]);
    }
    for (int i = 0; i < t->nall; i++) {
        nn_free(t->all[i]->v);
        if (!t->all[i]->d_borrowed)
            nn_free(t->all[i]->d);
    }
    nn_free(t->dz_extra);
    nn_free(t->q_hidden);
    nn_free(t->log_step);
    nn_free(t->dlog_step);
    nn_free(t->ms_work);
    free(t->dstep);
    free(t);
}

/* Plans a chain of blocks and allocates their outputs; the first no_grad
 * outputs get no gradient buffer yet (see share_gradients). */
static nic_status plan_chain(nic_context *ctx, nn_engine *eng, nic_hyper_trainer *t,
                             nic_conv_block *b, int count, int *h, int *w, unsigned flags,
                             act *outs, int no_grad)
{
    for (int i = 0; i < count; i++) {
        NIC_TRY(nic_conv_block_plan(ctx, eng, &b[i], t->batch, *h, *w, flags));
        *h = b[i].h_out;
        *w = b[i].w_out;
        NIC_TRY(act_alloc_ex(ctx, t, &outs[i], nic_conv_block_out_count(&b[i]), i >= no_grad));
    }
    return NIC_OK;
}

/* Backward runs the whole synthesis before the analysis, so the analysis's
 * gradient buffers at each resolution (1/2, 1/4, 1/8: the large ones) reuse
 * the synthesis's of the same size: g_a's layer i matches g_s's layer 2 - i. */
static nic_status share_gradients(nic_context *ctx, nic_hyper_trainer *t)
{
    for (int i = 0; i < 3; i++) {
        act *mine[2] = {&t->ga_out[i], &t->ga_gdn[i]};
        act *theirs[2] = {&t->gs_out[2 - i], &t->gs_gdn[2 - i]};
        for (int k = 0; k < 2; k++) {
            if (mine[k]->n == theirs[k]->n) {
                mine[k]->d = theirs[k]->d;
                mine[k]->d_borrowed = 1;
            } else if (!(mine[k]->d = nn_alloc(mine[k]->n * sizeof(float)))) {
                return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory");
            }
        }
    }
    return NIC_OK;
}

nic_status nic_hyper_trainer_create(nic_context *ctx, nn_engine *eng, nic_hyper_model *m,
                                    int batch, int crop, unsigned conv_flags,
                                    nic_hyper_trainer **out)
{
    return nic_hyper_trainer_create_ex(ctx, eng, m, batch, crop, crop, conv_flags, 0, out);
}

nic_status nic_hyper_trainer_create_ex(nic_context *ctx, nn_engine *eng, nic_hyper_model *m,
                                       int batch, int height, int width, unsigned conv_flags,
                                       unsigned flags, nic_hyper_trainer **out)
{
    *out = NULL;
    if (batch < 1 || height < 64 || height % 64 != 0 || width < 64 || width % 64 != 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "hyper trainer: %dx%d must be positive multiples of 64, batch %d >= 1",
                        width, height, batch);
    nic_hyper_trainer *t = calloc(1, sizeof(*t));
    if (!t)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory");
    t->m = m;
    t->batch = batch;
    t->h = height;
    t->w = width;
    t->no_analysis = (flags & NIC_HYPER_TRAINER_FROM_Y) != 0;
    t->first = 0;
    t->global = batch;
    const nic_hyper_config *c = &m->cfg;
    nic_status st;
    int h = height, w = width;
#define TRY_OR_FAIL(expr)                     \
    do {                                      \
        if ((st = (expr)) != NIC_OK) {        \
            nic_hyper_trainer_destroy(t);     \
            return st;                        \
        }                                     \
    } while (0)
    if (t->no_analysis) {
        /* y alone, with its gradient */
        h /= 16;
        w /= 16;
        TRY_OR_FAIL(act_alloc(ctx, t, &t->ga_out[3], (size_t)batch * c->m * h * w));
    } else {
        TRY_OR_FAIL(plan_chain(ctx, eng, t, m->ga, 4, &h, &w, conv_flags, t->ga_out, 3));
        for (int i = 0; i < 3; i++) {
            size_t n = t->ga_out[i].n;
            TRY_OR_FAIL(act_alloc_ex(ctx, t, &t->ga_gdn[i], n, 0));
            TRY_OR_FAIL(act_alloc_ex(ctx, t, &t->ga_norm[i], n, 0));
            TRY_OR_FAIL(act_alloc_ex(ctx, t, &t->ga_sq[i], n, 0));
            TRY_OR_FAIL(nic_gdn_block_plan(ctx, eng, &m->ga_gdn[i], batch, m->ga[i].h_out,
                                           m->ga[i].w_out, conv_flags));
        }
    }
    t->hw_y = (size_t)h * w;
    int hy = h, wy = w;
    TRY_OR_FAIL(plan_chain(ctx, eng, t, m->ha, 3, &h, &w, conv_flags, t->ha_out, 0));
    for (int i = 0; i < 2; i++)
        TRY_OR_FAIL(act_alloc(ctx, t, &t->ha_relu[i], t->ha_out[i].n));
    t->hw_z = (size_t)h * w;
    int hz = h, wz = w;
    TRY_OR_FAIL(act_alloc(ctx, t, &t->z_tilde, t->ha_out[2].n));
    h = hz;
    w = wz;
    TRY_OR_FAIL(plan_chain(ctx, eng, t, m->hm, 3, &h, &w, conv_flags, t->hm_out, 0));
    h = hz;
    w = wz;
    TRY_OR_FAIL(plan_chain(ctx, eng, t, m->hs, 3, &h, &w, conv_flags, t->hs_out, 0));
    for (int i = 0; i < 2; i++) {
        TRY_OR_FAIL(act_alloc(ctx, t, &t->hm_relu[i], t->hm_out[i].n));
        TRY_OR_FAIL(act_alloc(ctx, t, &t->hs_relu[i], t->hs_out[i].n));
    }
    if (h != hy || w != wy) {
        nic_hyper_trainer_destroy(t);
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "hyper trainer: h_s gives %dx%d, y is %dx%d", h,
                        w, hy, wy);
    }
    size_t ny = t->ga_out[3].n;
    TRY_OR_FAIL(act_alloc(ctx, t, &t->y_q, ny));
    TRY_OR_FAIL(act_alloc(ctx, t, &t->v, ny));
    TRY_OR_FAIL(act_alloc(ctx, t, &t->sigma_q, ny));
    TRY_OR_FAIL(act_alloc(ctx, t, &t->yhat_q, ny));
    TRY_OR_FAIL(act_alloc(ctx, t, &t->yhat, ny));
    t->hy = hy;
    t->wy = wy;
    if (c->ctx > 0) {
        TRY_OR_FAIL(act_alloc(ctx, t, &t->ctx_in, (size_t)nic_hyper_ctx_k(c) * ny));
        h = hy;
        w = wy;
        TRY_OR_FAIL(plan_chain(ctx, eng, t, m->cx, 2, &h, &w, conv_flags, t->ctx_out, 0));
        TRY_OR_FAIL(act_alloc(ctx, t, &t->ctx_relu, t->ctx_out[0].n));
        TRY_OR_FAIL(act_alloc(ctx, t, &t->mu_eff, ny));
        TRY_OR_FAIL(act_alloc(ctx, t, &t->ls_eff, ny));
    }
    h = hy;
    w = wy;
    TRY_OR_FAIL(plan_chain(ctx, eng, t, m->gs, 4, &h, &w, conv_flags, t->gs_out, 0));
    for (int i = 0; i < 3; i++) {
        size_t n = t->gs_out[i].n;
        TRY_OR_FAIL(act_alloc(ctx, t, &t->gs_gdn[i], n));
        TRY_OR_FAIL(act_alloc_ex(ctx, t, &t->gs_norm[i], n, 0));
        TRY_OR_FAIL(act_alloc_ex(ctx, t, &t->gs_sq[i], n, 0));
        TRY_OR_FAIL(nic_gdn_block_plan(ctx, eng, &m->gs_gdn[i], batch, m->gs[i].h_out,
                                       m->gs[i].w_out, conv_flags));
    }
    if (!t->no_analysis)
        TRY_OR_FAIL(share_gradients(ctx, t));
    t->dz_extra = nn_alloc(t->ha_out[2].n * sizeof(float));
    t->q_hidden = nn_alloc((size_t)batch * NIC_HYPER_Q_HIDDEN * sizeof(float));
    t->log_step = nn_alloc((size_t)batch * c->m * sizeof(float));
    t->dlog_step = nn_alloc((size_t)batch * c->m * sizeof(float));
    t->dstep = calloc((size_t)batch * c->m, sizeof(double));
    if (!t->dz_extra || !t->q_hidden || !t->log_step || !t->dlog_step || !t->dstep) {
        nic_hyper_trainer_destroy(t);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory");
    }
#undef TRY_OR_FAIL
    *out = t;
    return NIC_OK;
}

nic_status nic_hyper_trainer_set_distortion(nic_context *ctx, nic_hyper_trainer *t,
                                            nic_hyper_distortion d)
{
    if (d != NIC_HYPER_MSE && d != NIC_HYPER_MSSSIM)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "hyper trainer: distortion %d", (int)d);
    t->distortion = d;
    return NIC_OK;
}

/* Sets up MS-SSIM for the trainer's crops (once). */
static nic_status msssim_ready(nic_context *ctx, nic_hyper_trainer *t)
{
    if (t->ms_work)
        return NIC_OK;
    t->ms_scales = nn_msssim_max_scales(t->h, t->w);
    if (t->ms_scales > NN_MSSSIM_SCALES)
        t->ms_scales = NN_MSSSIM_SCALES;
    if (t->ms_scales < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "hyper trainer: %dx%d crops are too small for MS-SSIM", t->w, t->h);
    t->ms_work = nn_alloc(nn_msssim_work_count(t->h, t->w, t->ms_scales) * sizeof(float));
    if (!t->ms_work)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "hyper trainer: out of memory for MS-SSIM");
    return NIC_OK;
}

nic_status nic_hyper_check_shard(nic_context *ctx, int batch, int first, int global)
{
    /* 2^22 samples: nn_noise_index keeps 23 bits for the sample */
    if (first < 0 || global < 1 || global > (1 << 22) || first > global - batch)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "hyper trainer: shard %d..%d does not fit a global batch of %d", first,
                        first + batch, global);
    return NIC_OK;
}

void nic_hyper_stats_from_sums(double bits_y, double bits_z, double sse, double lambda_mse,
                               size_t pixels, int batch, int global, nic_hyper_stats *stats)
{
    const double per = 3.0 * pixels;
    stats->bpp = (bits_y + bits_z) / ((double)pixels * global);
    stats->bpp_z = bits_z / ((double)pixels * global);
    stats->mse = sse / (per * global) * 255.0 * 255.0;
    double mse_shard = sse / (per * batch) * 255.0 * 255.0;
    stats->psnr = 10.0 * log10(255.0 * 255.0 / (mse_shard > 1e-12 ? mse_shard : 1e-12));
    stats->loss = stats->bpp + lambda_mse / global;
}

nic_status nic_hyper_trainer_set_shard(nic_context *ctx, nic_hyper_trainer *t, int first,
                                       int global)
{
    NIC_TRY(nic_hyper_check_shard(ctx, t->batch, first, global));
    t->first = first;
    t->global = global;
    return NIC_OK;
}

static float round_half_even(float x)
{
    return nearbyintf(x); /* default rounding mode: to nearest, ties to even */
}

static void relu_fwd(const act *in, act *out)
{
    nn_relu_forward(in->v, in->n, out->v);
}

/* The columns of row r in a pass (-1 every position, 0 the anchors, 1 the
 * others): from pass_first, every pass_stride. */
static inline int pass_first(int r, int pass)
{
    return pass < 0 ? 0 : (r + pass) & 1;
}

static inline int pass_stride(int pass)
{
    return pass < 0 ? 1 : 2;
}

/* The quantizer over the elements of one pass, given the mean and log-scale. */
static void quant_forward(nic_hyper_trainer *t, const float *y, const float *mu,
                          const float *log_scale, uint64_t seed, int train, int pass)
{
    const int B = t->batch, M = t->m->cfg.m, noisy = train == 1 || train == 2;
    const size_t hwy = t->hw_y;
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < M; c++) {
            float step = expf(t->log_step[(size_t)b * M + c]);
            size_t o = ((size_t)b * M + c) * hwy;
            for (int r = 0; r < t->hy; r++)
            for (int col = pass_first(r, pass); col < t->wy; col += pass_stride(pass)) {
                size_t i = (size_t)r * t->wy + col;
                float yq = y[o + i] / step;
                float mq = mu[o + i] / step;
                float ls = log_scale[o + i];
                ls = ls < LOG_SCALE_MIN ? LOG_SCALE_MIN : (ls > LOG_SCALE_MAX ? LOG_SCALE_MAX : ls);
                t->y_q.v[o + i] = yq;
                t->sigma_q.v[o + i] = expf(ls) / step;
                float rq = round_half_even(yq - mq);
                float u = noisy ? nn_noise_uniform(seed, nn_noise_index((uint64_t)(t->first + b),
                                                                        1, (size_t)c * hwy + i))
                                : 0.0f;
                /* train 2: noise for the synthesis too (then the gradient is exact) */
                float q = train == 2 ? yq - mq + u : rq;
                t->yhat_q.v[o + i] = q + mq;
                t->yhat.v[o + i] = (q + mq) * step;
                t->v.v[o + i] = noisy ? yq - mq + u : rq;
            }
        }
    }
}

/* Backward of the quantizer over one pass (the chain rule in docs/CODEC.md):
 * writes dy, dmu, dls at the pass's elements and adds to t->dstep. */
static void quant_backward(nic_hyper_trainer *t, const float *mu, const float *log_scale,
                           float *dy, float *dmu, float *dls, int pass)
{
    const int B = t->batch, M = t->m->cfg.m;
    const size_t hwy = t->hw_y;
    for (int b = 0; b < B; b++) {
        for (int c = 0; c < M; c++) {
            float step = expf(t->log_step[(size_t)b * M + c]);
            size_t o = ((size_t)b * M + c) * hwy;
            double dstep = 0;
            for (int r = 0; r < t->hy; r++)
            for (int col = pass_first(r, pass); col < t->wy; col += pass_stride(pass)) {
                size_t k = o + (size_t)r * t->wy + col;
                float dyhat = t->yhat.d[k];
                float dyq = dyhat * step + t->v.d[k]; /* STE through rounding + rate */
                float dmq = -t->v.d[k];
                float sq = t->sigma_q.v[k];
                float mq = mu[k] / step;
                dstep += (double)dyhat * t->yhat_q.v[k] - (double)dyq * t->y_q.v[k] / step -
                         (double)dmq * mq / step - (double)t->sigma_q.d[k] * sq / step;
                dy[k] = dyq / step;
                dmu[k] = dmq / step;
                float ls = log_scale[k];
                dls[k] = (ls < LOG_SCALE_MIN || ls > LOG_SCALE_MAX) ? 0.0f : t->sigma_q.d[k] * sq;
            }
            t->dstep[(size_t)b * M + c] += dstep;
        }
    }
}

/* mean and log-scale with the context's corrections at the non-anchors */
static void ctx_apply(nic_hyper_trainer *t, const float *mu, const float *log_scale)
{
    const int B = t->batch, M = t->m->cfg.m;
    const size_t hwy = t->hw_y, ny = (size_t)B * M * hwy;
    const float *o = t->ctx_out[1].v;
    memcpy(t->mu_eff.v, mu, ny * sizeof(float));
    memcpy(t->ls_eff.v, log_scale, ny * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < M; c++) {
            size_t k0 = ((size_t)b * M + c) * hwy;
            const float *om = o + ((size_t)b * 2 * M + c) * hwy;
            const float *os = o + ((size_t)b * 2 * M + M + c) * hwy;
            for (int r = 0; r < t->hy; r++)
                for (int col = pass_first(r, 1); col < t->wy; col += 2) {
                    size_t i = (size_t)r * t->wy + col;
                    t->mu_eff.v[k0 + i] += om[i];
                    t->ls_eff.v[k0 + i] += os[i];
                }
        }
}

/* the context output's gradient: the non-anchors' mean and log-scale gradients */
static void ctx_output_grad(nic_hyper_trainer *t, const float *dmu, const float *dls)
{
    const int B = t->batch, M = t->m->cfg.m;
    const size_t hwy = t->hw_y;
    float *d = t->ctx_out[1].d;
    memset(d, 0, t->ctx_out[1].n * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < M; c++) {
            size_t k0 = ((size_t)b * M + c) * hwy;
            float *dm = d + ((size_t)b * 2 * M + c) * hwy;
            float *ds = d + ((size_t)b * 2 * M + M + c) * hwy;
            for (int r = 0; r < t->hy; r++)
                for (int col = pass_first(r, 1); col < t->wy; col += 2) {
                    size_t i = (size_t)r * t->wy + col;
                    dm[i] = dmu[k0 + i];
                    ds[i] = dls[k0 + i];
                }
        }
}

nic_status nic_hyper_train_step(nic_context *ctx, nic_hyper_trainer *t, const float *x,
                                const float *t_rate, nn_rng *rng, int train,
                                nic_hyper_stats *stats)
{
    nic_hyper_model *m = t->m;
    nn_params *p = &m->params;
    const int B = t->batch, M = m->cfg.m;
    const size_t S2 = (size_t)t->h * t->w;
    const int noisy = train == 1 || train == 2;
    /* a model without gradient buffers (one that only codes) gets input
     * gradients alone */
    const int param_grads = train && p->grad != NULL;

    /* ---- analysis (a FROM_Y trainer's caller has put y there) */
    const float *in = x;
    for (int i = 0; i < 4 && !t->no_analysis; i++) {
        NIC_TRY(nic_conv_block_forward(ctx, &m->ga[i], p, in, t->ga_out[i].v));
        if (i < 3) {
            NIC_TRY(nic_gdn_block_forward(ctx, &m->ga_gdn[i], p, t->ga_out[i].v, t->ga_gdn[i].v,
                                          t->ga_sq[i].v, t->ga_norm[i].v));
            in = t->ga_gdn[i].v;
        }
    }
    const float *y = t->ga_out[3].v;
    NIC_TRY(nic_conv_block_forward(ctx, &m->ha[0], p, y, t->ha_out[0].v));
    relu_fwd(&t->ha_out[0], &t->ha_relu[0]);
    NIC_TRY(nic_conv_block_forward(ctx, &m->ha[1], p, t->ha_relu[0].v, t->ha_out[1].v));
    relu_fwd(&t->ha_out[1], &t->ha_relu[1]);
    NIC_TRY(nic_conv_block_forward(ctx, &m->ha[2], p, t->ha_relu[1].v, t->ha_out[2].v));
    const float *z = t->ha_out[2].v;
    size_t nzc = t->z_tilde.n;
    /* Noise of global sample g, tensor s (0: z, 1: y), element e: nn_noise_uniform. */
    const uint64_t seed = noisy ? nn_rng_next(rng) : 0;
    const size_t per_z = nzc / B;
    if (noisy)
        for (int b = 0; b < B; b++)
            for (size_t e = 0; e < per_z; e++) {
                size_t k = (size_t)b * per_z + e;
                t->z_tilde.v[k] = z[k] + nn_noise_uniform(seed, nn_noise_index(
                                                                     (uint64_t)(t->first + b), 0, e));
            }
    else
        for (size_t i = 0; i < nzc; i++)
            t->z_tilde.v[i] = round_half_even(z[i]);

    /* ---- hyper-synthesis: mean and log-scale */
    nic_conv_block *heads[2] = {m->hm, m->hs};
    act *outs[2] = {t->hm_out, t->hs_out}, *relus[2] = {t->hm_relu, t->hs_relu};
    for (int h = 0; h < 2; h++) {
        NIC_TRY(nic_conv_block_forward(ctx, &heads[h][0], p, t->z_tilde.v, outs[h][0].v));
        relu_fwd(&outs[h][0], &relus[h][0]);
        NIC_TRY(nic_conv_block_forward(ctx, &heads[h][1], p, relus[h][0].v, outs[h][1].v));
        relu_fwd(&outs[h][1], &relus[h][1]);
        NIC_TRY(nic_conv_block_forward(ctx, &heads[h][2], p, relus[h][1].v, outs[h][2].v));
    }
    const float *mu = t->hm_out[2].v, *log_scale = t->hs_out[2].v;

    /* ---- adaptive quantization */
    for (int b = 0; b < B; b++)
        nic_hyper_q_forward(m, t_rate[b], t->q_hidden + (size_t)b * NIC_HYPER_Q_HIDDEN,
                            t->log_step + (size_t)b * M);
    const float *mu_eff = mu, *ls_eff = log_scale;
    if (m->cfg.ctx > 0) {
        /* anchors with the hyperprior alone, then the context from their y^ */
        quant_forward(t, y, mu, log_scale, seed, train, 0);
        nic_hyper_ctx_gather(t->yhat.v, B, M, t->hy, t->wy, nic_hyper_ctx_k(&m->cfg), t->ctx_in.v);
        NIC_TRY(nic_conv_block_forward(ctx, &m->cx[0], p, t->ctx_in.v, t->ctx_out[0].v));
        relu_fwd(&t->ctx_out[0], &t->ctx_relu);
        NIC_TRY(nic_conv_block_forward(ctx, &m->cx[1], p, t->ctx_relu.v, t->ctx_out[1].v));
        ctx_apply(t, mu, log_scale);
        mu_eff = t->mu_eff.v;
        ls_eff = t->ls_eff.v;
        quant_forward(t, y, mu_eff, ls_eff, seed, train, 1);
    } else {
        quant_forward(t, y, mu, log_scale, seed, train, -1);
    }

    /* ---- synthesis */
    in = t->yhat.v;
    for (int i = 0; i < 4; i++) {
        NIC_TRY(nic_conv_block_forward(ctx, &m->gs[i], p, in, t->gs_out[i].v));
        if (i < 3) {
            NIC_TRY(nic_gdn_block_forward(ctx, &m->gs_gdn[i], p, t->gs_out[i].v, t->gs_gdn[i].v,
                                          t->gs_sq[i].v, t->gs_norm[i].v));
            in = t->gs_gdn[i].v;
        }
    }
    const float *xhat = t->gs_out[3].v;

    /* ---- loss */
    const int G = t->global; /* losses are means over the global batch */
    const float rate_scale = 1.0f / ((float)S2 * G);
    double bits_y = nic_gaussian_rate(t->v.v, t->sigma_q.v, t->v.n, rate_scale,
                                      train ? t->v.d : NULL, train ? t->sigma_q.d : NULL);
    double bits_z = nic_fp_rate(nn_param_data(p, m->prior), t->z_tilde.v, B, m->cfg.nz,
                                t->hw_z, rate_scale, train ? t->z_tilde.d : NULL,
                                param_grads ? nn_param_grad(p, m->prior) : NULL);
    double sse_total = 0, loss = 0, ms_total = 0;
    const size_t per = 3 * S2;
    float *dxhat = t->gs_out[3].d;
    const int ms_obj = t->distortion == NIC_HYPER_MSSSIM;
    /* MSE steps measure MS-SSIM only to report it (validation) */
    const int ms_report = !ms_obj && !train && stats;
    if (ms_obj || ms_report)
        NIC_TRY(msssim_ready(ctx, t));
    for (int b = 0; b < B; b++) {
        double sse = 0;
        const float *xa = x + (size_t)b * per, *xb = xhat + (size_t)b * per;
        float *db = dxhat + (size_t)b * per;
        for (size_t i = 0; i < per; i++) {
            double d = (double)xb[i] - xa[i];
            sse += d * d;
        }
        sse_total += sse;
        if (ms_obj) {
            /* lambda (1 - MS-SSIM); the loss function also gives the gradient */
            double lambda = nic_hyper_lambda_msssim(t_rate[b]);
            double l = train ? nn_msssim_loss_backward(xb, xa, 1, 3, t->h, t->w, 1.0,
                                                       t->ms_scales, lambda / G, db, t->ms_work)
                             : nn_msssim_loss_forward(xb, xa, 1, 3, t->h, t->w, 1.0,
                                                      t->ms_scales, t->ms_work);
            loss += lambda * l;
            ms_total += 1.0 - l;
            continue;
        }
        double lambda = nic_hyper_lambda(t_rate[b]);
        double mse255 = sse / per * 255.0 * 255.0;
        loss += lambda * mse255;
        if (ms_report)
            ms_total += 1.0 - nn_msssim_loss_forward(xb, xa, 1, 3, t->h, t->w, 1.0,
                                                     t->ms_scales, t->ms_work);
        if (train) {
            float g = (float)(lambda * 255.0 * 255.0 * 2.0 / per / G);
            for (size_t i = 0; i < per; i++)
                db[i] = g * (xb[i] - xa[i]);
        }
    }
    if (stats) {
        nic_hyper_stats_from_sums(bits_y, bits_z, sse_total, loss, S2, B, G, stats);
        stats->msssim = ms_total / G;
    }
    if (!train)
        return NIC_OK;

    /* ---- backward: synthesis */
    for (int i = 3; i >= 0; i--) {
        const float *xin = i == 0 ? t->yhat.v : t->gs_gdn[i - 1].v;
        float *dxin = i == 0 ? t->yhat.d : t->gs_gdn[i - 1].d;
        NIC_TRY(nic_conv_block_backward(ctx, &m->gs[i], p, xin, t->gs_out[i].d, dxin));
        if (i > 0)
            NIC_TRY(nic_gdn_block_backward(ctx, &m->gs_gdn[i - 1], p, t->gs_out[i - 1].v,
                                           t->gs_sq[i - 1].v, t->gs_norm[i - 1].v,
                                           t->gs_gdn[i - 1].d, t->gs_out[i - 1].d));
    }
    /* ---- backward: quantization (see the chain rule in docs/CODEC.md) */
    float *dy = t->ga_out[3].d, *dmu = t->hm_out[2].d, *dls = t->hs_out[2].d;
    memset(t->dstep, 0, sizeof(double) * B * M);
    if (m->cfg.ctx > 0) {
        /* non-anchors first: their mean and scale reach the anchors' y^ through
         * the context, whose gradient the anchors' pass then includes */
        quant_backward(t, mu_eff, ls_eff, dy, dmu, dls, 1);
        ctx_output_grad(t, dmu, dls);
        NIC_TRY(nic_conv_block_backward(ctx, &m->cx[1], p, t->ctx_relu.v, t->ctx_out[1].d,
                                        t->ctx_relu.d));
        nn_relu_backward(t->ctx_out[0].v, t->ctx_relu.d, t->ctx_out[0].n, t->ctx_out[0].d);
        NIC_TRY(nic_conv_block_backward(ctx, &m->cx[0], p, t->ctx_in.v, t->ctx_out[0].d,
                                        t->ctx_in.d));
        ctx_move(t->ctx_in.d, t->yhat.d, B, M, t->hy, t->wy, nic_hyper_ctx_k(&m->cfg), 1);
        quant_backward(t, mu_eff, ls_eff, dy, dmu, dls, 0);
    } else {
        quant_backward(t, mu_eff, ls_eff, dy, dmu, dls, -1);
    }
    for (int b = 0; b < B; b++)
        for (int c = 0; c < M; c++) {
            size_t bc = (size_t)b * M + c;
            t->dlog_step[bc] = (float)(t->dstep[bc] * expf(t->log_step[bc]));
        }
    for (int b = 0; b < B && param_grads; b++)
        q_backward(m, t_rate[b], t->q_hidden + (size_t)b * NIC_HYPER_Q_HIDDEN,
                   t->dlog_step + (size_t)b * M);
    /* ---- backward: hyper-synthesis heads into z~ */
    float *dzt[2] = {t->z_tilde.d, t->dz_extra};
    float *dz_rate = t->ha_out[2].d; /* the rate gradient of z~, kept apart */
    memcpy(dz_rate, t->z_tilde.d, nzc * sizeof(float));
    for (int h = 0; h < 2; h++) {
        NIC_TRY(nic_conv_block_backward(ctx, &heads[h][2], p, relus[h][1].v, outs[h][2].d,
                                        relus[h][1].d));
        nn_relu_backward(outs[h][1].v, relus[h][1].d, outs[h][1].n, outs[h][1].d);
        NIC_TRY(nic_conv_block_backward(ctx, &heads[h][1], p, relus[h][0].v, outs[h][1].d,
                                        relus[h][0].d));
        nn_relu_backward(outs[h][0].v, relus[h][0].d, outs[h][0].n, outs[h][0].d);
        NIC_TRY(nic_conv_block_backward(ctx, &heads[h][0], p, t->z_tilde.v, outs[h][0].d,
                                        dzt[h]));
    }
    /* dz = rate gradient + both heads (noise passes gradients unchanged) */
    for (size_t i = 0; i < nzc; i++)
        dz_rate[i] += t->z_tilde.d[i] + t->dz_extra[i];
    /* ---- backward: hyper-analysis */
    NIC_TRY(nic_conv_block_backward(ctx, &m->ha[2], p, t->ha_relu[1].v, t->ha_out[2].d,
                                    t->ha_relu[1].d));
    nn_relu_backward(t->ha_out[1].v, t->ha_relu[1].d, t->ha_out[1].n, t->ha_out[1].d);
    NIC_TRY(nic_conv_block_backward(ctx, &m->ha[1], p, t->ha_relu[0].v, t->ha_out[1].d,
                                    t->ha_relu[0].d));
    nn_relu_backward(t->ha_out[0].v, t->ha_relu[0].d, t->ha_out[0].n, t->ha_out[0].d);
    float *dy_h = t->y_q.d; /* scratch of y's size */
    NIC_TRY(nic_conv_block_backward(ctx, &m->ha[0], p, y, t->ha_out[0].d, dy_h));
    for (size_t i = 0; i < t->ga_out[3].n; i++)
        dy[i] += dy_h[i];
    if (t->no_analysis)
        return NIC_OK;
    /* ---- backward: analysis */
    for (int i = 3; i >= 0; i--) {
        const float *xin = i == 0 ? x : t->ga_gdn[i - 1].v;
        float *dxin = i == 0 ? NULL : t->ga_gdn[i - 1].d;
        NIC_TRY(nic_conv_block_backward(ctx, &m->ga[i], p, xin, t->ga_out[i].d, dxin));
        if (i > 0)
            NIC_TRY(nic_gdn_block_backward(ctx, &m->ga_gdn[i - 1], p, t->ga_out[i - 1].v,
                                           t->ga_sq[i - 1].v, t->ga_norm[i - 1].v,
                                           t->ga_gdn[i - 1].d, t->ga_out[i - 1].d));
    }
    return NIC_OK;
}

float *nic_hyper_trainer_y(nic_hyper_trainer *t)
{
    return t->ga_out[3].v;
}

const float *nic_hyper_trainer_dy(const nic_hyper_trainer *t)
{
    return t->ga_out[3].d;
}

/* ---------------------------------------------------------------- refinement */

nic_status nic_hyper_refine(nic_context *ctx, nic_hyper_trainer *t, const float *x, float t_rate,
                            int iters, float lr, float *y, nic_hyper_stats *before,
                            nic_hyper_stats *after)
{
    if (!t->no_analysis || t->batch != 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "refinement needs a FROM_Y trainer of batch 1");
    const int M = t->m->cfg.m;
    const size_t plane = t->hw_y, n = (size_t)M * plane;
    float *yt = t->ga_out[3].v;
    const float *g = t->ga_out[3].d;
    float *mom = calloc(2 * n, sizeof(float)), *best = malloc(n * sizeof(float));
    if (!mom || !best) {
        free(mom);
        free(best);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "refinement: out of memory");
    }
    float *vel = mom + n;
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    double best_loss = INFINITY;
    nic_status st = NIC_OK;
    memcpy(best, y, n * sizeof(float));
    memcpy(yt, y, n * sizeof(float)); /* the steps move the trainer's own y */
    for (int it = 0; it <= iters; it++) {
        nic_hyper_stats s;
        if ((st = nic_check_abort(ctx, "refine")) != NIC_OK ||
            (st = nic_hyper_train_step(ctx, t, x, &t_rate, NULL, 3, &s)) != NIC_OK)
            break;
        if (it == 0 && before)
            *before = s;
        if (s.loss < best_loss) {
            best_loss = s.loss;
            memcpy(best, yt, n * sizeof(float));
            if (after)
                *after = s;
        }
        if (it == iters)
            break;
        /* Adam in units of each channel's quantization step: the gradient of
         * y / step is step dy, and y moves by step times Adam's direction */
        const float c1 = 1.0f - powf(b1, (float)(it + 1)), c2 = 1.0f - powf(b2, (float)(it + 1));
        for (int c = 0; c < M; c++) {
            const float step = expf(t->log_step[c]);
            for (size_t i = (size_t)c * plane; i < (size_t)(c + 1) * plane; i++) {
                float gq = g[i] * step;
                mom[i] = b1 * mom[i] + (1.0f - b1) * gq;
                vel[i] = b2 * vel[i] + (1.0f - b2) * gq * gq;
                yt[i] -= lr * step * (mom[i] / c1) / (sqrtf(vel[i] / c2) + eps);
            }
        }
    }
    memcpy(y, best, n * sizeof(float));
    free(mom);
    free(best);
    return st;
}
