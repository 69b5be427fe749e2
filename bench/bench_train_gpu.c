/*
 * Training speed of the default hyper model: whole optimizer steps (forward,
 * backward, gradient clipping, Adam) per second on the CPU path (oneDNN) and,
 * in builds with the CUDA backend and a GPU, on the GPU; and how many steps
 * fit in 20 minutes. bench/bench_train_gpu_torch.py times the same model and step
 * in PyTorch on the same GPU.
 *
 *   bench_train_gpu [--batch 8] [--crop 256] [--channels 96,128,64]
 *               [--steps N (GPU, default 50)] [--cpu-steps N (default 3, 0: skip)]
 *               [--no-tf32]
 *
 * The input is a fixed batch of smooth random images (no loader): the
 * numbers are the trainer's, not the data pipeline's. Each path runs two
 * warm-up steps first (cuDNN finds its algorithms when the plans are made).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/hyper.h"
#include "nn/optim.h"
#ifdef NIC_HAVE_CUDA
#include "cuda/hyper_cuda.h"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_opts {
    int batch, crop, steps, cpu_steps, tf32;
    nic_hyper_config cfg;
} bench_opts;

static void report(const char *path, const bench_opts *o, int steps, double seconds,
                   const nic_hyper_stats *s)
{
    double sps = steps / seconds;
    printf("%-34s %9.3f steps/s  %8.1f ms/step  %9.0f steps in 20 min  (loss %.4f)\n", path,
           sps, 1000.0 / sps, sps * 1200.0, s->loss);
    fflush(stdout);
}

static void make_batch(float *x, float *t_rate, int batch, int crop, nn_rng *rng)
{
    size_t plane = (size_t)crop * crop;
    for (int b = 0; b < batch; b++) {
        float fx = 0.05f + 0.2f * nn_rng_uniform(rng), fy = 0.05f + 0.2f * nn_rng_uniform(rng);
        for (int c = 0; c < 3; c++)
            for (size_t i = 0; i < plane; i++) {
                int px = (int)(i % crop), py = (int)(i / crop);
                x[((size_t)b * 3 + c) * plane + i] =
                    0.5f + 0.3f * sinf(px * fx + c) * cosf(py * fy) +
                    0.05f * (nn_rng_uniform(rng) - 0.5f);
            }
        t_rate[b] = nn_rng_uniform(rng);
    }
}

static int bench_cpu(nic_context *ctx, const bench_opts *o, const float *x, const float *t_rate)
{
    nic_hyper_model m;
    nn_engine *eng = NULL;
    nic_hyper_trainer *tr = NULL;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    if (nic_hyper_model_create(ctx, &o->cfg, &m) != NIC_OK)
        return 1;
    nic_hyper_model_init(&m, &rng);
    if (nn_engine_create(ctx, &eng) != NIC_OK ||
        nic_hyper_trainer_create(ctx, eng, &m, o->batch, o->crop, 0, &tr) != NIC_OK) {
        nic_hyper_model_free(&m);
        nn_engine_destroy(eng);
        return 1;
    }
    nn_adam opt;
    nn_adam_init(&opt);
    nic_hyper_stats s = {0};
    double t0 = 0;
    int rc = 0;
    for (int i = 0; i < o->cpu_steps + 2 && rc == 0; i++) {
        if (i == 2)
            t0 = now();
        nn_params_zero_grad(&m.params);
        if (nic_hyper_train_step(ctx, tr, x, t_rate, &rng, 1, &s) != NIC_OK)
            rc = 1;
        nn_grad_clip(&m.params, -1, 1.0);
        nn_adam_step(&opt, &m.params, 1e-4f);
    }
    if (rc == 0) {
        char name[64];
        snprintf(name, sizeof(name), "CPU (%s)", nn_engine_has_dnnl(eng) ? "oneDNN" : "reference");
        report(name, o, o->cpu_steps, now() - t0, &s);
    }
    nic_hyper_trainer_destroy(tr);
    nic_hyper_model_free(&m);
    nn_engine_destroy(eng);
    return rc;
}

#ifdef NIC_HAVE_CUDA
static int bench_gpu(nic_context *ctx, const bench_opts *o, const float *x, const float *t_rate)
{
    if (nn_cuda_device_count() == 0) {
        printf("%-34s skipped: %s\n", "GPU (cuDNN)", nn_cuda_unavailable_reason());
        return 0;
    }
    nn_cuda *dev = NULL;
    nic_hyper_model m;
    nic_hyper_cuda *tr = NULL;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    if (nic_hyper_model_create(ctx, &o->cfg, &m) != NIC_OK)
        return 1;
    nic_hyper_model_init(&m, &rng);
    int rc = 0;
    double t_plan = now();
    if (nn_cuda_create(ctx, 0, &dev) != NIC_OK)
        rc = 1;
    if (rc == 0) {
        nn_cuda_set_tf32(dev, o->tf32);
        if (nic_hyper_cuda_create(ctx, dev, &m, o->batch, o->crop, &tr) != NIC_OK)
            rc = 1;
    }
    if (rc == 0)
        printf("GPU: %s; planning (cuDNN algorithm search) %.1f s\n", nn_cuda_name(dev),
               now() - t_plan);
    nn_adam opt;
    nn_adam_init(&opt);
    nic_hyper_stats s = {0};
    double t0 = 0, norm;
    nn_cuda_params *p = rc == 0 ? nic_hyper_cuda_params(tr) : NULL;
    for (int i = 0; i < o->steps + 2 && rc == 0; i++) {
        if (i == 2)
            t0 = now();
        if (nn_cuda_zero_grad(ctx, dev, p) != NIC_OK ||
            nic_hyper_cuda_train_step(ctx, tr, x, t_rate, &rng, 1, &s) != NIC_OK ||
            nn_cuda_grad_clip(ctx, dev, p, 1.0, &norm) != NIC_OK ||
            nn_cuda_adam_step(ctx, dev, &opt, p, 1e-4f) != NIC_OK)
            rc = 1;
    }
    if (rc == 0 && nn_cuda_sync(ctx, dev) != NIC_OK)
        rc = 1;
    if (rc == 0)
        report(o->tf32 ? "GPU (cuDNN, TF32)" : "GPU (cuDNN, FP32)", o, o->steps, now() - t0, &s);
    nic_hyper_cuda_destroy(tr);
    nn_cuda_destroy(dev);
    nic_hyper_model_free(&m);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    bench_opts o = {.batch = 8, .crop = 256, .steps = 50, .cpu_steps = 3, .tf32 = 1};
    nic_hyper_config_default(&o.cfg);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--batch") == 0)
            o.batch = atoi(v), i++;
        else if (strcmp(argv[i], "--crop") == 0)
            o.crop = atoi(v), i++;
        else if (strcmp(argv[i], "--steps") == 0)
            o.steps = atoi(v), i++;
        else if (strcmp(argv[i], "--cpu-steps") == 0)
            o.cpu_steps = atoi(v), i++;
        else if (strcmp(argv[i], "--channels") == 0)
            sscanf(v, "%d,%d,%d", &o.cfg.n, &o.cfg.m, &o.cfg.nz), i++;
        else if (strcmp(argv[i], "--no-tf32") == 0)
            o.tf32 = 0;
        else {
            fprintf(stderr, "usage: bench_train_gpu [--batch N] [--crop N] [--channels N,M,NZ] "
                            "[--steps N] [--cpu-steps N] [--no-tf32]\n");
            return 2;
        }
    }
    if (o.batch < 1 || o.crop < 64 || o.crop % 64 || o.steps < 1 || o.cpu_steps < 0) {
        fprintf(stderr, "bench_train_gpu: bad sizes\n");
        return 2;
    }
    printf("hyper model N=%d M=%d NZ=%d, batch %d x %dx%d; a step = forward + backward + "
           "clipping + Adam\n",
           o.cfg.n, o.cfg.m, o.cfg.nz, o.batch, o.crop, o.crop);
    nic_context *ctx = nic_context_create();
    float *x = malloc(sizeof(float) * o.batch * 3 * o.crop * o.crop);
    float *t_rate = malloc(sizeof(float) * o.batch);
    nn_rng rng;
    nn_rng_seed(&rng, 42);
    make_batch(x, t_rate, o.batch, o.crop, &rng);
    int rc = 0;
#ifdef NIC_HAVE_CUDA
    rc |= bench_gpu(ctx, &o, x, t_rate);
#else
    printf("%-34s not built (make cuda)\n", "GPU (cuDNN)");
#endif
    if (o.cpu_steps > 0 && rc == 0)
        rc |= bench_cpu(ctx, &o, x, t_rate);
    if (rc)
        fprintf(stderr, "bench_train_gpu: %s\n", nic_context_error(ctx));
    free(x);
    free(t_rate);
    nic_context_destroy(ctx);
    return rc;
}
