/*
 * The progressive rnn codec end to end: every prefix that ends on a layer
 * boundary decodes exactly the layers it holds, a cut at any byte decodes the
 * complete layers or fails cleanly, garbage and damaged files, byte budgets,
 * --layers, deterministic decoding across thread counts. Structure is
 * checked with a small random model (and rnn+cnn with a context model fitted
 * to a few pictures' codes); that quality rises with every layer is
 * checked with the shipped model (models/rnn.safetensors) on a Kodak crop
 * when both are there.
 */
#include "test.h"
#include "test_codec_util.h"

#include <omp.h>

#include "codec/rnn_codec.h"
#include "nn/safetensors.h"

static double psnr(nic_context *ctx, const nic_image *a, const nic_image *b)
{
    nic_quality q;
    if (nic_compare(ctx, a, b, &q) != NIC_OK)
        return -1;
    return q.psnr_rgb;
}

/* Decodes data[0..len) with the defaults; returns the status, fills res. */
static nic_status decode_prefix(nic_context *ctx, const uint8_t *data, size_t len, int max_layers,
                                nic_image *out, nic_decode_result *res)
{
    nic_decode_options o;
    nic_decode_options_init(&o);
    o.max_layers = max_layers;
    return nic_decode_ex(ctx, data, len, "cut.nic", &o, out, res);
}

static int count_warnings;
static void on_log(void *user, nic_log_level level, const char *msg)
{
    (void)user;
    if (level == NIC_LOG_WARNING && strstr(msg, "truncated") && strstr(msg, "missing"))
        count_warnings++;
}

