#include "codec/hyper_codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "codec/codec_util.h"
#include "entropy/factorized.h"
#include "entropy/gaussian.h"
#include "metrics/metrics.h"
#include "models/likelihood.h"
#include "nn/safetensors.h"

/* ln(s_t) in Q16 for the 64 Gaussian table scales s_t = nic_gaussian_scale_q16[t] / 2^16:
 * [round(65536 * log(round(65536 * 0.11 * (256 / 0.11) ** (i / 63)) / 65536)) for i in 0..63].
 * Committed constants, so the index choice needs no libm (docs/CODEC.md). */
static const int32_t ln_scale_q16[NIC_GAUSSIAN_SCALES] = {
    -144656, -136591, -128524, -120462, -112400, -104332, -96270, -88202, -80141, -72075,
    -64011,  -55947,  -47882,  -39817,  -31753,  -23688,  -15624, -7559,  505,    8569,
    16634,   24699,   32763,   40828,   48892,   56957,   65021,  73086,  81150,  89215,
    97280,   105344,  113409,  121473,  129538,  137602,  145667, 153731, 161796, 169860,
    177925,  185989,  194054,  202118,  210183,  218247,  226312, 234376, 242441, 250505,
    258570,  266635,  274699,  282764,  290828,  298893,  306957, 315022, 323086, 331151,
    339215,  347280,  355344,  363409};

uint16_t nic_hyper_scale_index(int32_t log_sigma_q16)
{
    /* The smallest table whose scale is >= sigma (the last one for larger scales). */
    uint32_t lo = 0, hi = NIC_GAUSSIAN_SCALES - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (ln_scale_q16[mid] >= log_sigma_q16)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint16_t)lo;
}

/* ---------------------------------------------------------------- z tables */

#define Z_TAIL 1e-7
#define Z_MAX_RADIUS 2000

typedef struct z_table_data {
    int32_t *offsets;
    int32_t *lengths;
    int64_t *weights; /* [nz][stride] */
    size_t stride;
} z_table_data;

static void z_table_data_free(z_table_data *t)
{
    free(t->offsets);
    free(t->lengths);
    free(t->weights);
    memset(t, 0, sizeof(*t));
}

static double fp_cdf(const float *p, double u)
{
    return 1.0 / (1.0 + exp(-nic_fp_logit(p, u)));
}

/* Integer probability weights of every channel's factorized prior over the
 * integers where it has mass; the tails go to the escape symbol. */
static nic_status z_tables_compute(nic_context *ctx, const nic_hyper_model *m, z_table_data *t)
{
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    const int nz = m->cfg.nz;
    const float *params = nn_param_data(&m->params, m->prior);
    memset(t, 0, sizeof(*t));
    t->offsets = calloc((size_t)nz, sizeof(int32_t));
    t->lengths = calloc((size_t)nz, sizeof(int32_t));
    int *lo = calloc((size_t)nz, sizeof(int)), *hi = calloc((size_t)nz, sizeof(int));
    if (!t->offsets || !t->lengths || !lo || !hi) {
        free(lo);
        free(hi);
        z_table_data_free(t);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "z tables: out of memory");
    }
    size_t maxlen = 2;
    for (int c = 0; c < nz; c++) {
        const float *p = params + (size_t)c * l.count;
        /* median: the logit is increasing, find its zero by bisection */
        double a = -4096, b = 4096;
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (a + b);
            if (nic_fp_logit(p, mid) < 0)
                a = mid;
            else
                b = mid;
        }
        int med = (int)floor(0.5 * (a + b) + 0.5);
        int r = 1;
        while (r < Z_MAX_RADIUS &&
               (fp_cdf(p, med - r - 0.5) > Z_TAIL || 1.0 - fp_cdf(p, med + r + 0.5) > Z_TAIL))
            r++;
        lo[c] = med - r;
        hi[c] = med + r;
        size_t len = (size_t)(hi[c] - lo[c] + 2);
        if (len > maxlen)
            maxlen = len;
    }
    t->stride = maxlen;
    t->weights = calloc((size_t)nz * maxlen, sizeof(int64_t));
    if (!t->weights) {
        free(lo);
        free(hi);
        z_table_data_free(t);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "z tables: out of memory");
    }
    for (int c = 0; c < nz; c++) {
        const float *p = params + (size_t)c * l.count;
        int64_t *w = t->weights + (size_t)c * maxlen;
        int n = hi[c] - lo[c] + 1;
        double prev = fp_cdf(p, lo[c] - 0.5), tails = prev;
        for (int k = 0; k < n; k++) {
            double next = fp_cdf(p, lo[c] + k + 0.5);
            double pmf = next - prev;
            prev = next;
            w[k] = 1 + (int64_t)llround((pmf > 0 ? pmf : 0) * 4294967296.0);
        }
        tails += 1.0 - prev;
        w[n] = 1 + (int64_t)llround(tails * 4294967296.0);
        t->offsets[c] = lo[c];
        t->lengths[c] = n + 1;
    }
    free(lo);
    free(hi);
    return NIC_OK;
}

static nic_status z_tables_build(nic_context *ctx, nic_hyper_codec *c, const z_table_data *t)
{
    int nz = c->model.cfg.nz;
    uint32_t *lengths = malloc(sizeof(uint32_t) * nz);
    uint64_t *weights = malloc(sizeof(uint64_t) * nz * t->stride);
    if (!lengths || !weights) {
        free(lengths);
        free(weights);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "z tables: out of memory");
    }
    nic_status st = NIC_OK;
    for (int i = 0; i < nz; i++) {
        if (t->lengths[i] < 2 || (size_t)t->lengths[i] > t->stride ||
            t->lengths[i] > NIC_CDF_MAX_SYMBOLS)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: z table %d has %d symbols", c->path, i,
                          t->lengths[i]);
        lengths[i] = (uint32_t)t->lengths[i];
    }
    for (size_t i = 0; st == NIC_OK && i < (size_t)nz * t->stride; i++) {
        if (t->weights[i] < 0)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: negative z table weight", c->path);
        weights[i] = (uint64_t)t->weights[i];
    }
    if (st == NIC_OK)
        st = nic_factorized_create_from_weights(ctx, &c->z_tables, (uint32_t)nz, t->offsets,
                                                lengths, weights, t->stride);
    free(lengths);
    free(weights);
    return st;
}

