/*
 * Factorized-prior coder: per-channel tables from a model's quantized CDFs
 * (CompressAI layout, with a stride) and from integer weights; planar round
 * trips with escapes on both sides and extreme values; an empty tensor;
 * channel-count mismatch and invalid CDFs reported with the channel; coded
 * size against the ideal information content.
 */
#include <stdint.h>

#include "common/context.h"
#include "entropy/factorized.h"
#include "test.h"

static uint64_t rng_state = 0xda942042e4dd58b5ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

enum { C = 24, STRIDE = 80 };

/* Channel c: values -(c + 2) .. c + 2 with a peaked pmf, as a quantized CDF. */
static void make_cdfs(int32_t *offsets, uint32_t *lengths, uint32_t *cdfs)
{
    for (int c = 0; c < C; c++) {
        int half = c + 2;
        offsets[c] = -half;
        lengths[c] = (uint32_t)(2 * half + 2); /* 2 half + 1 values + escape */
        uint64_t w[STRIDE];
        uint64_t total = 0;
        for (uint32_t s = 0; s < lengths[c]; s++) {
            int v = (int)s - half;
            w[s] = s + 1 == lengths[c] ? 3 : (uint64_t)(4000 / (1 + v * v * (c % 5 + 1)));
            total += w[s];
        }
        /* A simple 16-bit quantization (as a model exporter might do it). */
        uint32_t *cdf = cdfs + (size_t)c * STRIDE;
        cdf[0] = 0;
        uint64_t acc = 0;
        for (uint32_t s = 0; s < lengths[c]; s++) {
            acc += w[s];
            cdf[s + 1] = (uint32_t)(acc * (65536 - lengths[c]) / total) + s + 1;
        }
    }
}

static void test_from_cdfs(nic_context *ctx)
{
    int32_t offsets[C];
    uint32_t lengths[C];
    static uint32_t cdfs[C * STRIDE];
    make_cdfs(offsets, lengths, cdfs);
    nic_cdf_set set;
    CHECK_STATUS(nic_factorized_create_from_cdfs(ctx, &set, C, offsets, lengths, cdfs, STRIDE), NIC_OK);
    const size_t plane = 16 * 12;
    int32_t *v = malloc(C * plane * sizeof(int32_t));
    int32_t *out = malloc(C * plane * sizeof(int32_t));
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < plane; i++) {
            int32_t x = (int32_t)(rng() % (uint64_t)(2 * c + 5)) - (c + 2);
            if (rng() % 50 == 0)
                x = (rng() & 1) ? 1000 + (int32_t)(rng() % 100000) : -1000 - (int32_t)(rng() % 100000);
            if (rng() % 2000 == 0)
                x = (rng() & 1) ? INT32_MAX : INT32_MIN;
            v[c * plane + i] = x;
        }
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_factorized_encode(ctx, &set, v, C, plane, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_OK);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
    CHECK_STATUS(nic_factorized_decode(ctx, &set, &dec, C, plane, out), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(v, out, C * plane * sizeof(int32_t)) == 0);
    /* The decoder must be given the model's channel count. */
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
    CHECK_STATUS(nic_factorized_decode(ctx, &set, &dec, C - 1, plane, out), NIC_ERR_MISMATCH);
    CHECK_STATUS(nic_factorized_encode(ctx, &set, v, C + 1, plane, &enc), NIC_ERR_MISMATCH);
    /* Truncated: an error naming the channel, never a crash. */
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size / 2, NULL), NIC_OK);
    CHECK_STATUS(nic_factorized_decode(ctx, &set, &dec, C, plane, out), NIC_ERR_CORRUPT);
    CHECK(strstr(nic_context_error(ctx), "factorized prior: channel") != NULL);
    free(buf);
    /* Empty tensor: empty stream. */
    CHECK_STATUS(nic_factorized_encode(ctx, &set, v, C, 0, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_OK);
    CHECK(size == 0);
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
    CHECK_STATUS(nic_factorized_decode(ctx, &set, &dec, C, 0, out), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    nic_rans_encoder_free(&enc);
    nic_cdf_set_free(&set);

    /* Invalid CDFs are refused with the channel named. */
    cdfs[5 * STRIDE + 3] = cdfs[5 * STRIDE + 2];
    CHECK_STATUS(nic_factorized_create_from_cdfs(ctx, &set, C, offsets, lengths, cdfs, STRIDE),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(strstr(nic_context_error(ctx), "channel 5") != NULL);
    CHECK_STATUS(nic_factorized_create_from_cdfs(ctx, &set, C, offsets, lengths, cdfs, 10),
                 NIC_ERR_INVALID_ARGUMENT);
    free(v);
    free(out);
}

static void test_from_weights_efficiency(nic_context *ctx)
{
    enum { CH = 8, L = 33 };
    int32_t offsets[CH];
    uint32_t lengths[CH];
    static uint64_t w[CH * L];
    for (int c = 0; c < CH; c++) {
        offsets[c] = -16;
        lengths[c] = L;
        for (int s = 0; s < L - 1; s++) {
            int v = s - 16;
            w[c * L + s] = (uint64_t)(1u << 20) >> (unsigned)((v < 0 ? -v : v) * (c + 1) / 2 > 20 ? 20 : (v < 0 ? -v : v) * (c + 1) / 2);
        }
        w[c * L + L - 1] = 1;
    }
    nic_cdf_set set;
    CHECK_STATUS(nic_factorized_create_from_weights(ctx, &set, CH, offsets, lengths, w, L), NIC_OK);
    const size_t plane = 100000;
    int32_t *v = malloc(CH * plane * sizeof(int32_t));
    int32_t *out = malloc(CH * plane * sizeof(int32_t));
    double ideal = 0;
    for (int c = 0; c < CH; c++)
        for (size_t i = 0; i < plane; i++) {
            const nic_cdf *t = &set.cdfs[c];
            uint32_t s = nic_cdf_find(t, (uint32_t)(rng() & 0xffff));
            int32_t x = s + 1 < t->size ? t->offset + (int32_t)s : 17 + (int32_t)(rng() % 5);
            v[c * plane + i] = x;
            ideal += nic_cdf_cost_bits(t, x);
        }
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_factorized_encode(ctx, &set, v, CH, plane, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_OK);
    double overhead = (size - 17.0) * 8 / ideal - 1;
    printf("factorized, %d x %zu values: %zu bytes, overhead vs ideal %+.4f %%\n", CH, plane, size,
           100 * overhead);
    CHECK(overhead < 0.005);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
    CHECK_STATUS(nic_factorized_decode(ctx, &set, &dec, CH, plane, out), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(v, out, CH * plane * sizeof(int32_t)) == 0);
    free(buf);
    nic_rans_encoder_free(&enc);
    nic_cdf_set_free(&set);
    free(v);
    free(out);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_from_cdfs(ctx);
    test_from_weights_efficiency(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_factorized");
}