static void test_structure(nic_context *ctx)
{
    nic_rnn_codec *c = NULL;
    CHECK_STATUS(nic_codec_get_rnn(ctx, &c), NIC_OK);
    if (!c)
        return;
    const int L = 4;
    nic_image img;
    make_image(&img, 72, 40, 3, 1); /* not multiples of 16: padding and cropping */
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.model = "rnn";
    opt.layers = L;
    uint8_t *buf = NULL;
    size_t size = 0;
    nic_encode_result res;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &buf, &size, &res), NIC_OK);
    const size_t lb = nic_rnn_layer_bytes(c, 72, 40);
    CHECK(lb == (size_t)5 * 3 * 32 / 8); /* 5 x 3 positions of 32 bits: 0.125 bpp per layer */
    CHECK(res.quality_index == L && res.bytes == size);
    nic_container f;
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "a.nic", 0, &f), NIC_OK);
    CHECK(f.model_id == NIC_MODEL_ID_RNN && f.stream_count == (uint32_t)L && f.params_size == 0);
    CHECK(size == f.header_size + L * lb + 4);

    /* the whole file, then --layers 1..L: each decodes that many layers */
    nic_image full, img_k[8];
    nic_decode_result dr;
    CHECK_STATUS(decode_prefix(ctx, buf, size, 0, &full, &dr), NIC_OK);
    CHECK(dr.layers_total == L && dr.layers_decoded == L && !dr.truncated && dr.bytes_missing == 0);
    CHECK(full.width == 72 && full.height == 40 && full.channels == 3);
    for (int k = 1; k <= L; k++) {
        CHECK_STATUS(decode_prefix(ctx, buf, size, k, &img_k[k], &dr), NIC_OK);
        CHECK(dr.layers_decoded == k);
    }
    CHECK(img_k[L].data && memcmp(img_k[L].data, full.data, 72 * 40 * 3) == 0);

    /* every prefix that ends on a layer boundary: exactly its layers, the same
     * picture as --layers k, and a warning that the rest is missing */
    nic_context_set_log(ctx, on_log, NULL);
    for (int k = 1; k <= L; k++) {
        size_t len = f.header_size + k * lb;
        nic_image part;
        count_warnings = 0;
        CHECK_STATUS(decode_prefix(ctx, buf, len, 0, &part, &dr), NIC_OK);
        CHECK_MSG(dr.layers_decoded == k && dr.layers_total == L && dr.truncated &&
                      dr.bytes_missing == size - len,
                  "prefix of %zu bytes: %d of %d layers, missing %zu", len, dr.layers_decoded,
                  dr.layers_total, dr.bytes_missing);
        CHECK(count_warnings == 1);
        CHECK_MSG(part.data && img_k[k].data && memcmp(part.data, img_k[k].data, 72 * 40 * 3) == 0,
                  "prefix with %d layers differs from --layers %d", k, k);
        nic_image_free(&part);
    }
    /* a cut at every byte: the complete layers, or a clean error before the first */
    for (size_t len = 0; len < size; len++) {
        nic_image part;
        nic_status st = decode_prefix(ctx, buf, len, 0, &part, &dr);
        if (len < f.header_size + lb) {
            CHECK_MSG(st == NIC_ERR_FORMAT, "cut at %zu: status %d", len, st);
            CHECK(part.data == NULL);
        } else {
            int want = (int)((len - f.header_size) / lb);
            if (want > L)
                want = L;
            CHECK_MSG(st == NIC_OK && dr.layers_decoded == want, "cut at %zu: status %d, %d "
                      "layers, expected %d", len, st, dr.layers_decoded, want);
            nic_image_free(&part);
        }
    }
    nic_context_set_log(ctx, NULL, NULL);
    /* without partial decoding a cut file is an error, as for any model */
    nic_decode_options strict;
    nic_decode_options_init(&strict);
    strict.allow_partial = 0;
    nic_image none;
    CHECK_STATUS(nic_decode_ex(ctx, buf, size - 1, "cut.nic", &strict, &none, NULL), NIC_ERR_FORMAT);
    CHECK_STATUS(nic_decode_ex(ctx, buf, size, "a.nic", &strict, &none, NULL), NIC_OK);
    nic_image_free(&none);

    /* damage: a flipped bit in a whole file fails the CRC; in a cut file (no CRC
     * to check) it still decodes a picture, without a crash */
    uint8_t *bad = malloc(size);
    memcpy(bad, buf, size);
    bad[f.header_size + 3] ^= 0x10;
    CHECK_STATUS(decode_prefix(ctx, bad, size, 0, &none, &dr), NIC_ERR_CORRUPT);
    CHECK_STATUS(decode_prefix(ctx, bad, size - 10, 0, &none, &dr), NIC_OK);
    nic_image_free(&none);
    /* random garbage after a valid header, and random bytes altogether */
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    for (int trial = 0; trial < 200; trial++) {
        memcpy(bad, buf, size);
        size_t len = 1 + nn_rng_below(&rng, size);
        int flips = 1 + (int)nn_rng_below(&rng, 4);
        for (int i = 0; i < flips; i++)
            bad[nn_rng_below(&rng, len)] = (uint8_t)nn_rng_below(&rng, 256);
        if (trial % 4 == 0)
            for (size_t i = 0; i < len; i++)
                bad[i] = (uint8_t)nn_rng_below(&rng, 256);
        nic_status st = decode_prefix(ctx, bad, len, 0, &none, &dr);
        if (st == NIC_OK) {
            CHECK(none.width >= 1 && none.data != NULL);
            nic_image_free(&none);
        } else {
            CHECK(none.data == NULL && strlen(nic_context_error(ctx)) > 0);
        }
    }
    /* a layer whose declared size is not the picture's: malformed */
    nic_container g = f;
    g.streams[1].size = lb - 1;
    uint8_t *odd = NULL;
    size_t odd_size = 0;
    CHECK_STATUS(nic_container_write(ctx, &g, &odd, &odd_size), NIC_OK);
    CHECK_STATUS(decode_prefix(ctx, odd, odd_size, 0, &none, &dr), NIC_ERR_FORMAT);
    CHECK(strstr(nic_context_error(ctx), "layer 2 declares") != NULL);
    free(odd);
    /* pictures larger than the rnn codec handles: refused before any allocation */
    g = f;
    g.width = 4096;
    g.height = 2048;
    CHECK_STATUS(nic_container_write(ctx, &g, &odd, &odd_size), NIC_OK);
    CHECK_STATUS(decode_prefix(ctx, odd, odd_size, 0, &none, &dr), NIC_ERR_LIMIT);
    free(odd);
    /* other weights: refused */
    g = f;
    g.weights_hash ^= 1;
    CHECK_STATUS(nic_container_write(ctx, &g, &odd, &odd_size), NIC_OK);
    CHECK_STATUS(decode_prefix(ctx, odd, odd_size, 0, &none, &dr), NIC_ERR_MISMATCH);
    free(odd);
    free(bad);

    /* deterministic: other thread counts, and a fresh context, give the same pixels */
    int threads = omp_get_max_threads();
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        nic_image again;
        CHECK_STATUS(decode_prefix(ctx, buf, size, 0, &again, &dr), NIC_OK);
        CHECK_MSG(again.data && memcmp(again.data, full.data, 72 * 40 * 3) == 0,
                  "decoding with %d threads differs", th);
        nic_image_free(&again);
    }
    omp_set_num_threads(threads);

    /* byte budgets: the most layers that fit */
    nic_encode_options_init(&opt);
    opt.model = "rnn";
    for (int k = 1; k <= L; k++) {
        uint8_t *b2 = NULL;
        size_t s2 = 0;
        opt.max_bytes = f.header_size + k * lb + 4 + lb / 2; /* k and a half layers */
        CHECK_STATUS(nic_encode(ctx, &img, &opt, &b2, &s2, &res), NIC_OK);
        CHECK_MSG(res.quality_index == k && s2 <= opt.max_bytes, "budget %llu: %d layers, %zu "
                  "bytes", (unsigned long long)opt.max_bytes, res.quality_index, s2);
        /* the first layers are the same bits as in the 4-layer file */
        nic_container f2;
        CHECK_STATUS(nic_container_parse(ctx, b2, s2, "b.nic", 0, &f2), NIC_OK);
        CHECK(f2.stream_count == (uint32_t)k &&
              memcmp(f2.streams[0].data, f.streams[0].data, k * lb) == 0);
        free(b2);
    }
    /* too small for one layer: a smaller picture, scaled back on decoding */
    opt.max_bytes = f.header_size + lb / 2;
    uint8_t *b3 = NULL;
    size_t s3 = 0;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &b3, &s3, &res), NIC_OK);
    CHECK(s3 <= opt.max_bytes && res.coded_width < 72);
    nic_image small;
    CHECK_STATUS(decode_prefix(ctx, b3, s3, 0, &small, &dr), NIC_OK);
    CHECK(small.width == 72 && small.height == 40);
    nic_image_free(&small);
    free(b3);
    opt.allow_downscale = 0;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &b3, &s3, &res), NIC_ERR_LIMIT);
    opt.max_bytes = 0;
    opt.layers = c->model.cfg.iterations + 1;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &b3, &s3, &res), NIC_ERR_INVALID_ARGUMENT);
    /* quality -> layers: 0 gives 1, 100 all */
    opt.layers = 0;
    opt.quality = 0;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &b3, &s3, &res), NIC_OK);
    CHECK(res.quality_index == 1);
    free(b3);

    /* gray pictures stay gray */
    nic_image gray, gdec;
    make_image(&gray, 33, 17, 1, 2);
    opt.quality = 30;
    CHECK_STATUS(nic_encode(ctx, &gray, &opt, &b3, &s3, &res), NIC_OK);
    CHECK_STATUS(decode_prefix(ctx, b3, s3, 0, &gdec, &dr), NIC_OK);
    CHECK(gdec.channels == 1 && gdec.width == 33 && gdec.height == 17);
    nic_image_free(&gdec);
    nic_image_free(&gray);
    free(b3);

    for (int k = 1; k <= L; k++)
        nic_image_free(&img_k[k]);
    nic_image_free(&full);
    nic_image_free(&img);
    free(buf);
}

