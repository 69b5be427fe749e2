/*
 * Adaptive binary arithmetic coder: round trips with model probabilities at
 * 16 and 12 bits (including the extremes, clamped), with counts-based
 * adaptive contexts, empty and tiny streams, coded size within 0.5 % of
 * sum -log2 p plus a few bytes, a golden stream, decoding a truncated
 * stream (its prefix decodes correctly), and garbage input.
 */
#include <math.h>
#include <stdint.h>
#include <zlib.h>

#include "common/context.h"
#include "entropy/binary.h"
#include "test.h"

static uint64_t rng_state = 0x1b873593cc9e2d51ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double cost(int bit, uint32_t p1)
{
    p1 = p1 < 1 ? 1 : p1 > 65535 ? 65535 : p1;
    return -log2(bit ? p1 / 65536.0 : 1 - p1 / 65536.0);
}

/* Bits drawn from their own probabilities; returns ideal bits. */
static double make(size_t n, uint8_t *bits, uint32_t *p1, int precision_bits)
{
    double ideal = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t q = (uint32_t)(rng() >> (64 - precision_bits));
        if (i % 101 == 0)
            q = (i & 1) ? 0 : (1u << precision_bits) - 1; /* extremes */
        p1[i] = q << (16 - precision_bits);
        bits[i] = (uint8_t)((rng() & 0xffff) < p1[i]);
        if (i % 997 == 0)
            bits[i] ^= 1; /* now and then the unlikely outcome, even at p = 0 */
        ideal += cost(bits[i], p1[i]);
    }
    return ideal;
}

static void test_model_roundtrip(nic_context *ctx, int precision)
{
    const size_t n = 1000000;
    uint8_t *bits = malloc(n);
    uint32_t *p1 = malloc(n * sizeof(uint32_t));
    double ideal = make(n, bits, p1, precision);
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    for (size_t i = 0; i < n; i++)
        nic_binary_encode(&enc, bits[i], p1[i]);
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    double overhead = size * 8 / ideal - 1;
    printf("binary coder, %d-bit probabilities: %zu bytes, ideal %.0f, overhead %+.4f %%\n",
           precision, size, ideal / 8, 100 * overhead);
    CHECK(size * 8.0 <= ideal * 1.005 + 32);
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, buf, size);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += (uint8_t)nic_binary_decode(&dec, p1[i]) != bits[i];
    CHECK_MSG(wrong == 0, "%zu wrong bits", wrong);

    /* A cut stream: the bits paid for by the bytes kept still decode. */
    size_t keep = size * 3 / 4;
    nic_binary_decoder_init(&dec, buf, keep);
    double paid = 0;
    size_t first_wrong = n;
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)nic_binary_decode(&dec, p1[i]) != bits[i]) {
            first_wrong = i;
            break;
        }
    }
    size_t covered = 0;
    for (covered = 0; covered < n; covered++) {
        paid += cost(bits[covered], p1[covered]);
        if (paid > 8.0 * (keep - 6))
            break;
    }
    CHECK_MSG(first_wrong >= covered, "cut at %zu bytes: first wrong bit %zu, expected >= %zu",
              keep, first_wrong, covered);
    free(buf);
    free(bits);
    free(p1);
}

