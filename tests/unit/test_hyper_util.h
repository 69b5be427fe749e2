/* Shared by the codec tests: a small random hyper model, exported like a
 * shipped one. */
#ifndef NIC_TEST_HYPER_UTIL_H
#define NIC_TEST_HYPER_UTIL_H

#include <stdio.h>

#include "codec/hyper_codec.h"
#include "nn/rng.h"

/* Writes dir/hyper.safetensors: N=16, M=16, NZ=8, weights drawn from seed. */
static void export_small_hyper(nic_context *ctx, const char *dir, const char *description,
                               uint64_t seed)
{
    nic_hyper_config cfg = {.n = 16, .m = 16, .nz = 8};
    nic_hyper_model m;
    CHECK_STATUS(nic_hyper_model_create(ctx, &cfg, &m), NIC_OK);
    nn_rng rng;
    nn_rng_seed(&rng, seed);
    nic_hyper_model_init(&m, &rng);
    char path[8400];
    snprintf(path, sizeof(path), "%s/hyper.safetensors", dir);
    CHECK_STATUS(nic_hyper_export(ctx, &m, path, description), NIC_OK);
    nic_hyper_model_free(&m);
}

#endif