nic_status nic_hyper_export(nic_context *ctx, const nic_hyper_model *m, const char *path,
                            const char *description, nic_hyper_distortion distortion)
{
    z_table_data t;
    NIC_TRY(z_tables_compute(ctx, m, &t));
    nn_st_writer w;
    nn_st_writer_init(&w);
    const nn_params *p = &m->params;
    nic_status st = nn_st_writer_meta(ctx, &w, "format", "nic-model-1");
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "model", "hyper");
    if (st == NIC_OK && description)
        st = nn_st_writer_meta(ctx, &w, "description", description);
    if (st == NIC_OK)
        st = nn_st_writer_meta(ctx, &w, "distortion", nic_hyper_distortion_name(distortion));
    for (int i = 0; st == NIC_OK && i < p->count; i++)
        st = nn_st_writer_add(ctx, &w, p->items[i].name, NN_DTYPE_F32, p->items[i].ndim,
                              p->items[i].shape, p->data + p->items[i].offset);
    int64_t s1[1] = {m->cfg.nz}, s2[2] = {m->cfg.nz, (int64_t)t.stride};
    if (st == NIC_OK)
        st = nn_st_writer_add(ctx, &w, "z_tables.offsets", NN_DTYPE_I32, 1, s1, t.offsets);
    if (st == NIC_OK)
        st = nn_st_writer_add(ctx, &w, "z_tables.lengths", NN_DTYPE_I32, 1, s1, t.lengths);
    if (st == NIC_OK)
        st = nn_st_writer_add(ctx, &w, "z_tables.weights", NN_DTYPE_I64, 2, s2, t.weights);
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    nn_st_writer_free(&w);
    z_table_data_free(&t);
    return st;
}

/* ---------------------------------------------------------------- loading */

static int64_t shape_dim(const nn_st_file *f, const char *name, int dim)
{
    const nn_st_tensor *t = nn_st_find(f, name);
    return (t && t->ndim > dim) ? t->shape[dim] : -1;
}

static nic_status load_z_tables(nic_context *ctx, nic_hyper_codec *c, const nn_st_file *f)
{
    const nn_st_tensor *to = nn_st_find(f, "z_tables.offsets");
    const nn_st_tensor *tl = nn_st_find(f, "z_tables.lengths");
    const nn_st_tensor *tw = nn_st_find(f, "z_tables.weights");
    int nz = c->model.cfg.nz;
    z_table_data t;
    memset(&t, 0, sizeof(t));
    if (!to || !tl || !tw) {
        /* A file without exported tables (e.g. straight from training): build them
         * here. Fine on this machine; export for files that travel. */
        NIC_TRY(z_tables_compute(ctx, &c->model, &t));
    } else {
        if (to->dtype != NN_DTYPE_I32 || tl->dtype != NN_DTYPE_I32 || tw->dtype != NN_DTYPE_I64 ||
            to->count != (uint64_t)nz || tl->count != (uint64_t)nz || tw->ndim != 2 ||
            tw->shape[0] != nz || tw->shape[1] < 2)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: z_tables tensors have the wrong type or shape",
                            c->path);
        t.stride = (size_t)tw->shape[1];
        t.offsets = malloc(sizeof(int32_t) * nz);
        t.lengths = malloc(sizeof(int32_t) * nz);
        t.weights = malloc(sizeof(int64_t) * nz * t.stride);
        if (!t.offsets || !t.lengths || !t.weights) {
            z_table_data_free(&t);
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "z tables: out of memory");
        }
        memcpy(t.offsets, to->data, sizeof(int32_t) * nz);
        memcpy(t.lengths, tl->data, sizeof(int32_t) * nz);
        memcpy(t.weights, tw->data, sizeof(int64_t) * nz * t.stride);
    }
    nic_status st = z_tables_build(ctx, c, &t);
    z_table_data_free(&t);
    return st;
}

#define RECON_TENSOR "recon.offset"

/* The reconstruction offsets, if the file has them; the weights hash goes on
 * over their bytes, so a file coded with other offsets is refused. */
static nic_status load_recon(nic_context *ctx, nic_hyper_codec *c, const nn_st_file *f)
{
    const nn_st_tensor *t = nn_st_find(f, RECON_TENSOR);
    if (!t)
        return NIC_OK;
    if (t->dtype != NN_DTYPE_I32 || t->ndim != 3 || t->shape[0] != NIC_HYPER_QUALITY_LEVELS ||
        t->shape[1] != NIC_GAUSSIAN_SCALES || t->shape[2] != NIC_HYPER_RECON_MAGS)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %s is not int32 [%d][%d][%d]", c->path,
                        RECON_TENSOR, NIC_HYPER_QUALITY_LEVELS, NIC_GAUSSIAN_SCALES,
                        NIC_HYPER_RECON_MAGS);
    c->recon_offset = malloc(sizeof(int32_t) * NIC_HYPER_RECON_SIZE);
    if (!c->recon_offset)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory loading %s", c->path);
    memcpy(c->recon_offset, t->data, sizeof(int32_t) * NIC_HYPER_RECON_SIZE);
    for (size_t i = 0; i < NIC_HYPER_RECON_SIZE; i++)
        if (c->recon_offset[i] < 0 || c->recon_offset[i] > NIC_HYPER_RECON_MAX)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %s[%zu] = %d is not in 0..%d", c->path,
                            RECON_TENSOR, i, c->recon_offset[i], NIC_HYPER_RECON_MAX);
    c->weights_hash = (uint32_t)crc32(c->weights_hash, (const Bytef *)c->recon_offset,
                                      (uInt)(sizeof(int32_t) * NIC_HYPER_RECON_SIZE));
    return NIC_OK;
}

#define Y_TABLES_TENSOR "y_tables.weights"

/* The y tables: fitted ones if the file has them (the hash goes on over
 * them), else the Gaussian tables. */
