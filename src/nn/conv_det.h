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

/* x [c_in][h][w] -> y [c_out][h*s][w*s] (one image); weights in PyTorch's
 * ConvTranspose2d layout [c_in][c_out][k][k]; padding pad with output
 * padding s - 1; k must be odd and pad = k / 2, so the output is exactly s
 * times larger. b may be NULL. */
nic_status nn_conv_transpose_det_forward(nic_context *ctx, int c_in, int h, int w, int c_out,
                                         int k, int s, int pad, const float *x, const float *wt,
                                         const float *b, float *y);

#endif
