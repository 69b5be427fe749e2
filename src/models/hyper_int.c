#include "models/hyper_int.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"

#define TILE 64 /* pixels per tile of the fast heads */

static void fast_layer_free(nic_hyper_int_layer *f)
{
    nn_phase_layout_free(&f->pl);
    free(f->groups);
    nn_free(f->w);
    nn_free(f->bias);
    memset(f, 0, sizeof(*f));
}

/* The qconv's integer weights rearranged for nn_iconv32_row. */
static nic_status fast_layer_create(nic_context *ctx, const nic_qconv *q, nic_hyper_int_layer *f)
{
    nn_phase_kind kind;
    if (q->transposed && q->k == 5 && q->stride == 2)
        kind = NN_PHASE_CONVT_S2;
    else if (!q->transposed && q->k == 5 && q->stride == 2)
        kind = NN_PHASE_CONV_S2;
    else if (!q->transposed && q->k == 3 && q->stride == 1)
        kind = NN_PHASE_CONV_S1;
    else
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "integer heads: %dx%d stride %d layers",
                        q->k, q->k, q->stride);
    NIC_TRY(nn_phase_layout_init(ctx, &f->pl, kind, q->c_in, q->c_out, 8, 1, 4, 0));
    const nn_phase_layout *pl = &f->pl;
    f->relu = q->relu;
    f->groups = calloc((size_t)pl->ngroups, sizeof(*f->groups));
    f->w = nn_alloc(pl->w_count * sizeof(int64_t));
    f->bias = nn_alloc((size_t)pl->lanes * sizeof(int64_t));
    if (!f->groups || !f->w || !f->bias)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer heads: out of memory");
    for (int gi = 0; gi < pl->ngroups; gi++) {
        const nn_phase_group *g = &pl->groups[gi];
        for (int ti = g->tap0; ti < g->tap0 + g->ntaps; ti++) {
            const nn_iconv_tap *t = &pl->taps[ti];
            for (int c = 0; c < t->n; c++)
                for (int l = 0; l < g->blocks * pl->block; l++) {
                    ptrdiff_t wi = nn_phase_weight_index(pl, g->lane0 + l, t, t->c0 + c);
                    f->w[nn_phase_w_index(pl, g, t, c, l, 0)] = wi < 0 ? 0 : q->w[wi];
                }
        }
        f->groups[gi] = (nn_iconv32_group){.blocks = g->blocks,
                                           .lane0 = g->lane0,
                                           .ntaps = g->ntaps,
                                           .taps = pl->taps + g->tap0,
                                           .w = f->w,
                                           .bias = f->bias + g->lane0};
    }
    for (int lane = 0; lane < pl->lanes; lane++) {
        int oc = nn_phase_lane_channel(pl, lane);
        f->bias[lane] = oc < 0 ? 0 : q->b[oc];
    }
    return NIC_OK;
}

static void dense_free(nic_hyper_int_dense *d)
{
    free(d->groups);
    nn_free(d->w);
    nn_free(d->bias);
    memset(d, 0, sizeof(*d));
}

/* A qconv 1x1 layer's integer weights in groups of up to 4 blocks of 8 lanes:
 * per group, [c_in][group lanes] weights (0 past c_out) and its biases. */
