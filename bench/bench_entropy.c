/*
 * Entropy coder benchmark: encode and decode throughput of every coder on
 * one core (best of several runs), and coded size against the ideal
 * information content.
 *
 *   bench_entropy [symbols]      (default 4000000)
 *
 * Columns: M symbols/s and MB/s of symbols (4-byte int32 values; 1 byte per
 * bit for the binary coder) for encode and decode; "vs table" is the size
 * overhead over sum -log2(p) of the 16-bit tables the coder actually uses
 * (rANS loss + flush); "vs model" is the overhead over the exact
 * probabilities before 16-bit quantization (Gaussian: the continuous
 * model; binary: the probabilities passed in).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/context.h"
#include "entropy/binary.h"
#include "entropy/cdf.h"
#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "entropy/rans.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust to other load */
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define RUNS 3

static void row(const char *name, size_t n, double enc_s, double dec_s, size_t bytes,
                double ideal_table_bits, double ideal_model_bits, size_t unit)
{
    char model[32] = "n/a";
    if (ideal_model_bits > 0)
        snprintf(model, sizeof(model), "%+8.3f %%", 100.0 * (bytes * 8.0 / ideal_model_bits - 1.0));
    printf("| %-31s | %6.1f | %7.1f | %6.1f | %7.1f | %9zu | %+8.3f %% | %10s |\n", name,
           n / enc_s / 1e6, n * (double)unit / enc_s / 1e6, n / dec_s / 1e6,
           n * (double)unit / dec_s / 1e6, bytes,
           100.0 * (bytes * 8.0 / ideal_table_bits - 1.0), model);
}

static int die(nic_context *ctx)
{
    fprintf(stderr, "bench_entropy: %s\n", nic_context_error(ctx));
    return 1;
}

/* Codes values with the indexed coder, timing encode and decode. */
static int run_indexed(nic_context *ctx, const char *name, const nic_cdf_set *set,
                       const int32_t *values, const int32_t *means, const uint16_t *idx,
                       size_t n, unsigned lanes, double model_bits)
{
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    int32_t *back = malloc(n * sizeof(int32_t));
    double best_enc = 1e30, best_dec = 1e30;
    size_t bytes = 0;
    for (int r = 0; r < RUNS; r++) {
        uint8_t *buf;
        double t0 = now();
        if (nic_cdf_encode(ctx, set, values, means, idx, n, &enc) != NIC_OK ||
            nic_rans_encoder_finish(ctx, &enc, lanes, &buf, &bytes) != NIC_OK)
            return die(ctx);
        double t1 = now();
        nic_rans_decoder dec;
        if (nic_rans_decoder_init(ctx, &dec, buf, bytes, NULL) != NIC_OK ||
            nic_cdf_decode(ctx, set, &dec, means, idx, n, back) != NIC_OK ||
            nic_rans_decoder_finish(ctx, &dec, NULL) != NIC_OK)
            return die(ctx);
        double t2 = now();
        if (memcmp(back, values, n * sizeof(int32_t)) != 0) {
            fprintf(stderr, "bench_entropy: %s: round trip mismatch\n", name);
            return 1;
        }
        free(buf);
        best_enc = t1 - t0 < best_enc ? t1 - t0 : best_enc;
        best_dec = t2 - t1 < best_dec ? t2 - t1 : best_dec;
    }
    double table_bits = 0;
    for (size_t i = 0; i < n; i++)
        table_bits += nic_cdf_cost_bits(&set->cdfs[idx[i]], (int64_t)values[i] - (means ? means[i] : 0));
    row(name, n, best_enc, best_dec, bytes, table_bits, model_bits, 4);
    free(back);
    nic_rans_encoder_free(&enc);
    return 0;
}

static double normal_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

static double gaussian_build_ms;

