#include "codec/codec_util.h"

#include <zlib.h>

void nic_codec_image_to_planes(const nic_image *img, int ph, int pw, float *x)
{
    const size_t plane = (size_t)ph * pw;
    for (int ch = 0; ch < 3; ch++)
        for (int yy = 0; yy < ph; yy++) {
            uint32_t sy = (uint32_t)yy < img->height ? (uint32_t)yy : img->height - 1;
            for (int xx = 0; xx < pw; xx++) {
                uint32_t sx = (uint32_t)xx < img->width ? (uint32_t)xx : img->width - 1;
                const uint8_t *px = img->data + ((size_t)sy * img->width + sx) * img->channels;
                x[ch * plane + (size_t)yy * pw + xx] =
                    px[img->channels == 3 ? ch : 0] * (1.0f / 255.0f);
            }
        }
}

void nic_codec_planes_to_image(const float *x, int ph, int pw, nic_image *out)
{
    const size_t plane = (size_t)ph * pw;
    for (uint32_t yy = 0; yy < out->height; yy++)
        for (uint32_t xx = 0; xx < out->width; xx++) {
            float rgb[3];
            for (int ch = 0; ch < 3; ch++) {
                float v = x[ch * plane + (size_t)yy * pw + xx] * 255.0f;
                rgb[ch] = v < 0 ? 0 : (v > 255 ? 255 : v);
            }
            uint8_t *px = out->data + ((size_t)yy * out->width + xx) * out->channels;
            if (out->channels == 3)
                for (int ch = 0; ch < 3; ch++)
                    px[ch] = (uint8_t)(rgb[ch] + 0.5f);
            else
                px[0] = (uint8_t)(0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2] + 0.5f);
        }
}

nic_status nic_codec_read_params(nic_context *ctx, const nn_st_file *f, const char *path,
                                 nn_params *p, uint32_t *hash)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    nic_status st = NIC_OK;
    for (int i = 0; st == NIC_OK && i < p->count; i++) {
        const nn_param *it = &p->items[i];
        float *dst = p->data + it->offset;
        st = nn_st_read_f32(ctx, f, it->name, dst, it->count);
        if (st == NIC_OK)
            crc = crc32(crc, (const Bytef *)dst, (uInt)(it->count * sizeof(float)));
    }
    if (st != NIC_OK)
        nic_fail_prefix(ctx, "%s", path);
    *hash = (uint32_t)crc;
    return st;
}
