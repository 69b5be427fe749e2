/*
 * The CUDA backend against the CPU reference kernels, forward and backward,
 * then a whole hyper-model training step and a checkpoint round trip between
 * GPU and CPU. Exits 77 (CTest: skipped) with a message when there is no GPU.
 *
 * Tolerances (TF32 is switched off here, so the GPU computes in FP32 like the
 * CPU and only summation order differs):
 *   convolutions                 max |gpu - cpu| <= 1e-4 * max |cpu| (+1e-6)
 *   elementwise, quantization    1e-6 relative (same float operations)
 *   noise                        bit-exact (integer hash)
 *   Gaussian / factorized rates  bits 1e-9 relative (double on both), gradients 1e-5
 *   Adam, gradient clipping      1e-6 relative over 3 steps
 *   whole step (train = 2)       loss 1e-5 relative; each gradient tensor 1e-3 of its scale
 *   3 Adam steps CPU vs GPU      weights 1e-4 of each tensor's scale
 */
#include "test.h"

#include "cuda/cuda_backend.h"
#include "cuda/hyper_cuda.h"
#include "models/hyper.h"
#include "models/likelihood.h"
#include "nn/checkpoint.h"

static nic_context *ctx;
static nn_cuda *dev;

static float *dup_to_device(const float *h, size_t n)
{
    float *d = NULL;
    if (nn_cuda_alloc_floats(ctx, dev, n, &d) != NIC_OK ||
        nn_cuda_upload(ctx, dev, d, h, n * sizeof(float)) != NIC_OK) {
        fprintf(stderr, "device copy: %s\n", nic_context_error(ctx));
        exit(1);
    }
    return d;
}

static float *from_device(const float *d, size_t n)
{
    float *h = malloc(n * sizeof(float));
    if (!h || nn_cuda_download(ctx, dev, h, d, n * sizeof(float)) != NIC_OK) {
        fprintf(stderr, "device copy: %s\n", nic_context_error(ctx));
        exit(1);
    }
    return h;
}

static void fill(nn_rng *rng, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * nn_rng_uniform(rng);
}

/* max |a - b| relative to max |b| (plus abs_floor); prints and checks. */
static double compare(const char *what, const float *gpu, const float *cpu, size_t n, double tol,
                      double abs_floor)
{
    double scale = 0, diff = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(cpu[i]));
        double d = fabs((double)gpu[i] - cpu[i]);
        if (!(d <= diff))
            diff = d;
    }
    double err = diff / (scale + abs_floor);
    CHECK_MSG(err <= tol, "%s: GPU and CPU differ by %.3g of the scale %.3g (tolerance %g)", what,
              err, scale, tol);
    printf("  %-44s %.2e\n", what, err);
    return err;
}

/* ---------------------------------------------------------------- convolutions */

