#include "models/hyper_int.h"

#include <stdlib.h>
#include <string.h>

static nic_status quantize_head(nic_context *ctx, const nic_hyper_model *model,
                                const nic_conv_block *b, nic_qconv *q)
{
    const nn_params *p = &model->params;
    for (int i = 0; i < 3; i++)
        NIC_TRY(nic_qconv_init(ctx, &q[i], nn_param_data(p, b[i].weight),
                               nn_param_data(p, b[i].bias), b[i].c_in, b[i].c_out, b[i].k,
                               b[i].stride, b[i].transposed, i < 2));
    return NIC_OK;
}

nic_status nic_hyper_int_create(nic_context *ctx, const nic_hyper_model *model,
                                nic_hyper_int *hi)
{
    memset(hi, 0, sizeof(*hi));
    hi->n = model->cfg.n;
    hi->m = model->cfg.m;
    hi->nz = model->cfg.nz;
    nic_status st = quantize_head(ctx, model, model->hm, hi->mean);
    if (st == NIC_OK)
        st = quantize_head(ctx, model, model->hs, hi->scale);
    const nn_params *p = &model->params;
    const float *w1 = nn_param_data(p, model->q1_w), *b1 = nn_param_data(p, model->q1_b);
    const float *w2 = nn_param_data(p, model->q2_w), *b2 = nn_param_data(p, model->q2_b);
    for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++) {
        hi->q1_w[j] = nic_q_from_float(w1[j]);
        hi->q1_b[j] = nic_q32_from_float(b1[j]);
    }
    hi->q2_w = malloc(sizeof(int32_t) * hi->m * NIC_HYPER_Q_HIDDEN);
    hi->q2_b = malloc(sizeof(int64_t) * hi->m);
    if (st == NIC_OK && (!hi->q2_w || !hi->q2_b))
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer hyperprior: out of memory");
    if (st != NIC_OK) {
        nic_hyper_int_free(hi);
        return st;
    }
    for (int c = 0; c < hi->m; c++) {
        hi->q2_b[c] = nic_q32_from_float((double)b2[c] + NIC_HYPER_Q_OFFSET);
        for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++)
            hi->q2_w[c * NIC_HYPER_Q_HIDDEN + j] = nic_q_from_float(w2[c * NIC_HYPER_Q_HIDDEN + j]);
    }
    return NIC_OK;
}

void nic_hyper_int_free(nic_hyper_int *hi)
{
    for (int i = 0; i < 3; i++) {
        nic_qconv_free(&hi->mean[i]);
        nic_qconv_free(&hi->scale[i]);
    }
    free(hi->q2_w);
    free(hi->q2_b);
    memset(hi, 0, sizeof(*hi));
}

static void run_head(const nic_qconv *q, const int32_t *x, int h, int w, int32_t *tmp_a,
                     int32_t *tmp_b, int64_t *acc, int32_t *out)
{
    int h1, w1, h2, w2;
    nic_qconv_forward(&q[0], x, h, w, tmp_a, acc);
    nic_qconv_out_size(&q[0], h, w, &h1, &w1);
    nic_qconv_forward(&q[1], tmp_a, h1, w1, tmp_b, acc);
    nic_qconv_out_size(&q[1], h1, w1, &h2, &w2);
    nic_qconv_forward(&q[2], tmp_b, h2, w2, out, acc);
}

nic_status nic_hyper_int_heads(nic_context *ctx, const nic_hyper_int *hi, const int32_t *zhat,
                               int hz, int wz, int32_t *mean_q16, int32_t *log_scale_q16)
{
    size_t zc = (size_t)hi->nz * hz * wz;
    size_t big = (size_t)(hi->n > hi->m ? hi->n : hi->m) * (4 * (size_t)hz) * (4 * (size_t)wz);
    int32_t *zq = malloc(zc * sizeof(int32_t));
    int32_t *a = malloc(big * sizeof(int32_t)), *b = malloc(big * sizeof(int32_t));
    int64_t *acc = malloc(big * sizeof(int64_t));
    if (!zq || !a || !b || !acc) {
        free(zq);
        free(a);
        free(b);
        free(acc);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer hyperprior: out of memory for %dx%d", hz, wz);
    }
    for (size_t i = 0; i < zc; i++) {
        int64_t v = (int64_t)zhat[i] * NIC_Q_ONE;
        zq[i] = v > INT32_MAX ? INT32_MAX : (v < -(int64_t)INT32_MAX ? -INT32_MAX : (int32_t)v);
    }
    run_head(hi->mean, zq, hz, wz, a, b, acc, mean_q16);
    run_head(hi->scale, zq, hz, wz, a, b, acc, log_scale_q16);
    free(zq);
    free(a);
    free(b);
    free(acc);
    return NIC_OK;
}

void nic_hyper_int_log_steps(const nic_hyper_int *hi, int32_t t_q16, int32_t *log_step_q16)
{
    int64_t hidden[NIC_HYPER_Q_HIDDEN];
    for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++) {
        int64_t v = nic_q_round_shift((int64_t)hi->q1_w[j] * t_q16 + hi->q1_b[j], NIC_Q);
        hidden[j] = v > 0 ? v : 0;
    }
    const int64_t slope_q16 = nic_q_from_float(NIC_HYPER_Q_SLOPE);
    for (int c = 0; c < hi->m; c++) {
        int64_t acc = hi->q2_b[c] + slope_q16 * t_q16;
        for (int j = 0; j < NIC_HYPER_Q_HIDDEN; j++)
            acc += (int64_t)hi->q2_w[c * NIC_HYPER_Q_HIDDEN + j] * hidden[j];
        log_step_q16[c] = (int32_t)nic_q_round_shift(acc, NIC_Q);
    }
}