static nic_status dense_create(nic_context *ctx, const nic_qconv *q, nic_hyper_int_dense *d)
{
    memset(d, 0, sizeof(*d));
    d->c_in = q->c_in;
    d->c_out = q->c_out;
    d->relu = q->relu;
    d->lanes = (q->c_out + 7) / 8 * 8;
    d->ngroups = (d->lanes + 31) / 32;
    d->tap = (nn_iconv_tap){.dy = 0, .dx = 0, .c0 = 0, .n = q->c_in, .w_off = 0};
    d->groups = calloc((size_t)d->ngroups, sizeof(*d->groups));
    d->w = nn_alloc((size_t)d->lanes * q->c_in * sizeof(int64_t));
    d->bias = nn_alloc((size_t)d->lanes * sizeof(int64_t));
    if (!d->groups || !d->w || !d->bias)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer context: out of memory");
    for (int g = 0; g < d->ngroups; g++) {
        int lane0 = 32 * g, lanes = d->lanes - lane0 < 32 ? d->lanes - lane0 : 32;
        int64_t *w = d->w + (size_t)lane0 * q->c_in;
        for (int c = 0; c < q->c_in; c++)
            for (int l = 0; l < lanes; l++) {
                int oc = lane0 + l;
                w[(size_t)c * lanes + l] = oc < q->c_out ? q->w[(size_t)oc * q->c_in + c] : 0;
            }
        for (int l = 0; l < lanes; l++)
            d->bias[lane0 + l] = lane0 + l < q->c_out ? q->b[lane0 + l] : 0;
        d->groups[g] = (nn_iconv32_group){.blocks = lanes / 8,
                                          .lane0 = lane0,
                                          .ntaps = 1,
                                          .taps = &d->tap,
                                          .w = w,
                                          .bias = d->bias + lane0};
    }
    return NIC_OK;
}

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
    for (int i = 0; i < 3 && st == NIC_OK; i++) {
        st = fast_layer_create(ctx, &hi->mean[i], &hi->mean_k[i]);
        if (st == NIC_OK)
            st = fast_layer_create(ctx, &hi->scale[i], &hi->scale_k[i]);
    }
    hi->isa = nn_isa_best();
    const nn_params *p = &model->params;
    if (st == NIC_OK && model->cfg.ctx > 0) {
        const nic_conv_block *cx = model->cx;
        hi->ctx_width = model->cfg.ctx;
        hi->ctx_nb = nic_hyper_ctx_k(&model->cfg);
        for (int i = 0; i < 2 && st == NIC_OK; i++)
            st = nic_qconv_init(ctx, &hi->ctx[i], nn_param_data(p, cx[i].weight),
                                nn_param_data(p, cx[i].bias), cx[i].c_in, cx[i].c_out, 1, 1, 0,
                                i == 0);
        for (int i = 0; i < 2 && st == NIC_OK; i++)
            st = dense_create(ctx, &hi->ctx[i], &hi->ctx_k[i]);
    }
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
        fast_layer_free(&hi->mean_k[i]);
        fast_layer_free(&hi->scale_k[i]);
    }
    for (int i = 0; i < 2; i++) {
        nic_qconv_free(&hi->ctx[i]);
        dense_free(&hi->ctx_k[i]);
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

/* One fast layer on a bordered pixel-major grid x ((h + 2) x (w + 2) x c_in):
 * to the next bordered grid, or (out_planes) to [c_out][h_out][w_out]. */
static void fast_layer_run(const nic_hyper_int_layer *f, nn_isa isa, const int32_t *x, int h,
                           int w, int32_t *y, int out_planes, int64_t **acc_tls)
{
    const nn_phase_layout *pl = &f->pl;
    const int ci = pl->cin_grid, co = pl->c_out, lanes = pl->lanes;
    const int up = pl->kind == NN_PHASE_CONVT_S2 ? 2 : 1;
    const int ho = h * up, wo = w * up;
    const ptrdiff_t in_row = (ptrdiff_t)(w + 2) * ci, out_row = (ptrdiff_t)(wo + 2) * co;
    const int chunks = (w + TILE - 1) / TILE;
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < h * chunks; k++) {
        int64_t *acc = acc_tls[omp_get_thread_num()];
        int i = k / chunks, j0 = (k % chunks) * TILE, n = w - j0 < TILE ? w - j0 : TILE;
        const int32_t *xp = x + (i + 1) * in_row + (ptrdiff_t)(1 + j0) * ci;
        for (int g = 0; g < pl->ngroups; g++)
            nn_iconv32_row(isa, xp, in_row, ci, n, &f->groups[g], acc, lanes);
        for (int p = 0; p < n; p++)
            for (int ph = 0; ph < up * up; ph++) {
                int oy = i * up + ph / 2, ox = (j0 + p) * up + ph % 2;
                const int64_t *a = acc + (ptrdiff_t)p * lanes + ph * co;
                for (int c = 0; c < co; c++) {
                    int32_t v = nic_q_finish(a[c], f->relu);
                    if (out_planes)
                        y[((size_t)c * ho + oy) * wo + ox] = v;
                    else
                        y[(oy + 1) * out_row + (ptrdiff_t)(ox + 1) * co + c] = v;
                }
            }
    }
}

