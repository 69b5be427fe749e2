/*
 * Gaussian conditional coder: the committed constant tables against libm,
 * the built CDF tables (shape, golden checksum so any change of the tables
 * is caught), fixed-point scale selection, round trips with means, extreme
 * values and escapes, the decoder reproducing the encoder's table choices
 * when they depend on decoded values, a golden encoded stream, and coded
 * size against the ideal information content.
 */
#include <math.h>
#include <stdint.h>
#include <zlib.h>

#include "common/context.h"
#include "entropy/gaussian.h"
#include "test.h"

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double uniform01(void)
{
    return ((rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double gauss(void)
{
    return sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static void test_constants(void)
{
    int worst = 0;
    for (int i = 0; i < NIC_GAUSSIAN_TAIL_ENTRIES; i++) {
        double q = 0.5 * erfc((i / 256.0) / sqrt(2.0));
        double d = fabs(nic_gaussian_tail_q32[i] - floor(q * 4294967296.0 + 0.5));
        if (d > worst)
            worst = (int)d;
    }
    CHECK_MSG(worst <= 1, "tail table off by %d", worst);
    for (int i = 0; i < NIC_GAUSSIAN_SCALES; i++) {
        double s = 65536 * 0.11 * pow(256 / 0.11, i / 63.0);
        CHECK_MSG(fabs(nic_gaussian_scale_q16[i] - floor(s + 0.5)) <= 1, "scale %d", i);
        if (i > 0)
            CHECK(nic_gaussian_scale_q16[i] > nic_gaussian_scale_q16[i - 1]);
    }
    CHECK(nic_gaussian_scale_q16[0] == 7209 && nic_gaussian_scale_q16[63] == 16777216);
    /* Interpolated tail close to the real one everywhere. */
    double err = 0;
    for (int k = 0; k < 100000; k++) {
        double x = uniform01() * 9;
        uint64_t xq = (uint64_t)(x * 65536);
        double want = 0.5 * erfc((xq / 65536.0) / sqrt(2.0));
        double e = fabs(nic_gaussian_tail(xq) / 4294967296.0 - want);
        err = e > err ? e : err;
    }
    CHECK_MSG(err < 5e-7, "interpolation error %g", err);
}

static void test_tables(nic_context *ctx, nic_cdf_set *set)
{
    CHECK_STATUS(nic_gaussian_create(ctx, set), NIC_OK);
    CHECK(set->count == NIC_GAUSSIAN_SCALES);
    uLong crc = crc32(0, Z_NULL, 0);
    uint32_t prev_m = 0;
    int ok = 1;
    for (uint32_t t = 0; t < set->count; t++) {
        const nic_cdf *c = &set->cdfs[t];
        uint32_t m = (c->size - 2) / 2;
        ok &= c->size == 2 * m + 2 && c->offset == -(int32_t)m && m >= prev_m;
        prev_m = m;
        uint32_t end = (c->sym[c->size - 1] & 0xffff) + (c->sym[c->size - 1] >> 16);
        ok &= end == 65536 && (c->sym[0] & 0xffff) == 0;
        for (uint32_t s = 0; s + 1 < c->size; s++)
            ok &= (c->sym[s] & 0xffff) + (c->sym[s] >> 16) == (c->sym[s + 1] & 0xffff);
        /* The mode is at residual 0 (up to the +-1 of rounding each side). */
        for (uint32_t s = 0; s + 1 < c->size; s++)
            ok &= (c->sym[s] >> 16) <= (c->sym[m] >> 16) + 2;
        for (uint32_t s = 0; s < c->size; s++) { /* little-endian bytes on any host */
            uint8_t le[4] = {(uint8_t)c->sym[s], (uint8_t)(c->sym[s] >> 8),
                             (uint8_t)(c->sym[s] >> 16), (uint8_t)(c->sym[s] >> 24)};
            crc = crc32(crc, le, 4);
        }
    }
    CHECK(ok);
    printf("Gaussian tables: residual ranges +-%u (scale %.2f) .. +-%u (scale %.0f); CRC %08lx\n",
           (set->cdfs[0].size - 2) / 2, nic_gaussian_scale_q16[0] / 65536.0,
           (set->cdfs[63].size - 2) / 2, nic_gaussian_scale_q16[63] / 65536.0, crc);
    CHECK(set->cdfs[0].size == 2 && set->cdfs[63].size == 2 * 1026 + 2);
    /* Golden: the tables are part of the format; any change must be deliberate. */
    CHECK_MSG(crc == 0x4963fb10ul, "Gaussian tables changed: CRC %08lx", crc);
}

static void test_scale_index(void)
{
    CHECK(nic_gaussian_scale_index(0) == 0);
    CHECK(nic_gaussian_scale_index(7209) == 0);
    CHECK(nic_gaussian_scale_index(7210) == 1);
    CHECK(nic_gaussian_scale_index(UINT32_MAX) == 63);
    int ok = 1;
    for (uint16_t t = 0; t < NIC_GAUSSIAN_SCALES; t++) {
        ok &= nic_gaussian_scale_index(nic_gaussian_scale_q16[t]) == t;
        ok &= nic_gaussian_scale_index(nic_gaussian_scale_q16[t] - 1) == t;
        if (t < 63)
            ok &= nic_gaussian_scale_index(nic_gaussian_scale_q16[t] + 1) == t + 1;
    }
    CHECK(ok);
}

static nic_status code(nic_context *ctx, const nic_cdf_set *set, const int32_t *v,
                       const int32_t *mu, const uint16_t *idx, size_t n, unsigned lanes,
                       int32_t *out, size_t *bytes, uint32_t *crc)
{
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    uint8_t *buf;
    nic_status st = nic_gaussian_encode(ctx, set, v, mu, idx, n, &enc);
    if (st == NIC_OK)
        st = nic_rans_encoder_finish(ctx, &enc, lanes, &buf, bytes);
    nic_rans_encoder_free(&enc);
    if (st != NIC_OK)
        return st;
    if (crc)
        *crc = (uint32_t)crc32(0, buf, (uInt)*bytes);
    nic_rans_decoder dec;
    st = nic_rans_decoder_init(ctx, &dec, buf, *bytes, NULL);
    if (st == NIC_OK)
        st = nic_gaussian_decode(ctx, set, &dec, mu, idx, n, out);
    if (st == NIC_OK)
        st = nic_rans_decoder_finish(ctx, &dec, NULL);
    free(buf);
    return st;
}

static void test_roundtrip(nic_context *ctx, const nic_cdf_set *set)
{
    const size_t n = 200000;
    int32_t *v = malloc(n * sizeof(int32_t));
    int32_t *mu = malloc(n * sizeof(int32_t));
    int32_t *out = malloc(n * sizeof(int32_t));
    uint16_t *idx = malloc(n * sizeof(uint16_t));
    for (size_t i = 0; i < n; i++) {
        idx[i] = (uint16_t)(rng() % 64);
        double s = nic_gaussian_scale_q16[idx[i]] / 65536.0;
        mu[i] = (int32_t)(rng() % 2001) - 1000;
        /* Mostly from the model, some far outliers, some extreme values. */
        int64_t r = (int64_t)lrint(gauss() * s * (i % 97 == 0 ? 50 : 1));
        int64_t val = r + mu[i];
        if (i % 1009 == 0)
            val = (i & 1) ? INT32_MAX : INT32_MIN;
        v[i] = (int32_t)val;
    }
    size_t bytes;
    for (unsigned lanes = 1; lanes <= 8; lanes *= 2) {
        memset(out, 0, n * sizeof(int32_t));
        CHECK_STATUS(code(ctx, set, v, mu, idx, n, lanes, out, &bytes, NULL), NIC_OK);
        CHECK_MSG(memcmp(v, out, n * sizeof(int32_t)) == 0, "lanes %u", lanes);
    }
    /* Without means, all values escaping the narrowest table. */
    for (size_t i = 0; i < n; i++) {
        idx[i] = 0;
        v[i] = (int32_t)(rng() % 2000001) - 1000000;
        if (v[i] == 0)
            v[i] = 1;
    }
    CHECK_STATUS(code(ctx, set, v, NULL, idx, n, 0, out, &bytes, NULL), NIC_OK);
    CHECK(memcmp(v, out, n * sizeof(int32_t)) == 0);
    /* An index outside the set is a caller error. */
    idx[5] = 64;
    CHECK_STATUS(code(ctx, set, v, NULL, idx, n, 0, out, &bytes, NULL), NIC_ERR_INVALID_ARGUMENT);
    free(v);
    free(mu);
    free(out);
    free(idx);
}

/* A toy integer "context model": the scale of value i depends on the two
 * values before it. The decoder recomputes each choice from what it has
 * decoded; the recorded choices on both sides must be identical. */
static uint32_t context_scale_q16(const int32_t *vals, size_t i)
{
    uint32_t a = i >= 1 ? (uint32_t)(vals[i - 1] < 0 ? -vals[i - 1] : vals[i - 1]) : 0;
    uint32_t b = i >= 2 ? (uint32_t)(vals[i - 2] < 0 ? -vals[i - 2] : vals[i - 2]) : 0;
    uint32_t m = a > b ? a : b;
    if (m > 4000)
        m = 4000;
    return 9000 + m * 40000; /* 0.14 + 0.61 * max(|a|, |b|), fixed point */
}

static void test_decoder_sees_same_choices(nic_context *ctx, const nic_cdf_set *set)
{
    const size_t n = 100000;
    int32_t *v = malloc(n * sizeof(int32_t));
    int32_t *out = malloc(n * sizeof(int32_t));
    uint16_t *enc_choice = malloc(n * sizeof(uint16_t));
    uint16_t *dec_choice = malloc(n * sizeof(uint16_t));
    double level = 0;
    for (size_t i = 0; i < n; i++) {
        level = 0.995 * level + 0.05 * fabs(gauss());
        v[i] = (int32_t)lrint(gauss() * (0.2 + 8 * level * level));
    }
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    for (size_t i = 0; i < n; i++) {
        enc_choice[i] = nic_gaussian_scale_index(context_scale_q16(v, i));
        nic_cdf_encode_one(&set->cdfs[enc_choice[i]], v[i], &enc);
    }
    uint8_t *buf;
    size_t bytes;
    CHECK_STATUS(nic_rans_encoder_finish(ctx, &enc, 4, &buf, &bytes), NIC_OK);
    nic_rans_decoder dec;
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL), NIC_OK);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        dec_choice[i] = nic_gaussian_scale_index(context_scale_q16(out, i));
        int64_t r;
        ok &= nic_cdf_decode_one(&set->cdfs[dec_choice[i]], &dec, &r) == 0;
        out[i] = (int32_t)r;
    }
    CHECK(ok);
    CHECK_STATUS(nic_rans_decoder_finish(ctx, &dec, NULL), NIC_OK);
    CHECK(memcmp(enc_choice, dec_choice, n * sizeof(uint16_t)) == 0);
    CHECK(memcmp(v, out, n * sizeof(int32_t)) == 0);
    /* One different choice early on derails the rest (the check has teeth). */
    CHECK_STATUS(nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL), NIC_OK);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t t = nic_gaussian_scale_index(context_scale_q16(out, i));
        if (i == 10)
            t = (uint16_t)(t ^ 32);
        int64_t r;
        if (nic_cdf_decode_one(&set->cdfs[t], &dec, &r) != 0)
            break;
        differ += (int32_t)r != v[i];
    }
    CHECK(differ > 0 || nic_rans_decoder_finish(ctx, &dec, NULL) != NIC_OK);
    free(buf);
    nic_rans_encoder_free(&enc);
    free(v);
    free(out);
    free(enc_choice);
    free(dec_choice);
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* A fixed input (integer LCG, no libm) coded to a fixed checksum: catches
 * any change of the tables, the quantizer, rANS or the escape coding. */
