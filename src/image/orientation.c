/* EXIF orientation: reading the tag and turning the picture upright. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

static uint32_t get16(const uint8_t *p, int big_endian)
{
    return big_endian ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const uint8_t *p, int big_endian)
{
    return big_endian ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
                      : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

int nic_exif_orientation(const uint8_t *tiff, size_t size)
{
    if (!tiff || size < 8)
        return 0;
    int big_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        big_endian = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        big_endian = 1;
    else
        return 0;
    if (get16(tiff + 2, big_endian) != 42)
        return 0;
    uint32_t ifd = get32(tiff + 4, big_endian);
    if (ifd < 8 || ifd > size || size - ifd < 2)
        return 0;
    uint32_t count = get16(tiff + ifd, big_endian);
    size_t entries = ifd + 2;
    for (uint32_t i = 0; i < count; i++) {
        size_t e = entries + (size_t)i * 12;
        if (e + 12 > size)
            return 0;
        if (get16(tiff + e, big_endian) != 0x0112)
            continue;
        uint32_t type = get16(tiff + e + 2, big_endian);
        uint32_t n = get32(tiff + e + 4, big_endian);
        if (type != 3 || n < 1) /* SHORT */
            return 0;
        uint32_t v = get16(tiff + e + 8, big_endian);
        return (v >= 1 && v <= 8) ? (int)v : 0;
    }
    return 0;
}

nic_status nic_image_apply_orientation(nic_context *ctx, nic_image *img, int orientation)
{
    if (orientation <= 1 || orientation > 8)
        return NIC_OK;
    uint32_t w = img->width, h = img->height, c = img->channels;
    int swap = orientation >= 5; /* 5..8 exchange width and height */
    uint32_t ow = swap ? h : w, oh = swap ? w : h;
    nic_image out;
    NIC_TRY(nic_image_alloc(ctx, &out, ow, oh, c));
    for (uint32_t y = 0; y < oh; y++) {
        for (uint32_t x = 0; x < ow; x++) {
            uint32_t sx, sy; /* source pixel shown at (x, y) */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;             /* mirror left-right */
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;     /* rotate 180 */
            case 4: sx = x; sy = h - 1 - y; break;             /* mirror top-bottom */
            case 5: sx = y; sy = x; break;                     /* transpose */
            case 6: sx = y; sy = h - 1 - x; break;             /* rotate 90 clockwise */
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;     /* transverse */
            default: sx = w - 1 - y; sy = x; break;            /* 8: rotate 90 counter-clockwise */
            }
            memcpy(out.data + ((size_t)y * ow + x) * c, img->data + ((size_t)sy * w + sx) * c, c);
        }
    }
    nic_image_free(img);
    *img = out;
    return NIC_OK;
}
