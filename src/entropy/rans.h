/*
 * rANS (range asymmetric numeral systems) over 16-bit integer frequencies.
 *
 * One stream carries symbols coded with per-symbol frequency tables
 * (start, freq), freq >= 1, start + freq <= 2^16, plus raw "bypass" bits
 * (escape payloads) attached to the symbol coded just before them.
 * Symbols are spread round-robin over 1, 2, 4 or 8 interleaved coder states
 * ("lanes") so that decoding has independent dependency chains; a symbol's
 * bypass bits use the same lane as the symbol.
 *
 * rANS decodes in the reverse order of encoding, so the encoder records the
 * operations (nic_rans_put / nic_rans_put_bits) and codes them backwards in
 * nic_rans_encoder_finish. The decoder then runs forwards, in the order the
 * symbols were put.
 *
 * Stream layout (docs/ENTROPY.md, "rANS stream"):
 *   byte 0          header: bits 0-1 = log2(lanes), bits 2-7 = 0
 *   4 x lanes bytes initial decoder state of each lane, uint32 little-endian
 *   then            renormalization bytes, consumed one at a time
 * A stream with no symbols is empty (0 bytes).
 *
 * State x of each lane lives in [2^23, 2^31); renormalization moves whole
 * bytes. The decoder must end with every lane at 2^23 and every byte read:
 * anything else means the stream is corrupt.
 */
#ifndef NIC_ENTROPY_RANS_H
#define NIC_ENTROPY_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "nic.h"

#define NIC_RANS_PROB_BITS 16
#define NIC_RANS_PROB_SCALE (1u << NIC_RANS_PROB_BITS)
#define NIC_RANS_LOWER (1u << 23) /* lower bound of a lane's state */
#define NIC_RANS_MAX_LANES 8
#define NIC_RANS_MAX_BYPASS_BITS 16 /* one nic_rans_put_bits call */

/* A bypass operation, attached to the symbol with index `symbol`. */
typedef struct nic_rans_side_op {
    size_t symbol;
    uint32_t op; /* start | freq << 16 */
} nic_rans_side_op;

typedef struct nic_rans_encoder {
    uint32_t *ops; /* one per symbol: start | freq << 16 */
    size_t count;
    size_t capacity;
    nic_rans_side_op *side; /* bypass ops, in the order they were put */
    size_t side_count;
    size_t side_capacity;
    uint64_t cost_bits; /* rough size estimate (integer bits) for the lane choice */
    nic_status error;   /* sticky: the first failure of a put */
} nic_rans_encoder;

void nic_rans_encoder_init(nic_rans_encoder *enc);
void nic_rans_encoder_free(nic_rans_encoder *enc);
/* Forgets the recorded symbols, keeps the memory. */
void nic_rans_encoder_reset(nic_rans_encoder *enc);
/* Makes room for `more` further symbols (optional; puts grow as needed). */
nic_status nic_rans_encoder_reserve(nic_context *ctx, nic_rans_encoder *enc, size_t more);

int nic_rans_encoder_grow_(nic_rans_encoder *enc);

/* Records a symbol occupying [start, start + freq) of the 2^16 range.
 * The caller guarantees 1 <= freq and start + freq <= 2^16, freq < 2^16. */
static inline void nic_rans_put(nic_rans_encoder *enc, uint32_t start, uint32_t freq)
{
    if (enc->count == enc->capacity && !nic_rans_encoder_grow_(enc))
        return;
    enc->ops[enc->count++] = start | (freq << 16);
}

/* Records `nbits` (1..16) raw bits of value, coded with uniform probability
 * in the lane of the last symbol put (there must be one). */
void nic_rans_put_bits(nic_rans_encoder *enc, uint32_t value, unsigned nbits);

/* Lanes chosen by nic_rans_encoder_finish when lanes == 0: one lane for
 * small streams (each lane costs 4 bytes of state), four for large ones. */
unsigned nic_rans_default_lanes(const nic_rans_encoder *enc);

/* Codes everything recorded into a malloc'ed stream (free with free()).
 * lanes: 0 (automatic), 1, 2, 4 or 8. An encoder with no symbols gives an
 * empty stream (*out may then be NULL). The encoder is reset afterwards. */
nic_status nic_rans_encoder_finish(nic_context *ctx, nic_rans_encoder *enc, unsigned lanes,
                                   uint8_t **out, size_t *out_size);

typedef struct nic_rans_decoder {
    uint32_t state[NIC_RANS_MAX_LANES];
    uint32_t lane_mask;
    uint32_t lane;      /* lane of the symbol being decoded / last decoded */
    size_t symbols;     /* symbols decoded so far */
    const uint8_t *begin;
    const uint8_t *ptr; /* next renormalization byte */
    const uint8_t *end;
    int overrun;        /* a read past the end was attempted (the stream is corrupt) */
    int empty;          /* the stream has no symbols */
} nic_rans_decoder;

/* Reads the header and lane states. name is used in messages (may be NULL). */
nic_status nic_rans_decoder_init(nic_context *ctx, nic_rans_decoder *dec, const uint8_t *data,
                                 size_t size, const char *name);

/* Checks that the stream ended exactly: every byte read, every lane back at
 * its initial state. */
nic_status nic_rans_decoder_finish(nic_context *ctx, nic_rans_decoder *dec, const char *name);

static inline uint32_t nic_rans_read_byte_(nic_rans_decoder *dec)
{
    if (dec->ptr < dec->end)
        return *dec->ptr++;
    dec->overrun = 1;
    return 0;
}

/* Selects the lane of the next symbol and returns its 16-bit slot. */
static inline uint32_t nic_rans_peek(nic_rans_decoder *dec)
{
    dec->lane = (uint32_t)dec->symbols & dec->lane_mask;
    return dec->state[dec->lane] & (NIC_RANS_PROB_SCALE - 1);
}

/* Removes the symbol [start, start + freq) found for the slot from the lane. */
static inline void nic_rans_advance(nic_rans_decoder *dec, uint32_t slot, uint32_t start,
                                    uint32_t freq)
{
    uint32_t x = dec->state[dec->lane];
    x = freq * (x >> NIC_RANS_PROB_BITS) + slot - start;
    /* From a valid state at most two bytes are needed; a fixed count keeps a
     * corrupt stream from looping. */
    if (x < NIC_RANS_LOWER) {
        x = (x << 8) | nic_rans_read_byte_(dec);
        if (x < NIC_RANS_LOWER)
            x = (x << 8) | nic_rans_read_byte_(dec);
    }
    dec->state[dec->lane] = x;
    dec->symbols++;
}

/* Reads nbits (1..16) bypass bits in the lane of the last symbol. */
uint32_t nic_rans_get_bits(nic_rans_decoder *dec, unsigned nbits);

/* Escape payloads (docs/ENTROPY.md, "Escapes"): a value outside a table's
 * range is coded as 1 side bit (0 below, 1 above) and the distance d >= 0
 * past the range edge as Elias-gamma of d + 1, all as bypass bits. */
void nic_rans_put_escape(nic_rans_encoder *enc, int above, uint64_t distance);
/* Returns 0 on success, -1 when the gamma prefix is longer than allowed. */
int nic_rans_get_escape(nic_rans_decoder *dec, int *above, uint64_t *distance);

/* Size in bits of an escape payload for the given distance. */
unsigned nic_rans_escape_bits(uint64_t distance);

#endif
