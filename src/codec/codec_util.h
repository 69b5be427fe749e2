/*
 * Pieces every codec uses: pictures to padded float planes and back, and a
 * model's weights read with the hash that files carry.
 */
#ifndef NIC_CODEC_CODEC_UTIL_H
#define NIC_CODEC_CODEC_UTIL_H

#include <stdint.h>

#include "nic.h"
#include "nn/safetensors.h"
#include "nn/tensor.h"

/* img -> x [3][ph][pw] in [0, 1] (ph, pw >= the picture's size), edges
 * replicated into the padding; gray pictures fill all three planes. */
void nic_codec_image_to_planes(const nic_image *img, int ph, int pw, float *x);
/* x [3][ph][pw] in [0, 1] -> the top-left out->width x out->height pixels,
 * scaled by 255, clamped and rounded; gray pictures (out->channels 1) take
 * the luma 0.299 R + 0.587 G + 0.114 B. */
void nic_codec_planes_to_image(const float *x, int ph, int pw, nic_image *out);
/* Reads every parameter of p (allocated) from f by name; *hash receives the
 * CRC-32 of the float32 values in declaration order (FORMAT.md 6). Errors are
 * prefixed with path. */
nic_status nic_codec_read_params(nic_context *ctx, const nn_st_file *f, const char *path,
                                 nn_params *p, uint32_t *hash);

#endif
