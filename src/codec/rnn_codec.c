#include "codec/rnn_codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/codec_util.h"
#include "entropy/binary.h"
#include "format/container_internal.h"
#include "nn/safetensors.h"

/* ---------------------------------------------------------------- weights */

nic_status nic_rnn_export(nic_context *ctx, const nic_rnn_model *m, const char *path,
                          const char *description)
{
    return nic_rnn_cnn_export(ctx, m, NULL, path, description);
}

nic_status nic_rnn_cnn_export(nic_context *ctx, const nic_rnn_model *m,
                              const nic_rnn_ctx_model *cm, const char *path,
                              const char *description)
{
    nn_st_writer w;
    nn_st_writer_init(&w);
    const nn_params *p = &m->params;
    char iters[16];
    snprintf(iters, sizeof(iters), "%d", m->cfg.iterations);
    nic_status st = nn_st_writer_meta(ctx, &w, "format", "nic-model-1");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "model", cm ? "rnn+cnn" : "rnn");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "iterations", iters);
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "reconstruction", m->cfg.oneshot ? "oneshot" : "additive");
    if (st == NIC_OK && description)
        st = nn_st_writer_meta(ctx, &w, "description", description);
    for (int i = 0; st == NIC_OK && i < p->count; i++)
        st = nn_st_writer_add(ctx, &w, p->items[i].name, NN_DTYPE_F32, p->items[i].ndim,
                              p->items[i].shape, p->data + p->items[i].offset);
    int32_t *table = NULL;
    if (st == NIC_OK && cm) {
        /* the integer model only: what every decoder must use bit for bit */
        int64_t ws[3] = {cm->sets, cm->bits, cm->nfeat + 1}, ts[1] = {NIC_RNN_CTX_TABLE};
        table = malloc(sizeof(int32_t) * NIC_RNN_CTX_TABLE);
        if (!table)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
        for (int i = 0; table && i < NIC_RNN_CTX_TABLE; i++)
            table[i] = cm->p1[i];
        if (st == NIC_OK)
            st = nn_st_writer_add(ctx, &w, "ctx.weights", NN_DTYPE_I32, 3, ws, cm->wq);
        if (st == NIC_OK)
            st = nn_st_writer_add(ctx, &w, "ctx.p1", NN_DTYPE_I32, 1, ts, table);
    }
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    free(table);
    nn_st_writer_free(&w);
    return st;
}

/* The context model stored beside the rnn weights (ctx.weights, ctx.p1); its
 * bytes continue the weights hash. */
