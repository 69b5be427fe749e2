/*
 * rANS core and the indexed CDF coder: round trips of random streams with
 * per-symbol table choice over every lane count, bypass bits and escapes,
 * empty, single-symbol and very long uniform streams, extreme values, the CDF quantizer's
 * guarantees, coded size against the ideal information content, and
 * corrupt/truncated streams (errors, never crashes).
 */
#include <stdint.h>

#include "common/context.h"
#include "entropy/cdf.h"
#include "entropy/rans.h"
#include "test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A set of `count` random tables of random sizes and shapes. */
static nic_status random_set(nic_context *ctx, nic_cdf_set *set, uint32_t count, uint32_t max_size)
{
    uint32_t sizes[64];
    int32_t offsets[64];
    for (uint32_t i = 0; i < count; i++) {
        sizes[i] = 2 + (uint32_t)(rng() % (max_size - 1));
        offsets[i] = (int32_t)(rng() % 41) - 20;
    }
    NIC_TRY(nic_cdf_set_create(ctx, set, count, sizes, offsets));
    uint64_t w[4096];
    for (uint32_t i = 0; i < count; i++) {
        int shape = (int)(rng() % 3);
        for (uint32_t s = 0; s < sizes[i]; s++) {
            if (shape == 0)
                w[s] = 1 + rng() % 1000; /* rough */
            else if (shape == 1)
                w[s] = (uint64_t)1 << (s < 40 ? 40 - s : 0); /* geometric, very skewed */
            else
                w[s] = s == 0 ? 1000000 : 1; /* one dominant symbol */
        }
        NIC_TRY(nic_cdf_set_fill_weights(ctx, set, i, w));
    }
    return NIC_OK;
}

/* Value drawn from table c's own distribution (so it is usually in range). */
static int32_t draw(const nic_cdf *c)
{
    uint32_t slot = (uint32_t)(rng() & 0xffff);
    uint32_t s = nic_cdf_find(c, slot);
    if (s + 1 < c->size)
        return c->offset + (int32_t)s;
    /* Escape: a value outside the range, near or far. */
    int64_t d = (int64_t)(rng() % 4 == 0 ? rng() % 1000000 : rng() % 3);
    return (rng() & 1) ? c->offset - 1 - (int32_t)d : c->offset + (int32_t)(c->size - 1) + (int32_t)d;
}

static void test_roundtrip_lanes(nic_context *ctx)
{
    nic_cdf_set set;
    CHECK_STATUS(random_set(ctx, &set, 16, 300), NIC_OK);
    const size_t n = 50000;
    int32_t *values = malloc(n * sizeof(int32_t));
    int32_t *means = malloc(n * sizeof(int32_t));
    int32_t *decoded = malloc(n * sizeof(int32_t));
    uint16_t *idx = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        idx[i] = (uint16_t)(rng() % set.count);
        means[i] = (int32_t)(rng() % 201) - 100;
        values[i] = draw(&set.cdfs[idx[i]]) + means[i];
    }
    for (unsigned lanes = 1; lanes <= 8; lanes *= 2) {
        nic_rans_encoder enc;
        nic_rans_encoder_init(&enc);
        uint8_t *buf = NULL;
        size_t size = 0;
        CHECK_STATUS(nic_cdf_encode(ctx, &set, values, means, idx, n, &enc), NIC_OK);
        CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, lanes, &buf, &size), NIC_OK);
        CHECK(size > 1 + 4 * lanes);
        CHECK(buf && buf[0] == (lanes == 1 ? 0 : lanes == 2 ? 1 : lanes == 4 ? 2 : 3));
        nic_rans_decoder dec;
        CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
        memset(decoded, 0x55, n * sizeof(int32_t));
        CHECK_STATUS(nic_cdf_decode(ctx, &set, &dec, means, idx, n, decoded), NIC_OK);
        CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
        CHECK_MSG(memcmp(values, decoded, n * sizeof(int32_t)) == 0, "lanes %u", lanes);
        /* Decoding one symbol too few leaves bytes or states behind. */
        CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
        CHECK_STATUS(nic_cdf_decode(ctx, &set, &dec, means, idx, n - 1, decoded), NIC_OK);
        CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_ERR_CORRUPT);
        free(buf);
        nic_rans_encoder_free(&enc);
    }
    free(values);
    free(means);
    free(decoded);
    free(idx);
    nic_cdf_set_free(&set);
}

