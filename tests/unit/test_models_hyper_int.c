/* The integer hyperprior heads and step network against their float versions,
 * and exactness properties of the integer arithmetic. */
#include "test.h"

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
