/* PNG through libpng: every bit depth and color type in, 8-bit gray/RGB out. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct png_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    const char *name;
    nic_context *ctx;
    char message[256]; /* libpng's error text, reported after longjmp */
} png_reader;

static void png_read_from_memory(png_structp png, png_bytep out, size_t n)
{
    png_reader *r = png_get_io_ptr(png);
    if (n > r->size - r->pos)
        png_error(png, "file is truncated");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->message, sizeof(r->message), "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    nic_log(r->ctx, NIC_LOG_DEBUG, "%s: libpng: %s", r->name, msg);
}

nic_status nic_png_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                          nic_image *img, nic_image_info *info)
{
    png_reader reader = {.data = data, .size = size, .name = name, .ctx = ctx};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_on_error,
                                             png_on_warning);
    if (!png)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: cannot create PNG reader", name);
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: cannot create PNG reader", name);
    }
    /* Set before setjmp and only read after a longjmp: volatile keeps them valid. */
    png_bytep *volatile rows = NULL;
    nic_status volatile status = NIC_OK; /* set when nic (not libpng) raised the error */

    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        nic_image_free(img);
        if (status == NIC_OK)
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: invalid PNG: %s (at byte %zu of %zu)", name,
                            reader.message, reader.pos, size);
        return status;
    }
    png_set_read_fn(png, &reader, png_read_from_memory);
    /* libpng's own sanity limits; ours are checked below with a clearer message. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_read_info(png, pinfo);

    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, pinfo, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if (nic_check_dimensions(ctx, name, width, height) != NIC_OK) {
        status = nic_context_status(ctx);
        png_longjmp(png, 1);
    }
    info->source_bit_depth = (uint32_t)bit_depth;
    info->source_channels = png_get_channels(png, pinfo);
    int has_trns = png_get_valid(png, pinfo, PNG_INFO_tRNS) != 0;
    info->had_alpha = (color_type & PNG_COLOR_MASK_ALPHA) || has_trns;

#if defined(PNG_eXIf_SUPPORTED)
    {
        png_uint_32 exif_len = 0;
        png_bytep exif = NULL;
        if (png_get_eXIf_1(png, pinfo, &exif_len, &exif) && exif)
            info->orientation = nic_exif_orientation(exif, exif_len);
    }
#endif

    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16)
        png_set_scale_16(png); /* rounds, unlike png_set_strip_16 */
    if ((color_type & PNG_COLOR_MASK_ALPHA) || has_trns)
        png_set_strip_alpha(png); /* tRNS is ignored unless expanded; strip any real alpha */
    if (interlace != PNG_INTERLACE_NONE)
        png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);

    uint32_t channels = png_get_channels(png, pinfo);
    if (png_get_bit_depth(png, pinfo) != 8 || (channels != 1 && channels != 3)) {
        snprintf(reader.message, sizeof(reader.message),
                 "unexpected layout after conversion (%u channels, %d bits)", channels,
                 png_get_bit_depth(png, pinfo));
        status = NIC_FAIL(ctx, NIC_ERR_INTERNAL, "%s: %s", name, reader.message);
        png_longjmp(png, 1);
    }
    if (nic_image_alloc(ctx, img, width, height, channels) != NIC_OK) {
        status = nic_context_status(ctx);
        png_longjmp(png, 1);
    }
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) {
        status = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", name);
        png_longjmp(png, 1);
    }
    size_t stride = (size_t)width * channels;
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = img->data + y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return NIC_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct png_buffer {
    uint8_t *data;
    size_t size;
    size_t cap;
    int failed;
    char message[256];
} png_buffer;

static void png_write_to_memory(png_structp png, png_bytep in, size_t n)
{
    png_buffer *b = png_get_io_ptr(png);
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            png_error(png, "out of memory");
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->size, in, n);
    b->size += n;
}

static void png_flush_nothing(png_structp png)
{
    (void)png;
}

static void png_on_write_error(png_structp png, png_const_charp msg)
{
    png_buffer *b = png_get_error_ptr(png);
    snprintf(b->message, sizeof(b->message), "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_write_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

nic_status nic_png_encode(nic_context *ctx, const nic_image *img, uint8_t **out, size_t *size)
{
    /* zlib level 4: files within 1 % of level 6 at a third of the time (a decoded
     * 768x512 picture: 90 ms instead of 250) */
    return nic_png_encode_with(ctx, img, 4, 0, out, size);
}

nic_status nic_png_encode_with(nic_context *ctx, const nic_image *img, int level, int filters,
                               uint8_t **out, size_t *size)
{
    png_buffer buf = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &buf, png_on_write_error,
                                              png_on_write_warning);
    if (!png)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "cannot create PNG writer");
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    if (!pinfo || setjmp(png_jmpbuf(png))) {
        free(rows);
        free(buf.data);
        png_destroy_write_struct(&png, &pinfo);
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "PNG encoding failed: %s", buf.message);
    }
    png_set_write_fn(png, &buf, png_write_to_memory, png_flush_nothing);
    png_set_IHDR(png, pinfo, img->width, img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, level);
    if (filters)
        png_set_filter(png, PNG_FILTER_TYPE_BASE, filters);
    png_write_info(png, pinfo);
    rows = malloc(sizeof(png_bytep) * img->height);
    if (!rows)
        png_error(png, "out of memory");
    size_t stride = (size_t)img->width * img->channels;
    for (uint32_t y = 0; y < img->height; y++)
        rows[y] = img->data + y * stride;
    png_write_image(png, rows);
    png_write_end(png, pinfo);
    free(rows);
    png_destroy_write_struct(&png, &pinfo);
    *out = buf.data;
    *size = buf.size;
    return NIC_OK;
}
