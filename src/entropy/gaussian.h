/*
 * Gaussian conditional coder: each value y is coded as the residual
 * r = y - mean with the discretized zero-mean Gaussian CDF of one of 64
 * log-spaced scales (0.11 .. 256), chosen per value by an index; values
 * outside the table's range are escaped (cdf.h), never clipped.
 *
 * Table t (0..63) has scale s_t = nic_gaussian_scale_q16[t] / 2^16 and
 * covers residuals -m_t .. m_t, where m_t is the smallest m >= 0 whose two
 * tails beyond m + 1/2 hold at most 2^-14 of the mass. Symbol probabilities
 * are P(r) = Phi((r + 1/2) / s) - Phi((r - 1/2) / s), computed from the
 * committed table of Q(x) = 1 - Phi(x) by integer interpolation, then
 * quantized to 16 bits by nic_cdf_quantize. docs/ENTROPY.md has every step.
 */
#ifndef NIC_ENTROPY_GAUSSIAN_H
#define NIC_ENTROPY_GAUSSIAN_H

#include <stddef.h>
#include <stdint.h>

#include "entropy/cdf.h"

#define NIC_GAUSSIAN_SCALES 64
#define NIC_GAUSSIAN_TAIL_ENTRIES 2049 /* Q(i / 256), i = 0..2048 */
#define NIC_GAUSSIAN_TAIL_MASS_Q32 (1u << 18) /* 2^-14 of 2^32 */

extern const uint32_t nic_gaussian_tail_q32[NIC_GAUSSIAN_TAIL_ENTRIES];
extern const uint32_t nic_gaussian_scale_q16[NIC_GAUSSIAN_SCALES];

/* Q(x) = 1 - Phi(x) in units of 2^-32 for x = x_q16 / 2^16 >= 0, by linear
 * interpolation of nic_gaussian_tail_q32 (0 from x = 8 on). */
uint32_t nic_gaussian_tail(uint64_t x_q16);

/* Builds the 64 tables (about 100 KB). Deterministic: integer arithmetic only. */
nic_status nic_gaussian_create(nic_context *ctx, nic_cdf_set *set);

/* Table t's symbols, the escape included: 2 m_t + 2. */
uint32_t nic_gaussian_table_size(int t);
/* The integer weights table t is quantized from (size entries: residuals
 * -m_t .. m_t, then the escape; they sum to 2^32). */
void nic_gaussian_table_weights(int t, uint64_t *w);
/* The sum of the 64 tables' sizes: the length of a set of weights below. */
size_t nic_gaussian_weights_count(void);
/* The 64 tables with the same symbols and escapes, quantized from other
 * weights (e.g. fitted to a model's symbols): nic_gaussian_weights_count()
 * values, table after table, each as nic_gaussian_table_weights lays them
 * out (every row's sum in (0, 2^47)); NULL: the Gaussian weights. */
nic_status nic_gaussian_create_from_weights(nic_context *ctx, nic_cdf_set *set,
                                            const uint64_t *weights);

/* The index of the table for a scale given in fixed point (1/65536 units):
 * the smallest t with nic_gaussian_scale_q16[t] >= scale_q16, or 63 for
 * larger scales (0 for scales below 0.11). Integer comparisons only, so the
 * encoder and decoder choose the same table whenever they compute the same
 * fixed-point scale (docs/ENTROPY.md, "Determinism"). */
uint16_t nic_gaussian_scale_index(uint32_t scale_q16);

/* Codes values[i] - means[i] (means may be NULL) with table indexes[i]. */
static inline nic_status nic_gaussian_encode(nic_context *ctx, const nic_cdf_set *set,
                                             const int32_t *values, const int32_t *means,
                                             const uint16_t *indexes, size_t n,
                                             nic_rans_encoder *enc)
{
    return nic_cdf_encode(ctx, set, values, means, indexes, n, enc);
}

static inline nic_status nic_gaussian_decode(nic_context *ctx, const nic_cdf_set *set,
                                             nic_rans_decoder *dec, const int32_t *means,
                                             const uint16_t *indexes, size_t n,
                                             int32_t *values)
{
    return nic_cdf_decode(ctx, set, dec, means, indexes, n, values);
}

#endif
