/* Likelihood models: valid distributions, and gradients checked by finite differences. */
#include "test.h"

#include "models/likelihood.h"
#include "nn/rng.h"

static void test_gaussian(void)
{
    /* A distribution over integer offsets: sums to 1. */
    for (double s = 0.05; s < 40; s *= 3.1) {
        double sum = 0;
        for (int k = -2000; k <= 2000; k++)
            sum += exp2(-nic_gaussian_bits(k + 0.3, s));
        CHECK_NEAR(sum, 1.0, 4001 * 1e-9 + 1e-9); /* floored tails add up to 1e-9 each */
    }
    CHECK(nic_gaussian_bits(0, 0.01) == nic_gaussian_bits(0, NIC_SCALE_MIN));
    CHECK_NEAR(nic_gaussian_bits(1000, 0.2), -log2(NIC_LIKELIHOOD_MIN), 1e-9);

    nn_rng rng;
    nn_rng_seed(&rng, 7);
    enum { N = 200 };
    float v[N], s[N], dv[N], ds[N];
    for (int i = 0; i < N; i++) {
        v[i] = (float)(nn_rng_normal(&rng) * 3);
        s[i] = (float)(0.15 + 5 * nn_rng_uniform(&rng));
    }
    double total = nic_gaussian_rate(v, s, N, 0.5f, dv, ds);
    double sum = 0;
    for (int i = 0; i < N; i++)
        sum += nic_gaussian_bits(v[i], s[i]);
    CHECK_NEAR(total, sum, 1e-9 * sum);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        double h = 1e-4;
        double fv = 0.5 * (nic_gaussian_bits(v[i] + h, s[i]) - nic_gaussian_bits(v[i] - h, s[i])) / (2 * h);
        double fs = 0.5 * (nic_gaussian_bits(v[i], s[i] + h) - nic_gaussian_bits(v[i], s[i] - h)) / (2 * h);
        if (fabs(fv - dv[i]) > 1e-3 * (1 + fabs(fv)) || fabs(fs - ds[i]) > 1e-3 * (1 + fabs(fs))) {
            if (bad++ < 5)
                fprintf(stderr, "v %g s %g: dv %g fd %g, ds %g fd %g\n", v[i], s[i], dv[i], fv,
                        ds[i], fs);
        }
    }
    CHECK_MSG(bad == 0, "%d Gaussian gradients off", bad);
    /* Below the scale bound: only gradients that raise sigma pass. */
    float vv = 0.0f, sv = 0.05f, g1, g2;
    nic_gaussian_rate(&vv, &sv, 1, 1.0f, &g1, &g2);
    CHECK(g2 <= 0.0f);
}

static double fp_bits(const float *params, int channels, const float *z, int n, size_t hw)
{
    return nic_fp_rate(params, z, n, channels, hw, 1.0f, NULL, NULL);
}

static void test_factorized(void)
{
    nic_fp_layout l;
    nic_fp_layout_get(&l);
    CHECK(l.count == 3 + 3 + 3 + 9 + 3 + 3 + 9 + 3 + 3 + 3 + 1);
    enum { C = 3, NB = 2, HW = 5 };
    float u[64];
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    for (int i = 0; i < 64; i++)
        u[i] = nn_rng_uniform(&rng);
    float params[C * 64];
    nic_fp_init(params, C, u);
    /* Perturb so factors and matrices are not at their symmetric start. */
    for (size_t i = 0; i < C * l.count; i++)
        params[i] += (float)(0.3 * nn_rng_normal(&rng));

    /* Monotone logit and a distribution over integers. */
    for (int c = 0; c < C; c++) {
        const float *p = params + c * l.count;
        double prev = -INFINITY, sum = 0;
        int monotone = 1;
        for (int k = -400; k <= 400; k++) {
            double lg = nic_fp_logit(p, k + 0.5);
            monotone &= lg > prev;
            prev = lg;
            float zk = (float)k;
            sum += exp2(-fp_bits(p, 1, &zk, 1, 1));
        }
        CHECK(monotone);
        CHECK_NEAR(sum, 1.0, 1e-4);
    }

    float z[NB * C * HW], dz[NB * C * HW];
    for (int i = 0; i < NB * C * HW; i++)
        z[i] = (float)(nn_rng_normal(&rng) * 4);
    float *dp = calloc(C * l.count, sizeof(float));
    nic_fp_rate(params, z, NB, C, HW, 0.25f, dz, dp);
    int bad = 0;
    for (int i = 0; i < NB * C * HW; i++) {
        float save = z[i];
        float h = 1e-2f;
        z[i] = save + h;
        double up = fp_bits(params, C, z, NB, HW);
        z[i] = save - h;
        double dn = fp_bits(params, C, z, NB, HW);
        z[i] = save;
        double fd = 0.25 * (up - dn) / ((double)(save + h) - (double)(save - h));
        if (fabs(fd - dz[i]) > 2e-3 * (1 + fabs(fd)) && bad++ < 5)
            fprintf(stderr, "dz[%d] %g fd %g\n", i, dz[i], fd);
    }
    for (size_t i = 0; i < C * l.count; i++) {
        float save = params[i];
        float h = 1e-2f;
        params[i] = save + h;
        double up = fp_bits(params, C, z, NB, HW);
        float hi = params[i];
        params[i] = save - h;
        double dn = fp_bits(params, C, z, NB, HW);
        float lo = params[i];
        params[i] = save;
        double fd = 0.25 * (up - dn) / ((double)hi - (double)lo);
        if (fabs(fd - dp[i]) > 2e-3 * (1 + fabs(fd)) && bad++ < 5)
            fprintf(stderr, "dparam[%zu] %g fd %g\n", i, dp[i], fd);
    }
    CHECK_MSG(bad == 0, "%d factorized-prior gradients off", bad);
    free(dp);
}

int main(void)
{
    test_gaussian();
    test_factorized();
    return test_finish("test_models_likelihood");
}
