/*
 * Likelihood models of quantized latents, with their gradients: the pieces
 * of the rate term in training and the sources of the CDF tables in coding.
 *
 * Gaussian conditional (latent y given the hyperprior): the probability of
 * the unit bin around v = value - mean under N(0, sigma^2),
 *   p = Phi((1/2 - |v|) / sigma) - Phi((-1/2 - |v|) / sigma),
 * with sigma bounded below by NIC_SCALE_MIN (0.11, as CompressAI) and p by
 * NIC_LIKELIHOOD_MIN (1e-9).
 *
 * Factorized prior (hyper-latent z; Balle et al. 2018, appendix 6.1): per
 * channel, a learned monotone function l(u) of a scalar, built from small
 * dense layers 1 -> 3 -> 3 -> 3 -> 1 with softplus(H) weights and
 * tanh(a)-gated tanh nonlinearities; c(u) = sigmoid(l(u)) is a CDF and
 *   p(u) = c(u + 1/2) - c(u - 1/2).
 */
#ifndef NIC_MODELS_LIKELIHOOD_H
#define NIC_MODELS_LIKELIHOOD_H

#include <stddef.h>

#define NIC_SCALE_MIN 0.11f
#define NIC_LIKELIHOOD_MIN 1e-9f

/* ---------------------------------------------------------------- Gaussian */

/* Bits -log2 p of one value given v = value - mean and sigma (not yet bounded). */
double nic_gaussian_bits(double v, double sigma);

/* Sum of bits over count elements, and (when dv, dsigma are non-NULL) the
 * gradients of scale * bits with respect to v and sigma, WRITTEN. */
double nic_gaussian_rate(const float *v, const float *sigma, size_t count, float scale,
                         float *dv, float *dsigma);

/* ---------------------------------------------------------------- factorized prior */

#define NIC_FP_LAYERS 4
#define NIC_FP_WIDTH 3
/* Parameters of one channel, in this order, in a flat float array. */
typedef struct nic_fp_layout {
    size_t matrix[NIC_FP_LAYERS]; /* offsets; sizes out x in: 3x1, 3x3, 3x3, 1x3 */
    size_t bias[NIC_FP_LAYERS];   /* sizes 3, 3, 3, 1 */
    size_t factor[NIC_FP_LAYERS - 1]; /* sizes 3, 3, 3 */
    size_t count;                 /* floats per channel */
} nic_fp_layout;

void nic_fp_layout_get(nic_fp_layout *layout);

/* Initial parameters of `channels` channels (CompressAI's init, scale 10);
 * the random bias uses uniform numbers drawn from `uniform01` (count values). */
void nic_fp_init(float *params, int channels, const float *uniform01);

/* Logit l(u) of the CDF of channel params. */
double nic_fp_logit(const float *params, double u);

/* Bits of z[n][channels][hw] and, when dz/dparams are non-NULL, the gradient
 * of scale * bits: dz WRITTEN, dparams ACCUMULATED ([channels][count]). */
double nic_fp_rate(const float *params, const float *z, int n, int channels, size_t hw,
                   float scale, float *dz, float *dparams);

#endif
