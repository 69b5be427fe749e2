/*
 * Fuzz target: decoding rnn and rnn+cnn files (partial files allowed) and,
 * from the same bytes, rnn and rnn+cnn records (nic_rnn_record_read), with a
 * small random model of each kind written once to a temporary folder. The
 * first input byte picks the model; the rest is the file. Pictures are
 * capped at 64 K pixels so that every input decodes quickly. Property: no
 * crash, no leak, an image exactly when the status is NIC_OK.
 *
 * The seed corpus (fuzz/corpus/rnn) holds files of these models: run the
 * fuzzer once with NIC_FUZZ_RNN_SEEDS=DIR to write them again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/rnn_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char model_dir[64];

static void remove_models(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/rnn.safetensors", model_dir);
    remove(path);
    snprintf(path, sizeof(path), "%s/rnn+cnn.safetensors", model_dir);
    remove(path);
    rmdir(model_dir);
}

static int make_models(void)
{
    snprintf(model_dir, sizeof(model_dir), "/tmp/nic-fuzz-rnn-%d", (int)getpid());
    char cmd[128], path[128];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", model_dir);
    if (system(cmd) != 0)
        return 0;
    atexit(remove_models);
    nic_context *ctx = nic_context_create();
    nic_rnn_config cfg;
    nic_rnn_config_default(&cfg);
    cfg.e_conv = cfg.enc[0] = cfg.enc[1] = cfg.enc[2] = 4;
    cfg.bits = 8;
    cfg.d_conv = 4;
    cfg.dec[0] = cfg.dec[1] = cfg.dec[2] = cfg.dec[3] = 4;
    cfg.iterations = 4;
    nic_rnn_model m;
    nic_rnn_ctx_model cm;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    int ok = nic_rnn_model_create(ctx, &cfg, &m) == NIC_OK &&
             nic_rnn_ctx_create(ctx, cfg.bits, cfg.iterations, &cm) == NIC_OK;
    if (ok) {
        nic_rnn_model_init(&m, &rng);
        for (size_t i = 0; i < (size_t)cm.sets * cm.bits * (cm.nfeat + 1); i++)
            cm.w[i] = (float)(nn_rng_uniform(&rng) - 0.5);
        nic_rnn_ctx_quantize(&cm);
        snprintf(path, sizeof(path), "%s/rnn.safetensors", model_dir);
        ok = nic_rnn_export(ctx, &m, path, NULL) == NIC_OK;
        snprintf(path, sizeof(path), "%s/rnn+cnn.safetensors", model_dir);
        ok = ok && nic_rnn_cnn_export(ctx, &m, &cm, path, NULL) == NIC_OK;
        nic_rnn_model_free(&m);
        nic_rnn_ctx_free(&cm);
    }
    const char *seeds = getenv("NIC_FUZZ_RNN_SEEDS");
    if (ok && seeds) {
        /* a 40 x 24 picture in 3 layers with each model */
        nic_context_set_model_dir(ctx, model_dir);
        nic_image img;
        ok = nic_image_alloc(ctx, &img, 40, 24, 3) == NIC_OK;
        for (size_t i = 0; ok && i < (size_t)40 * 24 * 3; i++)
            img.data[i] = (uint8_t)(i * 7 + i / 120 * 13);
        const char *names[2] = {"rnn", "rnn+cnn"};
        for (int k = 0; ok && k < 2; k++) {
            nic_encode_options o;
            nic_encode_options_init(&o);
            o.model = names[k];
            o.layers = 3;
            uint8_t *buf;
            size_t n;
            ok = nic_encode(ctx, &img, &o, &buf, &n, NULL) == NIC_OK;
            snprintf(path, sizeof(path), "%s/%s.bin", seeds, k ? "rnn-cnn" : "rnn");
            FILE *f = ok ? fopen(path, "wb") : NULL;
            if (f) {
                uint8_t first = 0; /* all layers */
                fwrite(&first, 1, 1, f);
                fwrite(buf, 1, n, f);
                fclose(f);
            }
            if (ok)
                free(buf);
        }
        nic_image_free(&img);
    }
    nic_context_destroy(ctx);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -1;
    if (ready < 0)
        ready = make_models();
    if (!ready || size < 1)
        return 0;
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 0;
    nic_context_set_model_dir(ctx, model_dir);
    nic_context_set_max_pixels(ctx, 65536);
    nic_decode_options o;
    nic_decode_options_init(&o);
    o.max_layers = data[0] & 7;
    nic_image img;
    nic_decode_result res;
    nic_status st = nic_decode_ex(ctx, data + 1, size - 1, "fuzz.nic", &o, &img, &res);
    if ((st == NIC_OK) != (img.data != NULL))
        abort();
    nic_image_free(&img);
    /* the same bytes as a record (FORMAT.md 6.5) of a 28 x 28 digit, for both models */
    for (int k = 0; k < 2; k++) {
        nic_rnn_codec *c = NULL;
        if ((k ? nic_codec_get_rnn_cnn(ctx, &c) : nic_codec_get_rnn(ctx, &c)) != NIC_OK)
            continue;
        nic_rnn_codes codes;
        if (nic_rnn_record_read(ctx, c, data + 1, size - 1, 28, 28, "fuzz.rec", &codes) ==
            NIC_OK) {
            st = nic_rnn_decode_codes(ctx, c, &codes, 28, 28, 1, NULL, NULL, &img);
            if (st != NIC_OK || !img.data)
                abort();
            nic_image_free(&img);
            free(codes.v);
        }
    }
    nic_context_destroy(ctx);
    return 0;
}
