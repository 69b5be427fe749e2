/*
 * Helpers of the codec tests (test_codec*.c).
 */
#ifndef NIC_TEST_CODEC_UTIL_H
#define NIC_TEST_CODEC_UTIL_H

#include <math.h>
#include <stdint.h>

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "codec/hyper_codec.h"
#include "nic.h"

/* A synthetic picture: smooth waves per channel plus an 8 x 8 checkerboard. */
static inline void make_image(nic_image *img, uint32_t w, uint32_t h, uint32_t c, int seed)
{
    nic_image_alloc(NULL, img, w, h, c);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t k = 0; k < c; k++)
                img->data[(y * w + x) * c + k] =
                    (uint8_t)(128 + 90 * sin(0.05 * x * (k + 1) + 0.07 * y + seed) +
                              20 * ((x / 8 + y / 8) % 2));
}

/* Decodes buf on every instruction set x 1..3 threads x two strip heights
 * (memory budgets), comparing with ref's pixels, and encodes img again with
 * opt (every way when encode_each, else once per instruction set), comparing
 * with buf. Returns how many ways differed; *ways counts them. Leaves hc as
 * it found it. */
static inline int codec_every_way(nic_context *ctx, nic_hyper_codec *hc, const nic_image *img,
                                  const nic_encode_options *opt, const uint8_t *buf, size_t size,
                                  const nic_image *ref, int encode_each, int *ways)
{
    const int threads = omp_get_max_threads();
    const nn_isa best = hc->isa;
    const size_t bytes = (size_t)ref->width * ref->height * ref->channels;
    int differ = 0;
    *ways = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++) {
        if (!nn_isa_supported((nn_isa)isa))
            continue;
        for (int th = 1; th <= 3; th++)
            for (size_t budget = 0; budget <= 1; budget++) {
                hc->isa = hc->hint.isa = (nn_isa)isa;
                hc->mem_budget = budget;
                omp_set_num_threads(th);
                nic_image d;
                differ += nic_decode(ctx, buf, size, "every-way.nic", &d) != NIC_OK || !d.data ||
                          memcmp(ref->data, d.data, bytes) != 0;
                nic_image_free(&d);
                if (encode_each || (th == threads && budget == 0)) {
                    uint8_t *again = NULL;
                    size_t again_size = 0;
                    differ += nic_encode(ctx, img, opt, &again, &again_size, NULL) != NIC_OK ||
                              again_size != size || memcmp(again, buf, size) != 0;
                    free(again);
                }
                (*ways)++;
            }
    }
    hc->isa = hc->hint.isa = best;
    hc->mem_budget = 0;
    omp_set_num_threads(threads);
    return differ;
}

#endif
