/*
 * The hyper model's analysis and synthesis transforms in exact integer
 * arithmetic, for a decoder that gives the same pixels on every machine,
 * thread count, instruction set and build, and runs fast.
 *
 *   activations  int16 fixed point: y^ in Q10 (|y^| < 32), the outputs of
 *                GDN / inverse GDN in Q11 (< 16), the image as pixel * 128
 *   convolutions int16 weights (a power-of-two scale per output channel),
 *                int32 sums (nn/iconv.h), phase-decomposed (nn/phase.h)
 *   GDN          single-precision, one fixed order per output (nn/gdn_det.h)
 *
 * Weight scales are chosen when the model is loaded, as large as the bound
 * |bias| + 32767 sum |w| < 2^31 allows, so no sum can overflow whatever the
 * input. Quantizing costs < 0.01 dB against the float transforms
 * (docs/CODEC.md).
 *
 * Pictures are processed in strips of rows through row windows, one per
 * layer; every row of every layer is computed once, in one fixed way, so the
 * output does not depend on the strip height (memory budget) or on the number
 * of threads, and large pictures need little memory.
 */
#ifndef NIC_MODELS_INT_TRANSFORM_H
#define NIC_MODELS_INT_TRANSFORM_H

#include <stddef.h>

#include "models/hyper.h"
#include "nn/iconv.h"
#include "nn/phase.h"

#define NIC_INT_YHAT_Q 10 /* fixed-point bits of y^, the synthesis input */
#define NIC_INT_ACT_Q 11  /* of the activations between layers */
#define NIC_INT_PIXEL_MUL 128 /* analysis input: pixel value * 128 (< 32768) */
/* The last layer of each transform sums 16 input channels at a time in int32
 * and adds the partial sums in int64: each has a sixth of the worst case of a
 * 96-channel sum, so its weights get 2.6 more bits. Without that, rounding
 * the 96 -> 3 synthesis layer's weights to ~8 bits shifted the picture's mean by
 * up to 0.1 gray level (0.04 dB on Kodak). */
#define NIC_INT_LAST_SPLIT 16

typedef struct nic_int_layer {
    nn_phase_layout pl;
    nn_iconv16_group *groups; /* pl.ngroups */
    int16_t *w;
    int32_t *bias;  /* per lane */
    float *scale;   /* per output channel: the value of one unit of the sum */
    int gdn;        /* 0: none, 1: GDN, 2: inverse GDN after the convolution */
    float *beta;    /* effective GDN parameters (c_out) */
    float *gamma_t; /* [j][i] = gamma[i][j] */
} nic_int_layer;

typedef struct nic_int_transform {
    int synthesis; /* 1: g_s (y^ -> image), 0: g_a (image -> y) */
    int c_in, c_out;
    nic_int_layer layer[4];
} nic_int_transform;

nic_status nic_int_transform_create(nic_context *ctx, const nic_hyper_model *m, int synthesis,
                                    nic_int_transform *t);
void nic_int_transform_free(nic_int_transform *t);

/* Writes grid rows [r0, r1) of the synthesis input: r1 - r0 rows of row_len
 * int16 each, pixel-major, pixel x at (1 + x) * channels (the border pixels
 * are zero already and must stay zero). */
typedef void (*nic_int_rows_fn)(void *user, int r0, int r1, int16_t *rows, ptrdiff_t row_len);

/* y^ [hy][wy][M] (Q10, rows from source) -> the picture, cropped to
 * img->width x img->height (at most 16 wy x 16 hy; 1 or 3 channels: gray is
 * the luma of the three outputs). mem_budget: bytes of row windows to aim
 * for (0: a default); the output does not depend on it. */
nic_status nic_int_synthesize(nic_context *ctx, const nic_int_transform *t, nn_isa isa, int hy,
                              int wy, nic_int_rows_fn source, void *user, size_t mem_budget,
                              nic_image *img);

/* The picture, edges replicated to ph x pw (multiples of 16), -> y
 * [M][ph / 16][pw / 16]. */
nic_status nic_int_analyze(nic_context *ctx, const nic_int_transform *t, nn_isa isa,
                           const nic_image *img, int ph, int pw, size_t mem_budget, float *y);

#endif
