/*
 * The CNN arm of the MNIST experiment: trains the deep CNN autoencoder with
 * its learned entropy model (models/mnist_ae.h), then compresses every test
 * image at every rate level into real files (codec/mnist_codec.h), decodes
 * them and measures. At the headline level the per-image records and the
 * archive are written to OUT/cnn/ and read back from disk before decoding.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "codec/mnist_codec.h"
#include "common/context.h"
#include "experiments/mnist_arms.h"
#include "metrics/metrics.h"
#include "models/likelihood.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

#define LADDER_IMAGES 10

static void to_float(const uint8_t *px, size_t n, float *x)
{
    for (size_t i = 0; i < n; i++)
        x[i] = px[i] / 255.0f;
}

static uint8_t to_byte(float v)
{
    float s = nearbyintf(v * 255.0f);
    return (uint8_t)(s < 0 ? 0 : (s > 255 ? 255 : s));
}

/* The training objective, accuracy, bits and SSIM on the test set, image i
 * at level i mod L (the same mix of levels as training). */
static nic_status evaluate(nic_context *ctx, nic_mnist_ae_trainer *tr, const nic_mnist *test,
                           int levels, float *x, int *level, nic_mnist_ae_stats *per,
                           nic_mnist_epoch *ep)
{
    const int B = nic_mnist_ae_trainer_batch(tr);
    double loss = 0, acc = 0, bits = 0, ssim = 0;
    for (uint32_t start = 0; start < test->count; start += (uint32_t)B) {
        int valid = (int)(test->count - start < (uint32_t)B ? test->count - start : (uint32_t)B);
        to_float(test->pixels + (size_t)start * NIC_MNIST_PIXELS, (size_t)valid * NIC_MNIST_PIXELS,
                 x);
        memset(x + (size_t)valid * NIC_MNIST_PIXELS, 0,
               (size_t)(B - valid) * NIC_MNIST_PIXELS * sizeof(float));
        for (int b = 0; b < B; b++)
            level[b] = (int)((start + (uint32_t)b) % (uint32_t)levels);
        NIC_TRY(nic_mnist_ae_step(ctx, tr, x, level, NULL, 0, NULL, per));
        for (int b = 0; b < valid; b++) {
            loss += per[b].loss;
            acc += per[b].accuracy;
            bits += per[b].bits;
            ssim += per[b].ssim;
        }
    }
    ep->test_loss = loss / test->count;
    ep->test_accuracy = acc / test->count;
    ep->test_bits = bits / test->count;
    ep->test_ssim = ssim / test->count;
    return NIC_OK;
}

typedef struct cnn_state {
    nic_mnist_ae model;
    nn_engine *eng;
    nic_mnist_ae_trainer *tr;
    float *x;
    int *level;
    nic_mnist_ae_stats *per;
    uint32_t *perm;
    nic_mnist_codec codec;
    int have_model, have_codec;
} cnn_state;

static void state_free(cnn_state *s)
{
    nic_mnist_ae_trainer_destroy(s->tr);
    nn_engine_destroy(s->eng);
    if (s->have_codec)
        nic_mnist_codec_free(&s->codec);
    if (s->have_model)
        nic_mnist_ae_free(&s->model);
    free(s->x);
    free(s->level);
    free(s->per);
    free(s->perm);
}

