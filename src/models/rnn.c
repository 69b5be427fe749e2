#include "models/rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv.h"
#include "nn/layers.h"
#include "nn/safetensors.h"

void nic_rnn_config_default(nic_rnn_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cell = NN_CONVGRU;
    /* the paper's widths / 8 (its 64, 256, 512, 512 | 512, 512, 512, 256, 128
     * would take about 60x the FLOPs): see docs/RNN.md */
    cfg->e_conv = 16;
    cfg->enc[0] = 32;
    cfg->enc[1] = 64;
    cfg->enc[2] = 64;
    cfg->bits = 32;
    cfg->d_conv = 64;
    cfg->dec[0] = 64;
    cfg->dec[1] = 64;
    cfg->dec[2] = 32;
    cfg->dec[3] = 16;
    cfg->iterations = 8;
    cfg->oneshot = 0;
}

nic_status nic_rnn_config_check(nic_context *ctx, const nic_rnn_config *c)
{
    if (c->cell != NN_CONVGRU && c->cell != NN_CONVLSTM)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: unknown cell kind %d", (int)c->cell);
    int ok = c->e_conv >= 1 && c->e_conv <= 4096 && c->bits >= 1 && c->bits <= 1024 &&
             c->d_conv >= 1 && c->d_conv <= 4096;
    for (int i = 0; i < NIC_RNN_ENC_CELLS; i++)
        ok &= c->enc[i] >= 1 && c->enc[i] <= 4096;
    for (int i = 0; i < NIC_RNN_DEC_CELLS; i++)
        ok &= c->dec[i] >= 4 && c->dec[i] <= 4096 && c->dec[i] % 4 == 0;
    if (!ok)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "rnn: bad widths (E-Conv %d, E-RNN %d/%d/%d, bits %d, D-Conv %d, "
                        "D-RNN %d/%d/%d/%d: decoder widths must be multiples of 4)",
                        c->e_conv, c->enc[0], c->enc[1], c->enc[2], c->bits, c->d_conv, c->dec[0],
                        c->dec[1], c->dec[2], c->dec[3]);
    if (c->iterations < 1 || c->iterations > NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: %d iterations (1..%d)",
                        c->iterations, NIC_RNN_MAX_ITERATIONS);
    return NIC_OK;
}

/* Channels into each cell and the cells' kernel sizes. */
static int enc_c_in(const nic_rnn_config *c, int i)
{
    return i == 0 ? c->e_conv : c->enc[i - 1];
}
static int dec_c_in(const nic_rnn_config *c, int i)
{
    return i == 0 ? c->d_conv : c->dec[i - 1] / 4;
}
static int dec_k_hidden(int i)
{
    return i >= 2 ? 3 : 1; /* D-RNN3 and D-RNN4: 3x3 hidden kernels (the paper's choice) */
}
static int gates(const nic_rnn_config *c)
{
    return c->cell == NN_CONVLSTM ? 4 : 3;
}

double nic_rnn_flops_per_pixel(const nic_rnn_config *c, int with_encoder)
{
    /* positions per pixel at each scale: 1/4 (1/2 size), 1/16, 1/64, 1/256 */
    const double G = gates(c);
    double f = 0;
    if (with_encoder) {
        f += 2.0 * 3 * 9 * c->e_conv / 4;
        for (int i = 0; i < NIC_RNN_ENC_CELLS; i++) {
            double pos = 1.0 / (16 << (2 * i)); /* E-RNN1 at 1/4 size: 1/16 */
            f += 2.0 * pos * G * c->enc[i] * (enc_c_in(c, i) * 9 + c->enc[i]);
        }
        f += 2.0 / 256 * c->enc[2] * c->bits;
    }
    f += 2.0 / 256 * c->bits * c->d_conv;
    for (int i = 0; i < NIC_RNN_DEC_CELLS; i++) {
        double pos = 1.0 / (256 >> (2 * i)); /* D-RNN1 at 1/16 size, D-RNN4 at 1/2 */
        int kh = dec_k_hidden(i);
        f += 2.0 * pos * G * c->dec[i] * (dec_c_in(c, i) * 9 + c->dec[i] * kh * kh);
    }
    f += 2.0 * (c->dec[3] / 4) * 3;
    return f;
}

