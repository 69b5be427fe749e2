/*
 * The default codec's model ("hyper"): a mean-scale hyperprior with an
 * adaptive quantization network (see docs/CODEC.md).
 *
 *   g_a    x -> y        4 x (conv 5x5 stride 2), GDN between       (1/16 size)
 *   h_a    y -> z        conv 3x3, ReLU, 2 x (conv 5x5 s2), ReLU    (1/64 size)
 *   h_s_mean, h_s_scale  z -> mean, log-scale of y: 2 x (convT 5x5 s2) + ReLU, conv 3x3
 *   g_s    y^ -> x^      4 x (convT 5x5 s2), inverse GDN between
 *   q      t -> log step per channel of y: dense 1 -> 32, ReLU, dense 32 -> M
 *   ctx    (optional) checkerboard context: the decoded anchors (positions
 *          with row + column even) around a non-anchor -> corrections of its
 *          mean and log-scale: 1x1 conv KM -> C, ReLU, 1x1 conv C -> 2M, where
 *          K = 4 (the nearest anchors) or 12 (every anchor of the 5x5 window)
 *
 * The rate parameter t in [0, 1] maps to lambda log-linearly between
 * NIC_HYPER_LAMBDA_MIN and _MAX; one model covers that whole range. y is
 * divided by its per-channel step before quantization, and the Gaussian's
 * mean and scale with it, so coarser steps mean fewer bits.
 */
#ifndef NIC_MODELS_HYPER_H
#define NIC_MODELS_HYPER_H

#include "models/blocks.h"

#define NIC_HYPER_LAMBDA_MIN 0.00005
#define NIC_HYPER_LAMBDA_MAX 0.02
/* The MS-SSIM-tuned variant (nic_hyper_trainer_set_distortion): loss = bpp +
 * lambda * (1 - MS-SSIM), lambda log-linear in t between these. They are the
 * slopes d bpp / d MS-SSIM of the MSE model's own Kodak curve at t = 0 and
 * t = 1, so that a model fine-tuned from it keeps about the same rates. */
#define NIC_HYPER_MSSSIM_LAMBDA_MIN 0.2
#define NIC_HYPER_MSSSIM_LAMBDA_MAX 24.0
#define NIC_HYPER_Q_HIDDEN 32
/* log step = OFFSET + SLOPE t + network(t): a fixed prior line (coarser steps at
 * low rates) that the network corrects; see docs/CODEC.md. */
#define NIC_HYPER_Q_SLOPE (-1.5f)
#define NIC_HYPER_Q_OFFSET 0.7f
/* The context network's parameters form this optimizer group (nn_adam), so
 * that a new context can learn faster than the trained model around it. */
#define NIC_HYPER_CTX_GROUP 1
/* The scale head's log-scale is clamped to this range in training. */
#define NIC_HYPER_LOG_SCALE_MIN (-7.0f)
#define NIC_HYPER_LOG_SCALE_MAX (7.0f)

typedef struct nic_hyper_config {
    int n;  /* channels of the transforms */
    int m;  /* channels of y */
    int nz; /* channels of z */
    int ctx; /* hidden channels of the checkerboard context network; 0 = none */
    int ctx_nb; /* anchors the context sees: 4 or 12 (0 means 4, the first models') */
} nic_hyper_config;

/* The anchors a context of this configuration sees (4 or 12). */
static inline int nic_hyper_ctx_k(const nic_hyper_config *cfg)
{
    return cfg->ctx_nb > 0 ? cfg->ctx_nb : 4;
}

/* Checkerboard positions of y: anchors (row + column even) are coded first
 * with the hyperprior alone; the others also see their anchor neighbours. */
static inline int nic_hyper_is_anchor(int row, int col)
{
    return ((row + col) & 1) == 0;
}

#define NIC_HYPER_CTX_MAX_NB 12
/* The context's neighbour d of the non-anchor (row, col) in an h x w plane:
 * its index in the plane, or -1 outside it. d = 0..3: above, below, left,
 * right (a 4-anchor context); d = 4..11: the anchors two rows or columns away
 * in the 5x5 window, (-1,-2) (-1,+2) (+1,-2) (+1,+2) (-2,-1) (-2,+1) (+2,-1)
 * (+2,+1) (row, column offsets), so that a 12-anchor context's first 4M
 * inputs are the 4-anchor one's. */
