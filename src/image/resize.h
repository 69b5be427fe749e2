/* Resampling for byte-budget encodes: a smaller picture is coded and the
 * decoder scales it back. Separable Catmull-Rom cubic (Keys, a = -1/2), pixel
 * centres aligned, edges clamped, the kernel stretched when shrinking
 * (antialiasing); double arithmetic in a fixed order, so results are the same
 * everywhere (docs/FORMAT.md, "original width/height"). */
#ifndef NIC_IMAGE_RESIZE_H
#define NIC_IMAGE_RESIZE_H

#include "common/context.h"

nic_status nic_image_resize(nic_context *ctx, const nic_image *src, uint32_t width,
                            uint32_t height, nic_image *dst);

#endif