static nic_status load_ctx_model(nic_context *ctx, nic_rnn_codec *c, const nn_st_file *f,
                                 const char *path, uLong *crc)
{
    const nn_st_tensor *tw = nn_st_find(f, "ctx.weights"), *tp = nn_st_find(f, "ctx.p1");
    const int B = c->model.cfg.bits;
    if (!tw || !tp || tw->dtype != NN_DTYPE_I32 || tp->dtype != NN_DTYPE_I32 || tw->ndim != 3 ||
        tw->shape[1] != B || tw->shape[2] != NIC_RNN_CTX_FEATURES(B) + 1 || tw->shape[0] < 1 ||
        tw->shape[0] > 64 || tp->count != NIC_RNN_CTX_TABLE)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: an rnn+cnn model needs ctx.weights (I32 [sets][%d][%d]) and ctx.p1 "
                        "(I32 [%d])",
                        path, B, NIC_RNN_CTX_FEATURES(B) + 1, NIC_RNN_CTX_TABLE);
    NIC_TRY(nic_rnn_ctx_create(ctx, B, (int)tw->shape[0], &c->ctx_model));
    memcpy(c->ctx_model.wq, tw->data, (size_t)tw->count * sizeof(int32_t));
    const int32_t *t32 = (const int32_t *)(const void *)tp->data;
    for (int i = 0; i < NIC_RNN_CTX_TABLE; i++) {
        int32_t v;
        memcpy(&v, t32 + i, sizeof(v));
        c->ctx_model.p1[i] = (uint16_t)(v < 0 ? 0 : (v > 65535 ? 65535 : v));
        if (v < 1 || v > 65535)
            c->ctx_model.p1[i] = 0; /* rejected by the check */
    }
    NIC_TRY(nic_rnn_ctx_check(ctx, &c->ctx_model, path));
    *crc = crc32(*crc, tw->data, (uInt)(tw->count * sizeof(int32_t)));
    *crc = crc32(*crc, tp->data, (uInt)(tp->count * sizeof(int32_t)));
    c->has_ctx = 1;
    return NIC_OK;
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
    nic_rnn_config cfg;
    nic_rnn_config_default(&cfg);
    const int with_ctx = model && strcmp(model, "rnn+cnn") == 0;
    if (!model || (strcmp(model, "rnn") != 0 && !with_ctx))
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
    if (st == NIC_OK) /* the shapes, and the reconstruction mode (additive if not named) */
        st = nic_rnn_config_from_file(ctx, &f, path, &cfg);
    if (st == NIC_OK)
        st = nic_rnn_model_create(ctx, &cfg, &c->model);
    /* the hash: CRC-32 of the float32 parameters in declaration order, then
     * one byte for the reconstruction mode (the same weights decode otherwise) */
    uint32_t crc32_params = 0;
    if (st == NIC_OK)
        st = nic_codec_read_params(ctx, &f, path, &c->model.params, &crc32_params);
    uLong crc = crc32_params;
    if (st == NIC_OK && f.tensor_count != c->model.params.count + 2 * with_ctx)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %d tensors, an %s model of these widths has %d",
                      path, f.tensor_count, with_ctx ? "rnn+cnn" : "rnn",
                      c->model.params.count + 2 * with_ctx);
    if (st == NIC_OK) {
        const Bytef mode = (Bytef)cfg.oneshot;
        crc = crc32(crc, &mode, 1);
    }
    if (st == NIC_OK && with_ctx)
        st = load_ctx_model(ctx, c, &f, path, &crc);
    c->weights_hash = (uint32_t)crc;
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
    nic_rnn_ctx_free(&c->ctx_model);
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

/* codes [B][h16][w16] in {-1, +1} -> bytes: positions in raster order, the B
 * bits of a position in channel order, most significant bit first. */
static void pack_bits(const int8_t *codes, int B, size_t plane, uint8_t *out, size_t nbytes)
{
    memset(out, 0, nbytes);
    for (size_t pos = 0; pos < plane; pos++)
        for (int ch = 0; ch < B; ch++)
            if (codes[(size_t)ch * plane + pos] > 0) {
                size_t k = pos * B + ch;
                out[k >> 3] |= (uint8_t)(0x80u >> (k & 7));
            }
}

static void unpack_bits(const uint8_t *in, int B, size_t plane, int8_t *codes)
{
    for (size_t pos = 0; pos < plane; pos++)
        for (int ch = 0; ch < B; ch++) {
            size_t k = pos * B + ch;
            codes[(size_t)ch * plane + pos] = (in[k >> 3] >> (7 - (k & 7))) & 1 ? 1 : -1;
        }
}

static void container_of(const nic_rnn_codec *c, uint32_t width, uint32_t height,
                         uint32_t channels, uint32_t ow, uint32_t oh, int layers,
                         uint8_t *const *data, const size_t *sizes, nic_container *f)
{
    nic_container_init(f);
    f->model_id = nic_rnn_model_id(c);
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
        f->streams[i].data = data[i];
        f->streams[i].size = sizes[i];
    }
}

static nic_status file_size(nic_context *ctx, const nic_container *f, size_t *size)
{
    uint8_t *tmp;
    NIC_TRY(nic_container_write(ctx, (nic_container *)f, &tmp, size));
    free(tmp);
    return NIC_OK;
}

