/*
 * Convolutional recurrent cells, ConvLSTM and ConvGRU, as in Toderici et al.
 * 2017 ("Full resolution image compression with recurrent neural networks"):
 * the gates are convolutions of the input x_t (any kernel, stride, padding)
 * plus convolutions of the previous hidden state h_{t-1} (kernel 1x1 or 3x3,
 * stride 1, 'same' padding), unrolled over T iterations and trained by
 * backpropagation through time.
 *
 *   ConvLSTM, gates [i f g o] = Wx * x_t + b + Wh * h_{t-1}:
 *     c_t = sig(f) c_{t-1} + sig(i) tanh(g),  h_t = sig(o) tanh(c_t)
 *   ConvGRU (Cho et al.; r gates h before its convolution, as Toderici's):
 *     [z r n]_x = Wx * x_t + b,  [z r]_h = Wh[0:2C] * h_{t-1}
 *     z = sig(z_x + z_h),  r = sig(r_x + r_h)
 *     n = tanh(n_x + Wh[2C:3C] * (r h_{t-1})),  h_t = (1 - z) h_{t-1} + z n
 *
 * Weights (PyTorch layouts, gates stacked along the output channels in the
 * order above): wx [G C][c_in][k_in][k_in], b [G C], wh [G C][C][k_h][k_h]
 * with G = 4 (LSTM) or 3 (GRU), C the hidden channels. The hidden
 * convolution has no bias of its own (it would only add to b).
 *
 * A cell (nn_convrnn) holds the convolution plans (oneDNN or reference,
 * conv.h). A sequence (nn_convrnn_seq) runs it: its per-step activations
 * come from an nn_arena (planned like every other activation), forward
 * steps t = 0, 1, ... keep what backward needs, and backward steps run in
 * reverse order, carrying dL/dh_t and dL/dc_t from step t+1 to step t.
 * Parameter gradients accumulate over the steps (shared weights).
 *
 * Everything exists in float (nn_convrnn_seq, oneDNN or reference plans)
 * and in double (nn_convrnn_seq_f64: the same code on the double reference
 * convolutions, for finite differences).
 */
#ifndef NIC_NN_CONVRNN_H
#define NIC_NN_CONVRNN_H

#include "common/context.h"
#include "nn/conv.h"
#include "nn/layers.h"
#include "nn/tensor.h"

/* Steps one sequence can hold (Toderici et al. unroll 16). */
#define NN_CONVRNN_MAX_STEPS 64

typedef enum nn_convrnn_kind { NN_CONVLSTM = 0, NN_CONVGRU = 1 } nn_convrnn_kind;

typedef struct nn_convrnn_desc {
    nn_convrnn_kind kind;
    int n, c_in, h_in, w_in; /* input x_t [n][c_in][h_in][w_in] */
    int hidden;              /* C: channels of h_t (and c_t) */
    int k_in, stride, pad_in;
    int k_hidden; /* odd (1 or 3 in the paper); padding k_hidden / 2 */
    int h, w;     /* state size: the input convolution's output size (derived) */
} nn_convrnn_desc;

nic_status nn_convrnn_desc_init(nic_context *ctx, nn_convrnn_desc *d, nn_convrnn_kind kind,
                                int n, int c_in, int h_in, int w_in, int hidden, int k_in,
                                int stride, int pad_in, int k_hidden);
/* 4 for LSTM, 3 for GRU. */
static inline int nn_convrnn_gates(const nn_convrnn_desc *d)
{
    return d->kind == NN_CONVLSTM ? 4 : 3;
}
static inline size_t nn_convrnn_wx_count(const nn_convrnn_desc *d)
{
    return (size_t)nn_convrnn_gates(d) * d->hidden * d->c_in * d->k_in * d->k_in;
}
static inline size_t nn_convrnn_wh_count(const nn_convrnn_desc *d)
{
    return (size_t)nn_convrnn_gates(d) * d->hidden * d->hidden * d->k_hidden * d->k_hidden;
}
/* Elements of h_t (and c_t): n C h w. */
static inline size_t nn_convrnn_state_count(const nn_convrnn_desc *d)
{
    return (size_t)d->n * d->hidden * d->h * d->w;
}
static inline size_t nn_convrnn_x_count(const nn_convrnn_desc *d)
{
    return (size_t)d->n * d->c_in * d->h_in * d->w_in;
}

typedef struct nn_convrnn {
    nn_convrnn_desc d;
    nn_conv *conv_x;  /* x_t -> G C gates */
    nn_conv *conv_h;  /* h_{t-1} -> 4C (LSTM) or 2C (GRU: z, r) */
    nn_conv *conv_hn; /* GRU only: r h_{t-1} -> C (candidate) */
} nn_convrnn;

/* Plans the cell's convolutions (eng NULL or NN_CONV_REFERENCE: reference kernels). */
nic_status nn_convrnn_create(nic_context *ctx, nn_engine *eng, const nn_convrnn_desc *d,
                             unsigned conv_flags, nn_convrnn **out);
void nn_convrnn_destroy(nn_convrnn *cell);

#define NN_REAL float
#define NN_FN(name) name
#include "nn/convrnn_proto.inc"
#undef NN_REAL
#undef NN_FN

#define NN_REAL double
#define NN_FN(name) name##_f64
#include "nn/convrnn_proto.inc"
#undef NN_REAL
#undef NN_FN

#endif