static int bench_gaussian(nic_context *ctx, size_t n)
{
    nic_cdf_set set;
    double t0 = now();
    if (nic_gaussian_create(ctx, &set) != NIC_OK)
        return die(ctx);
    double build = now() - t0;
    int32_t *values = malloc(n * sizeof(int32_t));
    int32_t *means = malloc(n * sizeof(int32_t));
    uint16_t *idx = malloc(n * sizeof(uint16_t));
    /* Scales log-uniform in [0.11, 24] (the bulk of a hyperprior latent is
     * small-scale); values from the Gaussian of the table's scale. */
    double model_bits = 0;
    for (size_t i = 0; i < n; i++) {
        double sigma = 0.11 * pow(24 / 0.11, uniform01());
        idx[i] = nic_gaussian_scale_index((uint32_t)(sigma * 65536));
        double s = nic_gaussian_scale_q16[idx[i]] / 65536.0;
        means[i] = (int32_t)(rng() % 21) - 10;
        int32_t r = (int32_t)lrint(gauss() * s);
        values[i] = r + means[i];
        double p = normal_cdf((r + 0.5) / s) - normal_cdf((r - 0.5) / s);
        model_bits += -log2(p > 1e-300 ? p : 1e-300);
    }
    int rc = run_indexed(ctx, "gaussian conditional, 1 lane", &set, values, means, idx, n, 1,
                         model_bits);
    rc |= run_indexed(ctx, "gaussian conditional, 4 lanes", &set, values, means, idx, n, 4,
                      model_bits);
    rc |= run_indexed(ctx, "gaussian conditional, 8 lanes", &set, values, means, idx, n, 8,
                      model_bits);
    /* A low-rate latent: most scales tiny, as at 2 KB budgets. */
    model_bits = 0;
    for (size_t i = 0; i < n; i++) {
        double sigma = 0.11 * pow(2.0 / 0.11, uniform01() * uniform01());
        idx[i] = nic_gaussian_scale_index((uint32_t)(sigma * 65536));
        double s = nic_gaussian_scale_q16[idx[i]] / 65536.0;
        means[i] = 0;
        int32_t r = (int32_t)lrint(gauss() * s);
        values[i] = r;
        double p = normal_cdf((r + 0.5) / s) - normal_cdf((r - 0.5) / s);
        model_bits += -log2(p > 1e-300 ? p : 1e-300);
    }
    rc |= run_indexed(ctx, "gaussian low-rate, 4 lanes", &set, values, means, idx, n, 4,
                      model_bits);
    gaussian_build_ms = build * 1e3;
    nic_cdf_set_free(&set);
    free(values);
    free(means);
    free(idx);
    return rc;
}

static int bench_factorized(nic_context *ctx, size_t n)
{
    /* 192 channels, 64-symbol logistic-like pmfs of varying width. */
    enum { C = 192, L = 65 };
    int32_t offsets[C];
    uint32_t lengths[C];
    static uint64_t weights[C * L];
    for (int c = 0; c < C; c++) {
        offsets[c] = -32;
        lengths[c] = L;
        double width = 0.3 + 6.0 * c / C;
        for (int s = 0; s < L - 1; s++) {
            double x = (s - 32) / width;
            weights[c * L + s] = (uint64_t)(1e9 / (1 + x * x * x * x)) + 1;
        }
        weights[c * L + L - 1] = 1000;
    }
    nic_cdf_set set;
    if (nic_factorized_create_from_weights(ctx, &set, C, offsets, lengths, weights, L) != NIC_OK)
        return die(ctx);
    size_t plane = n / C;
    size_t m = plane * C;
    int32_t *values = malloc(m * sizeof(int32_t));
    uint16_t *idx = malloc(m * sizeof(uint16_t));
    for (int c = 0; c < C; c++)
        for (size_t i = 0; i < plane; i++) {
            const nic_cdf *t = &set.cdfs[c];
            uint32_t s = nic_cdf_find(t, (uint32_t)(rng() & 0xffff));
            values[c * plane + i] = s + 1 < t->size ? t->offset + (int32_t)s : 40;
            idx[c * plane + i] = (uint16_t)c;
        }
    int rc = run_indexed(ctx, "factorized prior, 4 lanes", &set, values, NULL, idx, m, 4, 0);
    nic_cdf_set_free(&set);
    free(values);
    free(idx);
    return rc;
}

static int bench_uniform(nic_context *ctx, size_t n)
{
    uint32_t size = 257;
    int32_t offset = 0;
    nic_cdf_set set;
    uint64_t w[257];
    for (int i = 0; i < 256; i++)
        w[i] = 1000;
    w[256] = 1;
    if (nic_cdf_set_create(ctx, &set, 1, &size, &offset) != NIC_OK ||
        nic_cdf_set_fill_weights(ctx, &set, 0, w) != NIC_OK)
        return die(ctx);
    int32_t *values = malloc(n * sizeof(int32_t));
    uint16_t *idx = calloc(n, sizeof(uint16_t));
    for (size_t i = 0; i < n; i++)
        values[i] = (int32_t)(rng() & 255);
    int rc = run_indexed(ctx, "rANS, 256 equal symbols, 4 l.", &set, values, NULL, idx, n, 4, 0);
    nic_cdf_set_free(&set);
    free(values);
    free(idx);
    return rc;
}

