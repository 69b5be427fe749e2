#include "codec/rnn_codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/codec_util.h"
#include "format/container_internal.h"
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
    uint32_t crc = 0;
    if (st == NIC_OK)
        st = nic_codec_read_params(ctx, &f, path, &c->model.params, &crc);
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

/* ---------------------------------------------------------------- layers */

static int pad16(uint32_t v)
{
    return (int)((v + 15) / 16 * 16);
}

size_t nic_rnn_layer_bytes(const nic_rnn_codec *c, uint32_t width, uint32_t height)
{
    size_t positions = (size_t)((height + 15) / 16) * ((width + 15) / 16);
    return (positions * (size_t)c->model.cfg.bits + 7) / 8;
}

/* bits [B][h16][w16] in {-1, +1} -> bytes: positions in raster order, the B
 * bits of a position in channel order, most significant bit first. */
static void pack_bits(const float *bits, int B, size_t plane, uint8_t *out, size_t nbytes)
{
    memset(out, 0, nbytes);
    for (size_t pos = 0; pos < plane; pos++)
        for (int ch = 0; ch < B; ch++)
            if (bits[(size_t)ch * plane + pos] > 0) {
                size_t k = pos * B + ch;
                out[k >> 3] |= (uint8_t)(0x80u >> (k & 7));
            }
}

static void unpack_bits(const uint8_t *in, int B, size_t plane, float *bits)
{
    for (size_t pos = 0; pos < plane; pos++)
        for (int ch = 0; ch < B; ch++) {
            size_t k = pos * B + ch;
            bits[(size_t)ch * plane + pos] = (in[k >> 3] >> (7 - (k & 7))) & 1 ? 1.0f : -1.0f;
        }
}

static void container_of(const nic_rnn_codec *c, uint32_t width, uint32_t height,
                         uint32_t channels, uint32_t ow, uint32_t oh, int layers,
                         const uint8_t *streams, size_t layer_bytes, nic_container *f)
{
    nic_container_init(f);
    f->model_id = NIC_MODEL_ID_RNN;
    f->weights_hash = c->weights_hash;
    f->width = width;
    f->height = height;
    f->channels = channels;
    f->original_width = ow;
    f->original_height = oh;
    f->params = NULL;
    f->params_size = 0;
    f->stream_count = (uint32_t)layers;
    for (int i = 0; i < layers; i++) {
        f->streams[i].data = streams + (size_t)i * layer_bytes;
        f->streams[i].size = layer_bytes;
    }
}

nic_status nic_rnn_encode(nic_context *ctx, nic_rnn_codec *c, const nic_image *img, int layers,
                          uint64_t max_bytes, uint32_t original_width, uint32_t original_height,
                          uint8_t **out, size_t *size, int *layers_out)
{
    const nic_rnn_config *cfg = &c->model.cfg;
    *out = NULL;
    *size = 0;
    if (layers < 1 || layers > cfg->iterations)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: %d layers (this model codes 1..%d)",
                        layers, cfg->iterations);
    const size_t lb = nic_rnn_layer_bytes(c, img->width, img->height);
    uint8_t *streams = calloc((size_t)layers, lb ? lb : 1);
    if (!streams)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory");
    nic_container f;
    nic_status st = NIC_OK;
    if (max_bytes) {
        /* the most layers whose whole file fits (the sizes do not depend on the bits) */
        for (; layers >= 1; layers--) {
            uint8_t *tmp;
            size_t tsize;
            container_of(c, img->width, img->height, img->channels, original_width,
                         original_height, layers, streams, lb, &f);
            st = nic_container_write(ctx, &f, &tmp, &tsize);
            if (st != NIC_OK) {
                free(streams);
                return st;
            }
            free(tmp);
            if (tsize <= max_bytes)
                break;
        }
        if (layers < 1) {
            free(streams);
            return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                            "rnn: one layer of a %ux%u picture needs more than %llu bytes",
                            img->width, img->height, (unsigned long long)max_bytes);
        }
    }
    const int ph = pad16(img->height), pw = pad16(img->width);
    const size_t n = (size_t)3 * ph * pw, plane16 = (size_t)(ph / 16) * (pw / 16);
    float *x = nn_alloc(n * sizeof(float)), *r = nn_alloc(n * sizeof(float));
    float *o = nn_alloc(n * sizeof(float));
    float *bits = nn_alloc(plane16 * cfg->bits * sizeof(float));
    nic_rnn_net *net = NULL;
    if (!x || !r || !o || !bits) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory for a %ux%u image", img->width,
                      img->height);
        goto done;
    }
    nic_codec_image_to_planes(img, ph, pw, x);
    for (size_t i = 0; i < n; i++)
        r[i] = x[i] - 0.5f;
    st = nic_rnn_net_create(ctx, c->eng, &c->model, 1, ph, pw, 1, 0, 0, &net);
    if (st != NIC_OK)
        goto done;
    nic_rnn_net_reset(net);
    for (int t = 0; t < layers && st == NIC_OK; t++) {
        st = nic_rnn_net_encode(ctx, net, r, bits);
        if (st != NIC_OK)
            break;
        pack_bits(bits, cfg->bits, plane16, streams + (size_t)t * lb, lb);
        if (t == layers - 1)
            break;
        /* the decoder's view, for the next residual */
        st = nic_rnn_net_decode(ctx, net, bits, o);
        for (size_t i = 0; i < n; i++)
            r[i] = (cfg->oneshot ? x[i] - 0.5f : r[i]) - o[i];
    }
    if (st == NIC_OK) {
        container_of(c, img->width, img->height, img->channels, original_width, original_height,
                     layers, streams, lb, &f);
        st = nic_container_write(ctx, &f, out, size);
    }
    if (st == NIC_OK && layers_out)
        *layers_out = layers;
