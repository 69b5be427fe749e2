/*
 * The seed paper's MNIST model made into a real learned codec ("mnist-cnn").
 *
 * The paper's deep CNN autoencoder — convolution + ReLU + max-pooling
 * encoder, nearest-upsampling decoder, pixels / 255, 28 x 28 — with its
 * latent quantized and given a learned density, so that the rate is the
 * size of an entropy-coded file (src/codec/mnist_codec.h):
 *
 *   encoder  conv3x3 1->c1, ReLU, maxpool 2          28 -> 14
 *            conv3x3 c1->c2, ReLU, maxpool 2         14 -> 7
 *            conv3x3 c2->c2, ReLU, conv3x3 c2->C     y: C x 7 x 7
 *   decoder  conv3x3 C->c2, ReLU, conv3x3 c2->c2, ReLU, upsample x2
 *            conv3x3 c2->c1, ReLU, upsample x2
 *            conv3x3 c1->c1, ReLU, conv3x3 c1->1, sigmoid   x^: 28 x 28
 *   prior    every element e of y has its own Gaussian N(mu_e, sigma_e)
 *            (learned parameters: digits are centred, so position matters)
 *   levels   L rate levels, each with its own quantization step per channel
 *            (learned): y_q = y / step, s = round(y_q - mu / step) is coded with
 *            the Gaussian of scale sigma / step, y^ = (s + mu / step) * step.
 *
 * Training minimizes, per image at a level l drawn at random,
 *   bits + lambda_l * D,   D = (1 - SSIM) + mse_weight * MSE   (on [0, 1])
 * with lambda_l log-spaced from lambda_min (level 0, the smallest files) to
 * lambda_max (level L - 1): one model gives L points of the rate-SSIM curve.
 * Quantization is simulated by uniform noise for the rate and by rounding
 * with a straight-through gradient for the decoder's input.
 */
#ifndef NIC_MODELS_MNIST_AE_H
#define NIC_MODELS_MNIST_AE_H

#include "models/blocks.h"

#define NIC_MNIST_SIDE 28
#define NIC_MNIST_PIXELS (NIC_MNIST_SIDE * NIC_MNIST_SIDE)
#define NIC_MNIST_LATENT_SIDE 7
#define NIC_MNIST_LATENT_HW (NIC_MNIST_LATENT_SIDE * NIC_MNIST_LATENT_SIDE)
#define NIC_MNIST_MAX_LEVELS 16

typedef struct nic_mnist_ae_config {
    int c1, c2;        /* channels at 28 x 28 and 14 x 14 / 7 x 7 */
    int latent;        /* channels of y (7 x 7 each) */
    int levels;        /* rate levels, 1..NIC_MNIST_MAX_LEVELS */
    float lambda_min;  /* lambda of level 0 */
    float lambda_max;  /* lambda of level levels - 1 */
    float mse_weight;  /* weight of the MSE next to 1 - SSIM in D */
} nic_mnist_ae_config;

void nic_mnist_ae_config_default(nic_mnist_ae_config *cfg);
double nic_mnist_ae_lambda(const nic_mnist_ae_config *cfg, int level);

typedef struct nic_mnist_ae {
    nic_mnist_ae_config cfg;
    nn_params params;
    nic_conv_block enc[4], dec[5];
    int latent_mean;      /* [latent][7][7] */
    int latent_log_scale; /* [latent][7][7] */
    int log_step;         /* [levels][latent] */
} nic_mnist_ae;

nic_status nic_mnist_ae_create(nic_context *ctx, const nic_mnist_ae_config *cfg,
                               nic_mnist_ae *m);
void nic_mnist_ae_free(nic_mnist_ae *m);
void nic_mnist_ae_init(nic_mnist_ae *m, nn_rng *rng);
/* Elements of y per image: latent * 49. */
int nic_mnist_ae_latent_count(const nic_mnist_ae *m);

typedef struct nic_mnist_ae_trainer nic_mnist_ae_trainer;

/* Plans the layers for batches of `batch` images. */
nic_status nic_mnist_ae_trainer_create(nic_context *ctx, nn_engine *eng, nic_mnist_ae *m,
                                       int batch, unsigned conv_flags,
                                       nic_mnist_ae_trainer **out);
void nic_mnist_ae_trainer_destroy(nic_mnist_ae_trainer *t);
int nic_mnist_ae_trainer_batch(const nic_mnist_ae_trainer *t);

/* Per-batch means (train = 0: exact rounding, no gradients). */
typedef struct nic_mnist_ae_stats {
    double loss;     /* bits + lambda * D */
    double bits;     /* bits per image under the model's density */
    double ssim;     /* of the float reconstruction */
    double mse;      /* on [0, 1] */
    double accuracy; /* fraction of pixels on the same side of 1/2 in x and x^ */
} nic_mnist_ae_stats;

/* One forward (+ backward when train != 0) over x [batch][28][28] on [0, 1];
 * level[b] is image b's rate level. Parameter gradients ACCUMULATE. stats
 * (may be NULL) receives the batch means, per_image (may be NULL) each
 * image's values (batch entries).
 *   train = 1: noise for the rate, straight-through rounding for the decoder;
 *   train = 2: noise for both (the gradient is exact; for the checks);
 *   train = 0: rounding everywhere, no gradient. */
nic_status nic_mnist_ae_step(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x,
                             const int *level, nn_rng *rng, int train, nic_mnist_ae_stats *stats,
                             nic_mnist_ae_stats *per_image);

/* Encoder only: y [batch][latent][7][7] (valid until the next call). */
nic_status nic_mnist_ae_analyze(nic_context *ctx, nic_mnist_ae_trainer *t, const float *x,
                                const float **y);
/* Decoder only: x^ [batch][28][28] on (0, 1) from y^ [batch][latent][7][7]. */
nic_status nic_mnist_ae_synthesize(nic_context *ctx, nic_mnist_ae_trainer *t, const float *yhat,
                                   const float **xhat);

#endif
