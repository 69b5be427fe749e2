/*
 * Integer convolutions for the parts of a model that select entropy-coding
 * tables (Balle et al. 2019, "Integer networks for data compression"): the
 * decoder must reproduce the encoder's choices bit for bit on any machine,
 * thread count or SIMD width, which floating point does not promise.
 *
 * Values are fixed point with 16 fractional bits (Q16) in int32; weights are
 * Q16 int32, biases Q32 int64; products accumulate exactly in int64 (no
 * overflow for |activation| < 2^15 and fan-in up to 2^14), then round to
 * Q16 (half away from zero... see nic_q_round_shift). Integer sums do not
 * depend on order, so any parallel or vector version gives the same bits.
 * Converting float weights is exact scaling by 2^16 and rounding to nearest.
 */
#ifndef NIC_MODELS_QCONV_H
#define NIC_MODELS_QCONV_H

#include <stdint.h>

#include "common/context.h"

#define NIC_Q 16
#define NIC_Q_ONE (1 << NIC_Q)

typedef struct nic_qconv {
    int c_in, c_out, k, stride, transposed, relu;
    int32_t *w; /* conv: [c_out][c_in][k][k]; transposed: [c_in][c_out][k][k] (PyTorch) */
    int64_t *b; /* [c_out], Q32 */
} nic_qconv;

/* Rounds a Q(16 + shift) value to Q16: nearest, ties toward +infinity; exact
 * integer arithmetic with no implementation-defined shifts of negatives. */
static inline int64_t nic_q_round_shift(int64_t v, int shift)
{
    int64_t half = (int64_t)1 << (shift - 1);
    int64_t t = v + half;
    return t >= 0 ? t >> shift : -((-t + ((int64_t)1 << shift) - 1) >> shift);
}

/* A Q32 sum to a Q16 activation: rounded, ReLU when relu, saturated to int32. */
static inline int32_t nic_q_finish(int64_t acc, int relu)
{
    int64_t v = nic_q_round_shift(acc, NIC_Q);
    if (relu && v < 0)
        v = 0;
    if (v > INT32_MAX)
        v = INT32_MAX;
    if (v < -(int64_t)INT32_MAX)
        v = -(int64_t)INT32_MAX;
    return (int32_t)v;
}

int32_t nic_q_from_float(double v);   /* Q16, saturated */
/* exp(v / 2^16), from IEEE-754 double additions, multiplications and
 * divisions only (no libm, whose last bits vary between versions), so every
 * machine computes the same value; relative error < 1e-15. */
double nic_q_exp(int32_t v_q16);
int64_t nic_q32_from_float(double v); /* Q32, saturated */

/* Quantizes float weights (layouts as above; b may be NULL = zero). Padding is
 * k / 2; transposed layers with stride 2 double the size (output_padding 1). */
nic_status nic_qconv_init(nic_context *ctx, nic_qconv *q, const float *w, const float *b, int c_in,
                          int c_out, int k, int stride, int transposed, int relu);
void nic_qconv_free(nic_qconv *q);
void nic_qconv_out_size(const nic_qconv *q, int h, int w, int *h_out, int *w_out);
/* x [c_in][h][w] Q16 -> y [c_out][h_out][w_out] Q16 (one image); acc is
 * scratch of c_out * h_out * w_out values. Parallel over output channels. */
void nic_qconv_forward(const nic_qconv *q, const int32_t *x, int h, int w, int32_t *y,
                       int64_t *acc);

#endif
