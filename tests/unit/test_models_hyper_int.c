/* The integer hyperprior heads and step network against their float versions,
 * and exactness properties of the integer arithmetic. */
#include "test.h"

#include <omp.h>

#include "models/hyper_int.h"
#include "nn/layers.h"

/* Float reference of one head on one image, with the engine's reference kernels. */
static void float_head(nic_context *ctx, const nic_hyper_model *m, const nic_conv_block *b,
                       const float *z, int hz, int wz, float *out)
{
    const nn_params *p = &m->params;
    float *a = malloc(sizeof(float) * 64 * 64 * 64), *c = malloc(sizeof(float) * 64 * 64 * 64);
    int h = hz, w = wz;
    const float *in = z;
    for (int i = 0; i < 3; i++) {
        nn_conv_desc d;
        float *dst = i == 2 ? out : (i == 0 ? a : c);
        if (b[i].transposed) {
            nn_conv_desc_init_transposed(ctx, &d, 1, b[i].c_in, h, w, b[i].c_out, b[i].k,
                                         b[i].stride, b[i].k / 2, b[i].stride - 1, 1);
            nn_conv_transpose_ref_forward(&d, in, nn_param_data(p, b[i].weight),
                                          nn_param_data(p, b[i].bias), dst);
            h = d.h_in;
            w = d.w_in;
        } else {
            nn_conv_desc_init(ctx, &d, 1, b[i].c_in, h, w, b[i].c_out, b[i].k, b[i].stride,
                              b[i].k / 2, 1);
            nn_conv2d_ref_forward(&d, in, nn_param_data(p, b[i].weight),
                                  nn_param_data(p, b[i].bias), dst);
            h = d.h_out;
            w = d.w_out;
        }
        if (i < 2)
            nn_relu_forward(dst, (size_t)b[i].c_out * h * w, dst);
        in = dst;
    }
    free(a);
    free(c);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    /* Rounding helper: nearest, ties up, exact for negatives. */
    CHECK(nic_q_round_shift(3 << 15, 16) == 2 && nic_q_round_shift(1 << 15, 16) == 1);
    CHECK(nic_q_round_shift(-(1 << 15), 16) == 0 && nic_q_round_shift(-(3 << 15), 16) == -1);
    CHECK(nic_q_round_shift(-(5 << 16) - 1, 16) == -5 && nic_q_round_shift(-(5 << 16) - 40000, 16) == -6);
    CHECK(nic_q_from_float(1e12) == INT32_MAX && nic_q_from_float(-1.5) == -98304);

    nic_hyper_config cfg = {.n = 8, .m = 6, .nz = 4};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    nic_hyper_model_init(&m, &rng);
    nic_hyper_int hi;
    CHECK_STATUS(nic_hyper_int_create(ctx, &m, &hi), NIC_OK);

    enum { HZ = 3, WZ = 2, NZ = 4, M = 6, HY = 4 * HZ, WY = 4 * WZ };
    int32_t zi[NZ * HZ * WZ];
    float zf[NZ * HZ * WZ];
    for (int i = 0; i < NZ * HZ * WZ; i++) {
        zi[i] = (int32_t)nn_rng_below(&rng, 11) - 5;
        zf[i] = (float)zi[i];
    }
    int32_t mean_q[M * HY * WY], ls_q[M * HY * WY];
    float mean_f[M * HY * WY], ls_f[M * HY * WY];
    CHECK_STATUS(nic_hyper_int_heads(ctx, &hi, zi, HZ, WZ, mean_q, ls_q), NIC_OK);
    float_head(ctx, &m, m.hm, zf, HZ, WZ, mean_f);
    float_head(ctx, &m, m.hs, zf, HZ, WZ, ls_f);
    double err = 0, mag = 0;
    for (int i = 0; i < M * HY * WY; i++) {
        err = fmax(err, fabs(mean_q[i] / 65536.0 - mean_f[i]));
        err = fmax(err, fabs(ls_q[i] / 65536.0 - ls_f[i]));
        mag = fmax(mag, fabs(mean_f[i]));
    }
    CHECK_MSG(err < 2e-4 && mag > 0.01, "integer heads differ from float by %g (magnitude %g)", err,
              mag);

    /* Same inputs, same bits: across calls (and thread counts, by construction). */
    int32_t again[M * HY * WY];
    CHECK_STATUS(nic_hyper_int_heads(ctx, &hi, zi, HZ, WZ, again, ls_q), NIC_OK);
    CHECK(memcmp(again, mean_q, sizeof(again)) == 0);

    /* The fast heads are the reference qconv layers, bit for bit, on every
     * instruction set and thread count, also for large z (large sums). */
    enum { HZ2 = 5, WZ2 = 3, HY2 = 4 * HZ2, WY2 = 4 * WZ2 };
    int32_t z2[NZ * HZ2 * WZ2];
    for (int i = 0; i < NZ * HZ2 * WZ2; i++)
        z2[i] = (int32_t)nn_rng_below(&rng, 4001) - 2000;
    int32_t rm[M * HY2 * WY2], rl[M * HY2 * WY2], fm[M * HY2 * WY2], fl[M * HY2 * WY2];
    CHECK_STATUS(nic_hyper_int_heads_reference(ctx, &hi, z2, HZ2, WZ2, rm, rl), NIC_OK);
    int differ = 0, nonzero = 0;
    for (int i = 0; i < M * HY2 * WY2; i++)
        nonzero += rm[i] != 0 && rl[i] != 0;
    const int threads = omp_get_max_threads();
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        hi.isa = (nn_isa)isa;
        for (int th = 1; th <= 3; th += 2) {
            omp_set_num_threads(th);
            CHECK_STATUS(nic_hyper_int_heads(ctx, &hi, z2, HZ2, WZ2, fm, fl), NIC_OK);
            differ += memcmp(fm, rm, sizeof(fm)) != 0 || memcmp(fl, rl, sizeof(fl)) != 0;
        }
    }
    omp_set_num_threads(threads);
    CHECK_MSG(differ == 0 && nonzero > M * HY2 * WY2 / 2,
              "fast heads differ from the reference in %d cases (%d nonzero outputs)", differ,
              nonzero);
    CHECK_STATUS(nic_hyper_int_heads_reference(ctx, &hi, zi, HZ, WZ, again, ls_q), NIC_OK);
    CHECK(memcmp(again, mean_q, sizeof(again)) == 0);

    /* Step network. */
    float hidden[NIC_HYPER_Q_HIDDEN], ls_float[M];
    int32_t ls_int[M];
    double serr = 0;
    for (int q = 0; q <= 255; q += 51) {
        float t = q / 255.0f;
        nic_hyper_q_forward(&m, t, hidden, ls_float);
        nic_hyper_int_log_steps(&hi, nic_q_from_float(t), ls_int);
        for (int c = 0; c < M; c++)
            serr = fmax(serr, fabs(ls_int[c] / 65536.0 - ls_float[c]));
    }
    CHECK_MSG(serr < 1e-4, "integer steps differ from float by %g", serr);

    nic_hyper_int_free(&hi);
    nic_hyper_model_free(&m);
    nic_context_destroy(ctx);
    return test_finish("test_models_hyper_int");
}
