/* The MNIST model: the SSIM loss against the metric and by finite
 * differences, and the whole training step's gradient by finite differences. */
#include "test.h"

#include "metrics/metrics.h"
#include "models/mnist_ae.h"
#include "nn/ssim_loss.h"
#include "test_model_grad.h"

enum { SIDE = 28, PIX = SIDE * SIDE };

/* A digit-like picture: a blurred ring plus a little noise, on [0, 1]. */
static void make_plane(nn_rng *rng, float *x, double cx, double cy, double noise)
{
    for (int r = 0; r < SIDE; r++)
        for (int c = 0; c < SIDE; c++) {
            double d = hypot(r - cy, c - cx) - 6.0;
            double v = exp(-d * d / 4.0) + noise * (nn_rng_uniform(rng) - 0.5);
            x[r * SIDE + c] = (float)(v < 0 ? 0 : (v > 1 ? 1 : v));
        }
}

static void test_ssim_matches_metric(nic_context *ctx)
{
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    float x[2 * PIX], y[2 * PIX];
    make_plane(&rng, x, 13.0, 14.0, 0.1);
    make_plane(&rng, x + PIX, 15.0, 12.0, 0.0);
    make_plane(&rng, y, 13.5, 14.0, 0.3);
    make_plane(&rng, y + PIX, 14.0, 13.0, 0.2);
    /* The metric reads 8-bit samples: round both to k / 255 first. */
    for (int i = 0; i < 2 * PIX; i++) {
        x[i] = nearbyintf(x[i] * 255.0f) / 255.0f;
        y[i] = nearbyintf(y[i] * 255.0f) / 255.0f;
    }
    double *work = malloc(nn_ssim_work_size(SIDE, SIDE) * sizeof(double));
    double per[2];
    double sum = nn_ssim_loss(x, y, 2, SIDE, SIDE, 1.0, per, NULL, work);
    for (int k = 0; k < 2; k++) {
        double a[PIX], b[PIX];
        for (int i = 0; i < PIX; i++) {
            a[i] = x[k * PIX + i] * 255.0;
            b[i] = y[k * PIX + i] * 255.0;
        }
        nic_ssim_means ref;
        CHECK_STATUS(nic_ssim_plane(ctx, a, b, SIDE, SIDE, &ref), NIC_OK);
        CHECK_NEAR(per[k], ref.ssim, 1e-6);
        CHECK(per[k] > 0.1 && per[k] < 0.99);
    }
    CHECK_NEAR(sum, per[0] + per[1], 1e-12);
    CHECK_STATUS(nn_ssim_work_size(10, 28), 0);
    free(work);
}

static void test_ssim_gradient(void)
{
    nn_rng rng;
    nn_rng_seed(&rng, 12);
    enum { H = 13, W = 15 };
    float x[H * W], y[H * W], dy[H * W];
    for (int i = 0; i < H * W; i++) {
        x[i] = nn_rng_uniform(&rng);
        y[i] = 0.6f * x[i] + 0.4f * nn_rng_uniform(&rng);
    }
    double *work = malloc(nn_ssim_work_size(H, W) * sizeof(double));
    const double scale = -3.0;
    nn_ssim_loss(x, y, 1, H, W, scale, NULL, dy, work);
    int bad = 0;
    for (int i = 0; i < H * W; i++) {
        float save = y[i];
        y[i] = save + 1e-3f;
        double hi = y[i];
        double up = scale * nn_ssim_loss(x, y, 1, H, W, 1.0, NULL, NULL, work);
        y[i] = save - 1e-3f;
        double lo = y[i];
        double dn = scale * nn_ssim_loss(x, y, 1, H, W, 1.0, NULL, NULL, work);
        y[i] = save;
        double fd = (up - dn) / (hi - lo);
        if (fabs(fd - dy[i]) > 1e-3 * fabs(fd) + 1e-6 && bad++ < 5)
            fprintf(stderr, "dssim[%d]: analytic %.8g, finite difference %.8g\n", i, dy[i], fd);
    }
    CHECK_MSG(bad == 0, "%d of %d SSIM gradient entries off", bad, H * W);
    free(work);
}

