/*
 * Private interface between the image readers/writers. Every codec reads
 * from memory (files are loaded whole first), so the same code serves
 * files, HTTP bodies and fuzzers; `name` only labels error messages.
 */
#ifndef NIC_IMAGE_INTERNAL_H
#define NIC_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/context.h"

nic_status nic_png_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                          nic_image *img, nic_image_info *info);
nic_status nic_jpeg_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                           nic_image *img, nic_image_info *info);
nic_status nic_pnm_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                          nic_image *img, nic_image_info *info);

/* PNG into memory (malloc'ed), zlib level 6 and libpng's default filters. */
nic_status nic_png_encode(nic_context *ctx, const nic_image *img, uint8_t **out, size_t *size);
/* The same with a zlib level (0..9) and a libpng filter mask (PNG_FILTER_NONE,
 * PNG_ALL_FILTERS, ...; 0 = libpng's default choice). */
nic_status nic_png_encode_with(nic_context *ctx, const nic_image *img, int level, int filters,
                               uint8_t **out, size_t *size);

typedef struct nic_jpeg_options {
    int quality;          /* 1..100 */
    int progressive;      /* 0/1 */
    int exif_orientation; /* 0 = no EXIF; 1..8 writes an APP1 with that orientation */
    int cmyk_adobe;       /* img has 4 channels, inverted (Adobe) CMYK; written as YCCK */
} nic_jpeg_options;

/* JPEG into memory (malloc'ed). With cmyk_adobe the input has 4 channels;
 * this exists for tests and fixtures. */
nic_status nic_jpeg_encode(nic_context *ctx, const uint8_t *pixels, uint32_t width,
                           uint32_t height, uint32_t channels, const nic_jpeg_options *opt,
                           uint8_t **out, size_t *size);

nic_status nic_pnm_encode(nic_context *ctx, const nic_image *img, uint8_t **out, size_t *size);

/* Orientation tag (1..8) from an EXIF block that starts with the TIFF header
 * ("II*\0" / "MM\0*"); 0 when absent or malformed (never reads out of bounds). */
int nic_exif_orientation(const uint8_t *tiff, size_t size);

/* Makes img upright for EXIF orientation 2..8 (1 and 0 do nothing). */
nic_status nic_image_apply_orientation(nic_context *ctx, nic_image *img, int orientation);

/* Writes size bytes to path (atomically: temp file, then rename). */
nic_status nic_write_whole_file(nic_context *ctx, const char *path, const uint8_t *data,
                                size_t size);

/* 8-bit value of a sample v in 0..maxval, rounded. */
static inline uint8_t nic_scale_to_8bit(uint32_t v, uint32_t maxval)
{
    return (uint8_t)((v * 255u + maxval / 2) / maxval);
}

#endif
