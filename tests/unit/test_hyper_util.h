/* Shared by the codec tests: a small random hyper model, exported like a
 * shipped one. */
#ifndef NIC_TEST_HYPER_UTIL_H
#define NIC_TEST_HYPER_UTIL_H

#include <stdio.h>

#include "codec/hyper_codec.h"
#include "nn/rng.h"

/* Writes dir/hyper.safetensors: N=16, M=16, NZ=8, weights drawn from seed;
 * ctx_width > 0 adds a checkerboard context network of `anchors` (4 or 12)
 * anchors whose last layer is random too (a new one would be zero), so that
 * it changes the tables. */
static void export_small_hyper_anchors(nic_context *ctx, const char *dir,
                                       const char *description, uint64_t seed, int ctx_width,
                                       int anchors)
{
    nic_hyper_config cfg = {.n = 16, .m = 16, .nz = 8, .ctx = ctx_width, .ctx_nb = anchors};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_hyper_model_init(&m, &rng);
    for (int k = 0; ctx_width > 0 && k < 2; k++) {
        int i = k == 0 ? m.cx[1].weight : m.cx[1].bias;
        float *v = nn_param_data(&m.params, i);
        for (size_t j = 0; j < m.params.items[i].count; j++)
            v[j] = 0.4f * (nn_rng_uniform(&rng) - 0.5f);
    }
    char path[8400];
    snprintf(path, sizeof(path), "%s/hyper.safetensors", dir);
    CHECK_STATUS(nic_hyper_export(ctx, &m, path, description, NIC_HYPER_MSE), NIC_OK);
    nic_hyper_model_free(&m);
}

static void export_small_hyper_ctx(nic_context *ctx, const char *dir, const char *description,
                                   uint64_t seed, int ctx_width)
{
    export_small_hyper_anchors(ctx, dir, description, seed, ctx_width, 4);
}

static void export_small_hyper(nic_context *ctx, const char *dir, const char *description,
                               uint64_t seed)
{
    export_small_hyper_ctx(ctx, dir, description, seed, 0);
}

#endif