static nic_status train(nic_context *ctx, const nic_mnist_env *env, cnn_state *s,
                        nic_mnist_arm_result *out, nn_rng *rng)
{
    const nic_mnist_experiment_options *o = env->opt;
    const nic_mnist *train = env->train;
    const int B = o->batch, L = o->model.levels;
    const int64_t steps_per_epoch = train->count / (uint32_t)B;
    if (steps_per_epoch < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist experiment: %u training images for a batch of %d", train->count, B);
    nn_adam opt;
    nn_adam_init(&opt);
    nn_lr_schedule sched = {.kind = NN_LR_COSINE,
                            .lr = (float)o->lr,
                            .lr_min = (float)(o->lr * 0.02),
                            .warmup = steps_per_epoch / 4,
                            .total = steps_per_epoch * o->epochs - steps_per_epoch / 4};
    out->epochs = calloc((size_t)o->epochs, sizeof(nic_mnist_epoch));
    if (!out->epochs)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    for (uint32_t i = 0; i < train->count; i++)
        s->perm[i] = i;
    const double t0 = nic_mnist_now();
    for (int e = 0; e < o->epochs; e++) {
        for (uint32_t i = train->count - 1; i > 0; i--) {
            uint32_t j = (uint32_t)nn_rng_below(rng, (uint64_t)i + 1);
            uint32_t tmp = s->perm[i];
            s->perm[i] = s->perm[j];
            s->perm[j] = tmp;
        }
        double loss = 0, acc = 0;
        for (int64_t k = 0; k < steps_per_epoch; k++) {
            for (int b = 0; b < B; b++) {
                uint32_t idx = s->perm[k * B + b];
                to_float(train->pixels + (size_t)idx * NIC_MNIST_PIXELS, NIC_MNIST_PIXELS,
                         s->x + (size_t)b * NIC_MNIST_PIXELS);
                s->level[b] = (int)nn_rng_below(rng, (uint64_t)L);
            }
            nic_mnist_ae_stats st;
            nn_params_zero_grad(&s->model.params);
            NIC_TRY(nic_mnist_ae_step(ctx, s->tr, s->x, s->level, rng, 1, &st, NULL));
            nn_adam_step(&opt, &s->model.params, nn_lr_at(&sched, opt.step));
            loss += st.loss;
            acc += st.accuracy;
            if (!isfinite(st.loss))
                return NIC_FAIL(ctx, NIC_ERR_INTERNAL,
                                "mnist experiment: the training loss diverged at epoch %d step %lld",
                                e + 1, (long long)k);
        }
        nic_mnist_epoch *ep = &out->epochs[e];
        ep->epoch = e + 1;
        ep->train_loss = loss / steps_per_epoch;
        ep->train_accuracy = acc / steps_per_epoch;
        NIC_TRY(evaluate(ctx, s->tr, env->test, L, s->x, s->level, s->per, ep));
        ep->seconds = nic_mnist_now() - t0;
        out->epoch_count = e + 1;
        nic_mnist_progress(env,
                           "cnn epoch %d/%d: train loss %.2f, accuracy %.4f | test loss %.2f, "
                           "accuracy %.4f, %.1f bits/image, SSIM %.4f | %.0f s",
                           e + 1, o->epochs, ep->train_loss, ep->train_accuracy, ep->test_loss,
                           ep->test_accuracy, ep->test_bits, ep->test_ssim, ep->seconds);
    }
    out->train_seconds = nic_mnist_now() - t0;
    return NIC_OK;
}

/* Decodes n images' symbols (level `level`) into 8-bit pictures. */
static nic_status synthesize_all(nic_context *ctx, cnn_state *s, int level, uint32_t n,
                                 const int32_t *syms, uint8_t *pixels)
{
    const int B = nic_mnist_ae_trainer_batch(s->tr);
    const int count = s->codec.count;
    float *yhat = s->x; /* B * 784 floats: room for B * count when count <= 784 */
    float *buf = NULL;
    if (count > NIC_MNIST_PIXELS) {
        buf = malloc((size_t)B * count * sizeof(float));
        if (!buf)
            return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
        yhat = buf;
    }
    nic_status st = NIC_OK;
    for (uint32_t start = 0; start < n && st == NIC_OK; start += (uint32_t)B) {
        int valid = (int)(n - start < (uint32_t)B ? n - start : (uint32_t)B);
        for (int b = 0; b < B; b++) {
            if (b < valid)
                nic_mnist_codec_dequantize(&s->codec, level, syms + (size_t)(start + b) * count,
                                           yhat + (size_t)b * count);
            else
                memset(yhat + (size_t)b * count, 0, (size_t)count * sizeof(float));
        }
        const float *xh;
        st = nic_mnist_ae_synthesize(ctx, s->tr, yhat, &xh);
        for (int b = 0; st == NIC_OK && b < valid; b++)
            for (int i = 0; i < NIC_MNIST_PIXELS; i++)
                pixels[(size_t)(start + b) * NIC_MNIST_PIXELS + i] =
                    to_byte(xh[(size_t)b * NIC_MNIST_PIXELS + i]);
    }
    free(buf);
    return st;
}

/* Codes n pictures (8-bit, 28 x 28 each) at one level into symbols. */
static nic_status analyze_all(nic_context *ctx, cnn_state *s, const uint8_t *pictures,
                              uint32_t n, int level, int32_t *syms)
{
    const int B = nic_mnist_ae_trainer_batch(s->tr);
    const int count = s->codec.count;
    for (uint32_t start = 0; start < n; start += (uint32_t)B) {
        int valid = (int)(n - start < (uint32_t)B ? n - start : (uint32_t)B);
        to_float(pictures + (size_t)start * NIC_MNIST_PIXELS, (size_t)valid * NIC_MNIST_PIXELS,
                 s->x);
        memset(s->x + (size_t)valid * NIC_MNIST_PIXELS, 0,
               (size_t)(B - valid) * NIC_MNIST_PIXELS * sizeof(float));
        const float *y;
        NIC_TRY(nic_mnist_ae_analyze(ctx, s->tr, s->x, &y));
        for (int b = 0; b < valid; b++)
            nic_mnist_codec_quantize(&s->codec, level, y + (size_t)b * count,
                                     syms + (size_t)(start + b) * count);
    }
    return NIC_OK;
}

/* The model's own estimate of the rate: sum of -log2 p of the symbols. */
static double model_bits(const nic_mnist_ae *m, const nic_mnist_codec *c, int level, uint32_t n,
                         const int32_t *syms)
{
    const float *lsig = nn_param_data(&m->params, m->latent_log_scale);
    double bits = 0;
    for (uint32_t i = 0; i < n; i++)
        for (int e = 0; e < c->count; e++) {
            float step = c->step[level * c->latent + e / NIC_MNIST_LATENT_HW];
            float ls = lsig[e] < -7.0f ? -7.0f : (lsig[e] > 7.0f ? 7.0f : lsig[e]);
            bits += nic_gaussian_bits(syms[(size_t)i * c->count + e], expf(ls) / step);
        }
    return bits / n;
}

typedef struct level_files {
    uint8_t *records; /* concatenated */
    size_t *offsets;  /* n + 1 */
} level_files;

/* Codes every image of one level: records, one-image .nic files, archive.
 * Every file is decoded back and must give the same symbols. */
static nic_status code_level(nic_context *ctx, cnn_state *s, uint32_t n, int level,
                             const int32_t *syms, int32_t *decoded, nic_mnist_rate_point *pt,
                             level_files *files)
{
    const int count = s->codec.count;
    size_t cap = (size_t)n * 8 + 64, used = 0;
    files->records = malloc(cap);
    files->offsets = malloc(((size_t)n + 1) * sizeof(size_t));
    if (!files->records || !files->offsets)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    pt->record_bytes = pt->nic_bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const int32_t *sym = syms + (size_t)i * count;
        int32_t *back = decoded + (size_t)i * count;
        uint8_t *buf;
        size_t size;
        int lv;
        NIC_TRY(nic_mnist_nic_write(ctx, &s->codec, level, sym, &buf, &size));
        nic_status st = nic_mnist_nic_read(ctx, &s->codec, buf, size, "image .nic", &lv, back);
        free(buf);
        NIC_TRY(st);
        pt->nic_bytes += size;
        NIC_TRY(nic_mnist_record_write(ctx, &s->codec, level, sym, &buf, &size));
        if (used + size > cap) {
            size_t ncap = (used + size) * 2;
            uint8_t *nb = realloc(files->records, ncap);
            if (!nb) {
                free(buf);
                return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
            }
            files->records = nb;
            cap = ncap;
        }
        memcpy(files->records + used, buf, size);
        files->offsets[i] = used;
        used += size;
        free(buf);
        pt->record_bytes += size;
        NIC_TRY(nic_mnist_record_read(ctx, &s->codec, files->records + files->offsets[i], size,
                                      "record", &lv, back));
        if (memcmp(back, sym, (size_t)count * sizeof(int32_t)) != 0 || lv != level)
            return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist codec: image %u does not round-trip", i);
    }
    files->offsets[n] = used;
    uint8_t *arch;
    size_t arch_size;
    NIC_TRY(nic_mnist_archive_write(ctx, &s->codec, level, n, syms, &arch, &arch_size));
    int lv;
    uint32_t an;
    int32_t *asyms;
    nic_status st = nic_mnist_archive_read(ctx, &s->codec, arch, arch_size, "archive", &lv, &an,
                                           &asyms);
    free(arch);
    NIC_TRY(st);
    int same = an == n && lv == level &&
               memcmp(asyms, syms, (size_t)n * count * sizeof(int32_t)) == 0;
    free(asyms);
    if (!same)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist codec: the archive does not round-trip");
    pt->archive_bytes = arch_size;
    return NIC_OK;
}

