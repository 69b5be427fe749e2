/* Elementwise layers, likelihoods and the hyper model's quantization on the
 * GPU. Each kernel follows its CPU counterpart (named in the comment) line by
 * line, so that tests/unit/test_cuda.c can hold them to tight tolerances. */
#include <math.h>

#include "cuda/cuda_internal.h"

extern "C" {
#include "models/likelihood.h"
}

#define FOR_EACH(i, n)                                                                  \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);              \
         i += (size_t)gridDim.x * blockDim.x)
#define LAUNCH(n) nn_cuda_grid((n), 8192), NN_CUDA_THREADS, 0, dev->stream

/* ---------------------------------------------------------------- activations */

__global__ void relu_fwd_kernel(const float *x, size_t n, float *y)
{
    FOR_EACH(i, n) y[i] = x[i] > 0 ? x[i] : 0.0f;
}

__global__ void relu_bwd_kernel(const float *x, const float *dy, size_t n, float *dx)
{
    FOR_EACH(i, n) dx[i] = x[i] > 0 ? dy[i] : 0.0f;
}

__global__ void add_kernel(const float *x, size_t n, float *y)
{
    FOR_EACH(i, n) y[i] += x[i];
}

extern "C" void nn_cuda_relu_forward(nn_cuda *dev, const float *x, size_t count, float *y)
{
    relu_fwd_kernel<<<LAUNCH(count)>>>(x, count, y);
}

extern "C" void nn_cuda_relu_backward(nn_cuda *dev, const float *x, const float *dy, size_t count,
                                      float *dx)
{
    relu_bwd_kernel<<<LAUNCH(count)>>>(x, dy, count, dx);
}

extern "C" void nn_cuda_add(nn_cuda *dev, const float *x, size_t count, float *y)
{
    add_kernel<<<LAUNCH(count)>>>(x, count, y);
}

/* ---------------------------------------------------------------- GDN */

/* nn_gdn_reparam_forward / _backward (layers_impl.inc) */
__global__ void reparam_fwd_kernel(const float *p, size_t n, float bound, float pedestal,
                                   float *eff)
{
    FOR_EACH(i, n)
    {
        float v = p[i] > bound ? p[i] : bound;
        eff[i] = v * v - pedestal;
    }
}

__global__ void reparam_bwd_kernel(const float *p, const float *deff, size_t n, float bound,
                                   float *dp)
{
    FOR_EACH(i, n)
    {
        float v = p[i] > bound ? p[i] : bound;
        float g = deff[i] * 2 * v;
        if (p[i] >= bound || g < 0)
            dp[i] += g;
    }
}

extern "C" void nn_cuda_gdn_reparam_forward(nn_cuda *dev, const float *param, size_t count,
                                            double minimum, float *effective)
{
    reparam_fwd_kernel<<<LAUNCH(count)>>>(param, count, (float)sqrt(minimum + NN_GDN_PEDESTAL),
                                          (float)NN_GDN_PEDESTAL, effective);
}

extern "C" void nn_cuda_gdn_reparam_backward(nn_cuda *dev, const float *param,
                                             const float *deffective, size_t count,
                                             double minimum, float *dparam)
{
    reparam_bwd_kernel<<<LAUNCH(count)>>>(param, deffective, count,
                                          (float)sqrt(minimum + NN_GDN_PEDESTAL), dparam);
}

__global__ void square_kernel(const float *x, size_t n, float *sq)
{
    FOR_EACH(i, n) sq[i] = x[i] * x[i];
}

/* nic_gdn_block_forward / _backward (models/blocks.c) around the 1x1 convolution */
__global__ void gdn_apply_kernel(const float *x, const float *norm, size_t n, int inverse,
                                 float *y)
{
    FOR_EACH(i, n) y[i] = inverse ? x[i] * sqrtf(norm[i]) : x[i] / sqrtf(norm[i]);
}

__global__ void gdn_apply_bwd_kernel(const float *x, const float *norm, const float *dy, size_t n,
                                     int inverse, float *dnorm, float *dx)
{
    FOR_EACH(i, n)
    {
        if (inverse) {
            float r = sqrtf(norm[i]);
            dnorm[i] = 0.5f * dy[i] * x[i] / r;
            dx[i] = dy[i] * r;
        } else {
            float r = 1.0f / sqrtf(norm[i]);
            dnorm[i] = -0.5f * dy[i] * x[i] * r * r * r;
            dx[i] = dy[i] * r;
        }
    }
}