done:
    nic_rnn_net_destroy(net);
    nn_free(x);
    nn_free(r);
    nn_free(o);
    nn_free(bits);
    free(streams);
    return st;
}

nic_status nic_rnn_decode(nic_context *ctx, nic_rnn_codec *c, const nic_container *file,
                          const uint8_t *data, size_t size, const char *name, int max_layers,
                          nic_image *out, nic_rnn_decode_info *info)
{
    return nic_rnn_decode_layers(ctx, c, file, data, size, name, max_layers, NULL, NULL, out,
                                 info);
}

nic_status nic_rnn_decode_layers(nic_context *ctx, nic_rnn_codec *c, const nic_container *file,
                                 const uint8_t *data, size_t size, const char *name,
                                 int max_layers, nic_rnn_layer_fn fn, void *user, nic_image *out,
                                 nic_rnn_decode_info *info)
{
    const nic_rnn_config *cfg = &c->model.cfg;
    memset(out, 0, sizeof(*out));
    if (file->weights_hash != c->weights_hash)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s: made with other weights of the rnn model (hash %08x; %s has %08x)",
                        name, file->weights_hash, c->path, c->weights_hash);
    if (file->params_size != 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: an rnn file has no parameters, this one has %zu "
                        "bytes", name, file->params_size);
    if (file->stream_count < 1 || file->stream_count > NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %u layers (an rnn file has 1..%d)", name,
                        file->stream_count, NIC_RNN_MAX_ITERATIONS);
    if (file->channels != 1 && file->channels != 3)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: %u channels (rnn codes 1 or 3)", name,
                        file->channels);
    const size_t lb = nic_rnn_layer_bytes(c, file->width, file->height);
    uint32_t declared[NIC_CONTAINER_MAX_STREAMS];
    const int total = (int)file->stream_count;
    if (file->truncated) {
        NIC_TRY(nic_container_declared_sizes(ctx, file, data, size, declared));
    } else {
        for (int i = 0; i < total; i++)
            declared[i] = (uint32_t)file->streams[i].size;
    }
    int present = 0;
    for (int i = 0; i < total; i++) {
        if (declared[i] != lb)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: layer %d declares %u bytes; a layer of a %ux%u picture has %zu",
                            name, i + 1, declared[i], file->width, file->height, lb);
        if (present == i && file->streams[i].size == lb)
            present++;
    }
    if (present == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: truncated: not even the first layer is complete (%zu of its %zu "
                        "bytes are there)",
                        name, file->streams[0].size, lb);
    const int K = max_layers > 0 && max_layers < present ? max_layers : present;
    if (info) {
        info->layers_total = total;
        info->layers_present = present;
        info->layers_decoded = K;
        info->bytes_missing = file->truncated && file->file_size > size ? file->file_size - size : 0;
    }
    const int ph = pad16(file->height), pw = pad16(file->width);
    const size_t n = (size_t)3 * ph * pw, plane16 = (size_t)(ph / 16) * (pw / 16);
    float *acc = nn_alloc(n * sizeof(float)), *o = nn_alloc(n * sizeof(float));
    float *bits = nn_alloc(plane16 * cfg->bits * sizeof(float));
    nic_rnn_net *net = NULL;
    nic_status st = NIC_OK;
    if (!acc || !o || !bits) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory for %ux%u", name, file->width,
                      file->height);
        goto done;
    }
    /* the deterministic kernels: the same pixels for any thread count and build */
    st = nic_rnn_net_create(ctx, NULL, &c->model, 1, ph, pw, 1, 0,
                            NN_CONV_REFERENCE | NIC_RNN_NET_DECODER_ONLY, &net);
    if (st != NIC_OK)
        goto done;
    nic_rnn_net_reset(net);
    for (size_t i = 0; i < n; i++)
        acc[i] = 0.5f;
    st = nic_image_alloc(ctx, out, file->width, file->height, file->channels);
    for (int t = 0; t < K && st == NIC_OK; t++) {
        unpack_bits(file->streams[t].data, cfg->bits, plane16, bits);
        st = nic_rnn_net_decode(ctx, net, bits, o);
        for (size_t i = 0; st == NIC_OK && i < n; i++)
            acc[i] = (cfg->oneshot ? 0.5f : acc[i]) + o[i];
        if (st == NIC_OK && (fn || t == K - 1))
            nic_codec_planes_to_image(acc, ph, pw, out);
        if (st == NIC_OK && fn)
            st = fn(user, t + 1, out);
    }
done:
    nic_rnn_net_destroy(net);
    nn_free(acc);
    nn_free(o);
    nn_free(bits);
    if (st != NIC_OK)
        nic_image_free(out);
    return st;
}