static nic_status load_y_tables(nic_context *ctx, nic_hyper_codec *c, const nn_st_file *f)
{
    const nn_st_tensor *t = nn_st_find(f, Y_TABLES_TENSOR);
    if (!t)
        return nic_gaussian_create(ctx, &c->y_tables);
    const size_t n = nic_gaussian_weights_count();
    if (t->dtype != NN_DTYPE_I64 || t->ndim != 1 || t->count != n)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %s is not int64 [%zu]", c->path,
                        Y_TABLES_TENSOR, n);
    uint64_t *w = malloc(sizeof(uint64_t) * n);
    if (!w)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory loading %s", c->path);
    memcpy(w, t->data, sizeof(uint64_t) * n);
    nic_status st = nic_gaussian_create_from_weights(ctx, &c->y_tables, w);
    if (st != NIC_OK)
        nic_fail_prefix(ctx, "%s: %s", c->path, Y_TABLES_TENSOR);
    else
        c->weights_hash =
            (uint32_t)crc32(c->weights_hash, (const Bytef *)w, (uInt)(sizeof(uint64_t) * n));
    free(w);
    return st;
}

nic_status nic_hyper_write_tables(nic_context *ctx, const char *path, const int32_t *offsets,
                                  const uint64_t *y_weights)
{
    for (size_t i = 0; offsets && i < NIC_HYPER_RECON_SIZE; i++)
        if (offsets[i] < 0 || offsets[i] > NIC_HYPER_RECON_MAX)
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "reconstruction offset %d is not in 0..%d", offsets[i],
                            NIC_HYPER_RECON_MAX);
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nn_st_writer w;
    nn_st_writer_init(&w);
    nic_status st = NIC_OK;
    for (int i = 0; st == NIC_OK && i < f.meta_count; i++)
        st = nn_st_writer_meta(ctx, &w, f.meta[i].key, f.meta[i].value);
    for (int i = 0; st == NIC_OK && i < f.tensor_count; i++) {
        const nn_st_tensor *t = &f.tensors[i];
        if (!(offsets && strcmp(t->name, RECON_TENSOR) == 0) &&
            !(y_weights && strcmp(t->name, Y_TABLES_TENSOR) == 0))
            st = nn_st_writer_add(ctx, &w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    int64_t shape[3] = {NIC_HYPER_QUALITY_LEVELS, NIC_GAUSSIAN_SCALES, NIC_HYPER_RECON_MAGS};
    if (st == NIC_OK && offsets)
        st = nn_st_writer_add(ctx, &w, RECON_TENSOR, NN_DTYPE_I32, 3, shape, offsets);
    int64_t n = (int64_t)nic_gaussian_weights_count();
    if (st == NIC_OK && y_weights)
        st = nn_st_writer_add(ctx, &w, Y_TABLES_TENSOR, NN_DTYPE_I64, 1, &n, y_weights);
    if (st == NIC_OK)
        st = nn_st_writer_write(ctx, &w, path);
    nn_st_writer_free(&w);
    nn_st_free(&f);
    return st;
}

nic_status nic_hyper_codec_load(nic_context *ctx, const char *path, nic_hyper_codec **out)
{
    *out = NULL;
    nn_st_file f;
    NIC_TRY(nn_st_read_file(ctx, path, &f));
    nic_hyper_codec *c = calloc(1, sizeof(*c));
    if (!c) {
        nn_st_free(&f);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory loading %s", path);
    }
    snprintf(c->path, sizeof(c->path), "%s", path);
    nic_hyper_config cfg = {(int)shape_dim(&f, "g_a.0.weight", 0),
                            (int)shape_dim(&f, "g_a.6.weight", 0),
                            (int)shape_dim(&f, "h_a.4.weight", 0), 0, 0};
    if (nn_st_find(&f, "ctx.0.weight")) {
        cfg.ctx = (int)shape_dim(&f, "ctx.0.weight", 0);
        cfg.ctx_nb = cfg.m > 0 ? (int)(shape_dim(&f, "ctx.0.weight", 1) / cfg.m) : 0;
    }
    nic_status st = NIC_OK;
    if (cfg.n <= 0 || cfg.m <= 0 || cfg.nz <= 0)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not a hyper model (g_a / h_a weights missing)",
                      path);
    else if (cfg.ctx > 0 && (cfg.ctx_nb != 4 && cfg.ctx_nb != 12))
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT,
                      "%s: the context network's input (%lld) is not 4 or 12 times M = %d", path,
                      (long long)shape_dim(&f, "ctx.0.weight", 1), cfg.m);
    /* files from before the MS-SSIM variant have no "distortion": MSE */
    const char *dist = nn_st_get_meta(&f, "distortion");
    int d = dist ? nic_hyper_distortion_parse(dist) : NIC_HYPER_MSE;
    if (st == NIC_OK && d < 0)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: unknown distortion '%s' (mse or ms-ssim)", path,
                      dist);
    c->distortion = d == NIC_HYPER_MSSSIM ? NIC_HYPER_MSSSIM : NIC_HYPER_MSE;
    c->model_id = c->distortion == NIC_HYPER_MSSSIM ? NIC_MODEL_ID_HYPER_MSSSIM
                                                    : NIC_MODEL_ID_HYPER;
    if (st == NIC_OK)
        st = nic_hyper_model_create_values(ctx, &cfg, &c->model);
    if (st == NIC_OK)
        st = nic_codec_read_params(ctx, &f, path, &c->model.params, &c->weights_hash);
    if (st == NIC_OK)
        st = nic_hyper_int_create(ctx, &c->model, &c->hint);
    if (st == NIC_OK)
        st = nic_int_transform_create(ctx, &c->model, 1, &c->synthesis);
    c->isa = nn_isa_best();
    if (st == NIC_OK)
        st = load_z_tables(ctx, c, &f);
    if (st == NIC_OK)
        st = load_recon(ctx, c, &f);
    if (st == NIC_OK)
        st = load_y_tables(ctx, c, &f);
    nn_st_free(&f);
    if (st != NIC_OK) {
        nic_hyper_codec_free(c);
        return st;
    }
    *out = c;
    return NIC_OK;
}