static void test_conv_case(const char *name, const nn_conv_desc *d, int transposed)
{
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    size_t nx = nn_conv_x_count(d), ny = nn_conv_y_count(d), nw = nn_conv_w_count(d);
    /* For transposed: its input is the conv's output (ny) and its output the conv's input. */
    size_t n_in = transposed ? ny : nx, n_out = transposed ? nx : ny;
    int c_bias = transposed ? d->c_in : d->c_out;
    float *x = malloc(n_in * 4), *w = malloc(nw * 4), *b = malloc(c_bias * 4);
    float *dy = malloc(n_out * 4), *y = malloc(n_out * 4), *dx = malloc(n_in * 4);
    float *dw = malloc(nw * 4), *db = malloc(c_bias * 4);
    fill(&rng, x, n_in, -1, 1);
    fill(&rng, w, nw, -0.3f, 0.3f);
    fill(&rng, b, c_bias, -1, 1);
    fill(&rng, dy, n_out, -1, 1);
    fill(&rng, dw, nw, -1, 1); /* nonzero: checks that weight gradients accumulate */
    fill(&rng, db, c_bias, -1, 1);
    float *d_x = dup_to_device(x, n_in), *d_w = dup_to_device(w, nw), *d_b = dup_to_device(b, c_bias);
    float *d_dy = dup_to_device(dy, n_out), *d_dw = dup_to_device(dw, nw);
    float *d_db = dup_to_device(db, c_bias), *d_y = NULL, *d_dx = NULL;
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, n_out, &d_y), NIC_OK);
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, n_in, &d_dx), NIC_OK);
    nn_cuda_conv *c = NULL;
    CHECK_STATUS(nn_cuda_conv_create(ctx, dev, d, &c), NIC_OK);
    if (!c) {
        fprintf(stderr, "%s: %s\n", name, nic_context_error(ctx));
        return;
    }
    char what[96];
    if (transposed) {
        nn_conv_transpose_ref_forward(d, x, w, b, y);
        nn_conv_transpose_ref_backward_data(d, dy, w, dx);
        nn_conv_transpose_ref_backward_weights(d, x, dy, dw, db);
        CHECK_STATUS(nn_cuda_conv_transpose_forward(ctx, c, d_x, d_w, d_b, d_y), NIC_OK);
        CHECK_STATUS(nn_cuda_conv_transpose_backward_data(ctx, c, d_dy, d_w, d_dx), NIC_OK);
        CHECK_STATUS(nn_cuda_conv_transpose_backward_weights(ctx, c, d_x, d_dy, d_dw, d_db),
                     NIC_OK);
    } else {
        nn_conv2d_ref_forward(d, x, w, b, y);
        nn_conv2d_ref_backward_data(d, dy, w, dx);
        nn_conv2d_ref_backward_weights(d, x, dy, dw, db);
        CHECK_STATUS(nn_cuda_conv_forward(ctx, c, d_x, d_w, d_b, d_y), NIC_OK);
        CHECK_STATUS(nn_cuda_conv_backward_data(ctx, c, d_dy, d_w, d_dx), NIC_OK);
        CHECK_STATUS(nn_cuda_conv_backward_weights(ctx, c, d_x, d_dy, d_dw, d_db), NIC_OK);
    }
    CHECK_STATUS(nn_cuda_sync(ctx, dev), NIC_OK);
    float *gy = from_device(d_y, n_out), *gdx = from_device(d_dx, n_in);
    float *gdw = from_device(d_dw, nw), *gdb = from_device(d_db, c_bias);
    snprintf(what, sizeof(what), "%s forward", name);
    compare(what, gy, y, n_out, 1e-4, 1e-6);
    snprintf(what, sizeof(what), "%s backward data", name);
    compare(what, gdx, dx, n_in, 1e-4, 1e-6);
    snprintf(what, sizeof(what), "%s backward weights (+=)", name);
    compare(what, gdw, dw, nw, 1e-4, 1e-6);
    snprintf(what, sizeof(what), "%s backward bias (+=)", name);
    compare(what, gdb, db, c_bias, 1e-4, 1e-6);
    int algo[3];
    nn_cuda_conv_algos(c, algo);
    printf("    cuDNN algorithms fwd %d, bwd-data %d, bwd-filter %d\n", algo[0], algo[1], algo[2]);
    nn_cuda_conv_destroy(c);
    float *dev_bufs[] = {d_x, d_w, d_b, d_dy, d_dw, d_db, d_y, d_dx};
    for (size_t i = 0; i < sizeof(dev_bufs) / sizeof(dev_bufs[0]); i++)
        nn_cuda_free(dev_bufs[i]);
    float *host_bufs[] = {x, w, b, dy, y, dx, dw, db, gy, gdx, gdw, gdb};
    for (size_t i = 0; i < sizeof(host_bufs) / sizeof(host_bufs[0]); i++)
        free(host_bufs[i]);
}

static void test_convolutions(void)
{
    nn_conv_desc d;
    if (nn_conv_desc_init(ctx, &d, 2, 3, 17, 19, 8, 5, 2, 2, 1) == NIC_OK)
        test_conv_case("conv 3->8 5x5 s2 (odd sizes)", &d, 0);
    if (nn_conv_desc_init(ctx, &d, 2, 16, 9, 8, 12, 3, 1, 1, 1) == NIC_OK)
        test_conv_case("conv 16->12 3x3 s1", &d, 0);
    if (nn_conv_desc_init(ctx, &d, 3, 8, 6, 5, 8, 1, 1, 0, 1) == NIC_OK)
        test_conv_case("conv 8->8 1x1 (GDN)", &d, 0);
    if (nn_conv_desc_init(ctx, &d, 2, 8, 10, 10, 8, 3, 1, 1, 2) == NIC_OK)
        test_conv_case("conv 8->8 3x3 groups 2", &d, 0);
    /* ConvTranspose2d(8 -> 4, k5, s2, p2, output_padding 1) on 2x8x5x6 */
    if (nn_conv_desc_init_transposed(ctx, &d, 2, 8, 5, 6, 4, 5, 2, 2, 1, 1) == NIC_OK)
        test_conv_case("conv-transpose 8->4 5x5 s2 op1", &d, 1);
    if (nn_conv_desc_init_transposed(ctx, &d, 2, 6, 4, 4, 3, 5, 2, 2, 1, 1) == NIC_OK)
        test_conv_case("conv-transpose 6->3 5x5 s2 op1", &d, 1);
}