__global__ void gdn_square_bwd_kernel(const float *x, const float *dsq, size_t n, float *dx)
{
    FOR_EACH(i, n) dx[i] += 2.0f * x[i] * dsq[i];
}

extern "C" void nn_cuda_square(nn_cuda *dev, const float *x, size_t count, float *sq)
{
    square_kernel<<<LAUNCH(count)>>>(x, count, sq);
}

extern "C" void nn_cuda_gdn_apply(nn_cuda *dev, const float *x, const float *norm, size_t count,
                                  int inverse, float *y)
{
    gdn_apply_kernel<<<LAUNCH(count)>>>(x, norm, count, inverse, y);
}

extern "C" void nn_cuda_gdn_apply_backward(nn_cuda *dev, const float *x, const float *norm,
                                           const float *dy, size_t count, int inverse,
                                           float *dnorm, float *dx)
{
    gdn_apply_bwd_kernel<<<LAUNCH(count)>>>(x, norm, dy, count, inverse, dnorm, dx);
}

extern "C" void nn_cuda_gdn_square_backward(nn_cuda *dev, const float *x, const float *dsq,
                                            size_t count, float *dx)
{
    gdn_square_bwd_kernel<<<LAUNCH(count)>>>(x, dsq, count, dx);
}

/* ---------------------------------------------------------------- quantization proxies */

__global__ void noise_kernel(const float *x, size_t n, size_t per, int first, unsigned stream,
                             uint64_t seed, float *y)
{
    FOR_EACH(k, n)
    {
        size_t b = k / per, e = k % per;
        uint64_t index = ((uint64_t)(first + b) << 41) | ((uint64_t)stream << 40) | e;
        y[k] = x[k] + nn_cuda_noise(seed, index);
    }
}

__global__ void round_kernel(const float *x, size_t n, float *y)
{
    FOR_EACH(i, n) y[i] = rintf(x[i]);
}

extern "C" void nn_cuda_noise_forward(nn_cuda *dev, const float *x, int n, size_t per, int first,
                                      unsigned stream, uint64_t seed, float *y)
{
    size_t count = (size_t)n * per;
    noise_kernel<<<LAUNCH(count)>>>(x, count, per, first, stream, seed, y);
}

extern "C" void nn_cuda_round(nn_cuda *dev, const float *x, size_t count, float *y)
{
    round_kernel<<<LAUNCH(count)>>>(x, count, y);
}

/* ---------------------------------------------------------------- Gaussian rate */

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define LN2 0.69314718055994530942

__device__ inline double std_normal_cdf(double x)
{
    return 0.5 * erfc(-x * INV_SQRT2);
}

__device__ inline double std_normal_pdf(double x)
{
    return INV_SQRT_2PI * exp(-0.5 * x * x);
}

/* nic_gaussian_rate (models/likelihood.c) */
__global__ void gaussian_rate_kernel(const float *v, const float *sigma, size_t n, float scale,
                                     float *dv, float *dsigma, double *partials)
{
    double total = 0;
    FOR_EACH(i, n)
    {
        double s_raw = sigma[i];
        int bounded = s_raw < NIC_SCALE_MIN;
        double s = bounded ? NIC_SCALE_MIN : s_raw;
        double av = fabs((double)v[i]);
        double hi = (0.5 - av) / s, lo = (-0.5 - av) / s;
        double p = std_normal_cdf(hi) - std_normal_cdf(lo);
        double pc = p < NIC_LIKELIHOOD_MIN ? NIC_LIKELIHOOD_MIN : p;
        total += -log2(pc);
        if (!dv)
            continue;
        double dbits_dp = -scale / (pc * LN2);
        double phi_hi = std_normal_pdf(hi), phi_lo = std_normal_pdf(lo);
        double dp_dav = (phi_lo - phi_hi) / s;
        double dp_ds = (lo * phi_lo - hi * phi_hi) / s;
        double sign = v[i] > 0 ? 1.0 : (v[i] < 0 ? -1.0 : 0.0);
        double gv = dbits_dp * dp_dav * sign;
        double gs = dbits_dp * dp_ds;
        if (bounded && gs > 0)
            gs = 0;
        dv[i] = (float)gv;
        dsigma[i] = (float)gs;
    }
    double s = nn_cuda_block_sum(total);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = s;
}

