/*
 * Values coded with the 16-bit CDF tables of cdf.h through the binary
 * arithmetic coder (binary.h) instead of rANS, for tiny streams.
 *
 * Why: a rANS stream costs 5 bytes of framing (a header byte and a 4-byte
 * state per lane); the binary coder has no header and drops its trailing
 * zero bytes, so a stream of a few dozen bits (one small picture) costs
 * about what its bits cost.
 *
 * A symbol is found by bisecting the table's symbols: over the range
 * [lo, hi) with mass M (sum of frequencies) and upper half [mid, hi) with
 * mass U, one binary decision "symbol >= mid" is coded with
 * p1 = floor(U * 2^16 / M) clamped to 1..65535, mid = lo + (hi - lo) / 2.
 * The code length is -log2(freq / 2^16) up to the rounding of each p1.
 * An escape (cdf.h) is followed by its payload as in a rANS stream (side
 * bit, then the Elias-gamma code of distance + 1: docs/FORMAT.md section 4),
 * each bit coded with p1 = 2^15.
 */
#ifndef NIC_ENTROPY_CDF_BINARY_H
#define NIC_ENTROPY_CDF_BINARY_H

#include <stdint.h>

#include "entropy/binary.h"
#include "entropy/cdf.h"

void nic_cdf_encode_binary(const nic_cdf *c, int64_t residual, nic_binary_encoder *enc);
/* Returns 0, or -1 when an escape's prefix is longer than 39 zeros (corrupt). */
int nic_cdf_decode_binary(const nic_cdf *c, nic_binary_decoder *dec, int64_t *residual);

/* Ideal code length in bits of the same decisions (the p1 above, escape included). */
double nic_cdf_binary_cost_bits(const nic_cdf *c, int64_t residual);

#endif