/* ---------------------------------------------------------------- elementwise */

static void test_elementwise(void)
{
    enum { N = 5000 };
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    float x[N], dy[N], norm[N], y[N], dx[N], dn[N], ref[N], ref2[N];
    fill(&rng, x, N, -2, 2);
    fill(&rng, dy, N, -1, 1);
    fill(&rng, norm, N, 0.2f, 3);
    float *d_x = dup_to_device(x, N), *d_dy = dup_to_device(dy, N), *d_n = dup_to_device(norm, N);
    float *d_y = NULL, *d_dx = NULL, *d_dn = NULL;
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, N, &d_y), NIC_OK);
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, N, &d_dx), NIC_OK);
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, N, &d_dn), NIC_OK);

    nn_relu_forward(x, N, ref);
    nn_cuda_relu_forward(dev, d_x, N, d_y);
    float *g = from_device(d_y, N);
    compare("relu forward", g, ref, N, 1e-6, 0);
    free(g);
    nn_relu_backward(x, dy, N, ref);
    nn_cuda_relu_backward(dev, d_x, d_dy, N, d_dx);
    g = from_device(d_dx, N);
    compare("relu backward", g, ref, N, 1e-6, 0);
    free(g);

    /* GDN reparametrization around its bound (gamma minimum 0, beta 1e-6) */
    for (int k = 0; k < 2; k++) {
        double minimum = k ? NN_GDN_BETA_MIN : 0.0;
        float p[N];
        fill(&rng, p, N, -0.01f, 0.05f);
        float *d_p = dup_to_device(p, N);
        nn_gdn_reparam_forward(p, N, minimum, ref);
        nn_cuda_gdn_reparam_forward(dev, d_p, N, minimum, d_y);
        g = from_device(d_y, N);
        compare(k ? "GDN reparam forward (beta)" : "GDN reparam forward (gamma)", g, ref, N, 1e-6,
                0);
        free(g);
        memcpy(ref2, x, sizeof(ref2)); /* accumulates onto x */
        nn_gdn_reparam_backward(p, dy, N, minimum, ref2);
        CHECK_STATUS(nn_cuda_upload(ctx, dev, d_dx, x, sizeof(x)), NIC_OK);
        nn_cuda_gdn_reparam_backward(dev, d_p, d_dy, N, minimum, d_dx);
        g = from_device(d_dx, N);
        compare("GDN reparam backward (+=)", g, ref2, N, 1e-6, 0);
        free(g);
        nn_cuda_free(d_p);
    }

    /* GDN around its convolution, as models/blocks.c computes it */
    for (int inverse = 0; inverse <= 1; inverse++) {
        for (int i = 0; i < N; i++)
            ref[i] = inverse ? x[i] * sqrtf(norm[i]) : x[i] / sqrtf(norm[i]);
        nn_cuda_gdn_apply(dev, d_x, d_n, N, inverse, d_y);
        g = from_device(d_y, N);
        compare(inverse ? "inverse GDN apply" : "GDN apply", g, ref, N, 1e-6, 0);
        free(g);
        for (int i = 0; i < N; i++) {
            if (inverse) {
                float r = sqrtf(norm[i]);
                dn[i] = 0.5f * dy[i] * x[i] / r;
                dx[i] = dy[i] * r;
            } else {
                float r = 1.0f / sqrtf(norm[i]);
                dn[i] = -0.5f * dy[i] * x[i] * r * r * r;
                dx[i] = dy[i] * r;
            }
            ref2[i] = dx[i] + 2.0f * x[i] * norm[i]; /* then dx += 2 x dsq with dsq = norm */
        }
        nn_cuda_gdn_apply_backward(dev, d_x, d_n, d_dy, N, inverse, d_dn, d_dx);
        float *gn = from_device(d_dn, N), *gx = from_device(d_dx, N);
        compare("GDN apply backward: dnorm", gn, dn, N, 1e-6, 0);
        compare("GDN apply backward: dx", gx, dx, N, 1e-6, 0);
        free(gn);
        free(gx);
        nn_cuda_gdn_square_backward(dev, d_x, d_n, N, d_dx);
        g = from_device(d_dx, N);
        compare("GDN square backward (dx += 2 x dsq)", g, ref2, N, 1e-6, 0);
        free(g);
    }
    for (int i = 0; i < N; i++)
        ref[i] = x[i] * x[i];
    nn_cuda_square(dev, d_x, N, d_y);
    g = from_device(d_y, N);
    compare("square", g, ref, N, 1e-6, 0);
    free(g);

    /* noise: the CPU trainer's counter-based noise, bit for bit */
    enum { B = 3, PER = N / B };
    uint64_t seed = 0x1234567890abcdefull;
    nn_cuda_noise_forward(dev, d_x, B, PER, 5, 1, seed, d_y);
    g = from_device(d_y, B * PER);
    int exact = 1;
    for (int b = 0; b < B; b++)
        for (int e = 0; e < PER; e++) {
            float want = x[b * PER + e] + nn_noise_uniform(seed, nn_noise_index(5 + b, 1, e));
            if (memcmp(&want, &g[b * PER + e], sizeof(float)) != 0)
                exact = 0;
        }
    CHECK_MSG(exact, "GPU noise differs from nn_noise_uniform");
    printf("  %-44s %s\n", "noise (bit-exact)", exact ? "yes" : "NO");
    free(g);
    for (int i = 0; i < N; i++)
        ref[i] = nearbyintf(x[i] * 3.0f);
    for (int i = 0; i < N; i++)
        y[i] = x[i] * 3.0f;
    CHECK_STATUS(nn_cuda_upload(ctx, dev, d_y, y, sizeof(y)), NIC_OK);
    nn_cuda_round(dev, d_y, N, d_dx);
    g = from_device(d_dx, N);
    compare("round half to even", g, ref, N, 0, 0);
    free(g);
    float *bufs[] = {d_x, d_dy, d_n, d_y, d_dx, d_dn};
    for (int i = 0; i < 6; i++)
        nn_cuda_free(bufs[i]);
}

