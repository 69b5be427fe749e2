/*
 * The rnn model (src/models/rnn.h): parameter shapes, the whole BPTT gradient
 * against finite differences (binarizer relaxed to tanh, so the gradient is
 * exact; additive, one-shot and ConvLSTM), the one-iteration inference path
 * against the unrolled training path, and a short training run whose loss
 * must fall.
 */
#include <math.h>

#include "test.h"

#include "models/rnn.h"
#include "nn/conv.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

static nic_context *ctx;

static void tiny_config(nic_rnn_config *c, nn_convrnn_kind kind, int oneshot, int iterations)
{
    nic_rnn_config_default(c);
    c->cell = kind;
    c->e_conv = 4;
    c->enc[0] = 4;
    c->enc[1] = 6;
    c->enc[2] = 6;
    c->bits = 4;
    c->d_conv = 6;
    c->dec[0] = 8;
    c->dec[1] = 8;
    c->dec[2] = 8;
    c->dec[3] = 12; /* 3 channels at full size before the RGB convolution */
    c->iterations = iterations;
    c->oneshot = oneshot;
}

/* Smooth random pictures (sums of a few gradients) in [0, 1]. */
static void fill_pictures(nn_rng *rng, float *x, int n, int h, int w)
{
    for (int s = 0; s < n; s++)
        for (int c = 0; c < 3; c++) {
            double a = nn_rng_uniform(rng), b = nn_rng_uniform(rng) - 0.5,
                   d = nn_rng_uniform(rng) - 0.5, f = 3 + 6 * nn_rng_uniform(rng);
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++) {
                    double v = 0.2 + 0.6 * a + 0.3 * b * y / h + 0.3 * d * xx / w +
                               0.1 * sin(f * (xx + y) / w);
                    x[(((size_t)s * 3 + c) * h + y) * w + xx] = (float)v;
                }
        }
}

static void test_shapes(void)
{
    nic_rnn_config c;
    nic_rnn_config_default(&c);
    nic_rnn_model m;
    CHECK_STATUS(nic_rnn_model_create(ctx, &c, &m), NIC_OK);
    /* 4 convolutions (weight + bias) and 7 cells (wx, b, wh) */
    CHECK(m.params.count == 4 * 2 + 7 * 3);
    const nn_param *wx = &m.params.items[m.dec[2].wx], *wh = &m.params.items[m.dec[2].wh];
    /* D-RNN3 (GRU): 3 gates, input = D-RNN2's channels / 4 after depth-to-space, 3x3 hidden */
    CHECK(wx->shape[0] == 3 * c.dec[2] && wx->shape[1] == c.dec[1] / 4 && wx->shape[2] == 3);
    CHECK(wh->shape[0] == 3 * c.dec[2] && wh->shape[1] == c.dec[2] && wh->shape[2] == 3);
    CHECK(m.params.items[m.dec[1].wh].shape[2] == 1); /* D-RNN2: 1x1 hidden */
    CHECK(m.params.items[m.enc[0].wh].shape[2] == 1);
    CHECK(m.params.items[m.b_conv_w].shape[0] == c.bits);
    CHECK(m.params.items[m.d_out_w].shape[0] == 3 &&
          m.params.items[m.d_out_w].shape[1] == c.dec[3] / 4);
    /* 32 bits per 16x16 block: 0.125 bpp per iteration */
    CHECK(c.bits == 32);
    nic_rnn_model_free(&m);
    nic_rnn_config bad = c;
    bad.dec[3] = 6; /* not a multiple of 4 (depth-to-space) */
    CHECK_STATUS(nic_rnn_model_create(ctx, &bad, &m), NIC_ERR_INVALID_ARGUMENT);

    /* the forward pass: bits are +-1, each iteration's MSE is finite */
    tiny_config(&c, NN_CONVGRU, 0, 3);
    CHECK_STATUS(nic_rnn_model_create(ctx, &c, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    nic_rnn_model_init(&m, &rng);
    nic_rnn_net *net = NULL, *bad_net = NULL;
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, 2, 40, 32, 3, 1, NN_CONV_REFERENCE, &bad_net),
                 NIC_ERR_INVALID_ARGUMENT); /* 40 is not a multiple of 16 */
    CHECK(bad_net == NULL);
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, 2, 48, 32, 3, 1, NN_CONV_REFERENCE, &net),
                 NIC_OK);
    float *x = calloc(2 * 3 * 48 * 32, sizeof(float));
    fill_pictures(&rng, x, 2, 48, 32);
    nic_rnn_stats s;
    CHECK_STATUS(nic_rnn_train_step(ctx, net, x, &rng, 1, &s), NIC_OK);
    CHECK(s.iterations == 3);
    for (int t = 0; t < 3; t++)
        CHECK(isfinite(s.mse[t]) && s.mse[t] > 0);
    CHECK(isfinite(s.loss) && s.loss > 0);
    free(x);
    nic_rnn_net_destroy(net);
    nic_rnn_model_free(&m);
}

