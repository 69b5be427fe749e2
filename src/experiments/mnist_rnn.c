/*
 * The RNN arms of the MNIST experiment: the RNN compression model (Toderici
 * et al. 2017, models/rnn.h) trained on MNIST, and the combined rnn+cnn model
 * (the same codes through the context model of models/rnn_ctx.h). Both code
 * every test digit with the rnn codec (codec/rnn_codec.h) at every layer count
 * 1..T into real bytes: records (the layers with no container, FORMAT.md 6.5;
 * the headline, like the CNN's records) and .nic files (FORMAT.md 6.3, 6.4),
 * read the records back, decode them and measure. At the headline layer count
 * the records are written to OUT/<arm>/records/ and read back from disk.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec_util.h"
#include "codec/rnn_codec.h"
#include "common/context.h"
#include "experiments/mnist_arms.h"
#include "metrics/metrics.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

#define LADDER_IMAGES 10
#define SIDE 32 /* 28 padded to whole 16 x 16 blocks (edges replicated, as the codec does) */
#define PLANES (3 * SIDE * SIDE)
#define BLOCKS ((SIDE / NIC_RNN_BLOCK) * (SIDE / NIC_RNN_BLOCK))
#define NIC_FILES_DECODED 32 /* .nic files also decoded through the container, per rate point */

static nic_image digit(const nic_mnist *set, uint32_t i)
{
    nic_image img = {NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1,
                     set->pixels + (size_t)i * NIC_MNIST_PIXELS};
    return img;
}

/* ---------------------------------------------------------------- training */

typedef struct rnn_trainer {
    nic_rnn_model model;
    int have_model;
    nn_engine *eng;
    nic_rnn_net *net;
    float *x, *xhat; /* [batch][3][32][32]; one picture */
    uint32_t *perm;
    uint8_t px[NIC_MNIST_PIXELS];
} rnn_trainer;

static void trainer_free(rnn_trainer *t)
{
    nic_rnn_net_destroy(t->net);
    nn_engine_destroy(t->eng);
    if (t->have_model)
        nic_rnn_model_free(&t->model);
    free(t->x);
    free(t->xhat);
    free(t->perm);
}

typedef struct batch_sums {
    double loss, accuracy, ssim;
} batch_sums;

/* One batch of images idx[0..valid) (the rest of the batch zero): trains
 * (rng != NULL: stochastic binarizer, gradients, no update here) or
 * evaluates (rng NULL: the codec's sign). Adds each image's loss (mean over
 * the T iterations of mean |residual|), binarized accuracy and (with ssim)
 * SSIM of its picture after T iterations. */
static nic_status run_batch(nic_context *ctx, rnn_trainer *t, const nic_mnist *set,
                            const uint32_t *idx, int valid, int batch, int train, nn_rng *rng,
                            int ssim, batch_sums *sums)
{
    const int T = t->model.cfg.iterations;
    for (int b = 0; b < batch; b++) {
        float *xb = t->x + (size_t)b * PLANES;
        if (b < valid) {
            nic_image img = digit(set, idx[b]);
            nic_codec_image_to_planes(&img, SIDE, SIDE, xb);
        } else {
            memset(xb, 0, PLANES * sizeof(float));
        }
    }
    if (train)
        nn_params_zero_grad(&t->model.params);
    NIC_TRY(nic_rnn_train_step(ctx, t->net, t->x, rng, train, NULL));
    for (int b = 0; b < valid; b++) {
        double l1 = 0;
        for (int it = 1; it <= T; it++) {
            const float *r = nic_rnn_net_residual(t->net, it) + (size_t)b * PLANES;
            for (int i = 0; i < PLANES; i++)
                l1 += fabsf(r[i]);
        }
        sums->loss += l1 / ((double)PLANES * T);
        const float *xb = t->x + (size_t)b * PLANES;
        const float *r = nic_rnn_net_residual(t->net, T) + (size_t)b * PLANES;
        for (int i = 0; i < PLANES; i++)
            t->xhat[i] = xb[i] - r[i];
        nic_image out = {NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1, t->px};
        nic_codec_planes_to_image(t->xhat, SIDE, SIDE, &out);
        nic_image orig = digit(set, idx[b]);
        sums->accuracy += nic_mnist_pixel_accuracy(orig.data, t->px);
        if (ssim) {
            nic_quality q;
            NIC_TRY(nic_compare(ctx, &orig, &out, &q));
            sums->ssim += q.ssim;
        }
    }
    return NIC_OK;
}