void nic_hyper_codec_free(nic_hyper_codec *c)
{
    if (!c)
        return;
    nic_hyper_int_free(&c->hint);
    nic_int_transform_free(&c->analysis);
    nic_int_transform_free(&c->synthesis);
    nic_cdf_set_free(&c->z_tables);
    nic_cdf_set_free(&c->y_tables);
    free(c->recon_offset);
    nic_hyper_model_free(&c->model);
    nn_engine_destroy(c->eng);
    free(c);
}

/* ---------------------------------------------------------------- transforms */

/* What only the encoder needs, made on first use so that decoding does not
 * pay for it: the integer analysis and the engine (float kernels of h_a). */
nic_status nic_hyper_codec_prepare_encoder(nic_context *ctx, nic_hyper_codec *c)
{
    if (!c->have_engine) {
        c->have_engine = 1;
        if (nn_engine_create(ctx, &c->eng) != NIC_OK) {
            nic_context_clear_error(ctx); /* reference kernels still work */
            c->eng = NULL;
        }
    }
    if (!c->have_analysis) {
        NIC_TRY(nic_int_transform_create(ctx, &c->model, 0, &c->analysis));
        c->have_analysis = 1;
    }
    return NIC_OK;
}

static int pad64(uint32_t v)
{
    return (int)((v + 63) / 64 * 64);
}

/* Runs a chain of conv blocks (with GDN or ReLU between) on one image.
 * mode: 0 = GDN after all but the last, 1 = ReLU after all but the last. */
static nic_status run_chain(nic_context *ctx, nn_engine *eng, unsigned flags, nic_conv_block *b,
                            nic_gdn_block *gdn, int count, const nn_params *p, const float *x,
                            int h, int w, float *out, int *h_out, int *w_out)
{
    nic_status st = NIC_OK;
    float *bufs[2] = {NULL, NULL}, *sq = NULL, *norm = NULL;
    size_t cap = 0;
    int hh = h, ww = w;
    /* size the scratch by the largest intermediate output */
    for (int i = 0; i < count; i++) {
        int ho, wo;
        if (b[i].transposed) {
            ho = hh * b[i].stride;
            wo = ww * b[i].stride;
        } else {
            ho = (hh + 2 * (b[i].k / 2) - b[i].k) / b[i].stride + 1;
            wo = (ww + 2 * (b[i].k / 2) - b[i].k) / b[i].stride + 1;
        }
        size_t n = (size_t)b[i].c_out * ho * wo;
        if (i < count - 1 && n > cap)
            cap = n;
        hh = ho;
        ww = wo;
    }
    for (int k = 0; k < 2; k++)
        bufs[k] = nn_alloc(cap * sizeof(float));
    if (gdn) {
        sq = nn_alloc(cap * sizeof(float));
        norm = nn_alloc(cap * sizeof(float));
    }
    if (!bufs[0] || !bufs[1] || (gdn && (!sq || !norm))) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for a %dx%d image", h, w);
        goto done;
    }
    const float *in = x;
    hh = h;
    ww = w;
    for (int i = 0; i < count && st == NIC_OK; i++) {
        int last = i == count - 1;
        st = nic_check_abort(ctx, "transform");
        if (st != NIC_OK)
            break;
        float *dst = last ? out : bufs[i & 1];
        st = nic_conv_block_plan(ctx, eng, &b[i], 1, hh, ww, flags);
        if (st != NIC_OK)
            break;
        st = nic_conv_block_forward(ctx, &b[i], p, in, dst);
        nic_conv_block_release(&b[i]);
        hh = b[i].h_out;
        ww = b[i].w_out;
        if (st != NIC_OK || last)
            break;
        size_t n = (size_t)b[i].c_out * hh * ww;
        if (gdn) {
            st = nic_gdn_block_plan(ctx, eng, &gdn[i], 1, hh, ww, flags);
            if (st == NIC_OK)
                st = nic_gdn_block_forward(ctx, &gdn[i], p, dst, dst, sq, norm); /* in place */
            nic_gdn_block_release(&gdn[i]);
        } else {
            nn_relu_forward(dst, n, dst);
        }
        in = dst;
    }
    *h_out = hh;
    *w_out = ww;
done:
    nn_free(bufs[0]);
    nn_free(bufs[1]);
    nn_free(sq);
    nn_free(norm);
    return st;
}

void nic_hyper_latents_free(nic_hyper_latents *lat)
{
    free(lat->y);
    free(lat->zhat);
    free(lat->mean_q16);
    free(lat->log_scale_q16);
    free(lat->z_stream);
    memset(lat, 0, sizeof(*lat));
}

/* The float model's analysis on the engine's kernels (float_transforms). */
static nic_status analyze_float(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                                int ph, int pw, float *y)
{
    const size_t plane = (size_t)ph * pw;
    float *x = nn_alloc(3 * plane * sizeof(float));
    if (!x)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for a %ux%u image", img->width,
                        img->height);
    /* [0, 1] planes, edges replicated into the padding */
    nic_codec_image_to_planes(img, ph, pw, x);
    int h, w;
    nic_hyper_model *m = &c->model;
    nic_status st = run_chain(ctx, c->eng, 0, m->ga, m->ga_gdn, 4, &m->params, x, ph, pw, y, &h, &w);
    nn_free(x);
    return st;
}

static int32_t t_from_quality(int q)
{
    return (int32_t)(((int64_t)q * NIC_Q_ONE + 127) / 255);
}

/* z = h_a(y) rounded, the integer heads' mean and log-scale of y, and z's
 * stream, from lat->y (into lat's buffers; a previous z stream is replaced). */
