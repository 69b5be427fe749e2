/*
 * Deterministic transposed convolution for decoders: the same bits for any
 * thread count, vector width or build, because every output is summed in
 * one fixed order (bias, then input channels ascending, then taps ky, kx
 * ascending) with separate multiply and add, and threads and vector lanes
 * only ever split the outputs. About 3-5x faster than the reference
 * (scatter) kernel: the stride-s transposed convolution is computed as s*s
 * phase planes, each a small dense convolution with unit-stride inner loops.
 */
#ifndef NIC_NN_CONV_DET_H
#define NIC_NN_CONV_DET_H

#include "common/context.h"
#include "nn/layers.h"

/* x [c_in][h][w] -> y [c_out][h*s][w*s] (one image); weights in PyTorch's
 * ConvTranspose2d layout [c_in][c_out][k][k]; padding pad with output
 * padding s - 1; k must be odd and pad = k / 2, so the output is exactly s
 * times larger. b may be NULL. */
nic_status nn_conv_transpose_det_forward(nic_context *ctx, int c_in, int h, int w, int c_out,
                                         int k, int s, int pad, const float *x, const float *wt,
                                         const float *b, float *y);

/* Convolution forward, stride 1, no groups (d must say so): the same sum as
 * the reference kernel nn_conv2d_ref_forward (bias, then input channels
 * ascending, then taps ky, kx ascending, separate multiply and add), about
 * 4-8x faster: 4 output channels x 8 columns are summed in registers over a
 * zero-padded copy of the input. Padding taps add +-0, so an output can
 * differ from the reference only in the sign of a zero. Deterministic for
 * any thread count (threads split the outputs). */
nic_status nn_conv_det_forward(nic_context *ctx, const nn_conv_desc *d, const float *x,
                               const float *w, const float *b, float *y);
/* 1 when nn_conv_det_forward handles d (stride 1, groups 1). */
int nn_conv_det_supports(const nn_conv_desc *d);

#endif