static void test_golden_stream(nic_context *ctx, const nic_cdf_set *set)
{
    enum { N = 10000 };
    static int32_t v[N], mu[N], out[N];
    static uint16_t idx[N];
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        idx[i] = (uint16_t)(lcg(&s) % 40);
        mu[i] = (int32_t)(lcg(&s) % 64) - 32;
        int32_t spread = (int32_t)(nic_gaussian_scale_q16[idx[i]] >> 15) + 1;
        v[i] = mu[i] + (int32_t)(lcg(&s) % (uint32_t)(2 * spread + 1)) - spread;
        if (i % 500 == 7)
            v[i] += (i & 2) ? 100000 : -100000;
    }
    size_t bytes;
    uint32_t crc;
    CHECK_STATUS(code(ctx, set, v, mu, idx, N, 4, out, &bytes, &crc), NIC_OK);
    CHECK(memcmp(v, out, sizeof(v)) == 0);
    printf("golden Gaussian stream: %zu bytes, CRC %08x\n", bytes, crc);
    CHECK_MSG(bytes == 5955 && crc == 0x3875fbdfu, "golden stream is now %zu bytes, CRC %08x",
              bytes, crc);
}

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static void test_efficiency(nic_context *ctx, const nic_cdf_set *set)
{
    const size_t n = 1000000;
    int32_t *v = malloc(n * sizeof(int32_t));
    int32_t *out = malloc(n * sizeof(int32_t));
    uint16_t *idx = malloc(n * sizeof(uint16_t));
    double table_bits = 0, model_bits = 0;
    for (size_t i = 0; i < n; i++) {
        double sigma = 0.11 * pow(50 / 0.11, uniform01());
        idx[i] = nic_gaussian_scale_index((uint32_t)(sigma * 65536));
        double sc = nic_gaussian_scale_q16[idx[i]] / 65536.0;
        v[i] = (int32_t)lrint(gauss() * sc);
        table_bits += nic_cdf_cost_bits(&set->cdfs[idx[i]], v[i]);
        double p = normal_cdf((v[i] + 0.5) / sc) - normal_cdf((v[i] - 0.5) / sc);
        model_bits += -log2(p > 1e-300 ? p : 1e-300);
    }
    size_t bytes;
    CHECK_STATUS(code(ctx, set, v, NULL, idx, n, 0, out, &bytes, NULL), NIC_OK);
    double flush = 1 + 4 * 4;
    double vs_table = (bytes - flush) * 8 / table_bits - 1;
    double vs_model = (bytes - flush) * 8 / model_bits - 1;
    printf("Gaussian, 1M values: %zu bytes; vs table ideal %+.4f %%, vs continuous model %+.4f %%\n",
           bytes, 100 * vs_table, 100 * vs_model);
    CHECK(vs_table < 0.005);
    CHECK(vs_model < 0.005);
    free(v);
    free(out);
    free(idx);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    nic_cdf_set set;
    test_constants();
    test_tables(ctx, &set);
    test_scale_index();
    test_roundtrip(ctx, &set);
    test_decoder_sees_same_choices(ctx, &set);
    test_golden_stream(ctx, &set);
    test_efficiency(ctx, &set);
    nic_cdf_set_free(&set);
    nic_context_destroy(ctx);
    return test_finish("test_gaussian");
}