static void test_empty_and_single(nic_context *ctx)
{
    nic_cdf_set set;
    CHECK_STATUS(random_set(ctx, &set, 2, 10), NIC_OK);
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf = (uint8_t *)1;
    size_t size = 99;
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_OK);
    CHECK(buf == NULL && size == 0);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, NULL, 0, NULL), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    /* A header and states but no symbols is not the (empty) canonical form. */
    static const uint8_t states_only[5] = {0x00, 0x00, 0x00, 0x80, 0x00};
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, states_only, 5, NULL), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_ERR_CORRUPT);
    /* Decoding from an empty stream is an error, not a crash. */
    int32_t v[4];
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, NULL, 0, NULL), NIC_OK);
    CHECK(nic_cdf_decode_run(ctx, &set, 0, &dec, 4, v) != NIC_OK ||
          nic_rans_decoder_finish(ctx, &dec, NULL) != NIC_OK);

    for (int32_t value = -3; value <= 12; value++) {
        int32_t one = value, back = 12345;
        CHECK_STATUS(nic_cdf_encode_run(ctx, &set, 1, &one, 1, &enc), NIC_OK);
        CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_OK);
        CHECK(size >= 5);
        CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
        CHECK_STATUS(nic_cdf_decode_run(ctx, &set, 1, &dec, 1, &back), NIC_OK);
        CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
        CHECK_MSG(back == one, "single value %d decoded as %d", one, back);
        free(buf);
    }
    nic_rans_encoder_free(&enc);
    nic_cdf_set_free(&set);
}

static void test_extremes_and_all_escape(nic_context *ctx)
{
    /* A narrow table: values 0..2, everything else escapes. */
    uint32_t size = 4;
    int32_t offset = 0;
    nic_cdf_set set;
    CHECK_STATUS(nic_cdf_set_create(ctx, &set, 1, &size, &offset), NIC_OK);
    uint64_t w[4] = {10, 10, 10, 1};
    CHECK_STATUS(nic_cdf_set_fill_weights(ctx, &set, 0, w), NIC_OK);
    int32_t vals[] = {INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1, -1, 3, 4, -2, 0, 1, 2,
                      1 << 30, -(1 << 30), 1000000007, -999999937};
    int32_t means[] = {INT32_MAX, INT32_MIN, 0, 0, 0, 0, 0, 0, 0, 0, 0, INT32_MIN, INT32_MAX, 5, -5};
    size_t n = sizeof(vals) / sizeof(vals[0]);
    uint16_t idx[sizeof(vals) / sizeof(vals[0])] = {0};
    int32_t back[sizeof(vals) / sizeof(vals[0])];
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf;
    size_t bytes;
    CHECK_STATUS(nic_cdf_encode(ctx, &set, vals, means, idx, n, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 2, &buf, &bytes), NIC_OK);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL), NIC_OK);
    CHECK_STATUS(nic_cdf_decode(ctx, &set, &dec, means, idx, n, back), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(vals, back, sizeof(vals)) == 0);
    free(buf);

    /* A long stream where every value escapes. */
    const size_t m = 20000;
    int32_t *all = malloc(m * sizeof(int32_t));
    int32_t *out = malloc(m * sizeof(int32_t));
    for (size_t i = 0; i < m; i++)
        all[i] = (i & 1) ? 3 + (int32_t)(rng() % 100000) : -1 - (int32_t)(rng() % 70000);
    CHECK_STATUS(nic_cdf_encode_run(ctx, &set, 0, all, m, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &bytes), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL), NIC_OK);
    CHECK_STATUS(nic_cdf_decode_run(ctx, &set, 0, &dec, m, out), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(all, out, m * sizeof(int32_t)) == 0);
    /* Every truncation of it fails cleanly. */
    for (size_t cut = 0; cut < bytes; cut += 1 + cut / 7) {
        nic_status st = nic_rans_decoder_init(ctx, &dec, buf, cut, NULL);
        if (st == NIC_OK) {
            st = nic_cdf_decode_run(ctx, &set, 0, &dec, m, out);
            if (st == NIC_OK)
                st = nic_rans_decoder_finish(ctx, &dec, NULL);
        }
        CHECK_MSG(st != NIC_OK, "truncated to %zu of %zu bytes but decoded", cut, bytes);
    }
    free(buf);
    free(all);
    free(out);
    nic_rans_encoder_free(&enc);
    nic_cdf_set_free(&set);
}

