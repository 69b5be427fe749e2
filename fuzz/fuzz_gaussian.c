/*
 * Fuzz target: rANS stream decoding with the Gaussian conditional tables
 * (nic_rans_decoder_init, nic_gaussian_decode, nic_rans_decoder_finish),
 * including escapes. Input: 2 bytes of symbol count (< 8192), 1 byte that
 * seeds the per-value table indexes and means, then the stream. Property:
 * a stream that decodes cleanly is re-encoded to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entropy/gaussian.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nic_cdf_set tables; /* built once; read-only afterwards */
static int tables_ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    if (!tables_ready) {
        if (nic_gaussian_create(ctx, &tables) != NIC_OK)
            abort();
        tables_ready = 1;
    }
    size_t n = (data[0] | (size_t)data[1] << 8) & 8191;
    uint32_t seed = data[2] * 2654435761u + 1;
    const uint8_t *stream = data + 3;
    size_t stream_size = size - 3;
    uint16_t *idx = malloc((n ? n : 1) * sizeof(uint16_t));
    int32_t *means = malloc((n ? n : 1) * sizeof(int32_t));
    int32_t *values = malloc((n ? n : 1) * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        idx[i] = (uint16_t)((seed >> 16) % NIC_GAUSSIAN_SCALES);
        means[i] = (int32_t)((seed >> 8) & 0xff) - 128;
    }
    nic_rans_decoder dec;
    nic_status st = nic_rans_decoder_init(ctx, &dec, stream, stream_size, "fuzz");
    if (st == NIC_OK)
        st = nic_gaussian_decode(ctx, &tables, &dec, means, idx, n, values);
    if (st == NIC_OK)
        st = nic_rans_decoder_finish(ctx, &dec, "fuzz");
    if (st == NIC_OK) {
        nic_rans_encoder enc;
        nic_rans_encoder_init(&enc);
        uint8_t *out = NULL;
        size_t out_size = 0;
        unsigned lanes = stream_size ? 1u << (stream[0] & 3) : 1;
        if (nic_gaussian_encode(ctx, &tables, values, means, idx, n, &enc) != NIC_OK ||
            nic_rans_encoder_finish(ctx, &enc, lanes, &out, &out_size) != NIC_OK)
            abort();
        if (out_size != stream_size || (out_size && memcmp(out, stream, out_size) != 0))
            abort();
        free(out);
        nic_rans_encoder_free(&enc);
    }
    free(idx);
    free(means);
    free(values);
    nic_context_destroy(ctx);
    return 0;
}
