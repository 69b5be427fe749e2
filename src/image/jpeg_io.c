/* JPEG through libjpeg-turbo: baseline, progressive, gray, CMYK/YCCK in;
 * EXIF orientation found (applied by the caller); RGB/gray out. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "image/image_internal.h"

/* A progressive file with thousands of scans decodes very slowly; real
 * encoders use a dozen. Refusing absurd scan counts bounds decode time. */
#define NIC_JPEG_MAX_SCANS 1000

typedef struct jpeg_error_state {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    nic_context *ctx;
    const char *name;
    int truncated; /* libjpeg warned that data ended early */
    char message[JMSG_LENGTH_MAX];
} jpeg_error_state;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_error_state *e = (jpeg_error_state *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_error_state *e = (jpeg_error_state *)cinfo->err;
    if (level >= 0)
        return; /* trace messages */
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        /* libjpeg would pad the rest with gray; nic calls that what it is. */
        e->truncated = 1;
        snprintf(e->message, sizeof(e->message), "file is truncated (%.150s)", text);
        longjmp(e->jump, 1);
    }
    nic_log(e->ctx, NIC_LOG_WARNING, "%s: %s", e->name, text);
}

typedef struct jpeg_scan_guard {
    struct jpeg_progress_mgr mgr;
    int too_many_scans;
} jpeg_scan_guard;

static void jpeg_on_progress(j_common_ptr cinfo)
{
    jpeg_scan_guard *g = (jpeg_scan_guard *)cinfo->progress;
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > NIC_JPEG_MAX_SCANS) {
        g->too_many_scans = 1;
        jpeg_error_state *e = (jpeg_error_state *)cinfo->err;
        snprintf(e->message, sizeof(e->message), "more than %d progressive scans",
                 NIC_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

/* EXIF lives in an APP1 marker: "Exif\0\0" followed by a TIFF block. */
static int find_exif_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0)
            return nic_exif_orientation(m->data + 6, m->data_length - 6);
    }
    return 0;
}

static inline uint8_t div255(uint32_t v)
{
    return (uint8_t)((v + 127) / 255);
}

nic_status nic_jpeg_decode(nic_context *ctx, const uint8_t *data, size_t size, const char *name,
                           nic_image *img, nic_image_info *info)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state err;
    jpeg_scan_guard guard = {0};
    uint8_t *volatile row = NULL;
    nic_status volatile status = NIC_OK; /* set when nic (not libjpeg) raised the error */

    memset(&err, 0, sizeof(err));
    err.ctx = ctx;
    err.name = name;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_on_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        nic_image_free(img);
        if (status != NIC_OK)
            return status;
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: invalid JPEG: %s", name, err.message);
    }
    jpeg_create_decompress(&cinfo);
    guard.mgr.progress_monitor = jpeg_on_progress;
    cinfo.progress = &guard.mgr;
    cinfo.mem->max_memory_to_use = (long)1 << 30;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&cinfo, TRUE);

    if (nic_check_dimensions(ctx, name, cinfo.image_width, cinfo.image_height) != NIC_OK) {
        status = nic_context_status(ctx);
        longjmp(err.jump, 1);
    }
    info->source_bit_depth = 8;
    info->source_channels = (uint32_t)cinfo.num_components;
    info->orientation = find_exif_orientation(&cinfo);

    int cmyk = 0;
    uint32_t channels;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
        cmyk = 1;
        channels = 3;
        break;
    default:
        cinfo.out_color_space = JCS_RGB;
        channels = 3;
        break;
    }
    jpeg_start_decompress(&cinfo);
    if (nic_image_alloc(ctx, img, cinfo.output_width, cinfo.output_height, channels) != NIC_OK) {
        status = nic_context_status(ctx);
        longjmp(err.jump, 1);
    }
    /* Photoshop and most tools write Adobe CMYK inverted (0 = full ink). */
    int inverted = cmyk && cinfo.saw_Adobe_marker;
    row = malloc((size_t)cinfo.output_width * (size_t)cinfo.output_components);
    if (!row) {
        status = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", name);
        longjmp(err.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JDIMENSION y = cinfo.output_scanline;
        uint8_t *dst = img->data + (size_t)y * img->width * channels;
        JSAMPROW rp = cmyk ? row : dst;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) {
            snprintf(err.message, sizeof(err.message), "no data for row %u", (unsigned)y);
            longjmp(err.jump, 1);
        }
        if (cmyk) {
            for (uint32_t x = 0; x < img->width; x++) {
                uint32_t c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2],
                         k = row[4 * x + 3];
                if (!inverted) {
                    c = 255 - c;
                    m = 255 - m;
                    yy = 255 - yy;
                    k = 255 - k;
                }
                dst[3 * x] = div255(c * k);
                dst[3 * x + 1] = div255(m * k);
                dst[3 * x + 2] = div255(yy * k);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return NIC_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct jpeg_write_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    unsigned char *buffer; /* jpeg_mem_dest's output; here so it survives a longjmp */
    unsigned long buffer_size;
} jpeg_write_error;

static void jpeg_on_write_error(j_common_ptr cinfo)
{
    jpeg_write_error *e = (jpeg_write_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* A minimal big-endian TIFF block with one IFD entry: Orientation. */
static size_t build_exif_orientation(uint8_t *out, int orientation)
{
    static const uint8_t head[] = {'E', 'x', 'i', 'f', 0, 0,        /* APP1 id */
                                   'M', 'M', 0, 42, 0, 0, 0, 8,     /* TIFF header, IFD at 8 */
                                   0, 1,                            /* one entry */
                                   0x01, 0x12, 0, 3, 0, 0, 0, 1};   /* tag 0x112 SHORT x1 */
    memcpy(out, head, sizeof(head));
    size_t n = sizeof(head);
    out[n++] = 0;
    out[n++] = (uint8_t)orientation;
    out[n++] = 0;
    out[n++] = 0;
    memset(out + n, 0, 4); /* next IFD offset: none */
    return n + 4;
}

nic_status nic_jpeg_encode(nic_context *ctx, const uint8_t *pixels, uint32_t width,
                           uint32_t height, uint32_t channels, const nic_jpeg_options *opt,
                           uint8_t **out, size_t *size)
{
    struct jpeg_compress_struct cinfo;
    jpeg_write_error err;

    if (!(channels == 1 || channels == 3 || (channels == 4 && opt->cmyk_adobe)))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "JPEG encoder: %u channels unsupported",
                        channels);
    memset(&err, 0, sizeof(err));
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_write_error;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(err.buffer);
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "JPEG encoding failed: %s", err.message);
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &err.buffer, &err.buffer_size);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = (int)channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    if (channels == 4)
        jpeg_set_colorspace(&cinfo, JCS_YCCK); /* writes the Adobe marker */
    jpeg_set_quality(&cinfo, opt->quality, TRUE);
    cinfo.optimize_coding = TRUE;
    if (opt->progressive)
        jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    if (opt->exif_orientation >= 1 && opt->exif_orientation <= 8) {
        uint8_t exif[64];
        size_t n = build_exif_orientation(exif, opt->exif_orientation);
        jpeg_write_marker(&cinfo, JPEG_APP0 + 1, exif, (unsigned)n);
    }
    size_t stride = (size_t)width * channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rp = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &rp, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = err.buffer;
    *size = err.buffer_size;
    return NIC_OK;
}
