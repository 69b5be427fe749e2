/*
 * The progressive RNN model ("rnn"), after Toderici et al. 2017, "Full
 * resolution image compression with recurrent neural networks":
 *
 *   encoder  E-Conv 3x3 s2 -> E-RNN1..3 (input kernel 3x3 stride 2, hidden 1x1)
 *            -> B-Conv 1x1 -> tanh -> sign      (bits: 1/16 size, `bits` channels)
 *   decoder  D-Conv 1x1 -> D-RNN1 (hidden 1x1) -> depth-to-space x2
 *            -> D-RNN2 (1x1) -> d2s -> D-RNN3 (3x3) -> d2s -> D-RNN4 (3x3) -> d2s
 *            -> D-Out 1x1 -> RGB
 *
 * Every iteration t codes the residual r_t left by the iterations before it
 * (r_0 = x - 1/2) into `bits` bits per 16x16 block (32 bits: 0.125 bpp), and
 * the decoder adds its output to the reconstruction (additive; or, "one-shot",
 * replaces it). The recurrent cells (ConvGRU by default, ConvLSTM possible)
 * carry state from one iteration to the next, in the encoder and in the
 * decoder, so iteration t refines what iterations 0..t-1 sent.
 *
 * Gains (cfg.gain, the "r_gain.log" tensor): iteration t's encoder sees
 * g_t r_t and its decoder output is divided by g_t, g_t = exp(a_t) learned
 * per iteration (a simple form of the paper's scaled-additive framework: the
 * later residuals are small, and the same weights serve every iteration).
 *
 * Training unrolls `iterations` iterations and backpropagates through all of
 * them (the residual links iterations too); loss = mean over iterations of
 * the L1 norm (or, cfg.mse_loss, the mean square, or the log of the mean
 * square: every iteration then counts by its relative error, so the late,
 * small residuals are not drowned by the first) of each iteration's residual; the binarizer is stochastic
 * (E[b] = tanh) with a straight-through gradient. Channel widths are scaled
 * for CPU training (docs/RNN.md gives the widths and FLOPs).
 *
 * Activations are planned in an nn_arena (one allocation; a step allocates
 * nothing). The same network object runs inference one iteration at a time
 * for the codec (nic_rnn_net_* with iterations = 1 and carried state).
 */
#ifndef NIC_MODELS_RNN_H
#define NIC_MODELS_RNN_H

#include "nn/convrnn.h"
#include "nn/rng.h"
#include "nn/safetensors.h"
#include "nn/tensor.h"

#define NIC_RNN_ENC_CELLS 3
#define NIC_RNN_DEC_CELLS 4
#define NIC_RNN_BLOCK 16 /* the bits are at 1/16 of the picture size */
#define NIC_RNN_MAX_ITERATIONS 32

enum { NIC_RNN_LOSS_L1 = 0, NIC_RNN_LOSS_MSE = 1, NIC_RNN_LOSS_LOG_MSE = 2 };

typedef struct nic_rnn_config {
    nn_convrnn_kind cell;               /* NN_CONVGRU (default) or NN_CONVLSTM */
    int e_conv;                         /* channels of E-Conv */
    int enc[NIC_RNN_ENC_CELLS];         /* hidden channels of E-RNN1..3 */
    int bits;                           /* bits per position (32: 0.125 bpp) */
    int d_conv;                         /* channels of D-Conv */
    int dec[NIC_RNN_DEC_CELLS];         /* hidden channels of D-RNN1..4 (multiples of 4) */
    int iterations;                     /* unrolled in training; the most the codec codes */
    int oneshot;                        /* 0: additive reconstruction; 1: one-shot */
    int gain;                           /* 1: learned per-iteration gains (below) */
    int mse_loss;                       /* training loss: NIC_RNN_LOSS_* */
} nic_rnn_config;

void nic_rnn_config_default(nic_rnn_config *cfg);
/* Checks the widths (positive, decoder widths multiples of 4, ...). */
nic_status nic_rnn_config_check(nic_context *ctx, const nic_rnn_config *cfg);
/* Multiply-adds x 2 of one iteration's forward pass per pixel (encoder and decoder). */
double nic_rnn_flops_per_pixel(const nic_rnn_config *cfg, int with_encoder);

typedef struct nic_rnn_cell_params {
    int wx, b, wh; /* parameter indices */
} nic_rnn_cell_params;

typedef struct nic_rnn_model {
    nic_rnn_config cfg;
    nn_params params;
    int e_conv_w, e_conv_b, b_conv_w, b_conv_b, d_conv_w, d_conv_b, d_out_w, d_out_b;
    int gain; /* index of r_gain.log ([NIC_RNN_MAX_ITERATIONS] log gains), -1: none */
    nic_rnn_cell_params enc[NIC_RNN_ENC_CELLS], dec[NIC_RNN_DEC_CELLS];
} nic_rnn_model;

