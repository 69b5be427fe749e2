/* Convolution plans through cuDNN: descriptors and algorithms chosen once per
 * shape (cudnnFind*, which times the candidates on the GPU), the workspace
 * reserved in the device when the plan is made. */
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_internal.h"

/* Largest workspace an algorithm may ask for: beyond this a slower one is fine. */
#define NN_CUDA_WORKSPACE_LIMIT ((size_t)1 << 30)

struct nn_cuda_conv {
    nn_cuda *dev;
    nn_conv_desc d;
    cudnnTensorDescriptor_t x_desc, y_desc;
    cudnnTensorDescriptor_t bias_out, bias_in; /* [1][c_out][1][1], [1][c_in][1][1] */
    cudnnFilterDescriptor_t w_desc;
    cudnnConvolutionDescriptor_t conv_fwd, conv_bwd_data, conv_bwd_filter;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
};

static nic_status make_conv_desc(nic_context *ctx, const nn_cuda *dev, const nn_conv_desc *d,
                                 cudnnConvolutionDescriptor_t *out)
{
    NN_CUDNN_TRY(ctx, cudnnCreateConvolutionDescriptor(out), "convolution descriptor");
    /* CROSS_CORRELATION is PyTorch's (and the reference kernels') convolution. */
    NN_CUDNN_TRY(ctx,
                 cudnnSetConvolution2dDescriptor(*out, d->pad_h, d->pad_w, d->stride_h,
                                                 d->stride_w, 1, 1, CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT),
                 "convolution descriptor");
    NN_CUDNN_TRY(ctx, cudnnSetConvolutionGroupCount(*out, d->groups), "group count");
    NN_CUDNN_TRY(ctx,
                 cudnnSetConvolutionMathType(*out, dev->tf32 ? CUDNN_TENSOR_OP_MATH
                                                             : CUDNN_FMA_MATH),
                 "math type");
    return NIC_OK;
}

/* The fastest successful result that fits the workspace limit and, without
 * TF32, runs on FMA units (CUDNN_DEFAULT_MATH may use TF32 on Ampere and later). */
template <typename Perf>
static int pick(const Perf *perf, int count, const nn_cuda *dev)
{
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= NN_CUDA_WORKSPACE_LIMIT &&
            (dev->tf32 || perf[i].mathType == CUDNN_FMA_MATH))
            return i;
    /* none labelled FMA: take the fastest anyway; math_of() still forces FMA */
    for (int i = 0; i < count; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= NN_CUDA_WORKSPACE_LIMIT)
            return i;
    return -1;
}

/* Math type of the chosen result: its own with TF32, FMA only without. */
template <typename Perf>
static cudnnMathType_t math_of(const Perf &perf, const nn_cuda *dev)
{
    return dev->tf32 ? perf.mathType : CUDNN_FMA_MATH;
}

extern "C" void nn_cuda_conv_destroy(nn_cuda_conv *c)
{
    if (!c)
        return;
    if (c->x_desc)
        cudnnDestroyTensorDescriptor(c->x_desc);
    if (c->y_desc)
        cudnnDestroyTensorDescriptor(c->y_desc);
    if (c->bias_out)
        cudnnDestroyTensorDescriptor(c->bias_out);
    if (c->bias_in)
        cudnnDestroyTensorDescriptor(c->bias_in);
    if (c->w_desc)
        cudnnDestroyFilterDescriptor(c->w_desc);
    if (c->conv_fwd)
        cudnnDestroyConvolutionDescriptor(c->conv_fwd);
    if (c->conv_bwd_data)
        cudnnDestroyConvolutionDescriptor(c->conv_bwd_data);
    if (c->conv_bwd_filter)
        cudnnDestroyConvolutionDescriptor(c->conv_bwd_filter);
    free(c);
}

