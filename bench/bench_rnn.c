/*
 * Speed of the rnn model: one training step (forward + BPTT backward over
 * all iterations) for a batch of crops, and one decoder iteration of a
 * 768x512 picture with the deterministic reference kernels (what nic decode
 * runs). Prints the FLOPs of each and the rate reached. Not a test.
 *
 *   bench_rnn [--batch 32] [--crop 32] [--iterations 16] [--steps 3]
 *             [--widths E0,E1,E2,E3,BITS,D0,D1,D2,D3,D4] [--lstm] [--no-decode]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/rnn.h"
#include "nn/conv.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int batch = 32, crop = 32, iters = 16, steps = 3, decode = 1;
    nic_rnn_config cfg;
    nic_rnn_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--batch"))
            batch = atoi(v), i++;
        else if (!strcmp(argv[i], "--crop"))
            crop = atoi(v), i++;
        else if (!strcmp(argv[i], "--iterations"))
            iters = atoi(v), i++;
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(v), i++;
        else if (!strcmp(argv[i], "--lstm"))
            cfg.cell = NN_CONVLSTM;
        else if (!strcmp(argv[i], "--no-decode"))
            decode = 0;
        else if (!strcmp(argv[i], "--widths")) {
            if (sscanf(v, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", &cfg.e_conv, &cfg.enc[0], &cfg.enc[1],
                       &cfg.enc[2], &cfg.bits, &cfg.d_conv, &cfg.dec[0], &cfg.dec[1],
                       &cfg.dec[2], &cfg.dec[3]) != 10) {
                fprintf(stderr, "--widths needs 10 integers\n");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    cfg.iterations = iters;
    nic_context *ctx = nic_context_create();
    nn_engine *eng = NULL;
    nic_rnn_model m;
    nic_rnn_net *net = NULL;
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    if (nn_engine_create(ctx, &eng) != NIC_OK || nic_rnn_model_create(ctx, &cfg, &m) != NIC_OK) {
        fprintf(stderr, "%s\n", nic_context_error(ctx));
        return 1;
    }
    nic_rnn_model_init(&m, &rng);
    double fpp_all = nic_rnn_flops_per_pixel(&cfg, 1), fpp_dec = nic_rnn_flops_per_pixel(&cfg, 0);
    printf("rnn %s: E-Conv %d, E-RNN %d/%d/%d, %d bits, D-Conv %d, D-RNN %d/%d/%d/%d; "
           "%zu parameters (%.2f MB)\n",
           cfg.cell == NN_CONVGRU ? "GRU" : "LSTM", cfg.e_conv, cfg.enc[0], cfg.enc[1],
           cfg.enc[2], cfg.bits, cfg.d_conv, cfg.dec[0], cfg.dec[1], cfg.dec[2], cfg.dec[3],
           m.params.total, m.params.total * 4e-6);
    printf("forward FLOPs per pixel and iteration: %.0f (encoder + decoder), %.0f (decoder)\n",
           fpp_all, fpp_dec);
    if (nic_rnn_net_create(ctx, eng, &m, batch, crop, crop, iters, 1, 0, &net) != NIC_OK) {
        fprintf(stderr, "%s\n", nic_context_error(ctx));
        return 1;
    }
    float *x = malloc(sizeof(float) * batch * 3 * crop * crop);
    for (int i = 0; i < batch * 3 * crop * crop; i++)
        x[i] = nn_rng_uniform(&rng);
    /* forward + backward is about 3x the forward */
    double step_flops = 3.0 * fpp_all * batch * crop * crop * iters;
    double best = 1e30;
    for (int s = 0; s < steps + 1; s++) {
        nic_rnn_stats st;
        nn_params_zero_grad(&m.params);
        double t0 = now();
        if (nic_rnn_train_step(ctx, net, x, &rng, 1, &st) != NIC_OK) {
            fprintf(stderr, "%s\n", nic_context_error(ctx));
            return 1;
        }
        double dt = now() - t0;
        if (s > 0 && dt < best)
            best = dt; /* the first step warms up oneDNN */
    }
    printf("training step, batch %d x %dx%d, %d iterations: %.3f s (best of %d), %.1f GFLOP, "
           "%.1f GFLOP/s\n",
           batch, crop, crop, iters, best, steps, step_flops * 1e-9, step_flops / best * 1e-9);
    nic_rnn_net_destroy(net);
    if (decode) {
        const int W = 768, H = 512;
        if (nic_rnn_net_create(ctx, NULL, &m, 1, H, W, 1, 0,
                               NN_CONV_REFERENCE | NIC_RNN_NET_DECODER_ONLY, &net) != NIC_OK) {
            fprintf(stderr, "%s\n", nic_context_error(ctx));
            return 1;
        }
        size_t nb = (size_t)cfg.bits * (H / 16) * (W / 16);
        float *bits = malloc(sizeof(float) * nb), *out = malloc(sizeof(float) * 3 * H * W);
        for (size_t i = 0; i < nb; i++)
            bits[i] = nn_rng_uniform(&rng) < 0.5f ? -1.0f : 1.0f;
        nic_rnn_net_reset(net);
        best = 1e30;
        for (int s = 0; s < 3; s++) {
            double t0 = now();
            if (nic_rnn_net_decode(ctx, net, bits, out) != NIC_OK) {
                fprintf(stderr, "%s\n", nic_context_error(ctx));
                return 1;
            }
            double dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        double f = fpp_dec * W * H;
        printf("decode one iteration of %dx%d (reference kernels): %.3f s, %.2f GFLOP, "
               "%.1f GFLOP/s\n",
               W, H, best, f * 1e-9, f / best * 1e-9);
        free(bits);
        free(out);
        nic_rnn_net_destroy(net);
    }
    free(x);
    nic_rnn_model_free(&m);
    nn_engine_destroy(eng);
    nic_context_destroy(ctx);
    return 0;
}
