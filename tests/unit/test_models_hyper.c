/* The hyperprior model's training step: whole-model gradient check by finite
 * differences on a tiny configuration, and sane statistics. */
#include "test.h"

#include "codec/hyper_codec.h"
#include "models/hyper.h"
#include "test_model_grad.h"

static double loss_at(nic_context *ctx, nic_hyper_trainer *tr, const float *x, const float *t,
                      uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_hyper_stats st;
    nic_status s = nic_hyper_train_step(ctx, tr, x, t, &rng, 2, &st);
    return s == NIC_OK ? st.loss : NAN;
}

typedef struct hyper_loss_args {
    nic_context *ctx;
    nic_hyper_trainer *tr;
    const float *x, *t;
} hyper_loss_args;

static double hyper_loss(void *user)
{
    hyper_loss_args *a = user;
    return loss_at(a->ctx, a->tr, a->x, a->t, 99);
}

/* The GDN block (1x1-convolution form) against the engine's reference GDN. */
static void test_gdn_block(nic_context *ctx)
{
    for (int inverse = 0; inverse <= 1; inverse++) {
        nn_params p;
        nn_params_init(&p);
        nic_gdn_block g;
        enum { N = 2, C = 5, H = 3, W = 4, COUNT = N * C * H * W };
        CHECK_STATUS(nic_gdn_block_declare(ctx, &p, "gdn", C, inverse, &g), NIC_OK);
        CHECK_STATUS(nn_params_alloc(ctx, &p), NIC_OK);
        nic_gdn_block_init(&g, &p);
        nn_rng rng;
        nn_rng_seed(&rng, 3);
        float *gamma = nn_param_data(&p, g.gamma);
        for (int i = 0; i < C * C; i++)
            gamma[i] += 0.2f * nn_rng_uniform(&rng);
        CHECK_STATUS(nic_gdn_block_plan(ctx, NULL, &g, N, H, W, NN_CONV_REFERENCE), NIC_OK);
        float x[COUNT], y[COUNT], sq[COUNT], norm[COUNT], yref[COUNT], nref[COUNT];
        for (int i = 0; i < COUNT; i++)
            x[i] = (float)nn_rng_normal(&rng);
        CHECK_STATUS(nic_gdn_block_forward(ctx, &g, &p, x, y, sq, norm), NIC_OK);
        nn_gdn_forward(x, g.beta_eff, g.gamma_eff, N, C, H * W, inverse, yref, nref);
        double err = 0;
        for (int i = 0; i < COUNT; i++)
            err = fmax(err, fabs(y[i] - yref[i]));
        CHECK_MSG(err < 1e-5, "GDN (inverse %d) differs from the reference by %g", inverse, err);
        nic_gdn_block_release(&g);
        nn_params_free(&p);
    }
}

/* Two trainers, each of half a batch with its shard set, give the whole batch's
 * loss terms and gradients when summed (the data-parallel contract). */