void nic_rnn_ctx_put_layer(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int t,
                           nic_binary_encoder *enc)
{
    const int8_t *cur = nic_rnn_codes_at(codes, t);
    for (int y = 0; y < codes->h; y++)
        for (int x = 0; x < codes->w; x++)
            for (int ch = 0; ch < codes->bits; ch++) {
                const uint32_t p1 = nic_rnn_ctx_p1(m, codes, t, ch, y, x);
                nic_binary_encode(enc, cur[((size_t)ch * codes->h + y) * codes->w + x] > 0, p1);
            }
}

void nic_rnn_ctx_get_layer(const nic_rnn_ctx_model *m, nic_binary_decoder *dec,
                           nic_rnn_codes *codes, int t)
{
    int8_t *cur = nic_rnn_codes_at(codes, t);
    for (int y = 0; y < codes->h; y++)
        for (int x = 0; x < codes->w; x++)
            for (int ch = 0; ch < codes->bits; ch++) {
                const uint32_t p1 = nic_rnn_ctx_p1(m, codes, t, ch, y, x);
                cur[((size_t)ch * codes->h + y) * codes->w + x] =
                    nic_binary_decode(dec, p1) ? 1 : -1;
            }
}

/* Iteration t's codes -> its own stream (the .nic file's layer). */
static nic_status ctx_encode_layer(nic_context *ctx, const nic_rnn_codec *c,
                                   const nic_rnn_codes *codes, int t, uint8_t **out,
                                   size_t *size)
{
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    nic_rnn_ctx_put_layer(&c->ctx_model, codes, t, &enc);
    nic_status st = nic_binary_encoder_finish(ctx, &enc, out, size);
    nic_binary_encoder_free(&enc);
    return st;
}

static void ctx_decode_layer(const nic_rnn_codec *c, const uint8_t *data, size_t size,
                             nic_rnn_codes *codes, int t)
{
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, data, size);
    nic_rnn_ctx_get_layer(&c->ctx_model, &dec, codes, t);
}

int nic_rnn_model_id(const nic_rnn_codec *c)
{
    return c->has_ctx ? NIC_MODEL_ID_RNN_CNN : NIC_MODEL_ID_RNN;
}

nic_status nic_rnn_encode(nic_context *ctx, nic_rnn_codec *c, const nic_image *img, int layers,
                          uint64_t max_bytes, uint32_t original_width, uint32_t original_height,
                          uint8_t **out, size_t *size, int *layers_out)
{
    return nic_rnn_encode_codes(ctx, c, img, layers, max_bytes, original_width, original_height,
                                out, size, layers_out, NULL);
}

