#include "entropy/rans.h"

#include <stdlib.h>
#include <string.h>

#include "common/context.h"

/* Longest Elias-gamma prefix accepted: distances below 2^40. */
#define NIC_RANS_MAX_ESCAPE_PREFIX 40

void nic_rans_encoder_init(nic_rans_encoder *enc)
{
    memset(enc, 0, sizeof(*enc));
}

void nic_rans_encoder_free(nic_rans_encoder *enc)
{
    free(enc->ops);
    free(enc->side);
    memset(enc, 0, sizeof(*enc));
}

void nic_rans_encoder_reset(nic_rans_encoder *enc)
{
    enc->count = 0;
    enc->side_count = 0;
    enc->error = NIC_OK;
}

static int grow_array(void **array, size_t *capacity, size_t elem, size_t need)
{
    if (need <= *capacity)
        return 1;
    size_t cap = *capacity ? *capacity : 1024;
    while (cap < need) {
        if (cap > ((size_t)-1 / 2) / elem)
            return 0;
        cap *= 2;
    }
    size_t bytes;
    if (!nic_mul_size(cap, elem, &bytes))
        return 0;
    void *p = realloc(*array, bytes);
    if (!p)
        return 0;
    *array = p;
    *capacity = cap;
    return 1;
}

int nic_rans_encoder_grow_(nic_rans_encoder *enc)
{
    if (enc->error != NIC_OK)
        return 0;
    void *ops = enc->ops;
    if (!grow_array(&ops, &enc->capacity, sizeof(uint32_t), enc->count + 1)) {
        enc->error = NIC_ERR_NOMEM;
        return 0;
    }
    enc->ops = ops;
    return 1;
}

nic_status nic_rans_encoder_reserve(nic_context *ctx, nic_rans_encoder *enc, size_t more)
{
    void *ops = enc->ops;
    if (more > (size_t)-1 - enc->count ||
        !grow_array(&ops, &enc->capacity, sizeof(uint32_t), enc->count + more))
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rANS encoder: cannot hold %zu more symbols", more);
    enc->ops = ops;
    return NIC_OK;
}