/* ---------------------------------------------------------------- gradients */

/* Directional derivatives along random directions, per tensor group and for
 * all parameters at once, against central differences (float: ~1e-3). */
/* Gains away from 1 (the model starts at log gain 0). */
static void set_gains(nic_rnn_model *m)
{
    if (m->gain < 0)
        return;
    float *a = nn_param_data(&m->params, m->gain);
    for (int t = 0; t < NIC_RNN_MAX_ITERATIONS; t++)
        a[t] = 0.4f * t - 0.3f;
}

static const char *const loss_names[3] = {"l1", "mse", "log-mse"};

static void test_gradient(nn_convrnn_kind kind, int oneshot, int gain, int loss)
{
    const int T = 3, n = 2, h = 32, w = 32;
    nic_rnn_config c;
    tiny_config(&c, kind, oneshot, T);
    c.gain = gain;
    c.mse_loss = loss;
    nic_rnn_model m;
    CHECK_STATUS(nic_rnn_model_create(ctx, &c, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 11 + kind * 2 + oneshot);
    nic_rnn_model_init(&m, &rng);
    nn_params *p = &m.params;
    /* larger weights than the init so that every path carries signal */
    for (size_t i = 0; i < p->total; i++)
        p->data[i] *= 2.0f;
    set_gains(&m);
    /* a strong encoder: the bits follow the residual closely, so the path from
     * one iteration's output through the next iteration's encoder input (BPTT
     * through the residual) carries a good part of the gradient */
    for (int i = 0; i < p->count; i++)
        if (strncmp(p->items[i].name, "e_conv", 6) == 0 || strncmp(p->items[i].name, "b_conv", 6) == 0)
            for (size_t k = 0; k < p->items[i].count; k++)
                p->data[p->items[i].offset + k] *= 4.0f;
    nic_rnn_net *net = NULL;
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, n, h, w, T, 1, NN_CONV_REFERENCE, &net),
                 NIC_OK);
    float *x = calloc((size_t)n * 3 * h * w, sizeof(float));
    fill_pictures(&rng, x, n, h, w);
    nn_params_zero_grad(p);
    nic_rnn_stats s;
    /* tanh passes: the analytic gradient of this (smooth) loss */
    nic_rnn_net_set_relaxed(net, 1);
    CHECK_STATUS(nic_rnn_train_step(ctx, net, x, NULL, 1, &s), NIC_OK);
    float *g = malloc(p->total * sizeof(float)), *v = malloc(p->total * sizeof(float));
    float *base = malloc(p->total * sizeof(float));
    memcpy(g, p->grad, p->total * sizeof(float));
    memcpy(base, p->data, p->total * sizeof(float));
    double worst = 0;
    const char *groups[5] = {"e_", "b_conv", "d_", "", "r_gain"};
    double gnorm[5];
    for (int gi = 0; gi < 4 + gain; gi++) {
        double gv = 0, vv = 0;
        memset(v, 0, p->total * sizeof(float));
        gnorm[gi] = 0;
        for (int i = 0; i < p->count; i++)
            if (strncmp(p->items[i].name, groups[gi], strlen(groups[gi])) == 0)
                for (size_t k = 0; k < p->items[i].count; k++)
                    gnorm[gi] += (double)g[p->items[i].offset + k] * g[p->items[i].offset + k];
        gnorm[gi] = sqrt(gnorm[gi] / (double)p->total);
        for (int i = 0; i < p->count; i++) {
            if (strncmp(p->items[i].name, groups[gi], strlen(groups[gi])) != 0)
                continue;
            for (size_t k = 0; k < p->items[i].count; k++) {
                size_t o = p->items[i].offset + k;
                v[o] = (float)(0.5 * nn_rng_normal(&rng) + g[o] / (1e-12 + gnorm[gi]));
                vv += (double)v[o] * v[o];
            }
        }
        for (size_t k = 0; k < p->total; k++)
            v[k] /= (float)sqrt(vv);
        for (size_t k = 0; k < p->total; k++)
            gv += (double)g[k] * v[k];
        const double eps = 1e-3;
        double l[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (size_t k = 0; k < p->total; k++)
                p->data[k] = base[k] + (float)((sgn ? -eps : eps) * v[k]);
            nic_rnn_stats s2;
            CHECK_STATUS(nic_rnn_train_step(ctx, net, x, NULL, 0, &s2), NIC_OK);
            l[sgn] = s2.loss;
        }
        memcpy(p->data, base, p->total * sizeof(float));
        double fd = (l[0] - l[1]) / (2 * eps);
        double rel = fabs(fd - gv) / fmax(fabs(fd), 1e-6);
        worst = fmax(worst, rel);
        CHECK_MSG(rel < 0.01, "%s %s%s %s, params '%s*': directional derivative %.6g, finite "
                  "difference %.6g", kind == NN_CONVGRU ? "gru" : "lstm",
                  oneshot ? "one-shot" : "additive", gain ? " gains" : "", loss_names[loss],
                  groups[gi], gv, fd);
        CHECK_MSG(fabs(gv) > 1e-5, "gradient along '%s*' vanishes (%.3g)", groups[gi], gv);
    }
    printf("rnn %s %s%s %s: gradient vs finite differences, worst relative error %.2g\n",
           kind == NN_CONVGRU ? "gru" : "lstm", oneshot ? "one-shot" : "additive",
           gain ? " gains" : "", loss_names[loss], worst);
    free(g), free(v), free(base), free(x);
    nic_rnn_net_destroy(net);
    nic_rnn_model_free(&m);
}

