/* The CUDA device: stream, cuDNN handle, workspace, memory, parameter arena,
 * sums, and the optimizer (Adam, gradient norm and clipping). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

extern "C" int nn_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no driver" error */
        return 0;
    }
    return n;
}

extern "C" const char *nn_cuda_unavailable_reason(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    cudaGetLastError();
    if (e != cudaSuccess)
        return cudaGetErrorString(e);
    return n == 0 ? "no CUDA device" : "a CUDA device is present";
}

extern "C" nic_status nn_cuda_create(nic_context *ctx, int device, nn_cuda **out)
{
    *out = NULL;
    int count = nn_cuda_device_count();
    if (device < 0 || device >= count)
        return nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "CUDA device %d: %s (%d devices)", device,
                        nn_cuda_unavailable_reason(), count);
    nn_cuda *dev = (nn_cuda *)calloc(1, sizeof(*dev));
    if (!dev)
        return nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    dev->device = device;
    dev->tf32 = 1;
    nic_status st = NIC_OK;
    cudaDeviceProp prop;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&prop, device);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&dev->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&dev->sums, NN_CUDA_SUMS_CAPACITY * sizeof(double));
    if (e == cudaSuccess)
        e = cudaMallocHost((void **)&dev->host_sums, NN_CUDA_SUMS_CAPACITY * sizeof(double));
    if (e != cudaSuccess) {
        st = nic_fail(ctx, NIC_ERR_INTERNAL, "CUDA device %d: %s", device, cudaGetErrorString(e));
    } else {
        cudnnStatus_t ce = cudnnCreate(&dev->cudnn);
        if (ce == CUDNN_STATUS_SUCCESS)
            ce = cudnnSetStream(dev->cudnn, dev->stream);
        if (ce != CUDNN_STATUS_SUCCESS)
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "cuDNN: %s (is libcudnn %d.x installed?)",
                          cudnnGetErrorString(ce), CUDNN_MAJOR);
    }
    if (st != NIC_OK) {
        nn_cuda_destroy(dev);
        return st;
    }
    snprintf(dev->name, sizeof(dev->name), "%.160s (sm_%d%d, %d SMs, %.0f GiB; cuDNN %zu)",
             prop.name, prop.major, prop.minor, prop.multiProcessorCount,
             prop.totalGlobalMem / 1073741824.0, cudnnGetVersion());
    *out = dev;
    return NIC_OK;
}

extern "C" void nn_cuda_destroy(nn_cuda *dev)
{
    if (!dev)
        return;
    if (dev->stream)
        cudaStreamSynchronize(dev->stream);
    if (dev->cudnn)
        cudnnDestroy(dev->cudnn);
    cudaFree(dev->workspace);
    cudaFree(dev->sums);
    cudaFreeHost(dev->host_sums);
    if (dev->stream)
        cudaStreamDestroy(dev->stream);
    free(dev);
}

extern "C" const char *nn_cuda_name(const nn_cuda *dev)
{
    return dev->name;
}

extern "C" void nn_cuda_set_tf32(nn_cuda *dev, int on)
{
    dev->tf32 = on != 0;
}

extern "C" nic_status nn_cuda_sync(nic_context *ctx, nn_cuda *dev)
{
    NN_CUDA_TRY(ctx, cudaStreamSynchronize(dev->stream), "stream");
    NN_CUDA_TRY(ctx, cudaGetLastError(), "kernel");
    return NIC_OK;
}

nic_status nn_cuda_workspace_reserve(nic_context *ctx, nn_cuda *dev, size_t bytes)
{
    if (bytes <= dev->workspace_size)
        return NIC_OK;
    NN_CUDA_TRY(ctx, cudaStreamSynchronize(dev->stream), "workspace");
    cudaFree(dev->workspace);
    dev->workspace = NULL;
    dev->workspace_size = 0;
    NN_CUDA_TRY(ctx, cudaMalloc(&dev->workspace, bytes), "workspace allocation");
    dev->workspace_size = bytes;
    return NIC_OK;
}

/* ---------------------------------------------------------------- memory */

extern "C" nic_status nn_cuda_malloc(nic_context *ctx, nn_cuda *dev, size_t bytes, void **out)
{
    *out = NULL;
    cudaError_t e = cudaMalloc(out, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *out = NULL;
        return nic_fail(ctx, NIC_ERR_NOMEM, "CUDA: cannot allocate %zu bytes on the GPU: %s",
                        bytes, cudaGetErrorString(e));
    }
    return NIC_OK;
}

extern "C" void nn_cuda_free(void *d_ptr)
{
    if (d_ptr)
        cudaFree(d_ptr);
}