extern "C" nic_status nn_cuda_gaussian_rate(nic_context *ctx, nn_cuda *dev, const float *v,
                                            const float *sigma, size_t count, float scale,
                                            float *dv, float *dsigma, int *slot)
{
    unsigned grid = nn_cuda_grid(count, 1024);
    double *partials;
    NIC_TRY(nn_cuda_slot_new(ctx, dev, (int)grid, &partials, slot));
    gaussian_rate_kernel<<<grid, NN_CUDA_THREADS, 0, dev->stream>>>(
        v, sigma, count, scale, dsigma ? dv : NULL, dsigma, partials);
    NN_CUDA_TRY(ctx, cudaGetLastError(), "Gaussian rate");
    return NIC_OK;
}

/* ---------------------------------------------------------------- factorized prior */

#define FP_MAX_PARAMS 64
struct fp_layout_dev {
    int matrix[NIC_FP_LAYERS], bias[NIC_FP_LAYERS], factor[NIC_FP_LAYERS - 1];
    int count;
};
struct fp_trace {
    double pre[NIC_FP_LAYERS][NIC_FP_WIDTH];
    double out[NIC_FP_LAYERS][NIC_FP_WIDTH];
};
__constant__ int fp_in_dev[NIC_FP_LAYERS] = {1, 3, 3, 3};
__constant__ int fp_out_dev[NIC_FP_LAYERS] = {3, 3, 3, 1};

__device__ inline double softplus_d(double x)
{
    return x > 30 ? x : log1p(exp(x));
}

__device__ inline double sigmoid_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* fp_forward (models/likelihood.c) */
__device__ double fp_forward_dev(const float *p, const fp_layout_dev &l, double u, fp_trace *t)
{
    double h[NIC_FP_WIDTH] = {u, 0, 0};
#pragma unroll
    for (int k = 0; k < NIC_FP_LAYERS; k++) {
        double nh[NIC_FP_WIDTH] = {0, 0, 0};
        for (int o = 0; o < fp_out_dev[k]; o++) {
            double acc = p[l.bias[k] + o];
            for (int i = 0; i < fp_in_dev[k]; i++)
                acc += softplus_d(p[l.matrix[k] + o * fp_in_dev[k] + i]) * h[i];
            nh[o] = acc;
            t->pre[k][o] = acc;
        }
        if (k < NIC_FP_LAYERS - 1)
            for (int o = 0; o < fp_out_dev[k]; o++)
                nh[o] += tanh((double)p[l.factor[k] + o]) * tanh(nh[o]);
        for (int o = 0; o < fp_out_dev[k]; o++) {
            h[o] = nh[o];
            t->out[k][o] = nh[o];
        }
    }
    return h[0];
}

/* fp_backward (models/likelihood.c), accumulating into the thread's acc[]. */
__device__ double fp_backward_dev(const float *p, const fp_layout_dev &l, double u,
                                  const fp_trace *t, double g, float *acc)
{
    double dh[NIC_FP_WIDTH] = {g, 0, 0};
#pragma unroll
    for (int k = NIC_FP_LAYERS - 1; k >= 0; k--) {
        double dpre[NIC_FP_WIDTH] = {0, 0, 0};
        for (int o = 0; o < fp_out_dev[k]; o++) {
            if (k < NIC_FP_LAYERS - 1) {
                double f = tanh((double)p[l.factor[k] + o]);
                double th = tanh(t->pre[k][o]);
                dpre[o] = dh[o] * (1.0 + f * (1.0 - th * th));
                acc[l.factor[k] + o] += (float)(dh[o] * th * (1.0 - f * f));
            } else {
                dpre[o] = dh[o];
            }
        }
        double din[NIC_FP_WIDTH] = {0, 0, 0};
        for (int o = 0; o < fp_out_dev[k]; o++) {
            acc[l.bias[k] + o] += (float)dpre[o];
            for (int i = 0; i < fp_in_dev[k]; i++) {
                double m = p[l.matrix[k] + o * fp_in_dev[k] + i];
                double hin = k == 0 ? u : t->out[k - 1][i];
                din[i] += softplus_d(m) * dpre[o];
                acc[l.matrix[k] + o * fp_in_dev[k] + i] += (float)(dpre[o] * hin * sigmoid_d(m));
            }
        }
        for (int i = 0; i < NIC_FP_WIDTH; i++)
            dh[i] = din[i];
    }
    return dh[0];
}