nic_status nic_rnn_model_create(nic_context *ctx, const nic_rnn_config *cfg, nic_rnn_model *m)
{
    memset(m, 0, sizeof(*m));
    NIC_TRY(nic_rnn_config_check(ctx, cfg));
    m->cfg = *cfg;
    nn_params_init(&m->params);
    nn_params *p = &m->params;
    const int G = gates(cfg);
    char name[64];
#define CONV(nm, widx, bidx, co, ci, k)                                                  \
    do {                                                                              \
        int64_t ws[4] = {(co), (ci), (k), (k)}, bs[1] = {(co)};                        \
        NIC_TRY(nn_params_add(ctx, p, nm ".weight", 4, ws, 0, &m->widx));              \
        NIC_TRY(nn_params_add(ctx, p, nm ".bias", 1, bs, 0, &m->bidx));                \
    } while (0)
#define CELL(prefix, idx, cp, ci, hid, kin, kh)                                          \
    do {                                                                              \
        int64_t wx[4] = {(int64_t)G * (hid), (ci), (kin), (kin)};                      \
        int64_t bb[1] = {(int64_t)G * (hid)};                                          \
        int64_t wh[4] = {(int64_t)G * (hid), (hid), (kh), (kh)};                       \
        snprintf(name, sizeof(name), "%s%d.wx", prefix, (idx) + 1);                    \
        NIC_TRY(nn_params_add(ctx, p, name, 4, wx, 0, &(cp)->wx));                     \
        snprintf(name, sizeof(name), "%s%d.b", prefix, (idx) + 1);                     \
        NIC_TRY(nn_params_add(ctx, p, name, 1, bb, 0, &(cp)->b));                      \
        snprintf(name, sizeof(name), "%s%d.wh", prefix, (idx) + 1);                    \
        NIC_TRY(nn_params_add(ctx, p, name, 4, wh, 0, &(cp)->wh));                     \
    } while (0)
    CONV("e_conv", e_conv_w, e_conv_b, cfg->e_conv, 3, 3);
    for (int i = 0; i < NIC_RNN_ENC_CELLS; i++)
        CELL("e_rnn", i, &m->enc[i], enc_c_in(cfg, i), cfg->enc[i], 3, 1);
    CONV("b_conv", b_conv_w, b_conv_b, cfg->bits, cfg->enc[2], 1);
    CONV("d_conv", d_conv_w, d_conv_b, cfg->d_conv, cfg->bits, 1);
    for (int i = 0; i < NIC_RNN_DEC_CELLS; i++)
        CELL("d_rnn", i, &m->dec[i], dec_c_in(cfg, i), cfg->dec[i], 3, dec_k_hidden(i));
    CONV("d_out", d_out_w, d_out_b, 3, cfg->dec[3] / 4, 1);
    m->gain = -1;
    if (cfg->gain) {
        int64_t gs[1] = {NIC_RNN_MAX_ITERATIONS};
        NIC_TRY(nn_params_add(ctx, p, "r_gain.log", 1, gs, NIC_RNN_GAIN_GROUP, &m->gain));
    }
#undef CONV
#undef CELL
    return nn_params_alloc(ctx, p);
}

void nic_rnn_model_free(nic_rnn_model *m)
{
    nn_params_free(&m->params);
    memset(m, 0, sizeof(*m));
}

static void fill_uniform(nn_params *p, int idx, float bound, nn_rng *rng)
{
    float *w = nn_param_data(p, idx);
    for (size_t i = 0; i < p->items[idx].count; i++)
        w[i] = (2.0f * nn_rng_uniform(rng) - 1.0f) * bound;
}

void nic_rnn_model_init(nic_rnn_model *m, nn_rng *rng)
{
    nn_params *p = &m->params;
    const nic_rnn_config *c = &m->cfg;
    /* weights U(+-1/sqrt(fan_in)); biases zero */
    fill_uniform(p, m->e_conv_w, 1.0f / sqrtf(3 * 9.0f), rng);
    fill_uniform(p, m->b_conv_w, 1.0f / sqrtf((float)c->enc[2]), rng);
    fill_uniform(p, m->d_conv_w, 1.0f / sqrtf((float)c->bits), rng);
    fill_uniform(p, m->d_out_w, 1.0f / sqrtf((float)(c->dec[3] / 4)), rng);
    for (int i = 0; i < NIC_RNN_ENC_CELLS; i++) {
        fill_uniform(p, m->enc[i].wx, 1.0f / sqrtf(9.0f * enc_c_in(c, i)), rng);
        fill_uniform(p, m->enc[i].wh, 1.0f / sqrtf((float)c->enc[i]), rng);
    }
    for (int i = 0; i < NIC_RNN_DEC_CELLS; i++) {
        int kh = dec_k_hidden(i);
        fill_uniform(p, m->dec[i].wx, 1.0f / sqrtf(9.0f * dec_c_in(c, i)), rng);
        fill_uniform(p, m->dec[i].wh, 1.0f / sqrtf((float)c->dec[i] * kh * kh), rng);
    }
}

static int64_t dim_of(const nn_st_file *f, const char *name, int d)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    return t && t->ndim > d ? t->shape[d] : -1;
}

