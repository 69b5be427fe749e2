/*
 * Fuzz target: the binary arithmetic decoder, with model probabilities
 * taken from the input and with adaptive contexts. Input: 1 byte (mode and
 * bit count), then the stream. Property: decoding the re-encoded bits gives
 * the same bits again (the decoder is deterministic and total).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entropy/binary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int adaptive = data[0] & 1;
    size_t nbits = 64 + (size_t)(data[0] >> 1) * 64;
    const uint8_t *stream = data + 1;
    size_t stream_size = size - 1;
    uint8_t bits[64 + 127 * 64];
    uint32_t probs[64 + 127 * 64];
    uint32_t s = 7;
    for (size_t i = 0; i < nbits; i++) {
        s = s * 1664525u + 1013904223u;
        probs[i] = s >> 15; /* 0..131071: out-of-range values are clamped */
    }
    nic_binary_decoder dec;
    nic_binary_context cx[8];
    memset(cx, 0, sizeof(cx));
    nic_binary_decoder_init(&dec, stream, stream_size);
    for (size_t i = 0; i < nbits; i++)
        bits[i] = (uint8_t)(adaptive ? nic_binary_decode_adaptive(&dec, &cx[i & 7])
                                     : nic_binary_decode(&dec, probs[i]));
    /* Whatever was decoded must survive an encode/decode round trip. */
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    memset(cx, 0, sizeof(cx));
    for (size_t i = 0; i < nbits; i++) {
        if (adaptive)
            nic_binary_encode_adaptive(&enc, bits[i], &cx[i & 7]);
        else
            nic_binary_encode(&enc, bits[i], probs[i]);
    }
    uint8_t *out;
    size_t out_size;
    if (nic_binary_encoder_finish(ctx, &enc, &out, &out_size) != NIC_OK)
        abort();
    nic_binary_decoder_init(&dec, out, out_size);
    memset(cx, 0, sizeof(cx));
    for (size_t i = 0; i < nbits; i++) {
        int b = adaptive ? nic_binary_decode_adaptive(&dec, &cx[i & 7])
                         : nic_binary_decode(&dec, probs[i]);
        if (b != bits[i])
            abort();
    }
    free(out);
    nic_context_destroy(ctx);
    return 0;
}