static nic_status train(nic_context *ctx, const nic_mnist_env *env, rnn_trainer *t,
                        nic_mnist_arm_result *out, nn_rng *rng)
{
    const nic_mnist_experiment_options *o = env->opt;
    const nic_mnist *train = env->train, *test = env->test;
    const int B = o->rnn_batch, T = o->rnn.iterations;
    const uint32_t per_epoch = o->rnn_epoch_images < train->count ? o->rnn_epoch_images
                                                                  : train->count;
    const int64_t steps = per_epoch / (uint32_t)B;
    const uint32_t n_eval = o->rnn_eval_images < test->count ? o->rnn_eval_images : test->count;
    if (steps < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist experiment: %u training images per rnn epoch for a batch of %d",
                        per_epoch, B);
    nn_adam opt;
    nn_adam_init(&opt);
    nn_lr_schedule sched = {.kind = NN_LR_COSINE,
                            .lr = (float)o->rnn_lr,
                            .lr_min = (float)(o->rnn_lr * 0.02),
                            .warmup = steps / 4,
                            .total = steps * o->rnn_epochs - steps / 4};
    out->epochs = calloc((size_t)o->rnn_epochs, sizeof(nic_mnist_epoch));
    uint32_t *eval_idx = malloc((size_t)B * sizeof(uint32_t));
    if (!out->epochs || !eval_idx) {
        free(eval_idx);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    }
    for (uint32_t i = 0; i < train->count; i++)
        t->perm[i] = i;
    const double t0 = nic_mnist_now();
    nic_status st = NIC_OK;
    for (int e = 0; e < o->rnn_epochs && st == NIC_OK; e++) {
        /* a fresh random draw of per_epoch training images (partial shuffle) */
        for (uint32_t i = 0; i < per_epoch; i++) {
            uint32_t j = i + (uint32_t)nn_rng_below(rng, (uint64_t)(train->count - i));
            uint32_t tmp = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = tmp;
        }
        batch_sums tr = {0, 0, 0};
        for (int64_t k = 0; k < steps && st == NIC_OK; k++) {
            st = run_batch(ctx, t, train, t->perm + k * B, B, B, 1, rng, 0, &tr);
            if (st != NIC_OK)
                break;
            nn_grad_clip(&t->model.params, -1, 1.0);
            nn_adam_step(&opt, &t->model.params, nn_lr_at(&sched, opt.step));
            if (!isfinite(tr.loss))
                st = NIC_FAIL(ctx, NIC_ERR_INTERNAL,
                              "mnist experiment: the rnn loss diverged at epoch %d step %lld",
                              e + 1, (long long)k);
        }
        batch_sums te = {0, 0, 0};
        for (uint32_t s0 = 0; s0 < n_eval && st == NIC_OK; s0 += (uint32_t)B) {
            int valid = (int)(n_eval - s0 < (uint32_t)B ? n_eval - s0 : (uint32_t)B);
            for (int b = 0; b < valid; b++)
                eval_idx[b] = s0 + (uint32_t)b;
            st = run_batch(ctx, t, test, eval_idx, valid, B, 0, NULL, 1, &te);
        }
        if (st != NIC_OK)
            break;
        nic_mnist_epoch *ep = &out->epochs[e];
        const double n_train = (double)steps * B;
        ep->epoch = e + 1;
        ep->train_loss = tr.loss / n_train;
        ep->train_accuracy = tr.accuracy / n_train;
        ep->test_loss = te.loss / n_eval;
        ep->test_accuracy = te.accuracy / n_eval;
        ep->test_ssim = te.ssim / n_eval;
        ep->test_bits = (double)T * o->rnn.bits * BLOCKS;
        ep->seconds = nic_mnist_now() - t0;
        out->epoch_count = e + 1;
        nic_mnist_progress(env,
                           "rnn epoch %d/%d: train loss %.4f, accuracy %.4f | test loss %.4f, "
                           "accuracy %.4f, SSIM %.4f (%u images, %d iterations) | %.0f s",
                           e + 1, o->rnn_epochs, ep->train_loss, ep->train_accuracy,
                           ep->test_loss, ep->test_accuracy, ep->test_ssim, n_eval, T,
                           ep->seconds);
    }
    free(eval_idx);
    out->train_seconds = nic_mnist_now() - t0;
    return st;
}

/* ---------------------------------------------------------------- coding */

/* The decoded picture after each layer, into rec [T][n][784]. */
typedef struct layer_sink {
    uint8_t *rec;
    uint32_t n, i;
} layer_sink;