static void test_shards(nic_context *ctx, nic_hyper_model *m, nic_hyper_trainer *whole,
                        const float *x, const float *t_rate, int batch, int crop)
{
    /* A trainer plans its convolutions inside the model's blocks: one model per
     * trainer, as one model per process under MPI. */
    nic_hyper_model half_m[2];
    nic_hyper_trainer *half[2] = {NULL, NULL};
    for (int h = 0; h < 2; h++) {
        CHECK_STATUS(nic_hyper_model_create(ctx, &m->cfg, &half_m[h]), NIC_OK);
        memcpy(half_m[h].params.data, m->params.data, m->params.total * sizeof(float));
        CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &half_m[h], batch / 2, crop,
                                              NN_CONV_REFERENCE, &half[h]),
                     NIC_OK);
    }
    if (!half[0] || !half[1])
        return;
    CHECK_STATUS(nic_hyper_trainer_set_shard(ctx, half[0], 0, batch), NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_set_shard(ctx, half[1], batch / 2, batch), NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_set_shard(ctx, half[1], batch / 2 + 1, batch),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_hyper_trainer_set_shard(ctx, half[1], batch / 2, batch), NIC_OK);
    size_t total = m->params.total, per = (size_t)3 * crop * crop * (batch / 2);
    nn_rng rng;
    nic_hyper_stats sw, s[2];
    nn_params_zero_grad(&m->params);
    nn_rng_seed(&rng, 7);
    CHECK_STATUS(nic_hyper_train_step(ctx, whole, x, t_rate, &rng, 1, &sw), NIC_OK);
    for (int h = 0; h < 2; h++) {
        nn_params_zero_grad(&half_m[h].params);
        nn_rng_seed(&rng, 7); /* every rank holds the same generator */
        CHECK_STATUS(nic_hyper_train_step(ctx, half[h], x + h * per, t_rate + h * (batch / 2),
                                          &rng, 1, &s[h]),
                     NIC_OK);
    }
    CHECK_NEAR(s[0].loss + s[1].loss, sw.loss, 1e-5 * fabs(sw.loss));
    CHECK_NEAR(s[0].bpp + s[1].bpp, sw.bpp, 1e-5 * sw.bpp);
    CHECK_NEAR(s[0].mse + s[1].mse, sw.mse, 1e-5 * sw.mse);
    double scale = 0, diff = 0;
    for (size_t i = 0; i < total; i++) {
        double sum = (double)half_m[0].params.grad[i] + half_m[1].params.grad[i];
        scale = fmax(scale, fabs(m->params.grad[i]));
        diff = fmax(diff, fabs(m->params.grad[i] - sum));
    }
    CHECK_MSG(scale > 0 && diff <= 1e-5 * scale, "shard gradients differ by %g (scale %g)", diff,
              scale);
    printf("shards: loss %.9g vs %.9g, gradients within %.2g of their scale\n",
           s[0].loss + s[1].loss, sw.loss, diff / scale);
    for (int h = 0; h < 2; h++) {
        nic_hyper_trainer_destroy(half[h]);
        nic_hyper_model_free(&half_m[h]);
    }
}

/* Mixed precision (NN_CONV_BF16): one training step of a model wide enough
 * for the BF16 kernels gives the FP32 step's loss to 1 % and a gradient
 * pointing the same way (cosine >= 0.99). Where the CPU has no BF16 kernels
 * both steps run FP32 and agree exactly. */
static void test_bf16_step(nic_context *ctx, const float *x, const float *t_rate, int B, int S)
{
    nic_hyper_config cfg = {.n = 16, .m = 16, .nz = 8};
    nn_engine *eng = NULL;
    CHECK_STATUS(nn_engine_create(ctx, &eng), NIC_OK);
    nic_hyper_model m[2];
    double loss[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        nn_rng rng;
        nn_rng_seed(&rng, 21);
        CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m[k]), NIC_OK);
        nic_hyper_model_init(&m[k], &rng);
        nic_hyper_trainer *tr = NULL;
        CHECK_STATUS(nic_hyper_trainer_create(ctx, eng, &m[k], B, S, k ? NN_CONV_BF16 : 0, &tr),
                     NIC_OK);
        if (!tr)
            continue;
        nn_params_zero_grad(&m[k].params);
        nn_rng_seed(&rng, 4);
        nic_hyper_stats st;
        CHECK_STATUS(nic_hyper_train_step(ctx, tr, x, t_rate, &rng, 1, &st), NIC_OK);
        loss[k] = st.loss;
        nic_hyper_trainer_destroy(tr);
    }
    double dot = 0, n0 = 0, n1 = 0;
    for (size_t i = 0; i < m[0].params.total; i++) {
        double a = m[0].params.grad[i], b = m[1].params.grad[i];
        dot += a * b;
        n0 += a * a;
        n1 += b * b;
    }
    double cosine = dot / sqrt(n0 * n1 + 1e-300);
    printf("bf16 step: loss %.6f (fp32 %.6f), gradient cosine %.5f\n", loss[1], loss[0], cosine);
    CHECK_MSG(fabs(loss[1] - loss[0]) <= 0.01 * fabs(loss[0]), "loss %g vs %g", loss[1], loss[0]);
    CHECK_MSG(cosine >= 0.99, "gradient cosine %g", cosine);
    for (int k = 0; k < 2; k++)
        nic_hyper_model_free(&m[k]);
    nn_engine_destroy(eng);
}

/* Two trainers of models that must compute the same: equal loss and rate,
 * in evaluation and in a training step, from the same noise. */
