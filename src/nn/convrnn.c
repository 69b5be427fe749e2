/* ConvLSTM / ConvGRU: cell plans, and the float sequence on conv.h plans. */
#include "nn/convrnn.h"

#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

nic_status nn_convrnn_desc_init(nic_context *ctx, nn_convrnn_desc *d, nn_convrnn_kind kind,
                                int n, int c_in, int h_in, int w_in, int hidden, int k_in,
                                int stride, int pad_in, int k_hidden)
{
    memset(d, 0, sizeof(*d));
    if (kind != NN_CONVLSTM && kind != NN_CONVGRU)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "convrnn: unknown cell kind %d", (int)kind);
    if (hidden < 1 || k_hidden < 1 || k_hidden % 2 == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "convrnn: %d hidden channels, hidden kernel %d (must be odd)", hidden,
                        k_hidden);
    nn_conv_desc cx;
    NIC_TRY(nn_conv_desc_init(ctx, &cx, n, c_in, h_in, w_in, hidden, k_in, stride, pad_in, 1));
    d->kind = kind;
    d->n = n;
    d->c_in = c_in;
    d->h_in = h_in;
    d->w_in = w_in;
    d->hidden = hidden;
    d->k_in = k_in;
    d->stride = stride;
    d->pad_in = pad_in;
    d->k_hidden = k_hidden;
    d->h = cx.h_out;
    d->w = cx.w_out;
    return NIC_OK;
}

nic_status nn_convrnn_create(nic_context *ctx, nn_engine *eng, const nn_convrnn_desc *d,
                             unsigned conv_flags, nn_convrnn **out)
{
    *out = NULL;
    nn_convrnn *cell = calloc(1, sizeof(*cell));
    if (!cell)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "convrnn: out of memory");
    cell->d = *d;
    const int C = d->hidden, kh = d->k_hidden;
    const int zr = d->kind == NN_CONVLSTM ? 4 * C : 2 * C;
    nn_conv_desc cx, ch, cn;
    nic_status st = nn_conv_desc_init(ctx, &cx, d->n, d->c_in, d->h_in, d->w_in,
                                      nn_convrnn_gates(d) * C, d->k_in, d->stride, d->pad_in, 1);
    if (st == NIC_OK)
        st = nn_conv_desc_init(ctx, &ch, d->n, C, d->h, d->w, zr, kh, 1, kh / 2, 1);
    if (st == NIC_OK)
        st = nn_conv_create(ctx, eng, &cx, conv_flags, &cell->conv_x);
    if (st == NIC_OK)
        st = nn_conv_create(ctx, eng, &ch, conv_flags, &cell->conv_h);
    if (st == NIC_OK && d->kind == NN_CONVGRU) {
        st = nn_conv_desc_init(ctx, &cn, d->n, C, d->h, d->w, C, kh, 1, kh / 2, 1);
        if (st == NIC_OK)
            st = nn_conv_create(ctx, eng, &cn, conv_flags, &cell->conv_hn);
    }
    if (st != NIC_OK) {
        nn_convrnn_destroy(cell);
        return st;
    }
    *out = cell;
    return NIC_OK;
}

void nn_convrnn_destroy(nn_convrnn *cell)
{
    if (!cell)
        return;
    nn_conv_destroy(cell->conv_x);
    nn_conv_destroy(cell->conv_h);
    nn_conv_destroy(cell->conv_hn);
    free(cell);
}

#define CONV_FORWARD(plan, x, w, b, y) NIC_TRY(nn_conv_forward(ctx, plan, x, w, b, y))
#define CONV_BACKWARD_DATA(plan, dy, w, dx) NIC_TRY(nn_conv_backward_data(ctx, plan, dy, w, dx))
#define CONV_BACKWARD_WEIGHTS(plan, x, dy, dw, db) \
    NIC_TRY(nn_conv_backward_weights(ctx, plan, x, dy, dw, db))
#define NN_REAL float
#define NN_FN(name) name
#include "nn/convrnn_impl.inc"