static nic_status hyper_side(nic_context *ctx, nic_hyper_codec *c, nic_hyper_latents *lat)
{
    nic_hyper_model *m = &c->model;
    const size_t nz = (size_t)m->cfg.nz * lat->hz * lat->wz;
    float *zf = nn_alloc(nz * sizeof(float));
    if (!zf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for a %ux%u image", lat->width,
                        lat->height);
    int h, w;
    nic_status st = run_chain(ctx, c->eng, 0, m->ha, NULL, 3, &m->params, lat->y, lat->hy,
                              lat->wy, zf, &h, &w);
    for (size_t i = 0; i < nz && st == NIC_OK; i++) {
        float v = nearbyintf(zf[i]);
        lat->zhat[i] = v > 1e6f ? 1000000 : (v < -1e6f ? -1000000 : (int32_t)v);
    }
    nn_free(zf);
    if (st == NIC_OK)
        st = nic_hyper_int_heads(ctx, &c->hint, lat->zhat, lat->hz, lat->wz, lat->mean_q16,
                                 lat->log_scale_q16);
    if (st == NIC_OK) {
        free(lat->z_stream);
        lat->z_stream = NULL;
        nic_rans_encoder enc;
        nic_rans_encoder_init(&enc);
        st = nic_factorized_encode(ctx, &c->z_tables, lat->zhat, (uint32_t)m->cfg.nz,
                                   (size_t)lat->hz * lat->wz, &enc);
        if (st == NIC_OK)
            st = nic_rans_encoder_finish(ctx, &enc, 0, &lat->z_stream, &lat->z_size);
        nic_rans_encoder_free(&enc);
    }
    return st;
}

nic_status nic_hyper_analyze(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                             nic_hyper_latents *lat)
{
    memset(lat, 0, sizeof(*lat));
    NIC_TRY(nic_hyper_codec_prepare_encoder(ctx, c));
    nic_hyper_model *m = &c->model;
    const int ph = pad64(img->height), pw = pad64(img->width);
    lat->width = img->width;
    lat->height = img->height;
    lat->channels = img->channels;
    lat->hy = ph / 16;
    lat->wy = pw / 16;
    lat->hz = ph / 64;
    lat->wz = pw / 64;
    const size_t ny = (size_t)m->cfg.m * lat->hy * lat->wy;
    const size_t nz = (size_t)m->cfg.nz * lat->hz * lat->wz;
    lat->y = malloc(ny * sizeof(float));
    lat->zhat = malloc(nz * sizeof(int32_t));
    lat->mean_q16 = malloc(ny * sizeof(int32_t));
    lat->log_scale_q16 = malloc(ny * sizeof(int32_t));
    nic_status st = NIC_OK;
    if (!lat->y || !lat->zhat || !lat->mean_q16 || !lat->log_scale_q16)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for a %ux%u image", img->width,
                      img->height);
    else if (c->float_transforms)
        st = analyze_float(ctx, c, img, ph, pw, lat->y);
    else
        st = nic_int_analyze(ctx, &c->analysis, c->isa, img, ph, pw, c->mem_budget, lat->y);
    if (st == NIC_OK)
        st = hyper_side(ctx, c, lat);
    if (st != NIC_OK)
        nic_hyper_latents_free(lat);
    return st;
}

double nic_hyper_quality(nic_context *ctx, const nic_hyper_codec *c, const nic_image *a,
                         const nic_image *b)
{
    if (c->distortion == NIC_HYPER_MSSSIM) {
        nic_quality q;
        return nic_compare(ctx, a, b, &q) == NIC_OK && isfinite(q.ms_ssim) ? q.ms_ssim : NAN;
    }
    if (a->width != b->width || a->height != b->height || a->channels != b->channels)
        return NAN;
    return nic_psnr_from_mse(nic_mse_images(a, b), NIC_METRICS_PEAK);
}

int nic_hyper_can_refine(uint32_t width, uint32_t height)
{
    return (uint64_t)pad64(height) * pad64(width) <= NIC_HYPER_REFINE_MAX_PIXELS;
}

nic_status nic_hyper_refine_latents(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                                    int q, int iters, nic_hyper_latents *lat)
{
    if (q < 0 || q >= NIC_HYPER_QUALITY_LEVELS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "quality index %d is not in 0..255", q);
    const int ph = lat->hy * 16, pw = lat->wy * 16;
    if (!nic_hyper_can_refine(lat->width, lat->height))
        return NIC_FAIL(ctx, NIC_ERR_LIMIT,
                        "refinement: %ux%u is over its %d-megapixel limit (padded)", lat->width,
                        lat->height, NIC_HYPER_REFINE_MAX_PIXELS >> 20);
    NIC_TRY(nic_hyper_codec_prepare_encoder(ctx, c));
    float *x = nn_alloc(3 * (size_t)ph * pw * sizeof(float));
    if (!x)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for a %ux%u image", img->width,
                        img->height);
    nic_codec_image_to_planes(img, ph, pw, x);
    nic_hyper_trainer *t = NULL;
    nic_status st = nic_hyper_trainer_create_ex(ctx, c->eng, &c->model, 1, ph, pw, 0,
                                                NIC_HYPER_TRAINER_FROM_Y, &t);
    if (st == NIC_OK) /* the objective the weights were trained for */
        st = nic_hyper_trainer_set_distortion(ctx, t, c->distortion);
    if (st == NIC_OK)
        st = nic_hyper_refine(ctx, t, x, (float)t_from_quality(q) / NIC_Q_ONE, iters,
                              NIC_HYPER_REFINE_LR, lat->y, NULL, NULL);
    nic_hyper_trainer_destroy(t);
    nn_free(x);
    if (st == NIC_OK)
        st = hyper_side(ctx, c, lat);
    return st;
}

int64_t nic_hyper_step_q20(int32_t log_step_q16)
{
    double v = nearbyint(nic_q_exp(log_step_q16) * 1048576.0);
    return v > 1e12 ? (int64_t)1000000000000 : (int64_t)v;
}

/* Table indexes for the given log steps of the elements pos[0..n) (pos NULL:
 * every element), in that order. */
static void y_indexes(const int32_t *log_scale_q16, const int32_t *log_step_q16, size_t plane,
                      const size_t *pos, size_t n, uint16_t *idx)
{
    for (size_t j = 0; j < n; j++) {
        size_t k = pos ? pos[j] : j;
        int64_t v = (int64_t)log_scale_q16[k] - log_step_q16[k / plane];
        v = v > INT32_MAX ? INT32_MAX : (v < INT32_MIN ? INT32_MIN : v);
        idx[j] = nic_hyper_scale_index((int32_t)v);
    }
}

/* y^ in Q16 at the anchors (the context network's input; 0 elsewhere):
 * s step + mean, exactly (step Q20, mean Q16), rounded once. */