static void check_same_loss(nic_context *ctx, nic_hyper_trainer *ta, nic_hyper_trainer *tb,
                            const float *x, const float *t_rate, const char *what)
{
    for (int train = 0; train <= 1; train++) {
        nn_rng r0, r1;
        nn_rng_seed(&r0, 3);
        nn_rng_seed(&r1, 3);
        nic_hyper_stats s0, s1;
        CHECK_STATUS(nic_hyper_train_step(ctx, ta, x, t_rate, &r0, train, &s0), NIC_OK);
        CHECK_STATUS(nic_hyper_train_step(ctx, tb, x, t_rate, &r1, train, &s1), NIC_OK);
        CHECK_MSG(s0.loss == s1.loss && s0.bpp == s1.bpp,
                  "train %d: %s changed the loss %.9g -> %.9g", train, what, s0.loss, s1.loss);
    }
}

/* The checkerboard context: with its last layer at zero (a new context) the
 * model computes exactly what the same model without context does; with
 * random weights its gradient (through both passes of the quantizer and into
 * the anchors' y^) matches finite differences. */
static void test_context(nic_context *ctx, const float *x, const float *t_rate, int B, int S)
{
    nic_hyper_config plain = {.n = 4, .m = 6, .nz = 3}, with = plain;
    with.ctx = 5;
    nic_hyper_model m0, m1;
    CHECK_STATUS(nic_hyper_model_create(ctx, &plain, &m0), NIC_OK);
    CHECK_STATUS(nic_hyper_model_create(ctx, &with, &m1), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_hyper_model_init(&m0, &rng);
    nn_rng_seed(&rng, 6);
    nic_hyper_model_init(&m1, &rng);
    for (int i = 0; i < m0.params.count; i++) {
        int j = nn_params_find(&m1.params, m0.params.items[i].name);
        CHECK(j >= 0);
        if (j >= 0)
            memcpy(nn_param_data(&m1.params, j), nn_param_data(&m0.params, i),
                   m0.params.items[i].count * sizeof(float));
    }
    CHECK(nn_params_find(&m1.params, "ctx.0.weight") >= 0 &&
          nn_params_find(&m1.params, "ctx.2.bias") >= 0);
    nic_hyper_trainer *t0 = NULL, *t1 = NULL;
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m0, B, S, NN_CONV_REFERENCE, &t0), NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m1, B, S, NN_CONV_REFERENCE, &t1), NIC_OK);
    if (!t0 || !t1)
        return;
    check_same_loss(ctx, t0, t1, x, t_rate, "a zero context");
    /* a context that does something */
    int w2 = nn_params_find(&m1.params, "ctx.2.weight"), b2 = nn_params_find(&m1.params, "ctx.2.bias");
    for (size_t i = 0; i < m1.params.items[w2].count; i++)
        nn_param_data(&m1.params, w2)[i] = 0.3f * (nn_rng_uniform(&rng) - 0.5f);
    for (size_t i = 0; i < m1.params.items[b2].count; i++)
        nn_param_data(&m1.params, b2)[i] = 0.2f * (nn_rng_uniform(&rng) - 0.5f);
    nic_hyper_stats s2;
    nn_rng_seed(&rng, 3);
    CHECK_STATUS(nic_hyper_train_step(ctx, t1, x, t_rate, &rng, 0, &s2), NIC_OK);
    CHECK(isfinite(s2.loss));
    hyper_loss_args args = {ctx, t1, x, t_rate};
    int checked = 0;
    int bad = model_gradient_check(&m1.params, hyper_loss, &args, 3, 2e-3f, 0.05, 2e-4, &checked);
    CHECK_MSG(bad <= checked / 50, "context model: %d of %d gradient entries off", bad, checked);
    printf("context model gradient check: %d of %d entries outside 5 %%\n", bad, checked);
    nic_hyper_trainer_destroy(t0);
    nic_hyper_trainer_destroy(t1);
    nic_hyper_model_free(&m0);
    nic_hyper_model_free(&m1);
}

/* The 12-anchor context: a 4-anchor model loaded into it (the other anchors'
 * weights at zero) computes exactly what it did, and with random weights on
 * every anchor its gradient (the gather over the 5x5 window and its adjoint)
 * matches finite differences. */