nic_status nic_rnn_config_from_file(nic_context *ctx, const nn_st_file *f, const char *path,
                                    nic_rnn_config *cfg)
{
    nic_rnn_config c;
    nic_rnn_config_default(&c);
    c.e_conv = (int)dim_of(f, "e_conv.weight", 0);
    c.bits = (int)dim_of(f, "b_conv.weight", 0);
    c.d_conv = (int)dim_of(f, "d_conv.weight", 0);
    char name[32];
    int64_t g0 = -1;
    for (int i = 0; i < NIC_RNN_ENC_CELLS + NIC_RNN_DEC_CELLS; i++) {
        int enc = i < NIC_RNN_ENC_CELLS;
        snprintf(name, sizeof(name), "%s%d.wh", enc ? "e_rnn" : "d_rnn",
                 (enc ? i : i - NIC_RNN_ENC_CELLS) + 1);
        int64_t hid = dim_of(f, name, 1), rows = dim_of(f, name, 0);
        if (hid < 1 || rows < 1 || rows % hid != 0 || hid > 4096)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not an rnn model (%s missing or odd)", path,
                            name);
        int64_t g = rows / hid;
        if (g0 < 0)
            g0 = g;
        if (g != g0 || (g != 3 && g != 4))
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %s has %lld gates (3: GRU, 4: LSTM)", path,
                            name, (long long)g);
        if (enc)
            c.enc[i] = (int)hid;
        else
            c.dec[i - NIC_RNN_ENC_CELLS] = (int)hid;
    }
    c.cell = g0 == 4 ? NN_CONVLSTM : NN_CONVGRU;
    if (c.e_conv < 1 || c.bits < 1 || c.d_conv < 1)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not an rnn model (e_conv, b_conv or d_conv "
                        "missing)", path);
    c.iterations = cfg->iterations;
    c.oneshot = cfg->oneshot;
    const char *recon = nn_st_get_meta(f, "reconstruction");
    if (recon && strcmp(recon, "oneshot") != 0 && strcmp(recon, "additive") != 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: unknown reconstruction '%s'", path, recon);
    if (recon)
        c.oneshot = strcmp(recon, "oneshot") == 0;
    const nn_st_tensor *g = nn_st_find(f, "r_gain.log");
    c.gain = g != NULL;
    if (g && (g->ndim != 1 || g->shape[0] != NIC_RNN_MAX_ITERATIONS))
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: r_gain.log is not [%d]", path,
                        NIC_RNN_MAX_ITERATIONS);
    NIC_TRY(nic_rnn_config_check(ctx, &c));
    *cfg = c;
    return NIC_OK;
}

/* Gates stacked along a tensor's rows: the cells' wx, b, wh have G blocks of
 * `hidden` rows, the convolutions one. */
static int row_blocks(const nic_rnn_config *c, const char *name)
{
    return strncmp(name, "e_rnn", 5) == 0 || strncmp(name, "d_rnn", 5) == 0 ? gates(c) : 1;
}

/* Copies `from` (a narrower model's tensor) into the first rows and columns of
 * `to`: row o of gate block k goes to row k * hid_to + o % hid_from, input
 * channels keep their index; in the copied rows the columns of the new input
 * channels become zero, the new rows keep their values. */
static void embed_tensor(const nn_param *pf, const float *from, const nn_param *pt, float *to,
                         int blocks)
{
    const int64_t rows_f = pf->shape[0], rows_t = pt->shape[0];
    const int64_t cols_f = pf->ndim > 1 ? pf->shape[1] : 1;
    const int64_t cols_t = pt->ndim > 1 ? pt->shape[1] : 1;
    const int64_t taps = pf->ndim > 2 ? pf->shape[2] * pf->shape[3] : 1;
    const int64_t hid_f = rows_f / blocks, hid_t = rows_t / blocks;
    for (int64_t o = 0; o < rows_f; o++) {
        const int64_t ot = (o / hid_f) * hid_t + o % hid_f;
        float *dst = to + ot * cols_t * taps;
        memcpy(dst, from + o * cols_f * taps, (size_t)(cols_f * taps) * sizeof(float));
        memset(dst + cols_f * taps, 0, (size_t)((cols_t - cols_f) * taps) * sizeof(float));
    }
}

nic_status nic_rnn_config_from_path(nic_context *ctx, const char *path, nic_rnn_config *cfg)
{
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nic_status st = nic_rnn_config_from_file(ctx, &f, path, cfg);
    nn_st_free(&f);
    return st;
}

nic_status nic_rnn_model_load(nic_context *ctx, nic_rnn_model *m, const char *path)
{
    nic_rnn_config fc = m->cfg;
    NIC_TRY(nic_rnn_config_from_path(ctx, path, &fc));
    nic_status st;
    const nic_rnn_config *c = &m->cfg;
    int same = fc.e_conv == c->e_conv && fc.d_conv == c->d_conv, narrower = 1;
    narrower &= fc.e_conv <= c->e_conv && fc.d_conv <= c->d_conv;
    for (int k = 0; k < NIC_RNN_ENC_CELLS; k++) {
        same &= fc.enc[k] == c->enc[k];
        narrower &= fc.enc[k] <= c->enc[k];
    }
    for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
        same &= fc.dec[k] == c->dec[k];
        narrower &= fc.dec[k] <= c->dec[k];
    }
    if (fc.cell != c->cell || fc.bits != c->bits || !narrower || (fc.gain && !c->gain))
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s: %s cells, %d bits, widths E-Conv %d, E-RNN %d/%d/%d, D-Conv %d, "
                        "D-RNN %d/%d/%d/%d%s: does not fit this model (the same cells and bits, "
                        "widths no larger)",
                        path, fc.cell == NN_CONVGRU ? "GRU" : "LSTM", fc.bits, fc.e_conv,
                        fc.enc[0], fc.enc[1], fc.enc[2], fc.d_conv, fc.dec[0], fc.dec[1],
                        fc.dec[2], fc.dec[3], fc.gain && !c->gain ? ", gains" : "");
    if (same && fc.gain == c->gain)
        return nn_weights_load(ctx, path, &m->params);
    /* a narrower model or one without gains: load it as such, then embed it
     * (gains 1; new channels get zero outgoing weights, so the model computes
     * what the file's did) */
    nic_rnn_model tmp;
    NIC_TRY(nic_rnn_model_create(ctx, &fc, &tmp));
    st = nn_weights_load(ctx, path, &tmp.params);
    for (int i = 0; st == NIC_OK && i < tmp.params.count; i++) {
        const nn_param *pf = &tmp.params.items[i];
        int j = nn_params_find(&m->params, pf->name);
        const nn_param *pt = j >= 0 ? &m->params.items[j] : NULL;
        if (!pt || pt->ndim != pf->ndim || (pf->ndim > 2 && (pt->shape[2] != pf->shape[2] ||
                                                             pt->shape[3] != pf->shape[3])))
            st = NIC_FAIL(ctx, NIC_ERR_INTERNAL, "rnn model: no place for '%s'", pf->name);
        else
            embed_tensor(pf, nn_param_data(&tmp.params, i), pt, nn_param_data(&m->params, j),
                         row_blocks(c, pf->name));
    }
    if (st == NIC_OK && m->gain >= 0 && !fc.gain)
        memset(nn_param_data(&m->params, m->gain), 0, NIC_RNN_MAX_ITERATIONS * sizeof(float));
    nic_rnn_model_free(&tmp);
    return st;
}

