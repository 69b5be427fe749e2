/*
 * Reference layer kernels: forward and backward over flat NCHW buffers.
 *
 * Every kernel exists twice, from one source (layers_impl.inc): in float
 * (nn_relu_forward) and in double (nn_relu_forward_f64). The double versions
 * are the "check mode": finite differences in double are accurate to ~1e-8,
 * so the backward passes can be checked tightly (tests/unit/test_nn_*.c),
 * and the float versions are the same code, checked against the double ones
 * and against PyTorch. The oneDNN convolutions (conv.h) are checked against
 * these reference convolutions.
 *
 * Conventions (llm.c):
 *  - forward(out, in, params, sizes); backward(dinp, dparams, dout, saved).
 *  - The input gradient is WRITTEN (overwritten); parameter gradients are
 *    ACCUMULATED (+=), so weight sharing over time steps just works and a
 *    step zeroes all gradients once (nn_params_zero_grad).
 *  - Elementwise kernels allow out == in (in place); dx may alias dy.
 *  - Nothing allocates: scratch buffers are parameters.
 */
#ifndef NIC_NN_LAYERS_H
#define NIC_NN_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"
#include "nn/rng.h"

/* A 2-D convolution y = conv(x, w) + b:
 *   x [n][c_in][h_in][w_in], w [c_out][c_in/groups][k_h][k_w], b [c_out],
 *   y [n][c_out][h_out][w_out], y(oy, ox) reads x(oy*stride - pad + ky, ...),
 *   positions outside x are zero (the bottom/right padding is implied by
 *   h_out, w_out). */
typedef struct nn_conv_desc {
    int n, c_in, h_in, w_in;
    int c_out, k_h, k_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    int groups;
    int h_out, w_out;
} nn_conv_desc;

/* Conv2d as in PyTorch (symmetric padding, h_out = (h_in + 2 pad - k) / stride + 1). */
nic_status nn_conv_desc_init(nic_context *ctx, nn_conv_desc *d, int n, int c_in, int h_in,
                             int w_in, int c_out, int k, int stride, int pad, int groups);

/* ConvTranspose2d(c_in, c_out, k, stride, pad, output_padding, groups) applied
 * to x [n][c_in][h_in][w_in] is the adjoint of a convolution. *d receives that
 * convolution, whose INPUT is the transposed conv's output
 * [n][c_out][(h_in-1)*stride - 2 pad + k + output_padding][...] and whose
 * OUTPUT is the transposed conv's input. Its weight layout [c_in][c_out/groups]
 * [k][k] is PyTorch's ConvTranspose2d weight layout. */
nic_status nn_conv_desc_init_transposed(nic_context *ctx, nn_conv_desc *d, int n, int c_in,
                                        int h_in, int w_in, int c_out, int k, int stride,
                                        int pad, int output_padding, int groups);

static inline size_t nn_conv_x_count(const nn_conv_desc *d)
{
    return (size_t)d->n * d->c_in * d->h_in * d->w_in;
}
static inline size_t nn_conv_y_count(const nn_conv_desc *d)
{
    return (size_t)d->n * d->c_out * d->h_out * d->w_out;
}
static inline size_t nn_conv_w_count(const nn_conv_desc *d)
{
    return (size_t)d->c_out * (d->c_in / d->groups) * d->k_h * d->k_w;
}
/* Multiply-adds x 2 of one forward pass (the same for each backward pass). */
static inline double nn_conv_flops(const nn_conv_desc *d)
{
    return 2.0 * (double)nn_conv_y_count(d) * (d->c_in / d->groups) * d->k_h * d->k_w;
}

/* Output indices o in [*lo, *hi) whose input index o*stride - pad + k lies in [0, in_len). */
static inline void nn_conv_valid_range(int out_len, int in_len, int stride, int pad, int k,
                                       int *lo, int *hi)
{
    int a = pad - k;
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int t = in_len - 1 + pad - k;
    int h = t < 0 ? 0 : t / stride + 1;
    if (h > out_len)
        h = out_len;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* GDN reparametrization (Balle et al.; CompressAI's NonNegativeParametrizer):
 * effective = max(param, bound)^2 - pedestal, pedestal = 2^-36,
 * bound = sqrt(minimum + pedestal). beta uses minimum 1e-6, gamma 0. */
#define NN_GDN_PEDESTAL (1.0 / 68719476736.0)
#define NN_GDN_BETA_MIN 1e-6
/* param = sqrt(max(value + pedestal, pedestal)), the inverse of the map above. */
void nn_gdn_reparam_init(float *param, size_t count, float value);

/* Elementwise and filter loops split over threads only from this many
 * values: below it, waking a team costs more than it saves. */
#define NN_PARALLEL_MIN 32768
/* The same for the reference convolutions, in flops (nn_conv_flops). */
#define NN_PARALLEL_MIN_FLOPS 1e6

/* Bilinear upsampling by an integer factor r with PyTorch's align_corners=False
 * rule: output index o reads the input at s = max((o + 1/2) / r - 1/2, 0),
 * between i0 = floor(s) and i1 = min(i0 + 1, in_len - 1), weight lambda = s - i0
 * on i1. */
static inline void nn_bilinear_source(int o, int r, int in_len, int *i0, int *i1, double *lambda)
{
    double s = ((double)o + 0.5) / (double)r - 0.5;
    if (s < 0)
        s = 0;
    int i = (int)s;
    *i0 = i;
    *i1 = i < in_len - 1 ? i + 1 : i;
    *lambda = s - (double)i;
}

/* MS-SSIM loss (nn_msssim_loss_*): the metric's window (11 taps, sigma 1.5,
 * src/metrics/ssim.c), 'valid' statistics (the map is cropped by the window
 * radius), 2x2 average pooling between scales with odd sizes rounded down,
 * and Wang et al.'s weights. */
#define NN_MSSSIM_SCALES 5
#define NN_MSSSIM_RADIUS 5
#define NN_MSSSIM_TAPS (2 * NN_MSSSIM_RADIUS + 1)
extern const double nn_msssim_weights[NN_MSSSIM_SCALES];
/* The Gaussian window's taps (sigma 1.5), normalised to sum 1, w[k] at offset k - 5. */
void nn_msssim_window(double w[NN_MSSSIM_TAPS]);
/* Scales whose smallest level still holds one 11x11 window: 5 from 176 px on a side
 * (the halvings round down), 4 from 88, ... 1 from 11; 0 below. */
int nn_msssim_max_scales(int h, int w);
/* Elements of NN_REAL the loss needs as work space for h x w planes (scales >= 1). */
size_t nn_msssim_work_count(int h, int w, int scales);

#define NN_REAL float
#define NN_FN(name) name
#include "nn/layers_proto.inc"
#undef NN_REAL
#undef NN_FN

#define NN_REAL double
#define NN_FN(name) name##_f64
#include "nn/layers_proto.inc"
#undef NN_REAL
#undef NN_FN

#endif
