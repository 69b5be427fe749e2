#include "nn/conv_det.h"

#include <stdlib.h>
#include <string.h>

#include "nn/tensor.h"

/* floor(a / b) for b > 0 */
static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

nic_status nn_conv_transpose_det_forward(nic_context *ctx, int c_in, int h, int w, int c_out,
                                         int k, int s, int pad, const float *x, const float *wt,
                                         const float *b, float *y)
{
    if (c_in < 1 || c_out < 1 || h < 1 || w < 1 || k < 1 || s < 1 || pad < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "transposed convolution: bad shape");
    if (k != 2 * pad + 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "transposed convolution: kernel %d with padding %d does not scale by "
                        "exactly %d (odd kernels with padding k/2 only)",
                        k, pad, s);
    const int H = h * s, W = w * s;
    const size_t in_hw = (size_t)h * w;
    int failed = 0;
#pragma omp parallel
    {
        float *plane = nn_alloc(in_hw * sizeof(float));
        if (!plane) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int oc = 0; oc < c_out; oc++) {
            if (!plane)
                continue;
            float *yc = y + (size_t)oc * H * W;
            /* Output (oy, ox) = (i s + py, j s + px) reads x(i + dy, j + dx) with
             * ky = py + pad - s dy and kx = px + pad - s dx. */
            for (int py = 0; py < s; py++)
                for (int px = 0; px < s; px++) {
                    const float bias = b ? b[oc] : 0.0f;
                    for (size_t t = 0; t < in_hw; t++)
                        plane[t] = bias;
                    for (int ic = 0; ic < c_in; ic++) {
                        const float *xc = x + (size_t)ic * in_hw;
                        const float *wk = wt + ((size_t)ic * c_out + oc) * k * k;
                        for (int ky = 0; ky < k; ky++) {
                            if (((py + pad - ky) % s + s) % s != 0)
                                continue;
                            int dy = floor_div(py + pad - ky, s);
                            int i0 = dy < 0 ? -dy : 0, i1 = dy > 0 ? h - dy : h;
                            for (int kx = 0; kx < k; kx++) {
                                if (((px + pad - kx) % s + s) % s != 0)
                                    continue;
                                int dx = floor_div(px + pad - kx, s);
                                int j0 = dx < 0 ? -dx : 0, j1 = dx > 0 ? w - dx : w;
                                const float wv = wk[ky * k + kx];
                                for (int i = i0; i < i1; i++) {
                                    float *pr = plane + (size_t)i * w;
                                    const float *xr = xc + (size_t)(i + dy) * w + dx;
#pragma omp simd
                                    for (int j = j0; j < j1; j++)
                                        pr[j] = pr[j] + wv * xr[j];
                                }
                            }
                        }
                    }
                    for (int i = 0; i < h; i++) {
                        float *yr = yc + (size_t)(i * s + py) * W + px;
                        const float *pr = plane + (size_t)i * w;
                        for (int j = 0; j < w; j++)
                            yr[(size_t)j * s] = pr[j];
                    }
                }
        }
        nn_free(plane);
    }
    if (failed)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "transposed convolution: out of memory");
    return NIC_OK;
}
