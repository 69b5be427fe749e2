/* The wasm decoder returns raw pixels to JavaScript (which draws them on a
 * canvas), so it is built without libpng and libjpeg: these stand-ins make
 * the image layer link and say plainly what is missing if ever called. */
#include "image/image_internal.h"

nic_status nic_png_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                          nic_image *img, nic_image_info *info)
{
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: PNG is not built into the wasm decoder", name);
}

nic_status nic_jpeg_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                           nic_image *img, nic_image_info *info)
{
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "%s: JPEG is not built into the wasm decoder", name);
}

nic_status nic_png_encode(nic_context *ctx, const nic_image *img, uint8_t **out, size_t *size)
{
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "PNG is not built into the wasm decoder");
}

nic_status nic_jpeg_encode(nic_context *ctx, const uint8_t *pixels, uint32_t width,
                           uint32_t height, uint32_t channels, const nic_jpeg_options *opt,
                           uint8_t **out, size_t *size)
{
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED, "JPEG is not built into the wasm decoder");
}