static nic_status keep_layer(void *user, int layers, const nic_image *picture)
{
    layer_sink *s = user;
    memcpy(s->rec + ((size_t)(layers - 1) * s->n + s->i) * NIC_MNIST_PIXELS, picture->data,
           NIC_MNIST_PIXELS);
    return NIC_OK;
}

/* The context model's own estimate of the first `layers` layers, in bits. */
static double ctx_bits(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int layers)
{
    double bits = 0;
    for (int t = 0; t < layers; t++) {
        const int8_t *cur = nic_rnn_codes_at(codes, t);
        for (int y = 0; y < codes->h; y++)
            for (int x = 0; x < codes->w; x++)
                for (int ch = 0; ch < codes->bits; ch++) {
                    double p1 = nic_rnn_ctx_p1(m, codes, t, ch, y, x) / 65536.0;
                    int plus = cur[((size_t)ch * codes->h + y) * codes->w + x] > 0;
                    bits -= log2(plus ? p1 : 1.0 - p1);
                }
    }
    return bits;
}

static int same_codes(const nic_rnn_codes *a, const nic_rnn_codes *b, int layers)
{
    return a->bits == b->bits && a->h == b->h && a->w == b->w && b->iterations >= layers &&
           memcmp(a->v, b->v, (size_t)layers * a->bits * a->h * a->w) == 0;
}

/* The .nic file of the first k layers: the container of the full file with
 * its first k streams (what nic_rnn_encode writes for k layers: the first
 * layers are the same bits). */
static nic_status nic_file_of(nic_context *ctx, const nic_container *full, int k, uint8_t **out,
                              size_t *size)
{
    nic_container f = *full;
    f.stream_count = (uint32_t)k;
    return nic_container_write(ctx, &f, out, size);
}

/* Writes the headline's records under OUT/name/records/ and reads every one
 * back from disk: it must give the codes that were decoded to the measured
 * pictures (the decoder is a function of the codes, so the same codes are
 * the same pixels). */
static nic_status write_headline_records(nic_context *ctx, const nic_mnist_env *env,
                                         nic_rnn_codec *c, const char *name,
                                         const nic_rnn_codes *all, int k,
                                         nic_mnist_arm_result *out)
{
    char dir[4096], path[4200], sub[256];
    NIC_TRY(nic_mnist_arm_dir(ctx, env, name, dir, sizeof(dir)));
    snprintf(sub, sizeof(sub), "%s/records", name);
    NIC_TRY(nic_mnist_arm_dir(ctx, env, sub, path, sizeof(path)));
    const uint32_t n = env->test->count;
    uint64_t total = 0;
    uint8_t buf[4096];
    nic_status st = NIC_OK;
    for (uint32_t i = 0; i < n && st == NIC_OK; i++) {
        uint8_t *data;
        size_t size, got = 0;
        NIC_TRY(nic_rnn_record_write(ctx, c, &all[i], k, &data, &size));
        snprintf(path, sizeof(path), "%s/records/%05u.nicr", dir, i);
        st = nic_mnist_write_file(ctx, path, data, size);
        free(data);
        if (st == NIC_OK)
            st = nic_mnist_read_file(ctx, path, buf, sizeof(buf), &got);
        nic_rnn_codes back;
        memset(&back, 0, sizeof(back));
        if (st == NIC_OK)
            st = nic_rnn_record_read(ctx, c, buf, got, NIC_MNIST_SIDE, NIC_MNIST_SIDE, path,
                                     &back);
        if (st == NIC_OK && (back.iterations != k || !same_codes(&back, &all[i], k)))
            st = NIC_FAIL(ctx, NIC_ERR_INTERNAL, "%s: read back, other codes than were written",
                          path);
        free(back.v);
        total += got;
    }
    NIC_TRY(st);
    snprintf(out->files_note, sizeof(out->files_note),
             "`%s/records/NNNNN.nicr` (%u files of %d layers, %llu bytes read back from disk), "
             "`%s/%s.safetensors` (the model file: `NIC_MODEL_DIR=%s nic decode` reads the "
             "arm's .nic files with it)",
             name, n, k, (unsigned long long)total, name, name, name);
    return NIC_OK;
}

/* Codes every test digit with codec c at every layer count 1..T: records and
 * .nic files (bytes counted), the records read back and decoded (every layer
 * count from the longest record: the decoder is sequential, so the first k
 * layers decode alike in a k-layer record, as the unit tests and, here, a
 * sample of .nic files check), measured against the originals. */