static void test_bypass(nic_context *ctx)
{
    /* Symbols interleaved with raw bit groups of every width. */
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    const size_t n = 5000;
    uint32_t *bits = malloc(n * sizeof(uint32_t));
    unsigned *widths = malloc(n * sizeof(unsigned));
    for (size_t i = 0; i < n; i++) {
        nic_rans_put(&enc, 100, 65000); /* a likely symbol */
        widths[i] = 1 + (unsigned)(i % 16);
        bits[i] = (uint32_t)rng() & ((1u << widths[i]) - 1);
        nic_rans_put_bits(&enc, bits[i], widths[i]);
    }
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 4, &buf, &size), NIC_OK);
    uint64_t ideal_bits = 0;
    for (size_t i = 0; i < n; i++)
        ideal_bits += widths[i];
    CHECK_MSG(size * 8 <= ideal_bits * 1.005 + n * 0.01 + 64, "%zu bytes for %llu raw bits", size,
              (unsigned long long)ideal_bits);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, size, NULL), NIC_OK);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t slot = nic_rans_peek(&dec);
        ok &= slot >= 100 && slot < 65100;
        nic_rans_advance(&dec, slot, 100, 65000);
        ok &= nic_rans_get_bits(&dec, widths[i]) == bits[i];
    }
    CHECK(ok);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    free(buf);
    /* Bits before any symbol are a usage error, reported at finish. */
    nic_rans_put_bits(&enc, 1, 1);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &size), NIC_ERR_INTERNAL);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 3, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    nic_rans_encoder_free(&enc);
    free(bits);
    free(widths);
}

static void test_quantizer(nic_context *ctx)
{
    uint64_t w[70000];
    uint32_t f[70000];
    /* Every frequency >= 1, the sum exactly 2^16, for many shapes and sizes. */
    for (int trial = 0; trial < 300; trial++) {
        uint32_t n = 2 + (uint32_t)(rng() % (trial < 290 ? 3000 : 65535));
        for (uint32_t i = 0; i < n; i++)
            w[i] = (trial % 3 == 0) ? rng() % 5 : (trial % 3 == 1) ? (rng() >> 34) : (i == 7 % n ? 1ull << 46 : 0);
        w[rng() % n] += 1;
        CHECK_STATUS(nic_cdf_quantize(ctx, w, n, f), NIC_OK);
        uint64_t sum = 0;
        uint32_t minf = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++) {
            sum += f[i];
            minf = f[i] < minf ? f[i] : minf;
        }
        CHECK_MSG(sum == 65536 && minf >= 1, "n %u sum %llu min %u", n, (unsigned long long)sum, minf);
    }
    /* n = 2^16: every symbol gets exactly 1. */
    for (uint32_t i = 0; i < 65536; i++)
        w[i] = i;
    CHECK_STATUS(nic_cdf_quantize(ctx, w, 65536, f), NIC_OK);
    CHECK(f[0] == 1 && f[65535] == 1);
    /* Proportional where no symbol is clamped. */
    uint64_t even[4] = {1, 1, 1, 1};
    CHECK_STATUS(nic_cdf_quantize(ctx, even, 4, f), NIC_OK);
    CHECK(f[0] == 16384 && f[1] == 16384 && f[2] == 16384 && f[3] == 16384);
    uint64_t bad[2] = {0, 0};
    CHECK_STATUS(nic_cdf_quantize(ctx, bad, 2, f), NIC_ERR_INVALID_ARGUMENT);
    uint64_t huge[2] = {1ull << 47, 1};
    CHECK_STATUS(nic_cdf_quantize(ctx, huge, 2, f), NIC_ERR_INVALID_ARGUMENT);
    /* Explicit CDFs are validated. */
    uint32_t size = 3;
    int32_t off = 0;
    nic_cdf_set set;
    CHECK_STATUS(nic_cdf_set_create(ctx, &set, 1, &size, &off), NIC_OK);
    uint32_t good[4] = {0, 100, 65000, 65536};
    uint32_t flat[4] = {0, 100, 100, 65536};
    uint32_t shortc[4] = {0, 100, 200, 65535};
    CHECK_STATUS(nic_cdf_set_fill_cdf(ctx, &set, 0, good), NIC_OK);
    CHECK_STATUS(nic_cdf_set_fill_cdf(ctx, &set, 0, flat), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_cdf_set_fill_cdf(ctx, &set, 0, shortc), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_cdf_set_fill_cdf(ctx, &set, 1, good), NIC_ERR_INVALID_ARGUMENT);
    nic_cdf_set_free(&set);
    uint32_t bad_size = 1;
    CHECK_STATUS(nic_cdf_set_create(ctx, &set, 1, &bad_size, &off), NIC_ERR_INVALID_ARGUMENT);
}

