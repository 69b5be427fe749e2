/*
 * Adaptive binary arithmetic coder (a range coder in the style of LZMA's)
 * for bit planes, e.g. the binary codes of the RNN codec.
 *
 * Probabilities are 16-bit: p1 = P(bit = 1) * 2^16, clamped to 1..65535, so
 * any model precision up to 16 bits is used as is (a 12-bit probability p
 * is passed as p << 4). Without a model, nic_binary_context estimates
 * probabilities from counts (Krichevsky-Trofimov, halved at 1024).
 *
 * The coder works forwards: the encoder emits bytes as it goes and the
 * decoder reads them in the same order, so a decoder can follow a model
 * that depends on earlier bits. Bytes past the end of a stream read as 0;
 * the encoder drops trailing zero bytes, so a stream is as short as it can
 * be, and a truncated stream still decodes (its first bits correctly),
 * which progressive codecs use. Integrity comes from the container's CRC.
 * Stream layout and arithmetic: docs/ENTROPY.md, "Binary coder".
 */
#ifndef NIC_ENTROPY_BINARY_H
#define NIC_ENTROPY_BINARY_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"

#define NIC_BINARY_PROB_BITS 16
#define NIC_BINARY_COUNT_LIMIT 1024 /* counts are halved when n0 + n1 reaches this */

/* Counts-based adaptive probability of one context. Zero-initialize. */
typedef struct nic_binary_context {
    uint16_t n0;
    uint16_t n1;
} nic_binary_context;

/* P(1) of a context, 1..65535 (in 2^-16): (2 n1 + 1) * 2^16 / (2 (n0 + n1) + 2). */
static inline uint32_t nic_binary_context_p1(const nic_binary_context *c)
{
    uint32_t num = (2u * c->n1 + 1u) << 16;
    uint32_t den = 2u * ((uint32_t)c->n0 + c->n1) + 2u;
    uint32_t p = num / den;
    return p < 1 ? 1 : (p > 65535 ? 65535 : p);
}

static inline void nic_binary_context_update(nic_binary_context *c, int bit)
{
    if (bit)
        c->n1++;
    else
        c->n0++;
    if ((uint32_t)c->n0 + c->n1 >= NIC_BINARY_COUNT_LIMIT) {
        c->n0 = (uint16_t)((c->n0 + 1) >> 1);
        c->n1 = (uint16_t)((c->n1 + 1) >> 1);
    }
}

typedef struct nic_binary_encoder {
    uint8_t *buf;
    size_t size;
    size_t capacity;
    uint64_t low;      /* 33 bits: bit 32 is a carry into the bytes not yet written */
    uint32_t range;
    uint8_t cache;     /* last byte held back for a possible carry */
    uint64_t pending;  /* 0xff bytes held back after the cache */
    int started;       /* the cache holds a real byte (the first one is dropped) */
    nic_status error;  /* sticky */
} nic_binary_encoder;

void nic_binary_encoder_init(nic_binary_encoder *enc);
void nic_binary_encoder_free(nic_binary_encoder *enc);

/* Codes one bit with P(bit = 1) = p1 / 2^16 (p1 is clamped to 1..65535). */
void nic_binary_encode(nic_binary_encoder *enc, int bit, uint32_t p1);

static inline void nic_binary_encode_adaptive(nic_binary_encoder *enc, int bit,
                                              nic_binary_context *c)
{
    nic_binary_encode(enc, bit, nic_binary_context_p1(c));
    nic_binary_context_update(c, bit);
}

/* Flushes the shortest tail that identifies the coded bits and hands over
 * the malloc'ed stream (free with free(); NULL when empty). Resets enc. */
nic_status nic_binary_encoder_finish(nic_context *ctx, nic_binary_encoder *enc, uint8_t **out,
                                     size_t *out_size);

typedef struct nic_binary_decoder {
    const uint8_t *ptr;
    const uint8_t *end;
    uint32_t range;
    uint32_t code;
    size_t past_end; /* bytes read past the end (as zeros) */
} nic_binary_decoder;

void nic_binary_decoder_init(nic_binary_decoder *dec, const uint8_t *data, size_t size);
int nic_binary_decode(nic_binary_decoder *dec, uint32_t p1);

static inline int nic_binary_decode_adaptive(nic_binary_decoder *dec, nic_binary_context *c)
{
    int bit = nic_binary_decode(dec, nic_binary_context_p1(c));
    nic_binary_context_update(c, bit);
    return bit;
}

#endif
