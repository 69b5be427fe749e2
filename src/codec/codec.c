/* Public encode/decode: model lookup, quality and byte-budget rate control,
 * and downscaling when a budget is too small for the full picture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/hyper_codec.h"
#include "codec/rnn_codec.h"
#include "image/resize.h"

/* A model shared by several contexts: loaded once, read-only afterwards. */
struct nic_model {
    char name[32];
    nic_hyper_codec *hyper;
};

/* What a context holds (ctx->codecs). Either its own model (loaded on first
 * use), or a view of a shared one: a copy of the codec struct, so that the
 * layer descriptors that run_chain plans into and the engine are this
 * context's, while weights, integer heads and tables stay shared. */
typedef struct codec_cache {
    nic_hyper_codec *hyper; /* own model, or NULL */
    nic_hyper_codec view;   /* when shared != NULL */
    nic_model *shared;
    nic_hyper_codec *hyper_msssim; /* the MS-SSIM-tuned weights (own, on first use) */
    nic_rnn_codec *rnn, *rnn_cnn; /* the progressive codecs (always the context's own) */
} codec_cache;

static void codec_cache_free(void *p)
{
    codec_cache *cc = p;
    nic_hyper_codec_free(cc->hyper);
    nic_hyper_codec_free(cc->hyper_msssim);
    if (cc->shared)
        nn_engine_destroy(cc->view.eng);
    nic_rnn_codec_free(cc->rnn);
    nic_rnn_codec_free(cc->rnn_cnn);
    free(cc);
}

static nic_status codec_cache_get(nic_context *ctx, codec_cache **out)
{
    if (!ctx->codecs) {
        codec_cache *cc = calloc(1, sizeof(*cc));
        if (!cc)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
        ctx->codecs = cc;
        ctx->codecs_free = codec_cache_free;
    }
    *out = ctx->codecs;
    return NIC_OK;
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static nic_status find_model_file(nic_context *ctx, const char *name, char *path, size_t cap)
{
    const char *dirs[4] = {ctx->model_dir[0] ? ctx->model_dir : NULL, getenv("NIC_MODEL_DIR"),
#ifdef NIC_SOURCE_MODEL_DIR
                           NIC_SOURCE_MODEL_DIR,
#else
                           NULL,
#endif
#ifdef NIC_INSTALL_MODEL_DIR
                           NIC_INSTALL_MODEL_DIR
#else
                           NULL
#endif
    };
    for (int i = 0; i < 4; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(path, cap, "%s/%s.safetensors", dirs[i], name);
        if (is_file(path))
            return NIC_OK;
    }
    return NIC_FAIL(ctx, NIC_ERR_IO,
                    "model '%s' not found (looked for %s.safetensors in the model folder, "
                    "$NIC_MODEL_DIR and the installed models)",
                    name, name);
}

/* A hyper-family model by name ("hyper" or "hyper-msssim"), checking that the
 * file holds weights trained for that name's distortion. */
static nic_status load_hyper(nic_context *ctx, const char *name, nic_hyper_codec **out)
{
    char path[2048];
    NIC_TRY(find_model_file(ctx, name, path, sizeof(path)));
    NIC_TRY(nic_hyper_codec_load(ctx, path, out));
    const uint32_t want =
        strcmp(name, "hyper-msssim") == 0 ? NIC_MODEL_ID_HYPER_MSSSIM : NIC_MODEL_ID_HYPER;
    if ((*out)->model_id != want) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: weights trained for %s, not model %s",
                                 path, nic_hyper_distortion_name((*out)->distortion), name);
        nic_hyper_codec_free(*out);
        *out = NULL;
        return st;
    }
    return NIC_OK;
}

/* A hyper-family codec: the shared model's view when it is this one, else the
 * context's own, loaded on first use into the cache slot of that name. */