nic_status nic_rnn_encode_codes(nic_context *ctx, nic_rnn_codec *c, const nic_image *img,
                                int layers, uint64_t max_bytes, uint32_t original_width,
                                uint32_t original_height, uint8_t **out, size_t *size,
                                int *layers_out, nic_rnn_codes *codes_out)
{
    const nic_rnn_config *cfg = &c->model.cfg;
    *out = NULL;
    *size = 0;
    if (layers < 1 || layers > cfg->iterations)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "rnn: %d layers (this model codes 1..%d)",
                        layers, cfg->iterations);
    if ((uint64_t)img->width * img->height > NIC_RNN_MAX_PIXELS)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                        "rnn: a %ux%u picture is larger than the %u pixels the rnn codec codes "
                        "(its networks hold the whole picture)",
                        img->width, img->height, NIC_RNN_MAX_PIXELS);
    const size_t lb = nic_rnn_layer_bytes(c, img->width, img->height);
    uint8_t *raw = calloc((size_t)layers, lb ? lb : 1);
    uint8_t *data[NIC_RNN_MAX_ITERATIONS] = {NULL};  /* the streams as written */
    uint8_t *coded[NIC_RNN_MAX_ITERATIONS] = {NULL}; /* rnn+cnn: the coder's buffers */
    size_t sizes[NIC_RNN_MAX_ITERATIONS] = {0};
    if (!raw)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory");
    for (int i = 0; i < layers; i++) {
        data[i] = raw + (size_t)i * lb;
        sizes[i] = lb;
    }
    nic_container f;
    nic_status st = NIC_OK;
    size_t fsize = 0;
    if (max_bytes && !c->has_ctx) {
        /* raw layers: the sizes do not depend on the bits, code only what fits */
        for (; layers >= 1; layers--) {
            container_of(c, img->width, img->height, img->channels, original_width,
                         original_height, layers, data, sizes, &f);
            st = file_size(ctx, &f, &fsize);
            if (st != NIC_OK || fsize <= max_bytes)
                break;
        }
        if (st == NIC_OK && layers < 1)
            st = NIC_FAIL(ctx, NIC_ERR_LIMIT,
                          "rnn: one layer of a %ux%u picture needs more than %llu bytes",
                          img->width, img->height, (unsigned long long)max_bytes);
        if (st != NIC_OK) {
            free(raw);
            return st;
        }
    }
    const int ph = pad16(img->height), pw = pad16(img->width);
    const size_t n = (size_t)3 * ph * pw, plane16 = (size_t)(ph / 16) * (pw / 16);
    float *x = nn_alloc(n * sizeof(float)), *r = nn_alloc(n * sizeof(float));
    float *o = nn_alloc(n * sizeof(float));
    float *bits = nn_alloc(plane16 * cfg->bits * sizeof(float));
    nic_rnn_codes codes = {layers, cfg->bits, ph / 16, pw / 16, NULL};
    codes.v = malloc((size_t)layers * cfg->bits * plane16);
    nic_rnn_net *net = NULL;
    if (!x || !r || !o || !bits || !codes.v) {
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
        int8_t *cv = nic_rnn_codes_at(&codes, t);
        for (size_t i = 0; i < plane16 * cfg->bits; i++)
            cv[i] = bits[i] > 0 ? 1 : -1;
        pack_bits(cv, cfg->bits, plane16, raw + (size_t)t * lb, lb);
        if (c->has_ctx) {
            st = ctx_encode_layer(ctx, c, &codes, t, &coded[t], &sizes[t]);
            data[t] = coded[t];
            if (st == NIC_OK && max_bytes) {
                /* coded layers vary in size: stop at the first that does not fit */
                container_of(c, img->width, img->height, img->channels, original_width,
                             original_height, t + 1, data, sizes, &f);
                st = file_size(ctx, &f, &fsize);
                if (st == NIC_OK && fsize > max_bytes) {
                    if (t == 0)
                        st = NIC_FAIL(ctx, NIC_ERR_LIMIT,
                                      "rnn+cnn: one layer of a %ux%u picture needs more than "
                                      "%llu bytes",
                                      img->width, img->height, (unsigned long long)max_bytes);
                    layers = codes.iterations = t;
                    break;
                }
            }
        }
        if (st != NIC_OK || t == layers - 1)
            break;
        /* the decoder's view, for the next residual */
        st = nic_rnn_net_decode(ctx, net, bits, o);
        for (size_t i = 0; i < n; i++)
            r[i] = (cfg->oneshot ? x[i] - 0.5f : r[i]) - o[i];
    }
    if (st == NIC_OK) {
        container_of(c, img->width, img->height, img->channels, original_width, original_height,
                     layers, data, sizes, &f);
        st = nic_container_write(ctx, &f, out, size);
    }
    if (st == NIC_OK && layers_out)
        *layers_out = layers;
    if (st == NIC_OK && codes_out) {
        *codes_out = codes;
        codes.v = NULL;
    }