extern "C" nic_status nn_cuda_upload(nic_context *ctx, nn_cuda *dev, void *d_dst, const void *src,
                                     size_t bytes)
{
    NN_CUDA_TRY(ctx, cudaMemcpyAsync(d_dst, src, bytes, cudaMemcpyHostToDevice, dev->stream),
                "upload");
    /* src may be reused by the caller at once: wait (pageable memory waits anyway). */
    NN_CUDA_TRY(ctx, cudaStreamSynchronize(dev->stream), "upload");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_download(nic_context *ctx, nn_cuda *dev, void *dst,
                                       const void *d_src, size_t bytes)
{
    NN_CUDA_TRY(ctx, cudaMemcpyAsync(dst, d_src, bytes, cudaMemcpyDeviceToHost, dev->stream),
                "download");
    NN_CUDA_TRY(ctx, cudaStreamSynchronize(dev->stream), "download");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_zero(nic_context *ctx, nn_cuda *dev, void *d_ptr, size_t bytes)
{
    NN_CUDA_TRY(ctx, cudaMemsetAsync(d_ptr, 0, bytes, dev->stream), "memset");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_alloc_floats(nic_context *ctx, nn_cuda *dev, size_t count,
                                           float **out)
{
    void *p = NULL;
    NIC_TRY(nn_cuda_malloc(ctx, dev, count * sizeof(float), &p));
    *out = (float *)p;
    nic_status st = nn_cuda_zero(ctx, dev, p, count * sizeof(float));
    if (st != NIC_OK) {
        nn_cuda_free(p);
        *out = NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- parameters */

extern "C" nic_status nn_cuda_params_create(nic_context *ctx, nn_cuda *dev, const nn_params *host,
                                            nn_cuda_params *out)
{
    memset(out, 0, sizeof(*out));
    out->host = host;
    float **bufs[4] = {&out->data, &out->grad, &out->m, &out->v};
    for (int i = 0; i < 4; i++) {
        nic_status st = nn_cuda_alloc_floats(ctx, dev, host->total, bufs[i]);
        if (st != NIC_OK) {
            nn_cuda_params_free(out);
            return st;
        }
    }
    return NIC_OK;
}

extern "C" void nn_cuda_params_free(nn_cuda_params *p)
{
    nn_cuda_free(p->data);
    nn_cuda_free(p->grad);
    nn_cuda_free(p->m);
    nn_cuda_free(p->v);
    p->data = p->grad = p->m = p->v = NULL;
}

extern "C" nic_status nn_cuda_params_upload(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p)
{
    size_t bytes = p->host->total * sizeof(float);
    NIC_TRY(nn_cuda_upload(ctx, dev, p->data, p->host->data, bytes));
    NIC_TRY(nn_cuda_upload(ctx, dev, p->m, p->host->m, bytes));
    return nn_cuda_upload(ctx, dev, p->v, p->host->v, bytes);
}

extern "C" nic_status nn_cuda_params_download(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p,
                                              nn_params *host)
{
    size_t bytes = host->total * sizeof(float);
    NIC_TRY(nn_cuda_download(ctx, dev, host->data, p->data, bytes));
    NIC_TRY(nn_cuda_download(ctx, dev, host->m, p->m, bytes));
    return nn_cuda_download(ctx, dev, host->v, p->v, bytes);
}

extern "C" nic_status nn_cuda_grads_upload(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p,
                                           const nn_params *host)
{
    return nn_cuda_upload(ctx, dev, p->grad, host->grad, host->total * sizeof(float));
}

extern "C" nic_status nn_cuda_grads_download(nic_context *ctx, nn_cuda *dev,
                                             const nn_cuda_params *p, nn_params *host)
{
    return nn_cuda_download(ctx, dev, host->grad, p->grad, host->total * sizeof(float));
}

extern "C" nic_status nn_cuda_zero_grad(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p)
{
    return nn_cuda_zero(ctx, dev, p->grad, p->host->total * sizeof(float));
}

/* ---------------------------------------------------------------- sums */

extern "C" void nn_cuda_sums_reset(nn_cuda *dev)
{
    dev->sums_used = 0;
    dev->slots = 0;
    dev->slot_begin[0] = 0;
}

nic_status nn_cuda_slot_new(nic_context *ctx, nn_cuda *dev, int blocks, double **partials,
                            int *slot)
{
    if (dev->slots >= NN_CUDA_MAX_SLOTS || dev->sums_used + blocks > NN_CUDA_SUMS_CAPACITY)
        return nic_fail(ctx, NIC_ERR_INTERNAL,
                        "CUDA: out of sum slots (%d slots, %d partials; reset once per step)",
                        dev->slots, dev->sums_used);
    *partials = dev->sums + dev->sums_used;
    *slot = dev->slots;
    dev->sums_used += blocks;
    dev->slots++;
    dev->slot_begin[dev->slots] = dev->sums_used;
    return NIC_OK;
}

extern "C" nic_status nn_cuda_sums_read(nic_context *ctx, nn_cuda *dev, double *out, int slots)
{
    if (slots > dev->slots)
        return nic_fail(ctx, NIC_ERR_INTERNAL, "CUDA: %d sums asked, %d made", slots, dev->slots);
    if (dev->sums_used > 0)
        NIC_TRY(nn_cuda_download(ctx, dev, dev->host_sums, dev->sums,
                                 (size_t)dev->sums_used * sizeof(double)));
    for (int s = 0; s < slots; s++) {
        double acc = 0;
        for (int i = dev->slot_begin[s]; i < dev->slot_begin[s + 1]; i++)
            acc += dev->host_sums[i];
        out[s] = acc;
    }
    return NIC_OK;
}

/* ---------------------------------------------------------------- optimizer */

__global__ void sumsq_kernel(const float *g, size_t n, double *partials)
{
    double acc = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)g[i] * g[i];
    double s = nn_cuda_block_sum(acc);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = s;
}

__global__ void scale_kernel(float *g, size_t n, float c)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        g[i] *= c;
}

extern "C" nic_status nn_cuda_grad_norm(nic_context *ctx, nn_cuda *dev, const nn_cuda_params *p,
                                        double *norm)
{
    /* Padding between tensors holds zero gradients: one pass over the arena. */
    size_t n = p->host->total;
    unsigned grid = nn_cuda_grid(n, 1024);
    nn_cuda_sums_reset(dev);
    double *partials;
    int slot;
    NIC_TRY(nn_cuda_slot_new(ctx, dev, (int)grid, &partials, &slot));
    sumsq_kernel<<<grid, NN_CUDA_THREADS, 0, dev->stream>>>(p->grad, n, partials);
    double s = 0;
    NIC_TRY(nn_cuda_sums_read(ctx, dev, &s, 1));
    *norm = sqrt(s);
    return NIC_OK;
}

extern "C" nic_status nn_cuda_grad_clip(nic_context *ctx, nn_cuda *dev, nn_cuda_params *p,
                                        double max_norm, double *norm)
{
    NIC_TRY(nn_cuda_grad_norm(ctx, dev, p, norm));
    if (max_norm <= 0)
        return NIC_OK;
    double coef = max_norm / (*norm + 1e-6);
    if (coef < 1.0) {
        size_t n = p->host->total;
        scale_kernel<<<nn_cuda_grid(n, 4096), NN_CUDA_THREADS, 0, dev->stream>>>(p->grad, n,
                                                                                 (float)coef);
        NN_CUDA_TRY(ctx, cudaGetLastError(), "gradient clipping");
    }
    return NIC_OK;
}

__global__ void adam_kernel(float *w, const float *gr, float *m, float *v, size_t n, float b1,
                            float b2, float eps, float step_size, float bc2_sqrt, float wd,
                            int decoupled, float decay)
{
    for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n;
         j += (size_t)gridDim.x * blockDim.x) {
        float wj = w[j];
        if (decoupled)
            wj *= decay;
        float gj = gr[j];
        if (!decoupled)
            gj += wd * wj;
        float mj = b1 * m[j] + (1.0f - b1) * gj;
        float vj = b2 * v[j] + (1.0f - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        w[j] = wj - step_size * mj / (sqrtf(vj) / bc2_sqrt + eps);
    }
}

extern "C" nic_status nn_cuda_adam_step(nic_context *ctx, nn_cuda *dev, nn_adam *opt,
                                        nn_cuda_params *p, float lr)
{
    /* The host half of nn_adam_step, unchanged; the loop body runs on the device. */
    opt->step++;
    const double t = (double)opt->step;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const float bc1 = (float)(1.0 - pow((double)b1, t));
    const float bc2_sqrt = (float)sqrt(1.0 - pow((double)b2, t));
    const nn_params *h = p->host;
    for (int i = 0; i < h->count; i++) {
        const nn_param *it = &h->items[i];
        const nn_param_group *g = &opt->groups[it->group < NN_MAX_GROUPS ? it->group : 0];
        if (g->frozen)
            continue;
        const float glr = lr * g->lr_scale, wd = g->weight_decay;
        const int decoupled = opt->decoupled && wd != 0.0f;
        size_t o = it->offset, n = it->count;
        adam_kernel<<<nn_cuda_grid(n, 1024), NN_CUDA_THREADS, 0, dev->stream>>>(
            p->data + o, p->grad + o, p->m + o, p->v + o, n, b1, b2, eps, glr / bc1, bc2_sqrt,
            opt->decoupled ? 0.0f : wd, decoupled, 1.0f - glr * wd);
    }
    NN_CUDA_TRY(ctx, cudaGetLastError(), "Adam");
    return NIC_OK;
}
