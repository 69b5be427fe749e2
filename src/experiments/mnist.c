/*
 * Driver of the MNIST experiment: options, data, the baselines every arm is
 * compared with (PNG files, raw pixels), the arms, and the outputs
 * (mnist_report.c).
 */
#include "experiments/mnist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <png.h>

#include "common/context.h"
#include "experiments/mnist_arms.h"
#include "experiments/mnist_report.h"
#include "image/image_internal.h"
#include "metrics/metrics.h"

/* The models of the paper, in the order they run: the cascade uses the CNN's
 * weights and the RNN's pictures, rnn+cnn the RNN's weights. */
static const nic_mnist_arm arms[] = {
    {"cnn", "Deep CNN autoencoder (conv + ReLU + max-pool encoder, upsampling decoder) "
            "with a learned entropy model",
     NULL, nic_mnist_cnn_run},
    {"rnn", "RNN compression model (Toderici et al. 2017: ConvGRU encoder and decoder, "
            "binarizer, additive iterations)",
     NULL, nic_mnist_rnn_run},
    {"rnn-cnn", "the paper's cascade: the RNN's output image compressed again by the CNN",
     NULL, nic_mnist_cascade_run},
    {"rnn+cnn", "combined model: the RNN's binary codes coded with a convolutional context model",
     NULL, nic_mnist_rnn_cnn_run},
};
#define ARM_COUNT ((int)(sizeof(arms) / sizeof(arms[0])))

void nic_mnist_experiment_options_init(nic_mnist_experiment_options *o)
{
    memset(o, 0, sizeof(*o));
    o->data_dir = "../shared/data/mnist";
    o->out_dir = "runs/mnist";
    o->epochs = 0;
    o->batch = 64;
    o->seed = 1;
    o->lr = 2e-3;
    o->target_ssim = 0.90;
    o->target_reduction = 90.0;
    nic_mnist_ae_config_default(&o->model);
    /* The RNN: the shipped model's layout (docs/RNN.md), fine-tuned on MNIST from
     * the shipped weights (rnn_init NULL: the installed rnn model): trained from
     * random weights on digits it stays at the mean picture for the ~1000-2000
     * steps the time budget allows (docs/EXPERIMENTS.md). */
    nic_rnn_config_default(&o->rnn);
    o->rnn_batch = 8;
    o->rnn_lr = 4e-3;
    o->ctx_epochs = 4;
    o->ctx_lr = 3e-3;
}

double nic_mnist_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const nic_mnist_arm_result *nic_mnist_find_result(const nic_mnist_env *env, const char *name)
{
    for (int a = 0; a < env->arm_count; a++)
        if (strcmp(env->arms[a].name, name) == 0)
            return env->results[a].point_count > 0 ? &env->results[a] : NULL;
    return NULL;
}

double nic_mnist_pixel_accuracy(const uint8_t *a, const uint8_t *b)
{
    int agree = 0;
    for (int k = 0; k < NIC_MNIST_PIXELS; k++)
        agree += (a[k] >= 128) == (b[k] >= 128);
    return (double)agree / NIC_MNIST_PIXELS;
}

nic_status nic_mnist_measure(nic_context *ctx, const nic_mnist *test, const uint8_t *rec,
                             nic_mnist_rate_point *pt)
{
    double ssim = 0, psnr = 0, acc = 0;
    for (uint32_t i = 0; i < test->count; i++) {
        const uint8_t *a = test->pixels + (size_t)i * NIC_MNIST_PIXELS;
        const uint8_t *b = rec + (size_t)i * NIC_MNIST_PIXELS;
        nic_image ia = {NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1, (uint8_t *)a};
        nic_image ib = {NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1, (uint8_t *)b};
        nic_quality q;
        NIC_TRY(nic_compare(ctx, &ia, &ib, &q));
        ssim += q.ssim;
        psnr += isfinite(q.psnr_rgb) && q.psnr_rgb < 99.0 ? q.psnr_rgb : 99.0;
        acc += nic_mnist_pixel_accuracy(a, b);
    }
    pt->mean_ssim = ssim / test->count;
    pt->mean_psnr = psnr / test->count;
    pt->accuracy = acc / test->count;
    return NIC_OK;
}