/* Declares and allocates every parameter (values zero). Names: e_conv.weight,
 * e_rnn1.wx / .b / .wh, ..., b_conv, d_conv, d_rnn1..4, d_out, and r_gain.log
 * (parameter group NIC_RNN_GAIN_GROUP) with cfg.gain. */
#define NIC_RNN_GAIN_GROUP 1
nic_status nic_rnn_model_create(nic_context *ctx, const nic_rnn_config *cfg, nic_rnn_model *m);
void nic_rnn_model_free(nic_rnn_model *m);
/* Uniform +-1/sqrt(fan_in) weights (PyTorch's conv and GRU rule), zero biases. */
void nic_rnn_model_init(nic_rnn_model *m, nn_rng *rng);
/* The architecture of a weights file from its tensor shapes (cell kind from the
 * gate count, gains from r_gain.log) and the reconstruction mode from its
 * "reconstruction" metadata (codec files have it; without it, the caller's
 * oneshot stays); iterations stay the caller's. */
nic_status nic_rnn_config_from_file(nic_context *ctx, const nn_st_file *f, const char *path,
                                    nic_rnn_config *cfg);
/* The same, reading the file at path. */
nic_status nic_rnn_config_from_path(nic_context *ctx, const char *path, nic_rnn_config *cfg);
/* Loads weights into a created model. Training may start a model from a
 * smaller one: a file without gains loads as gains 1, and a narrower file
 * (each width at most the model's; the same cells and bits) fills the first
 * channels of every layer, while the new channels keep m's values for their
 * own rows (call nic_rnn_model_init first) and get zero weights out of them
 * into the old ones: the wider model computes what the file's did, and
 * training grows the new channels from there. */
nic_status nic_rnn_model_load(nic_context *ctx, nic_rnn_model *m, const char *path);

/* ---------------------------------------------------------------- the network */

typedef struct nic_rnn_net nic_rnn_net;

/* nic_rnn_net_create flag (beside the NN_CONV_* ones): an inference network
 * with the decoder only. */
#define NIC_RNN_NET_DECODER_ONLY (1u << 8)

typedef struct nic_rnn_stats {
    double loss;                              /* mean over iterations of mean |r_t| (or r_t^2) */
    double mse[NIC_RNN_MAX_ITERATIONS];       /* per iteration count, on [0, 255] */
    int iterations;
} nic_rnn_stats;

/* Plans the network for batches [batch][3][h][w] (h, w multiples of 16) and
 * `iterations` unrolled iterations. train: keep what backward needs and
 * allocate gradients buffers. flags: NN_CONV_REFERENCE for the plain kernels
 * (deterministic; the decoder uses them). */
nic_status nic_rnn_net_create(nic_context *ctx, nn_engine *eng, nic_rnn_model *m, int batch,
                              int h, int w, int iterations, int train, unsigned flags,
                              nic_rnn_net **out);
void nic_rnn_net_destroy(nic_rnn_net *net);
/* Checks only: the binarizer passes tanh instead of the sign, which makes the
 * loss smooth and the straight-through gradient exact. */
void nic_rnn_net_set_relaxed(nic_rnn_net *net, int relaxed);

/* Training (or evaluation with rng = NULL and train = 0): runs all iterations on
 * x [batch][3][h][w] in [0, 1]; with train, backpropagates (straight through
 * the binarizer) and ACCUMULATES the parameter gradients. rng: the stochastic
 * binarizer (NULL: sign). */
nic_status nic_rnn_train_step(nic_context *ctx, nic_rnn_net *net, const float *x, nn_rng *rng,
                              int train, nic_rnn_stats *stats);

/* After nic_rnn_train_step: the residual left after t iterations (0..T),
 * [batch][3][h][w]; the reconstruction is x - residual (additive and
 * one-shot alike). NULL for an inference network or t out of range. */
const float *nic_rnn_net_residual(const nic_rnn_net *net, int t);

/* Inference, one iteration at a time (a net made with iterations = 1).
 * reset: zero state (a new picture) and iteration 0 (the gains' index; the
 * encoder and the decoder count their calls apart). encode: residual r [3][h][w] -> bits
 * [bits][h/16][w/16] in {-1, +1}. decode: bits -> the decoder's output o
 * [3][h][w] (the caller adds it, or replaces with it for one-shot). The
 * encoder and the decoder keep separate states; an encoder must also run the
 * decoder on its own bits to get the next residual. */
void nic_rnn_net_reset(nic_rnn_net *net);
nic_status nic_rnn_net_encode(nic_context *ctx, nic_rnn_net *net, const float *residual,
                              float *bits);
nic_status nic_rnn_net_decode(nic_context *ctx, nic_rnn_net *net, const float *bits, float *out);

#endif