/* Writes the headline level's records and archive under OUT/cnn/, reads each
 * record back from disk and checks that it decodes to the same symbols. */
static nic_status write_headline_files(nic_context *ctx, const nic_mnist_env *env, cnn_state *s,
                                       const char *name, uint32_t n, int level,
                                       const int32_t *syms, const level_files *files,
                                       int32_t *decoded, nic_mnist_arm_result *out)
{
    char dir[4096], path[4200];
    NIC_TRY(nic_mnist_arm_dir(ctx, env, name, dir, sizeof(dir)));
    snprintf(path, sizeof(path), "%s/records", dir);
    mkdir(path, 0777);
    uint8_t buf[4096];
    uint64_t total = 0;
    const int count = s->codec.count;
    for (uint32_t i = 0; i < n; i++) {
        size_t size = files->offsets[i + 1] - files->offsets[i];
        snprintf(path, sizeof(path), "%s/records/%05u.nicm", dir, i);
        NIC_TRY(nic_mnist_write_file(ctx, path, files->records + files->offsets[i], size));
        size_t got = 0;
        NIC_TRY(nic_mnist_read_file(ctx, path, buf, sizeof(buf), &got));
        int lv;
        NIC_TRY(nic_mnist_record_read(ctx, &s->codec, buf, got, path, &lv,
                                      decoded + (size_t)i * count));
        total += got;
    }
    if (memcmp(decoded, syms, (size_t)n * count * sizeof(int32_t)) != 0)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist experiment: records read back differ");
    uint8_t *arch;
    size_t arch_size;
    NIC_TRY(nic_mnist_archive_write(ctx, &s->codec, level, n, syms, &arch, &arch_size));
    snprintf(path, sizeof(path), "%s/test_set.nic", dir);
    nic_status st = nic_mnist_write_file(ctx, path, arch, arch_size);
    free(arch);
    NIC_TRY(st);
    snprintf(out->files_note, sizeof(out->files_note),
             "`%s/records/NNNNN.nicm` (%u files, %llu bytes read back from disk), "
             "`%s/test_set.nic` (the archive)",
             name, n, (unsigned long long)total, name);
    return NIC_OK;
}

