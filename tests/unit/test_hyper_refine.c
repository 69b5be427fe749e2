/* The encoder's refinement of y: a trainer that starts from a given y
 * (NIC_HYPER_TRAINER_FROM_Y) on a model without gradient buffers computes the
 * same loss and the same gradient of y as the whole trainer; rectangular
 * inputs; the refinement never ends above its starting loss and, on a picture
 * with structure, ends below it. */
#include "test.h"

#include "models/hyper.h"

enum { H = 64, W = 128 };

/* A smooth test picture with an edge (values in [0, 1]). */
static void picture(float *x)
{
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < H; r++)
            for (int q = 0; q < W; q++)
                x[((size_t)c * H + r) * W + q] =
                    0.5f + 0.3f * sinf(0.11f * q + 0.7f * c) * cosf(0.07f * r) +
                    (q > W / 2 ? 0.15f : -0.15f);
}

static void check_from_y(nic_context *ctx, int ctx_width)
{
    nic_hyper_config cfg = {.n = 8, .m = 8, .nz = 4, .ctx = ctx_width};
    nic_hyper_model full, coder;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &full), NIC_OK);
    CHECK_STATUS(nic_hyper_model_create_values(ctx, &cfg, &coder), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_hyper_model_init(&full, &rng);
    if (ctx_width > 0) {
        /* a context that does something (its last layer starts at zero) */
        float *w = nn_param_data(&full.params, full.cx[1].weight);
        for (int i = 0; i < 2 * cfg.m * ctx_width; i++)
            w[i] = 0.05f * (float)nn_rng_normal(&rng);
    }
    memcpy(coder.params.data, full.params.data, full.params.total * sizeof(float));
    CHECK(coder.params.grad == NULL);

    nic_hyper_trainer *a = NULL, *b = NULL;
    CHECK_STATUS(nic_hyper_trainer_create_ex(ctx, NULL, &full, 1, H, W, NN_CONV_REFERENCE, 0, &a),
                 NIC_OK);
    CHECK_STATUS(nic_hyper_trainer_create_ex(ctx, NULL, &coder, 1, H, W, NN_CONV_REFERENCE,
                                             NIC_HYPER_TRAINER_FROM_Y, &b),
                 NIC_OK);
    nic_hyper_trainer *bad = NULL;
    CHECK_STATUS(nic_hyper_trainer_create_ex(ctx, NULL, &coder, 1, H, 100, 0, 0, &bad),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    if (!a || !b)
        return;
    float *x = malloc(sizeof(float) * 3 * H * W);
    picture(x);
    const size_t ny = (size_t)cfg.m * (H / 16) * (W / 16);
    float t_rate = 0.6f;
    for (int mode = 2; mode <= 3; mode += 1) {
        nic_hyper_stats sa, sb;
        nn_rng_seed(&rng, 9);
        CHECK_STATUS(nic_hyper_train_step(ctx, a, x, &t_rate, &rng, mode, &sa), NIC_OK);
        memcpy(nic_hyper_trainer_y(b), nic_hyper_trainer_y(a), ny * sizeof(float));
        nn_rng_seed(&rng, 9);
        CHECK_STATUS(nic_hyper_train_step(ctx, b, x, &t_rate, &rng, mode, &sb), NIC_OK);
        CHECK_NEAR(sa.loss, sb.loss, 1e-6 * fabs(sa.loss));
        CHECK_NEAR(sa.bpp, sb.bpp, 1e-6 * sa.bpp);
        const float *da = nic_hyper_trainer_dy(a), *db = nic_hyper_trainer_dy(b);
        double scale = 0, diff = 0;
        for (size_t i = 0; i < ny; i++) {
            scale = fmax(scale, fabs(da[i]));
            diff = fmax(diff, fabs(da[i] - db[i]));
        }
        CHECK_MSG(scale > 0 && diff <= 1e-5 * scale,
                  "context %d, mode %d: dy of the FROM_Y trainer differs by %g (scale %g)",
                  ctx_width, mode, diff, scale);
    }

    /* the refinement: never above its start, and below it here */
    float *y = malloc(ny * sizeof(float));
    memcpy(y, nic_hyper_trainer_y(a), ny * sizeof(float));
    nic_hyper_stats before, after;
    CHECK_STATUS(nic_hyper_refine(ctx, b, x, t_rate, 20, 0.3f, y, &before, &after), NIC_OK);
    CHECK_MSG(after.loss < before.loss, "context %d: refinement went from %g to %g", ctx_width,
              before.loss, after.loss);
    /* y holds the point it reports */
    nic_hyper_stats again;
    memcpy(nic_hyper_trainer_y(b), y, ny * sizeof(float));
    CHECK_STATUS(nic_hyper_train_step(ctx, b, x, &t_rate, NULL, 0, &again), NIC_OK);
    CHECK_NEAR(again.loss, after.loss, 1e-6 * after.loss);
    printf("context %d: refinement loss %.5f -> %.5f (bpp %.4f -> %.4f, PSNR %.2f -> %.2f)\n",
           ctx_width, before.loss, after.loss, before.bpp, after.bpp, before.psnr, after.psnr);
    /* only FROM_Y trainers of batch 1 refine */
    CHECK_STATUS(nic_hyper_refine(ctx, a, x, t_rate, 1, 0.01f, y, NULL, NULL),
                 NIC_ERR_INVALID_ARGUMENT);
    free(y);
    free(x);
    nic_hyper_trainer_destroy(a);
    nic_hyper_trainer_destroy(b);
    nic_hyper_model_free(&full);
    nic_hyper_model_free(&coder);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    check_from_y(ctx, 0);
    check_from_y(ctx, 6);
    nic_context_destroy(ctx);
    return test_finish("test_hyper_refine");
}