static void run_head_fast(const nic_hyper_int_layer *f, nn_isa isa, const int32_t *zg, int hz,
                          int wz, int32_t *g1, int32_t *g2, int64_t **acc, int32_t *out)
{
    fast_layer_run(&f[0], isa, zg, hz, wz, g1, 0, acc);
    fast_layer_run(&f[1], isa, g1, 2 * hz, 2 * wz, g2, 0, acc);
    fast_layer_run(&f[2], isa, g2, 4 * hz, 4 * wz, out, 1, acc);
}

nic_status nic_hyper_int_heads(nic_context *ctx, const nic_hyper_int *hi, const int32_t *zhat,
                               int hz, int wz, int32_t *mean_q16, int32_t *log_scale_q16)
{
    const int n = hi->mean_k[1].pl.cin_grid, nzc = hi->mean_k[0].pl.cin_grid;
    const size_t zg_n = (size_t)(hz + 2) * (wz + 2) * nzc;
    const size_t g1_n = (size_t)(2 * hz + 2) * (2 * wz + 2) * n;
    const size_t g2_n = (size_t)(4 * hz + 2) * (4 * wz + 2) * n;
    int lanes = 0;
    for (int i = 0; i < 3; i++) {
        lanes = hi->mean_k[i].pl.lanes > lanes ? hi->mean_k[i].pl.lanes : lanes;
        lanes = hi->scale_k[i].pl.lanes > lanes ? hi->scale_k[i].pl.lanes : lanes;
    }
    const int threads = omp_get_max_threads();
    int32_t *zg = nn_alloc(zg_n * sizeof(int32_t)), *g1 = nn_alloc(g1_n * sizeof(int32_t));
    int32_t *g2 = nn_alloc(g2_n * sizeof(int32_t));
    int64_t **acc = calloc((size_t)threads, sizeof(*acc));
    nic_status st = NIC_OK;
    if (!zg || !g1 || !g2 || !acc)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer hyperprior: out of memory for %dx%d", hz, wz);
    for (int t = 0; st == NIC_OK && t < threads; t++)
        if (!(acc[t] = nn_alloc((size_t)TILE * lanes * sizeof(int64_t))))
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer hyperprior: out of memory");
    if (st == NIC_OK) {
        /* z^ in Q16, pixel-major with a zero border (nn_alloc zeroes) */
        for (int c = 0; c < hi->nz; c++)
            for (int i = 0; i < hz; i++)
                for (int j = 0; j < wz; j++) {
                    int64_t v = (int64_t)zhat[((size_t)c * hz + i) * wz + j] * NIC_Q_ONE;
                    zg[((size_t)(i + 1) * (wz + 2) + j + 1) * nzc + c] =
                        v > INT32_MAX ? INT32_MAX
                                      : (v < -(int64_t)INT32_MAX ? -INT32_MAX : (int32_t)v);
                }
        run_head_fast(hi->mean_k, hi->isa, zg, hz, wz, g1, g2, acc, mean_q16);
        run_head_fast(hi->scale_k, hi->isa, zg, hz, wz, g1, g2, acc, log_scale_q16);
    }
    for (int t = 0; acc && t < threads; t++)
        nn_free(acc[t]);
    free(acc);
    nn_free(zg);
    nn_free(g1);
    nn_free(g2);
    return st;
}

nic_status nic_hyper_int_heads_reference(nic_context *ctx, const nic_hyper_int *hi,
                                         const int32_t *zhat, int hz, int wz, int32_t *mean_q16,
                                         int32_t *log_scale_q16)
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

