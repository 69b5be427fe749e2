/*
 * Fuzz target: the factorized-prior decoder (nic_factorized_decode) over a
 * fixed set of 8 channel tables of different widths, and bypass-bit reads.
 * Input: 1 byte (plane size = byte % 64), then the rANS stream. Property: a
 * stream that decodes cleanly is re-encoded to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entropy/factorized.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CHANNELS = 8, STRIDE = 40 };
static nic_cdf_set tables;
static int tables_ready;

static void build(nic_context *ctx)
{
    int32_t offsets[CHANNELS];
    uint32_t lengths[CHANNELS];
    static uint64_t w[CHANNELS * STRIDE];
    for (int c = 0; c < CHANNELS; c++) {
        lengths[c] = 2 + (uint32_t)c * 5;
        offsets[c] = -(int32_t)c * 2;
        for (uint32_t s = 0; s < lengths[c]; s++)
            w[c * STRIDE + s] = 1 + ((s * 7919u + (uint32_t)c * 31u) % 1000) * (s == 1 ? 50u : 1u);
    }
    if (nic_factorized_create_from_weights(ctx, &tables, CHANNELS, offsets, lengths, w, STRIDE) !=
        NIC_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    if (!tables_ready) {
        build(ctx);
        tables_ready = 1;
    }
    size_t plane = data[0] % 64;
    int32_t values[CHANNELS * 64];
    nic_rans_decoder dec;
    nic_status st = nic_rans_decoder_init(ctx, &dec, data + 1, size - 1, "fuzz");
    if (st == NIC_OK)
        st = nic_factorized_decode(ctx, &tables, &dec, CHANNELS, plane, values);
    if (st == NIC_OK)
        st = nic_rans_decoder_finish(ctx, &dec, "fuzz");
    if (st == NIC_OK) {
        nic_rans_encoder enc;
        nic_rans_encoder_init(&enc);
        uint8_t *out = NULL;
        size_t out_size = 0;
        unsigned lanes = size > 1 ? 1u << (data[1] & 3) : 1;
        if (nic_factorized_encode(ctx, &tables, values, CHANNELS, plane, &enc) != NIC_OK ||
            nic_rans_encoder_finish(ctx, &enc, lanes, &out, &out_size) != NIC_OK)
            abort();
        if (out_size != size - 1 || (out_size && memcmp(out, data + 1, out_size) != 0))
            abort();
        free(out);
        nic_rans_encoder_free(&enc);
    }
    nic_context_destroy(ctx);
    return 0;
}