/* rnn+cnn: a context model fitted to the codes of a few pictures, exported
 * beside the rnn model; the same pictures as rnn, from fewer bytes, and the
 * same prefix and cut behaviour with layers of varying sizes. */
/* Records (FORMAT.md 6.5) of a 28 x 28 gray picture with codec c: every layer
 * count round-trips its codes and decodes to the pixels of the .nic file of
 * the same layers; raw records are 16 bytes a layer, coded ones one byte and
 * one stream; malformed records are refused. */
static void test_records(nic_context *ctx, nic_rnn_codec *c)
{
    const int L = c->model.cfg.iterations;
    nic_image img;
    make_image(&img, 28, 28, 1, 5);
    nic_rnn_codes codes;
    uint8_t *file = NULL;
    size_t fsize = 0;
    CHECK_STATUS(nic_rnn_encode_codes(ctx, c, &img, L, 0, 0, 0, &file, &fsize, NULL, &codes),
                 NIC_OK);
    CHECK(codes.h == 2 && codes.w == 2 && codes.iterations == L);
    const size_t lb = nic_rnn_layer_bytes(c, 28, 28);
    CHECK(lb == (size_t)4 * c->model.cfg.bits / 8);
    for (int k = 1; k <= L; k++) {
        uint8_t *rec = NULL;
        size_t size = 0;
        CHECK_STATUS(nic_rnn_record_write(ctx, c, &codes, k, &rec, &size), NIC_OK);
        if (!c->has_ctx)
            CHECK_MSG(size == k * lb, "raw record of %d layers: %zu bytes", k, size);
        else
            CHECK_MSG(size >= 1 && rec[0] == k, "coded record of %d layers: %zu bytes", k, size);
        nic_rnn_codes back;
        CHECK_STATUS(nic_rnn_record_read(ctx, c, rec, size, 28, 28, "rec", &back), NIC_OK);
        CHECK(back.iterations == k && back.v &&
              memcmp(back.v, codes.v, (size_t)k * codes.bits * 4) == 0);
        nic_image a, b;
        nic_decode_result dr;
        CHECK_STATUS(nic_rnn_decode_codes(ctx, c, &back, 28, 28, 1, NULL, NULL, &a), NIC_OK);
        CHECK_STATUS(decode_prefix(ctx, file, fsize, k, &b, &dr), NIC_OK);
        CHECK_MSG(a.data && b.data && memcmp(a.data, b.data, 28 * 28) == 0,
                  "%d-layer record and .nic file decode differently", k);
        nic_image_free(&a);
        nic_image_free(&b);
        free(back.v);
        /* malformed: a byte short (raw), a bad layer count (coded), empty */
        nic_rnn_codes bad;
        if (!c->has_ctx) {
            CHECK_STATUS(nic_rnn_record_read(ctx, c, rec, size - 1, 28, 28, "short", &bad),
                         NIC_ERR_FORMAT);
        } else {
            uint8_t keep = rec[0];
            rec[0] = 0;
            CHECK_STATUS(nic_rnn_record_read(ctx, c, rec, size, 28, 28, "zero", &bad),
                         NIC_ERR_FORMAT);
            rec[0] = (uint8_t)(L + 1);
            CHECK_STATUS(nic_rnn_record_read(ctx, c, rec, size, 28, 28, "many", &bad),
                         NIC_ERR_FORMAT);
            rec[0] = keep;
        }
        CHECK_STATUS(nic_rnn_record_read(ctx, c, rec, 0, 28, 28, "empty", &bad), NIC_ERR_FORMAT);
        free(rec);
    }
    uint8_t *none = NULL;
    size_t nsize = 0;
    CHECK_STATUS(nic_rnn_record_write(ctx, c, &codes, L + 1, &none, &nsize),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK(!none);
    free(codes.v);
    free(file);
    nic_image_free(&img);
}

static void test_rnn_cnn(nic_context *ctx, const char *dir)
{
    nic_rnn_codec *c = NULL;
    CHECK_STATUS(nic_codec_get_rnn(ctx, &c), NIC_OK);
    if (!c)
        return;
    const int L = c->model.cfg.iterations;
    nic_image img[3];
    nic_rnn_codes codes[3];
    for (int i = 0; i < 3; i++) {
        make_image(&img[i], 96, 64, 3, 10 + i);
        uint8_t *b = NULL;
        size_t sz = 0;
        CHECK_STATUS(nic_rnn_encode_codes(ctx, c, &img[i], L, 0, 0, 0, &b, &sz, NULL, &codes[i]),
                     NIC_OK);
        CHECK(codes[i].iterations == L && codes[i].h == 4 && codes[i].w == 6);
        free(b);
    }
    nic_rnn_ctx_model cm;
    CHECK_STATUS(nic_rnn_ctx_create(ctx, c->model.cfg.bits, L, &cm), NIC_OK);
    CHECK_NEAR(nic_rnn_ctx_evaluate(&cm, codes, 3, NULL), 1.0, 1e-3); /* p = 1/2 at first */
    nn_rng rng;
    nn_rng_seed(&rng, 2);
    double before = nic_rnn_ctx_train_epoch(&cm, codes, 3, 0.05f, &rng, NULL), after = before;
    for (int e = 0; e < 20; e++)
        after = nic_rnn_ctx_train_epoch(&cm, codes, 3, 0.05f, &rng, NULL);
    CHECK_MSG(after < 0.9 * before, "context model: %.3f -> %.3f bits per code", before, after);
    char path[8400];
    snprintf(path, sizeof(path), "%s/rnn+cnn.safetensors", dir);
    CHECK_STATUS(nic_rnn_cnn_export(ctx, &c->model, &cm, path, "test"), NIC_OK);
    nic_rnn_ctx_free(&cm);

    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.layers = L;
    uint8_t *raw = NULL, *coded = NULL;
    size_t raw_size = 0, coded_size = 0;
    opt.model = "rnn";
    CHECK_STATUS(nic_encode(ctx, &img[0], &opt, &raw, &raw_size, NULL), NIC_OK);
    opt.model = "rnn+cnn";
    CHECK_STATUS(nic_encode(ctx, &img[0], &opt, &coded, &coded_size, NULL), NIC_OK);
    CHECK_MSG(coded_size < raw_size, "rnn+cnn %zu bytes, rnn %zu", coded_size, raw_size);
    nic_container f;
    CHECK_STATUS(nic_container_parse(ctx, coded, coded_size, "c.nic", 0, &f), NIC_OK);
    CHECK(f.model_id == NIC_MODEL_ID_RNN_CNN && f.stream_count == (uint32_t)L);
    nic_image a, b;
    nic_decode_result dr;
    CHECK_STATUS(decode_prefix(ctx, raw, raw_size, 0, &a, &dr), NIC_OK);
    CHECK_STATUS(decode_prefix(ctx, coded, coded_size, 0, &b, &dr), NIC_OK);
    CHECK_MSG(a.data && b.data && memcmp(a.data, b.data, 96 * 64 * 3) == 0,
              "rnn+cnn decodes to other pixels than rnn");
    nic_image_free(&a);
    nic_image_free(&b);
    /* budgets: the most coded layers that fit */
    uint8_t *two = NULL, *fit = NULL;
    size_t two_size = 0, fit_size = 0;
    nic_encode_result er;
    opt.layers = 2;
    CHECK_STATUS(nic_encode(ctx, &img[0], &opt, &two, &two_size, NULL), NIC_OK);
    opt.layers = 0;
    opt.max_bytes = two_size;
    CHECK_STATUS(nic_encode(ctx, &img[0], &opt, &fit, &fit_size, &er), NIC_OK);
    CHECK(er.quality_index == 2 && fit_size == two_size && fit && memcmp(fit, two, two_size) == 0);
    free(fit);
    opt.max_bytes = two_size - 1;
    CHECK_STATUS(nic_encode(ctx, &img[0], &opt, &fit, &fit_size, &er), NIC_OK);
    CHECK(er.quality_index == 1 && fit_size < two_size);
    free(fit);
    free(two);
    opt.max_bytes = 0;
    /* prefixes ending on a layer, and cuts at every byte */
    for (size_t len = 0; len < coded_size; len++) {
        int want = 0;
        while (want < L && f.streams[want].offset + f.streams[want].size <= len)
            want++;
        nic_status st = decode_prefix(ctx, coded, len, 0, &b, &dr);
        if (want == 0) {
            CHECK_MSG(st != NIC_OK, "cut at %zu decoded", len);
        } else {
            CHECK_MSG(st == NIC_OK && dr.layers_decoded == want, "cut at %zu: status %d, %d "
                      "layers, expected %d", len, st, dr.layers_decoded, want);
            if (st == NIC_OK && len == f.streams[want - 1].offset + f.streams[want - 1].size) {
                nic_image k;
                CHECK_STATUS(decode_prefix(ctx, raw, raw_size, want, &k, &dr), NIC_OK);
                CHECK_MSG(k.data && memcmp(k.data, b.data, 96 * 64 * 3) == 0,
                          "%d-layer prefix differs from rnn's %d layers", want, want);
                nic_image_free(&k);
            }
        }
        nic_image_free(&b);
    }
    /* garbage in the coded layers: a CRC error when whole, a picture when cut */
    uint8_t *bad = malloc(coded_size);
    for (int trial = 0; trial < 100; trial++) {
        memcpy(bad, coded, coded_size);
        size_t at = f.header_size + nn_rng_below(&rng, coded_size - f.header_size - 4);
        bad[at] ^= (uint8_t)(1 + nn_rng_below(&rng, 255));
        CHECK_STATUS(decode_prefix(ctx, bad, coded_size, 0, &b, &dr), NIC_ERR_CORRUPT);
        nic_status st = decode_prefix(ctx, bad, coded_size - 4, 0, &b, &dr);
        CHECK(st == NIC_OK || st == NIC_ERR_FORMAT);
        nic_image_free(&b);
    }
    free(bad);
    /* a fresh context finds the rnn+cnn model by its name */
    nic_context *ctx2 = nic_context_create();
    nic_context_set_model_dir(ctx2, dir);
    nic_rnn_codec *c2 = NULL;
    CHECK_STATUS(nic_codec_get_rnn_cnn(ctx2, &c2), NIC_OK);
    CHECK(c2 && c2->has_ctx && nic_rnn_model_id(c2) == NIC_MODEL_ID_RNN_CNN);
    if (c2) {
        test_records(ctx2, c2);
        test_records(ctx, c);
    }
    nic_context_destroy(ctx2);
    free(raw);
    free(coded);
    for (int i = 0; i < 3; i++) {
        free(codes[i].v);
        nic_image_free(&img[i]);
    }
}

/* With the shipped model: PSNR rises with every layer on a natural picture. */
static void test_quality_rises(const char *fixtures)
{
    char models[4096], kodak[4200];
    snprintf(models, sizeof(models), "%s/../../models", fixtures);
    snprintf(kodak, sizeof(kodak), "%s/kodak/kodim23.png", test_data_dir(fixtures));
    char path[4200];
    snprintf(path, sizeof(path), "%s/rnn.safetensors", models);
    FILE *fm = fopen(path, "rb"), *fk = fopen(kodak, "rb");
    if (!fm || !fk) {
        printf("test_codec_rnn: no shipped rnn model or no Kodak data: quality check skipped\n");
        if (fm)
            fclose(fm);
        if (fk)
            fclose(fk);
        return;
    }
    fclose(fm);
    fclose(fk);
    nic_context *ctx = nic_context_create();
    nic_context_set_model_dir(ctx, models);
    nic_image src, crop;
    CHECK_STATUS(nic_image_read_file(ctx, kodak, &src, NULL), NIC_OK);
    /* a 192 x 128 crop (faces and texture) keeps this quick */
    nic_image_alloc(ctx, &crop, 192, 128, 3);
    for (uint32_t y = 0; y < 128; y++)
        memcpy(crop.data + (size_t)y * 192 * 3, src.data + ((size_t)(y + 200) * src.width + 300) * 3,
               192 * 3);
    nic_rnn_codec *c = NULL;
    CHECK_STATUS(nic_codec_get_rnn(ctx, &c), NIC_OK);
    const int L = c ? c->model.cfg.iterations : 1;
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.model = "rnn";
    opt.layers = L;
    uint8_t *buf = NULL;
    size_t size = 0;
    CHECK_STATUS(nic_encode(ctx, &crop, &opt, &buf, &size, NULL), NIC_OK);
    nic_container f;
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "q.nic", 0, &f), NIC_OK);
    const size_t lb = c ? nic_rnn_layer_bytes(c, 192, 128) : 1;
    double prev = 0, first = 0;
    printf("test_codec_rnn: shipped model on a kodim23 crop:");
    for (int k = 1; k <= L; k++) {
        nic_image d;
        nic_decode_result dr;
        CHECK_STATUS(decode_prefix(ctx, buf, f.header_size + k * lb, 0, &d, &dr), NIC_OK);
        double p = psnr(ctx, &crop, &d);
        printf(" %d:%.2f", k, p);
        /* every layer adds detail; a young model's last layers add little, so beyond
         * the fourth a layer only must not lose more than 0.05 dB */
        if (k == 1)
            first = p;
        else if (k <= 4)
            CHECK_MSG(p > prev + 0.1, "layer %d: PSNR %.3f after %.3f", k, p, prev);
        else
            CHECK_MSG(p > prev - 0.05, "layer %d: PSNR %.3f after %.3f", k, p, prev);
        prev = p;
        nic_image_free(&d);
    }
    printf(" dB\n");
    CHECK_MSG(prev > first + 1.0, "%d layers: %.2f dB, 1 layer %.2f dB", L, prev, first);
    free(buf);
    nic_image_free(&src);
    nic_image_free(&crop);
    nic_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    nic_context *ctx = nic_context_create();
    /* a small random model, exported like a shipped one */
    nic_rnn_config cfg;
    nic_rnn_config_default(&cfg);
    cfg.e_conv = 4;
    cfg.enc[0] = 8;
    cfg.enc[1] = 8;
    cfg.enc[2] = 8;
    cfg.d_conv = 8;
    cfg.dec[0] = 8;
    cfg.dec[1] = 8;
    cfg.dec[2] = 8;
    cfg.dec[3] = 4;
    cfg.iterations = 6;
    cfg.gain = 1; /* per-iteration gains, away from 1 below */
    nic_rnn_model m;
    CHECK_STATUS(nic_rnn_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 4);
    nic_rnn_model_init(&m, &rng);
    for (int t = 0; t < NIC_RNN_MAX_ITERATIONS; t++)
        nn_param_data(&m.params, m.gain)[t] = 0.25f * t;
    char dir[4096], path[8400];
    snprintf(dir, sizeof(dir), "%s", test_tmp_dir());
    snprintf(path, sizeof(path), "%s/rnn.safetensors", dir);
    CHECK_STATUS(nic_rnn_export(ctx, &m, path, "test model"), NIC_OK);
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);
    nic_rnn_model_free(&m);
    test_structure(ctx);
    test_rnn_cnn(ctx, dir);
    nic_context_destroy(ctx);
    test_quality_rises(test_fixtures_dir(argc, argv));
    return test_finish("test_codec_rnn");
}
