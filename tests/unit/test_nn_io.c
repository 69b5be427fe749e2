/*
 * Weight files and checkpoints: safetensors round trip, malformed and
 * mutated files (never a crash, always a clear error), weights save/load,
 * and a toy training run that is checkpointed mid-way and resumes exactly.
 */
#include "test_nn_util.h"

#include <unistd.h>

#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

static nic_context *ctx;

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/nn_io_%ld_%s", test_tmp_dir(), (long)getpid(), name);
}

/* Builds a file from a header text and `data_len` data bytes. */
static uint8_t *make_file(const char *header, size_t data_len, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + data_len;
    uint8_t *b = calloc(1, *size);
    for (int k = 0; k < 8; k++)
        b[k] = (uint8_t)((uint64_t)h >> (8 * k));
    memcpy(b + 8, header, h);
    return b;
}

static nic_status parse_text(const char *header, size_t data_len)
{
    size_t size;
    uint8_t *b = make_file(header, data_len, &size);
    nn_st_file f;
    nic_status st = nn_st_parse(ctx, b, size, "test", &f);
    if (st == NIC_OK)
        nn_st_free(&f);
    free(b);
    return st;
}

static void test_roundtrip(void)
{
    nn_st_writer w;
    nn_st_writer_init(&w);
    float a[6] = {1, 2, 3, 4, 5, 6};
    double b[2] = {0.25, -1e300};
    int64_t sa[2] = {2, 3}, sb[1] = {2};
    CHECK_STATUS(nn_st_writer_add(ctx, &w, "layer.weight", NN_DTYPE_F32, 2, sa, a), NIC_OK);
    CHECK_STATUS(nn_st_writer_add(ctx, &w, "we\"ird\\name", NN_DTYPE_F64, 1, sb, b), NIC_OK);
    CHECK_STATUS(nn_st_writer_add(ctx, &w, "scalar", NN_DTYPE_F32, 0, NULL, a), NIC_OK);
    CHECK_STATUS(nn_st_writer_add(ctx, &w, "layer.weight", NN_DTYPE_F32, 2, sa, a),
                 NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nn_st_writer_meta(ctx, &w, "note", "line\nbreak \"quoted\""), NIC_OK);
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nn_st_writer_encode(ctx, &w, &buf, &size), NIC_OK);
    nn_st_writer_free(&w);
    uint64_t hlen = 0;
    for (int k = 0; k < 8; k++)
        hlen |= (uint64_t)buf[k] << (8 * k);
    CHECK(hlen % 8 == 0);
    CHECK(size == 8 + hlen + 24 + 16 + 4);
    nn_st_file f;
    CHECK_STATUS(nn_st_parse(ctx, buf, size, "roundtrip", &f), NIC_OK);
    CHECK(f.has_checksum);
    CHECK(f.tensor_count == 3);
    const nn_st_tensor *t = nn_st_find(&f, "layer.weight");
    CHECK(t && t->dtype == NN_DTYPE_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    float a2[6];
    double b2[2];
    CHECK_STATUS(nn_st_read_f32(ctx, &f, "layer.weight", a2, 6), NIC_OK);
    CHECK(memcmp(a, a2, sizeof(a)) == 0);
    CHECK_STATUS(nn_st_read_f64(ctx, &f, "we\"ird\\name", b2, 2), NIC_OK);
    CHECK(b2[0] == 0.25 && b2[1] == -1e300);
    CHECK_STATUS(nn_st_read_f32(ctx, &f, "layer.weight", a2, 5), NIC_ERR_MISMATCH);
    CHECK_STATUS(nn_st_read_f32(ctx, &f, "nope", a2, 6), NIC_ERR_MISMATCH);
    const char *note = nn_st_get_meta(&f, "note");
    CHECK(note && strcmp(note, "line\nbreak \"quoted\"") == 0);
    t = nn_st_find(&f, "scalar");
    CHECK(t && t->ndim == 0 && t->count == 1);
    nn_st_free(&f);

    /* a flipped data byte is caught by the checksum */
    buf[size - 3] ^= 0x40;
    CHECK_STATUS(nn_st_parse(ctx, buf, size, "flipped", &f), NIC_ERR_CORRUPT);
    CHECK(strstr(nic_context_error(ctx), "checksum") != NULL);
    buf[size - 3] ^= 0x40;

    /* every truncation fails cleanly */
    int ok = 1;
    for (size_t n = 0; n < size; n++) {
        nic_status st = nn_st_parse(ctx, buf, n, "truncated", &f);
        if (st == NIC_OK) {
            ok = 0;
            nn_st_free(&f);
        }
    }
    CHECK(ok);

    /* random mutations: any status, no crash, and what parses is in bounds */
    nn_rng rng;
    nn_rng_seed(&rng, 2024);
    uint8_t *m = malloc(size);
    int parsed = 0;
    for (int iter = 0; iter < 5000; iter++) {
        memcpy(m, buf, size);
        int flips = 1 + (int)nn_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)nn_rng_below(&rng, 8 + hlen); /* header area mostly */
            m[pos] = (uint8_t)nn_rng_next(&rng);
        }
        nic_status st = nn_st_parse(ctx, m, size, "mutated", &f);
        if (st == NIC_OK) {
            parsed++;
            for (int i = 0; i < f.tensor_count; i++)
                CHECK(f.tensors[i].data >= f.buf + f.data_offset &&
                      f.tensors[i].data + (f.tensors[i].end - f.tensors[i].begin) <= f.buf + f.size);
            nn_st_free(&f);
        } else {
            CHECK(nic_context_error(ctx)[0] != '\0');
        }
    }
    printf("  mutations: %d of 5000 still parsed (harmless changes, e.g. in names)\n", parsed);
    free(m);
    free(buf);
}

