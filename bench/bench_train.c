/*
 * Whole training steps of the default codec's architecture (src/models/hyper.c:
 * analysis, hyper-analysis, mean and scale hyper-synthesis, synthesis, GDN,
 * likelihoods, rate + lambda * MSE, backward, gradient clipping, Adam), timed
 * on this machine's threads and compared with
 *   - the FP32 FMA peak measured in the same run (bench_peak.h), and
 *   - the same model in PyTorch (bench/bench_train_torch.py, same shapes, same
 *     threads), written with ConvTranspose2d as codec papers do and with the
 *     fastest equivalent PyTorch runs (3x3 convolution + pixel shuffle).
 *
 *   bench_train [--steps N] [--batch B] [--crop S] [--config N,M,NZ]... [--no-torch] [--bf16]
 *
 * --bf16 adds a row of nic with NN_CONV_BF16 (convolutions read BF16, write
 * FP32; FP32 master weights), compared with the BF16 peak measured likewise.
 *
 * Default: batch 8 of 256x256 crops, configurations 64,96,64 and 128,192,128
 * (Balle 2018's N=128, M=192). GFLOP/s counts the model's nominal FLOPs: every
 * convolution (a transposed one counted by its 25 taps per input pixel) and
 * GDN's 1x1 convolution, forward once and backward twice (data and weights;
 * the input image needs no gradient). PyTorch runs the same count, so the
 * ratios are ratios of time. NIC_PYTHON names the Python with torch
 * (default /usr/bin/python3, where Debian's python3-torch is). Peak memory is the process's maximum RSS after
 * each configuration (configurations run smallest first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "models/hyper.h"
#include "nn/conv.h"
#include "nn/optim.h"
#include "nn/rng.h"
#include "nn/tensor.h"

#include "bench_peak.h"

#ifndef NIC_BENCH_DIR
#define NIC_BENCH_DIR "bench"
#endif

/* 2 * multiply-adds of a k x k convolution with `pixels` output pixels (for a
 * transposed one, input pixels). */
static double conv_flops(int c_in, int c_out, int k, double pixels)
{
    return 2.0 * c_in * c_out * k * k * pixels;
}

/* Forward FLOPs of one crop of side s; *first gets the first layer's share. */
static double hyper_forward_flops(const nic_hyper_config *c, int s, double *first)
{
    double p2 = (double)(s / 2) * (s / 2), p4 = p2 / 4, p8 = p4 / 4, p16 = p8 / 4,
           p32 = p16 / 4, p64 = p32 / 4;
    int n = c->n, m = c->m, nz = c->nz;
    *first = conv_flops(3, n, 5, p2);
    double ga = *first + conv_flops(n, n, 5, p4) + conv_flops(n, n, 5, p8) +
                conv_flops(n, m, 5, p16);
    double gdn = conv_flops(n, n, 1, p2 + p4 + p8);
    double ha = conv_flops(m, n, 3, p16) + conv_flops(n, n, 5, p32) + conv_flops(n, nz, 5, p64);
    double hs = conv_flops(nz, n, 5, p64) + conv_flops(n, n, 5, p32) + conv_flops(n, m, 3, p16);
    double gs = conv_flops(m, n, 5, p16) + conv_flops(n, n, 5, p8) + conv_flops(n, n, 5, p4) +
                conv_flops(n, 3, 5, p2);
    return ga + gdn + ha + 2 * hs + gs + gdn;
}

static long peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

typedef struct result {
    double step_ms, fwd_ms, gflops_step, gflops_fwd;
    long rss_mb;
} result;

static int fail(nic_context *ctx, const char *what)
{
    fprintf(stderr, "bench_train: %s: %s\n", what, nic_context_error(ctx));
    return 1;
}