static nic_status get_hyper(nic_context *ctx, int msssim, nic_hyper_codec **out)
{
    codec_cache *cc = NULL;
    NIC_TRY(codec_cache_get(ctx, &cc));
    const uint32_t id = msssim ? NIC_MODEL_ID_HYPER_MSSSIM : NIC_MODEL_ID_HYPER;
    if (cc->shared && cc->view.model_id == id) {
        *out = &cc->view;
        return NIC_OK;
    }
    nic_hyper_codec **slot = msssim ? &cc->hyper_msssim : &cc->hyper;
    if (!*slot)
        NIC_TRY(load_hyper(ctx, msssim ? "hyper-msssim" : "hyper", slot));
    *out = *slot;
    return NIC_OK;
}

nic_status nic_codec_get_hyper(nic_context *ctx, nic_hyper_codec **out)
{
    return get_hyper(ctx, 0, out);
}

nic_status nic_codec_get_hyper_msssim(nic_context *ctx, nic_hyper_codec **out)
{
    return get_hyper(ctx, 1, out);
}

/* An rnn-family codec by model name, checking that the file holds that model. */
static nic_status get_rnn(nic_context *ctx, const char *name, int with_ctx, nic_rnn_codec **out)
{
    codec_cache *cc = NULL;
    NIC_TRY(codec_cache_get(ctx, &cc));
    nic_rnn_codec **slot = with_ctx ? &cc->rnn_cnn : &cc->rnn;
    if (!*slot) {
        char path[2048];
        NIC_TRY(find_model_file(ctx, name, path, sizeof(path)));
        NIC_TRY(nic_rnn_codec_load(ctx, path, slot));
        if ((*slot)->has_ctx != with_ctx) {
            nic_rnn_codec_free(*slot);
            *slot = NULL;
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: holds %s model, not %s", path,
                            with_ctx ? "an rnn" : "an rnn+cnn", name);
        }
    }
    *out = *slot;
    return NIC_OK;
}

nic_status nic_codec_get_rnn(nic_context *ctx, nic_rnn_codec **out)
{
    return get_rnn(ctx, "rnn", 0, out);
}

nic_status nic_codec_get_rnn_cnn(nic_context *ctx, nic_rnn_codec **out)
{
    return get_rnn(ctx, "rnn+cnn", 1, out);
}

nic_status nic_model_load(nic_context *ctx, const char *name, nic_model **out)
{
    if (!out)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_model_load: output pointer is NULL");
    *out = NULL;
    if (!name)
        name = "hyper";
    if (strcmp(name, "hyper") != 0 && strcmp(name, "hyper-msssim") != 0)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "unknown model '%s' (available: hyper, hyper-msssim)", name);
    nic_model *m = calloc(1, sizeof(*m));
    if (!m)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    snprintf(m->name, sizeof(m->name), "%s", name);
    nic_status st = load_hyper(ctx, name, &m->hyper);
    /* the views of the contexts that use it must find the encoder's parts made */
    if (st == NIC_OK)
        st = nic_hyper_codec_prepare_encoder(ctx, m->hyper);
    if (st != NIC_OK) {
        nic_hyper_codec_free(m->hyper);
        free(m);
        return st;
    }
    *out = m;
    return NIC_OK;
}

void nic_model_free(nic_model *model)
{
    if (!model)
        return;
    nic_hyper_codec_free(model->hyper);
    free(model);
}

void nic_model_get_info(const nic_model *model, nic_model_info *info)
{
    memset(info, 0, sizeof(*info));
    if (!model)
        return;
    info->name = model->name;
    info->path = model->hyper->path;
    info->model_id = model->hyper->model_id;
    info->weights_hash = model->hyper->weights_hash;
    for (int i = 0; i < model->hyper->model.params.count; i++)
        info->parameters += model->hyper->model.params.items[i].count;
}

nic_status nic_context_use_model(nic_context *ctx, nic_model *model)
{
    if (!ctx || !model)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_context_use_model: NULL argument");
    codec_cache *cc = NULL;
    NIC_TRY(codec_cache_get(ctx, &cc));
    if (cc->shared)
        nn_engine_destroy(cc->view.eng);
    nic_hyper_codec_free(cc->hyper);
    cc->hyper = NULL;
    cc->view = *model->hyper; /* analysis and synthesis made: shared, read-only */
    cc->view.eng = NULL;
    cc->view.have_engine = 1; /* the view's own engine, made below */
    cc->shared = model;
    /* The fast kernels are an optimization: without an engine the plain ones run. */
    if (nn_engine_create(ctx, &cc->view.eng) != NIC_OK) {
        nic_context_clear_error(ctx);
        cc->view.eng = NULL;
    }
    return NIC_OK;
}