/* Codes n = test count pictures (the test set, or the cascade's RNN output)
 * at every level, decodes them and measures them against the test set; the
 * files go to OUT/name. */
static nic_status compress_test_set(nic_context *ctx, const nic_mnist_env *env, cnn_state *s,
                                    const char *name, const uint8_t *pictures,
                                    nic_mnist_arm_result *out)
{
    snprintf(out->point_label, sizeof(out->point_label), "level");
    out->record_header_bytes = 1;
    const nic_mnist *test = env->test;
    const uint32_t n = test->count;
    const int L = s->model.cfg.levels, count = s->codec.count;
    const double t0 = nic_mnist_now();
    int32_t *syms = malloc((size_t)n * count * sizeof(int32_t));
    int32_t *decoded = malloc((size_t)n * count * sizeof(int32_t));
    uint8_t *rec = malloc((size_t)n * NIC_MNIST_PIXELS);
    level_files files[NIC_MNIST_MAX_LEVELS];
    memset(files, 0, sizeof(files));
    int ladder = n < LADDER_IMAGES ? (int)n : LADDER_IMAGES;
    out->ladder = malloc((size_t)L * ladder * NIC_MNIST_PIXELS);
    out->ladder_count = ladder;
    nic_status st = NIC_OK;
    if (!syms || !decoded || !rec || !out->ladder)
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    for (int l = 0; l < L && st == NIC_OK; l++) {
        nic_mnist_rate_point *pt = &out->points[l];
        pt->level = l;
        pt->lambda = nic_mnist_ae_lambda(&s->model.cfg, l);
        st = analyze_all(ctx, s, pictures, n, l, syms);
        if (st == NIC_OK)
            st = code_level(ctx, s, n, l, syms, decoded, pt, &files[l]);
        if (st == NIC_OK)
            st = synthesize_all(ctx, s, l, n, decoded, rec);
        if (st == NIC_OK)
            st = nic_mnist_measure(ctx, test, rec, pt);
        if (st != NIC_OK)
            break;
        pt->model_bits = model_bits(&s->model, &s->codec, l, n, syms);
        memcpy(out->ladder + (size_t)l * ladder * NIC_MNIST_PIXELS, rec,
               (size_t)ladder * NIC_MNIST_PIXELS);
        out->point_count = l + 1;
        nic_mnist_progress(env,
                           "%s level %d (lambda %.0f): %.2f bytes/image (records), SSIM %.4f, "
                           "PSNR %.2f dB, model estimate %.1f bits",
                           name, l, pt->lambda, (double)pt->record_bytes / n, pt->mean_ssim,
                           pt->mean_psnr, pt->model_bits);
    }
    if (st == NIC_OK) {
        const int best = nic_mnist_pick_headline(out->points, L, env->target_ssim);
        out->headline = best;
        st = analyze_all(ctx, s, pictures, n, best, syms);
        if (st == NIC_OK)
            st = write_headline_files(ctx, env, s, name, n, best, syms, &files[best], decoded,
                                      out);
        if (st == NIC_OK)
            st = synthesize_all(ctx, s, best, n, decoded, rec);
        if (st == NIC_OK) {
            out->reconstruction = rec;
            rec = NULL;
        }
    }
    for (int l = 0; l < NIC_MNIST_MAX_LEVELS; l++) {
        free(files[l].records);
        free(files[l].offsets);
    }
    free(syms);
    free(decoded);
    free(rec);
    out->eval_seconds = nic_mnist_now() - t0;
    return st;
}