/* ---------------------------------------------------------------- the network */

struct nic_rnn_net {
    nic_rnn_model *m;
    int batch, h, w, T, train;
    nn_arena arena;
    nn_conv *e_conv, *b_conv, *d_conv, *d_out;
    nn_convrnn *ecell[NIC_RNN_ENC_CELLS], *dcell[NIC_RNN_DEC_CELLS];
    nn_convrnn_seq eseq[NIC_RNN_ENC_CELLS], dseq[NIC_RNN_DEC_CELLS];
    nn_convrnn_weights ew[NIC_RNN_ENC_CELLS], dw[NIC_RNN_DEC_CELLS];
    size_t n_img, n_e0, n_bits, n_dconv, n_ds[NIC_RNN_DEC_CELLS];
    size_t n_es[NIC_RNN_ENC_CELLS], n_dstate[NIC_RNN_DEC_CELLS];
    /* per iteration */
    float *r[NIC_RNN_MAX_ITERATIONS + 1]; /* residuals; r[0] = x - 1/2 (training) */
    float *e0[NIC_RNN_MAX_ITERATIONS];
    float *btanh[NIC_RNN_MAX_ITERATIONS], *bits[NIC_RNN_MAX_ITERATIONS];
    float *dconv[NIC_RNN_MAX_ITERATIONS];
    float *ds[NIC_RNN_DEC_CELLS][NIC_RNN_MAX_ITERATIONS]; /* depth-to-space of D-RNN k */
    float *bpre, *o;
    float *u[NIC_RNN_MAX_ITERATIONS]; /* gains: the encoder's input g_t r_t (inference: u[0]) */
    /* inference: iterations done (0: a new picture, zero states; the gains' index) */
    int e_it, d_it;
    /* backward scratch (training) */
    float *g_r, *g_in, *g_o, *g_bits, *g_bpre, *g_e0;
    float *g_ds[NIC_RNN_DEC_CELLS], *g_hd[NIC_RNN_DEC_CELLS], *g_dconv;
    float *g_he[NIC_RNN_ENC_CELLS];
    /* inference: the states carried between iterations (own allocations) */
    float *es_h[NIC_RNN_ENC_CELLS], *es_c[NIC_RNN_ENC_CELLS];
    float *ds_h[NIC_RNN_DEC_CELLS], *ds_c[NIC_RNN_DEC_CELLS];
    int relaxed; /* the binarizer passes tanh (gradient checks) */
};

void nic_rnn_net_destroy(nic_rnn_net *net)
{
    if (!net)
        return;
    nn_conv_destroy(net->e_conv);
    nn_conv_destroy(net->b_conv);
    nn_conv_destroy(net->d_conv);
    nn_conv_destroy(net->d_out);
    for (int i = 0; i < NIC_RNN_ENC_CELLS; i++) {
        nn_convrnn_destroy(net->ecell[i]);
        nn_free(net->es_h[i]);
        nn_free(net->es_c[i]);
    }
    for (int i = 0; i < NIC_RNN_DEC_CELLS; i++) {
        nn_convrnn_destroy(net->dcell[i]);
        nn_free(net->ds_h[i]);
        nn_free(net->ds_c[i]);
    }
    nn_arena_free(&net->arena);
    free(net);
}

/* The sequence of arena takes, the same every time (planning, then each step).
 * Inference carries the cells' states in through h0 / c0. */
