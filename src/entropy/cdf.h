/*
 * Sets of 16-bit integer CDF tables and the coder that codes integer values
 * with a table chosen per value (the shared engine of the factorized-prior
 * and Gaussian-conditional coders).
 *
 * A table describes the values offset .. offset + size - 2 (symbols
 * 0 .. size - 2) and one escape symbol (size - 1) for every value outside
 * that range; an escaped value is followed by its escape payload
 * (rans.h). Nothing is ever clipped: every int32 value can be coded with
 * every table.
 *
 * Frequencies are integers >= 1 that sum to exactly 2^16. Tables are built
 * only with integer arithmetic (nic_cdf_quantize), so every machine builds
 * the same tables from the same integer inputs.
 */
#ifndef NIC_ENTROPY_CDF_H
#define NIC_ENTROPY_CDF_H

#include <stddef.h>
#include <stdint.h>

#include "entropy/rans.h"
#include "nic.h"

#define NIC_CDF_MAX_SYMBOLS 16384 /* per table, escape included */
#define NIC_CDF_BUCKET_BITS 8     /* decoder search: 2^8 buckets over the 2^16 slots */
#define NIC_CDF_BUCKETS (1u << NIC_CDF_BUCKET_BITS)

typedef struct nic_cdf {
    const uint32_t *sym;    /* size entries: start | freq << 16 */
    const uint16_t *bucket; /* NIC_CDF_BUCKETS + 1 entries: symbol holding slot b << 8 */
    uint32_t size;          /* symbols, the escape included (>= 2) */
    int32_t offset;         /* value of symbol 0 */
} nic_cdf;

typedef struct nic_cdf_set {
    nic_cdf *cdfs;
    uint32_t count;
    uint32_t *sym_storage;
    uint16_t *bucket_storage;
} nic_cdf_set;

/* Allocates `count` tables; table i has sizes[i] symbols (escape included,
 * 2..NIC_CDF_MAX_SYMBOLS) and offsets[i] as the value of symbol 0. The
 * frequencies are filled by nic_cdf_set_fill_* before use. */
nic_status nic_cdf_set_create(nic_context *ctx, nic_cdf_set *set, uint32_t count,
                              const uint32_t *sizes, const int32_t *offsets);
void nic_cdf_set_free(nic_cdf_set *set);

/* Fills table `index` from non-negative integer weights (size entries, the
 * escape's weight last; their sum must be > 0 and < 2^47), quantized with
 * nic_cdf_quantize. */
nic_status nic_cdf_set_fill_weights(nic_context *ctx, nic_cdf_set *set, uint32_t index,
                                    const uint64_t *weights);

/* Fills table `index` from a quantized CDF: size + 1 values, cdf[0] = 0,
 * strictly increasing, cdf[size] = 65536. */
nic_status nic_cdf_set_fill_cdf(nic_context *ctx, nic_cdf_set *set, uint32_t index,
                                const uint32_t *cdf);

/* Quantizes weights w[0..n) (n in 2..65536, sum in (0, 2^47)) to
 * frequencies f[i] >= 1 with sum exactly 2^16: each symbol gets 1, and the
 * remaining 2^16 - n are shared in proportion to max(0, w[i] * 2^16 - W)
 * (the weight above one unit of 2^-16, W = sum of w) by cumulative
 * flooring. Integer arithmetic only (docs/ENTROPY.md gives the exact steps). */
nic_status nic_cdf_quantize(nic_context *ctx, const uint64_t *w, uint32_t n, uint32_t *freq);

/* Finds the symbol whose [start, start + freq) holds slot (0..65535). */
static inline uint32_t nic_cdf_find(const nic_cdf *c, uint32_t slot)
{
    uint32_t b = slot >> (16 - NIC_CDF_BUCKET_BITS);
    uint32_t lo = c->bucket[b];
    uint32_t hi = c->bucket[b + 1];
    const uint32_t *sym = c->sym;
    /* Invariant: start(lo) <= slot, and the answer is <= hi. */
    while (hi - lo > 8) {
        uint32_t mid = lo + ((hi - lo + 1) >> 1);
        if ((sym[mid] & 0xffffu) <= slot)
            lo = mid;
        else
            hi = mid - 1;
    }
    while (lo < hi && (sym[lo + 1] & 0xffffu) <= slot)
        lo++;
    return lo;
}

/* Codes values[i] - means[i] (means may be NULL: 0) with table indexes[i]
 * for i < n. indexes must be < set->count. */
nic_status nic_cdf_encode(nic_context *ctx, const nic_cdf_set *set, const int32_t *values,
                          const int32_t *means, const uint16_t *indexes, size_t n,
                          nic_rans_encoder *enc);
nic_status nic_cdf_decode(nic_context *ctx, const nic_cdf_set *set, nic_rans_decoder *dec,
                          const int32_t *means, const uint16_t *indexes, size_t n,
                          int32_t *values);

/* The same with one table for all n values (no index array). */
nic_status nic_cdf_encode_run(nic_context *ctx, const nic_cdf_set *set, uint16_t index,
                              const int32_t *values, size_t n, nic_rans_encoder *enc);
nic_status nic_cdf_decode_run(nic_context *ctx, const nic_cdf_set *set, uint16_t index,
                              nic_rans_decoder *dec, size_t n, int32_t *values);

/* One value with one table (for coders that choose tables as they go, e.g.
 * from already decoded neighbours). */
void nic_cdf_encode_one(const nic_cdf *c, int64_t residual, nic_rans_encoder *enc);
/* Returns 0, or -1 when the escape payload is malformed. */
int nic_cdf_decode_one(const nic_cdf *c, nic_rans_decoder *dec, int64_t *residual);

/* Ideal code length of a residual under a table, in bits (escape payload
 * included). For tests and benchmarks. */
double nic_cdf_cost_bits(const nic_cdf *c, int64_t residual);

#endif