#define CTX_CHUNK 4096 /* non-anchor positions per pass of the context network */
#define CTX_RUN 64     /* positions per call of the fast kernels */

static int32_t sat_add(int32_t a, int32_t b)
{
    int64_t v = (int64_t)a + b;
    return (int32_t)(v > INT32_MAX ? INT32_MAX : (v < -(int64_t)INT32_MAX ? -INT32_MAX : v));
}

/* The non-anchor positions from *next on, at most CTX_CHUNK of them. */
static int next_chunk(int hy, int wy, size_t *next, size_t *pos)
{
    const size_t plane = (size_t)hy * wy;
    int n = 0;
    for (; *next < plane && n < CTX_CHUNK; (*next)++)
        if (!nic_hyper_is_anchor((int)(*next / wy), (int)(*next % wy)))
            pos[n++] = *next;
    return n;
}

/* The neighbour d's y^ of position p, channel c: 0 outside. */
static int32_t neighbour(const int32_t *yhat_q16, int hy, int wy, size_t p, int d, int c)
{
    long nb = nic_hyper_ctx_neighbour((int)(p / wy), (int)(p % wy), d, hy, wy);
    return nb < 0 ? 0 : yhat_q16[(size_t)c * hy * wy + (size_t)nb];
}

/* out = the layer on x, pixel-major ([n][c_in] -> [n][c_out]); acc: CTX_RUN x lanes. */
static void dense_run(const nic_hyper_int_dense *d, nn_isa isa, const int32_t *x, int n,
                      int32_t *out, int64_t *acc)
{
    for (int p0 = 0; p0 < n; p0 += CTX_RUN) {
        int np = n - p0 < CTX_RUN ? n - p0 : CTX_RUN;
        for (int g = 0; g < d->ngroups; g++)
            nn_iconv32_row(isa, x + (size_t)p0 * d->c_in, 0, d->c_in, np, &d->groups[g], acc,
                           d->lanes);
        for (int p = 0; p < np; p++)
            for (int c = 0; c < d->c_out; c++)
                out[(size_t)(p0 + p) * d->c_out + c] =
                    nic_q_finish(acc[(size_t)p * d->lanes + c], d->relu);
    }
}

/* The network on one chunk of n positions with the fast kernels: o [n][2M]. */
static void context_chunk_fast(const nic_hyper_int *hi, const int32_t *yhat_q16, int hy, int wy,
                               const size_t *pos, int n, int32_t *x, int32_t *h, int32_t *o,
                               int64_t *acc, int lanes)
{
    const int M = hi->m, C = hi->ctx_width, K = hi->ctx_nb;
    /* pixel-major input [position][direction][channel]; runs of CTX_RUN positions
     * go to the threads (each output depends on its own inputs only) */
    const int runs = (n + CTX_RUN - 1) / CTX_RUN;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < runs; r++) {
        int64_t *a = acc + (size_t)omp_get_thread_num() * CTX_RUN * lanes;
        int k0 = r * CTX_RUN, k1 = k0 + CTX_RUN < n ? k0 + CTX_RUN : n;
        for (int k = k0; k < k1; k++)
            for (int d = 0; d < K; d++)
                for (int c = 0; c < M; c++)
                    x[(size_t)k * K * M + d * M + c] = neighbour(yhat_q16, hy, wy, pos[k], d, c);
        dense_run(&hi->ctx_k[0], hi->isa, x + (size_t)k0 * K * M, k1 - k0, h + (size_t)k0 * C, a);
        dense_run(&hi->ctx_k[1], hi->isa, h + (size_t)k0 * C, k1 - k0, o + (size_t)k0 * 2 * M, a);
    }
}

/* The same with nic_qconv_forward on a 1 x n picture (planar), o then made
 * pixel-major; tmp holds the planar output. */
