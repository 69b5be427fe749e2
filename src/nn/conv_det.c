#include "nn/conv_det.h"

#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"

/* ---------------------------------------------------------------- forward */

#define DET_OB 8 /* output channels per register tile */
#define DET_TW 4 /* output columns per register tile (one SSE register) */
typedef float det_vec __attribute__((vector_size(DET_TW * sizeof(float))));

int nn_conv_det_supports(const nn_conv_desc *d)
{
    return d->groups == 1 && d->stride_h == 1 && d->stride_w == 1;
}

nic_status nn_conv_det_forward(nic_context *ctx, const nn_conv_desc *d, const float *x,
                               const float *w, const float *b, float *y)
{
    if (!nn_conv_det_supports(d))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "deterministic convolution: stride 1 and one group only");
    const int kh = d->k_h, kw = d->k_w, ci = d->c_in, co = d->c_out;
    const int ho = d->h_out, wo = d->w_out;
    const int wo_r = (wo + DET_TW - 1) / DET_TW * DET_TW;
    /* padded input: rows oy - pad_h + ky and columns ox - pad_w + kx for every
     * output (the last column tile rounded up) land inside, zeros around x */
    const int hp = ho + kh - 1, wp = wo_r + kw - 1;
    const int K = ci * kh * kw, nob = (co + DET_OB - 1) / DET_OB;
    const size_t plane = (size_t)hp * wp;
    /* x itself when it needs no padding (1x1 kernels on widths of whole tiles) */
    const int direct = d->pad_h == 0 && d->pad_w == 0 && hp == d->h_in && wp == d->w_in;
    float *xp = direct ? NULL : nn_alloc((size_t)d->n * ci * plane * sizeof(float));
    float *wk = nn_alloc((size_t)nob * K * DET_OB * sizeof(float));
    if ((!direct && !xp) || !wk) {
        nn_free(xp);
        nn_free(wk);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "deterministic convolution: out of memory");
    }
    const float *xin = direct ? x : xp;
    const size_t in_hw = (size_t)d->h_in * d->w_in;
    const int left = d->pad_w, cols_in = d->w_in < wp - left ? d->w_in : wp - left;
#pragma omp parallel for collapse(2) schedule(static) if (!direct)
    for (int n = 0; n < d->n * !direct; n++)
        for (int c = 0; c < ci; c++) {
            float *dst = xp + ((size_t)n * ci + c) * plane;
            const float *src = x + ((size_t)n * ci + c) * in_hw;
            for (int r = 0; r < hp; r++) {
                const int iy = r - d->pad_h;
                float *dr = dst + (size_t)r * wp;
                if (iy < 0 || iy >= d->h_in || cols_in <= 0) {
                    memset(dr, 0, (size_t)wp * sizeof(float));
                    continue;
                }
                memset(dr, 0, (size_t)left * sizeof(float));
                memcpy(dr + left, src + (size_t)iy * d->w_in, (size_t)cols_in * sizeof(float));
                memset(dr + left + cols_in, 0, (size_t)(wp - left - cols_in) * sizeof(float));
            }
        }
    /* weights as [block][ic][ky][kx][DET_OB] (zeros past c_out) */
    for (int ob = 0; ob < nob; ob++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < DET_OB; j++) {
                const int oc = ob * DET_OB + j;
                wk[((size_t)ob * K + k) * DET_OB + j] = oc < co ? w[(size_t)oc * K + k] : 0.0f;
            }
    const size_t out_hw = (size_t)ho * wo;
#pragma omp parallel for collapse(3) schedule(static)
    for (int n = 0; n < d->n; n++)
        for (int ob = 0; ob < nob; ob++)
            for (int oy = 0; oy < ho; oy++) {
                const float *wb = wk + (size_t)ob * K * DET_OB;
                const float *xn = xin + (size_t)n * ci * plane;
                for (int ox = 0; ox < wo; ox += DET_TW) {
                    /* four named accumulators so that they stay in registers */
                    float bias[DET_OB];
                    for (int j = 0; j < DET_OB; j++) {
                        const int oc = ob * DET_OB + j;
                        bias[j] = b && oc < co ? b[oc] : 0.0f;
                    }
                    det_vec a0, a1, a2, a3, a4, a5, a6, a7;
                    for (int t = 0; t < DET_TW; t++) {
                        a0[t] = bias[0];
                        a1[t] = bias[1];
                        a2[t] = bias[2];
                        a3[t] = bias[3];
                        a4[t] = bias[4];
                        a5[t] = bias[5];
                        a6[t] = bias[6];
                        a7[t] = bias[7];
                    }
                    const float *wv = wb;
                    for (int c = 0; c < ci; c++)
                        for (int ky = 0; ky < kh; ky++) {
                            const float *row = xn + (size_t)c * plane + (size_t)(oy + ky) * wp + ox;
                            for (int kx = 0; kx < kw; kx++, wv += DET_OB) {
                                det_vec xv;
                                memcpy(&xv, row + kx, sizeof(xv));
                                /* product, then sum: the reference's two roundings */
                                const det_vec p0 = wv[0] * xv, p1 = wv[1] * xv;
                                const det_vec p2 = wv[2] * xv, p3 = wv[3] * xv;
                                const det_vec p4 = wv[4] * xv, p5 = wv[5] * xv;
                                const det_vec p6 = wv[6] * xv, p7 = wv[7] * xv;
                                a0 = a0 + p0;
                                a1 = a1 + p1;
                                a2 = a2 + p2;
                                a3 = a3 + p3;
                                a4 = a4 + p4;
                                a5 = a5 + p5;
                                a6 = a6 + p6;
                                a7 = a7 + p7;
                            }
                        }
                    float tile[DET_OB][DET_TW];
                    memcpy(tile[0], &a0, sizeof(a0));
                    memcpy(tile[1], &a1, sizeof(a1));
                    memcpy(tile[2], &a2, sizeof(a2));
                    memcpy(tile[3], &a3, sizeof(a3));
                    memcpy(tile[4], &a4, sizeof(a4));
                    memcpy(tile[5], &a5, sizeof(a5));
                    memcpy(tile[6], &a6, sizeof(a6));
                    memcpy(tile[7], &a7, sizeof(a7));
                    const int cols = wo - ox < DET_TW ? wo - ox : DET_TW;
                    for (int j = 0; j < DET_OB; j++) {
                        const int oc = ob * DET_OB + j;
                        if (oc >= co)
                            break;
                        float *yr = y + ((size_t)n * co + oc) * out_hw + (size_t)oy * wo + ox;
                        memcpy(yr, tile[j], (size_t)cols * sizeof(float));
                    }
                }
            }
    nn_free(xp);
    nn_free(wk);
    return NIC_OK;
}