static inline long nic_hyper_ctx_neighbour(int row, int col, int d, int h, int w)
{
    static const int dr[NIC_HYPER_CTX_MAX_NB] = {-1, 1, 0, 0, -1, -1, 1, 1, -2, -2, 2, 2};
    static const int dc[NIC_HYPER_CTX_MAX_NB] = {0, 0, -1, 1, -2, 2, -2, 2, -1, 1, -1, 1};
    int r = row + dr[d], c = col + dc[d];
    return (r >= 0 && r < h && c >= 0 && c < w) ? (long)r * w + c : -1;
}

void nic_hyper_config_default(nic_hyper_config *cfg);
/* lambda of rate parameter t in [0, 1]. */
double nic_hyper_lambda(double t);
/* The distortion a model is trained for (stored in its files as "distortion"). */
typedef enum nic_hyper_distortion {
    NIC_HYPER_MSE = 0,    /* lambda * 255^2 * MSE on RGB (the default) */
    NIC_HYPER_MSSSIM = 1  /* lambda * (1 - MS-SSIM), the mean over R, G and B */
} nic_hyper_distortion;
/* lambda of rate parameter t for the MS-SSIM objective. */
double nic_hyper_lambda_msssim(double t);
/* "mse" / "ms-ssim" and back (-1: unknown). */
const char *nic_hyper_distortion_name(nic_hyper_distortion d);
int nic_hyper_distortion_parse(const char *name);

typedef struct nic_hyper_model {
    nic_hyper_config cfg;
    nn_params params;
    nic_conv_block ga[4], ha[3], hm[3], hs[3], gs[4];
    nic_gdn_block ga_gdn[3], gs_gdn[3];
    nic_conv_block cx[2];       /* context network (cfg.ctx > 0) */
    int q1_w, q1_b, q2_w, q2_b; /* dense layers of the quantization network */
    int prior;                  /* factorized prior of z: [nz][per-channel count] */
} nic_hyper_model;

/* Declares and allocates every parameter (values zero). */
nic_status nic_hyper_model_create(nic_context *ctx, const nic_hyper_config *cfg,
                                  nic_hyper_model *m);
/* The same without gradients and optimizer moments (4x less memory): for coding. */
nic_status nic_hyper_model_create_values(nic_context *ctx, const nic_hyper_config *cfg,
                                         nic_hyper_model *m);
void nic_hyper_model_free(nic_hyper_model *m);
/* Random weights; the context network's last layer starts at zero, so a new
 * context leaves the model's predictions as they were. */
void nic_hyper_model_init(nic_hyper_model *m, nn_rng *rng);
/* Loads weights (a checkpoint's or an exported model's). A model with a context
 * network may load a file without one: the context keeps its current values. */
nic_status nic_hyper_model_load(nic_context *ctx, nic_hyper_model *m, const char *path);
/* The context network's input for one image or batch: in[b][d M + c] at a
 * non-anchor (row, col) holds yhat[b][c] at its neighbour d < k
 * (nic_hyper_ctx_neighbour; 0 outside the picture); at anchors it is 0. */
void nic_hyper_ctx_gather(const float *yhat, int batch, int m, int h, int w, int k, float *in);

/* Log steps of y's channels for rate parameter t (out: m values). */
void nic_hyper_q_forward(const nic_hyper_model *m, float t, float *hidden, float *log_step);

/* ---------------------------------------------------------------- training */

typedef struct nic_hyper_trainer nic_hyper_trainer;

/* Means over the (global) batch. A sharded trainer (nic_hyper_trainer_set_shard)
 * reports its shard's share: loss, bpp, bpp_z and mse summed over all shards
 * give the global means; psnr is then of the shard alone. */
typedef struct nic_hyper_stats {
    double loss;     /* mean over the batch of bpp + the distortion term */
    double bpp;      /* mean estimated bits per pixel (y and z) */
    double bpp_z;    /* of which z */
    double mse;      /* mean squared error on [0, 255] */
    double psnr;     /* 10 log10(255^2 / mse) */
    double msssim;   /* mean MS-SSIM (of R, G, B): with the MS-SSIM objective,
                        and in steps without training (train = 0); else 0 */
} nic_hyper_stats;

/* Plans a trainer for batches [batch][3][crop][crop] (crop a multiple of 64). */
nic_status nic_hyper_trainer_create(nic_context *ctx, nn_engine *eng, nic_hyper_model *m,
                                    int batch, int crop, unsigned conv_flags,
                                    nic_hyper_trainer **out);