/* The model (random weights), the engine, the trainer and the buffers. */
static nic_status state_create(nic_context *ctx, const nic_mnist_env *env, cnn_state *s,
                               nn_rng *rng)
{
    const nic_mnist_experiment_options *o = env->opt;
    memset(s, 0, sizeof(*s));
    NIC_TRY(nic_mnist_ae_create(ctx, &o->model, &s->model));
    s->have_model = 1;
    nic_mnist_ae_init(&s->model, rng);
    if (!(o->conv_flags & NN_CONV_REFERENCE))
        NIC_TRY(nn_engine_create(ctx, &s->eng));
    NIC_TRY(nic_mnist_ae_trainer_create(ctx, s->eng, &s->model, o->batch, o->conv_flags, &s->tr));
    s->x = malloc((size_t)o->batch * NIC_MNIST_PIXELS * sizeof(float));
    s->level = malloc((size_t)o->batch * sizeof(int));
    s->per = malloc((size_t)o->batch * sizeof(nic_mnist_ae_stats));
    s->perm = malloc((size_t)env->train->count * sizeof(uint32_t));
    if (!s->x || !s->level || !s->per || !s->perm)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "mnist experiment: out of memory");
    return NIC_OK;
}

static void weights_path(const nic_mnist_env *env, char *path, size_t cap)
{
    snprintf(path, cap, "%s/cnn/model.safetensors", env->out_dir);
}