done:
    for (int i = 0; i < NIC_RNN_MAX_ITERATIONS; i++)
        free(coded[i]);
    nic_rnn_net_destroy(net);
    nn_free(x);
    nn_free(r);
    nn_free(o);
    nn_free(bits);
    free(codes.v);
    free(raw);
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
    if ((uint64_t)file->width * file->height > NIC_RNN_MAX_PIXELS)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                        "%s: a %ux%u picture is larger than the %u pixels the rnn decoder "
                        "handles",
                        name, file->width, file->height, NIC_RNN_MAX_PIXELS);
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
    /* raw layers have exactly lb bytes; coded ones at most about that (the coder
     * spends at most a few bytes more than the raw bits even with a poor model) */
    const size_t most = c->has_ctx ? 2 * lb + 64 : lb;
    for (int i = 0; i < total; i++) {
        if ((c->has_ctx && declared[i] > most) || (!c->has_ctx && declared[i] != lb))
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: layer %d declares %u bytes; a layer of a %ux%u picture has %s%zu",
                            name, i + 1, declared[i], file->width, file->height,
                            c->has_ctx ? "at most " : "", most);
        if (present == i && file->streams[i].size == declared[i])
            present++;
    }
    if (present == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: truncated: not even the first layer is complete (%zu of its %u "
                        "bytes are there)",
                        name, file->streams[0].size, declared[0]);
    const int K = max_layers > 0 && max_layers < present ? max_layers : present;
    if (info) {
        info->layers_total = total;
        info->layers_present = present;
        info->layers_decoded = K;
        info->bytes_missing = file->truncated && file->file_size > size ? file->file_size - size : 0;
    }
    const int ph = pad16(file->height), pw = pad16(file->width);
    const size_t plane16 = (size_t)(ph / 16) * (pw / 16);
    nic_rnn_codes codes = {K, cfg->bits, ph / 16, pw / 16, NULL};
    codes.v = malloc((size_t)K * cfg->bits * plane16);
    if (!codes.v)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory for %ux%u", name, file->width,
                        file->height);
    /* the codes: raw bits, or (rnn+cnn) the integer context model and the arithmetic decoder */
    for (int t = 0; t < K; t++) {
        if (c->has_ctx)
            ctx_decode_layer(c, file->streams[t].data, file->streams[t].size, &codes, t);
        else
            unpack_bits(file->streams[t].data, cfg->bits, plane16, nic_rnn_codes_at(&codes, t));
    }
    nic_status st = nic_rnn_decode_codes(ctx, c, &codes, file->width, file->height,
                                         file->channels, fn, user, out);
    free(codes.v);
    return st;
}