/* ---------------------------------------------------------------- inference */

/* The codec's path (one iteration at a time, carried states) gives the training
 * path's residuals (sign binarizer). */
static void test_inference_matches(nn_convrnn_kind kind, int oneshot, int gain)
{
    const int T = 4, h = 48, w = 64;
    nic_rnn_config c;
    tiny_config(&c, kind, oneshot, T);
    c.gain = gain;
    nic_rnn_model m;
    CHECK_STATUS(nic_rnn_model_create(ctx, &c, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 21);
    nic_rnn_model_init(&m, &rng);
    set_gains(&m);
    nic_rnn_net *tr = NULL, *enc = NULL, *dec = NULL;
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, 1, h, w, T, 1, NN_CONV_REFERENCE, &tr), NIC_OK);
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, 1, h, w, 1, 0, NN_CONV_REFERENCE, &enc),
                 NIC_OK);
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &m, 1, h, w, 1, 0,
                                    NN_CONV_REFERENCE | NIC_RNN_NET_DECODER_ONLY, &dec),
                 NIC_OK);
    CHECK_STATUS(nic_rnn_net_encode(ctx, dec, NULL, NULL), NIC_ERR_INVALID_ARGUMENT);
    const size_t N = (size_t)3 * h * w, nb = (size_t)c.bits * (h / 16) * (w / 16);
    float *x = calloc(N, sizeof(float)), *r = calloc(N, sizeof(float));
    float *o = calloc(N, sizeof(float)), *o2 = calloc(N, sizeof(float));
    float *bits = calloc(nb, sizeof(float));
    fill_pictures(&rng, x, 1, h, w);
    nic_rnn_stats s;
    CHECK_STATUS(nic_rnn_train_step(ctx, tr, x, NULL, 0, &s), NIC_OK);
    for (size_t i = 0; i < N; i++)
        r[i] = x[i] - 0.5f;
    nic_rnn_net_reset(enc);
    nic_rnn_net_reset(dec);
    int same_bits = 1;
    for (int t = 0; t < T; t++) {
        CHECK_STATUS(nic_rnn_net_encode(ctx, enc, r, bits), NIC_OK);
        for (size_t i = 0; i < nb; i++)
            CHECK(bits[i] == 1.0f || bits[i] == -1.0f);
        CHECK_STATUS(nic_rnn_net_decode(ctx, enc, bits, o), NIC_OK);
        CHECK_STATUS(nic_rnn_net_decode(ctx, dec, bits, o2), NIC_OK);
        same_bits &= memcmp(o, o2, N * sizeof(float)) == 0;
        double sq = 0;
        for (size_t i = 0; i < N; i++) {
            r[i] = (oneshot ? x[i] - 0.5f : r[i]) - o[i];
            sq += (double)r[i] * r[i];
        }
        double mse = sq / N * 255 * 255;
        CHECK_MSG(fabs(mse - s.mse[t]) <= 1e-4 * s.mse[t], "iteration %d: inference MSE %.6g, "
                  "training path %.6g", t, mse, s.mse[t]);
    }
    CHECK_MSG(same_bits, "the decoder-only network differs from the encoder's decoder");
    free(x), free(r), free(o), free(o2), free(bits);
    nic_rnn_net_destroy(tr);
    nic_rnn_net_destroy(enc);
    nic_rnn_net_destroy(dec);
    nic_rnn_model_free(&m);
}