/* Times `steps` training steps (after one warm-up) and `steps` forward passes. */
static int run_nic(nic_context *ctx, nn_engine *eng, const nic_hyper_config *cfg, int batch,
                   int crop, int steps, unsigned flags, result *r)
{
    nic_hyper_model model;
    memset(&model, 0, sizeof(model));
    nic_hyper_trainer *tr = NULL;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    if (nic_hyper_model_create(ctx, cfg, &model) != NIC_OK)
        return fail(ctx, "model");
    nic_hyper_model_init(&model, &rng);
    if (nic_hyper_trainer_create(ctx, eng, &model, batch, crop, flags, &tr) != NIC_OK)
        return fail(ctx, "trainer");
    size_t nx = (size_t)batch * 3 * crop * crop;
    float *x = nn_alloc(nx * sizeof(float)), *t_rate = nn_alloc((size_t)batch * sizeof(float));
    if (!x || !t_rate) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }
    /* smooth-ish content: a gradient plus noise, in [0, 1] */
    for (size_t i = 0; i < nx; i++)
        x[i] = 0.5f * (float)((i % (size_t)crop) / (double)crop) + 0.5f * nn_rng_uniform(&rng);
    for (int b = 0; b < batch; b++)
        t_rate[b] = (float)b / (float)(batch > 1 ? batch - 1 : 1);
    nn_adam opt;
    nn_adam_init(&opt);
    nic_hyper_stats stats;
    double t0 = 0;
    for (int i = -1; i < steps; i++) {
        if (i == 0)
            t0 = now();
        nn_params_zero_grad(&model.params);
        if (nic_hyper_train_step(ctx, tr, x, t_rate, &rng, 1, &stats) != NIC_OK)
            return fail(ctx, "training step");
        nn_grad_clip(&model.params, -1, 1.0);
        nn_adam_step(&opt, &model.params, 1e-4f);
    }
    r->step_ms = (now() - t0) / steps * 1e3;
    for (int i = -1; i < steps; i++) {
        if (i == 0)
            t0 = now();
        if (nic_hyper_train_step(ctx, tr, x, t_rate, NULL, 0, NULL) != NIC_OK)
            return fail(ctx, "forward");
    }
    r->fwd_ms = (now() - t0) / steps * 1e3;
    double first, fwd = hyper_forward_flops(cfg, crop, &first) * batch;
    double step = 3 * fwd - first * batch;
    r->gflops_step = step / r->step_ms * 1e-6;
    r->gflops_fwd = fwd / r->fwd_ms * 1e-6;
    r->rss_mb = peak_rss_mb();
    nn_free(x);
    nn_free(t_rate);
    nic_hyper_trainer_destroy(tr);
    nic_hyper_model_free(&model);
    return 0;
}

/* Runs the PyTorch twin; 0 when its line was parsed. */
static int run_torch(const nic_hyper_config *cfg, int batch, int crop, int steps,
                     const char *form, result *r)
{
    /* Debian's python3-torch lives with /usr/bin/python3 (not a venv's python3) */
    const char *py = getenv("NIC_PYTHON") ? getenv("NIC_PYTHON") : "/usr/bin/python3";
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "%s %s/bench_train_torch.py --config %d,%d,%d --batch %d --crop %d "
             "--steps %d --form %s --threads %d 2>&1",
             py, NIC_BENCH_DIR, cfg->n, cfg->m, cfg->nz, batch, crop, steps, form,
             omp_get_max_threads());
    FILE *p = popen(cmd, "r");
    if (!p)
        return 1;
    char line[512];
    int ok = 1;
    while (fgets(line, sizeof(line), p)) {
        if (sscanf(line, "RESULT step_ms %lf fwd_ms %lf rss_mb %ld", &r->step_ms, &r->fwd_ms,
                   &r->rss_mb) == 3)
            ok = 0;
        else if (strncmp(line, "RESULT", 6) != 0)
            fprintf(stderr, "  torch: %s", line);
    }
    pclose(p);
    return ok;
}