static nic_status code_test_set(nic_context *ctx, const nic_mnist_env *env, nic_rnn_codec *c,
                                const char *name, nic_mnist_arm_result *out)
{
    const nic_mnist *test = env->test;
    const uint32_t n = test->count;
    const int T = c->model.cfg.iterations;
    const double t0 = nic_mnist_now();
    snprintf(out->point_label, sizeof(out->point_label), "layers");
    out->record_header_bytes = c->has_ctx ? 1 : 0;
    uint8_t *rec = malloc((size_t)T * n * NIC_MNIST_PIXELS);
    nic_rnn_codes *all = calloc(n, sizeof(*all));
    const int ladder = n < LADDER_IMAGES ? (int)n : LADDER_IMAGES;
    out->ladder = malloc((size_t)T * ladder * NIC_MNIST_PIXELS);
    out->reconstruction = malloc((size_t)n * NIC_MNIST_PIXELS);
    out->ladder_count = ladder;
    nic_status st = NIC_OK;
    if (!rec || !all || !out->ladder || !out->reconstruction)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    for (int k = 1; k <= T; k++) {
        out->points[k - 1].level = k;
        out->points[k - 1].lambda = 0;
    }
    layer_sink sink = {rec, n, 0};
    uint8_t check[NIC_RNN_MAX_ITERATIONS][NIC_MNIST_PIXELS];
    for (uint32_t i = 0; i < n && st == NIC_OK; i++) {
        nic_image img = digit(test, i);
        uint8_t *file = NULL, *data = NULL, *longest = NULL;
        size_t fsize = 0, size = 0, longest_size = 0;
        st = nic_rnn_encode_codes(ctx, c, &img, T, 0, 0, 0, &file, &fsize, NULL, &all[i]);
        nic_container f;
        if (st == NIC_OK)
            st = nic_container_parse(ctx, file, fsize, name, 0, &f);
        for (int k = 1; k <= T && st == NIC_OK; k++) {
            nic_mnist_rate_point *pt = &out->points[k - 1];
            st = nic_file_of(ctx, &f, k, &data, &size);
            if (st == NIC_OK && i < NIC_FILES_DECODED) {
                /* a sample of the .nic files also goes through the container and the
                 * codec's file decoder; compared with the records' pixels below */
                nic_container g;
                nic_image pic;
                st = nic_container_parse(ctx, data, size, name, 0, &g);
                if (st == NIC_OK)
                    st = nic_rnn_decode(ctx, c, &g, data, size, name, 0, &pic, NULL);
                if (st == NIC_OK) {
                    memcpy(check[k - 1], pic.data, NIC_MNIST_PIXELS);
                    nic_image_free(&pic);
                }
            }
            pt->nic_bytes += size;
            free(data);
            data = NULL;
            if (st == NIC_OK)
                st = nic_rnn_record_write(ctx, c, &all[i], k, &data, &size);
            if (st != NIC_OK)
                break;
            pt->record_bytes += size;
            pt->model_bits += c->has_ctx ? ctx_bits(&c->ctx_model, &all[i], k)
                                         : (double)k * c->model.cfg.bits * BLOCKS;
            if (k == T) {
                longest = data;
                longest_size = size;
            } else {
                free(data);
            }
            data = NULL;
        }
        free(file);
        /* the longest record read back and decoded: the pictures after every layer */
        nic_rnn_codes back;
        memset(&back, 0, sizeof(back));
        if (st == NIC_OK)
            st = nic_rnn_record_read(ctx, c, longest, longest_size, NIC_MNIST_SIDE,
                                     NIC_MNIST_SIDE, "record", &back);
        free(longest);
        if (st == NIC_OK && (back.iterations != T || !same_codes(&back, &all[i], T)))
            st = NIC_FAIL(ctx, NIC_ERR_INTERNAL, "%s: image %u does not round-trip", name, i);
        sink.i = i;
        nic_image pic;
        if (st == NIC_OK)
            st = nic_rnn_decode_codes(ctx, c, &back, NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1,
                                      keep_layer, &sink, &pic);
        free(back.v);
        if (st == NIC_OK)
            nic_image_free(&pic);
        for (int k = 1; st == NIC_OK && i < NIC_FILES_DECODED && k <= T; k++)
            if (memcmp(check[k - 1], rec + ((size_t)(k - 1) * n + i) * NIC_MNIST_PIXELS,
                       NIC_MNIST_PIXELS) != 0)
                st = NIC_FAIL(ctx, NIC_ERR_INTERNAL,
                              "%s: image %u: the %d-layer .nic file and record decode to "
                              "different pixels", name, i, k);
        if (st == NIC_OK && (i + 1) % 2000 == 0)
            nic_mnist_progress(env, "%s: %u of %u test images coded (%.0f s)", name, i + 1, n,
                               nic_mnist_now() - t0);
    }
    if (st == NIC_OK) {
        for (int k = 1; k <= T && st == NIC_OK; k++) {
            nic_mnist_rate_point *pt = &out->points[k - 1];
            pt->model_bits /= n;
            st = nic_mnist_measure(ctx, test, rec + (size_t)(k - 1) * n * NIC_MNIST_PIXELS, pt);
            memcpy(out->ladder + (size_t)(k - 1) * ladder * NIC_MNIST_PIXELS,
                   rec + (size_t)(k - 1) * n * NIC_MNIST_PIXELS,
                   (size_t)ladder * NIC_MNIST_PIXELS);
            out->point_count = k;
            nic_mnist_progress(env,
                               "%s %d layers: %.2f bytes/image (records), %.2f (.nic files), "
                               "SSIM %.4f, PSNR %.2f dB, model estimate %.1f bits",
                               name, k, (double)pt->record_bytes / n, (double)pt->nic_bytes / n,
                               pt->mean_ssim, pt->mean_psnr, pt->model_bits);
        }
    }
    if (st == NIC_OK) {
        const int h = nic_mnist_pick_headline(out->points, T, env->target_ssim);
        out->headline = h;
        const uint8_t *hrec = rec + (size_t)h * n * NIC_MNIST_PIXELS;
        st = write_headline_records(ctx, env, c, name, all, h + 1, out);
        if (st == NIC_OK)
            memcpy(out->reconstruction, hrec, (size_t)n * NIC_MNIST_PIXELS);
    }
    for (uint32_t i = 0; all && i < n; i++)
        free(all[i].v);
    free(all);
    free(rec);
    out->eval_seconds = nic_mnist_now() - t0;
    return st;
}

