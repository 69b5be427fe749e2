/*
 * Driver of the MNIST experiment: options, data, the baselines every arm is
 * compared with (PNG files, raw pixels), the arms, and the outputs
 * (mnist_report.c).
 */
#include "experiments/mnist.h"

#include <errno.h>
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

/* The models of the paper. The RNN arms join when issue 7's RNN model lands:
 * write their run() (same contract as nic_mnist_cnn_run) and drop `pending`. */
static const nic_mnist_arm arms[] = {
    {"cnn", "Deep CNN autoencoder (conv + ReLU + max-pool encoder, upsampling decoder) "
            "with a learned entropy model",
     NULL, nic_mnist_cnn_run},
    {"rnn", "RNN compression model (Toderici et al. 2017)", "pending issue 7", NULL},
    {"rnn-cnn", "the paper's cascade: the RNN's output image compressed again by the CNN",
     "pending issue 7", NULL},
    {"rnn+cnn", "combined model: the RNN's binary codes coded with a convolutional context model",
     "pending issue 7", NULL},
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

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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

static nic_status check_options(nic_context *ctx, const nic_mnist_experiment_options *o)
{
    if (!o->data_dir || !o->out_dir || !*o->out_dir)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "mnist experiment: data and out folders");
    if (o->epochs < 1 || o->epochs > 10000 || o->batch < 1 || o->batch > 4096 || !(o->lr > 0))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "mnist experiment: %d epochs, batch %d, lr %g (need 1..10000, 1..4096, > 0)",
                        o->epochs, o->batch, o->lr);
    return NIC_OK;
}

nic_status nic_mnist_experiment_run(nic_context *ctx, const nic_mnist_experiment_options *opt,
                                    nic_mnist_experiment_summary *summary)
{
    const double t0 = now_seconds();
    nic_mnist_experiment_options o = *opt;
    if (o.epochs == 0)
        o.epochs = o.quick ? 2 : 10;
    if (o.quick) {
        if (o.train_limit == 0)
            o.train_limit = 1024;
        if (o.test_limit == 0)
            o.test_limit = 256;
    }
    NIC_TRY(check_options(ctx, &o));
    NIC_TRY(make_dir(ctx, o.out_dir));
    nic_mnist train, test;
    memset(&train, 0, sizeof(train));
    memset(&test, 0, sizeof(test));
    NIC_TRY(load_set(ctx, o.data_dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     o.train_limit, &train));
    nic_status st = load_set(ctx, o.data_dir, "t10k-images-idx3-ubyte",
                             "t10k-labels-idx1-ubyte", o.test_limit, &test);
    nic_mnist_env env = {&o, &train, &test, o.out_dir, o.target_ssim};
    nic_mnist_baselines base;
    memset(&base, 0, sizeof(base));
    if (st == NIC_OK) {
        nic_mnist_progress(&env, "mnist: %u training and %u test images from %s", train.count,
                           test.count, o.data_dir);
        st = png_sizes(ctx, &test, &base);
    }
    nic_mnist_arm_result results[ARM_COUNT];
    memset(results, 0, sizeof(results));
    for (int a = 0; a < ARM_COUNT && st == NIC_OK; a++) {
        if (arms[a].pending) {
            nic_mnist_progress(&env, "%s: %s", arms[a].name, arms[a].pending);
            continue;
        }
        st = arms[a].run(ctx, &env, &results[a]);
    }
    if (st == NIC_OK) {
        nic_mnist_report rep = {&o, &train, &test, &base, arms, results, ARM_COUNT, 0};
        rep.seconds = now_seconds() - t0;
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
