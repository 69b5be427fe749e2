#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint8_t to_byte(float v)
{
    v = v < 0 ? 0 : (v > 255 ? 255 : v);
    return (uint8_t)(v + 0.5f);
}

/* Each output pixel averages the source area it covers (with fractional edges). */
static void box_down(const nic_image *s, nic_image *d)
{
    const double sx = (double)s->width / d->width, sy = (double)s->height / d->height;
    const uint32_t c = s->channels;
    for (uint32_t y = 0; y < d->height; y++) {
        double y0 = y * sy, y1 = (y + 1) * sy;
        for (uint32_t x = 0; x < d->width; x++) {
            double x0 = x * sx, x1 = (x + 1) * sx;
            double acc[3] = {0, 0, 0}, area = 0;
            for (uint32_t yy = (uint32_t)y0; yy < s->height && yy < y1; yy++) {
                double wy = fmin(yy + 1.0, y1) - fmax((double)yy, y0);
                for (uint32_t xx = (uint32_t)x0; xx < s->width && xx < x1; xx++) {
                    double wgt = wy * (fmin(xx + 1.0, x1) - fmax((double)xx, x0));
                    const uint8_t *p = s->data + ((size_t)yy * s->width + xx) * c;
                    for (uint32_t k = 0; k < c; k++)
                        acc[k] += wgt * p[k];
                    area += wgt;
                }
            }
            uint8_t *o = d->data + ((size_t)y * d->width + x) * c;
            for (uint32_t k = 0; k < c; k++)
                o[k] = to_byte((float)(acc[k] / area));
        }
    }
}

/* Bilinear with pixel centers aligned (half-pixel offsets), edges clamped. */
static void bilinear(const nic_image *s, nic_image *d)
{
    const float sx = (float)s->width / d->width, sy = (float)s->height / d->height;
    const uint32_t c = s->channels;
    for (uint32_t y = 0; y < d->height; y++) {
        float fy = (y + 0.5f) * sy - 0.5f;
        fy = fy < 0 ? 0 : fy;
        uint32_t y0 = (uint32_t)fy, y1 = y0 + 1 < s->height ? y0 + 1 : y0;
        float ty = fy - y0;
        for (uint32_t x = 0; x < d->width; x++) {
            float fx = (x + 0.5f) * sx - 0.5f;
            fx = fx < 0 ? 0 : fx;
            uint32_t x0 = (uint32_t)fx, x1 = x0 + 1 < s->width ? x0 + 1 : x0;
            float tx = fx - x0;
            const uint8_t *a = s->data + ((size_t)y0 * s->width + x0) * c;
            const uint8_t *b = s->data + ((size_t)y0 * s->width + x1) * c;
            const uint8_t *e = s->data + ((size_t)y1 * s->width + x0) * c;
            const uint8_t *f = s->data + ((size_t)y1 * s->width + x1) * c;
            uint8_t *o = d->data + ((size_t)y * d->width + x) * c;
            for (uint32_t k = 0; k < c; k++) {
                float top = a[k] + (b[k] - a[k]) * tx, bot = e[k] + (f[k] - e[k]) * tx;
                o[k] = to_byte(top + (bot - top) * ty);
            }
        }
    }
}

nic_status nic_image_resize(nic_context *ctx, const nic_image *src, uint32_t width,
                            uint32_t height, nic_image *dst)
{
    NIC_TRY(nic_image_alloc(ctx, dst, width, height, src->channels));
    if (width == src->width && height == src->height)
        memcpy(dst->data, src->data, (size_t)width * height * src->channels);
    else if (width <= src->width && height <= src->height)
        box_down(src, dst);
    else
        bilinear(src, dst);
    return NIC_OK;
}
