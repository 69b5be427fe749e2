/*
 * A deterministic convolution for decoders (the rnn decoder runs on it): the
 * same bits for any thread count and in builds with or without oneDNN,
 * because every output is summed in one fixed order with separate multiply
 * and add, and threads only ever split the outputs.
 */
#ifndef NIC_NN_CONV_DET_H
#define NIC_NN_CONV_DET_H

#include "common/context.h"
#include "nn/layers.h"

/* Convolution forward, stride 1, no groups (d must say so): the same sum as
 * the reference kernel nn_conv2d_ref_forward (bias, then input channels
 * ascending, then taps ky, kx ascending, separate multiply and add), about
 * 3-8x faster: 8 output channels x 4 columns are summed in registers over a
 * zero-padded copy of the input. Padding taps add +-0, so an output can
 * differ from the reference only in the sign of a zero. Deterministic for
 * any thread count (threads split the outputs). */
nic_status nn_conv_det_forward(nic_context *ctx, const nn_conv_desc *d, const float *x,
                               const float *w, const float *b, float *y);
/* 1 when nn_conv_det_forward handles d (stride 1, groups 1). */
int nn_conv_det_supports(const nn_conv_desc *d);

#endif