/* ---------------------------------------------------------------- likelihoods */

static void test_likelihoods(void)
{
    enum { N = 20000 };
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    float *v = malloc(N * 4), *s = malloc(N * 4), *dv = malloc(N * 4), *ds = malloc(N * 4);
    for (int i = 0; i < N; i++) {
        v[i] = (float)(nn_rng_normal(&rng) * (i % 7 == 0 ? 30 : 2));
        s[i] = i % 5 == 0 ? 0.05f : 0.02f + 8.0f * nn_rng_uniform(&rng); /* some below 0.11 */
    }
    double bits = nic_gaussian_rate(v, s, N, 0.01f, dv, ds);
    float *d_v = dup_to_device(v, N), *d_s = dup_to_device(s, N), *d_dv = NULL, *d_ds = NULL;
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, N, &d_dv), NIC_OK);
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, N, &d_ds), NIC_OK);
    nn_cuda_sums_reset(dev);
    int slot = -1;
    CHECK_STATUS(nn_cuda_gaussian_rate(ctx, dev, d_v, d_s, N, 0.01f, d_dv, d_ds, &slot), NIC_OK);
    double gbits = 0;
    CHECK_STATUS(nn_cuda_sums_read(ctx, dev, &gbits, slot + 1), NIC_OK);
    CHECK_MSG(fabs(gbits - bits) <= 1e-9 * bits, "Gaussian bits %.12g vs %.12g", gbits, bits);
    printf("  %-44s %.2e\n", "Gaussian rate: bits", fabs(gbits - bits) / bits);
    float *g1 = from_device(d_dv, N), *g2 = from_device(d_ds, N);
    compare("Gaussian rate: d bits / d v", g1, dv, N, 1e-5, 0);
    compare("Gaussian rate: d bits / d sigma", g2, ds, N, 1e-5, 0);
    free(g1);
    free(g2);

    /* factorized prior: z [2][4][37], random parameters around the init */
    enum { FN = 2, FC = 4, FHW = 37, FZ = FN * FC * FHW };
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    size_t np = FC * l.count;
    float *u = malloc(np * 4), *params = malloc(np * 4), *dp = malloc(np * 4);
    fill(&rng, u, np, 0, 1);
    nic_fp_init(params, FC, u);
    for (size_t i = 0; i < np; i++)
        params[i] += 0.3f * (nn_rng_uniform(&rng) - 0.5f);
    fill(&rng, dp, np, -1, 1);
    float z[FZ], dz[FZ];
    for (int i = 0; i < FZ; i++)
        z[i] = (float)(nn_rng_normal(&rng) * 4);
    float *d_p = dup_to_device(params, np), *d_dp = dup_to_device(dp, np);
    float *d_z = dup_to_device(z, FZ), *d_dz = NULL;
    CHECK_STATUS(nn_cuda_alloc_floats(ctx, dev, FZ, &d_dz), NIC_OK);
    double fbits = nic_fp_rate(params, z, FN, FC, FHW, 0.02f, dz, dp);
    nn_cuda_sums_reset(dev);
    CHECK_STATUS(nn_cuda_fp_rate(ctx, dev, d_p, d_z, FN, FC, FHW, 0.02f, d_dz, d_dp, &slot),
                 NIC_OK);
    CHECK_STATUS(nn_cuda_sums_read(ctx, dev, &gbits, slot + 1), NIC_OK);
    CHECK_MSG(fabs(gbits - fbits) <= 1e-9 * fbits, "factorized bits %.12g vs %.12g", gbits,
              fbits);
    printf("  %-44s %.2e\n", "factorized prior: bits", fabs(gbits - fbits) / fbits);
    g1 = from_device(d_dz, FZ);
    g2 = from_device(d_dp, np);
    compare("factorized prior: d bits / d z", g1, dz, FZ, 1e-5, 0);
    compare("factorized prior: d bits / d params (+=)", g2, dp, np, 1e-5, 0);
    free(g1);
    free(g2);
    float *bufs[] = {d_v, d_s, d_dv, d_ds, d_p, d_dp, d_z, d_dz};
    for (int i = 0; i < 8; i++)
        nn_cuda_free(bufs[i]);
    free(v), free(s), free(dv), free(ds), free(u), free(params), free(dp);
}

