/* The hyperprior model's training step: whole-model gradient check by finite
 * differences on a tiny configuration, and sane statistics. */
#include "test.h"

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