static void anchors_yhat_q16(const int32_t *sym, const int32_t *mean, const int64_t *step_q20,
                             int m, int hy, int wy, int32_t *out)
{
    const size_t plane = (size_t)hy * wy;
    for (int ch = 0; ch < m; ch++)
        for (int r = 0; r < hy; r++)
            for (int col = 0; col < wy; col++) {
                size_t k = ch * plane + (size_t)r * wy + col;
                if (!nic_hyper_is_anchor(r, col)) {
                    out[k] = 0;
                    continue;
                }
                int64_t v = sym[k];
                v = v > (1 << 22) ? (1 << 22) : (v < -(1 << 22) ? -(1 << 22) : v);
                v = nic_q_round_shift(v * step_q20[ch] + (int64_t)mean[k] * 16, 20 - NIC_Q);
                out[k] = (int32_t)(v > INT32_MAX ? INT32_MAX : (v < -(int64_t)INT32_MAX ? -INT32_MAX : v));
            }
}

/* The elements of one coding pass in stream order (channel by channel, rows
 * in raster order): -1 every element, 0 the anchors, 1 the others. */
static size_t pass_positions(int m, int hy, int wy, int pass, size_t *pos)
{
    const size_t plane = (size_t)hy * wy;
    size_t n = 0;
    for (int ch = 0; ch < m; ch++)
        for (int r = 0; r < hy; r++)
            for (int col = 0; col < wy; col++)
                if (pass < 0 || nic_hyper_is_anchor(r, col) == !pass)
                    pos[n++] = ch * plane + (size_t)r * wy + col;
    return n;
}

/* Symbols s = round((y - mean) / step) at the given elements (pos NULL: the
 * first n). */
static void quantize_at(const nic_hyper_latents *lat, const int32_t *mean, const int64_t *step_q20,
                        const size_t *pos, size_t n, int32_t *sym)
{
    const size_t plane = (size_t)lat->hy * lat->wy;
    for (size_t j = 0; j < n; j++) {
        size_t k = pos ? pos[j] : j;
        float step = (float)(step_q20[k / plane] / 1048576.0);
        float v = nearbyintf((lat->y[k] - mean[k] / 65536.0f) / step);
        sym[k] = v > 1e9f ? 1000000000 : (v < -1e9f ? -1000000000 : (int32_t)v);
    }
}

/* Codes the symbols at pos[0..n) (pos NULL: the first n) with the tables
 * idx[0..n) (in that order) into one rANS stream. */
static nic_status code_pass(nic_context *ctx, const nic_hyper_codec *c, const int32_t *sym,
                            const uint16_t *idx, const size_t *pos, size_t n, int32_t *sym_g,
                            uint64_t *counts, uint8_t **stream, size_t *size)
{
    if (pos) {
        for (size_t j = 0; j < n; j++)
            sym_g[j] = sym[pos[j]];
        sym = sym_g;
    }
    if (counts) { /* fitting the tables: how often each table saw each of its symbols */
        for (size_t j = 0; j < n; j++) {
            const nic_cdf *t = &c->y_tables.cdfs[idx[j]];
            int64_t k = (int64_t)sym[j] - t->offset;
            counts[(size_t)idx[j] * NIC_CDF_MAX_SYMBOLS +
                   (k >= 0 && k < (int64_t)t->size - 1 ? (size_t)k : t->size - 1)]++;
        }
    }
    nic_rans_encoder enc;
    nic_rans_encoder_init(&enc);
    nic_status st = nic_gaussian_encode(ctx, &c->y_tables, sym, NULL, idx, n, &enc);
    if (st == NIC_OK)
        st = nic_rans_encoder_finish(ctx, &enc, 0, stream, size);
    nic_rans_encoder_free(&enc);
    return st;
}

nic_status nic_hyper_encode(nic_context *ctx, nic_hyper_codec *c, const nic_hyper_latents *lat,
                            int q, uint32_t original_width, uint32_t original_height,
                            uint8_t **out, size_t *size)
{
    return nic_hyper_encode_counting(ctx, c, lat, q, original_width, original_height, NULL, out,
                                     size);
}