/* ---------------------------------------------------------------- the arms */

/* OUT/NAME/NAME.safetensors: the name nic looks for, so that
 * NIC_MODEL_DIR=OUT/NAME nic encode --model NAME uses the trained model. */
static void model_path(const nic_mnist_env *env, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s/%s.safetensors", env->out_dir, name, name);
}

/* Copies src's parameters into dst, which has the same layout except
 * (possibly) fewer bits per block: the binarizer keeps its first bits
 * (B-Conv's first output channels) and D-Conv reads only those. */
static void copy_fewer_bits(const nic_rnn_model *src, nic_rnn_model *dst)
{
    const int bits = dst->cfg.bits, from = src->cfg.bits;
    for (int i = 0; i < dst->params.count; i++) {
        const nn_param *d = &dst->params.items[i];
        int k = nn_params_find(&src->params, d->name);
        float *to = nn_param_data(&dst->params, i);
        const float *fr = nn_param_data(&src->params, k);
        if (i == dst->d_conv_w) { /* [d_conv][bits]: the first bits inputs of each row */
            for (int64_t o = 0; o < d->shape[0]; o++)
                memcpy(to + o * bits, fr + o * from, (size_t)bits * sizeof(float));
        } else { /* the same shape, or B-Conv's first output channels: a prefix */
            memcpy(to, fr, d->count * sizeof(float));
        }
    }
}

/* The reconstruction mode and the gains of the starting weights (o->rnn_init,
 * or the installed rnn model) become the experiment's: fine-tuning keeps the
 * model's function. Nothing changes with "none". */
static nic_status init_layout(nic_context *ctx, const nic_mnist_experiment_options *o,
                              nic_rnn_config *rc)
{
    if (o->rnn_init && strcmp(o->rnn_init, "none") == 0)
        return NIC_OK;
    nic_rnn_config fc = *rc;
    if (o->rnn_init) {
        NIC_TRY(nic_rnn_config_from_path(ctx, o->rnn_init, &fc));
    } else { /* the installed model, which initial_weights uses too (loaded once) */
        nic_rnn_codec *c = NULL;
        NIC_TRY(nic_codec_get_rnn(ctx, &c));
        fc = c->model.cfg;
    }
    rc->oneshot = fc.oneshot;
    rc->gain = fc.gain;
    return NIC_OK;
}