/* nic_fp_rate: one block per channel, each thread a strided part of its
 * elements; parameter gradients summed over the block. */
__global__ void fp_rate_kernel(const float *params, const float *z, int n, int channels,
                               size_t hw, float scale, float *dz, float *dparams,
                               fp_layout_dev l, double *partials)
{
    const int c = blockIdx.x;
    const float *p = params + (size_t)c * l.count;
    float acc[FP_MAX_PARAMS];
    for (int k = 0; k < FP_MAX_PARAMS; k++)
        acc[k] = 0;
    double total = 0;
    size_t count = (size_t)n * hw;
    for (size_t j = threadIdx.x; j < count; j += blockDim.x) {
        size_t b = j / hw, i = j % hw;
        size_t idx = (b * channels + c) * hw + i;
        double u = z[idx];
        fp_trace tu, tl;
        double lu = fp_forward_dev(p, l, u + 0.5, &tu);
        double ll = fp_forward_dev(p, l, u - 0.5, &tl);
        double sign = (lu + ll) > 0 ? -1.0 : 1.0;
        double su = sigmoid_d(sign * lu), sl = sigmoid_d(sign * ll);
        double prob = fabs(su - sl);
        double pc = prob < NIC_LIKELIHOOD_MIN ? NIC_LIKELIHOOD_MIN : prob;
        total += -log2(pc);
        if (!dz)
            continue;
        double dbits_dp = -scale / (pc * LN2);
        double dir = (su - sl) >= 0 ? 1.0 : -1.0;
        double g_lu = dbits_dp * dir * sign * su * (1.0 - su);
        double g_ll = -dbits_dp * dir * sign * sl * (1.0 - sl);
        double du = fp_backward_dev(p, l, u + 0.5, &tu, g_lu, acc) +
                    fp_backward_dev(p, l, u - 0.5, &tl, g_ll, acc);
        dz[idx] = (float)du;
    }
    double s = nn_cuda_block_sum(total);
    if (threadIdx.x == 0)
        partials[c] = s;
    if (!dparams)
        return;
    for (int k = 0; k < l.count; k++) {
        double sk = nn_cuda_block_sum(acc[k]);
        if (threadIdx.x == 0)
            dparams[(size_t)c * l.count + k] += (float)sk;
    }
}

extern "C" nic_status nn_cuda_fp_rate(nic_context *ctx, nn_cuda *dev, const float *params,
                                      const float *z, int n, int channels, size_t hw, float scale,
                                      float *dz, float *dparams, int *slot)
{
    nic_fp_layout hl;
    nic_fp_layout_get(&hl);
    if (hl.count > FP_MAX_PARAMS)
        return nic_fail(ctx, NIC_ERR_INTERNAL, "factorized prior: %zu parameters per channel",
                        hl.count);
    fp_layout_dev l;
    for (int k = 0; k < NIC_FP_LAYERS; k++) {
        l.matrix[k] = (int)hl.matrix[k];
        l.bias[k] = (int)hl.bias[k];
        if (k < NIC_FP_LAYERS - 1)
            l.factor[k] = (int)hl.factor[k];
    }
    l.count = (int)hl.count;
    double *partials;
    NIC_TRY(nn_cuda_slot_new(ctx, dev, channels, &partials, slot));
    fp_rate_kernel<<<channels, NN_CUDA_THREADS, 0, dev->stream>>>(
        params, z, n, channels, hw, scale, dz, dz ? dparams : NULL, l, partials);
    NN_CUDA_TRY(ctx, cudaGetLastError(), "factorized prior rate");
    return NIC_OK;
}

/* ---------------------------------------------------------------- hyper model */