static void test_malformed(void)
{
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    CHECK_STATUS(parse_text(good, 8), NIC_OK);
    CHECK_STATUS(parse_text("{}", 0), NIC_OK);
    CHECK_STATUS(parse_text("{\"__metadata__\":{\"k\":\"v\"}}", 0), NIC_OK);
    /* trailing data bytes not covered by tensors */
    CHECK_STATUS(parse_text(good, 12), NIC_ERR_FORMAT);
    CHECK_STATUS(parse_text(good, 4), NIC_ERR_FORMAT);
    const char *bad[] = {
        "",
        "[",
        "{",
        "{\"a\":",
        "{\"a\":{}}",
        "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}",
        "{\"__metadata__\":{\"k\":1}}",
        "{\"__metadata__\":{\"crc32\":\"xyz\"}}",
        "{\"__metadata__\":{\"crc32\":\"00000001\"}}",
        "{\"__metadata__\":{},\"__metadata__\":{}}",
        "{\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
        "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
        "{\"a\\q\":{}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]\n",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\x01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        nic_status st = parse_text(bad[i], 8);
        CHECK_MSG(st == NIC_ERR_FORMAT || st == NIC_ERR_CORRUPT,
                  "malformed header %zu parsed with status %d", i, (int)st);
    }
    /* the crc mismatch is reported as corruption */
    CHECK_STATUS(parse_text("{\"__metadata__\":{\"crc32\":\"00000001\"}}", 0), NIC_ERR_CORRUPT);
    /* unknown keys in a tensor entry are skipped (forward compatibility) */
    CHECK_STATUS(parse_text("{\"a\":{\"dtype\":\"F32\",\"x\":{\"y\":[1,true,null,\"s\"]},\"shape\":[2],"
                            "\"data_offsets\":[0,8]}}", 8), NIC_OK);
    /* header length beyond the file or absurd */
    uint8_t raw[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    nn_st_file f;
    CHECK_STATUS(nn_st_parse(ctx, raw, sizeof(raw), "huge", &f), NIC_ERR_FORMAT);
    CHECK_STATUS(nn_st_parse(ctx, raw, 3, "tiny", &f), NIC_ERR_FORMAT);
    CHECK_STATUS(nn_st_parse(ctx, NULL, 0, "empty", &f), NIC_ERR_FORMAT);
    CHECK_STATUS(nn_st_read_file(ctx, "/nonexistent/nic/x.safetensors", &f), NIC_ERR_IO);
}

/* ------------------------------------------------------------------ weights + checkpoint */

static void declare(nn_params *p)
{
    int64_t w1[4] = {4, 1, 3, 3}, b1[1] = {4}, w2[4] = {1, 4, 3, 3}, b2[1] = {1};
    CHECK_STATUS(nn_params_add(ctx, p, "enc.weight", 4, w1, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, p, "enc.bias", 1, b1, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, p, "dec.weight", 4, w2, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, p, "dec.bias", 1, b2, 1, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, p), NIC_OK);
}

static void init_params(nn_params *p, uint64_t seed)
{
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    for (int k = 0; k < p->count; k++)
        for (size_t i = 0; i < p->items[k].count; i++)
            nn_param_data(p, k)[i] = (float)(0.3 * nn_rng_normal(&rng));
}

/* One training step of a 2-layer conv autoencoder with uniform noise in the
 * middle; all randomness comes from rng, so a restored rng replays exactly. */
static float train_step(nn_params *p, nn_adam *opt, nn_rng *rng, float *buf)
{
    nn_conv_desc d1, d2;
    nn_conv_desc_init(ctx, &d1, 2, 1, 8, 8, 4, 3, 1, 1, 1);
    nn_conv_desc_init(ctx, &d2, 2, 4, 8, 8, 1, 3, 1, 1, 1);
    size_t nx = 128, nh = 512;
    float *x = buf, *h = x + nx, *hn = h + nh, *y = hn + nh, *dy = y + nx, *dh = dy + nx;
    for (size_t i = 0; i < nx; i++) /* a data batch drawn from the rng */
        x[i] = nn_rng_uniform(rng);
    const float *w1 = nn_param_data(p, 0), *b1 = nn_param_data(p, 1);
    const float *w2 = nn_param_data(p, 2), *b2 = nn_param_data(p, 3);
    nn_conv2d_ref_forward(&d1, x, w1, b1, h);
    nn_tanh_forward(h, nh, h);
    nn_uniform_noise_forward(rng, h, nh, hn);
    nn_conv2d_ref_forward(&d2, hn, w2, b2, y);
    float loss = (float)nn_mse_forward(y, x, nx);
    nn_params_zero_grad(p);
    nn_mse_backward(y, x, nx, 1.0, dy);
    nn_conv2d_ref_backward_weights(&d2, hn, dy, nn_param_grad(p, 2), nn_param_grad(p, 3));
    nn_conv2d_ref_backward_data(&d2, dy, w2, dh);
    nn_tanh_backward(h, dh, nh, dh);
    nn_conv2d_ref_backward_weights(&d1, x, dh, nn_param_grad(p, 0), nn_param_grad(p, 1));
    nn_grad_clip(p, -1, 1.0);
    nn_adam_step(opt, p, 0.01f);
    return loss;
}

static void test_weights_and_checkpoint(void)
{
    char wpath[512], cpath[512];
    tmp_path(wpath, sizeof(wpath), "w.safetensors");
    tmp_path(cpath, sizeof(cpath), "ckpt.safetensors");
    nn_params p, q;
    nn_params_init(&p);
    nn_params_init(&q);
    declare(&p);
    declare(&q);
    init_params(&p, 1);
    CHECK_STATUS(nn_weights_save(ctx, wpath, &p), NIC_OK);
    CHECK_STATUS(nn_weights_load(ctx, wpath, &q), NIC_OK);
    CHECK(memcmp(p.data, q.data, p.total * sizeof(float)) == 0);
    /* a model with another shape is refused, and says which tensor */
    nn_params r;
    nn_params_init(&r);
    int64_t s[1] = {5};
    CHECK_STATUS(nn_params_add(ctx, &r, "enc.bias", 1, s, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, &r), NIC_OK);
    CHECK_STATUS(nn_weights_load(ctx, wpath, &r), NIC_ERR_MISMATCH);
    CHECK(strstr(nic_context_error(ctx), "enc.bias") != NULL);
    nn_params_free(&r);

    /* uninterrupted: 12 steps */
    enum { STEPS = 12, HALF = 5 };
    float *buf = xcalloc_f32(4096);
    float loss_a[STEPS], loss_b[STEPS];
    nn_adam opt;
    nn_rng rng;
    nn_adam_init(&opt);
    opt.decoupled = 1;
    opt.groups[0].weight_decay = 0.01f;
    nn_rng_seed(&rng, 77);
    init_params(&p, 3);
    memset(p.m, 0, p.total * sizeof(float));
    memset(p.v, 0, p.total * sizeof(float));
    for (int t = 0; t < STEPS; t++)
        loss_a[t] = train_step(&p, &opt, &rng, buf);
    CHECK(loss_a[STEPS - 1] < loss_a[0]);

    /* interrupted: HALF steps, checkpoint, "kill" (drop all state), resume */
    nn_params_free(&p);
    nn_params_init(&p);
    declare(&p);
    nn_adam_init(&opt);
    opt.decoupled = 1;
    opt.groups[0].weight_decay = 0.01f;
    nn_rng_seed(&rng, 77);
    init_params(&p, 3);
    for (int t = 0; t < HALF; t++)
        loss_b[t] = train_step(&p, &opt, &rng, buf);
    CHECK_STATUS(nn_checkpoint_save(ctx, cpath, &p, &opt, &rng, "{\"lr\": 0.01, \"model\": \"toy\"}"),
                 NIC_OK);
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cpath);
    CHECK(access(tmp, F_OK) != 0); /* the temp file was renamed away */
    nn_params_free(&p);
    memset(&opt, 0xab, sizeof(opt));
    memset(&rng, 0, sizeof(rng));

    nn_params_init(&p);
    declare(&p);
    nn_adam_init(&opt);
    opt.decoupled = 1;
    opt.groups[0].weight_decay = 0.01f;
    char *config = NULL;
    CHECK_STATUS(nn_checkpoint_load(ctx, cpath, &p, &opt, &rng, &config), NIC_OK);
    CHECK(opt.step == HALF);
    CHECK(config && strcmp(config, "{\"lr\": 0.01, \"model\": \"toy\"}") == 0);
    free(config);
    for (int t = HALF; t < STEPS; t++)
        loss_b[t] = train_step(&p, &opt, &rng, buf);
    for (int t = 0; t < STEPS; t++)
        CHECK_MSG(loss_a[t] == loss_b[t], "step %d: loss %.9g uninterrupted, %.9g resumed", t,
                  loss_a[t], loss_b[t]);

    /* a checkpoint is not a weights file for another model, and a weights file is not a checkpoint */
    CHECK_STATUS(nn_checkpoint_load(ctx, wpath, &q, &opt, &rng, NULL), NIC_ERR_FORMAT);
    CHECK_STATUS(nn_weights_load(ctx, cpath, &q), NIC_ERR_MISMATCH);
    /* a damaged checkpoint leaves the model untouched */
    nn_st_file f;
    CHECK_STATUS(nn_st_read_file(ctx, cpath, &f), NIC_OK);
    uint8_t *copy = malloc(f.size);
    memcpy(copy, f.buf, f.size);
    size_t size = f.size;
    nn_st_free(&f);
    copy[size - 1] ^= 1;
    CHECK_STATUS(nn_write_file_atomic(ctx, cpath, copy, size), NIC_OK);
    float before = p.data[0];
    int64_t step_before = opt.step;
    CHECK_STATUS(nn_checkpoint_load(ctx, cpath, &p, &opt, &rng, NULL), NIC_ERR_CORRUPT);
    CHECK(p.data[0] == before && opt.step == step_before);
    free(copy);

    unlink(wpath);
    unlink(cpath);
    free(buf);
    nn_params_free(&p);
    nn_params_free(&q);
}

int main(int argc, char **argv)
{
    ctx = nic_context_create();
    test_roundtrip();
    test_malformed();
    test_weights_and_checkpoint();
    nic_context_destroy(ctx);
    return test_finish("test_nn_io");
}
