/*
 * Convolution speed: GFLOP/s of forward, backward-data and backward-weights
 * for the shapes of the hyperprior codec, reference C kernels vs oneDNN,
 * as a fraction of the machine's FP32 peak measured in the same run.
 *
 *   bench_nn_conv [--no-ref] [--plain] [--reps N]
 *
 * The reference kernels run at batch 1 (they are slow; GFLOP/s does not
 * depend much on the batch). bench/bench_nn_conv_torch.py times PyTorch on
 * the same shapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/conv.h"
#include "nn/rng.h"
#include "nn/tensor.h"

#include "bench_peak.h"

typedef struct shape {
    const char *name;
    int transposed;
    int n, c_in, h, w, c_out, k, stride, pad, output_padding;
} shape;

static const shape shapes[] = {
    {"conv 3->128 5x5 s2 256^2", 0, 8, 3, 256, 256, 128, 5, 2, 2, 0},
    {"conv 128->128 5x5 s2 128^2", 0, 8, 128, 128, 128, 128, 5, 2, 2, 0},
    {"conv 128->128 5x5 s2 64^2", 0, 8, 128, 64, 64, 128, 5, 2, 2, 0},
    {"convT 128->128 5x5 s2 32^2->64^2", 1, 8, 128, 32, 32, 128, 5, 2, 2, 1},
    {"convT 128->3 5x5 s2 128^2->256^2", 1, 8, 128, 128, 128, 3, 5, 2, 2, 1},
};

/* Times one pass: at least `reps` runs and 0.3 s; returns seconds per run. */
static double time_pass(nic_context *ctx, nn_conv *c, int which, int transposed, float *x,
                        float *w, float *b, float *y, float *dw, float *db, int reps)
{
    double t0 = 0;
    int runs = 0;
    for (int i = -1; i < reps || now() - t0 < 0.3; i++) {
        if (i == 0)
            t0 = now();
        nic_status st;
        if (!transposed) {
            if (which == 0)
                st = nn_conv_forward(ctx, c, x, w, b, y);
            else if (which == 1)
                st = nn_conv_backward_data(ctx, c, y, w, x);
            else
                st = nn_conv_backward_weights(ctx, c, x, y, dw, db);
        } else {
            if (which == 0)
                st = nn_conv_transpose_forward(ctx, c, x, w, b, y);
            else if (which == 1)
                st = nn_conv_transpose_backward_data(ctx, c, y, w, x);
            else
                st = nn_conv_transpose_backward_weights(ctx, c, x, y, dw, db);
        }
        if (st != NIC_OK) {
            fprintf(stderr, "error: %s\n", nic_context_error(ctx));
            exit(1);
        }
        if (i >= 0)
            runs++;
        if (runs >= 1000)
            break;
    }
    return (now() - t0) / runs;
}