/* ---------------------------------------------------------------- growing */

/* A narrower model without gains, loaded into a wider one with gains (the
 * start of a wider training run), computes the same residuals; the new
 * channels do carry values (their rows), and training can use them. */
static void test_widen(nn_convrnn_kind kind)
{
    const int T = 3, n = 1, h = 32, w = 48;
    nic_rnn_config small, big;
    tiny_config(&small, kind, 0, T);
    big = small;
    big.gain = 1;
    big.e_conv = 6;
    big.enc[0] = 8;
    big.enc[2] = 9;
    big.d_conv = 7;
    big.dec[1] = 12;
    big.dec[3] = 16;
    nic_rnn_model ms, mb;
    CHECK_STATUS(nic_rnn_model_create(ctx, &small, &ms), NIC_OK);
    CHECK_STATUS(nic_rnn_model_create(ctx, &big, &mb), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 31);
    nic_rnn_model_init(&ms, &rng);
    nic_rnn_model_init(&mb, &rng);
    char path[1024];
    snprintf(path, sizeof(path), "%s/test_rnn_widen_%d.safetensors", test_tmp_dir(), (int)kind);
    CHECK_STATUS(nn_weights_save(ctx, path, &ms.params), NIC_OK);
    CHECK_STATUS(nic_rnn_model_load(ctx, &mb, path), NIC_OK);
    /* the other way round does not fit */
    CHECK_STATUS(nn_weights_save(ctx, path, &mb.params), NIC_OK);
    CHECK_STATUS(nic_rnn_model_load(ctx, &ms, path), NIC_ERR_MISMATCH);
    remove(path);
    nic_rnn_net *ns = NULL, *nb = NULL;
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &ms, n, h, w, T, 1, NN_CONV_REFERENCE, &ns), NIC_OK);
    CHECK_STATUS(nic_rnn_net_create(ctx, NULL, &mb, n, h, w, T, 1, NN_CONV_REFERENCE, &nb), NIC_OK);
    float *x = calloc((size_t)n * 3 * h * w, sizeof(float));
    fill_pictures(&rng, x, n, h, w);
    nic_rnn_stats a, b;
    CHECK_STATUS(nic_rnn_train_step(ctx, ns, x, NULL, 0, &a), NIC_OK);
    CHECK_STATUS(nic_rnn_train_step(ctx, nb, x, NULL, 0, &b), NIC_OK);
    for (int t = 0; t < T; t++)
        CHECK_MSG(fabs(a.mse[t] - b.mse[t]) <= 1e-5 * a.mse[t], "iteration %d: narrow model "
                  "MSE %.6g, widened %.6g", t, a.mse[t], b.mse[t]);
    /* the new channels' outgoing weights get gradient (they are not dead) */
    nn_params_zero_grad(&mb.params);
    CHECK_STATUS(nic_rnn_train_step(ctx, nb, x, &rng, 1, &b), NIC_OK);
    const nn_param *dout = &mb.params.items[mb.d_out_w];
    const float *g = nn_param_grad(&mb.params, mb.d_out_w);
    double gnew = 0;
    for (int o = 0; o < 3; o++)
        for (int64_t i = small.dec[3] / 4; i < dout->shape[1]; i++)
            gnew += fabs(g[o * dout->shape[1] + i]);
    CHECK_MSG(gnew > 0, "no gradient into D-Out's new input channels");
    printf("rnn %s widened: the same MSE after %d iterations (%.4g)\n",
           kind == NN_CONVGRU ? "gru" : "lstm", T, b.mse[T - 1]);
    free(x);
    nic_rnn_net_destroy(ns);
    nic_rnn_net_destroy(nb);
    nic_rnn_model_free(&ms);
    nic_rnn_model_free(&mb);
}