void nic_rans_put_bits(nic_rans_encoder *enc, uint32_t value, unsigned nbits)
{
    if (enc->error != NIC_OK)
        return;
    if (enc->count == 0 || nbits == 0 || nbits > NIC_RANS_MAX_BYPASS_BITS) {
        enc->error = NIC_ERR_INTERNAL;
        return;
    }
    void *side = enc->side;
    if (!grow_array(&side, &enc->side_capacity, sizeof(nic_rans_side_op), enc->side_count + 1)) {
        enc->error = NIC_ERR_NOMEM;
        return;
    }
    enc->side = side;
    unsigned shift = NIC_RANS_PROB_BITS - nbits;
    uint32_t start = (value & ((1u << nbits) - 1)) << shift;
    uint32_t freq = 1u << shift;
    enc->side[enc->side_count].symbol = enc->count - 1;
    enc->side[enc->side_count].op = start | (freq << 16);
    enc->side_count++;
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

void nic_rans_put_escape(nic_rans_encoder *enc, int above, uint64_t distance)
{
    uint64_t v = distance + 1;
    unsigned nb = bit_length64(v);
    nic_rans_put_bits(enc, above ? 1u : 0u, 1);
    for (unsigned i = 1; i < nb; i++)
        nic_rans_put_bits(enc, 0, 1);
    nic_rans_put_bits(enc, 1, 1);
    /* The nb - 1 bits below the leading one, most significant chunk first. */
    unsigned left = nb - 1;
    while (left > 0) {
        unsigned chunk = left > NIC_RANS_MAX_BYPASS_BITS ? NIC_RANS_MAX_BYPASS_BITS : left;
        left -= chunk;
        nic_rans_put_bits(enc, (uint32_t)(v >> left) & ((1u << chunk) - 1), chunk);
    }
}

unsigned nic_rans_escape_bits(uint64_t distance)
{
    unsigned nb = bit_length64(distance + 1);
    return 1 + 2 * nb - 1;
}

/* Integer estimate of -log2(freq / 2^16) in 1/65536 bits (error < 0.09 bit). */
static uint32_t cost_q16(uint32_t freq)
{
    unsigned e = 0;
    while ((freq >> (e + 1)) != 0)
        e++;
    uint32_t log2_q16 = (e << 16) + ((freq << (16 - e)) - 65536u);
    return (16u << 16) - log2_q16;
}

unsigned nic_rans_default_lanes(const nic_rans_encoder *enc)
{
    uint64_t cost = 0;
    for (size_t i = 0; i < enc->count; i++)
        cost += cost_q16(enc->ops[i] >> 16);
    cost += (uint64_t)enc->side_count * 8u << 16; /* bypass ops: at most 16 bits */
    uint64_t bytes = (cost >> 16) / 8;
    /* Each extra lane costs 4 bytes of flushed state; that only pays off
     * when the stream is large enough for decoding speed to matter. */
    return bytes < 16384 ? 1u : 4u;
}

static inline void encode_op(uint32_t *x, uint32_t op, uint8_t **p)
{
    uint32_t start = op & 0xffffu;
    uint32_t freq = op >> 16;
    uint32_t s = *x;
    uint32_t x_max = freq << 15; /* ((NIC_RANS_LOWER >> 16) << 8) * freq */
    while (s >= x_max) {
        *--*p = (uint8_t)s;
        s >>= 8;
    }
    *x = ((s / freq) << NIC_RANS_PROB_BITS) + (s % freq) + start;
}

nic_status nic_rans_encoder_finish(nic_context *ctx, nic_rans_encoder *enc, unsigned lanes,
                                   uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (enc->error != NIC_OK) {
        nic_status st = enc->error;
        nic_rans_encoder_reset(enc);
        if (st == NIC_ERR_NOMEM)
            return NIC_FAIL(ctx, st, "rANS encoder: out of memory while recording symbols");
        return NIC_FAIL(ctx, st, "rANS encoder: bypass bits put before any symbol or with a "
                                 "bit count outside 1..16");
    }
    if (lanes == 0)
        lanes = nic_rans_default_lanes(enc);
    unsigned log2_lanes;
    switch (lanes) {
    case 1: log2_lanes = 0; break;
    case 2: log2_lanes = 1; break;
    case 4: log2_lanes = 2; break;
    case 8: log2_lanes = 3; break;
    default:
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "rANS encoder: %u lanes requested, expected 1, 2, 4 or 8", lanes);
    }
    if (enc->count == 0) {
        nic_rans_encoder_reset(enc);
        return NIC_OK;
    }
    /* Each op emits at most two bytes. */
    size_t nops = enc->count + enc->side_count;
    size_t cap;
    if (!nic_mul_size(nops, 2, &cap) || cap > (size_t)-1 - 1 - 4 * NIC_RANS_MAX_LANES)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rANS encoder: stream too large");
    cap += 1 + 4 * (size_t)lanes;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rANS encoder: cannot allocate %zu bytes", cap);

    uint8_t *p = buf + cap;
    uint32_t x[NIC_RANS_MAX_LANES];
    for (unsigned l = 0; l < lanes; l++)
        x[l] = NIC_RANS_LOWER;
    const uint32_t mask = lanes - 1;
    size_t si = enc->side_count;
    const nic_rans_side_op *side = enc->side;
    const uint32_t *ops = enc->ops;
    for (size_t i = enc->count; i-- > 0;) {
        uint32_t *xl = &x[i & mask];
        while (si > 0 && side[si - 1].symbol == i)
            encode_op(xl, side[--si].op, &p);
        encode_op(xl, ops[i], &p);
    }
    for (unsigned l = lanes; l-- > 0;) {
        p -= 4;
        p[0] = (uint8_t)x[l];
        p[1] = (uint8_t)(x[l] >> 8);
        p[2] = (uint8_t)(x[l] >> 16);
        p[3] = (uint8_t)(x[l] >> 24);
    }
    *--p = (uint8_t)log2_lanes;
    size_t size = (size_t)(buf + cap - p);
    memmove(buf, p, size);
    *out = buf;
    *out_size = size;
    nic_rans_encoder_reset(enc);
    return NIC_OK;
}