static nic_status get_codec(nic_context *ctx, const char *model, nic_hyper_codec **out)
{
    if (!model || strcmp(model, "hyper") == 0)
        return nic_codec_get_hyper(ctx, out);
    if (strcmp(model, "hyper-msssim") == 0)
        return nic_codec_get_hyper_msssim(ctx, out);
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                    "unknown model '%s' (available: hyper, hyper-msssim, rnn, rnn+cnn)", model);
}

static int is_rnn(const char *model)
{
    return model && (strcmp(model, "rnn") == 0 || strcmp(model, "rnn+cnn") == 0);
}

void nic_encode_options_init(nic_encode_options *o)
{
    memset(o, 0, sizeof(*o));
    o->quality = 50;
    o->allow_downscale = 1;
}

void nic_decode_options_init(nic_decode_options *o)
{
    memset(o, 0, sizeof(*o));
    o->allow_partial = 1;
}

/* Largest quality index from lo up whose file fits the budget, or -1 (when lo
 * does not fit; then *lo_size, if asked for, is the size at lo). */
static nic_status best_fitting(nic_context *ctx, nic_hyper_codec *c, const nic_hyper_latents *lat,
                               uint64_t budget, uint32_t ow, uint32_t oh, int lo, int *q_out,
                               uint8_t **out, size_t *out_size, size_t *lo_size)
{
    *q_out = -1;
    *out = NULL;
    uint8_t *buf;
    size_t size;
    NIC_TRY(nic_hyper_encode(ctx, c, lat, lo, ow, oh, &buf, &size));
    if (lo_size)
        *lo_size = size;
    if (size > budget) {
        free(buf);
        return NIC_OK;
    }
    int hi = NIC_HYPER_QUALITY_LEVELS - 1;
    uint8_t *best = buf;
    size_t best_size = size;
    /* Sizes grow with the index (the steps shrink): bisection. */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        nic_status st = nic_check_abort(ctx, "encode");
        if (st == NIC_OK)
            st = nic_hyper_encode(ctx, c, lat, mid, ow, oh, &buf, &size);
        if (st != NIC_OK) {
            free(best);
            return st;
        }
        if (size <= budget) {
            free(best);
            best = buf;
            best_size = size;
            lo = mid;
        } else {
            free(buf);
            hi = mid - 1;
        }
    }
    *q_out = lo;
    *out = best;
    *out_size = best_size;
    return NIC_OK;
}

/* The quality a model is trained for, higher is better: MS-SSIM for the
 * MS-SSIM-tuned weights, else PSNR (-1: not measurable). */
static double quality_of(nic_context *ctx, const nic_hyper_codec *c, const nic_image *a,
                         const nic_image *b)
{
    const double q = nic_hyper_quality(ctx, c, a, b);
    return isnan(q) ? -1 : q; /* an exact decode is +inf PSNR: the best */
}

/* Budgets: below this quality index at full size, smaller pictures are tried
 * too (at 2000 B on Kodak a smaller picture wins for 23 of 24 images with 128,
 * 17 with 64; docs/CODEC.md, "Byte budgets: smaller pictures"). */
#define DOWNSCALE_BELOW_Q 128

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The picture sizes budgets try, relative to the original (each about 0.8 of
 * the one before): the hyper search tries all (and finer steps near the best),
 * the rnn codec the largest that holds a layer. */
static const double budget_scales[] = {1.0, 0.8,   0.64, 0.5,  0.4,    0.32, 0.25, 0.2,
                                       0.16, 0.125, 0.1, 0.08, 0.0625, 0.05, 0.04, 0.03125};

/* The picture size for `scale`: 0 when it is below the smallest (8 x 8). */
static int scaled_size(const nic_image *img, double scale, uint32_t *w, uint32_t *h)
{
    *w = (uint32_t)floor(img->width * scale + 0.5);
    *h = (uint32_t)floor(img->height * scale + 0.5);
    return *w >= 8 && *h >= 8;
}