/* Coded size within 0.5 % (+ flush) of sum -log2(freq / 2^16) on long streams. */
static void test_efficiency(nic_context *ctx)
{
    nic_cdf_set set;
    CHECK_STATUS(random_set(ctx, &set, 8, 200), NIC_OK);
    const size_t n = 1000000;
    int32_t *values = malloc(n * sizeof(int32_t));
    uint16_t *idx = malloc(n * sizeof(uint16_t));
    double ideal = 0;
    for (size_t i = 0; i < n; i++) {
        idx[i] = (uint16_t)(rng() % set.count);
        values[i] = draw(&set.cdfs[idx[i]]);
        ideal += nic_cdf_cost_bits(&set.cdfs[idx[i]], values[i]);
    }
    for (unsigned lanes = 1; lanes <= 8; lanes *= 4) {
        nic_rans_encoder enc;
        nic_rans_encoder_init(&enc);
        uint8_t *buf;
        size_t size;
        CHECK_STATUS(nic_cdf_encode(ctx, &set, values, NULL, idx, n, &enc), NIC_OK);
        CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, lanes, &buf, &size), NIC_OK);
        double flush = 1 + 4.0 * lanes;
        double overhead = (size - flush) * 8.0 / ideal - 1.0;
        printf("rANS efficiency, %u lane(s): %zu bytes, ideal %.0f bytes, overhead %.4f %%\n", lanes,
               size, ideal / 8, 100 * overhead);
        CHECK_MSG(overhead < 0.005, "overhead %.4f %%", 100 * overhead);
        free(buf);
        nic_rans_encoder_free(&enc);
    }
    free(values);
    free(idx);
    nic_cdf_set_free(&set);
}

/* A very long stream of equiprobable bytes: 8 bits each, exactly. */
static void test_uniform_long(nic_context *ctx)
{
    uint32_t size = 257;
    int32_t offset = 0;
    nic_cdf_set set;
    CHECK_STATUS(nic_cdf_set_create(ctx, &set, 1, &size, &offset), NIC_OK);
    uint32_t cdf[258];
    for (uint32_t i = 0; i <= 256; i++)
        cdf[i] = i * 255; /* 256 values of 255 / 65536, escape gets the rest (256) */
    cdf[257] = 65536;
    CHECK_STATUS(nic_cdf_set_fill_cdf(ctx, &set, 0, cdf), NIC_OK);
    const size_t n = 3000000;
    int32_t *v = malloc(n * sizeof(int32_t));
    int32_t *out = malloc(n * sizeof(int32_t));
    double ideal = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = (int32_t)(rng() & 255);
        ideal += nic_cdf_cost_bits(&set.cdfs[0], v[i]);
    }
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf;
    size_t bytes;
    CHECK_STATUS(nic_cdf_encode_run(ctx, &set, 0, v, n, &enc), NIC_OK);
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 0, &buf, &bytes), NIC_OK);
    CHECK(buf[0] == 2); /* large stream: 4 lanes */
    CHECK_MSG(bytes * 8.0 <= ideal * 1.005 + 17 * 8, "%zu bytes for %.0f ideal", bytes, ideal / 8);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL), NIC_OK);
    CHECK_STATUS(nic_cdf_decode_run(ctx, &set, 0, &dec, n, out), NIC_OK);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(v, out, n * sizeof(int32_t)) == 0);
    free(buf);
    free(v);
    free(out);
    nic_rans_encoder_free(&enc);
    nic_cdf_set_free(&set);
}

static void test_corrupt_headers(nic_context *ctx)
{
    nic_rans_decoder dec;
    uint8_t reserved[5] = {0x04, 0, 0, 0x80, 0};
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, reserved, 5, "s"), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "offset 0") != NULL);
    uint8_t low_state[5] = {0x00, 0xff, 0xff, 0x7f, 0x00};
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, low_state, 5, "s"), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "lane 0") != NULL);
    uint8_t short_lanes[9] = {0x03, 0, 0, 0x80, 0};
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, short_lanes, 9, "s"), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "truncated") != NULL);

    /* Random garbage never crashes and is usually rejected. */
    nic_cdf_set set;
    CHECK_STATUS(random_set(ctx, &set, 4, 50), NIC_OK);
    uint8_t junk[64];
    int32_t out[100];
    uint16_t idx[100];
    for (int i = 0; i < 100; i++)
        idx[i] = (uint16_t)(i % 4);
    int rejected = 0;
    for (int t = 0; t < 2000; t++) {
        size_t len = 1 + rng() % sizeof(junk);
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rng();
        junk[0] &= 3;
        nic_status st = nic_rans_decoder_init(ctx, &dec, junk, len, NULL);
        if (st == NIC_OK)
            st = nic_cdf_decode(ctx, &set, &dec, NULL, idx, 100, out);
        if (st == NIC_OK)
            st = nic_rans_decoder_finish(ctx, &dec, NULL);
        rejected += st != NIC_OK;
    }
    CHECK(rejected > 1900);
    nic_cdf_set_free(&set);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_roundtrip_lanes(ctx);
    test_empty_and_single(ctx);
    test_extremes_and_all_escape(ctx);
    test_bypass(ctx);
    test_quantizer(ctx);
    test_efficiency(ctx);
    test_uniform_long(ctx);
    test_corrupt_headers(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_rans");
}
