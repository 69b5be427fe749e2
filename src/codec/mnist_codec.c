#include "codec/mnist_codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "entropy/cdf_binary.h"
#include "entropy/gaussian.h"
#include "format/varint.h"

/* As the model's clamp of the log-scale (models/mnist_ae.c). */
#define LOG_SCALE_MIN (-7.0f)
#define LOG_SCALE_MAX (7.0f)
#define SYMBOL_LIMIT 1000000000

void nic_mnist_codec_free(nic_mnist_codec *c)
{
    free(c->table);
    free(c->mean_q);
    free(c->step);
    nic_cdf_set_free(&c->gauss);
    memset(c, 0, sizeof(*c));
}

nic_status nic_mnist_codec_create(nic_context *ctx, const nic_mnist_ae *m, nic_mnist_codec *c)
{
    memset(c, 0, sizeof(*c));
    const nn_params *p = &m->params;
    c->levels = m->cfg.levels;
    c->latent = m->cfg.latent;
    c->count = nic_mnist_ae_latent_count(m);
    const size_t lc = (size_t)c->levels * c->count;
    c->table = malloc(lc * sizeof(uint16_t));
    c->mean_q = malloc(lc * sizeof(float));
    c->step = malloc((size_t)c->levels * c->latent * sizeof(float));
    if (!c->table || !c->mean_q || !c->step) {
        nic_mnist_codec_free(c);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist codec: out of memory");
    }
    nic_status st = nic_gaussian_create(ctx, &c->gauss);
    if (st != NIC_OK) {
        nic_mnist_codec_free(c);
        return st;
    }
    const float *mu = nn_param_data(p, m->latent_mean);
    const float *lsig = nn_param_data(p, m->latent_log_scale);
    const float *lstep = nn_param_data(p, m->log_step);
    for (int l = 0; l < c->levels; l++)
        for (int ch = 0; ch < c->latent; ch++) {
            float step = expf(lstep[l * c->latent + ch]);
            c->step[l * c->latent + ch] = step;
            for (int i = 0; i < NIC_MNIST_LATENT_HW; i++) {
                int e = ch * NIC_MNIST_LATENT_HW + i;
                float ls = lsig[e] < LOG_SCALE_MIN ? LOG_SCALE_MIN
                                                   : (lsig[e] > LOG_SCALE_MAX ? LOG_SCALE_MAX : lsig[e]);
                /* The scale in fixed point, rounded up (an underestimate costs more). */
                double s = ceil((double)(expf(ls) / step) * 65536.0);
                uint32_t s_q16 = s >= 4294967295.0 ? 4294967295u : (uint32_t)s;
                c->table[(size_t)l * c->count + e] = nic_gaussian_scale_index(s_q16);
                c->mean_q[(size_t)l * c->count + e] = mu[e] / step;
            }
        }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < p->count; i++) {
        const nn_param *it = &p->items[i];
        crc = crc32(crc, (const Bytef *)(p->data + it->offset), (uInt)(it->count * sizeof(float)));
    }
    c->weights_hash = (uint32_t)crc;
    return NIC_OK;
}

void nic_mnist_codec_quantize(const nic_mnist_codec *c, int level, const float *y, int32_t *sym)
{
    const float *mq = c->mean_q + (size_t)level * c->count;
    for (int e = 0; e < c->count; e++) {
        float step = c->step[level * c->latent + e / NIC_MNIST_LATENT_HW];
        float v = nearbyintf(y[e] / step - mq[e]);
        sym[e] = v > (float)SYMBOL_LIMIT ? SYMBOL_LIMIT
                                         : (v < -(float)SYMBOL_LIMIT ? -SYMBOL_LIMIT : (int32_t)v);
    }
}

void nic_mnist_codec_dequantize(const nic_mnist_codec *c, int level, const int32_t *sym,
                                float *yhat)
{
    const float *mq = c->mean_q + (size_t)level * c->count;
    for (int e = 0; e < c->count; e++) {
        float step = c->step[level * c->latent + e / NIC_MNIST_LATENT_HW];
        yhat[e] = ((float)sym[e] + mq[e]) * step;
    }
}