nic_status nic_rans_decoder_init(nic_context *ctx, nic_rans_decoder *dec, const uint8_t *data,
                                 size_t size, const char *name)
{
    memset(dec, 0, sizeof(*dec));
    if (!name)
        name = "rANS stream";
    dec->begin = data;
    dec->ptr = data;
    dec->end = size ? data + size : data; /* no arithmetic on a NULL pointer */
    if (size == 0) {
        dec->empty = 1;
        dec->lane_mask = 0;
        return NIC_OK;
    }
    uint8_t header = data[0];
    if (header & 0xfc)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: offset 0: header byte 0x%02x has reserved bits set (expected "
                        "0x00..0x03)",
                        name, header);
    unsigned lanes = 1u << (header & 3);
    size_t need = 1 + 4 * (size_t)lanes;
    if (size < need)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: truncated: %zu bytes, but %u lanes need at least %zu", name, size,
                        lanes, need);
    for (unsigned l = 0; l < lanes; l++) {
        const uint8_t *q = data + 1 + 4 * l;
        uint32_t x = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                     (uint32_t)q[3] << 24;
        if (x < NIC_RANS_LOWER || x >= (NIC_RANS_LOWER << 8))
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: offset %zu: state of lane %u is 0x%08x, outside "
                            "[0x00800000, 0x7fffffff]",
                            name, (size_t)(q - data), l, x);
        dec->state[l] = x;
    }
    dec->lane_mask = lanes - 1;
    dec->ptr = data + need;
    return NIC_OK;
}

nic_status nic_rans_decoder_finish(nic_context *ctx, nic_rans_decoder *dec, const char *name)
{
    if (!name)
        name = "rANS stream";
    if (dec->empty) {
        if (dec->symbols != 0)
            return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                            "%s: stream is empty but %zu symbols were decoded from it", name,
                            dec->symbols);
        return NIC_OK;
    }
    if (dec->symbols == 0)
        return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                        "%s: no symbols were decoded from a %zu-byte stream (a stream without "
                        "symbols is empty)",
                        name, (size_t)(dec->end - dec->begin));
    if (dec->overrun)
        return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                        "%s: decoding read past the end of the %zu-byte stream (truncated or "
                        "corrupt)",
                        name, (size_t)(dec->end - dec->begin));
    if (dec->ptr != dec->end)
        return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                        "%s: %zu of %zu bytes left unread after %zu symbols (corrupt, or the "
                        "decoder was asked for fewer symbols than were coded)",
                        name, (size_t)(dec->end - dec->ptr), (size_t)(dec->end - dec->begin),
                        dec->symbols);
    for (unsigned l = 0; l <= dec->lane_mask; l++)
        if (dec->state[l] != NIC_RANS_LOWER)
            return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                            "%s: lane %u ended in state 0x%08x, expected 0x%08x (corrupt "
                            "stream)",
                            name, l, dec->state[l], NIC_RANS_LOWER);
    return NIC_OK;
}

uint32_t nic_rans_get_bits(nic_rans_decoder *dec, unsigned nbits)
{
    if (nbits == 0 || nbits > NIC_RANS_MAX_BYPASS_BITS) {
        dec->overrun = 1;
        return 0;
    }
    unsigned shift = NIC_RANS_PROB_BITS - nbits;
    uint32_t x = dec->state[dec->lane];
    uint32_t slot = x & (NIC_RANS_PROB_SCALE - 1);
    uint32_t value = slot >> shift;
    x = (1u << shift) * (x >> NIC_RANS_PROB_BITS) + (slot & ((1u << shift) - 1));
    if (x < NIC_RANS_LOWER) {
        x = (x << 8) | nic_rans_read_byte_(dec);
        if (x < NIC_RANS_LOWER)
            x = (x << 8) | nic_rans_read_byte_(dec);
    }
    dec->state[dec->lane] = x;
    return value;
}

int nic_rans_get_escape(nic_rans_decoder *dec, int *above, uint64_t *distance)
{
    *above = (int)nic_rans_get_bits(dec, 1);
    unsigned zeros = 0;
    while (nic_rans_get_bits(dec, 1) == 0) {
        if (++zeros >= NIC_RANS_MAX_ESCAPE_PREFIX || dec->overrun)
            return -1;
    }
    uint64_t v = 1;
    unsigned left = zeros;
    while (left > 0) {
        unsigned chunk = left > NIC_RANS_MAX_BYPASS_BITS ? NIC_RANS_MAX_BYPASS_BITS : left;
        left -= chunk;
        v = (v << chunk) | nic_rans_get_bits(dec, chunk);
    }
    *distance = v - 1;
    return 0;
}