static void test_adaptive(nic_context *ctx)
{
    const size_t n = 500000;
    enum { K = 16 };
    uint8_t *bits = malloc(n);
    for (size_t i = 0; i < n; i++) {
        /* Context k has P(1) = k / 16; halfway through, the biases flip. */
        double p = ((i % K) + 0.5) / K;
        if (i > n / 2)
            p = 1 - p;
        bits[i] = (uint8_t)((rng() >> 11) * (1.0 / 9007199254740992.0) < p);
    }
    nic_binary_context cx[K];
    memset(cx, 0, sizeof(cx));
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    double ideal = 0;
    for (size_t i = 0; i < n; i++) {
        ideal += cost(bits[i], nic_binary_context_p1(&cx[i % K]));
        nic_binary_encode_adaptive(&enc, bits[i], &cx[i % K]);
    }
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    printf("binary coder, adaptive: %zu bytes, ideal (own estimates) %.0f\n", size, ideal / 8);
    CHECK(size * 8.0 <= ideal * 1.005 + 32);
    memset(cx, 0, sizeof(cx));
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, buf, size);
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += (uint8_t)nic_binary_decode_adaptive(&dec, &cx[i % K]) != bits[i];
    CHECK(wrong == 0);
    CHECK(dec.past_end <= 4);
    free(buf);
    free(bits);
    /* Counts halve at the limit and probabilities stay inside 1..65535. */
    nic_binary_context c = {0, 0};
    for (int i = 0; i < 5000; i++)
        nic_binary_context_update(&c, 1);
    CHECK(c.n0 + c.n1 < NIC_BINARY_COUNT_LIMIT && c.n1 > 500);
    uint32_t p = nic_binary_context_p1(&c);
    CHECK(p > 65000 && p <= 65535);
    CHECK(nic_binary_context_p1(&(nic_binary_context){0, 0}) == 32768);
}

static void test_small_streams(nic_context *ctx)
{
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    uint8_t *buf = (uint8_t *)1;
    size_t size = 7;
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    CHECK(buf == NULL && size == 0);
    /* 10000 certain bits cost almost nothing. */
    for (int i = 0; i < 10000; i++)
        nic_binary_encode(&enc, 1, 65535);
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    CHECK_MSG(size <= 2, "%zu bytes", size);
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, buf, size);
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= nic_binary_decode(&dec, 65535) == 1;
    CHECK(ok);
    free(buf);
    /* Every short pattern of 1..12 bits round-trips. */
    ok = 1;
    for (int len = 1; len <= 12; len++)
        for (uint32_t pat = 0; pat < (1u << len); pat++) {
            for (int i = 0; i < len; i++)
                nic_binary_encode(&enc, (pat >> i) & 1, 1000 + 5000u * (uint32_t)i);
            CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
            nic_binary_decoder_init(&dec, buf, size);
            for (int i = 0; i < len; i++)
                ok &= nic_binary_decode(&dec, 1000 + 5000u * (uint32_t)i) == (int)((pat >> i) & 1);
            free(buf);
        }
    CHECK(ok);
    nic_binary_encoder_free(&enc);
    /* Garbage never crashes. */
    uint8_t junk[64];
    for (int t = 0; t < 100; t++) {
        for (int i = 0; i < 64; i++)
            junk[i] = (uint8_t)rng();
        nic_binary_decoder_init(&dec, junk, (size_t)(rng() % 65));
        for (int i = 0; i < 2000; i++)
            (void)nic_binary_decode(&dec, (uint32_t)(rng() & 0x1ffff));
    }
}

static void test_golden(nic_context *ctx)
{
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    nic_binary_context cx[4] = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
    uint32_t s = 99;
    for (int i = 0; i < 20000; i++) {
        s = s * 1664525u + 1013904223u;
        int bit = (s >> 24) < (uint32_t)(40 + 50 * (i % 4));
        if (i & 1)
            nic_binary_encode_adaptive(&enc, bit, &cx[i % 4]);
        else
            nic_binary_encode(&enc, bit, (s >> 8) & 0xffff);
    }
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    uint32_t crc = (uint32_t)crc32(0, buf, (uInt)size);
    printf("golden binary stream: %zu bytes, CRC %08x\n", size, crc);
    CHECK_MSG(size == 2918 && crc == 0x3417904au, "golden binary stream is now %zu bytes, CRC %08x", size, crc);
    free(buf);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_model_roundtrip(ctx, 16);
    test_model_roundtrip(ctx, 12);
    test_adaptive(ctx);
    test_small_streams(ctx);
    test_golden(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_binary_coder");
}
