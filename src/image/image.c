/* Image buffers, format detection, and the file-level read/write entry points. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_internal.h"

/* Files larger than this are refused before reading (no image nic accepts needs more). */
#define NIC_MAX_INPUT_FILE_BYTES ((size_t)1 << 30)

nic_status nic_image_alloc(nic_context *ctx, nic_image *img, uint32_t width, uint32_t height,
                           uint32_t channels)
{
    if (!img)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_image_alloc: image is NULL");
    memset(img, 0, sizeof(*img));
    if (channels != 1 && channels != 3)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "nic_image_alloc: channels must be 1 or 3, got %u", channels);
    size_t n;
    if (width == 0 || height == 0 || !nic_mul_size(width, height, &n) ||
        !nic_mul_size(n, channels, &n))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_image_alloc: bad size %ux%ux%u",
                        width, height, channels);
    img->data = calloc(n, 1);
    if (!img->data)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory allocating a %ux%u image", width,
                        height);
    img->width = width;
    img->height = height;
    img->channels = channels;
    return NIC_OK;
}

void nic_image_free(nic_image *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof(*img));
}

const char *nic_image_format_name(nic_image_format format)
{
    switch (format) {
    case NIC_FORMAT_PNG: return "PNG";
    case NIC_FORMAT_JPEG: return "JPEG";
    case NIC_FORMAT_PNM: return "PNM";
    case NIC_FORMAT_NIC: return "NIC";
    case NIC_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

nic_image_format nic_image_detect_format(const void *data, size_t size)
{
    const uint8_t *p = data;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!p)
        return NIC_FORMAT_UNKNOWN;
    if (size >= 8 && memcmp(p, png_sig, 8) == 0)
        return NIC_FORMAT_PNG;
    if (size >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return NIC_FORMAT_JPEG;
    if (size >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7')
        return NIC_FORMAT_PNM;
    if (size >= 2 && p[0] == NIC_CONTAINER_MAGIC0 && p[1] == NIC_CONTAINER_MAGIC1)
        return NIC_FORMAT_NIC;
    return NIC_FORMAT_UNKNOWN;
}

nic_status nic_image_read_memory(nic_context *ctx, const void *data, size_t size,
                                 const char *name, nic_image *img, nic_image_info *info)
{
    nic_image_info local_info;
    if (!name)
        name = "<memory>";
    if (!img)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: output image is NULL", name);
    memset(img, 0, sizeof(*img));
    if (!info)
        info = &local_info;
    memset(info, 0, sizeof(*info));
    if (!data && size)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: data is NULL", name);
    if (size == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: file is empty", name);

    nic_image_format fmt = nic_image_detect_format(data, size);
    info->format = fmt;
    nic_status st;
    switch (fmt) {
    case NIC_FORMAT_PNG: st = nic_png_decode(ctx, data, size, name, img, info); break;
    case NIC_FORMAT_JPEG: st = nic_jpeg_decode(ctx, data, size, name, img, info); break;
    case NIC_FORMAT_PNM: st = nic_pnm_decode(ctx, data, size, name, img, info); break;
    case NIC_FORMAT_NIC:
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "%s: this is a .nic file; decode it first (nic decode)", name);
    default: {
        const uint8_t *p = data;
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "%s: not a PNG, JPEG, PPM or PGM file (starts with bytes %02x %02x %02x "
                        "%02x)",
                        name, p[0], size > 1 ? p[1] : 0, size > 2 ? p[2] : 0,
                        size > 3 ? p[3] : 0);
    }
    }
    if (st != NIC_OK) {
        nic_image_free(img);
        return st;
    }
    if (info->orientation > 1) {
        st = nic_image_apply_orientation(ctx, img, info->orientation);
        if (st != NIC_OK) {
            nic_image_free(img);
            return st;
        }
    }
    if (info->had_alpha)
        nic_log(ctx, NIC_LOG_WARNING,
                "%s: alpha channel ignored (nic codes color only; transparent areas keep their "
                "stored color)",
                name);
    return NIC_OK;
}

/* Reads a whole stream; "-" means standard input. */
static nic_status read_whole_file(nic_context *ctx, const char *path, uint8_t **out,
                                  size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    int use_stdin = strcmp(path, "-") == 0;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    struct stat sb;
    if (!use_stdin && fstat(fileno(f), &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fclose(f);
            return NIC_FAIL(ctx, NIC_ERR_IO, "%s: is a directory", path);
        }
        if (S_ISREG(sb.st_mode)) {
            if ((uint64_t)sb.st_size > NIC_MAX_INPUT_FILE_BYTES) {
                fclose(f);
                return NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: file is %lld bytes, larger than %zu",
                                path, (long long)sb.st_size, NIC_MAX_INPUT_FILE_BYTES);
            }
            cap = (size_t)sb.st_size + 1;
        }
    }
    uint8_t *buf = malloc(cap);
    if (!buf) {
        if (!use_stdin)
            fclose(f);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                if (!use_stdin)
                    fclose(f);
                return NIC_FAIL(ctx, NIC_ERR_IO, "%s: read error: %s", path, strerror(errno));
            }
            break;
        }
        if (len == cap) {
            if (cap >= NIC_MAX_INPUT_FILE_BYTES) {
                free(buf);
                if (!use_stdin)
                    fclose(f);
                return NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: input larger than %zu bytes", path,
                                NIC_MAX_INPUT_FILE_BYTES);
            }
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                if (!use_stdin)
                    fclose(f);
                return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!use_stdin)
        fclose(f);
    *out = buf;
    *out_size = len;
    return NIC_OK;
}