static nic_status net_layout(nic_context *ctx, nic_rnn_net *net)
{
    nn_arena *a = &net->arena;
    nn_arena_reset(a);
    const int T = net->T, train = net->train;
    for (int t = 0; t <= T; t++)
        net->r[t] = train ? nn_arena_take(a, net->n_img) : NULL;
    for (int t = 0; t < T; t++) {
        if (net->e_conv) {
            net->e0[t] = nn_arena_take(a, net->n_e0);
            net->btanh[t] = nn_arena_take(a, net->n_bits);
            net->bits[t] = nn_arena_take(a, net->n_bits);
        }
        net->dconv[t] = nn_arena_take(a, net->n_dconv);
        for (int k = 0; k < NIC_RNN_DEC_CELLS; k++)
            net->ds[k][t] = nn_arena_take(a, net->n_ds[k]);
    }
    const int has_gain = net->m->cfg.gain;
    for (int t = 0; t < (train ? T : 1); t++)
        net->u[t] = has_gain && net->e_conv ? nn_arena_take(a, net->n_img) : NULL;
    net->bpre = net->e_conv ? nn_arena_take(a, net->n_bits) : NULL;
    net->o = nn_arena_take(a, net->n_img);
    if (train) {
        net->g_r = nn_arena_take(a, net->n_img);
        net->g_in = nn_arena_take(a, net->n_img);
        net->g_o = nn_arena_take(a, net->n_img);
        net->g_bits = nn_arena_take(a, net->n_bits);
        net->g_bpre = nn_arena_take(a, net->n_bits);
        net->g_e0 = nn_arena_take(a, net->n_e0);
        net->g_dconv = nn_arena_take(a, net->n_dconv);
        for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
            net->g_ds[k] = nn_arena_take(a, net->n_ds[k]);
            net->g_hd[k] = nn_arena_take(a, net->n_dstate[k]);
        }
        for (int k = 0; k < NIC_RNN_ENC_CELLS; k++)
            net->g_he[k] = nn_arena_take(a, net->n_es[k]);
    }
    for (int k = 0; k < NIC_RNN_ENC_CELLS && net->e_conv; k++) {
        const int lstm = net->m->cfg.cell == NN_CONVLSTM;
        const float *h0 = !train && net->e_it ? net->es_h[k] : NULL;
        const float *c0 = !train && net->e_it && lstm ? net->es_c[k] : NULL;
        NIC_TRY(nn_convrnn_seq_begin(ctx, &net->eseq[k], net->ecell[k], a, T, h0, c0));
    }
    for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
        const int lstm = net->m->cfg.cell == NN_CONVLSTM;
        const float *h0 = !train && net->d_it ? net->ds_h[k] : NULL;
        const float *c0 = !train && net->d_it && lstm ? net->ds_c[k] : NULL;
        NIC_TRY(nn_convrnn_seq_begin(ctx, &net->dseq[k], net->dcell[k], a, T, h0, c0));
    }
    if (a->base && a->overflow)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "rnn: the arena is smaller than planned");
    return NIC_OK;
}

static void cell_weights(nn_params *p, const nic_rnn_cell_params *cp, nn_convrnn_weights *w)
{
    w->wx = nn_param_data(p, cp->wx);
    w->b = nn_param_data(p, cp->b);
    w->wh = nn_param_data(p, cp->wh);
    w->dwx = nn_param_grad(p, cp->wx);
    w->db = nn_param_grad(p, cp->b);
    w->dwh = nn_param_grad(p, cp->wh);
}