/* nic_hyper_q_forward: one block per sample. */
__global__ void q_forward_kernel(const float *w1, const float *b1, const float *w2,
                                 const float *b2, const float *t_rate, int m, int hidden,
                                 float offset, float slope, float *hid, float *log_step)
{
    extern __shared__ float h[];
    const int b = blockIdx.x;
    const float t = t_rate[b];
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        h[j] = w1[j] * t + b1[j];
        hid[(size_t)b * hidden + j] = h[j];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < m; c += blockDim.x) {
        float acc = b2[c] + offset + slope * t;
        for (int j = 0; j < hidden; j++)
            acc += w2[(size_t)c * hidden + j] * (h[j] > 0 ? h[j] : 0.0f);
        log_step[(size_t)b * m + c] = acc;
    }
}

extern "C" void nn_cuda_hyper_q_forward(nn_cuda *dev, const float *w1, const float *b1,
                                        const float *w2, const float *b2, const float *t_rate,
                                        int batch, int m, int hidden, float offset, float slope,
                                        float *d_hidden, float *d_log_step)
{
    q_forward_kernel<<<batch, 128, hidden * sizeof(float), dev->stream>>>(
        w1, b1, w2, b2, t_rate, m, hidden, offset, slope, d_hidden, d_log_step);
}

/* q_backward of models/hyper.c summed over the batch: one block. */
__global__ void q_backward_kernel(const float *w2, const float *t_rate, const float *hid,
                                  const float *dlog, int batch, int m, int hidden, float *dw1,
                                  float *db1, float *dw2, float *db2)
{
    for (int idx = threadIdx.x; idx < m * hidden; idx += blockDim.x) {
        int c = idx / hidden, j = idx % hidden;
        float acc = 0;
        for (int b = 0; b < batch; b++) {
            float a = hid[(size_t)b * hidden + j];
            acc += dlog[(size_t)b * m + c] * (a > 0 ? a : 0.0f);
        }
        dw2[idx] += acc;
    }
    for (int c = threadIdx.x; c < m; c += blockDim.x) {
        float acc = 0;
        for (int b = 0; b < batch; b++)
            acc += dlog[(size_t)b * m + c];
        db2[c] += acc;
    }
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        float aw = 0, ab = 0;
        for (int b = 0; b < batch; b++) {
            if (hid[(size_t)b * hidden + j] <= 0)
                continue;
            float dh = 0;
            for (int c = 0; c < m; c++)
                dh += dlog[(size_t)b * m + c] * w2[(size_t)c * hidden + j];
            aw += dh * t_rate[b];
            ab += dh;
        }
        dw1[j] += aw;
        db1[j] += ab;
    }
}

extern "C" void nn_cuda_hyper_q_backward(nn_cuda *dev, const float *w2, const float *t_rate,
                                         const float *d_hidden, const float *dlog_step, int batch,
                                         int m, int hidden, float *dw1, float *db1, float *dw2,
                                         float *db2)
{
    q_backward_kernel<<<1, NN_CUDA_THREADS, 0, dev->stream>>>(w2, t_rate, d_hidden, dlog_step,
                                                              batch, m, hidden, dw1, db1, dw2, db2);
}

/* The quantization loop of nic_hyper_train_step. */
__global__ void quantize_kernel(const float *y, const float *mu, const float *log_scale,
                                const float *log_step, int m, size_t hw, size_t n, int first,
                                uint64_t seed, int train, float ls_min, float ls_max, float *y_q,
                                float *sigma_q, float *yhat_q, float *yhat, float *v)
{
    FOR_EACH(k, n)
    {
        size_t bc = k / hw, i = k % hw;
        size_t b = bc / m, c = bc % m;
        float step = expf(log_step[bc]);
        float yq = y[k] / step;
        float mq = mu[k] / step;
        float ls = log_scale[k];
        ls = ls < ls_min ? ls_min : (ls > ls_max ? ls_max : ls);
        y_q[k] = yq;
        sigma_q[k] = expf(ls) / step;
        float r = rintf(yq - mq);
        float u = 0.0f;
        if (train) {
            uint64_t index = ((uint64_t)(first + b) << 41) | ((uint64_t)1 << 40) | (c * hw + i);
            u = nn_cuda_noise(seed, index);
        }
        float q = train == 2 ? yq - mq + u : r;
        yhat_q[k] = q + mq;
        yhat[k] = (q + mq) * step;
        v[k] = train ? yq - mq + u : r;
    }
}