/* ---------------------------------------------------------------- training */

static void test_training_lowers_loss(void)
{
    const int T = 4, n = 8, h = 32, w = 32;
    nic_rnn_config c;
    tiny_config(&c, NN_CONVGRU, 0, T);
    c.bits = 8;
    nic_rnn_model m;
    CHECK_STATUS(nic_rnn_model_create(ctx, &c, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_rnn_model_init(&m, &rng);
    nn_engine *eng = NULL;
    CHECK_STATUS(nn_engine_create(ctx, &eng), NIC_OK);
    nic_rnn_net *net = NULL;
    CHECK_STATUS(nic_rnn_net_create(ctx, eng, &m, n, h, w, T, 1, 0, &net), NIC_OK);
    float *x = calloc((size_t)n * 3 * h * w, sizeof(float));
    nn_adam opt;
    nn_adam_init(&opt);
    double first = 0, last = 0, last_mse1 = 0, last_mse_t = 0;
    const int steps = 150;
    fill_pictures(&rng, x, n, h, w); /* one batch, learnt by heart */
    for (int step = 0; step < steps; step++) {
        nn_params_zero_grad(&m.params);
        nic_rnn_stats s;
        CHECK_STATUS(nic_rnn_train_step(ctx, net, x, &rng, 1, &s), NIC_OK);
        nn_adam_step(&opt, &m.params, 1e-2f);
        if (step < 10)
            first += s.loss / 10;
        if (step >= steps - 10) {
            last += s.loss / 10;
            last_mse1 += s.mse[0] / 10;
            last_mse_t += s.mse[T - 1] / 10;
        }
    }
    printf("rnn training: loss %.4f (first 10 steps) -> %.4f (last 10); MSE after 1 iteration "
           "%.1f, after %d: %.1f\n", first, last, last_mse1, T, last_mse_t);
    CHECK_MSG(last < 0.75 * first, "loss %.4f -> %.4f", first, last);
    /* later iterations improve on the first */
    CHECK_MSG(last_mse_t < last_mse1, "MSE after %d iterations %.2f, after 1 %.2f", T, last_mse_t,
              last_mse1);
    free(x);
    nic_rnn_net_destroy(net);
    nn_engine_destroy(eng);
    nic_rnn_model_free(&m);
}

int main(void)
{
    ctx = nic_context_create();
    test_shapes();
    test_gradient(NN_CONVGRU, 0, 0, NIC_RNN_LOSS_L1);
    test_gradient(NN_CONVGRU, 1, 0, NIC_RNN_LOSS_L1);
    test_gradient(NN_CONVLSTM, 0, 0, NIC_RNN_LOSS_L1);
    test_gradient(NN_CONVGRU, 0, 1, NIC_RNN_LOSS_L1);
    test_gradient(NN_CONVGRU, 1, 1, NIC_RNN_LOSS_L1);
    test_gradient(NN_CONVGRU, 0, 1, NIC_RNN_LOSS_MSE);
    test_gradient(NN_CONVGRU, 0, 1, NIC_RNN_LOSS_LOG_MSE);
    test_gradient(NN_CONVGRU, 1, 1, NIC_RNN_LOSS_LOG_MSE);
    test_inference_matches(NN_CONVGRU, 0, 0);
    test_inference_matches(NN_CONVLSTM, 1, 0);
    test_inference_matches(NN_CONVGRU, 0, 1);
    test_widen(NN_CONVGRU);
    test_widen(NN_CONVLSTM);
    test_training_lowers_loss();
    nic_context_destroy(ctx);
    return test_finish("test_models_rnn");
}