static void test_context_anchors(nic_context *ctx, const float *x, const float *t_rate, int B,
                                 int S)
{
    nic_hyper_config c4 = {.n = 4, .m = 6, .nz = 3, .ctx = 5}, c12 = c4;
    c12.ctx_nb = 12;
    CHECK(nic_hyper_ctx_k(&c4) == 4 && nic_hyper_ctx_k(&c12) == 12);
    nic_hyper_model m4, m12;
    CHECK_STATUS(nic_hyper_model_create(ctx, &c4, &m4), NIC_OK);
    CHECK_STATUS(nic_hyper_model_create(ctx, &c12, &m12), NIC_OK);
    CHECK(m12.params.items[m12.cx[0].weight].count == 3 * m4.params.items[m4.cx[0].weight].count);
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    nic_hyper_model_init(&m4, &rng);
    nic_hyper_model_init(&m12, &rng);
    for (int k = 0; k < 2; k++) { /* a 4-anchor context that does something */
        int i = k == 0 ? m4.cx[1].weight : m4.cx[1].bias;
        for (size_t j = 0; j < m4.params.items[i].count; j++)
            nn_param_data(&m4.params, i)[j] = 0.3f * (nn_rng_uniform(&rng) - 0.5f);
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/anchors4.safetensors", test_tmp_dir());
    CHECK_STATUS(nic_hyper_export(ctx, &m4, path, "4 anchors", NIC_HYPER_MSE), NIC_OK);
    CHECK_STATUS(nic_hyper_model_load(ctx, &m12, path), NIC_OK);
    /* and the other way round is refused */
    char path12[4200];
    snprintf(path12, sizeof(path12), "%s/anchors12.safetensors", test_tmp_dir());
    CHECK_STATUS(nic_hyper_export(ctx, &m12, path12, "12 anchors", NIC_HYPER_MSE), NIC_OK);
    CHECK_STATUS(nic_hyper_model_load(ctx, &m4, path12), NIC_ERR_MISMATCH);
    nic_hyper_trainer *t4 = NULL, *t12 = NULL;
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m4, B, S, NN_CONV_REFERENCE, &t4), NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m12, B, S, NN_CONV_REFERENCE, &t12), NIC_OK);
    if (!t4 || !t12)
        return;
    check_same_loss(ctx, t4, t12, x, t_rate, "the 4-anchor weights in a 12-anchor model");
    /* every anchor's weights random: the far ones now matter */
    int w1 = m12.cx[0].weight;
    for (size_t i = 0; i < m12.params.items[w1].count; i++)
        nn_param_data(&m12.params, w1)[i] = 0.6f * (nn_rng_uniform(&rng) - 0.5f);
    hyper_loss_args args = {ctx, t12, x, t_rate};
    int checked = 0;
    int bad = model_gradient_check(&m12.params, hyper_loss, &args, 3, 2e-3f, 0.05, 2e-4, &checked);
    CHECK_MSG(bad <= checked / 50, "12-anchor context: %d of %d gradient entries off", bad,
              checked);
    printf("12-anchor context gradient check: %d of %d entries outside 5 %%\n", bad, checked);
    nic_hyper_trainer_destroy(t4);
    nic_hyper_trainer_destroy(t12);
    nic_hyper_model_free(&m4);
    nic_hyper_model_free(&m12);
}

/* The MS-SSIM objective: the loss is bpp + lambda_msssim(t) (1 - MS-SSIM)
 * with the MS-SSIM the statistics report, its gradient through the whole
 * model matches finite differences, and MSE training reports MS-SSIM only
 * where it is free (validation). */
