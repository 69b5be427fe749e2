#include "server/codec_jobs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* CRC-32 of the decoded pixels: the web page compares it with the pixels its
 * WebAssembly decoder made, to show they are the same byte for byte. */
static uint32_t pixels_crc32(const nic_image *img)
{
    size_t n = (size_t)img->width * img->height * img->channels;
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < n;) {
        size_t chunk = n - off > (1u << 30) ? (1u << 30) : n - off;
        crc = crc32(crc, img->data + off, (uInt)chunk);
        off += chunk;
    }
    return (uint32_t)crc;
}

static void add_metrics(nic_context *ctx, const nic_image *img, const uint8_t *file, size_t size,
                        serve_reply *r)
{
    nic_image dec = {0};
    nic_quality q;
    nic_status st = nic_decode(ctx, file, size, "result", &dec);
    if (st == NIC_OK)
        st = nic_compare(ctx, img, &dec, &q);
    if (st != NIC_OK) {
        serve_reply_library_error(r, ctx, st, "decode");
    } else {
        /* JSON-style null for undefined values (MS-SSIM under 176 pixels). */
        if (isfinite(q.psnr_rgb))
            serve_reply_header(r, "X-Nic-Psnr", "%.4f", q.psnr_rgb);
        else
            serve_reply_header(r, "X-Nic-Psnr", "%s", q.psnr_rgb > 0 ? "inf" : "null");
        if (isfinite(q.ms_ssim))
            serve_reply_header(r, "X-Nic-Ms-Ssim", "%.6f", q.ms_ssim);
        else
            serve_reply_header(r, "X-Nic-Ms-Ssim", "null");
        serve_reply_header(r, "X-Nic-Decoded-Crc32", "%08x", (unsigned)pixels_crc32(&dec));
    }
    nic_image_free(&dec);
}

void serve_encode(nic_context *ctx, const uint8_t *body, size_t size, const encode_params *p,
                  serve_reply *r)
{
    double t0 = now_ms();
    nic_image img = {0};
    nic_image_info info;
    nic_status st = nic_image_read_memory(ctx, body, size, "upload", &img, &info);
    if (st != NIC_OK) {
        serve_reply_library_error(r, ctx, st, "image");
        return;
    }
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.model = p->model;
    opt.quality = p->quality;
    opt.max_bytes = p->max_bytes;
    uint8_t *file = NULL;
    size_t file_size = 0;
    nic_encode_result res;
    st = nic_encode(ctx, &img, &opt, &file, &file_size, &res);
    if (st != NIC_OK) {
        serve_reply_library_error(r, ctx, st, "encode");
        nic_image_free(&img);
        return;
    }
    serve_reply_header(r, "X-Nic-Bytes", "%zu", res.bytes);
    serve_reply_header(r, "X-Nic-Bpp", "%.6f", res.bpp);
    serve_reply_header(r, "X-Nic-Quality-Index", "%d", res.quality_index);
    serve_reply_header(r, "X-Nic-Width", "%u", img.width);
    serve_reply_header(r, "X-Nic-Height", "%u", img.height);
    serve_reply_header(r, "X-Nic-Coded-Width", "%u", res.coded_width);
    serve_reply_header(r, "X-Nic-Coded-Height", "%u", res.coded_height);
    serve_reply_header(r, "X-Nic-Model", "%s", p->model);
    serve_reply_header(r, "Content-Disposition", "attachment; filename=\"image.nic\"");
    if (p->metrics)
        add_metrics(ctx, &img, file, file_size, r);
    nic_image_free(&img);
    if (r->status >= 400) { /* the metrics step failed */
        free(file);
        return;
    }
    serve_reply_header(r, "X-Nic-Time-Ms", "%.1f", now_ms() - t0);
    serve_reply_body(r, 200, "application/x-nic", file, file_size);
}

void serve_decode(nic_context *ctx, const uint8_t *body, size_t size, serve_reply *r)
{
    double t0 = now_ms();
    nic_image img = {0};
    nic_status st = nic_decode(ctx, body, size, "upload", &img);
    if (st != NIC_OK) {
        /* Anything wrong with the file itself is the client's; a limit too. */
        serve_reply_library_error(r, ctx, st, st == NIC_ERR_ABORTED ? "decode" : "nic");
        return;
    }
    uint8_t *png = NULL;
    size_t png_size = 0;
    st = nic_image_encode_png(ctx, &img, &png, &png_size);
    if (st != NIC_OK) {
        serve_reply_library_error(r, ctx, st, "png");
        nic_image_free(&img);
        return;
    }
    serve_reply_header(r, "X-Nic-Width", "%u", img.width);
    serve_reply_header(r, "X-Nic-Height", "%u", img.height);
    serve_reply_header(r, "X-Nic-Channels", "%u", img.channels);
    serve_reply_header(r, "X-Nic-Decoded-Crc32", "%08x", (unsigned)pixels_crc32(&img));
    serve_reply_header(r, "X-Nic-Time-Ms", "%.1f", now_ms() - t0);
    nic_image_free(&img);
    serve_reply_body(r, 200, "image/png", png, png_size);
}