nic_status nic_hyper_encode_counting(nic_context *ctx, nic_hyper_codec *c,
                                     const nic_hyper_latents *lat, int q,
                                     uint32_t original_width, uint32_t original_height,
                                     uint64_t *counts, uint8_t **out, size_t *size)
{
    if (q < 0 || q >= NIC_HYPER_QUALITY_LEVELS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "quality index %d is not in 0..255", q);
    const int M = c->model.cfg.m, with_ctx = c->hint.ctx_width > 0;
    const size_t plane = (size_t)lat->hy * lat->wy, ny = (size_t)M * plane;
    int32_t *log_step = malloc(sizeof(int32_t) * M);
    int64_t *step = malloc(sizeof(int64_t) * M);
    int32_t *sym = malloc(sizeof(int32_t) * ny);
    uint16_t *idx = malloc(sizeof(uint16_t) * ny);
    /* with the context: the passes' elements and symbols in stream order, the
     * mean and log-scale it corrects, and its input */
    size_t *pos = with_ctx ? malloc(sizeof(size_t) * ny) : NULL;
    int32_t *sym_g = with_ctx ? malloc(sizeof(int32_t) * ny) : NULL;
    int32_t *mean2 = with_ctx ? malloc(sizeof(int32_t) * ny) : NULL;
    int32_t *ls2 = with_ctx ? malloc(sizeof(int32_t) * ny) : NULL;
    int32_t *yq = with_ctx ? malloc(sizeof(int32_t) * ny) : NULL;
    nic_status st = NIC_OK;
    uint8_t *y_stream[2] = {NULL, NULL};
    size_t y_size[2] = {0, 0};
    if (!log_step || !step || !sym || !idx ||
        (with_ctx && (!pos || !sym_g || !mean2 || !ls2 || !yq))) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory encoding");
        goto done;
    }
    nic_hyper_int_log_steps(&c->hint, t_from_quality(q), log_step);
    for (int ch = 0; ch < M; ch++)
        step[ch] = nic_hyper_step_q20(log_step[ch]);
    if (!with_ctx) {
        y_indexes(lat->log_scale_q16, log_step, plane, NULL, ny, idx);
        quantize_at(lat, lat->mean_q16, step, NULL, ny, sym);
        st = code_pass(ctx, c, sym, idx, NULL, ny, NULL, counts, &y_stream[0], &y_size[0]);
    } else {
        /* anchors with the hyperprior; the others with the context of the anchors' y^ */
        size_t n = pass_positions(M, lat->hy, lat->wy, 0, pos);
        y_indexes(lat->log_scale_q16, log_step, plane, pos, n, idx);
        quantize_at(lat, lat->mean_q16, step, pos, n, sym);
        st = code_pass(ctx, c, sym, idx, pos, n, sym_g, counts, &y_stream[0], &y_size[0]);
        memcpy(mean2, lat->mean_q16, sizeof(int32_t) * ny);
        memcpy(ls2, lat->log_scale_q16, sizeof(int32_t) * ny);
        anchors_yhat_q16(sym, lat->mean_q16, step, M, lat->hy, lat->wy, yq);
        if (st == NIC_OK)
            st = nic_hyper_int_context(ctx, &c->hint, yq, lat->hy, lat->wy, mean2, ls2);
        if (st == NIC_OK) {
            n = pass_positions(M, lat->hy, lat->wy, 1, pos);
            y_indexes(ls2, log_step, plane, pos, n, idx);
            quantize_at(lat, mean2, step, pos, n, sym);
            st = code_pass(ctx, c, sym, idx, pos, n, sym_g, counts, &y_stream[1], &y_size[1]);
        }
    }
    if (st == NIC_OK) {
        nic_container f;
        nic_container_init(&f);
        uint8_t params[1] = {(uint8_t)q};
        f.model_id = c->model_id;
        f.weights_hash = c->weights_hash;
        f.width = lat->width;
        f.height = lat->height;
        f.channels = lat->channels;
        f.original_width = original_width;
        f.original_height = original_height;
        f.params = params;
        f.params_size = 1;
        f.stream_count = with_ctx ? 3 : 2;
        f.streams[0].data = lat->z_stream;
        f.streams[0].size = lat->z_size;
        for (int k = 0; k < (with_ctx ? 2 : 1); k++) {
            f.streams[1 + k].data = y_stream[k];
            f.streams[1 + k].size = y_size[k];
        }
        st = nic_container_write(ctx, &f, out, size);
    }
done:
    free(y_stream[0]);
    free(y_stream[1]);
    free(log_step);
    free(step);
    free(sym);
    free(sym_g);
    free(idx);
    free(pos);
    free(mean2);
    free(ls2);
    free(yq);
    return st;
}

/* y^ of the decoder in Q20: (s - sign(s) o) step + mean, with o the
 * reconstruction offset of the element's table and |s| (offsets: the row
 * of the file's quality index, or NULL for none); exact integer arithmetic. */
typedef struct yhat_source {
    const int32_t *sym, *mean; /* [m][hy][wy] */
    const int64_t *step_q20;   /* [m] */
    int m, hy, wy;
    const uint16_t *idx;   /* [m][hy][wy] table indexes (with offsets) */
    const int32_t *offset; /* [64][3] (NULL: none) */
} yhat_source;

static int64_t yhat_q20(const yhat_source *s, int ch, size_t k)
{
    int64_t sym = s->sym[k];
    sym = sym > (1 << 22) ? (1 << 22) : (sym < -(1 << 22) ? -(1 << 22) : sym);
    int64_t v = sym * s->step_q20[ch] + (int64_t)s->mean[k] * 16;
    if (s->offset && sym != 0) {
        int64_t mag = sym < 0 ? -sym : sym;
        int64_t o = s->offset[s->idx[k] * NIC_HYPER_RECON_MAGS +
                              (mag < NIC_HYPER_RECON_MAGS ? mag : NIC_HYPER_RECON_MAGS) - 1];
        o = nic_q_round_shift(o * s->step_q20[ch], 16);
        v += sym < 0 ? o : -o;
    }
    return v;
}

static void yhat_rows(void *user, int r0, int r1, int16_t *rows, ptrdiff_t row_len)
{
    const yhat_source *s = user;
    const size_t plane = (size_t)s->hy * s->wy;
    for (int r = r0; r < r1; r++) {
        int16_t *row = rows + (ptrdiff_t)(r - r0) * row_len;
        for (int ch = 0; ch < s->m; ch++) {
            const size_t base = ch * plane + (size_t)r * s->wy;
            for (int j = 0; j < s->wy; j++) {
                int64_t v = nic_q_round_shift(yhat_q20(s, ch, base + j), 20 - NIC_INT_YHAT_Q);
                row[(ptrdiff_t)(1 + j) * s->m + ch] =
                    (int16_t)(v > 32767 ? 32767 : (v < -32767 ? -32767 : v));
            }
        }
    }
}

/* The float model's synthesis on the engine's kernels (float_transforms). */
static nic_status synthesize_float(nic_context *ctx, nic_hyper_codec *c, const yhat_source *ys,
                                   nic_image *out)
{
    nic_hyper_model *m = &c->model;
    const size_t plane = (size_t)ys->hy * ys->wy;
    const int ph = 16 * ys->hy, pw = 16 * ys->wy;
    float *yhat = nn_alloc(sizeof(float) * ys->m * plane);
    float *xhat = nn_alloc(sizeof(float) * 3 * (size_t)ph * pw);
    nic_status st = NIC_OK;
    if (!yhat || !xhat) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory for %dx%d", pw, ph);
        goto done;
    }
    for (int ch = 0; ch < ys->m; ch++)
        for (size_t i = 0; i < plane; i++)
            yhat[ch * plane + i] = (float)(yhat_q20(ys, ch, ch * plane + i) / 1048576.0);
    int h, w;
    st = run_chain(ctx, c->eng, 0, m->gs, m->gs_gdn, 4, &m->params, yhat, ys->hy, ys->wy, xhat, &h,
                   &w);
    if (st != NIC_OK)
        goto done;
    nic_codec_planes_to_image(xhat, h, w, out);
done:
    nn_free(yhat);
    nn_free(xhat);
    return st;
}