/* The starting weights: o->rnn_init, or the installed rnn model, or (with
 * "none") the random ones already in m; what names describes them. A file
 * with more bits per block than m gives m its first ones (copy_fewer_bits). */
static nic_status initial_weights(nic_context *ctx, const nic_mnist_experiment_options *o,
                                  nic_rnn_model *m, char *what, size_t cap)
{
    if (o->rnn_init && strcmp(o->rnn_init, "none") == 0)
        return NIC_OK;
    const char *path = o->rnn_init;
    nic_rnn_codec *shipped = NULL;
    if (!path) {
        NIC_TRY(nic_codec_get_rnn(ctx, &shipped));
        path = shipped->path;
    }
    nic_rnn_config fc = m->cfg;
    NIC_TRY(nic_rnn_config_from_path(ctx, path, &fc));
    nic_status st;
    fc.iterations = m->cfg.iterations;
    fc.oneshot = m->cfg.oneshot;
    nic_rnn_config want = m->cfg;
    want.bits = fc.bits;
    if (memcmp(&want, &fc, sizeof(want)) != 0 || fc.bits < m->cfg.bits)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "%s: not the layout of --rnn-widths (its widths: %d,%d,%d,%d,%d,%d,%d,%d,"
                        "%d,%d; the bits per block may only be more)",
                        path, fc.e_conv, fc.enc[0], fc.enc[1], fc.enc[2], fc.bits, fc.d_conv,
                        fc.dec[0], fc.dec[1], fc.dec[2], fc.dec[3]);
    nic_rnn_model full;
    NIC_TRY(nic_rnn_model_create(ctx, &fc, &full));
    st = nn_weights_load(ctx, path, &full.params);
    if (st == NIC_OK)
        copy_fewer_bits(&full, m);
    nic_rnn_model_free(&full);
    NIC_TRY(st);
    const char *base = strrchr(path, '/');
    snprintf(what, cap, "the weights of %.200s%s%s", base ? base + 1 : path,
             shipped ? " (nic's shipped rnn model, trained on BSDS500 photos; models/rnn.md)"
                     : "",
             fc.bits > m->cfg.bits ? ", keeping the first bits of its binarizer" : "");
    return NIC_OK;
}