static void context_chunk_reference(const nic_hyper_int *hi, const int32_t *yhat_q16, int hy,
                                    int wy, const size_t *pos, int n, int32_t *x, int32_t *h,
                                    int32_t *o, int32_t *tmp, int64_t *acc)
{
    const int M = hi->m;
    for (int d = 0; d < hi->ctx_nb; d++)
        for (int c = 0; c < M; c++)
            for (int k = 0; k < n; k++)
                x[((size_t)d * M + c) * n + k] = neighbour(yhat_q16, hy, wy, pos[k], d, c);
    nic_qconv_forward(&hi->ctx[0], x, 1, n, h, acc);
    nic_qconv_forward(&hi->ctx[1], h, 1, n, tmp, acc);
    for (int c = 0; c < 2 * M; c++)
        for (int k = 0; k < n; k++)
            o[(size_t)k * 2 * M + c] = tmp[(size_t)c * n + k];
}

static nic_status context_run(nic_context *ctx, const nic_hyper_int *hi, const int32_t *yhat_q16,
                              int hy, int wy, int32_t *mean_q16, int32_t *log_scale_q16,
                              int reference)
{
    if (hi->ctx_width <= 0)
        return NIC_OK;
    const int M = hi->m, C = hi->ctx_width, wide = C > 2 * M ? C : 2 * M;
    const size_t plane = (size_t)hy * wy;
    const int lanes = hi->ctx_k[0].lanes > hi->ctx_k[1].lanes ? hi->ctx_k[0].lanes : hi->ctx_k[1].lanes;
    const size_t acc_n = reference ? (size_t)wide * CTX_CHUNK
                                   : (size_t)omp_get_max_threads() * CTX_RUN * lanes;
    int32_t *x = nn_alloc(sizeof(int32_t) * hi->ctx_nb * M * CTX_CHUNK);
    int32_t *h = nn_alloc(sizeof(int32_t) * C * CTX_CHUNK);
    int32_t *o = nn_alloc(sizeof(int32_t) * 2 * M * CTX_CHUNK);
    int32_t *tmp = reference ? nn_alloc(sizeof(int32_t) * 2 * M * CTX_CHUNK) : NULL;
    int64_t *acc = nn_alloc(sizeof(int64_t) * acc_n);
    size_t *pos = malloc(sizeof(size_t) * CTX_CHUNK);
    nic_status st = NIC_OK;
    if (!x || !h || !o || (reference && !tmp) || !acc || !pos) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer context: out of memory");
        goto done;
    }
    size_t next = 0;
    int n;
    while ((n = next_chunk(hy, wy, &next, pos)) > 0) {
        if (reference)
            context_chunk_reference(hi, yhat_q16, hy, wy, pos, n, x, h, o, tmp, acc);
        else
            context_chunk_fast(hi, yhat_q16, hy, wy, pos, n, x, h, o, acc, lanes);
        for (int k = 0; k < n; k++)
            for (int c = 0; c < M; c++) {
                size_t e = (size_t)c * plane + pos[k];
                mean_q16[e] = sat_add(mean_q16[e], o[(size_t)k * 2 * M + c]);
                log_scale_q16[e] = sat_add(log_scale_q16[e], o[(size_t)k * 2 * M + M + c]);
            }
    }
done:
    nn_free(x);
    nn_free(h);
    nn_free(o);
    nn_free(tmp);
    nn_free(acc);
    free(pos);
    return st;
}

nic_status nic_hyper_int_context(nic_context *ctx, const nic_hyper_int *hi,
                                 const int32_t *yhat_q16, int hy, int wy, int32_t *mean_q16,
                                 int32_t *log_scale_q16)
{
    return context_run(ctx, hi, yhat_q16, hy, wy, mean_q16, log_scale_q16, 0);
}

nic_status nic_hyper_int_context_reference(nic_context *ctx, const nic_hyper_int *hi,
                                           const int32_t *yhat_q16, int hy, int wy,
                                           int32_t *mean_q16, int32_t *log_scale_q16)
{
    return context_run(ctx, hi, yhat_q16, hy, wy, mean_q16, log_scale_q16, 1);
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
