/* Private pieces shared by the CUDA backend's .cu files (CUDA C++ only). */
#ifndef NIC_CUDA_INTERNAL_H
#define NIC_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <cudnn.h>

#include "cuda/cuda_backend.h"

#define NN_CUDA_MAX_SLOTS 256
#define NN_CUDA_SUMS_CAPACITY (1 << 16) /* partial sums per step */
#define NN_CUDA_THREADS 256

struct nn_cuda {
    int device;
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    int tf32;
    void *workspace; /* shared by every convolution plan (one stream: one at a time) */
    size_t workspace_size;
    double *sums;      /* device: partial sums of the current step */
    double *host_sums; /* pinned copy */
    int sums_used;
    int slot_begin[NN_CUDA_MAX_SLOTS + 1];
    int slots;
    char name[256];
};

/* Records a CUDA / cuDNN error in ctx and returns from the caller. */
#define NN_CUDA_TRY(ctx, expr, what)                                                    \
    do {                                                                                \
        cudaError_t e_ = (expr);                                                        \
        if (e_ != cudaSuccess)                                                          \
            return nic_fail((ctx), NIC_ERR_INTERNAL, "CUDA: %s: %s", (what),            \
                            cudaGetErrorString(e_));                                    \
    } while (0)
#define NN_CUDNN_TRY(ctx, expr, what)                                                   \
    do {                                                                                \
        cudnnStatus_t e_ = (expr);                                                      \
        if (e_ != CUDNN_STATUS_SUCCESS)                                                 \
            return nic_fail((ctx), NIC_ERR_INTERNAL, "cuDNN: %s: %s", (what),           \
                            cudnnGetErrorString(e_));                                   \
    } while (0)

/* Grid for n elements with grid-stride loops. */
static inline unsigned nn_cuda_grid(size_t n, unsigned cap)
{
    size_t g = (n + NN_CUDA_THREADS - 1) / NN_CUDA_THREADS;
    if (g < 1)
        g = 1;
    return (unsigned)(g < cap ? g : cap);
}

/* A new sum slot of `blocks` partials: returns where the kernel writes them. */
nic_status nn_cuda_slot_new(nic_context *ctx, nn_cuda *dev, int blocks, double **partials,
                            int *slot);
/* Grows the shared workspace (at planning time only). */
nic_status nn_cuda_workspace_reserve(nic_context *ctx, nn_cuda *dev, size_t bytes);

/* Sum over the block of one double per thread (blockDim.x == NN_CUDA_THREADS);
 * the result is valid in thread 0. */
__device__ inline double nn_cuda_block_sum(double v)
{
    __shared__ double warp_sums[NN_CUDA_THREADS / 32];
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads(); /* warp_sums may still be read by a previous call */
    if (lane == 0)
        warp_sums[warp] = v;
    __syncthreads();
    double s = 0;
    if (threadIdx.x == 0)
        for (int w = 0; w < NN_CUDA_THREADS / 32; w++)
            s += warp_sums[w];
    return s;
}

/* nn_noise_uniform of nn/rng.h, on the device (same integer operations). */
__device__ inline float nn_cuda_noise(uint64_t seed, uint64_t index)
{
    uint64_t x = seed + (index + 1) * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x = x ^ (x >> 31);
    return (float)(x >> 40) * (1.0f / 16777216.0f) - 0.5f;
}

#endif
