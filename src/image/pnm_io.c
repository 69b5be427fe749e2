/* Netpbm PPM and PGM (P2, P3, P5, P6), maxval 1..65535, comments allowed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct pnm_cursor {
    const uint8_t *data;
    size_t size;
    size_t pos;
} pnm_cursor;

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skips whitespace and '#' comments. */
static void skip_blank(pnm_cursor *c)
{
    while (c->pos < c->size) {
        if (is_space(c->data[c->pos])) {
            c->pos++;
        } else if (c->data[c->pos] == '#') {
            while (c->pos < c->size && c->data[c->pos] != '\n' && c->data[c->pos] != '\r')
                c->pos++;
        } else {
            break;
        }
    }
}

/* Reads a decimal number <= limit; 0 on failure (missing, not a digit, too big). */
static int read_number(pnm_cursor *c, uint64_t limit, uint64_t *out)
{
    skip_blank(c);
    if (c->pos >= c->size || c->data[c->pos] < '0' || c->data[c->pos] > '9')
        return 0;
    uint64_t v = 0;
    while (c->pos < c->size && c->data[c->pos] >= '0' && c->data[c->pos] <= '9') {
        v = v * 10 + (uint64_t)(c->data[c->pos] - '0');
        if (v > limit)
            return 0;
        c->pos++;
    }
    *out = v;
    return 1;
}

nic_status nic_pnm_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                          nic_image *img, nic_image_info *info)
{
    pnm_cursor c = {data, size, 2};
    char kind = (char)data[1];
    uint32_t channels;
    int ascii;
    switch (kind) {
    case '2': channels = 1; ascii = 1; break;
    case '3': channels = 3; ascii = 1; break;
    case '5': channels = 1; ascii = 0; break;
    case '6': channels = 3; ascii = 0; break;
    default:
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "%s: Netpbm type P%c is not supported (use PPM P3/P6 or PGM P2/P5)",
                        name, kind);
    }
    uint64_t width, height, maxval;
    if (!read_number(&c, UINT32_MAX, &width))
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: invalid P%c header: bad width at byte %zu",
                        name, kind, c.pos);
    if (!read_number(&c, UINT32_MAX, &height))
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: invalid P%c header: bad height at byte %zu",
                        name, kind, c.pos);
    if (!read_number(&c, 65535, &maxval) || maxval == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: invalid P%c header: maxval must be 1..65535 (at byte %zu)", name,
                        kind, c.pos);
    NIC_TRY(nic_check_dimensions(ctx, name, width, height));
    /* Exactly one whitespace byte separates the header from binary data. */
    if (c.pos >= size || !is_space(data[c.pos]))
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: invalid P%c header: no whitespace after maxval",
                        name, kind);
    c.pos++;

    size_t samples = (size_t)width * (size_t)height * channels;
    size_t bytes_per_sample = maxval > 255 ? 2 : 1;
    if (!ascii && (size - c.pos) / bytes_per_sample < samples)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: file is truncated: %llux%llu P%c needs %zu bytes of pixels, has %zu",
                        name, (unsigned long long)width, (unsigned long long)height, kind,
                        samples * bytes_per_sample, size - c.pos);
    NIC_TRY(nic_image_alloc(ctx, img, (uint32_t)width, (uint32_t)height, channels));
    info->source_bit_depth = maxval > 255 ? 16 : 8;
    for (uint32_t b = 1; b <= 16; b++)
        if ((maxval >> b) == 0) {
            info->source_bit_depth = b;
            break;
        }
    info->source_channels = channels;
    const uint8_t *p = data + c.pos;
    for (size_t i = 0; i < samples; i++) {
        uint64_t v;
        if (ascii) {
            if (!read_number(&c, 65535, &v)) {
                nic_image_free(img);
                return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                                "%s: sample %zu of %zu is missing or invalid (at byte %zu)", name,
                                i, samples, c.pos);
            }
        } else if (bytes_per_sample == 2) {
            v = ((uint64_t)p[2 * i] << 8) | p[2 * i + 1];
        } else {
            v = p[i];
        }
        if (v > maxval) {
            nic_image_free(img);
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: sample %zu is %llu, above maxval %llu",
                            name, i, (unsigned long long)v, (unsigned long long)maxval);
        }
        img->data[i] = maxval == 255 ? (uint8_t)v : nic_scale_to_8bit((uint32_t)v, (uint32_t)maxval);
    }
    return NIC_OK;
}

nic_status nic_pnm_encode(nic_context *ctx, const nic_image *img, uint8_t **out, size_t *size)
{
    char header[64];
    int hn = snprintf(header, sizeof(header), "P%c\n%u %u\n255\n", img->channels == 1 ? '5' : '6',
                      img->width, img->height);
    size_t pixels = (size_t)img->width * img->height * img->channels;
    uint8_t *buf = malloc((size_t)hn + pixels);
    if (!buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory encoding PNM");
    memcpy(buf, header, (size_t)hn);
    memcpy(buf + hn, img->data, pixels);
    *out = buf;
    *size = (size_t)hn + pixels;
    return NIC_OK;
}
