/*
 * Exact integer convolution kernels for deterministic inference.
 *
 * Both the stride-2 5x5 convolution and the stride-2 5x5 transposed
 * convolution of the codec's transforms are, on the half-resolution grid, a
 * 3x3 stride-1 convolution in which each group of outputs reads only some
 * taps (phase decomposition; see src/models/int_transform.c). These kernels
 * compute such a "tap-list" convolution along one row of pixels:
 *
 *   acc[p][lane] = bias[lane] + sum over taps t, input channels c of
 *                  w[t][c][lane] * x[row + t.dy][p + t.dx][t.c0 + c]
 *
 * with the input in pixel-major (NHWC) layout. Integer sums do not depend on
 * their order, so the C, AVX2 and AVX-512 versions give the same bits for any
 * blocking, thread count or vector width (tests/unit/test_nn_iconv.c).
 *
 *  - 16-bit family: int16 x int16 products summed in int32 with wrap-around
 *    (modulo 2^32, which is exactly what vpdpwssd / vpmaddwd compute and what
 *    the C version computes in uint32). Callers choose weight scales so that
 *    the sum never actually wraps (|bias| + 32767 sum |w| < 2^31).
 *  - 32-bit family: int32 x int32 products summed exactly in int64 (the
 *    integer hyperprior heads, models/qconv.h).
 *
 * The caller provides every input position a tap reads (x[row + dy][p + dx]
 * for p in [0, npix), dy, dx in -1..1): windows with a zero border.
 */
#ifndef NIC_NN_ICONV_H
#define NIC_NN_ICONV_H

#include <stddef.h>
#include <stdint.h>

#include "nn/isa.h"

typedef struct nn_iconv_tap {
    int dy, dx;   /* input offset, -1..1 */
    int c0, n;    /* input channels from c0: n pairs (16-bit family) or n channels (32-bit) */
    size_t w_off; /* offset of this tap's weights in the group's weight array */
} nn_iconv_tap;

/* Outputs computed together: `blocks` blocks of 16 int32 lanes (1..3) that
 * read the same taps. Weights: for each tap, for each channel pair q,
 * blocks x 16 lanes x 2 int16 (channels c0 + 2q, c0 + 2q + 1). */
typedef struct nn_iconv16_group {
    int blocks;
    int lane0; /* where the group's lanes start in an accumulator row */
    int ntaps;
    const nn_iconv_tap *taps;
    const int16_t *w;
    const int32_t *bias; /* blocks x 16 */
} nn_iconv16_group;

/* x: channel 0 of the input pixel under output pixel 0; row_stride and
 * pixel_stride in int16 elements. acc: [npix] rows of acc_stride int32. */
void nn_iconv16_row(nn_isa isa, const int16_t *x, ptrdiff_t row_stride, int pixel_stride,
                    int npix, const nn_iconv16_group *g, int32_t *acc, int acc_stride);

/* The same with int32 inputs and int64 sums: `blocks` blocks of 8 lanes
 * (1..4); weights for each tap, for each input channel: blocks x 8 lanes,
 * stored as int64 holding int32 values. */
typedef struct nn_iconv32_group {
    int blocks;
    int lane0;
    int ntaps;
    const nn_iconv_tap *taps;
    const int64_t *w;
    const int64_t *bias; /* blocks x 8 */
} nn_iconv32_group;

void nn_iconv32_row(nn_isa isa, const int32_t *x, ptrdiff_t row_stride, int pixel_stride,
                    int npix, const nn_iconv32_group *g, int64_t *acc, int acc_stride);

#endif