static nic_status conv_setup(nic_context *ctx, nn_cuda *dev, nn_cuda_conv *c)
{
    const nn_conv_desc *d = &c->d;
    cudnnHandle_t h = dev->cudnn;
    NN_CUDNN_TRY(ctx, cudnnCreateTensorDescriptor(&c->x_desc), "tensor descriptor");
    NN_CUDNN_TRY(ctx, cudnnCreateTensorDescriptor(&c->y_desc), "tensor descriptor");
    NN_CUDNN_TRY(ctx, cudnnCreateTensorDescriptor(&c->bias_out), "tensor descriptor");
    NN_CUDNN_TRY(ctx, cudnnCreateTensorDescriptor(&c->bias_in), "tensor descriptor");
    NN_CUDNN_TRY(ctx, cudnnCreateFilterDescriptor(&c->w_desc), "filter descriptor");
    NN_CUDNN_TRY(ctx,
                 cudnnSetTensor4dDescriptor(c->x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n,
                                            d->c_in, d->h_in, d->w_in),
                 "input shape");
    NN_CUDNN_TRY(ctx,
                 cudnnSetTensor4dDescriptor(c->y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, d->n,
                                            d->c_out, d->h_out, d->w_out),
                 "output shape");
    NN_CUDNN_TRY(ctx,
                 cudnnSetTensor4dDescriptor(c->bias_out, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                            d->c_out, 1, 1),
                 "bias shape");
    NN_CUDNN_TRY(ctx,
                 cudnnSetTensor4dDescriptor(c->bias_in, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1,
                                            d->c_in, 1, 1),
                 "bias shape");
    NN_CUDNN_TRY(ctx,
                 cudnnSetFilter4dDescriptor(c->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                            d->c_out, d->c_in / d->groups, d->k_h, d->k_w),
                 "filter shape");
    NIC_TRY(make_conv_desc(ctx, dev, d, &c->conv_fwd));
    NIC_TRY(make_conv_desc(ctx, dev, d, &c->conv_bwd_data));
    NIC_TRY(make_conv_desc(ctx, dev, d, &c->conv_bwd_filter));
    int n, ch, hh, ww;
    NN_CUDNN_TRY(ctx,
                 cudnnGetConvolution2dForwardOutputDim(c->conv_fwd, c->x_desc, c->w_desc, &n, &ch,
                                                       &hh, &ww),
                 "output size");
    if (n != d->n || ch != d->c_out || hh != d->h_out || ww != d->w_out)
        return nic_fail(ctx, NIC_ERR_INTERNAL,
                        "cuDNN: convolution output %dx%dx%dx%d, the plan wants %dx%dx%dx%d", n, ch,
                        hh, ww, d->n, d->c_out, d->h_out, d->w_out);

    enum { MAX_ALGOS = 16 };
    int got = 0, i;
    size_t ws = 0, need = 0;

    cudnnConvolutionFwdAlgoPerf_t fp[MAX_ALGOS];
    NN_CUDNN_TRY(ctx,
                 cudnnFindConvolutionForwardAlgorithm(h, c->x_desc, c->w_desc, c->conv_fwd,
                                                      c->y_desc, MAX_ALGOS, &got, fp),
                 "forward algorithm search");
    if ((i = pick(fp, got, dev)) < 0)
        return nic_fail(ctx, NIC_ERR_INTERNAL, "cuDNN: no forward algorithm for this convolution");
    c->fwd = fp[i].algo;
    NN_CUDNN_TRY(ctx, cudnnSetConvolutionMathType(c->conv_fwd, math_of(fp[i], dev)), "math type");
    NN_CUDNN_TRY(ctx,
                 cudnnGetConvolutionForwardWorkspaceSize(h, c->x_desc, c->w_desc, c->conv_fwd,
                                                         c->y_desc, c->fwd, &need),
                 "workspace size");
    ws = need > ws ? need : ws;

    cudnnConvolutionBwdDataAlgoPerf_t dp[MAX_ALGOS];
    NN_CUDNN_TRY(ctx,
                 cudnnFindConvolutionBackwardDataAlgorithm(h, c->w_desc, c->y_desc,
                                                           c->conv_bwd_data, c->x_desc,
                                                           MAX_ALGOS, &got, dp),
                 "backward-data algorithm search");
    if ((i = pick(dp, got, dev)) < 0)
        return nic_fail(ctx, NIC_ERR_INTERNAL,
                        "cuDNN: no backward-data algorithm for this convolution");
    c->bwd_data = dp[i].algo;
    NN_CUDNN_TRY(ctx, cudnnSetConvolutionMathType(c->conv_bwd_data, math_of(dp[i], dev)), "math type");
    NN_CUDNN_TRY(ctx,
                 cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w_desc, c->y_desc,
                                                              c->conv_bwd_data, c->x_desc,
                                                              c->bwd_data, &need),
                 "workspace size");
    ws = need > ws ? need : ws;

    cudnnConvolutionBwdFilterAlgoPerf_t wp[MAX_ALGOS];
    NN_CUDNN_TRY(ctx,
                 cudnnFindConvolutionBackwardFilterAlgorithm(h, c->x_desc, c->y_desc,
                                                             c->conv_bwd_filter, c->w_desc,
                                                             MAX_ALGOS, &got, wp),
                 "backward-filter algorithm search");
    if ((i = pick(wp, got, dev)) < 0)
        return nic_fail(ctx, NIC_ERR_INTERNAL,
                        "cuDNN: no backward-filter algorithm for this convolution");
    c->bwd_filter = wp[i].algo;
    NN_CUDNN_TRY(ctx, cudnnSetConvolutionMathType(c->conv_bwd_filter, math_of(wp[i], dev)),
                 "math type");
    NN_CUDNN_TRY(ctx,
                 cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x_desc, c->y_desc,
                                                                c->conv_bwd_filter, c->w_desc,
                                                                c->bwd_filter, &need),
                 "workspace size");
    ws = need > ws ? need : ws;
    return nn_cuda_workspace_reserve(ctx, dev, ws);
}