void nic_mnist_codec_put(const nic_mnist_codec *c, int level, const int32_t *sym,
                         nic_binary_encoder *enc)
{
    const uint16_t *t = c->table + (size_t)level * c->count;
    for (int e = 0; e < c->count; e++)
        nic_cdf_encode_binary(&c->gauss.cdfs[t[e]], sym[e], enc);
}

nic_status nic_mnist_codec_get(nic_context *ctx, const nic_mnist_codec *c, int level,
                               nic_binary_decoder *dec, int32_t *sym)
{
    const uint16_t *t = c->table + (size_t)level * c->count;
    for (int e = 0; e < c->count; e++) {
        int64_t r;
        if (nic_cdf_decode_binary(&c->gauss.cdfs[t[e]], dec, &r) != 0 || r > SYMBOL_LIMIT ||
            r < -SYMBOL_LIMIT)
            return NIC_FAIL(ctx, NIC_ERR_CORRUPT, "mnist stream: symbol %d is malformed", e);
        sym[e] = (int32_t)r;
    }
    return NIC_OK;
}

/* name NULL: the caller's level (writing); else a file's. */
static nic_status check_level(nic_context *ctx, const nic_mnist_codec *c, int level,
                              const char *name)
{
    if (level < 0 || level >= c->levels)
        return NIC_FAIL(ctx, name ? NIC_ERR_FORMAT : NIC_ERR_INVALID_ARGUMENT,
                        "%s: level %d, the model has levels 0..%d", name ? name : "mnist codec",
                        level, c->levels - 1);
    return NIC_OK;
}

/* One binary stream of n images' symbols (n * count values). */
static nic_status encode_stream(nic_context *ctx, const nic_mnist_codec *c, int level, uint32_t n,
                                const int32_t *syms, uint8_t **out, size_t *size)
{
    nic_binary_encoder enc;
    nic_binary_encoder_init(&enc);
    for (uint32_t i = 0; i < n; i++)
        nic_mnist_codec_put(c, level, syms + (size_t)i * c->count, &enc);
    return nic_binary_encoder_finish(ctx, &enc, out, size);
}

static nic_status decode_stream(nic_context *ctx, const nic_mnist_codec *c, int level, uint32_t n,
                                const uint8_t *data, size_t size, const char *name, int32_t *syms)
{
    nic_binary_decoder dec;
    nic_binary_decoder_init(&dec, data, size);
    for (uint32_t i = 0; i < n; i++) {
        nic_status st = nic_mnist_codec_get(ctx, c, level, &dec, syms + (size_t)i * c->count);
        if (st != NIC_OK)
            return nic_fail_prefix(ctx, "%s: image %u", name, i);
    }
    return NIC_OK;
}

nic_status nic_mnist_record_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                                  const int32_t *sym, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    NIC_TRY(check_level(ctx, c, level, NULL));
    uint8_t *stream = NULL;
    size_t n = 0;
    NIC_TRY(encode_stream(ctx, c, level, 1, sym, &stream, &n));
    uint8_t *buf = malloc(n + 1);
    if (!buf) {
        free(stream);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist record: out of memory");
    }
    buf[0] = (uint8_t)(level | NIC_MNIST_RECORD_VERSION << 4);
    if (n)
        memcpy(buf + 1, stream, n);
    free(stream);
    *out = buf;
    *size = n + 1;
    return NIC_OK;
}

nic_status nic_mnist_record_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                                 size_t size, const char *name, int *level, int32_t *sym)
{
    name = name ? name : "mnist record";
    if (size < 1)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: empty (a record has at least its level byte)",
                        name);
    if (data[0] >> 4 != NIC_MNIST_RECORD_VERSION)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: record version %u, expected %u", name,
                        data[0] >> 4, NIC_MNIST_RECORD_VERSION);
    *level = data[0] & 0x0f;
    NIC_TRY(check_level(ctx, c, *level, name));
    return decode_stream(ctx, c, *level, 1, data + 1, size - 1, name, sym);
}

static void container_fill(const nic_mnist_codec *c, nic_container *f, const uint8_t *params,
                           size_t params_size, const uint8_t *stream, size_t stream_size)
{
    nic_container_init(f);
    f->model_id = NIC_MODEL_ID_MNIST;
    f->weights_hash = c->weights_hash;
    f->width = NIC_MNIST_SIDE;
    f->height = NIC_MNIST_SIDE;
    f->channels = 1;
    f->params = params;
    f->params_size = params_size;
    f->stream_count = 1;
    f->streams[0].data = stream;
    f->streams[0].size = stream_size;
}