/* Decodes (as nic_decode would) and scales back to the original to measure
 * quality (quality_of). */
static double quality_after_decode(nic_context *ctx, nic_hyper_codec *c, const uint8_t *file,
                                   size_t size, const nic_image *original)
{
    nic_container f;
    nic_image dec = {0}, up = {0};
    double quality = -1;
    if (nic_container_parse(ctx, file, size, "candidate", 0, &f) == NIC_OK &&
        nic_hyper_decode(ctx, c, &f, "candidate", &dec) == NIC_OK &&
        nic_image_resize(ctx, &dec, original->width, original->height, &up) == NIC_OK)
        quality = quality_of(ctx, c, original, &up);
    nic_image_free(&dec);
    nic_image_free(&up);
    return quality;
}

/* The rnn codec: layers from the quality (1 .. the model's iterations) or
 * given; a budget keeps the layers that fit; when not even one fits, the
 * largest smaller picture that holds one layer. */
static nic_status encode_rnn(nic_context *ctx, const nic_image *img,
                             const nic_encode_options *options, uint64_t budget, uint8_t **out,
                             size_t *out_size, nic_encode_result *result)
{
    nic_rnn_codec *c;
    if (strcmp(options->model, "rnn+cnn") == 0)
        NIC_TRY(nic_codec_get_rnn_cnn(ctx, &c));
    else
        NIC_TRY(nic_codec_get_rnn(ctx, &c));
    const int most = c->model.cfg.iterations;
    int layers = options->layers;
    if (layers > most)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%d layers: this rnn model codes 1..%d",
                        layers, most);
    if (layers == 0)
        layers = budget ? most : (int)ceil(options->quality * most / 100.0);
    if (layers < 1)
        layers = 1;
    int got = 0;
    uint32_t cw = img->width, ch = img->height;
    nic_status st = nic_rnn_encode(ctx, c, img, layers, budget, 0, 0, out, out_size, &got);
    if (st == NIC_ERR_LIMIT && budget && options->allow_downscale) {
        for (size_t i = 1; i < COUNT_OF(budget_scales) && st == NIC_ERR_LIMIT; i++) {
            if (!scaled_size(img, budget_scales[i], &cw, &ch))
                break;
            nic_image small;
            nic_context_clear_error(ctx);
            st = nic_image_resize(ctx, img, cw, ch, &small);
            if (st != NIC_OK)
                return st;
            st = nic_rnn_encode(ctx, c, &small, layers, budget, img->width, img->height, out,
                                out_size, &got);
            nic_image_free(&small);
        }
        if (st == NIC_ERR_LIMIT)
            st = NIC_FAIL(ctx, NIC_ERR_LIMIT,
                          "no rnn file of at most %llu bytes can hold this %ux%u image even "
                          "downscaled", (unsigned long long)budget, img->width, img->height);
    }
    if (st != NIC_OK)
        return st;
    if (result) {
        result->bytes = *out_size;
        result->bpp = nic_bits_per_pixel(*out_size, img->width, img->height);
        result->quality_index = got;
        result->coded_width = cw;
        result->coded_height = ch;
    }
    return NIC_OK;
}

/* The budget search over smaller pictures: the best file so far (out, size,
 * its quality index q, its picture w x h and the quality after scaling back)
 * and what is known of the pictures that do not fit (unfit_area, the smallest
 * relative area tried whose file at quality index 0 is unfit_bytes > budget). */
typedef struct {
    const nic_image *img;
    uint64_t budget;
    uint8_t *out;
    size_t size;
    int q;
    uint32_t w, h;
    double quality;
    double unfit_area;
    size_t unfit_bytes;
} budget_search;

/* The budget search's progress: the next picture size it codes. */
static void progress_coding(nic_context *ctx, uint64_t budget, uint32_t w, uint32_t h)
{
    nic_progress(ctx, "budget %llu B: coding %ux%u", (unsigned long long)budget, w, h);
}