nic_status nic_mnist_cnn_run(nic_context *ctx, const nic_mnist_env *env,
                             nic_mnist_arm_result *out)
{
    const nic_mnist_experiment_options *o = env->opt;
    cnn_state s;
    nn_rng rng;
    nn_rng_seed(&rng, o->seed);
    nic_status st = state_create(ctx, env, &s, &rng);
    const nic_mnist_ae_config *c = &o->model;
    snprintf(out->description, sizeof(out->description),
             "Encoder conv3x3 1->%d, ReLU, maxpool 2, conv3x3 %d->%d, ReLU, maxpool 2, conv3x3 "
             "%d->%d, ReLU, conv3x3 %d->%d (latent %d x 7 x 7); decoder conv3x3 %d->%d, ReLU, "
             "conv3x3 %d->%d, ReLU, upsample x2, conv3x3 %d->%d, ReLU, upsample x2, conv3x3 "
             "%d->%d, ReLU, conv3x3 %d->1, sigmoid. Per-element Gaussian prior, %d rate levels "
             "(lambda %g..%g), loss bits + lambda (1 - SSIM + %g MSE).",
             c->c1, c->c1, c->c2, c->c2, c->c2, c->c2, c->latent, c->latent, c->latent, c->c2,
             c->c2, c->c2, c->c2, c->c1, c->c1, c->c1, c->c1, c->levels, c->lambda_min,
             c->lambda_max, c->mse_weight);
    snprintf(out->loss_what, sizeof(out->loss_what),
             "the training objective, bits + lambda (1 - SSIM + MSE) per image, with each image "
             "at a random rate level during training and test image i at level i mod %d (so "
             "both mix the levels alike); the test loss uses true rounding instead of training "
             "noise",
             c->levels);
    snprintf(out->rate_what, sizeof(out->rate_what),
             "One model, %d rate levels (each with its own learned quantization steps and "
             "lambda).",
             c->levels);
    snprintf(out->loss_label, sizeof(out->loss_label), "bits + lambda D per image");
    if (st == NIC_OK)
        st = train(ctx, env, &s, out, &rng);
    if (st == NIC_OK) {
        char dir[4096], path[4200];
        st = nic_mnist_arm_dir(ctx, env, "cnn", dir, sizeof(dir));
        weights_path(env, path, sizeof(path));
        if (st == NIC_OK)
            st = nn_weights_save(ctx, path, &s.model.params);
    }
    if (st == NIC_OK) {
        st = nic_mnist_codec_create(ctx, &s.model, &s.codec);
        s.have_codec = st == NIC_OK;
    }
    if (st == NIC_OK)
        st = compress_test_set(ctx, env, &s, "cnn", env->test->pixels, out);
    if (st == NIC_OK) {
        size_t len = strlen(out->files_note);
        snprintf(out->files_note + len, sizeof(out->files_note) - len,
                 ", `cnn/model.safetensors` (the weights)");
    }
    state_free(&s);
    return st;
}

nic_status nic_mnist_cascade_run(nic_context *ctx, const nic_mnist_env *env,
                                 nic_mnist_arm_result *out)
{
    const nic_mnist_arm_result *rnn = nic_mnist_find_result(env, "rnn");
    if (!rnn || !rnn->reconstruction || !nic_mnist_find_result(env, "cnn"))
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist experiment: the cascade needs the cnn and "
                        "rnn arms to have run first");
    const nic_mnist_rate_point *h = &rnn->points[rnn->headline];
    const uint32_t n = env->test->count;
    cnn_state s;
    nn_rng rng;
    nn_rng_seed(&rng, env->opt->seed);
    nic_status st = state_create(ctx, env, &s, &rng);
    char path[4200];
    weights_path(env, path, sizeof(path));
    if (st == NIC_OK)
        st = nn_weights_load(ctx, path, &s.model.params);
    snprintf(out->description, sizeof(out->description),
             "As the paper's Fig. 3: every test digit is coded by the RNN (%d iterations, its "
             "headline: %.2f bytes per image, SSIM %.4f), its output picture is handed on as an "
             "array, and the trained CNN codes that picture again; the CNN's records are what "
             "is sent (the RNN's bits are not), and SSIM and PSNR compare the final picture "
             "with the ORIGINAL digit. Nothing is trained for this arm: it is the two trained "
             "models in a row.",
             h->level, (double)h->record_bytes / n, h->mean_ssim);
    snprintf(out->rate_what, sizeof(out->rate_what),
             "The CNN's %d rate levels, applied to the RNN's output pictures.",
             env->opt->model.levels);
    if (st == NIC_OK) {
        st = nic_mnist_codec_create(ctx, &s.model, &s.codec);
        s.have_codec = st == NIC_OK;
    }
    const double t0 = nic_mnist_now();
    if (st == NIC_OK)
        st = compress_test_set(ctx, env, &s, "rnn-cnn", rnn->reconstruction, out);
    out->eval_seconds = nic_mnist_now() - t0;
    state_free(&s);
    return st;
}
