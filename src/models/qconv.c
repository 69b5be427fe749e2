#include "models/qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int32_t nic_q_from_float(double v)
{
    double s = nearbyint(v * NIC_Q_ONE);
    if (s > INT32_MAX)
        return INT32_MAX;
    if (s < -(double)INT32_MAX)
        return -INT32_MAX;
    return (int32_t)s;
}

double nic_q_exp(int32_t v_q16)
{
    double x = v_q16 / 65536.0;
    x = x > 700.0 ? 700.0 : (x < -700.0 ? -700.0 : x);
    /* exp(x) = 2^k exp(r), |r| <= ln(2) / 2; Taylor series of exp(r) to r^16
     * (remainder < 0.35^17 / 17! ~ 5e-23) */
    double k = nearbyint(x * 1.4426950408889634);
    double r = x - k * 0.6931471805599453;
    double coef[17];
    coef[0] = 1.0;
    for (int i = 1; i < 17; i++)
        coef[i] = coef[i - 1] / i;
    double p = coef[16];
    for (int i = 15; i >= 0; i--)
        p = p * r + coef[i];
    return ldexp(p, (int)k);
}

int64_t nic_q32_from_float(double v)
{
    double s = nearbyint(v * 4294967296.0);
    if (s > 9.0e18)
        return (int64_t)9000000000000000000LL;
    if (s < -9.0e18)
        return -(int64_t)9000000000000000000LL;
    return (int64_t)s;
}

nic_status nic_qconv_init(nic_context *ctx, nic_qconv *q, const float *w, const float *b, int c_in,
                          int c_out, int k, int stride, int transposed, int relu)
{
    memset(q, 0, sizeof(*q));
    q->c_in = c_in;
    q->c_out = c_out;
    q->k = k;
    q->stride = stride;
    q->transposed = transposed;
    q->relu = relu;
    size_t nw = (size_t)c_in * c_out * k * k;
    q->w = malloc(nw * sizeof(int32_t));
    q->b = malloc((size_t)c_out * sizeof(int64_t));
    if (!q->w || !q->b) {
        nic_qconv_free(q);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "integer convolution: out of memory");
    }
    for (size_t i = 0; i < nw; i++)
        q->w[i] = nic_q_from_float(w[i]);
    for (int i = 0; i < c_out; i++)
        q->b[i] = b ? nic_q32_from_float(b[i]) : 0;
    return NIC_OK;
}

void nic_qconv_free(nic_qconv *q)
{
    free(q->w);
    free(q->b);
    q->w = NULL;
    q->b = NULL;
}

void nic_qconv_out_size(const nic_qconv *q, int h, int w, int *h_out, int *w_out)
{
    int pad = q->k / 2;
    if (q->transposed) {
        *h_out = (h - 1) * q->stride - 2 * pad + q->k + (q->stride - 1);
        *w_out = (w - 1) * q->stride - 2 * pad + q->k + (q->stride - 1);
    } else {
        *h_out = (h + 2 * pad - q->k) / q->stride + 1;
        *w_out = (w + 2 * pad - q->k) / q->stride + 1;
    }
}

void nic_qconv_forward(const nic_qconv *q, const int32_t *x, int h, int w, int32_t *y,
                       int64_t *acc_all)
{
    int ho, wo;
    nic_qconv_out_size(q, h, w, &ho, &wo);
    const int k = q->k, s = q->stride, pad = k / 2;
    const size_t in_hw = (size_t)h * w, out_hw = (size_t)ho * wo;
#pragma omp parallel for schedule(static)
    for (int oc = 0; oc < q->c_out; oc++) {
        int64_t *acc = acc_all + (size_t)oc * out_hw;
        for (size_t i = 0; i < out_hw; i++)
            acc[i] = q->b[oc];
        for (int ic = 0; ic < q->c_in; ic++) {
            const int32_t *xp = x + (size_t)ic * in_hw;
            const int32_t *wp = q->transposed ? q->w + ((size_t)ic * q->c_out + oc) * k * k
                                              : q->w + ((size_t)oc * q->c_in + ic) * k * k;
            if (k == 1 && s == 1) {
                /* 1x1: one weight per input channel */
                const int64_t wv = wp[0];
                for (size_t i = 0; i < out_hw; i++)
                    acc[i] += (int64_t)xp[i] * wv;
            } else if (q->transposed) {
                /* y(iy*s - pad + ky, ix*s - pad + kx) += w(ky, kx) x(iy, ix) */
                for (int iy = 0; iy < h; iy++)
                    for (int ky = 0; ky < k; ky++) {
                        int oy = iy * s - pad + ky;
                        if (oy < 0 || oy >= ho)
                            continue;
                        for (int ix = 0; ix < w; ix++) {
                            int64_t xv = xp[(size_t)iy * w + ix];
                            if (!xv)
                                continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ox = ix * s - pad + kx;
                                if (ox >= 0 && ox < wo)
                                    acc[(size_t)oy * wo + ox] += xv * wp[ky * k + kx];
                            }
                        }
                    }
            } else {
                for (int oy = 0; oy < ho; oy++)
                    for (int ky = 0; ky < k; ky++) {
                        int iy = oy * s - pad + ky;
                        if (iy < 0 || iy >= h)
                            continue;
                        for (int ox = 0; ox < wo; ox++) {
                            int64_t a = 0;
                            for (int kx = 0; kx < k; kx++) {
                                int ix = ox * s - pad + kx;
                                if (ix >= 0 && ix < w)
                                    a += (int64_t)xp[(size_t)iy * w + ix] * wp[ky * k + kx];
                            }
                            acc[(size_t)oy * wo + ox] += a;
                        }
                    }
            }
        }
        int32_t *yp = y + (size_t)oc * out_hw;
        for (size_t i = 0; i < out_hw; i++)
            yp[i] = nic_q_finish(acc[i], q->relu);
    }
}