/* "27.31 dB" or "MS-SSIM 0.8512": the search's measure, for messages. */
static void format_quality(const nic_hyper_codec *c, double quality, char *buf, size_t size)
{
    if (c->distortion == NIC_HYPER_MSSSIM)
        snprintf(buf, size, "MS-SSIM %.4f", quality);
    else
        snprintf(buf, size, "%.2f dB", quality);
}

/* Measures a candidate file that fits (quality_after_decode) and says so. */
static double measure_candidate(nic_context *ctx, nic_hyper_codec *c, const budget_search *bs,
                                const uint8_t *file, size_t size, uint32_t w, uint32_t h, int q)
{
    const double quality = quality_after_decode(ctx, c, file, size, bs->img);
    char text[32];
    format_quality(c, quality, text, sizeof(text));
    const int scaled = w != bs->img->width || h != bs->img->height;
    nic_log(ctx, NIC_LOG_INFO, "budget: %ux%u at quality %d, %zu bytes, %s%s%s", w, h, q, size,
            text, scaled ? " after scaling back" : "", quality > bs->quality ? " (best so far)" : "");
    return quality;
}

/* Tries the picture scaled by `scale`, keeping its file when it beats the best
 * so far. *quality is its quality after scaling back, or -1 when it does not
 * fit (or cannot, or is under 8 x 8: then it is not analysed). */
static nic_status try_scale(nic_context *ctx, nic_hyper_codec *c, budget_search *bs, double scale,
                            double *quality)
{
    const nic_image *img = bs->img;
    uint32_t w, h;
    *quality = -1;
    if (!scaled_size(img, scale, &w, &h))
        return NIC_OK;
    /* Bytes per pixel at quality index 0 grow as the picture shrinks (more
     * detail per pixel), so the smallest unfit file scaled by area is a lower
     * bound of this one: over the budget, skip the analysis. */
    const double area = scale * scale;
    if (bs->unfit_area > 0 && (double)bs->unfit_bytes * area / bs->unfit_area > bs->budget) {
        nic_log(ctx, NIC_LOG_DEBUG, "budget: %ux%u skipped (at least %.0f bytes at quality 0)",
                w, h, (double)bs->unfit_bytes * area / bs->unfit_area);
        return NIC_OK;
    }
    nic_image small;
    nic_hyper_latents lat;
    NIC_TRY(nic_check_abort(ctx, "encode"));
    progress_coding(ctx, bs->budget, w, h);
    NIC_TRY(nic_image_resize(ctx, img, w, h, &small));
    nic_status st = nic_hyper_analyze(ctx, c, &small, &lat);
    nic_image_free(&small);
    if (st != NIC_OK)
        return st;
    uint8_t *cand;
    size_t cand_size, q0_size;
    int cq;
    st = best_fitting(ctx, c, &lat, bs->budget, img->width, img->height, 0, &cq, &cand,
                      &cand_size, &q0_size);
    nic_hyper_latents_free(&lat);
    if (st != NIC_OK)
        return st;
    if (cq < 0) {
        nic_log(ctx, NIC_LOG_INFO, "budget: %ux%u does not fit (%zu bytes at quality 0)", w, h,
                q0_size);
        if (bs->unfit_area == 0 || area < bs->unfit_area) {
            bs->unfit_area = area;
            bs->unfit_bytes = q0_size;
        }
        return NIC_OK;
    }
    *quality = measure_candidate(ctx, c, bs, cand, cand_size, w, h, cq);
    if (*quality <= bs->quality) {
        free(cand);
        return NIC_OK;
    }
    free(bs->out);
    bs->out = cand;
    bs->size = cand_size;
    bs->q = cq;
    bs->w = w;
    bs->h = h;
    bs->quality = *quality;
    return NIC_OK;
}

/* Coarse scales first, until three in a row after the best lose, then the
 * finer steps (0.9 .. 0.45, where budgets land) on either side of the best two
 * coarse ones: quality against scale is not unimodal (at 2000 B on Kodak some
 * pictures lose to full size at 0.8 and 0.64 and win at 0.5, or at 0.72). */
