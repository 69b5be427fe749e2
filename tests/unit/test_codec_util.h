/*
 * Helpers of the codec tests (test_codec*.c).
 */
#ifndef NIC_TEST_CODEC_UTIL_H
#define NIC_TEST_CODEC_UTIL_H

#include <math.h>
#include <stdint.h>

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

#endif
