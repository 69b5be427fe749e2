#include "nn/layers.h"

#include <math.h>

static nic_status check_conv(nic_context *ctx, const nn_conv_desc *d, const char *what)
{
    if (d->n < 1 || d->c_in < 1 || d->h_in < 1 || d->w_in < 1 || d->c_out < 1 || d->k_h < 1 ||
        d->k_w < 1 || d->stride_h < 1 || d->stride_w < 1 || d->pad_h < 0 || d->pad_w < 0 ||
        d->groups < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "%s: sizes must be positive (n %d, c_in %d, %dx%d, c_out %d, k %dx%d, "
                        "stride %d, pad %d, groups %d)",
                        what, d->n, d->c_in, d->h_in, d->w_in, d->c_out, d->k_h, d->k_w,
                        d->stride_h, d->pad_h, d->groups);
    if (d->c_in % d->groups || d->c_out % d->groups)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "%s: channels %d -> %d are not divisible by groups %d", what, d->c_in,
                        d->c_out, d->groups);
    if (d->h_out < 1 || d->w_out < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: output would be %dx%d", what,
                        d->h_out, d->w_out);
    double elems = (double)d->n * d->c_in * d->h_in * d->w_in;
    double oelems = (double)d->n * d->c_out * d->h_out * d->w_out;
    if (elems > 2e9 || oelems > 2e9)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: tensors too large (%.0f, %.0f elements)", what,
                        elems, oelems);
    return NIC_OK;
}

nic_status nn_conv_desc_init(nic_context *ctx, nn_conv_desc *d, int n, int c_in, int h_in,
                             int w_in, int c_out, int k, int stride, int pad, int groups)
{
    d->n = n;
    d->c_in = c_in;
    d->h_in = h_in;
    d->w_in = w_in;
    d->c_out = c_out;
    d->k_h = d->k_w = k;
    d->stride_h = d->stride_w = stride;
    d->pad_h = d->pad_w = pad;
    d->groups = groups;
    d->h_out = stride > 0 ? (h_in + 2 * pad - k) / stride + 1 : 0;
    d->w_out = stride > 0 ? (w_in + 2 * pad - k) / stride + 1 : 0;
    if (stride > 0 && (h_in + 2 * pad - k < 0 || w_in + 2 * pad - k < 0))
        d->h_out = d->w_out = 0;
    return check_conv(ctx, d, "conv2d");
}

nic_status nn_conv_desc_init_transposed(nic_context *ctx, nn_conv_desc *d, int n, int c_in,
                                        int h_in, int w_in, int c_out, int k, int stride,
                                        int pad, int output_padding, int groups)
{
    if (stride < 1 || output_padding < 0 || output_padding >= stride)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "conv_transpose2d: output_padding %d must be in [0, stride %d)",
                        output_padding, stride);
    d->n = n;
    d->c_in = c_out;
    d->h_in = (h_in - 1) * stride - 2 * pad + k + output_padding;
    d->w_in = (w_in - 1) * stride - 2 * pad + k + output_padding;
    d->c_out = c_in;
    d->k_h = d->k_w = k;
    d->stride_h = d->stride_w = stride;
    d->pad_h = d->pad_w = pad;
    d->groups = groups;
    d->h_out = h_in;
    d->w_out = w_in;
    return check_conv(ctx, d, "conv_transpose2d");
}

void nn_gdn_reparam_init(float *param, size_t count, float value)
{
    double v = (double)value + NN_GDN_PEDESTAL;
    if (v < NN_GDN_PEDESTAL)
        v = NN_GDN_PEDESTAL;
    for (size_t i = 0; i < count; i++)
        param[i] = (float)sqrt(v);
}

const double nn_msssim_weights[NN_MSSSIM_SCALES] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

void nn_msssim_window(double w[NN_MSSSIM_TAPS])
{
    const double sigma = 1.5;
    double sum = 0;
    for (int i = 0; i < NN_MSSSIM_TAPS; i++) {
        const double d = i - NN_MSSSIM_RADIUS;
        w[i] = exp(-0.5 * d * d / (sigma * sigma));
        sum += w[i];
    }
    for (int i = 0; i < NN_MSSSIM_TAPS; i++)
        w[i] /= sum;
}

int nn_msssim_max_scales(int h, int w)
{
    int s = 0;
    while (s < NN_MSSSIM_SCALES && (h >> s) >= NN_MSSSIM_TAPS && (w >> s) >= NN_MSSSIM_TAPS)
        s++;
    return s;
}

size_t nn_msssim_work_count(int h, int w, int scales)
{
    if (h < NN_MSSSIM_TAPS || w < NN_MSSSIM_TAPS)
        return 0;
    size_t count = 0;
    for (int s = 1; s < scales; s++)
        count += (size_t)3 * (size_t)(h >> s) * (size_t)(w >> s);
    const size_t rows = (size_t)h - 2 * NN_MSSSIM_RADIUS;
    return count + 5 * rows * (size_t)w + 5 * rows * ((size_t)w - 2 * NN_MSSSIM_RADIUS);
}