/* The same for batches [batch][3][height][width] (multiples of 64). flags:
 * NIC_HYPER_TRAINER_FROM_Y plans no analysis transform: before each step the
 * caller writes y ([batch][m][height/16][width/16]) at nic_hyper_trainer_y, and
 * backward stops at its gradient (nic_hyper_trainer_dy). */
#define NIC_HYPER_TRAINER_FROM_Y 1u
nic_status nic_hyper_trainer_create_ex(nic_context *ctx, nn_engine *eng, nic_hyper_model *m,
                                       int batch, int height, int width, unsigned conv_flags,
                                       unsigned flags, nic_hyper_trainer **out);
void nic_hyper_trainer_destroy(nic_hyper_trainer *t);
float *nic_hyper_trainer_y(nic_hyper_trainer *t);
const float *nic_hyper_trainer_dy(const nic_hyper_trainer *t);

/* Data-parallel training: this trainer's batch is samples [first, first + batch)
 * of a global batch of `global` samples. The loss is normalized by `global`
 * (so gradients summed over all shards are the gradient of the global mean),
 * and sample b draws the noise of global sample first + b, so the shards
 * together compute what one trainer of the global batch computes. Default
 * (0, batch): the whole batch. */
nic_status nic_hyper_trainer_set_shard(nic_context *ctx, nic_hyper_trainer *t, int first,
                                       int global);

/* The objective of the following steps (default NIC_HYPER_MSE). MS-SSIM uses
 * as many of its 5 scales as the crop holds (nn_msssim_max_scales). */
nic_status nic_hyper_trainer_set_distortion(nic_context *ctx, nic_hyper_trainer *t,
                                            nic_hyper_distortion d);

/* Pieces shared by the CPU and GPU trainers. */
/* Checks a shard [first, first + batch) of a global batch of `global` samples. */
nic_status nic_hyper_check_shard(nic_context *ctx, int batch, int first, int global);
/* Statistics of a shard of `batch` crops of `pixels` pixels each, out of a global
 * batch of `global`, from its sums: bits of y and z, squared error (values in
 * [0, 1]) and sum over the crops of the distortion term (lambda * 255^2 * MSE). */
void nic_hyper_stats_from_sums(double bits_y, double bits_z, double sse, double lambda_mse,
                               size_t pixels, int batch, int global, nic_hyper_stats *stats);

/* One forward + backward: parameter gradients ACCUMULATE into m->params.grad.
 * t_rate[b] is the rate parameter of sample b. When training, one number is
 * drawn from rng per call and seeds counter-based noise (nn_noise_uniform),
 * indexed by global sample, tensor and element.
 *   train = 1: uniform noise for the rate terms, rounding with a straight-through
 *              gradient for the synthesis input (the usual mixed scheme);
 *   train = 2: noise for both (the gradient is then exact: used by the checks);
 *   train = 0: no gradients, rounding everywhere (an estimate of the real coder);
 *   train = 3: rounding everywhere as 0, with straight-through gradients (the
 *              encoder's refinement of y, nic_hyper_refine; rng unused).
 * A model made with nic_hyper_model_create_values gets no parameter gradients:
 * only the input's (y's, with NIC_HYPER_TRAINER_FROM_Y). */
nic_status nic_hyper_train_step(nic_context *ctx, nic_hyper_trainer *t, const float *x,
                                const float *t_rate, nn_rng *rng, int train,
                                nic_hyper_stats *stats);

/* Encoder-side refinement of the latent (docs/CODEC.md): starting from y (the
 * analysis's output for image x, [1][3][h][w] of a FROM_Y trainer of batch 1),
 * `iters` Adam steps on y alone, with the model fixed, lower the coder's
 * estimated rate + lambda(t_rate) * MSE (train = 3: rounding as the coder does,
 * straight-through gradients). lr is in units of each channel's quantization
 * step. y receives the best point seen (never worse than the start by that
 * estimate); before/after (may be NULL) its statistics at the start and there. */
nic_status nic_hyper_refine(nic_context *ctx, nic_hyper_trainer *t, const float *x, float t_rate,
                            int iters, float lr, float *y, nic_hyper_stats *before,
                            nic_hyper_stats *after);

#endif