nic_status nic_rnn_decode_codes(nic_context *ctx, nic_rnn_codec *c, const nic_rnn_codes *codes,
                                uint32_t width, uint32_t height, uint32_t channels,
                                nic_rnn_layer_fn fn, void *user, nic_image *out)
{
    const nic_rnn_config *cfg = &c->model.cfg;
    memset(out, 0, sizeof(*out));
    const int ph = pad16(height), pw = pad16(width), K = codes->iterations;
    if (codes->bits != cfg->bits || codes->h != ph / 16 || codes->w != pw / 16 || K < 1 ||
        K > NIC_RNN_MAX_ITERATIONS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "rnn: %d layers of %d x %d x %d codes for a %ux%u picture (1..%d layers "
                        "of %d bits per 16x16 block)",
                        K, codes->bits, codes->h, codes->w, width, height, NIC_RNN_MAX_ITERATIONS,
                        cfg->bits);
    const size_t n = (size_t)3 * ph * pw, plane16 = (size_t)(ph / 16) * (pw / 16);
    float *acc = nn_alloc(n * sizeof(float)), *o = nn_alloc(n * sizeof(float));
    float *bits = nn_alloc(plane16 * cfg->bits * sizeof(float));
    nic_rnn_net *net = NULL;
    nic_status st = NIC_OK;
    if (!acc || !o || !bits) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn: out of memory for %ux%u", width, height);
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
    st = nic_image_alloc(ctx, out, width, height, channels);
    for (int t = 0; t < K && st == NIC_OK; t++) {
        const int8_t *cv = nic_rnn_codes_at(codes, t);
        for (size_t i = 0; i < plane16 * cfg->bits; i++)
            bits[i] = cv[i];
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

/* ---------------------------------------------------------------- records */

nic_status nic_rnn_record_write(nic_context *ctx, const nic_rnn_codec *c,
                                const nic_rnn_codes *codes, int layers, uint8_t **out,
                                size_t *size)
{
    *out = NULL;
    *size = 0;
    if (layers < 1 || layers > codes->iterations || layers > c->model.cfg.iterations ||
        codes->bits != c->model.cfg.bits)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "rnn record: %d layers of %d codes (have %d layers; the model codes "
                        "1..%d of %d bits)",
                        layers, codes->bits, codes->iterations, c->model.cfg.iterations,
                        c->model.cfg.bits);
    const size_t plane = (size_t)codes->h * codes->w;
    if (!c->has_ctx) {
        const size_t lb = (plane * (size_t)codes->bits + 7) / 8;
        uint8_t *buf = malloc((size_t)layers * lb);
        if (!buf)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn record: out of memory");
        for (int t = 0; t < layers; t++)
            pack_bits(nic_rnn_codes_at(codes, t), codes->bits, plane, buf + (size_t)t * lb, lb);
        *out = buf;
        *size = (size_t)layers * lb;
        return NIC_OK;
    }
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    for (int t = 0; t < layers; t++)
        nic_rnn_ctx_put_layer(&c->ctx_model, codes, t, &enc);
    uint8_t *stream = NULL;
    size_t n = 0;
    nic_status st = nic_binary_encoder_finish(ctx, &enc, &stream, &n);
    nic_binary_encoder_free(&enc);
    NIC_TRY(st);
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        free(stream);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "rnn+cnn record: out of memory");
    }
    buf[0] = (uint8_t)layers;
    if (n)
        memcpy(buf + 1, stream, n);
    free(stream);
    *out = buf;
    *size = n + 1;
    return NIC_OK;
}

nic_status nic_rnn_record_read(nic_context *ctx, const nic_rnn_codec *c, const uint8_t *data,
                               size_t size, uint32_t width, uint32_t height, const char *name,
                               nic_rnn_codes *codes)
{
    memset(codes, 0, sizeof(*codes));
    const int B = c->model.cfg.bits, T = c->model.cfg.iterations;
    const int h16 = pad16(height) / 16, w16 = pad16(width) / 16;
    const size_t plane = (size_t)h16 * w16;
    const size_t lb = (plane * (size_t)B + 7) / 8;
    int layers;
    if (!c->has_ctx) {
        if (size == 0 || size % lb != 0 || size / lb > (size_t)T)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: %zu bytes; an rnn record of a %ux%u picture is 1..%d layers of "
                            "%zu bytes",
                            name, size, width, height, T, lb);
        layers = (int)(size / lb);
    } else {
        if (size < 1 || data[0] < 1 || data[0] > T)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: an rnn+cnn record starts with its layer count, 1..%d (found %s%d)",
                            name, T, size < 1 ? "an empty file, " : "", size < 1 ? 0 : data[0]);
        layers = data[0];
    }
    codes->iterations = layers;
    codes->bits = B;
    codes->h = h16;
    codes->w = w16;
    codes->v = malloc((size_t)layers * B * plane);
    if (!codes->v)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", name);
    if (!c->has_ctx) {
        for (int t = 0; t < layers; t++)
            unpack_bits(data + (size_t)t * lb, B, plane, nic_rnn_codes_at(codes, t));
        return NIC_OK;
    }
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, data + 1, size - 1);
    for (int t = 0; t < layers; t++)
        nic_rnn_ctx_get_layer(&c->ctx_model, &dec, codes, t);
    return NIC_OK;
}