nic_status nic_mnist_rnn_run(nic_context *ctx, const nic_mnist_env *env,
                             nic_mnist_arm_result *out)
{
    const nic_mnist_experiment_options *o = env->opt;
    nic_rnn_config rc = o->rnn;
    const nic_rnn_config *c = &rc;
    rnn_trainer t;
    memset(&t, 0, sizeof(t));
    nn_rng rng;
    nn_rng_seed(&rng, o->seed);
    char init[600] = "random weights";
    nic_status st = init_layout(ctx, o, &rc);
    if (st == NIC_OK)
        st = nic_rnn_model_create(ctx, c, &t.model);
    t.have_model = st == NIC_OK;
    if (st == NIC_OK) {
        nic_rnn_model_init(&t.model, &rng);
        st = initial_weights(ctx, o, &t.model, init, sizeof(init));
        if (st == NIC_OK && !(o->conv_flags & NN_CONV_REFERENCE))
            st = nn_engine_create(ctx, &t.eng);
    }
    if (st == NIC_OK)
        st = nic_rnn_net_create(ctx, t.eng, &t.model, o->rnn_batch, SIDE, SIDE, c->iterations, 1,
                                o->conv_flags, &t.net);
    if (st == NIC_OK) {
        t.x = malloc((size_t)o->rnn_batch * PLANES * sizeof(float));
        t.xhat = malloc(PLANES * sizeof(float));
        t.perm = malloc((size_t)env->train->count * sizeof(uint32_t));
        if (!t.x || !t.xhat || !t.perm)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    }
    const int layer_bytes = c->bits * BLOCKS / 8;
    snprintf(out->description, sizeof(out->description),
             "E-Conv 3x3 stride 2, 3->%d; E-RNN1..3 ConvGRU %d, %d, %d (input 3x3 stride 2, "
             "hidden 1x1); binarizer: %d bits per 16x16 block, so %d bytes per digit and "
             "iteration; D-Conv 1x1 %d; D-RNN1..4 ConvGRU %d, %d, %d, %d (hidden 1x1, 1x1, 3x3, "
             "3x3), each followed by depth-to-space x2; D-Out 1x1; %s reconstruction%s; "
             "%lld parameters, %.0f FLOPs per pixel and iteration (docs/RNN.md's layout, "
             "the shipped model's). A digit enters as three equal planes padded to 32 x 32 by "
             "repeating its edges (the codec's rule for gray pictures) and leaves as luma. "
             "Started from %s and trained on MNIST for %d epochs of %u training images drawn at "
             "random, batch %d, %d unrolled iterations (backpropagation through all of them), "
             "Adam, cosine schedule from %g, gradients clipped at norm 1.",
             c->e_conv, c->enc[0], c->enc[1], c->enc[2], c->bits, layer_bytes, c->d_conv,
             c->dec[0], c->dec[1], c->dec[2], c->dec[3], c->oneshot ? "one-shot" : "additive",
             c->gain ? " with learned per-iteration gains" : "",
             t.have_model ? (long long)t.model.params.total : 0LL,
             nic_rnn_flops_per_pixel(c, 1), init, o->rnn_epochs, o->rnn_epoch_images, o->rnn_batch,
             c->iterations, o->rnn_lr);
    snprintf(out->loss_what, sizeof(out->loss_what),
             "Toderici et al.'s objective: the mean over the %d iterations of the mean absolute "
             "residual (pixels on [0, 1]); training with the stochastic binarizer, test with the "
             "codec's sign on the first %u test images. Accuracy and SSIM are those of the "
             "picture after all %d iterations",
             c->iterations, o->rnn_eval_images < env->test->count ? o->rnn_eval_images
                                                                   : env->test->count,
             c->iterations);
    snprintf(out->rate_what, sizeof(out->rate_what),
             "One model, one progressive file per digit: rate point k is its first k layers "
             "(iterations), %d bytes of raw codes each.",
             layer_bytes);
    snprintf(out->loss_label, sizeof(out->loss_label), "mean |residual|");
    out->no_archive = 1;
    if (st == NIC_OK)
        st = train(ctx, env, &t, out, &rng);
    char dir[4096], path[4200];
    if (st == NIC_OK)
        st = nic_mnist_arm_dir(ctx, env, "rnn", dir, sizeof(dir));
    model_path(env, "rnn", path, sizeof(path));
    if (st == NIC_OK)
        st = nic_rnn_export(ctx, &t.model, path, "rnn trained on MNIST by nic experiment mnist");
    trainer_free(&t);
    nic_rnn_codec *codec = NULL;
    if (st == NIC_OK)
        st = nic_rnn_codec_load(ctx, path, &codec);
    if (st == NIC_OK)
        st = code_test_set(ctx, env, codec, "rnn", out);
    nic_rnn_codec_free(codec);
    return st;
}

/* The codes of the first count images of a set, as the rnn encoder makes them. */
static nic_status collect_codes(nic_context *ctx, nic_rnn_codec *c, const nic_mnist *set,
                                uint32_t count, nic_rnn_codes *codes)
{
    for (uint32_t i = 0; i < count; i++) {
        nic_image img = digit(set, i);
        uint8_t *file;
        size_t size;
        NIC_TRY(nic_rnn_encode_codes(ctx, c, &img, c->model.cfg.iterations, 0, 0, 0, &file,
                                     &size, NULL, &codes[i]));
        free(file);
    }
    return NIC_OK;
}

