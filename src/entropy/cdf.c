#include "entropy/cdf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/context.h"

nic_status nic_cdf_set_create(nic_context *ctx, nic_cdf_set *set, uint32_t count,
                              const uint32_t *sizes, const int32_t *offsets)
{
    memset(set, 0, sizeof(*set));
    if (count == 0 || count > 65536)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "CDF set: %u tables requested, expected 1..65536", count);
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (sizes[i] < 2 || sizes[i] > NIC_CDF_MAX_SYMBOLS)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "CDF set: table %u has %u symbols, expected 2..%u (escape included)",
                            i, sizes[i], NIC_CDF_MAX_SYMBOLS);
        if ((int64_t)offsets[i] + sizes[i] - 2 > INT32_MAX)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "CDF set: table %u: offset %d + %u symbols passes INT32_MAX", i,
                            offsets[i], sizes[i] - 1);
        total += sizes[i];
    }
    set->cdfs = calloc(count, sizeof(nic_cdf));
    set->sym_storage = calloc((size_t)total, sizeof(uint32_t));
    set->bucket_storage = calloc((size_t)count * (NIC_CDF_BUCKETS + 1), sizeof(uint16_t));
    if (!set->cdfs || !set->sym_storage || !set->bucket_storage) {
        nic_cdf_set_free(set);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "CDF set: cannot allocate %u tables", count);
    }
    set->count = count;
    size_t pos = 0;
    for (uint32_t i = 0; i < count; i++) {
        set->cdfs[i].sym = set->sym_storage + pos;
        set->cdfs[i].bucket = set->bucket_storage + (size_t)i * (NIC_CDF_BUCKETS + 1);
        set->cdfs[i].size = sizes[i];
        set->cdfs[i].offset = offsets[i];
        pos += sizes[i];
    }
    return NIC_OK;
}

void nic_cdf_set_free(nic_cdf_set *set)
{
    free(set->cdfs);
    free(set->sym_storage);
    free(set->bucket_storage);
    memset(set, 0, sizeof(*set));
}

static unsigned bit_length64(uint64_t v)
{
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

nic_status nic_cdf_quantize(nic_context *ctx, const uint64_t *w, uint32_t n, uint32_t *freq)
{
    const uint64_t limit = (uint64_t)1 << 47;
    if (n < 2 || n > NIC_RANS_PROB_SCALE)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "CDF quantization: %u symbols, expected 2..65536", n);
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (w[i] >= limit || total + w[i] >= limit)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "CDF quantization: weights sum to 2^47 or more (at symbol %u)", i);
        total += w[i];
    }
    if (total == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "CDF quantization: all weights are 0");
    const uint64_t rest = NIC_RANS_PROB_SCALE - n; /* shared after each symbol got 1 */
    /* Excess of each weight above one unit (W / 2^16), scaled by 2^16. */
    uint64_t excess_total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t scaled = w[i] << 16;
        excess_total += scaled > total ? scaled - total : 0;
    }
    int uniform = excess_total == 0; /* only when n = 2^16: nothing to share */
    if (uniform)
        excess_total = n;
    unsigned len = bit_length64(excess_total);
    unsigned shift = len > 47 ? len - 47 : 0;
    uint64_t denom = excess_total >> shift;
    uint64_t cum = 0, prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t scaled = w[i] << 16;
        cum += uniform ? 1 : (scaled > total ? scaled - total : 0);
        uint64_t c = ((cum >> shift) * rest) / denom;
        freq[i] = (uint32_t)(1 + c - prev);
        prev = c;
    }
    return NIC_OK;
}

static void build_buckets(nic_cdf *c, uint16_t *bucket)
{
    const uint32_t *sym = c->sym;
    uint32_t s = 0;
    for (uint32_t b = 0; b < NIC_CDF_BUCKETS; b++) {
        uint32_t slot = b << (16 - NIC_CDF_BUCKET_BITS);
        while (s + 1 < c->size && (sym[s + 1] & 0xffffu) <= slot)
            s++;
        bucket[b] = (uint16_t)s;
    }
    bucket[NIC_CDF_BUCKETS] = (uint16_t)(c->size - 1);
}

static nic_status check_index(nic_context *ctx, const nic_cdf_set *set, uint32_t index)
{
    if (!set->cdfs || index >= set->count)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "CDF set: table %u of %u", index,
                        set->count);
    return NIC_OK;
}