int nic_mnist_pick_headline(const nic_mnist_rate_point *pts, int count, double target)
{
    int best = -1;
    for (int l = 0; l < count; l++)
        if (pts[l].mean_ssim >= target &&
            (best < 0 || pts[l].record_bytes < pts[best].record_bytes))
            best = l;
    if (best >= 0)
        return best;
    best = 0;
    for (int l = 1; l < count; l++)
        if (pts[l].mean_ssim > pts[best].mean_ssim)
            best = l;
    return best;
}

nic_status nic_mnist_write_file(nic_context *ctx, const char *path, const uint8_t *data,
                                size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create", path);
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    int bad = fclose(f) != 0 || w != size;
    if (bad)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: write failed", path);
    return NIC_OK;
}

nic_status nic_mnist_read_file(nic_context *ctx, const char *path, uint8_t *buf, size_t cap,
                               size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open", path);
    *size = fread(buf, 1, cap, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: larger than %zu bytes", path, cap);
    return NIC_OK;
}

void nic_mnist_progress(const nic_mnist_env *env, const char *fmt, ...)
{
    if (!env->opt->progress)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    env->opt->progress(env->opt->progress_user, line);
}

void nic_mnist_arm_result_free(nic_mnist_arm_result *r)
{
    free(r->epochs);
    free(r->reconstruction);
    free(r->ladder);
    memset(r, 0, sizeof(*r));
}

/* DIR/NAME.gz, else DIR/NAME. */
static void data_path(char *buf, size_t cap, const char *dir, const char *name)
{
    struct stat st;
    snprintf(buf, cap, "%s/%s.gz", dir, name);
    if (stat(buf, &st) != 0)
        snprintf(buf, cap, "%s/%s", dir, name);
}

static nic_status load_set(nic_context *ctx, const char *dir, const char *images,
                           const char *labels, uint32_t limit, nic_mnist *out)
{
    char path[4096];
    data_path(path, sizeof(path), dir, images);
    NIC_TRY(nic_mnist_load_images(ctx, path, limit, out));
    if (out->rows != NIC_MNIST_SIDE || out->cols != NIC_MNIST_SIDE) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: %ux%u images, expected 28x28", path,
                                 out->rows, out->cols);
        nic_mnist_free(out);
        return st;
    }
    data_path(path, sizeof(path), dir, labels);
    nic_status st = nic_mnist_load_labels(ctx, path, out);
    if (st != NIC_OK)
        nic_mnist_free(out);
    return st;
}

/* Each test image as its own PNG file, the smaller of libpng at zlib level 9
 * with no filter and with libpng's adaptive filter choice. */
static nic_status png_sizes(nic_context *ctx, const nic_mnist *test, nic_mnist_baselines *b)
{
    b->png_bytes = 0;
    for (uint32_t i = 0; i < test->count; i++) {
        nic_image img = {NIC_MNIST_SIDE, NIC_MNIST_SIDE, 1,
                         test->pixels + (size_t)i * NIC_MNIST_PIXELS};
        size_t best = 0;
        const int filters[2] = {PNG_FILTER_NONE, PNG_ALL_FILTERS};
        for (int f = 0; f < 2; f++) {
            uint8_t *buf;
            size_t size;
            NIC_TRY(nic_png_encode_with(ctx, &img, 9, filters[f], &buf, &size));
            free(buf);
            if (best == 0 || size < best)
                best = size;
        }
        b->png_bytes += best;
    }
    b->raw_bytes = (uint64_t)test->count * NIC_MNIST_PIXELS;
    return NIC_OK;
}

static nic_status make_dir(nic_context *ctx, const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create: %s", buf, strerror(errno));
    return NIC_OK;
}

nic_status nic_mnist_arm_dir(nic_context *ctx, const nic_mnist_env *env, const char *name,
                             char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", env->out_dir, name);
    return make_dir(ctx, dir);
}