extern "C" void nn_cuda_hyper_quantize(nn_cuda *dev, const float *y, const float *mu,
                                       const float *log_scale, const float *log_step, int batch,
                                       int m, size_t hw, int first, uint64_t seed, int train,
                                       float ls_min, float ls_max, float *y_q, float *sigma_q,
                                       float *yhat_q, float *yhat, float *v)
{
    size_t n = (size_t)batch * m * hw;
    quantize_kernel<<<LAUNCH(n)>>>(y, mu, log_scale, log_step, m, hw, n, first, seed, train,
                                   ls_min, ls_max, y_q, sigma_q, yhat_q, yhat, v);
}

/* The quantization's backward loop: one block per (sample, channel). */
__global__ void quantize_bwd_kernel(const float *mu, const float *log_scale,
                                    const float *log_step, const float *y_q, const float *sigma_q,
                                    const float *yhat_q, const float *dyhat, const float *dv,
                                    const float *dsigma, size_t hw, float ls_min, float ls_max,
                                    float *dy, float *dmu, float *dls, float *dlog_step)
{
    const size_t bc = blockIdx.x;
    const float step = expf(log_step[bc]);
    double dstep = 0;
    for (size_t i = threadIdx.x; i < hw; i += blockDim.x) {
        size_t k = bc * hw + i;
        float dyh = dyhat[k];
        float dyq = dyh * step + dv[k];
        float dmq = -dv[k];
        float sq = sigma_q[k];
        float mq = mu[k] / step;
        dstep += (double)dyh * yhat_q[k] - (double)dyq * y_q[k] / step -
                 (double)dmq * mq / step - (double)dsigma[k] * sq / step;
        dy[k] = dyq / step;
        dmu[k] = dmq / step;
        float ls = log_scale[k];
        dls[k] = (ls < ls_min || ls > ls_max) ? 0.0f : dsigma[k] * sq;
    }
    double s = nn_cuda_block_sum(dstep);
    if (threadIdx.x == 0)
        dlog_step[bc] = (float)(s * step);
}

extern "C" void nn_cuda_hyper_quantize_backward(nn_cuda *dev, const float *mu,
                                                const float *log_scale, const float *log_step,
                                                const float *y_q, const float *sigma_q,
                                                const float *yhat_q, const float *dyhat,
                                                const float *dv, const float *dsigma, int batch,
                                                int m, size_t hw, float ls_min, float ls_max,
                                                float *dy, float *dmu, float *dls,
                                                float *dlog_step)
{
    quantize_bwd_kernel<<<(unsigned)(batch * m), NN_CUDA_THREADS, 0, dev->stream>>>(
        mu, log_scale, log_step, y_q, sigma_q, yhat_q, dyhat, dv, dsigma, hw, ls_min, ls_max, dy,
        dmu, dls, dlog_step);
}

/* Distortion of nic_hyper_train_step: grid (blocks per sample, batch). */
__global__ void sse_kernel(const float *xhat, const float *x, size_t per, const float *g,
                           float *dxhat, double *partials)
{
    const size_t b = blockIdx.y;
    const float *xa = x + b * per, *xb = xhat + b * per;
    double sse = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < per;
         i += (size_t)gridDim.x * blockDim.x) {
        double d = (double)xb[i] - xa[i];
        sse += d * d;
        if (dxhat)
            dxhat[b * per + i] = g[b] * (xb[i] - xa[i]);
    }
    double s = nn_cuda_block_sum(sse);
    if (threadIdx.x == 0)
        partials[b * gridDim.x + blockIdx.x] = s;
}

extern "C" nic_status nn_cuda_sse(nic_context *ctx, nn_cuda *dev, const float *xhat,
                                  const float *x, int batch, size_t per, const float *g,
                                  float *dxhat, int *first_slot)
{
    unsigned blocks = nn_cuda_grid(per, 256);
    double *base = NULL, *partials;
    for (int b = 0; b < batch; b++) {
        int slot;
        NIC_TRY(nn_cuda_slot_new(ctx, dev, (int)blocks, &partials, &slot));
        if (b == 0) {
            base = partials;
            *first_slot = slot;
        }
    }
    dim3 grid(blocks, (unsigned)batch);
    sse_kernel<<<grid, NN_CUDA_THREADS, 0, dev->stream>>>(xhat, x, per, g, dxhat, base);
    NN_CUDA_TRY(ctx, cudaGetLastError(), "distortion");
    return NIC_OK;
}