static nic_status container_check(nic_context *ctx, const nic_mnist_codec *c,
                                  const nic_container *f, const char *name)
{
    if (f->model_id != NIC_MODEL_ID_MNIST)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: model id %u, not mnist-cnn (%d)", name,
                        f->model_id, NIC_MODEL_ID_MNIST);
    if (f->weights_hash != c->weights_hash)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s: made with other weights of the mnist model (hash %08x, these are %08x)",
                        name, f->weights_hash, c->weights_hash);
    if (f->width != NIC_MNIST_SIDE || f->height != NIC_MNIST_SIDE || f->channels != 1 ||
        f->stream_count != 1 || f->params_size < 1)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: an mnist file is 28x28, 1 channel, 1 stream (found %ux%u, %u "
                        "channels, %u streams, %zu parameter bytes)",
                        name, f->width, f->height, f->channels, f->stream_count, f->params_size);
    return check_level(ctx, c, f->params[0], name);
}

nic_status nic_mnist_nic_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                               const int32_t *sym, uint8_t **out, size_t *size)
{
    return nic_mnist_archive_write(ctx, c, level, 0, sym, out, size);
}

nic_status nic_mnist_nic_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                              size_t size, const char *name, int *level, int32_t *sym)
{
    name = name ? name : "mnist .nic file";
    nic_container f;
    NIC_TRY(nic_container_parse(ctx, data, size, name, 0, &f));
    NIC_TRY(container_check(ctx, c, &f, name));
    if (f.params_size != 1)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %zu parameter bytes, a one-image file has 1",
                        name, f.params_size);
    *level = f.params[0];
    return decode_stream(ctx, c, *level, 1, f.streams[0].data, f.streams[0].size, name, sym);
}

/* n = 0 writes the one-image form (no count); otherwise the archive of n images. */
nic_status nic_mnist_archive_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                                   uint32_t n, const int32_t *syms, uint8_t **out, size_t *size)
{
    *out = NULL;
    *size = 0;
    NIC_TRY(check_level(ctx, c, level, NULL));
    uint8_t params[1 + NIC_VARINT_MAX_BYTES];
    params[0] = (uint8_t)level;
    size_t np = 1;
    if (n > 0)
        np += nic_varint_write(params + 1, n);
    uint8_t *stream = NULL;
    size_t stream_size = 0;
    NIC_TRY(encode_stream(ctx, c, level, n > 0 ? n : 1, syms, &stream, &stream_size));
    nic_container f;
    container_fill(c, &f, params, np, stream, stream_size);
    nic_status st = nic_container_write(ctx, &f, out, size);
    free(stream);
    return st;
}

nic_status nic_mnist_archive_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                                  size_t size, const char *name, int *level, uint32_t *n,
                                  int32_t **syms)
{
    name = name ? name : "mnist archive";
    *syms = NULL;
    nic_container f;
    NIC_TRY(nic_container_parse(ctx, data, size, name, 0, &f));
    NIC_TRY(container_check(ctx, c, &f, name));
    uint32_t count = 0;
    int k = nic_varint_read(f.params + 1, f.params_size - 1, &count);
    if (k <= 0 || (size_t)k + 1 != f.params_size || count == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: the parameters of an archive are the level and a non-zero image "
                        "count (varint)",
                        name);
    if (count > NIC_MNIST_ARCHIVE_MAX_IMAGES)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: %u images (an archive holds at most %u)", name,
                        count, NIC_MNIST_ARCHIVE_MAX_IMAGES);
    int32_t *s = malloc((size_t)count * c->count * sizeof(int32_t));
    if (!s)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory for %u images", name, count);
    *level = f.params[0];
    nic_status st = decode_stream(ctx, c, *level, count, f.streams[0].data, f.streams[0].size,
                                  name, s);
    if (st != NIC_OK) {
        free(s);
        return st;
    }
    *syms = s;
    *n = count;
    return NIC_OK;
}
