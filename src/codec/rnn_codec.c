#include "codec/rnn_codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/safetensors.h"

/* ---------------------------------------------------------------- weights */

nic_status nic_rnn_export(nic_context *ctx, const nic_rnn_model *m, const char *path,
                          const char *description)
{
    nn_st_writer w;
    nn_st_writer_init(&w);
    const nn_params *p = &m->params;
    char iters[16];
    snprintf(iters, sizeof(iters), "%d", m->cfg.iterations);
    nic_status st = nn_st_writer_meta(ctx, &w, "format", "nic-model-1");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "model", "rnn");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "iterations", iters);
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "reconstruction", m->cfg.oneshot ? "oneshot" : "additive");
    if (st == NIC_OK && description)
        st = nn_st_writer_meta(ctx, &w, "description", description);
    for (int i = 0; st == NIC_OK && i < p->count; i++)
        st = nn_st_writer_add(ctx, &w, p->items[i].name, NN_DTYPE_F32, p->items[i].ndim,
                              p->items[i].shape, p->data + p->items[i].offset);
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    nn_st_writer_free(&w);
    return st;
}

nic_status nic_rnn_codec_load(nic_context *ctx, const char *path, nic_rnn_codec **out)
{
    *out = NULL;
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nic_rnn_codec *c = calloc(1, sizeof(*c));
    if (!c) {
        nn_st_free(&f);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory loading %s", path);
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    nic_status st = NIC_OK;
    const char *model = nn_st_get_meta(&f, "model");
    const char *iters = nn_st_get_meta(&f, "iterations");
    const char *recon = nn_st_get_meta(&f, "reconstruction");
    nic_rnn_config cfg;
    nic_rnn_config_default(&cfg);
    if (!model || strcmp(model, "rnn") != 0)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not an rnn model file (metadata model is '%s')",
                      path, model ? model : "missing");
    if (st == NIC_OK) {
        char *end = NULL;
        long it = iters ? strtol(iters, &end, 10) : 0;
        if (!iters || *end || it < 1 || it > NIC_RNN_MAX_ITERATIONS)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: iterations '%s' is not 1..%d", path,
                          iters ? iters : "missing", NIC_RNN_MAX_ITERATIONS);
        cfg.iterations = (int)it;
    }
    if (st == NIC_OK) {
        if (recon && strcmp(recon, "oneshot") == 0)
            cfg.oneshot = 1;
        else if (recon && strcmp(recon, "additive") != 0)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: unknown reconstruction '%s'", path, recon);
    }
    if (st == NIC_OK)
        st = nic_rnn_config_from_file(ctx, &f, path, &cfg);
    if (st == NIC_OK)
        st = nic_rnn_model_create(ctx, &cfg, &c->model);
    /* the hash: CRC-32 of the float32 parameters in declaration order, then
     * one byte for the reconstruction mode (the same weights decode otherwise) */
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; st == NIC_OK && i < c->model.params.count; i++) {
        const nn_param *it = &c->model.params.items[i];
        float *dst = c->model.params.data + it->offset;
        st = nn_st_read_f32(ctx, &f, it->name, dst, it->count);
        if (st == NIC_OK)
            crc = crc32(crc, (const Bytef *)dst, (uInt)(it->count * sizeof(float)));
    }
    if (st == NIC_OK && f.tensor_count != c->model.params.count)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %d tensors, an rnn model of these widths has %d",
                      path, f.tensor_count, c->model.params.count);
    if (st == NIC_OK) {
        const Bytef mode = (Bytef)cfg.oneshot;
        c->weights_hash = (uint32_t)crc32(crc, &mode, 1);
    }
    if (st == NIC_OK && nn_engine_create(ctx, &c->eng) != NIC_OK) {
        nic_context_clear_error(ctx); /* the reference kernels still work */
        c->eng = NULL;
    }
    nn_st_free(&f);
    if (st != NIC_OK) {
        nic_rnn_codec_free(c);
        return st;
    }
    *out = c;
    return NIC_OK;
}

void nic_rnn_codec_free(nic_rnn_codec *c)
{
    if (!c)
        return;
    nic_rnn_model_free(&c->model);
    nn_engine_destroy(c->eng);
    free(c);
}
