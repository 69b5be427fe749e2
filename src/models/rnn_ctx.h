/*
 * The context model of the combined codec ("rnn+cnn"): a masked
 * convolutional model over the RNN's binary codes that gives, for every code,
 * the probability that it is +1, which drives the binary arithmetic coder.
 * Lossless: the pictures are the rnn codec's, the files smaller.
 *
 * The code b_t(c, y, x) in {-1, +1} of iteration t, channel c, position
 * (y, x) (1/16 of the picture) is predicted from what a decoder already has:
 *
 *   N  the codes of iteration t at the causal neighbours (y, x-1), (y-1, x-1),
 *      (y-1, x), (y-1, x+1), every channel            (a masked 2x3 convolution)
 *   C  the codes of iteration t at (y, x), channels 0 .. c-1   (masked channels)
 *   P  the codes of iteration t-1 in the 3x3 neighbourhood of (y, x), every
 *      channel                                        (a 3x3 convolution)
 *
 * 14 B features per code (B = bits per position; 448 for 32), each +1, -1 or
 * 0 where the neighbour is outside the picture or not decoded yet; one set
 * of weights and a bias per (iteration, channel); logit = bias + sum w f;
 * P(+1) = sigmoid(logit). The weights are trained in floating point on codes
 * the RNN encoder produced (logistic loss = the code length in bits), then
 * quantized: weights in units of 1/128 of a logit (int32), and the sigmoid a
 * table of 4095 16-bit probabilities stored with the weights, so that coding
 * needs only integer additions and a table look-up: every machine picks the
 * same probability (ENTROPY.md, "Determinism").
 */
#ifndef NIC_MODELS_RNN_CTX_H
#define NIC_MODELS_RNN_CTX_H

#include <stdint.h>

#include "common/context.h"
#include "nn/rng.h"

#define NIC_RNN_CTX_UNIT 128        /* logit units per 1.0 */
#define NIC_RNN_CTX_LOGIT_MAX 2047  /* |logit| is clamped to this (16.0) */
#define NIC_RNN_CTX_TABLE (2 * NIC_RNN_CTX_LOGIT_MAX + 1)
#define NIC_RNN_CTX_FEATURES(bits) (14 * (bits))

typedef struct nic_rnn_ctx_model {
    int bits;       /* B */
    int sets;       /* weight sets: iteration t uses min(t, sets - 1) */
    int nfeat;      /* 14 B */
    float *w;       /* [sets][B][nfeat + 1] (bias last), training */
    int32_t *wq;    /* the same, quantized (units of 1/128) */
    uint16_t *p1;   /* [NIC_RNN_CTX_TABLE]: P(+1) * 65536 of logit i - 2047 */
    float *g, *am, *av; /* training: gradient and Adam moments (allocated on first use) */
    int64_t adam_steps;
} nic_rnn_ctx_model;

nic_status nic_rnn_ctx_create(nic_context *ctx, int bits, int sets, nic_rnn_ctx_model *m);
void nic_rnn_ctx_free(nic_rnn_ctx_model *m);
/* Weights from float w: wq and the probability table. */
void nic_rnn_ctx_quantize(nic_rnn_ctx_model *m);
/* Checks a loaded model (table monotone within 1..65535). */
nic_status nic_rnn_ctx_check(nic_context *ctx, const nic_rnn_ctx_model *m, const char *name);

/* The codes of one picture: [iterations][B][h][w] int8 (+1 / -1; 0 = not known). */
typedef struct nic_rnn_codes {
    int iterations, bits, h, w;
    int8_t *v;
} nic_rnn_codes;

static inline int8_t *nic_rnn_codes_at(const nic_rnn_codes *c, int t)
{
    return c->v + (size_t)t * c->bits * c->h * c->w;
}

/* P(code (t, c, y, x) = +1) * 65536 (1..65535) from the integer model; the
 * codes of iteration t at positions before (y, x) in raster order, and at
 * (y, x) in channels < c, and all of iteration t-1, must be set (the rest
 * is not read). */
uint32_t nic_rnn_ctx_p1(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int t, int c,
                        int y, int x);

/* One pass of Adam over a set of pictures' codes (float model), in an order
 * drawn from rng. Returns the mean code length in bits per code before each
 * update; bits_per_iteration (may be NULL) receives it per iteration. */
double nic_rnn_ctx_train_epoch(nic_rnn_ctx_model *m, const nic_rnn_codes *set, int count,
                               float lr, nn_rng *rng, double *bits_per_iteration);
/* Mean code length in bits per code of the QUANTIZED model (what the coder
 * spends, less its few bytes of overhead), per iteration into
 * bits_per_iteration (may be NULL). */
double nic_rnn_ctx_evaluate(const nic_rnn_ctx_model *m, const nic_rnn_codes *set, int count,
                            double *bits_per_iteration);

#endif