nic_status nic_hyper_decode(nic_context *ctx, nic_hyper_codec *c, const nic_container *file,
                            const char *name, nic_image *out)
{
    nic_hyper_model *m = &c->model;
    memset(out, 0, sizeof(*out));
    if (file->model_id != c->model_id || file->weights_hash != c->weights_hash)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s: made with other weights of the hyper model (model id %u, hash "
                        "%08x; %s has id %u, hash %08x)",
                        name, file->model_id, file->weights_hash, c->path, c->model_id,
                        c->weights_hash);
    const int with_ctx = c->hint.ctx_width > 0;
    const unsigned streams = with_ctx ? 3 : 2;
    if (file->params_size != 1 || file->stream_count != streams)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: a hyper file %shas 1 parameter byte and %u streams, not %zu and %u",
                        name, with_ctx ? "of a model with context " : "", streams,
                        file->params_size, file->stream_count);
    if (file->channels != 1 && file->channels != 3)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: %u channels (hyper codes 1 or 3)", name,
                        file->channels);
    const int q = file->params[0];
    const int ph = pad64(file->height), pw = pad64(file->width);
    const int hy = ph / 16, wy = pw / 16, hz = ph / 64, wz = pw / 64;
    const int M = m->cfg.m, NZ = m->cfg.nz;
    const size_t plane = (size_t)hy * wy, ny = (size_t)M * plane, nzc = (size_t)NZ * hz * wz;
    int32_t *zhat = malloc(sizeof(int32_t) * nzc);
    int32_t *mean = malloc(sizeof(int32_t) * ny), *ls = malloc(sizeof(int32_t) * ny);
    int32_t *sym = malloc(sizeof(int32_t) * ny), *log_step = malloc(sizeof(int32_t) * M);
    int64_t *step = malloc(sizeof(int64_t) * M);
    uint16_t *idx = malloc(sizeof(uint16_t) * ny);
    /* with the context: each pass's elements and symbols in stream order */
    size_t *pos = with_ctx ? malloc(sizeof(size_t) * ny) : NULL;
    int32_t *sym_g = with_ctx ? malloc(sizeof(int32_t) * ny) : NULL;
    nic_status st = NIC_OK;
    if (!zhat || !mean || !ls || !sym || !log_step || !step || !idx ||
        (with_ctx && (!pos || !sym_g))) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory for %ux%u", name, file->width,
                      file->height);
        goto done;
    }
    nic_rans_decoder dec;
    st = nic_rans_decoder_init(ctx, &dec, file->streams[0].data, file->streams[0].size, name);
    if (st == NIC_OK)
        st = nic_factorized_decode(ctx, &c->z_tables, &dec, (uint32_t)NZ, (size_t)hz * wz, zhat);
    if (st == NIC_OK)
        st = nic_rans_decoder_finish(ctx, &dec, name);
    if (st == NIC_OK)
        st = nic_hyper_int_heads(ctx, &c->hint, zhat, hz, wz, mean, ls);
    if (st != NIC_OK)
        goto done;
    free(zhat);
    zhat = NULL;
    nic_hyper_int_log_steps(&c->hint, t_from_quality(q), log_step);
    for (int ch = 0; ch < M; ch++)
        step[ch] = nic_hyper_step_q20(log_step[ch]);
    if (!with_ctx) {
        y_indexes(ls, log_step, plane, NULL, ny, idx);
        st = nic_rans_decoder_init(ctx, &dec, file->streams[1].data, file->streams[1].size, name);
        if (st == NIC_OK)
            st = nic_gaussian_decode(ctx, &c->y_tables, &dec, NULL, idx, ny, sym);
        if (st == NIC_OK)
            st = nic_rans_decoder_finish(ctx, &dec, name);
    }
    for (int pass = 0; with_ctx && pass < 2 && st == NIC_OK; pass++) {
        if (pass == 1) {
            /* the anchors' y^ (in sym's place: they are not needed after) -> context */
            int32_t *yq = sym_g;
            anchors_yhat_q16(sym, mean, step, M, hy, wy, yq);
            st = nic_hyper_int_context(ctx, &c->hint, yq, hy, wy, mean, ls);
            if (st != NIC_OK)
                break;
        }
        size_t n = pass_positions(M, hy, wy, pass, pos);
        y_indexes(ls, log_step, plane, pos, n, idx);
        st = nic_rans_decoder_init(ctx, &dec, file->streams[1 + pass].data,
                                   file->streams[1 + pass].size, name);
        if (st == NIC_OK)
            st = nic_gaussian_decode(ctx, &c->y_tables, &dec, NULL, idx, n, sym_g);
        if (st == NIC_OK)
            st = nic_rans_decoder_finish(ctx, &dec, name);
        for (size_t j = 0; st == NIC_OK && j < n; j++)
            sym[pos[j]] = sym_g[j];
    }
    if (st != NIC_OK)
        goto done;
    if (c->recon_offset) /* every element's table, for its offset */
        y_indexes(ls, log_step, plane, NULL, ny, idx);
    free(ls);
    ls = NULL;
    free(pos);
    pos = NULL;
    free(sym_g);
    sym_g = NULL;
    st = nic_image_alloc(ctx, out, file->width, file->height, file->channels);
    if (st != NIC_OK)
        goto done;
    yhat_source ys = {sym, mean, step, M, hy, wy, idx,
                      c->recon_offset ? c->recon_offset + (size_t)q * NIC_GAUSSIAN_SCALES *
                                                              NIC_HYPER_RECON_MAGS
                                      : NULL};
    if (c->float_transforms) {
        st = nic_hyper_codec_prepare_encoder(ctx, c);
        if (st == NIC_OK)
            st = synthesize_float(ctx, c, &ys, out);
    } else {
        st = nic_int_synthesize(ctx, &c->synthesis, c->isa, hy, wy, yhat_rows, &ys, c->mem_budget,
                                out);
    }
done:
    free(zhat);
    free(mean);
    free(ls);
    free(sym);
    free(log_step);
    free(step);
    free(idx);
    free(pos);
    free(sym_g);
    if (st != NIC_OK)
        nic_image_free(out);
    return st;
}