nic_status nic_image_read_file(nic_context *ctx, const char *path, nic_image *img,
                               nic_image_info *info)
{
    if (!path)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_image_read_file: path is NULL");
    if (img)
        memset(img, 0, sizeof(*img));
    uint8_t *data;
    size_t size;
    NIC_TRY(read_whole_file(ctx, path, &data, &size));
    nic_status st = nic_image_read_memory(ctx, data, size, path, img, info);
    free(data);
    return st;
}

nic_status nic_write_whole_file(nic_context *ctx, const char *path, const uint8_t *data,
                                size_t size)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, size, stdout) != size || fflush(stdout) != 0)
            return NIC_FAIL(ctx, NIC_ERR_IO, "<stdout>: write failed: %s", strerror(errno));
        return NIC_OK;
    }
    size_t n = strlen(path);
    char *tmp = malloc(n + 32);
    if (!tmp)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    int ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        nic_status st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return NIC_OK;
}

static nic_status check_image(nic_context *ctx, const char *what, const nic_image *img)
{
    if (!img || !img->data || img->width == 0 || img->height == 0 ||
        (img->channels != 1 && img->channels != 3))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "%s: image must be non-empty with 1 or 3 channels", what);
    return NIC_OK;
}

nic_status nic_image_encode_png(nic_context *ctx, const nic_image *img, uint8_t **out,
                                size_t *out_size)
{
    NIC_TRY(check_image(ctx, "PNG encoder", img));
    if (!out || !out_size)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "PNG encoder: output pointer is NULL");
    return nic_png_encode(ctx, img, out, out_size);
}

typedef nic_status (*encode_fn)(nic_context *, const nic_image *, uint8_t **, size_t *);

static nic_status encode_and_write(nic_context *ctx, const char *path, const nic_image *img,
                                   encode_fn encode)
{
    if (!path)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "output path is NULL");
    NIC_TRY(check_image(ctx, path, img));
    uint8_t *buf = NULL;
    size_t size = 0;
    nic_status st = encode(ctx, img, &buf, &size);
    if (st != NIC_OK)
        return nic_fail_prefix(ctx, "%s", path);
    st = nic_write_whole_file(ctx, path, buf, size);
    free(buf);
    return st;
}

nic_status nic_image_write_png(nic_context *ctx, const char *path, const nic_image *img)
{
    return encode_and_write(ctx, path, img, nic_png_encode);
}

nic_status nic_image_write_pnm(nic_context *ctx, const char *path, const nic_image *img)
{
    return encode_and_write(ctx, path, img, nic_pnm_encode);
}

nic_status nic_image_write_jpeg(nic_context *ctx, const char *path, const nic_image *img,
                                int quality)
{
    if (!path)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "output path is NULL");
    NIC_TRY(check_image(ctx, path, img));
    if (quality < 1 || quality > 100)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: JPEG quality %d is not in 1..100",
                        path, quality);
    nic_jpeg_options opt = {.quality = quality};
    uint8_t *buf = NULL;
    size_t size = 0;
    if (nic_jpeg_encode(ctx, img->data, img->width, img->height, img->channels, &opt, &buf,
                        &size) != NIC_OK)
        return nic_fail_prefix(ctx, "%s", path);
    nic_status st = nic_write_whole_file(ctx, path, buf, size);
    free(buf);
    return st;
}

static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && path[n - e - 1] == '.' && strcasecmp(path + n - e, ext) == 0;
}

nic_status nic_image_write_file(nic_context *ctx, const char *path, const nic_image *img)
{
    if (!path)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "output path is NULL");
    if (has_extension(path, "png") || strcmp(path, "-") == 0)
        return nic_image_write_png(ctx, path, img);
    if (has_extension(path, "ppm") || has_extension(path, "pgm") || has_extension(path, "pnm"))
        return nic_image_write_pnm(ctx, path, img);
    if (has_extension(path, "jpg") || has_extension(path, "jpeg"))
        return nic_image_write_jpeg(ctx, path, img, 90);
    return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                    "%s: unknown output format (use .png, .ppm, .pgm or .jpg)", path);
}