nic_status nic_rnn_net_create(nic_context *ctx, nn_engine *eng, nic_rnn_model *m, int batch,
                              int h, int w, int iterations, int train, unsigned flags,
                              nic_rnn_net **out)
{
    *out = NULL;
    const nic_rnn_config *c = &m->cfg;
    if (batch < 1 || h < NIC_RNN_BLOCK || w < NIC_RNN_BLOCK || h % NIC_RNN_BLOCK ||
        w % NIC_RNN_BLOCK || iterations < 1 || iterations > NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "rnn: %dx%d (multiples of 16), batch %d, %d iterations (1..%d)", w, h,
                        batch, iterations, NIC_RNN_MAX_ITERATIONS);
    if (!train && iterations != 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: inference runs one iteration");
    nic_rnn_net *net = calloc(1, sizeof(*net));
    if (!net)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory");
    net->m = m;
    net->batch = batch;
    net->h = h;
    net->w = w;
    net->T = iterations;
    net->train = train != 0;
    const int with_encoder = train != 0 || !(flags & NIC_RNN_NET_DECODER_ONLY);
    flags &= ~(unsigned)NIC_RNN_NET_DECODER_ONLY;
    nn_arena_init(&net->arena);
    const int n = batch, h16 = h / 16, w16 = w / 16;
    net->n_img = (size_t)n * 3 * h * w;
    net->n_e0 = (size_t)n * c->e_conv * (h / 2) * (w / 2);
    net->n_bits = (size_t)n * c->bits * h16 * w16;
    net->n_dconv = (size_t)n * c->d_conv * h16 * w16;
    nic_status st = NIC_OK;
    nn_conv_desc d;
#define TRY_OR_FAIL(expr)                 \
    do {                                  \
        if ((st = (expr)) != NIC_OK) {    \
            nic_rnn_net_destroy(net);     \
            return st;                    \
        }                                 \
    } while (0)
    if (with_encoder) {
        TRY_OR_FAIL(nn_conv_desc_init(ctx, &d, n, 3, h, w, c->e_conv, 3, 2, 1, 1));
        TRY_OR_FAIL(nn_conv_create(ctx, eng, &d, flags, &net->e_conv));
        int hh = h / 2, ww = w / 2;
        for (int k = 0; k < NIC_RNN_ENC_CELLS; k++) {
            nn_convrnn_desc rd;
            TRY_OR_FAIL(nn_convrnn_desc_init(ctx, &rd, c->cell, n, enc_c_in(c, k), hh, ww,
                                             c->enc[k], 3, 2, 1, 1));
            TRY_OR_FAIL(nn_convrnn_create(ctx, eng, &rd, flags, &net->ecell[k]));
            hh = rd.h;
            ww = rd.w;
            net->n_es[k] = nn_convrnn_state_count(&rd);
            cell_weights(&m->params, &m->enc[k], &net->ew[k]);
        }
        if (hh != h16 || ww != w16)
            TRY_OR_FAIL(NIC_FAIL(ctx, NIC_ERR_INTERNAL, "rnn: encoder gives %dx%d", ww, hh));
        TRY_OR_FAIL(nn_conv_desc_init(ctx, &d, n, c->enc[2], h16, w16, c->bits, 1, 1, 0, 1));
        TRY_OR_FAIL(nn_conv_create(ctx, eng, &d, flags, &net->b_conv));
    }
    TRY_OR_FAIL(nn_conv_desc_init(ctx, &d, n, c->bits, h16, w16, c->d_conv, 1, 1, 0, 1));
    TRY_OR_FAIL(nn_conv_create(ctx, eng, &d, flags, &net->d_conv));
    int hh = h16, ww = w16;
    for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
        nn_convrnn_desc rd;
        int kh = dec_k_hidden(k);
        TRY_OR_FAIL(nn_convrnn_desc_init(ctx, &rd, c->cell, n, dec_c_in(c, k), hh, ww, c->dec[k],
                                         3, 1, 1, kh));
        TRY_OR_FAIL(nn_convrnn_create(ctx, eng, &rd, flags, &net->dcell[k]));
        net->n_dstate[k] = nn_convrnn_state_count(&rd);
        cell_weights(&m->params, &m->dec[k], &net->dw[k]);
        hh *= 2;
        ww *= 2;
        net->n_ds[k] = (size_t)n * (c->dec[k] / 4) * hh * ww;
    }
    TRY_OR_FAIL(nn_conv_desc_init(ctx, &d, n, c->dec[3] / 4, h, w, 3, 1, 1, 0, 1));
    TRY_OR_FAIL(nn_conv_create(ctx, eng, &d, flags, &net->d_out));
    if (!train) {
        const int lstm = c->cell == NN_CONVLSTM;
        for (int k = 0; k < NIC_RNN_ENC_CELLS && with_encoder; k++) {
            net->es_h[k] = nn_alloc(net->n_es[k] * sizeof(float));
            net->es_c[k] = lstm ? nn_alloc(net->n_es[k] * sizeof(float)) : NULL;
            if (!net->es_h[k] || (lstm && !net->es_c[k]))
                TRY_OR_FAIL(NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory"));
        }
        for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
            net->ds_h[k] = nn_alloc(net->n_dstate[k] * sizeof(float));
            net->ds_c[k] = lstm ? nn_alloc(net->n_dstate[k] * sizeof(float)) : NULL;
            if (!net->ds_h[k] || (lstm && !net->ds_c[k]))
                TRY_OR_FAIL(NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory"));
        }
    }
    TRY_OR_FAIL(net_layout(ctx, net)); /* planning */
    TRY_OR_FAIL(nn_arena_commit(ctx, &net->arena));
    TRY_OR_FAIL(net_layout(ctx, net));
#undef TRY_OR_FAIL
    *out = net;
    return NIC_OK;
}

/* ---------------------------------------------------------------- one iteration */

/* g_t = exp(a_t) (1 without gains). */
static float gain_at(const nic_rnn_net *net, int t)
{
    const nic_rnn_model *m = net->m;
    return m->gain < 0 ? 1.0f : expf(nn_param_data((nn_params *)&m->params, m->gain)[t]);
}

/* out = g in over the picture (the encoder's input). */
static void scale_into(const float *in, size_t n, float g, float *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = g * in[i];
}

/* Encoder of iteration t: in [n][3][h][w] -> bits (and tanh kept for backward). */
static nic_status enc_forward(nic_context *ctx, nic_rnn_net *net, int t, const float *in,
                              nn_rng *rng, float *btanh, float *bits)
{
    nic_rnn_model *m = net->m;
    nn_params *p = &m->params;
    NIC_TRY(nn_conv_forward(ctx, net->e_conv, in, nn_param_data(p, m->e_conv_w),
                            nn_param_data(p, m->e_conv_b), net->e0[t]));
    const float *x = net->e0[t];
    for (int k = 0; k < NIC_RNN_ENC_CELLS; k++)
        NIC_TRY(nn_convrnn_seq_forward(ctx, &net->eseq[k], &net->ew[k], x, &x));
    NIC_TRY(nn_conv_forward(ctx, net->b_conv, x, nn_param_data(p, m->b_conv_w),
                            nn_param_data(p, m->b_conv_b), net->bpre));
    nn_binarize_forward(rng, net->bpre, net->n_bits, btanh, bits);
    if (net->relaxed)
        memcpy(bits, btanh, net->n_bits * sizeof(float)); /* b = tanh: exact gradients */
    return NIC_OK;
}

/* Decoder of iteration t: bits -> o [n][3][h][w]. */
static nic_status dec_forward(nic_context *ctx, nic_rnn_net *net, int t, const float *bits,
                              float *o)
{
    nic_rnn_model *m = net->m;
    nn_params *p = &m->params;
    const nic_rnn_config *c = &m->cfg;
    NIC_TRY(nn_conv_forward(ctx, net->d_conv, bits, nn_param_data(p, m->d_conv_w),
                            nn_param_data(p, m->d_conv_b), net->dconv[t]));
    const float *x = net->dconv[t];
    for (int k = 0; k < NIC_RNN_DEC_CELLS; k++) {
        const float *hk;
        NIC_TRY(nn_convrnn_seq_forward(ctx, &net->dseq[k], &net->dw[k], x, &hk));
        const int side_h = net->h >> (4 - k), side_w = net->w >> (4 - k);
        nn_depth_to_space(hk, net->batch, c->dec[k] / 4, side_h, side_w, 2, net->ds[k][t]);
        x = net->ds[k][t];
    }
    return nn_conv_forward(ctx, net->d_out, x, nn_param_data(p, m->d_out_w),
                           nn_param_data(p, m->d_out_b), o);
}

/* Backward of iteration t's decoder (g_o given) and encoder; writes the
 * gradient of the encoder's input into g_in when want_in. */
static nic_status iteration_backward(nic_context *ctx, nic_rnn_net *net, int t, int want_in)
{
    nic_rnn_model *m = net->m;
    nn_params *p = &m->params;
    const nic_rnn_config *c = &m->cfg;
    const int n = net->batch;
    /* decoder, top down */
    NIC_TRY(nn_conv_backward_weights(ctx, net->d_out, net->ds[3][t], net->g_o,
                                     nn_param_grad(p, m->d_out_w), nn_param_grad(p, m->d_out_b)));
    NIC_TRY(nn_conv_backward_data(ctx, net->d_out, net->g_o, nn_param_data(p, m->d_out_w),
                                  net->g_ds[3]));
    for (int k = NIC_RNN_DEC_CELLS - 1; k >= 0; k--) {
        const int side_h = net->h >> (4 - k), side_w = net->w >> (4 - k);
        nn_space_to_depth(net->g_ds[k], n, c->dec[k] / 4, side_h, side_w, 2, net->g_hd[k]);
        float *dx = k > 0 ? net->g_ds[k - 1] : net->g_dconv;
        NIC_TRY(nn_convrnn_seq_backward(ctx, &net->dseq[k], &net->dw[k], net->g_hd[k], dx));
    }
    NIC_TRY(nn_conv_backward_weights(ctx, net->d_conv, net->bits[t], net->g_dconv,
                                     nn_param_grad(p, m->d_conv_w), nn_param_grad(p, m->d_conv_b)));
    NIC_TRY(nn_conv_backward_data(ctx, net->d_conv, net->g_dconv, nn_param_data(p, m->d_conv_w),
                                  net->g_bits));
    /* binarizer: straight through the sign, then tanh' */
    nn_binarize_backward(net->btanh[t], net->g_bits, net->n_bits, net->g_bpre);
    /* encoder, top down */
    const float *e3 = net->eseq[2].h[t + 1];
    NIC_TRY(nn_conv_backward_weights(ctx, net->b_conv, e3, net->g_bpre,
                                     nn_param_grad(p, m->b_conv_w), nn_param_grad(p, m->b_conv_b)));
    NIC_TRY(nn_conv_backward_data(ctx, net->b_conv, net->g_bpre, nn_param_data(p, m->b_conv_w),
                                  net->g_he[2]));
    for (int k = NIC_RNN_ENC_CELLS - 1; k >= 0; k--) {
        float *dx = k > 0 ? net->g_he[k - 1] : net->g_e0;
        NIC_TRY(nn_convrnn_seq_backward(ctx, &net->eseq[k], &net->ew[k], net->g_he[k], dx));
    }
    const float *e_in = net->u[t] ? net->u[t] : net->r[t]; /* the encoder input (g_t r_t) */
    NIC_TRY(nn_conv_backward_weights(ctx, net->e_conv, e_in, net->g_e0,
                                     nn_param_grad(p, m->e_conv_w), nn_param_grad(p, m->e_conv_b)));
    if (want_in)
        NIC_TRY(nn_conv_backward_data(ctx, net->e_conv, net->g_e0, nn_param_data(p, m->e_conv_w),
                                      net->g_in));
    return NIC_OK;
}

nic_status nic_rnn_train_step(nic_context *ctx, nic_rnn_net *net, const float *x, nn_rng *rng,
                              int train, nic_rnn_stats *stats)
{
    if (!net->train)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: this network runs inference only");
    const int T = net->T, oneshot = net->m->cfg.oneshot;
    const size_t N = net->n_img;
    NIC_TRY(net_layout(ctx, net)); /* fresh sequences (zero states) */
    float *r0 = net->r[0];
    for (size_t i = 0; i < N; i++)
        r0[i] = x[i] - 0.5f;
    const int kind = net->m->cfg.mse_loss;
    double loss = 0, wt[NIC_RNN_MAX_ITERATIONS]; /* dL/d(sum of squares) of each iteration */
    for (int t = 0; t < T; t++) {
        const float *in = net->r[t];
        const float g = gain_at(net, t), ginv = 1.0f / g;
        if (net->u[t]) {
            scale_into(in, N, g, net->u[t]);
            in = net->u[t];
        }
        NIC_TRY(enc_forward(ctx, net, t, in, rng, net->btanh[t], net->bits[t]));
        NIC_TRY(dec_forward(ctx, net, t, net->bits[t], net->o));
        if (net->u[t])
            scale_into(net->o, N, ginv, net->o);
        const float *base = oneshot ? r0 : net->r[t];
        float *rn = net->r[t + 1];
        double l1 = 0, sq = 0;
        for (size_t i = 0; i < N; i++) {
            float v = base[i] - net->o[i];
            rn[i] = v;
            l1 += fabsf(v);
            sq += (double)v * v;
        }
        if (kind == NIC_RNN_LOSS_LOG_MSE) {
            /* ln of the mean square: every iteration weighs by its relative error */
            const double ms = sq / N + 1e-10;
            loss += log(ms);
            wt[t] = 1.0 / ms;
        } else {
            loss += (kind == NIC_RNN_LOSS_MSE ? sq : l1) / N;
            wt[t] = 1.0;
        }
        if (stats)
            stats->mse[t] = sq / N * 255.0 * 255.0;
    }
    if (stats) {
        stats->loss = loss / T;
        stats->iterations = T;
    }
    if (!train)
        return NIC_OK;
    /* backward: g_r holds dL/dr_{t+1} from the later iterations */
    const float scale = 1.0f / ((float)N * T);
    const int mse = kind != NIC_RNN_LOSS_L1;
    memset(net->g_r, 0, N * sizeof(float));
    const int has_gain = net->m->gain >= 0;
    float *dgain = has_gain ? nn_param_grad(&net->m->params, net->m->gain) : NULL;
    for (int t = T - 1; t >= 0; t--) {
        const float *rn = net->r[t + 1];
        const float sw = (float)(scale * wt[t]);
        for (size_t i = 0; i < N; i++) {
            float dl = mse ? 2.0f * sw * rn[i]
                           : (rn[i] > 0 ? scale : (rn[i] < 0 ? -scale : 0.0f));
            float g = net->g_r[i] + dl;
            net->g_o[i] = -g;
            net->g_r[i] = oneshot ? 0.0f : g; /* additive: r_{t+1} = r_t - o_t */
        }
        const float gt = gain_at(net, t), ginv = 1.0f / gt;
        if (has_gain) {
            /* o_t = D / g_t: dL/da_t = -sum dL/do_t o_t, dL/dD = dL/do_t / g_t */
            const float *base = oneshot ? r0 : net->r[t];
            double da = 0;
            for (size_t i = 0; i < N; i++) {
                da -= (double)net->g_o[i] * (base[i] - rn[i]);
                net->g_o[i] *= ginv;
            }
            dgain[t] += (float)da;
        }
        NIC_TRY(iteration_backward(ctx, net, t, t > 0 || has_gain));
        if (has_gain) {
            /* u_t = g_t r_t: dL/da_t += sum dL/du_t u_t, dL/dr_t = g_t dL/du_t */
            const float *u = net->u[t];
            double da = 0;
            for (size_t i = 0; i < N; i++) {
                da += (double)net->g_in[i] * u[i];
                net->g_in[i] *= gt;
            }
            dgain[t] += (float)da;
        }
        if (t > 0)
            for (size_t i = 0; i < N; i++)
                net->g_r[i] += net->g_in[i];
    }
    return NIC_OK;
}

const float *nic_rnn_net_residual(const nic_rnn_net *net, int t)
{
    return net->train && t >= 0 && t <= net->T ? net->r[t] : NULL;
}

void nic_rnn_net_set_relaxed(nic_rnn_net *net, int relaxed)
{
    net->relaxed = relaxed != 0;
}

/* ---------------------------------------------------------------- inference */

void nic_rnn_net_reset(nic_rnn_net *net)
{
    net->e_it = 0;
    net->d_it = 0;
}

static void save_states(nn_convrnn_seq *seq, int cells, float **hs, float **cs, size_t *counts)
{
    for (int k = 0; k < cells; k++) {
        memcpy(hs[k], seq[k].h[1], counts[k] * sizeof(float));
        if (cs[k])
            memcpy(cs[k], seq[k].c[1], counts[k] * sizeof(float));
    }
}

nic_status nic_rnn_net_encode(nic_context *ctx, nic_rnn_net *net, const float *residual,
                              float *bits)
{
    if (net->train || !net->e_conv)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: not an encoder network");
    if (net->e_it >= NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: more than %d iterations",
                        NIC_RNN_MAX_ITERATIONS);
    NIC_TRY(net_layout(ctx, net));
    if (net->u[0]) {
        scale_into(residual, net->n_img, gain_at(net, net->e_it), net->u[0]);
        residual = net->u[0];
    }
    NIC_TRY(enc_forward(ctx, net, 0, residual, NULL, net->bpre, bits));
    save_states(net->eseq, NIC_RNN_ENC_CELLS, net->es_h, net->es_c, net->n_es);
    net->e_it++;
    return NIC_OK;
}

nic_status nic_rnn_net_decode(nic_context *ctx, nic_rnn_net *net, const float *bits, float *out)
{
    if (net->train)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: not an inference network");
    if (net->d_it >= NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: more than %d iterations",
                        NIC_RNN_MAX_ITERATIONS);
    NIC_TRY(net_layout(ctx, net));
    NIC_TRY(dec_forward(ctx, net, 0, bits, out));
    if (net->m->gain >= 0)
        scale_into(out, net->n_img, 1.0f / gain_at(net, net->d_it), out);
    save_states(net->dseq, NIC_RNN_DEC_CELLS, net->ds_h, net->ds_c, net->n_dstate);
    net->d_it++;
    return NIC_OK;
}