static void test_msssim(nic_context *ctx, nic_hyper_trainer *tr, nic_hyper_model *m,
                        const float *x, int B)
{
    float t_same[2] = {0.6f, 0.6f};
    nn_rng rng;
    nic_hyper_stats mse_st, st;
    nn_rng_seed(&rng, 3);
    CHECK_STATUS(nic_hyper_train_step(ctx, tr, x, t_same, &rng, 0, &mse_st), NIC_OK);
    CHECK_MSG(mse_st.msssim > 0 && mse_st.msssim <= 1, "MSE validation MS-SSIM %g",
              mse_st.msssim);
    CHECK_STATUS(nic_hyper_trainer_set_distortion(ctx, tr, NIC_HYPER_MSSSIM), NIC_OK);
    nn_rng_seed(&rng, 3);
    CHECK_STATUS(nic_hyper_train_step(ctx, tr, x, t_same, &rng, 0, &st), NIC_OK);
    /* the same picture and rate: only the distortion term differs */
    CHECK_NEAR(st.bpp, mse_st.bpp, 1e-12);
    CHECK_NEAR(st.msssim, mse_st.msssim, 1e-12);
    double want = st.bpp + nic_hyper_lambda_msssim(t_same[0]) * (1.0 - st.msssim);
    CHECK_MSG(fabs(st.loss - want) < 1e-9 * want, "MS-SSIM loss %.12g, want %.12g", st.loss,
              want);
    CHECK(nic_hyper_lambda_msssim(0.0) == NIC_HYPER_MSSSIM_LAMBDA_MIN ||
          fabs(nic_hyper_lambda_msssim(0.0) / NIC_HYPER_MSSSIM_LAMBDA_MIN - 1) < 1e-12);
    CHECK(fabs(nic_hyper_lambda_msssim(1.0) / NIC_HYPER_MSSSIM_LAMBDA_MAX - 1) < 1e-12);
    float t_rate[2] = {0.2f, 0.9f};
    (void)B;
    hyper_loss_args args = {ctx, tr, x, t_rate};
    int checked = 0;
    int bad = model_gradient_check(&m->params, hyper_loss, &args, 3, 2e-3f, 0.05, 2e-4, &checked);
    CHECK_MSG(bad <= checked / 50, "MS-SSIM objective: %d of %d gradient entries off", bad,
              checked);
    printf("MS-SSIM objective gradient check: %d of %d entries outside 5 %%\n", bad, checked);
    CHECK_STATUS(nic_hyper_trainer_set_distortion(ctx, tr, (nic_hyper_distortion)7),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(nic_hyper_distortion_parse("ms-ssim") == NIC_HYPER_MSSSIM &&
          nic_hyper_distortion_parse("mse") == NIC_HYPER_MSE &&
          nic_hyper_distortion_parse("ssim") == -1);
    CHECK_STATUS(nic_hyper_trainer_set_distortion(ctx, tr, NIC_HYPER_MSE), NIC_OK);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_gdn_block(ctx);
    nic_hyper_config cfg = {.n = 4, .m = 6, .nz = 3};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_hyper_model_init(&m, &rng);
    enum { B = 2, S = 64 };
    nic_hyper_trainer *tr = NULL;
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m, B, S, NN_CONV_REFERENCE, &tr), NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m, B, 96, NN_CONV_REFERENCE, &(nic_hyper_trainer *){0}),
                 NIC_ERR_INVALID_ARGUMENT);
    if (!tr)
        return test_finish("test_models_hyper");
    float *x = malloc(sizeof(float) * B * 3 * S * S);
    for (int i = 0; i < B * 3 * S * S; i++) {
        int px = i % S, py = (i / S) % S;
        x[i] = 0.5f + 0.3f * sinf(px * 0.3f + py * 0.11f * (1 + i / (S * S))) +
               0.05f * (nn_rng_uniform(&rng) - 0.5f);
    }
    float t_rate[B] = {0.2f, 0.9f};

    /* Analytic gradient (train = 2: exact) against finite differences. */
    hyper_loss_args args = {ctx, tr, x, t_rate};
    int checked = 0;
    int bad = model_gradient_check(&m.params, hyper_loss, &args, 3, 2e-3f, 0.05, 2e-4, &checked);
    /* ReLU kinks can make a rare finite difference straddle a corner: allow 2 %. */
    CHECK_MSG(bad <= checked / 50, "%d of %d gradient entries off", bad, checked);
    printf("gradient check: %d of %d entries outside 5 %%\n", bad, checked);

    test_shards(ctx, &m, tr, x, t_rate, B, S);
    test_bf16_step(ctx, x, t_rate, B, S);
    test_context(ctx, x, t_rate, B, S);
    test_context_anchors(ctx, x, t_rate, B, S);
    test_msssim(ctx, tr, &m, x, B);

    /* Rounding mode: a real estimate; more bits at the higher rate parameter. */
    nn_rng_seed(&rng, 1);
    nic_hyper_stats st;
    float lo_rate[B] = {0.0f, 0.0f}, hi_rate[B] = {1.0f, 1.0f};
    CHECK_STATUS(nic_hyper_train_step(ctx, tr, x, lo_rate, &rng, 0, &st), NIC_OK);
    double bpp_lo = st.bpp;
    CHECK_STATUS(nic_hyper_train_step(ctx, tr, x, hi_rate, &rng, 0, &st), NIC_OK);
    CHECK(st.bpp > 0 && st.psnr > 0 && isfinite(st.loss));
    CHECK_MSG(st.bpp >= bpp_lo, "bpp at t=1 %g < at t=0 %g", st.bpp, bpp_lo);

    nic_hyper_trainer_destroy(tr);
    nic_hyper_model_free(&m);
    free(x);
    nic_context_destroy(ctx);
    return test_finish("test_models_hyper");
}