extern "C" nic_status nn_cuda_conv_create(nic_context *ctx, nn_cuda *dev, const nn_conv_desc *d,
                                          nn_cuda_conv **out)
{
    *out = NULL;
    nn_cuda_conv *c = (nn_cuda_conv *)calloc(1, sizeof(*c));
    if (!c)
        return nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    c->dev = dev;
    c->d = *d;
    nic_status st = conv_setup(ctx, dev, c);
    if (st != NIC_OK) {
        nn_cuda_conv_destroy(c);
        return nic_fail_prefix(ctx, "convolution %dx%dx%dx%d -> %d, k%d s%d", d->n, d->c_in,
                               d->h_in, d->w_in, d->c_out, d->k_h, d->stride_h);
    }
    *out = c;
    return NIC_OK;
}

extern "C" void nn_cuda_conv_algos(const nn_cuda_conv *c, int algo[3])
{
    algo[0] = (int)c->fwd;
    algo[1] = (int)c->bwd_data;
    algo[2] = (int)c->bwd_filter;
}

static const float one = 1.0f, zero = 0.0f;

extern "C" nic_status nn_cuda_conv_forward(nic_context *ctx, nn_cuda_conv *c, const float *x,
                                           const float *w, const float *b, float *y)
{
    nn_cuda *dev = c->dev;
    NN_CUDNN_TRY(ctx,
                 cudnnConvolutionForward(dev->cudnn, &one, c->x_desc, x, c->w_desc, w, c->conv_fwd,
                                         c->fwd, dev->workspace, dev->workspace_size, &zero,
                                         c->y_desc, y),
                 "convolution forward");
    if (b)
        NN_CUDNN_TRY(ctx, cudnnAddTensor(dev->cudnn, &one, c->bias_out, b, &one, c->y_desc, y),
                     "bias");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_conv_backward_data(nic_context *ctx, nn_cuda_conv *c,
                                                 const float *dy, const float *w, float *dx)
{
    nn_cuda *dev = c->dev;
    NN_CUDNN_TRY(ctx,
                 cudnnConvolutionBackwardData(dev->cudnn, &one, c->w_desc, w, c->y_desc, dy,
                                              c->conv_bwd_data, c->bwd_data, dev->workspace,
                                              dev->workspace_size, &zero, c->x_desc, dx),
                 "convolution backward data");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_conv_backward_weights(nic_context *ctx, nn_cuda_conv *c,
                                                    const float *x, const float *dy, float *dw,
                                                    float *db)
{
    nn_cuda *dev = c->dev;
    /* beta = 1: gradients accumulate, as on the CPU. */
    NN_CUDNN_TRY(ctx,
                 cudnnConvolutionBackwardFilter(dev->cudnn, &one, c->x_desc, x, c->y_desc, dy,
                                                c->conv_bwd_filter, c->bwd_filter,
                                                dev->workspace, dev->workspace_size, &one,
                                                c->w_desc, dw),
                 "convolution backward filter");
    if (db)
        NN_CUDNN_TRY(ctx,
                     cudnnConvolutionBackwardBias(dev->cudnn, &one, c->y_desc, dy, &one,
                                                  c->bias_out, db),
                     "convolution backward bias");
    return NIC_OK;
}

/* Transposed convolutions: the adjoint convolution c, roles swapped (conv.h). */

extern "C" nic_status nn_cuda_conv_transpose_forward(nic_context *ctx, nn_cuda_conv *c,
                                                     const float *x, const float *w,
                                                     const float *b, float *y)
{
    NIC_TRY(nn_cuda_conv_backward_data(ctx, c, x, w, y));
    if (b)
        NN_CUDNN_TRY(ctx,
                     cudnnAddTensor(c->dev->cudnn, &one, c->bias_in, b, &one, c->x_desc, y),
                     "bias");
    return NIC_OK;
}

extern "C" nic_status nn_cuda_conv_transpose_backward_data(nic_context *ctx, nn_cuda_conv *c,
                                                           const float *dy, const float *w,
                                                           float *dx)
{
    return nn_cuda_conv_forward(ctx, c, dy, w, NULL, dx);
}

extern "C" nic_status nn_cuda_conv_transpose_backward_weights(nic_context *ctx, nn_cuda_conv *c,
                                                              const float *x, const float *dy,
                                                              float *dw, float *db)
{
    nn_cuda *dev = c->dev;
    NN_CUDNN_TRY(ctx,
                 cudnnConvolutionBackwardFilter(dev->cudnn, &one, c->x_desc, dy, c->y_desc, x,
                                                c->conv_bwd_filter, c->bwd_filter,
                                                dev->workspace, dev->workspace_size, &one,
                                                c->w_desc, dw),
                 "transposed convolution backward filter");
    if (db)
        NN_CUDNN_TRY(ctx,
                     cudnnConvolutionBackwardBias(dev->cudnn, &one, c->x_desc, dy, &one,
                                                  c->bias_in, db),
                     "transposed convolution backward bias");
    return NIC_OK;
}