/* ---------------------------------------------------------------- optimizer */

static void test_optimizer(void)
{
    nn_params hp;
    nn_params_init(&hp);
    int64_t s1[2] = {7, 13}, s2[1] = {100};
    CHECK_STATUS(nn_params_add(ctx, &hp, "a", 2, s1, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &hp, "b", 1, s2, 1, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, &hp), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 2);
    fill(&rng, hp.data, hp.total, -1, 1);
    nn_cuda_params dp;
    CHECK_STATUS(nn_cuda_params_create(ctx, dev, &hp, &dp), NIC_OK);
    CHECK_STATUS(nn_cuda_params_upload(ctx, dev, &dp), NIC_OK);
    nn_adam cpu, gpu;
    nn_adam_init(&cpu);
    cpu.groups[1].lr_scale = 0.5f;
    cpu.groups[1].weight_decay = 0.1f;
    gpu = cpu;
    float *grads = malloc(hp.total * 4);
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < hp.count; i++)
            fill(&rng, grads + hp.items[i].offset, hp.items[i].count, -3, 3);
        memcpy(hp.grad, grads, hp.total * 4);
        CHECK_STATUS(nn_cuda_grads_upload(ctx, dev, &dp, &hp), NIC_OK);
        double n_cpu = nn_grad_clip(&hp, -1, 5.0), n_gpu = 0;
        CHECK_STATUS(nn_cuda_grad_clip(ctx, dev, &dp, 5.0, &n_gpu), NIC_OK);
        CHECK_NEAR(n_gpu, n_cpu, 1e-9 * n_cpu);
        nn_adam_step(&cpu, &hp, 1e-2f);
        CHECK_STATUS(nn_cuda_adam_step(ctx, dev, &gpu, &dp, 1e-2f), NIC_OK);
    }
    CHECK(gpu.step == cpu.step);
    nn_params back;
    nn_params_init(&back);
    CHECK_STATUS(nn_params_add(ctx, &back, "a", 2, s1, 0, NULL), NIC_OK);
    CHECK_STATUS(nn_params_add(ctx, &back, "b", 1, s2, 1, NULL), NIC_OK);
    CHECK_STATUS(nn_params_alloc(ctx, &back), NIC_OK);
    CHECK_STATUS(nn_cuda_params_download(ctx, dev, &dp, &back), NIC_OK);
    compare("Adam, 3 steps, 2 groups: weights", back.data, hp.data, hp.total, 1e-6, 0);
    compare("Adam, 3 steps, 2 groups: m", back.m, hp.m, hp.total, 1e-6, 0);
    compare("Adam, 3 steps, 2 groups: v", back.v, hp.v, hp.total, 1e-6, 0);
    nn_cuda_params_free(&dp);
    nn_params_free(&hp);
    nn_params_free(&back);
    free(grads);
}