nic_status nic_cdf_set_fill_weights(nic_context *ctx, nic_cdf_set *set, uint32_t index,
                                    const uint64_t *weights)
{
    NIC_TRY(check_index(ctx, set, index));
    nic_cdf *c = &set->cdfs[index];
    uint32_t *sym = (uint32_t *)c->sym;
    NIC_TRY(nic_cdf_quantize(ctx, weights, c->size, sym));
    uint32_t start = 0;
    for (uint32_t i = 0; i < c->size; i++) {
        uint32_t f = sym[i];
        sym[i] = start | (f << 16);
        start += f;
    }
    build_buckets(c, (uint16_t *)c->bucket);
    return NIC_OK;
}

nic_status nic_cdf_set_fill_cdf(nic_context *ctx, nic_cdf_set *set, uint32_t index,
                                const uint32_t *cdf)
{
    NIC_TRY(check_index(ctx, set, index));
    nic_cdf *c = &set->cdfs[index];
    if (cdf[0] != 0 || cdf[c->size] != NIC_RANS_PROB_SCALE)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "CDF table %u: runs from %u to %u, expected 0 to 65536", index, cdf[0],
                        cdf[c->size]);
    for (uint32_t i = 0; i < c->size; i++)
        if (cdf[i + 1] <= cdf[i])
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "CDF table %u: not strictly increasing at symbol %u (%u then %u)",
                            index, i, cdf[i], cdf[i + 1]);
    uint32_t *sym = (uint32_t *)c->sym;
    for (uint32_t i = 0; i < c->size; i++)
        sym[i] = cdf[i] | ((cdf[i + 1] - cdf[i]) << 16);
    build_buckets(c, (uint16_t *)c->bucket);
    return NIC_OK;
}

void nic_cdf_encode_one(const nic_cdf *c, int64_t residual, nic_rans_encoder *enc)
{
    int64_t s = residual - c->offset;
    int64_t esc = (int64_t)c->size - 1;
    if (s >= 0 && s < esc) {
        uint32_t e = c->sym[s];
        nic_rans_put(enc, e & 0xffffu, e >> 16);
        return;
    }
    uint32_t e = c->sym[esc];
    nic_rans_put(enc, e & 0xffffu, e >> 16);
    if (s < 0)
        nic_rans_put_escape(enc, 0, (uint64_t)(-s - 1));
    else
        nic_rans_put_escape(enc, 1, (uint64_t)(s - esc));
}

int nic_cdf_decode_one(const nic_cdf *c, nic_rans_decoder *dec, int64_t *residual)
{
    uint32_t slot = nic_rans_peek(dec);
    uint32_t s = nic_cdf_find(c, slot);
    uint32_t e = c->sym[s];
    nic_rans_advance(dec, slot, e & 0xffffu, e >> 16);
    if (s + 1 < c->size) {
        *residual = (int64_t)c->offset + s;
        return 0;
    }
    int above;
    uint64_t d;
    if (nic_rans_get_escape(dec, &above, &d) != 0)
        return -1;
    if (above)
        *residual = (int64_t)c->offset + (int64_t)(c->size - 1) + (int64_t)d;
    else
        *residual = (int64_t)c->offset - 1 - (int64_t)d;
    return 0;
}

double nic_cdf_cost_bits(const nic_cdf *c, int64_t residual)
{
    int64_t s = residual - c->offset;
    int64_t esc = (int64_t)c->size - 1;
    if (s >= 0 && s < esc)
        return 16.0 - log2((double)(c->sym[s] >> 16));
    uint64_t d = s < 0 ? (uint64_t)(-s - 1) : (uint64_t)(s - esc);
    return 16.0 - log2((double)(c->sym[esc] >> 16)) + nic_rans_escape_bits(d);
}

static nic_status encode_core(nic_context *ctx, const nic_cdf_set *set, const int32_t *values,
                              const int32_t *means, const uint16_t *indexes, size_t stride,
                              size_t n, nic_rans_encoder *enc)
{
    if (n == 0)
        return NIC_OK;
    NIC_TRY(nic_rans_encoder_reserve(ctx, enc, n));
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = indexes[i * stride];
        if (idx >= set->count)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "entropy encode: value %zu selects table %u of %u", i, idx,
                            set->count);
        int64_t r = (int64_t)values[i] - (means ? means[i] : 0);
        nic_cdf_encode_one(&set->cdfs[idx], r, enc);
    }
    if (enc->error != NIC_OK)
        return NIC_FAIL(ctx, enc->error, "entropy encode: out of memory");
    return NIC_OK;
}

/* The decoder's hot loop: the rANS lane states and the read position live in
 * locals (nic_rans_peek/advance with the state kept in registers), the
 * bounds check is one comparison per renormalization, and escapes leave the
 * fast path through the generic bypass reader. */
