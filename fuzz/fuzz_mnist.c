/*
 * Fuzz target: the mnist-cnn readers (codec/mnist_codec.h) with a small
 * fixed model. Input byte 0 picks the layout:
 *   0: the rest is a record (.nicm);
 *   1: the rest is a one-image .nic file;
 *   2: the rest is a stream, wrapped in a valid archive container whose
 *      parameters are the next bytes (level, then a varint count), so that the
 *      stream decoder is reached past the container's CRC.
 * Property: whatever decodes re-encodes (in the same layout) to a file that
 * decodes to the same symbols.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/mnist_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nic_mnist_ae model;
static nic_mnist_codec codec;
static int ready;

static void build(nic_context *ctx)
{
    nic_mnist_ae_config cfg;
    nic_mnist_ae_config_default(&cfg);
    cfg.c1 = 2;
    cfg.c2 = 2;
    cfg.latent = 2;
    cfg.levels = 4;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    if (nic_mnist_ae_create(ctx, &cfg, &model) != NIC_OK)
        abort();
    nic_mnist_ae_init(&model, &rng);
    float *ls = nn_param_data(&model.params, model.latent_log_scale);
    for (int i = 0; i < nic_mnist_ae_latent_count(&model); i++)
        ls[i] = 4.0f * (nn_rng_uniform(&rng) - 0.5f);
    if (nic_mnist_codec_create(ctx, &model, &codec) != NIC_OK)
        abort();
}

static void check_same(const int32_t *a, const int32_t *b, size_t n)
{
    if (memcmp(a, b, n * sizeof(int32_t)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    if (!ready) {
        build(ctx);
        ready = 1;
    }
    const size_t count = (size_t)codec.count;
    int32_t sym[2 * 49], again[2 * 49];
    uint8_t *out = NULL;
    size_t out_size = 0;
    int level = 0, level2 = 0;
    switch (data[0] % 3) {
    case 0:
        if (nic_mnist_record_read(ctx, &codec, data + 1, size - 1, "fuzz", &level, sym) == NIC_OK &&
            nic_mnist_record_write(ctx, &codec, level, sym, &out, &out_size) == NIC_OK) {
            if (nic_mnist_record_read(ctx, &codec, out, out_size, "again", &level2, again) !=
                    NIC_OK ||
                level2 != level)
                abort();
            check_same(sym, again, count);
        }
        break;
    case 1:
        if (nic_mnist_nic_read(ctx, &codec, data + 1, size - 1, "fuzz", &level, sym) == NIC_OK &&
            nic_mnist_nic_write(ctx, &codec, level, sym, &out, &out_size) == NIC_OK) {
            if (nic_mnist_nic_read(ctx, &codec, out, out_size, "again", &level2, again) != NIC_OK)
                abort();
            check_same(sym, again, count);
        }
        break;
    default: {
        size_t np = size > 1 ? (data[1] % 4) + 1 : 1; /* parameter bytes */
        if (size < 2 + np)
            break;
        nic_container f;
        nic_container_init(&f);
        f.model_id = NIC_MODEL_ID_MNIST;
        f.weights_hash = codec.weights_hash;
        f.width = f.height = NIC_MNIST_SIDE;
        f.channels = 1;
        f.params = data + 2;
        f.params_size = np;
        f.stream_count = 1;
        f.streams[0].data = data + 2 + np;
        f.streams[0].size = size - 2 - np;
        uint8_t *file = NULL;
        size_t file_size = 0;
        if (nic_container_write(ctx, &f, &file, &file_size) != NIC_OK)
            break;
        uint32_t n = 0;
        int32_t *syms = NULL, *syms2 = NULL;
        /* Counts are capped so that a run stays fast. */
        if (np >= 2 && data[3] < 0x80 && data[3] <= 64 &&
            nic_mnist_archive_read(ctx, &codec, file, file_size, "fuzz", &level, &n, &syms) ==
                NIC_OK &&
            nic_mnist_archive_write(ctx, &codec, level, n, syms, &out, &out_size) == NIC_OK) {
            uint32_t n2 = 0;
            if (nic_mnist_archive_read(ctx, &codec, out, out_size, "again", &level2, &n2,
                                       &syms2) != NIC_OK ||
                n2 != n)
                abort();
            check_same(syms, syms2, (size_t)n * count);
        }
        free(syms);
        free(syms2);
        free(file);
        break;
    }
    }
    free(out);
    nic_context_destroy(ctx);
    return 0;
}