/* ---------------------------------------------------------------- whole step */

static void make_batch(float *x, int batch, int crop, nn_rng *rng)
{
    for (int i = 0; i < batch * 3 * crop * crop; i++) {
        int px = i % crop, py = (i / crop) % crop;
        x[i] = 0.5f + 0.3f * sinf(px * 0.3f + py * 0.11f * (1 + i / (crop * crop))) +
               0.05f * (nn_rng_uniform(rng) - 0.5f);
    }
}

static void test_hyper_step(void)
{
    nic_hyper_config cfg = {.n = 8, .m = 12, .nz = 4};
    enum { B = 2, S = 64 };
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nic_hyper_model_init(&m, &rng);
    float *x = malloc(sizeof(float) * B * 3 * S * S);
    make_batch(x, B, S, &rng);
    float t_rate[B] = {0.2f, 0.9f};
    nic_hyper_trainer *cpu = NULL;
    nic_hyper_cuda *gpu = NULL;
    CHECK_STATUS(nic_hyper_trainer_create(ctx, NULL, &m, B, S, NN_CONV_REFERENCE, &cpu), NIC_OK);
    CHECK_STATUS(nic_hyper_cuda_create(ctx, dev, &m, B, S, &gpu), NIC_OK);
    if (!cpu || !gpu) {
        fprintf(stderr, "trainers: %s\n", nic_context_error(ctx));
        return;
    }
    nn_cuda_params *dp = nic_hyper_cuda_params(gpu);
    size_t total = m.params.total;
    for (int train = 2; train >= 0; train--) {
        nic_hyper_stats sc, sg;
        nn_params_zero_grad(&m.params);
        nn_rng_seed(&rng, 77);
        CHECK_STATUS(nic_hyper_train_step(ctx, cpu, x, t_rate, &rng, train, &sc), NIC_OK);
        CHECK_STATUS(nn_cuda_zero_grad(ctx, dev, dp), NIC_OK);
        nn_rng_seed(&rng, 77);
        CHECK_STATUS(nic_hyper_cuda_train_step(ctx, gpu, x, t_rate, &rng, train, &sg), NIC_OK);
        double tol = train == 2 ? 1e-5 : 1e-4; /* rounding may flip a rare element */
        printf("  step train=%d: loss CPU %.8g GPU %.8g, bpp %.6g / %.6g, PSNR %.4f / %.4f\n",
               train, sc.loss, sg.loss, sc.bpp, sg.bpp, sc.psnr, sg.psnr);
        CHECK_MSG(fabs(sg.loss - sc.loss) <= tol * fabs(sc.loss), "loss (train %d)", train);
        CHECK_MSG(fabs(sg.bpp - sc.bpp) <= tol * sc.bpp, "bpp (train %d)", train);
        CHECK_MSG(fabs(sg.mse - sc.mse) <= tol * sc.mse, "mse (train %d)", train);
        if (train != 2)
            continue;
        float *g = from_device(dp->grad, total);
        double worst = 0;
        const char *worst_name = "-";
        for (int i = 0; i < m.params.count; i++) {
            const nn_param *it = &m.params.items[i];
            double scale = 0, diff = 0;
            for (size_t k = 0; k < it->count; k++) {
                scale = fmax(scale, fabs(m.params.grad[it->offset + k]));
                diff = fmax(diff, fabs((double)g[it->offset + k] - m.params.grad[it->offset + k]));
            }
            double err = diff / (scale + 1e-12);
            if (err > worst) {
                worst = err;
                worst_name = it->name;
            }
        }
        CHECK_MSG(worst <= 1e-3, "gradient of %s differs by %.3g of its scale", worst_name, worst);
        printf("  %-44s %.2e (%s)\n", "whole step, train=2: gradients", worst, worst_name);
        free(g);
    }

    /* 3 optimizer steps on each, then the GPU state resumes on the CPU. */
    nic_hyper_model m2;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m2), NIC_OK);
    memcpy(m2.params.data, m.params.data, total * sizeof(float));
    nn_adam oc, og;
    nn_adam_init(&oc);
    nn_adam_init(&og);
    CHECK_STATUS(nn_cuda_params_upload(ctx, dev, dp), NIC_OK); /* m's values, zero moments */
    nn_rng rc, rg;
    nn_rng_seed(&rc, 3);
    nn_rng_seed(&rg, 3);
    for (int step = 0; step < 3; step++) {
        nn_params_zero_grad(&m.params);
        CHECK_STATUS(nic_hyper_train_step(ctx, cpu, x, t_rate, &rc, 2, NULL), NIC_OK);
        nn_grad_clip(&m.params, -1, 1.0);
        nn_adam_step(&oc, &m.params, 1e-3f);
        double norm;
        CHECK_STATUS(nn_cuda_zero_grad(ctx, dev, dp), NIC_OK);
        CHECK_STATUS(nic_hyper_cuda_train_step(ctx, gpu, x, t_rate, &rg, 2, NULL), NIC_OK);
        CHECK_STATUS(nn_cuda_grad_clip(ctx, dev, dp, 1.0, &norm), NIC_OK);
        CHECK_STATUS(nn_cuda_adam_step(ctx, dev, &og, dp, 1e-3f), NIC_OK);
    }
    CHECK_STATUS(nn_cuda_params_download(ctx, dev, dp, &m2.params), NIC_OK);
    double worst = 0;
    for (int i = 0; i < m.params.count; i++) {
        const nn_param *it = &m.params.items[i];
        double scale = 0, diff = 0;
        for (size_t k = 0; k < it->count; k++) {
            scale = fmax(scale, fabs(m.params.data[it->offset + k]));
            diff = fmax(diff, fabs((double)m2.params.data[it->offset + k] -
                                   m.params.data[it->offset + k]));
        }
        worst = fmax(worst, diff / (scale + 1e-12));
    }
    CHECK_MSG(worst <= 1e-4, "weights after 3 Adam steps differ by %.3g", worst);
    printf("  %-44s %.2e\n", "3 Adam steps, CPU vs GPU: weights", worst);
    char path[1024];
    snprintf(path, sizeof(path), "%s/test_cuda.ckpt.safetensors",
             getenv("NIC_TMP") ? getenv("NIC_TMP") : ".");
    CHECK_STATUS(nn_checkpoint_save(ctx, path, &m2.params, &og, &rg, "{}"), NIC_OK);
    nic_hyper_model m3;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m3), NIC_OK);
    nn_adam o3;
    nn_adam_init(&o3);
    nn_rng r3;
    CHECK_STATUS(nn_checkpoint_load(ctx, path, &m3.params, &o3, &r3, NULL), NIC_OK);
    CHECK(o3.step == 3 && memcmp(&r3, &rg, sizeof(r3)) == 0);
    CHECK(memcmp(m3.params.data, m2.params.data, total * sizeof(float)) == 0);
    CHECK(memcmp(m3.params.v, m2.params.v, total * sizeof(float)) == 0);
    remove(path);
    nic_hyper_trainer_destroy(cpu);
    nic_hyper_cuda_destroy(gpu);
    nic_hyper_model_free(&m);
    nic_hyper_model_free(&m2);
    nic_hyper_model_free(&m3);
    free(x);
}

int main(void)
{
    int count = nn_cuda_device_count();
    if (count == 0) {
        printf("test_cuda: SKIPPED: no GPU (%s)\n", nn_cuda_unavailable_reason());
        return 77;
    }
    ctx = nic_context_create();
    if (nn_cuda_create(ctx, 0, &dev) != NIC_OK) {
        fprintf(stderr, "test_cuda: %s\n", nic_context_error(ctx));
        return 1;
    }
    nn_cuda_set_tf32(dev, 0); /* exact FP32: tight tolerances */
    printf("test_cuda on %s\n", nn_cuda_name(dev));
    test_convolutions();
    test_elementwise();
    test_likelihoods();
    test_optimizer();
    test_hyper_step();
    nn_cuda_destroy(dev);
    nic_context_destroy(ctx);
    return test_finish("test_cuda");
}