static int bench_binary(nic_context *ctx, size_t n, int adaptive)
{
    uint8_t *bits = malloc(n);
    uint16_t *p1 = malloc(n * sizeof(uint16_t));
    double model_bits = 0;
    for (size_t i = 0; i < n; i++) {
        /* Probabilities spread over (0, 1), skewed towards confident ones. */
        double u = uniform01();
        double p = u < 0.5 ? 0.5 * pow(2 * u, 3) : 1 - 0.5 * pow(2 * (1 - u), 3);
        uint32_t q = (uint32_t)(p * 65536);
        q = q < 1 ? 1 : q > 65535 ? 65535 : q;
        p1[i] = (uint16_t)q;
        bits[i] = uniform01() < q / 65536.0;
        model_bits += -log2(bits[i] ? q / 65536.0 : 1 - q / 65536.0);
    }
    if (adaptive) {
        /* 64 contexts, each with a fixed bias. */
        model_bits = 0;
        for (size_t i = 0; i < n; i++) {
            double p = 0.02 + 0.96 * ((i % 64) / 63.0);
            bits[i] = uniform01() < p;
            model_bits += -log2(bits[i] ? p : 1 - p);
        }
    }
    double best_enc = 1e30, best_dec = 1e30;
    size_t bytes = 0;
    double table_bits = 0;
    for (int r = 0; r < RUNS; r++) {
        nic_binary_encoder enc;
        nic_binary_encoder_init(&enc);
        nic_binary_context cx[64];
        memset(cx, 0, sizeof(cx));
        table_bits = 0;
        double t0 = now();
        if (adaptive) {
            for (size_t i = 0; i < n; i++)
                nic_binary_encode_adaptive(&enc, bits[i], &cx[i % 64]);
        } else {
            for (size_t i = 0; i < n; i++)
                nic_binary_encode(&enc, bits[i], p1[i]);
        }
        uint8_t *buf;
        if (nic_binary_encoder_finish(ctx, &enc, &buf, &bytes) != NIC_OK)
            return die(ctx);
        double t1 = now();
        nic_binary_decoder dec;
        nic_binary_decoder_init(&dec, buf, bytes);
        memset(cx, 0, sizeof(cx));
        size_t wrong = 0;
        if (adaptive) {
            for (size_t i = 0; i < n; i++)
                wrong += nic_binary_decode_adaptive(&dec, &cx[i % 64]) != bits[i];
        } else {
            for (size_t i = 0; i < n; i++)
                wrong += nic_binary_decode(&dec, p1[i]) != bits[i];
        }
        double t2 = now();
        if (wrong) {
            fprintf(stderr, "bench_entropy: binary round trip: %zu wrong bits\n", wrong);
            return 1;
        }
        free(buf);
        best_enc = t1 - t0 < best_enc ? t1 - t0 : best_enc;
        best_dec = t2 - t1 < best_dec ? t2 - t1 : best_dec;
    }
    if (adaptive) {
        /* "vs table": against the coder's own adaptive estimates. */
        nic_binary_context cx[64];
        memset(cx, 0, sizeof(cx));
        for (size_t i = 0; i < n; i++) {
            uint32_t q = nic_binary_context_p1(&cx[i % 64]);
            table_bits += -log2(bits[i] ? q / 65536.0 : 1 - q / 65536.0);
            nic_binary_context_update(&cx[i % 64], bits[i]);
        }
    } else {
        table_bits = model_bits;
    }
    row(adaptive ? "binary, adaptive counts" : "binary, model probabilities", n, best_enc,
        best_dec, bytes, table_bits, model_bits, 1);
    free(bits);
    free(p1);
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 4000000;
    if (n < 1000)
        n = 1000;
    nic_context *ctx = nic_context_create();
    printf("Entropy coders, %zu symbols, best of %d runs, one thread\n\n", n, RUNS);
    printf("| %-31s | %6s | %7s | %6s | %7s | %9s | %10s | %10s |\n", "coder", "enc", "enc",
           "dec", "dec", "bytes", "vs table", "vs model");
    printf("| %-31s | %6s | %7s | %6s | %7s | %9s | %10s | %10s |\n", "", "Msym/s", "MB/s",
           "Msym/s", "MB/s", "", "", "");
    printf("|---------------------------------|--------|---------|--------|---------|-----------|"
           "------------|------------|\n");
    int rc = bench_gaussian(ctx, n);
    rc |= bench_factorized(ctx, n);
    rc |= bench_uniform(ctx, n);
    rc |= bench_binary(ctx, n, 0);
    rc |= bench_binary(ctx, n, 1);
    printf("\nGaussian tables (64 scales) built in %.2f ms.\n", gaussian_build_ms);
    nic_context_destroy(ctx);
    return rc;
}