static double loss_at(nic_context *ctx, nic_mnist_ae_trainer *tr, const float *x,
                      const int *level, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_mnist_ae_stats st;
    nic_status s = nic_mnist_ae_step(ctx, tr, x, level, &rng, 2, &st, NULL);
    return s == NIC_OK ? st.loss : NAN;
}

typedef struct mnist_loss_args {
    nic_context *ctx;
    nic_mnist_ae_trainer *tr;
    const float *x;
    const int *level;
} mnist_loss_args;

static double mnist_loss(void *user)
{
    mnist_loss_args *a = user;
    return loss_at(a->ctx, a->tr, a->x, a->level, 77);
}

static void test_model_gradient(nic_context *ctx)
{
    nic_mnist_ae_config cfg;
    nic_mnist_ae_config_default(&cfg);
    cfg.c1 = 3;
    cfg.c2 = 4;
    cfg.latent = 2;
    cfg.levels = 3;
    cfg.lambda_min = 20.0f;
    cfg.lambda_max = 200.0f;
    nic_mnist_ae m;
    CHECK_STATUS(nic_mnist_ae_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_mnist_ae_init(&m, &rng);
    /* Spread the prior so its gradients are not all alike. */
    float *mu = nn_param_data(&m.params, m.latent_mean);
    float *ls = nn_param_data(&m.params, m.latent_log_scale);
    for (int i = 0; i < nic_mnist_ae_latent_count(&m); i++) {
        mu[i] = 0.2f * (nn_rng_uniform(&rng) - 0.5f);
        ls[i] = 0.5f * (nn_rng_uniform(&rng) - 0.5f);
    }
    enum { B = 2 };
    nic_mnist_ae_trainer *tr = NULL;
    CHECK_STATUS(nic_mnist_ae_trainer_create(ctx, NULL, &m, B, NN_CONV_REFERENCE, &tr), NIC_OK);
    if (!tr) {
        nic_mnist_ae_free(&m);
        return;
    }
    float x[B * PIX];
    make_plane(&rng, x, 13.0, 14.0, 0.05);
    make_plane(&rng, x + PIX, 14.0, 12.0, 0.05);
    int level[B] = {0, 2};
    int bad_level[B] = {0, 3};
    CHECK_STATUS(nic_mnist_ae_step(ctx, tr, x, bad_level, &rng, 0, NULL, NULL),
                 NIC_ERR_INVALID_ARGUMENT);

    mnist_loss_args args = {ctx, tr, x, level};
    int checked = 0;
    int bad = model_gradient_check(&m.params, mnist_loss, &args, 4, 1e-3f, 0.05, 2e-3, &checked);
    /* ReLU kinks and max-pool ties can make a rare difference straddle a corner. */
    CHECK_MSG(bad <= checked / 25, "%d of %d gradient entries off", bad, checked);
    printf("gradient check: %d of %d entries outside 5 %%\n", bad, checked);

    /* Rounding mode: the fine level spends more bits and reconstructs better. */
    nic_mnist_ae_stats lo_st, hi_st;
    int lo_level[B] = {0, 0}, hi_level[B] = {2, 2};
    CHECK_STATUS(nic_mnist_ae_step(ctx, tr, x, lo_level, &rng, 0, &lo_st, NULL), NIC_OK);
    CHECK_STATUS(nic_mnist_ae_step(ctx, tr, x, hi_level, &rng, 0, &hi_st, NULL), NIC_OK);
    CHECK_MSG(hi_st.bits >= lo_st.bits, "bits at the fine level %g < coarse %g", hi_st.bits,
              lo_st.bits);
    CHECK(lo_st.accuracy >= 0 && lo_st.accuracy <= 1 && isfinite(lo_st.ssim));
    nic_mnist_ae_trainer_destroy(tr);
    nic_mnist_ae_free(&m);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_ssim_matches_metric(ctx);
    test_ssim_gradient();
    test_model_gradient(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_models_mnist");
}