static nic_status search_smaller(nic_context *ctx, nic_hyper_codec *c, budget_search *bs)
{
    static const double fine[] = {0.9, 0.72, 0.57, 0.45}; /* between [i] and [i + 1] */
    const size_t n = COUNT_OF(budget_scales), nf = COUNT_OF(fine);
    /* the best two coarse scales so far (indices into budget_scales, n: none);
     * full size (index 0) counts when it fits */
    size_t top[2] = {bs->q >= 0 && bs->quality >= 0 ? 0 : n, n};
    double top_quality[2] = {bs->quality, -1};
    int worse = 0;
    for (size_t i = 1; i < n; i++) {
        uint32_t w, h;
        if (!scaled_size(bs->img, budget_scales[i], &w, &h))
            break;
        const double best = bs->quality;
        double quality;
        NIC_TRY(try_scale(ctx, c, bs, budget_scales[i], &quality));
        if (quality >= 0 && (top[0] == n || quality > top_quality[0])) {
            top[1] = top[0];
            top_quality[1] = top_quality[0];
            top[0] = i;
            top_quality[0] = quality;
        } else if (quality >= 0 && (top[1] == n || quality > top_quality[1])) {
            top[1] = i;
            top_quality[1] = quality;
        }
        if (bs->quality > best)
            worse = 0;
        else if (bs->q >= 0 && ++worse >= 3)
            break;
    }
    int done[COUNT_OF(fine)] = {0};
    for (int k = 0; k < 2 && top[k] < n; k++) {
        const size_t i = top[k];
        double quality;
        /* fine[i] is just smaller than coarse scale i, fine[i - 1] just larger */
        if (i < nf && !done[i]) {
            done[i] = 1;
            NIC_TRY(try_scale(ctx, c, bs, fine[i], &quality));
        }
        if (i >= 1 && i - 1 < nf && !done[i - 1]) {
            done[i - 1] = 1;
            NIC_TRY(try_scale(ctx, c, bs, fine[i - 1], &quality));
        }
    }
    return NIC_OK;
}

/* Whether the refinement runs on a w x h picture (else a warning says why not). */
static int refine_fits(nic_context *ctx, uint32_t w, uint32_t h)
{
    if (nic_hyper_can_refine(w, h))
        return 1;
    nic_log(ctx, NIC_LOG_WARNING,
            "refinement skipped: %ux%u is over its %d-megapixel limit (it holds the whole "
            "picture's activations); coded without it",
            w, h, NIC_HYPER_REFINE_MAX_PIXELS >> 20);
    return 0;
}

/* A budget with the encoder's refinement: the plain search chose the picture
 * (cw x ch) and quality *q; refined latents are smaller at a given quality, so
 * the search goes on upwards from *q with latents refined for *q, and, where it
 * got further, once more with latents refined for the new quality. *out (the
 * plain file) is replaced by the best refined file that fits, if any. */
static nic_status refine_for_budget(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                                    uint32_t cw, uint32_t ch, uint64_t budget, int steps, int *q,
                                    uint8_t **out, size_t *out_size)
{
    const int scaled = cw != img->width || ch != img->height;
    const uint32_t ow = scaled ? img->width : 0, oh = scaled ? img->height : 0;
    nic_image small = {0};
    const nic_image *src = img;
    if (scaled) {
        NIC_TRY(nic_image_resize(ctx, img, cw, ch, &small));
        src = &small;
    }
    nic_status st = NIC_OK;
    int target = *q;
    for (int round = 0; round < 2 && st == NIC_OK; round++) {
        nic_hyper_latents lat;
        nic_progress(ctx, "budget %llu B: refining %ux%u for quality index %d",
                     (unsigned long long)budget, cw, ch, target);
        if ((st = nic_hyper_analyze(ctx, c, src, &lat)) != NIC_OK)
            break;
        st = nic_hyper_refine_latents(ctx, c, src, target, steps, &lat);
        uint8_t *cand = NULL;
        size_t cand_size = 0;
        int cq = -1;
        if (st == NIC_OK)
            st = best_fitting(ctx, c, &lat, budget, ow, oh, target, &cq, &cand, &cand_size, NULL);
        nic_hyper_latents_free(&lat);
        if (st != NIC_OK || cq < 0)
            break; /* refined for this quality, the file does not fit: keep the last */
        free(*out);
        *out = cand;
        *out_size = cand_size;
        *q = cq;
        if (cq == target)
            break;
        target = cq;
    }
    nic_image_free(&small);
    return st;
}

