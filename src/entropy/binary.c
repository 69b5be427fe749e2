#include "entropy/binary.h"

#include <stdlib.h>
#include <string.h>

#include "common/context.h"

#define TOP (1u << 24)

void nic_binary_encoder_init(nic_binary_encoder *enc)
{
    memset(enc, 0, sizeof(*enc));
    enc->range = 0xffffffffu;
}

void nic_binary_encoder_free(nic_binary_encoder *enc)
{
    free(enc->buf);
    memset(enc, 0, sizeof(*enc));
}

static void emit(nic_binary_encoder *enc, uint8_t byte)
{
    if (enc->size == enc->capacity) {
        if (enc->error != NIC_OK)
            return;
        size_t cap = enc->capacity ? enc->capacity * 2 : 256;
        uint8_t *p = cap > enc->capacity ? realloc(enc->buf, cap) : NULL;
        if (!p) {
            enc->error = NIC_ERR_NOMEM;
            return;
        }
        enc->buf = p;
        enc->capacity = cap;
    }
    enc->buf[enc->size++] = byte;
}

/* Moves the top byte of low out, holding back bytes a carry may still change. */
static void shift_low(nic_binary_encoder *enc)
{
    if ((uint32_t)enc->low < 0xff000000u || (enc->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(enc->low >> 32);
        /* The very first byte is always 0 (the code value is below 1) and is
         * not written; the decoder starts one byte later. */
        if (enc->started)
            emit(enc, (uint8_t)(enc->cache + carry));
        for (; enc->pending > 0; enc->pending--)
            emit(enc, (uint8_t)(0xff + carry));
        enc->cache = (uint8_t)(enc->low >> 24);
        enc->started = 1;
    } else {
        enc->pending++;
    }
    enc->low = (enc->low & 0x00ffffffu) << 8;
}

void nic_binary_encode(nic_binary_encoder *enc, int bit, uint32_t p1)
{
    if (p1 < 1)
        p1 = 1;
    else if (p1 > 65535)
        p1 = 65535;
    uint32_t bound = (enc->range >> 16) * p1;
    if (bit) {
        enc->range = bound;
    } else {
        enc->low += bound;
        enc->range -= bound;
    }
    while (enc->range < TOP) {
        enc->range <<= 8;
        shift_low(enc);
    }
}

nic_status nic_binary_encoder_finish(nic_context *ctx, nic_binary_encoder *enc, uint8_t **out,
                                     size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    /* Any value in [low, low + range) decodes the same bits: take the one
     * with the most trailing zero bits, which need not be written. */
    uint64_t hi = enc->low + enc->range;
    for (int k = 32; k >= 0; k--) {
        uint64_t mask = ((uint64_t)1 << k) - 1;
        uint64_t v = (enc->low + mask) & ~mask;
        if (v < hi) {
            enc->low = v;
            break;
        }
    }
    for (int i = 0; i < 5; i++)
        shift_low(enc);
    if (enc->error != NIC_OK) {
        nic_binary_encoder_free(enc);
        nic_binary_encoder_init(enc);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "binary coder: out of memory");
    }
    size_t size = enc->size;
    while (size > 0 && enc->buf[size - 1] == 0)
        size--;
    if (size > 0) {
        *out = enc->buf;
        *out_size = size;
    } else {
        free(enc->buf);
    }
    memset(enc, 0, sizeof(*enc));
    enc->range = 0xffffffffu;
    return NIC_OK;
}

static inline uint32_t next_byte(nic_binary_decoder *dec)
{
    if (dec->ptr < dec->end)
        return *dec->ptr++;
    dec->past_end++;
    return 0;
}

void nic_binary_decoder_init(nic_binary_decoder *dec, const uint8_t *data, size_t size)
{
    dec->ptr = data;
    dec->end = size ? data + size : data; /* no arithmetic on a NULL pointer */
    dec->range = 0xffffffffu;
    dec->code = 0;
    dec->past_end = 0;
    for (int i = 0; i < 4; i++)
        dec->code = (dec->code << 8) | next_byte(dec);
}

int nic_binary_decode(nic_binary_decoder *dec, uint32_t p1)
{
    if (p1 < 1)
        p1 = 1;
    else if (p1 > 65535)
        p1 = 65535;
    uint32_t bound = (dec->range >> 16) * p1;
    int bit;
    if (dec->code < bound) {
        dec->range = bound;
        bit = 1;
    } else {
        dec->code -= bound;
        dec->range -= bound;
        bit = 0;
    }
    while (dec->range < TOP) {
        dec->range <<= 8;
        dec->code = (dec->code << 8) | next_byte(dec);
    }
    return bit;
}
