/* The binary coding of CDF tables (entropy/cdf_binary.h) and the files of the
 * MNIST model (codec/mnist_codec.h): round trips, sizes near the ideal, and
 * clean errors on damaged or foreign input. */
#include "test.h"

#include "codec/mnist_codec.h"
#include "entropy/cdf_binary.h"
#include "entropy/gaussian.h"

static void test_cdf_binary(nic_context *ctx)
{
    nic_cdf_set set;
    CHECK_STATUS(nic_gaussian_create(ctx, &set), NIC_OK);
    enum { N = 20000 };
    static int64_t values[N];
    static uint16_t tables[N];
    nn_rng rng;
    nn_rng_seed(&rng, 3);
    double ideal = 0, table = 0;
    for (int i = 0; i < N; i++) {
        tables[i] = (uint16_t)nn_rng_below(&rng, NIC_GAUSSIAN_SCALES);
        double sigma = nic_gaussian_scale_q16[tables[i]] / 65536.0;
        values[i] = (int64_t)llround(nn_rng_normal(&rng) * sigma);
        if (i % 997 == 0) /* escapes, far and near */
            values[i] = i % 2 ? 5000000 + i : -(int64_t)(i + 1) * 1000;
        if (i == 1)
            values[i] = INT32_MIN;
        if (i == 2)
            values[i] = INT32_MAX;
        ideal += nic_cdf_binary_cost_bits(&set.cdfs[tables[i]], values[i]);
        table += nic_cdf_cost_bits(&set.cdfs[tables[i]], values[i]);
    }
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    for (int i = 0; i < N; i++)
        nic_cdf_encode_binary(&set.cdfs[tables[i]], values[i], &enc);
    uint8_t *buf = NULL;
    size_t size = 0;
    CHECK_STATUS(nic_binary_encoder_finish(ctx, &enc, &buf, &size), NIC_OK);
    CHECK_MSG(size * 8.0 <= ideal * 1.001 + 16 && size * 8.0 >= ideal * 0.999 - 16,
              "%zu bytes for %.0f ideal bits", size, ideal);
    /* Bisection loses little against the 16-bit table itself (what rANS would code). */
    CHECK_MSG(size * 8.0 <= table * 1.005 + 16, "%zu bytes, the table's ideal %.0f bits", size,
              table);
    printf("binary bisection: %zu bytes for %d values; table ideal %.0f bits (%+.3f %%)\n", size,
           N, table, 100.0 * (size * 8.0 / table - 1.0));
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, buf, size);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        int64_t r;
        if (nic_cdf_decode_binary(&set.cdfs[tables[i]], &dec, &r) != 0 || r != values[i])
            wrong++;
    }
    CHECK_MSG(wrong == 0, "%d of %d values decoded wrong", wrong, N);
    /* The binary decisions cost what the 16-bit table says, to within rounding. */
    const nic_cdf *c = &set.cdfs[40];
    for (int64_t v = -3; v <= 3; v++) {
        int64_t s = v - c->offset;
        uint32_t e = c->sym[s];
        double table_bits = -log2((e >> 16) / 65536.0);
        CHECK_NEAR(nic_cdf_binary_cost_bits(c, v), table_bits, 0.01);
    }
    free(buf);
    nic_cdf_set_free(&set);
}