nic_status nic_encode(nic_context *ctx, const nic_image *img, const nic_encode_options *options,
                      uint8_t **out, size_t *out_size, nic_encode_result *result)
{
    if (!out || !out_size)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_encode: output pointer is NULL");
    *out = NULL;
    *out_size = 0;
    if (!img || !img->data || !img->width || !img->height ||
        (img->channels != 1 && img->channels != 3))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_encode: empty image or bad channels");
    nic_encode_options def;
    if (!options) {
        nic_encode_options_init(&def);
        options = &def;
    }
    if (!(options->quality >= 0 && options->quality <= 100))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "quality %g is not in 0..100",
                        options->quality);
    if (options->bpp < 0 || !isfinite(options->bpp))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "bpp %g is not a positive number",
                        options->bpp);
    if (options->layers < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%d layers", options->layers);
    if (options->refine < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%d refinement steps", options->refine);
    if (options->refine > 0 && is_rnn(options->model))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "refinement is for the hyper model; %s files are not refined",
                        options->model);
    uint64_t budget = options->max_bytes;
    if (options->bpp > 0) {
        uint64_t b = (uint64_t)floor(options->bpp * img->width * img->height / 8.0);
        budget = budget ? (b < budget ? b : budget) : b;
    }
    if (is_rnn(options->model))
        return encode_rnn(ctx, img, options, budget, out, out_size, result);
    nic_hyper_codec *c;
    NIC_TRY(get_codec(ctx, options->model, &c));
    nic_progress_start(ctx);
    if (budget)
        progress_coding(ctx, budget, img->width, img->height);
    nic_hyper_latents lat;
    NIC_TRY(nic_hyper_analyze(ctx, c, img, &lat));
    nic_status st = NIC_OK;
    int q = -1;
    uint32_t cw = img->width, ch = img->height;
    if (!budget) {
        q = (int)floor(options->quality * 2.55 + 0.5);
        if (options->refine > 0 && refine_fits(ctx, img->width, img->height)) {
            nic_progress(ctx, "refining %ux%u for quality index %d", img->width, img->height, q);
            st = nic_hyper_refine_latents(ctx, c, img, q, options->refine, &lat);
        }
        if (st == NIC_OK)
            st = nic_hyper_encode(ctx, c, &lat, q, 0, 0, out, out_size);
        nic_hyper_latents_free(&lat);
    } else {
        size_t full_q0;
        st = best_fitting(ctx, c, &lat, budget, 0, 0, 0, &q, out, out_size, &full_q0);
        nic_hyper_latents_free(&lat);
        /* Smaller pictures: when the full one does not fit, and also when it fits
         * only at a low quality index, where a smaller picture at a higher one can
         * look better. */
        if (st == NIC_OK && q < DOWNSCALE_BELOW_Q && options->allow_downscale) {
            budget_search bs = {.img = img, .budget = budget, .out = *out, .size = *out_size,
                                .q = q, .w = cw, .h = ch, .quality = -1,
                                .unfit_area = q < 0 ? 1.0 : 0, .unfit_bytes = full_q0};
            if (q >= 0)
                bs.quality = measure_candidate(ctx, c, &bs, *out, *out_size, cw, ch, q);
            else
                nic_log(ctx, NIC_LOG_INFO, "budget: %ux%u does not fit (%zu bytes at quality 0)",
                        cw, ch, full_q0);
            nic_log(ctx, NIC_LOG_INFO, "budget: trying smaller pictures");
            st = search_smaller(ctx, c, &bs);
            *out = bs.out;
            *out_size = bs.size;
            q = bs.q;
            cw = bs.w;
            ch = bs.h;
        }
        if (st == NIC_OK && q >= 0 && options->refine > 0 && refine_fits(ctx, cw, ch))
            st = refine_for_budget(ctx, c, img, cw, ch, budget, options->refine, &q, out,
                                   out_size);
        if (st == NIC_OK && q < 0)
            st = NIC_FAIL(ctx, NIC_ERR_LIMIT,
                          "no file of at most %llu bytes can hold this %ux%u image%s",
                          (unsigned long long)budget, img->width, img->height,
                          options->allow_downscale ? " even downscaled" : " (downscaling is off)");
    }
    if (st != NIC_OK) {
        free(*out);
        *out = NULL;
        *out_size = 0;
        return st;
    }
    if (result) {
        result->bytes = *out_size;
        result->bpp = nic_bits_per_pixel(*out_size, img->width, img->height);
        result->quality_index = q;
        result->coded_width = cw;
        result->coded_height = ch;
    }
    return NIC_OK;
}

