/*
 * GDN and inverse GDN for deterministic inference, fused with the step
 * around them: integer convolution sums in, int16 activations for the next
 * integer convolution out. Per pixel p and channel i:
 *
 *   v_i   = (float)acc[p][i] * scale[i]
 *   norm  = beta[i];  for j = 0 .. C-1:  norm = fmaf(gamma_t[j][i], v_j * v_j, norm)
 *   u     = inverse ? v_i * sqrtf(norm) : v_i / sqrtf(norm)
 *   out[p][i] = round-half-even(clamp(u * out_mul, -32767, 32767))
 *
 * Every step is one IEEE-754 single-precision operation (fused multiply-add
 * included) in one fixed order per output, so the C, AVX2 and AVX-512
 * versions agree bit for bit; vector lanes only ever hold different outputs.
 */
#ifndef NIC_NN_GDN_DET_H
#define NIC_NN_GDN_DET_H

#include <stddef.h>
#include <stdint.h>

#include "nn/isa.h"

/* acc: npix rows of acc_stride int32 (C used); gamma_t: [C][C], gamma_t[j][i] =
 * gamma[i][j] (the GDN weight of input j for output i); out: npix rows of
 * out_stride int16; scratch: 2 * npix * C floats. */
void nn_gdn_det_rows(nn_isa isa, int inverse, int c, int npix, const int32_t *acc,
                     ptrdiff_t acc_stride, const float *scale, const float *beta,
                     const float *gamma_t, float out_mul, int16_t *out, ptrdiff_t out_stride,
                     float *scratch);

/* The rounding of the last step alone (what every version computes). */
static inline int16_t nn_det_quantize(float u)
{
    u = u < -32767.0f ? -32767.0f : (u > 32767.0f ? 32767.0f : u);
    /* adding and subtracting 1.5 * 2^23 rounds to the nearest integer, ties to
     * even, exactly as the vector float-to-int conversions do */
    return (int16_t)((u + 12582912.0f) - 12582912.0f);
}

#endif