static void make_model(nic_context *ctx, nic_mnist_ae *m, uint64_t seed)
{
    nic_mnist_ae_config cfg;
    nic_mnist_ae_config_default(&cfg);
    cfg.c1 = 2;
    cfg.c2 = 3;
    cfg.latent = 3;
    cfg.levels = 4;
    CHECK_STATUS(nic_mnist_ae_create(ctx, &cfg, m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_mnist_ae_init(m, &rng);
    float *ls = nn_param_data(&m->params, m->latent_log_scale);
    for (int i = 0; i < nic_mnist_ae_latent_count(m); i++)
        ls[i] = 3.0f * (nn_rng_uniform(&rng) - 0.5f); /* every kind of table */
}

static void test_files(nic_context *ctx)
{
    nic_mnist_ae m, other;
    make_model(ctx, &m, 1);
    make_model(ctx, &other, 2);
    nic_mnist_codec c, oc;
    CHECK_STATUS(nic_mnist_codec_create(ctx, &m, &c), NIC_OK);
    CHECK_STATUS(nic_mnist_codec_create(ctx, &other, &oc), NIC_OK);
    CHECK(c.weights_hash != oc.weights_hash);
    enum { IMAGES = 5 };
    const int count = c.count;
    CHECK(count == 3 * 49);
    int32_t *sym = malloc(sizeof(int32_t) * IMAGES * count);
    int32_t *back = malloc(sizeof(int32_t) * IMAGES * count);
    float *y = malloc(sizeof(float) * count), *yhat = malloc(sizeof(float) * count);
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    for (int i = 0; i < IMAGES; i++) {
        for (int e = 0; e < count; e++)
            y[e] = (float)(nn_rng_normal(&rng) * 2.0);
        nic_mnist_codec_quantize(&c, 2, y, sym + i * count);
    }
    /* Dequantizing the symbols of y gives y^ within half a step of y. */
    nic_mnist_codec_dequantize(&c, 2, sym + (IMAGES - 1) * count, yhat);
    double worst = 0;
    for (int e = 0; e < count; e++)
        worst = fmax(worst, fabs(yhat[e] - y[e]) / c.step[2 * c.latent + e / 49]);
    CHECK_MSG(worst <= 0.5 + 1e-4, "dequantized value %.4f steps away", worst);
    sym[7] = 123456; /* an escape */

    uint8_t *rec, *file, *arch;
    size_t rec_size, file_size, arch_size;
    int level;
    CHECK_STATUS(nic_mnist_record_write(ctx, &c, 2, sym, &rec, &rec_size), NIC_OK);
    CHECK(rec[0] == (2 | NIC_MNIST_RECORD_VERSION << 4));
    CHECK_STATUS(nic_mnist_record_read(ctx, &c, rec, rec_size, "r", &level, back), NIC_OK);
    CHECK(level == 2 && memcmp(back, sym, sizeof(int32_t) * count) == 0);
    CHECK_STATUS(nic_mnist_nic_write(ctx, &c, 2, sym, &file, &file_size), NIC_OK);
    CHECK_STATUS(nic_mnist_nic_read(ctx, &c, file, file_size, "f", &level, back), NIC_OK);
    CHECK(level == 2 && memcmp(back, sym, sizeof(int32_t) * count) == 0);
    /* The container adds 17 bytes and the level byte: 18 more than the record's 1. */
    CHECK_MSG(file_size == rec_size + 17, "record %zu, .nic %zu bytes", rec_size, file_size);
    CHECK_STATUS(nic_mnist_archive_write(ctx, &c, 3, IMAGES, sym, &arch, &arch_size), NIC_OK);
    uint32_t n = 0;
    int32_t *asyms = NULL;
    CHECK_STATUS(nic_mnist_archive_read(ctx, &c, arch, arch_size, "a", &level, &n, &asyms),
                 NIC_OK);
    CHECK(level == 3 && n == IMAGES && asyms &&
          memcmp(asyms, sym, sizeof(int32_t) * IMAGES * count) == 0);
    free(asyms);

    /* Damaged and foreign input: clean errors. */
    CHECK_STATUS(nic_mnist_record_read(ctx, &c, rec, 0, "r", &level, back), NIC_ERR_FORMAT);
    uint8_t bad = (uint8_t)(rec[0] ^ 0x30);
    CHECK_STATUS(nic_mnist_record_read(ctx, &c, &bad, 1, "r", &level, back), NIC_ERR_FORMAT);
    bad = (uint8_t)(NIC_MNIST_RECORD_VERSION << 4 | 9); /* level 9 of 4 */
    CHECK_STATUS(nic_mnist_record_read(ctx, &c, &bad, 1, "r", &level, back), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "level 9") != NULL);
    CHECK_STATUS(nic_mnist_nic_read(ctx, &oc, file, file_size, "f", &level, back),
                 NIC_ERR_MISMATCH);
    CHECK_STATUS(nic_mnist_archive_read(ctx, &c, file, file_size, "f", &level, &n, &asyms),
                 NIC_ERR_FORMAT); /* a one-image file has no count */
    CHECK_STATUS(nic_mnist_nic_read(ctx, &c, arch, arch_size, "a", &level, back),
                 NIC_ERR_FORMAT);
    int prefix_errors = 0;
    for (size_t k = 0; k < file_size; k++)
        prefix_errors += nic_mnist_nic_read(ctx, &c, file, k, "f", &level, back) != NIC_OK;
    CHECK_MSG(prefix_errors == (int)file_size, "%d of %zu cut .nic files accepted",
              (int)file_size - prefix_errors, file_size);
    /* A cut record still decodes (the binary coder reads zeros past the end) or fails
     * cleanly; it never reads out of bounds (ASan). */
    for (size_t k = 1; k < rec_size; k++)
        (void)nic_mnist_record_read(ctx, &c, rec, k, "r", &level, back);
    uint8_t *none = NULL;
    size_t none_size = 0;
    CHECK_STATUS(nic_mnist_record_write(ctx, &c, 4, sym, &none, &none_size),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(none == NULL && none_size == 0);
    free(rec);
    free(file);
    free(arch);
    free(sym);
    free(back);
    free(y);
    free(yhat);
    nic_mnist_codec_free(&c);
    nic_mnist_codec_free(&oc);
    nic_mnist_ae_free(&m);
    nic_mnist_ae_free(&other);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    test_cdf_binary(ctx);
    test_files(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_mnist_codec");
}