int main(int argc, char **argv)
{
    int with_ref = 1, reps = 3;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--no-ref") == 0)
            with_ref = 0;
        else if (strcmp(argv[i], "--plain") == 0)
            flags |= NN_CONV_PLAIN_LAYOUT;
        else if (strcmp(argv[i], "--bf16") == 0)
            flags |= NN_CONV_BF16;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--no-ref] [--plain] [--bf16] [--reps N]\n", argv[0]);
            return 2;
        }
    }
    nic_context *ctx = nic_context_create();
    nn_engine *eng = NULL;
    if (!ctx || nn_engine_create(ctx, &eng) != NIC_OK)
        return 1;
    double peak = measure_peak();
    printf("threads %d, FP32 FMA peak measured now: %.1f GFLOP/s, oneDNN %s%s\n",
           omp_get_max_threads(), peak, nn_engine_has_dnnl(eng) ? "yes" : "no",
           (flags & NN_CONV_PLAIN_LAYOUT) ? " (plain NCHW, no reorders)"
                                           : (flags & NN_CONV_BF16) ? " (BF16 inputs, FP32 out)" : "");
    printf("%-34s %-9s %8s %8s %8s   %s\n", "shape (batch 8)", "impl", "fwd", "bwd-data",
           "bwd-wgt", "GFLOP/s; % of peak for oneDNN; kernel");
    nn_rng rng;
    nn_rng_seed(&rng, 1);
    for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
        const shape *s = &shapes[si];
        for (int impl = with_ref ? 0 : 1; impl < 2; impl++) {
            nn_conv_desc d;
            int n = impl == 0 ? 1 : s->n;
            nic_status st = s->transposed
                                ? nn_conv_desc_init_transposed(ctx, &d, n, s->c_in, s->h, s->w,
                                                               s->c_out, s->k, s->stride, s->pad,
                                                               s->output_padding, 1)
                                : nn_conv_desc_init(ctx, &d, n, s->c_in, s->h, s->w, s->c_out,
                                                    s->k, s->stride, s->pad, 1);
            nn_conv *c = NULL;
            if (st == NIC_OK)
                st = nn_conv_create(ctx, eng, &d, impl == 0 ? NN_CONV_REFERENCE : flags, &c);
            if (st != NIC_OK) {
                fprintf(stderr, "%s: %s\n", s->name, nic_context_error(ctx));
                return 1;
            }
            /* conv input / output buffers (for a transposed shape, the adjoint conv's) */
            size_t nx = nn_conv_x_count(&d), ny = nn_conv_y_count(&d), nw = nn_conv_w_count(&d);
            size_t nin = s->transposed ? ny : nx, nout = s->transposed ? nx : ny;
            float *x = nn_alloc(nin * sizeof(float)), *y = nn_alloc(nout * sizeof(float));
            float *w = nn_alloc(nw * sizeof(float)), *dw = nn_alloc(nw * sizeof(float));
            float *b = nn_alloc((size_t)(d.c_in > d.c_out ? d.c_in : d.c_out) * sizeof(float));
            float *db = nn_alloc((size_t)(d.c_in > d.c_out ? d.c_in : d.c_out) * sizeof(float));
            if (!x || !y || !w || !dw || !b || !db) {
                fprintf(stderr, "out of memory\n");
                return 1;
            }
            for (size_t i = 0; i < nin; i++)
                x[i] = nn_rng_uniform(&rng) - 0.5f;
            for (size_t i = 0; i < nout; i++)
                y[i] = nn_rng_uniform(&rng) - 0.5f;
            for (size_t i = 0; i < nw; i++)
                w[i] = 0.05f * (nn_rng_uniform(&rng) - 0.5f);
            double flops = nn_conv_flops(&d), gf[3];
            for (int which = 0; which < 3; which++)
                gf[which] = flops / time_pass(ctx, c, which, s->transposed, x, w, b, y, dw, db,
                                              impl == 0 ? 1 : reps) * 1e-9;
            if (impl == 0)
                printf("%-34s %-9s %8.1f %8.1f %8.1f   (batch 1)\n", s->name, "reference", gf[0],
                       gf[1], gf[2]);
            else {
                /* kernel names: a transposed conv's forward is the conv's backward-data */
                int kf = s->transposed ? 1 : 0, kb = s->transposed ? 0 : 1;
                printf("%-34s %-9s %8.1f %8.1f %8.1f   %.0f%% %.0f%% %.0f%%; %s / %s / %s\n",
                       s->name, "oneDNN", gf[0], gf[1], gf[2], 100 * gf[0] / peak,
                       100 * gf[1] / peak, 100 * gf[2] / peak, nn_conv_impl(c, kf),
                       nn_conv_impl(c, kb), nn_conv_impl(c, 2));
            }
            fflush(stdout);
            nn_free(x), nn_free(y), nn_free(w), nn_free(dw), nn_free(b), nn_free(db);
            nn_conv_destroy(c);
        }
    }
    nn_engine_destroy(eng);
    nic_context_destroy(ctx);
    return 0;
}