static nic_status check_options(nic_context *ctx, const nic_mnist_experiment_options *o)
{
    if (!o->data_dir || !o->out_dir || !*o->out_dir)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "mnist experiment: data and out folders");
    if (o->epochs < 1 || o->epochs > 10000 || o->batch < 1 || o->batch > 4096 || !(o->lr > 0))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist experiment: %d epochs, batch %d, lr %g (need 1..10000, 1..4096, > 0)",
                        o->epochs, o->batch, o->lr);
    if (o->rnn_epochs < 1 || o->rnn_epochs > 10000 || o->rnn_batch < 1 || o->rnn_batch > 4096 ||
        !(o->rnn_lr > 0) || o->ctx_epochs < 1 || o->ctx_epochs > 10000 || !(o->ctx_lr > 0) ||
        o->rnn_epoch_images < 1 || o->ctx_images < 1)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist experiment: rnn %d epochs of %u images, batch %d, lr %g; context "
                        "model %d epochs on %u images, lr %g (need >= 1 and > 0)",
                        o->rnn_epochs, o->rnn_epoch_images, o->rnn_batch, o->rnn_lr,
                        o->ctx_epochs, o->ctx_images, o->ctx_lr);
    return nic_rnn_config_check(ctx, &o->rnn);
}

nic_status nic_mnist_experiment_run(nic_context *ctx, const nic_mnist_experiment_options *opt,
                                    nic_mnist_experiment_summary *summary)
{
    const double t0 = nic_mnist_now();
    nic_mnist_experiment_options o = *opt;
    if (o.epochs == 0)
        o.epochs = o.quick ? 2 : 10;
    if (o.quick) {
        if (o.train_limit == 0)
            o.train_limit = 1024;
        if (o.test_limit == 0)
            o.test_limit = 256;
    }
    if (o.rnn_epochs == 0)
        o.rnn_epochs = o.quick ? 2 : NIC_MNIST_RNN_EPOCHS;
    if (o.rnn_epoch_images == 0)
        o.rnn_epoch_images = o.quick ? 256 : NIC_MNIST_RNN_EPOCH_IMAGES;
    if (o.rnn_eval_images == 0)
        o.rnn_eval_images = o.quick ? 256 : NIC_MNIST_RNN_EVAL_IMAGES;
    if (o.ctx_images == 0)
        o.ctx_images = o.quick ? 256 : NIC_MNIST_RNN_CTX_IMAGES;
    NIC_TRY(check_options(ctx, &o));
    NIC_TRY(make_dir(ctx, o.out_dir));
    nic_mnist train, test;
    memset(&train, 0, sizeof(train));
    memset(&test, 0, sizeof(test));
    NIC_TRY(load_set(ctx, o.data_dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     o.train_limit, &train));
    nic_status st = load_set(ctx, o.data_dir, "t10k-images-idx3-ubyte",
                             "t10k-labels-idx1-ubyte", o.test_limit, &test);
    nic_mnist_arm_result results[ARM_COUNT];
    memset(results, 0, sizeof(results));
    nic_mnist_env env = {&o, &train, &test, o.out_dir, o.target_ssim, arms, results, ARM_COUNT};
    nic_mnist_baselines base;
    memset(&base, 0, sizeof(base));
    if (st == NIC_OK) {
        nic_mnist_progress(&env, "mnist: %u training and %u test images from %s", train.count,
                           test.count, o.data_dir);
        st = png_sizes(ctx, &test, &base);
    }
    for (int a = 0; a < ARM_COUNT && st == NIC_OK; a++) {
        if (arms[a].pending) {
            nic_mnist_progress(&env, "%s: %s", arms[a].name, arms[a].pending);
            continue;
        }
        st = arms[a].run(ctx, &env, &results[a]);
    }
    if (st == NIC_OK) {
        nic_mnist_report rep = {&o, &train, &test, &base, arms, results, ARM_COUNT, 0};
        rep.seconds = nic_mnist_now() - t0;
        st = nic_mnist_report_write(ctx, &rep, summary);
        if (st == NIC_OK)
            nic_mnist_progress(&env, "mnist: report in %s/report.md (%.0f s)", o.out_dir,
                               rep.seconds);
    }
    for (int a = 0; a < ARM_COUNT; a++)
        nic_mnist_arm_result_free(&results[a]);
    nic_mnist_free(&train);
    nic_mnist_free(&test);
    return st;
}