int main(int argc, char **argv)
{
    int steps = 3, batch = 8, crop = 256, with_torch = 1, nconf = 0, bf16 = 0;
    nic_hyper_config confs[8];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--crop") == 0 && i + 1 < argc)
            crop = atoi(argv[++i]);
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && nconf < 8) {
            nic_hyper_config *c = &confs[nconf++];
            if (sscanf(argv[++i], "%d,%d,%d", &c->n, &c->m, &c->nz) != 3) {
                fprintf(stderr, "bench_train: --config wants N,M,NZ\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--no-torch") == 0)
            with_torch = 0;
        else if (strcmp(argv[i], "--bf16") == 0)
            bf16 = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--steps N] [--batch B] [--crop S] [--config N,M,NZ]... "
                    "[--no-torch] [--bf16]\n",
                    argv[0]);
            return 2;
        }
    }
    if (steps < 1 || batch < 1 || crop < 64 || crop % 64) {
        fprintf(stderr, "bench_train: steps >= 1, batch >= 1, crop a multiple of 64\n");
        return 2;
    }
    if (nconf == 0) {
        confs[nconf++] = (nic_hyper_config){64, 96, 64, 0, 0};
        confs[nconf++] = (nic_hyper_config){128, 192, 128, 0, 0};
    }
    nic_context *ctx = nic_context_create();
    nn_engine *eng = NULL;
    if (!ctx || nn_engine_create(ctx, &eng) != NIC_OK)
        return 1;
    double peak = measure_peak(), peak_bf16 = bf16 ? measure_peak_bf16() : 0.0;
    printf("threads %d, FP32 FMA peak measured now: %.1f GFLOP/s, convolutions: %s\n",
           omp_get_max_threads(), peak, nn_engine_has_dnnl(eng) ? "oneDNN" : "reference");
    if (bf16)
        printf("BF16 dot-product peak measured now: %.1f GFLOP/s%s\n", peak_bf16,
               peak_bf16 > 0 ? "" : " (no AVX-512 BF16: the bf16 row runs FP32)");
    printf("batch %d of %dx%d crops, %d timed steps after one warm-up\n\n", batch, crop, crop,
           steps);
    printf("%-14s %-22s %10s %9s %7s %10s %9s %8s\n", "config", "implementation", "step ms",
           "GFLOP/s", "% peak", "fwd ms", "GFLOP/s", "RSS MB");
    for (int ci = 0; ci < nconf; ci++) {
        const nic_hyper_config *c = &confs[ci];
        char name[32];
        snprintf(name, sizeof(name), "%d,%d,%d", c->n, c->m, c->nz);
        result ours;
        if (run_nic(ctx, eng, c, batch, crop, steps, 0, &ours))
            return 1;
        printf("%-14s %-22s %10.0f %9.1f %6.0f%% %10.0f %9.1f %8ld\n", name, "nic", ours.step_ms,
               ours.gflops_step, 100 * ours.gflops_step / peak, ours.fwd_ms, ours.gflops_fwd,
               ours.rss_mb);
        fflush(stdout);
        if (bf16) {
            result mixed;
            if (run_nic(ctx, eng, c, batch, crop, steps, NN_CONV_BF16, &mixed))
                return 1;
            double pk = peak_bf16 > 0 ? peak_bf16 : peak;
            printf("%-14s %-22s %10.0f %9.1f %6.0f%% %10.0f %9.1f %8ld   %.2fx FP32 (step), "
                   "%% of the BF16 peak\n",
                   name, "nic bf16", mixed.step_ms, mixed.gflops_step,
                   100 * mixed.gflops_step / pk, mixed.fwd_ms, mixed.gflops_fwd, mixed.rss_mb,
                   ours.step_ms / mixed.step_ms);
            fflush(stdout);
        }
        if (!with_torch)
            continue;
        static const char *forms[2] = {"convtranspose", "pixelshuffle"};
        for (int f = 0; f < 2; f++) {
            result th;
            /* the ConvTranspose2d form is slow (tens of seconds a step): one timed step */
            if (run_torch(c, batch, crop, f == 0 ? 1 : steps, forms[f], &th)) {
                printf("%-14s torch %-16s (did not run: python3 with torch needed)\n", name,
                       forms[f]);
                continue;
            }
            double fl = ours.gflops_step * ours.step_ms, fw = ours.gflops_fwd * ours.fwd_ms;
            printf("%-14s torch %-16s %10.0f %9.1f %6.0f%% %10.0f %9.1f %8ld   nic is %.1fx "
                   "(step), %.1fx (fwd)\n",
                   name, forms[f], th.step_ms, fl / th.step_ms, 100 * fl / th.step_ms / peak,
                   th.fwd_ms, fw / th.fwd_ms, th.rss_mb, th.step_ms / ours.step_ms,
                   th.fwd_ms / ours.fwd_ms);
            fflush(stdout);
        }
    }
    nn_engine_destroy(eng);
    nic_context_destroy(ctx);
    return 0;
}