/* Scales a decoded picture back to the size the file asks for. */
static nic_status restore_size(nic_context *ctx, const nic_container *f, nic_image *coded,
                               nic_image *out)
{
    uint32_t ow = f->original_width ? f->original_width : f->width;
    uint32_t oh = f->original_height ? f->original_height : f->height;
    if (ow == coded->width && oh == coded->height) {
        *out = *coded;
        return NIC_OK;
    }
    nic_status st = nic_image_resize(ctx, coded, ow, oh, out);
    nic_image_free(coded);
    return st;
}

nic_status nic_decode_ex(nic_context *ctx, const void *data, size_t size, const char *name,
                         const nic_decode_options *options, nic_image *out,
                         nic_decode_result *result)
{
    if (!name)
        name = "<memory>";
    if (!out)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_decode: output image is NULL");
    memset(out, 0, sizeof(*out));
    nic_decode_options def;
    if (!options) {
        nic_decode_options_init(&def);
        options = &def;
    }
    if (options->max_layers < 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_decode: %d layers",
                        options->max_layers);
    if (result)
        memset(result, 0, sizeof(*result));
    nic_container f;
    /* A partial parse first: progressive files decode from what arrived. */
    NIC_TRY(nic_container_parse(ctx, data, size, name, NIC_CONTAINER_ALLOW_TRUNCATED, &f));
    const int progressive = f.model_id == NIC_MODEL_ID_RNN || f.model_id == NIC_MODEL_ID_RNN_CNN;
    if (f.truncated && (!progressive || !options->allow_partial))
        return nic_container_parse(ctx, data, size, name, 0, &f); /* its error */
    nic_image coded;
    if (progressive) {
        nic_rnn_codec *c;
        nic_rnn_decode_info info;
        if (f.model_id == NIC_MODEL_ID_RNN_CNN)
            NIC_TRY(nic_codec_get_rnn_cnn(ctx, &c));
        else
            NIC_TRY(nic_codec_get_rnn(ctx, &c));
        NIC_TRY(nic_rnn_decode(ctx, c, &f, data, size, name, options->max_layers, &coded, &info));
        if (f.truncated)
            nic_log(ctx, NIC_LOG_WARNING,
                    "%s: truncated: %zu of %zu bytes; decoded the %d complete layer%s of %d, "
                    "the rest is missing",
                    name, size, f.file_size, info.layers_present,
                    info.layers_present == 1 ? "" : "s", info.layers_total);
        if (result) {
            result->layers_total = info.layers_total;
            result->layers_decoded = info.layers_decoded;
            result->truncated = f.truncated;
            result->bytes_missing = info.bytes_missing;
        }
        return restore_size(ctx, &f, &coded, out);
    }
    if (f.model_id != NIC_MODEL_ID_HYPER && f.model_id != NIC_MODEL_ID_HYPER_MSSSIM)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: model id %u is not known to this nic",
                        name, f.model_id);
    nic_hyper_codec *c;
    if (f.model_id == NIC_MODEL_ID_HYPER_MSSSIM)
        NIC_TRY(nic_codec_get_hyper_msssim(ctx, &c));
    else
        NIC_TRY(nic_codec_get_hyper(ctx, &c));
    NIC_TRY(nic_hyper_decode(ctx, c, &f, name, &coded));
    return restore_size(ctx, &f, &coded, out);
}

nic_status nic_decode(nic_context *ctx, const void *data, size_t size, const char *name,
                      nic_image *out)
{
    return nic_decode_ex(ctx, data, size, name, NULL, out, NULL);
}