static nic_status decode_core(nic_context *ctx, const nic_cdf_set *set, nic_rans_decoder *dec,
                              const int32_t *means, const uint16_t *indexes, size_t stride,
                              size_t n, int32_t *values)
{
    uint32_t x[NIC_RANS_MAX_LANES];
    memcpy(x, dec->state, sizeof(x));
    const uint8_t *p = dec->ptr;
    const uint8_t *const end = dec->end;
    const uint32_t mask = dec->lane_mask;
    const nic_cdf *const cdfs = set->cdfs;
    const uint32_t count = set->count;
    size_t j = dec->symbols;
    uint32_t lane = dec->lane;
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = indexes[i * stride];
        if (idx >= count) {
            memcpy(dec->state, x, sizeof(x));
            dec->ptr = p;
            dec->symbols = j;
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "entropy decode: value %zu selects table %u of %u", i, idx, count);
        }
        const nic_cdf *c = &cdfs[idx];
        lane = (uint32_t)j & mask;
        uint32_t xl = x[lane];
        uint32_t slot = xl & (NIC_RANS_PROB_SCALE - 1);
        uint32_t s = nic_cdf_find(c, slot);
        uint32_t e = c->sym[s];
        xl = (e >> 16) * (xl >> NIC_RANS_PROB_BITS) + slot - (e & 0xffffu);
        if (end - p >= 2) {
            /* Branch-free renormalization: whether a byte is needed depends on
             * the data and would be mispredicted about as often as not. */
            uint32_t take = xl < NIC_RANS_LOWER;
            xl = take ? (xl << 8) | p[0] : xl;
            p += take;
            take = xl < NIC_RANS_LOWER;
            xl = take ? (xl << 8) | p[0] : xl;
            p += take;
        } else {
            for (int k = 0; k < 2 && xl < NIC_RANS_LOWER; k++) {
                if (p == end) {
                    dec->overrun = 1;
                    break;
                }
                xl = (xl << 8) | *p++;
            }
        }
        x[lane] = xl;
        j++;
        int64_t r = (int64_t)c->offset + s;
        if (s + 1 == c->size) {
            memcpy(dec->state, x, sizeof(x));
            dec->ptr = p;
            dec->symbols = j;
            dec->lane = lane;
            int above;
            uint64_t d;
            if (nic_rans_get_escape(dec, &above, &d) != 0)
                return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                                "entropy decode: value %zu: escape length prefix longer than "
                                "40 bits (corrupt stream)",
                                i);
            r = above ? (int64_t)c->offset + (int64_t)(c->size - 1) + (int64_t)d
                      : (int64_t)c->offset - 1 - (int64_t)d;
            memcpy(x, dec->state, sizeof(x));
            p = dec->ptr;
        }
        int64_t v = r + (means ? means[i] : 0);
        if (v < INT32_MIN || v > INT32_MAX || dec->overrun) {
            memcpy(dec->state, x, sizeof(x));
            dec->ptr = p;
            dec->symbols = j;
            if (dec->overrun)
                return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                                "entropy decode: value %zu of %zu: stream ended early (truncated "
                                "or corrupt)",
                                i, n);
            return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                            "entropy decode: value %zu decodes to %lld, outside the int32 range "
                            "(corrupt stream)",
                            i, (long long)v);
        }
        values[i] = (int32_t)v;
    }
    memcpy(dec->state, x, sizeof(x));
    dec->ptr = p;
    dec->symbols = j;
    dec->lane = lane;
    return NIC_OK;
}

nic_status nic_cdf_encode(nic_context *ctx, const nic_cdf_set *set, const int32_t *values,
                          const int32_t *means, const uint16_t *indexes, size_t n,
                          nic_rans_encoder *enc)
{
    return encode_core(ctx, set, values, means, indexes, 1, n, enc);
}

nic_status nic_cdf_decode(nic_context *ctx, const nic_cdf_set *set, nic_rans_decoder *dec,
                          const int32_t *means, const uint16_t *indexes, size_t n,
                          int32_t *values)
{
    return decode_core(ctx, set, dec, means, indexes, 1, n, values);
}

nic_status nic_cdf_encode_run(nic_context *ctx, const nic_cdf_set *set, uint16_t index,
                              const int32_t *values, size_t n, nic_rans_encoder *enc)
{
    return encode_core(ctx, set, values, NULL, &index, 0, n, enc);
}

nic_status nic_cdf_decode_run(nic_context *ctx, const nic_cdf_set *set, uint16_t index,
                              nic_rans_decoder *dec, size_t n, int32_t *values)
{
    return decode_core(ctx, set, dec, NULL, &index, 0, n, values);
}