nic_status nic_mnist_rnn_cnn_run(nic_context *ctx, const nic_mnist_env *env,
                                 nic_mnist_arm_result *out)
{
    const nic_mnist_experiment_options *o = env->opt;
    const nic_mnist_arm_result *rnn = nic_mnist_find_result(env, "rnn");
    if (!rnn)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL,
                        "mnist experiment: rnn+cnn needs the rnn arm to have run first");
    char path[4200], dir[4096];
    model_path(env, "rnn", path, sizeof(path));
    nic_rnn_codec *c = NULL, *combined = NULL;
    NIC_TRY(nic_rnn_codec_load(ctx, path, &c));
    const int T = c->model.cfg.iterations, B = c->model.cfg.bits;
    const uint32_t ntr = o->ctx_images < env->train->count ? o->ctx_images : env->train->count;
    const uint32_t nte = o->rnn_eval_images < env->test->count ? o->rnn_eval_images
                                                               : env->test->count;
    nic_rnn_codes *tcodes = calloc(ntr, sizeof(*tcodes)), *vcodes = calloc(nte, sizeof(*vcodes));
    out->epochs = calloc((size_t)o->ctx_epochs, sizeof(nic_mnist_epoch));
    nic_rnn_ctx_model cm;
    memset(&cm, 0, sizeof(cm));
    nic_status st = NIC_OK;
    if (!tcodes || !vcodes || !out->epochs)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    const double t0 = nic_mnist_now();
    if (st == NIC_OK)
        st = collect_codes(ctx, c, env->train, ntr, tcodes);
    if (st == NIC_OK)
        st = collect_codes(ctx, c, env->test, nte, vcodes);
    if (st == NIC_OK)
        st = nic_rnn_ctx_create(ctx, B, T, &cm);
    nn_rng rng;
    nn_rng_seed(&rng, o->seed);
    for (int e = 0; e < o->ctx_epochs && st == NIC_OK; e++) {
        double train_bits = nic_rnn_ctx_train_epoch(&cm, tcodes, (int)ntr, (float)o->ctx_lr,
                                                    &rng, NULL);
        if (!isfinite(train_bits)) {
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: context model: out of memory");
            break;
        }
        nic_mnist_epoch *ep = &out->epochs[e];
        ep->epoch = e + 1;
        ep->train_loss = train_bits;
        ep->test_loss = nic_rnn_ctx_evaluate(&cm, vcodes, (int)nte, NULL);
        ep->test_bits = ep->test_loss * T * B * BLOCKS;
        ep->train_accuracy = ep->test_accuracy = ep->test_ssim = NAN;
        ep->seconds = nic_mnist_now() - t0;
        out->epoch_count = e + 1;
        nic_mnist_progress(env,
                           "rnn+cnn epoch %d/%d: train %.4f bits per code | test %.4f bits per "
                           "code (integer model), %.1f bits per image at %d layers | %.0f s",
                           e + 1, o->ctx_epochs, ep->train_loss, ep->test_loss, ep->test_bits, T,
                           ep->seconds);
    }
    out->train_seconds = nic_mnist_now() - t0;
    snprintf(out->description, sizeof(out->description),
             "The rnn model's codes, unchanged (so the same pictures), coded with the binary "
             "arithmetic coder, each code with a probability from the integer context model of "
             "`nic encode --model rnn+cnn` (docs/RNN.md: the codes of the same iteration at the "
             "causal neighbours and earlier channels, and the previous iteration's 3x3 "
             "neighbourhood; %d weights per iteration and channel). Fitted for %d epochs to the "
             "codes of %u training digits (Adam from %g).",
             cm.nfeat + 1, o->ctx_epochs, ntr, o->ctx_lr);
    snprintf(out->loss_what, sizeof(out->loss_what),
             "the code length in bits per binary code (1.0 = the raw codes): training, float "
             "model during the epoch; test, the integer model the coder uses, on the codes of "
             "the first %u test digits. This arm trains no pictures (the codes are the rnn "
             "arm's), so it has no accuracy",
             nte);
    snprintf(out->rate_what, sizeof(out->rate_what),
             "The rnn arm's rate points (the first k layers), the same codes and pictures, "
             "coded: a record is one byte (k) and one arithmetic-coded stream of the k layers.");
    snprintf(out->loss_label, sizeof(out->loss_label), "bits per binary code");
    out->no_accuracy = 1;
    out->no_archive = 1;
    if (st == NIC_OK)
        st = nic_mnist_arm_dir(ctx, env, "rnn+cnn", dir, sizeof(dir));
    model_path(env, "rnn+cnn", path, sizeof(path));
    if (st == NIC_OK)
        st = nic_rnn_cnn_export(ctx, &c->model, &cm, path,
                                "rnn+cnn trained on MNIST by nic experiment mnist");
    if (st == NIC_OK)
        st = nic_rnn_codec_load(ctx, path, &combined);
    if (st == NIC_OK)
        st = code_test_set(ctx, env, combined, "rnn+cnn", out);
    /* lossless: the pictures must be the rnn arm's, layer count by layer count */
    if (st == NIC_OK &&
        (out->point_count != rnn->point_count || out->ladder_count != rnn->ladder_count ||
         memcmp(out->ladder, rnn->ladder,
                (size_t)out->point_count * out->ladder_count * NIC_MNIST_PIXELS) != 0))
        st = NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist experiment: rnn+cnn decodes to other "
                      "pictures than rnn");
    for (uint32_t i = 0; tcodes && i < ntr; i++)
        free(tcodes[i].v);
    for (uint32_t i = 0; vcodes && i < nte; i++)
        free(vcodes[i].v);
    free(tcodes);
    free(vcodes);
    nic_rnn_ctx_free(&cm);
    nic_rnn_codec_free(combined);
    nic_rnn_codec_free(c);
    return st;
}
