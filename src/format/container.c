/*
 * The .nic container: reader and writer of the layout in docs/FORMAT.md.
 *
 *   magic (2) | version << 4 | flags (1) | model id (V) | weights hash (4)
 *   | width - 1 (V) | height - 1 (V) | [orientation (1)] | [orig w - 1, h - 1 (V V)]
 *   | params length (V) | params | stream count (V) | stream lengths (V each)
 *   | streams | CRC-32 (4)
 *
 * V = unsigned LEB128 varint of at most 5 bytes, value < 2^32, shortest form.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/context.h"
#include "format/container_internal.h"
#include "format/varint.h"

#define FLAG_CHANNELS_MASK 0x3u
#define FLAG_ORIENTATION 0x4u
#define FLAG_ORIGINAL_SIZE 0x8u
#define MAX_FILE_SIZE ((size_t)256 << 20)

void nic_container_init(nic_container *c)
{
    memset(c, 0, sizeof(*c));
    c->version = NIC_CONTAINER_VERSION;
    c->channels = 3;
    c->orientation = 1;
}

size_t nic_container_overhead(const nic_container *c)
{
    /* Everything before the first stream but the parameters, plus the CRC. */
    return c->header_size >= c->params_size ? c->header_size - c->params_size + 4 : 0;
}

static uint32_t crc32_of(const uint8_t *data, size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        uInt chunk = size > 0x40000000u ? 0x40000000u : (uInt)size;
        crc = crc32(crc, data, chunk);
        data += chunk;
        size -= chunk;
    }
    return (uint32_t)crc;
}

/* ------------------------------------------------------------------ parse */

typedef struct reader {
    nic_context *ctx;
    const char *name;
    const uint8_t *data;
    size_t size;
    size_t pos;
} reader;

static nic_status read_varint(reader *r, const char *field, uint32_t *out)
{
    size_t at = r->pos;
    int n = nic_varint_read(r->data + r->pos, r->size - r->pos, out);
    if (n > 0) {
        r->pos += (size_t)n;
        return NIC_OK;
    }
    switch (n) {
    case NIC_VARINT_TRUNCATED:
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: truncated: the file ends at byte %zu inside the %s (a varint "
                        "starting at offset %zu)",
                        r->name, r->size, field, at);
    case NIC_VARINT_TOO_LONG:
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: offset %zu: the %s varint is longer than 5 bytes or exceeds "
                        "2^32 - 1",
                        r->name, at, field);
    default:
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: offset %zu: the %s varint is not in its shortest form (ends with "
                        "a zero byte)",
                        r->name, at, field);
    }
}

static nic_status read_bytes(reader *r, const char *field, size_t n, const uint8_t **out)
{
    if (r->size - r->pos < n)
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: truncated: the %s needs %zu bytes at offset %zu, the file has %zu "
                        "bytes",
                        r->name, field, n, r->pos, r->size);
    *out = r->data + r->pos;
    r->pos += n;
    return NIC_OK;
}

static nic_status check_magic(reader *r)
{
    const uint8_t *p = r->data;
    if (r->size >= 1 && p[0] == NIC_CONTAINER_MAGIC0 && r->size >= 2 &&
        p[1] == (NIC_CONTAINER_MAGIC1 & 0x7f))
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: not a .nic file: starts with 4E 49 where .nic files have 4E C9 "
                        "(the high bit was lost: sent over a 7-bit text channel?)",
                        r->name);
    if ((r->size >= 1 && p[0] != NIC_CONTAINER_MAGIC0) ||
        (r->size >= 2 && p[1] != NIC_CONTAINER_MAGIC1)) {
        char found[16];
        snprintf(found, sizeof(found), r->size >= 2 ? "%02X %02X" : "%02X", p[0],
                 r->size >= 2 ? p[1] : 0);
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: not a .nic file: offset 0: magic is %s, expected 4E C9", r->name,
                        found);
    }
    if (r->size < 3)
        return NIC_FAIL(r->ctx, NIC_ERR_FORMAT,
                        "%s: truncated: %zu bytes, a .nic file has at least 16", r->name,
                        r->size);
    return NIC_OK;
}

nic_status nic_container_parse(nic_context *ctx, const void *data, size_t size,
                               const char *name, unsigned flags, nic_container *out)
{
    if (!name)
        name = "<memory>";
    if (!out)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: output container is NULL", name);
    memset(out, 0, sizeof(*out));
    if (!data && size)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: data is NULL", name);
    if (size == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: file is empty", name);
    reader r = {ctx, name, data, size, 0};
    const uint8_t *p = data;

    NIC_TRY(check_magic(&r));
    uint8_t vf = p[2];
    r.pos = 3;
    out->version = vf >> 4;
    if (out->version == 0)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: offset 2: format version 0 is not valid",
                        name);
    if (out->version != NIC_CONTAINER_VERSION)
        return NIC_FAIL(ctx, NIC_ERR_UNSUPPORTED,
                        "%s: offset 2: format version %u, this nic reads version %u (a newer "
                        "nic is needed)",
                        name, out->version, NIC_CONTAINER_VERSION);
    out->channels = (vf & FLAG_CHANNELS_MASK) + 1;

    uint32_t w1, h1;
    const uint8_t *hash = NULL;
    NIC_TRY(read_varint(&r, "model id", &out->model_id));
    NIC_TRY(read_bytes(&r, "weights hash", 4, &hash));
    out->weights_hash = (uint32_t)hash[0] | (uint32_t)hash[1] << 8 | (uint32_t)hash[2] << 16 |
                        (uint32_t)hash[3] << 24;
    NIC_TRY(read_varint(&r, "width - 1", &w1));
    NIC_TRY(read_varint(&r, "height - 1", &h1));
    size_t orientation_at = r.pos;
    out->orientation = 1;
    if (vf & FLAG_ORIENTATION) {
        const uint8_t *o = NULL;
        NIC_TRY(read_bytes(&r, "orientation", 1, &o));
        out->orientation = o[0];
    }
    uint32_t ow1 = 0, oh1 = 0;
    if (vf & FLAG_ORIGINAL_SIZE) {
        NIC_TRY(read_varint(&r, "original width - 1", &ow1));
        NIC_TRY(read_varint(&r, "original height - 1", &oh1));
    }
    uint32_t params_size;
    NIC_TRY(read_varint(&r, "parameters length", &params_size));
    NIC_TRY(read_bytes(&r, "parameters", params_size, &out->params));
    out->params_size = params_size;
    NIC_TRY(read_varint(&r, "stream count", &out->stream_count));
    if (out->stream_count > NIC_CONTAINER_MAX_STREAMS)
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: offset %zu: %u streams, at most %d are allowed", name, r.pos - 1,
                        out->stream_count, NIC_CONTAINER_MAX_STREAMS);
    uint64_t total = 0;
    for (uint32_t i = 0; i < out->stream_count; i++) {
        uint32_t len;
        char field[32];
        snprintf(field, sizeof(field), "length of stream %u", i);
        NIC_TRY(read_varint(&r, field, &len));
        out->streams[i].size = len;
        total += len;
    }
    out->header_size = r.pos;
    uint64_t declared = (uint64_t)r.pos + total + 4;
    out->file_size = declared > (uint64_t)(size_t)-1 ? (size_t)-1 : (size_t)declared;

    /* Lay the streams out, and check the declared size against the data. */
    size_t at = r.pos;
    for (uint32_t i = 0; i < out->stream_count; i++) {
        nic_stream *s = &out->streams[i];
        s->offset = at;
        s->data = p + (at < size ? at : size);
        if ((uint64_t)at + s->size > size) {
            if (!(flags & NIC_CONTAINER_ALLOW_TRUNCATED))
                return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                                "%s: truncated: stream %u (%zu bytes at offset %zu) ends at "
                                "byte %llu, past the end of the %zu-byte file",
                                name, i, s->size, at,
                                (unsigned long long)((uint64_t)at + s->size), size);
            out->truncated = 1;
            s->size = at < size ? size - at : 0;
        }
        at += s->size;
        if (out->truncated)
            at = at > size ? size : at;
    }
    if (!out->truncated) {
        if (declared > size) {
            if (!(flags & NIC_CONTAINER_ALLOW_TRUNCATED))
                return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                                "%s: truncated: the CRC-32 belongs at offset %zu, the file "
                                "has %zu bytes (expected %llu)",
                                name, at, size, (unsigned long long)declared);
            out->truncated = 1;
        } else if (declared < size) {
            return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                            "%s: %zu bytes of unexpected data after the CRC-32 at offset %zu "
                            "(the streams declare a %llu-byte file)",
                            name, size - (size_t)declared, at, (unsigned long long)declared);
        } else {
            const uint8_t *c = p + at;
            out->crc = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
                       (uint32_t)c[3] << 24;
            uint32_t computed = crc32_of(p, at);
            if (computed != out->crc)
                return NIC_FAIL(ctx, NIC_ERR_CORRUPT,
                                "%s: offset %zu: CRC-32 mismatch: stored %08x, computed %08x "
                                "over bytes 0..%zu (the file is corrupted)",
                                name, at, out->crc, computed, at - 1);
        }
    }

    /* Field values, checked once the bytes are known to be intact. */
    /* Present only when it is not 1, so that every file has one encoding. */
    if ((vf & FLAG_ORIENTATION) && (out->orientation < 2 || out->orientation > 8))
        return NIC_FAIL(ctx, NIC_ERR_FORMAT,
                        "%s: offset %zu: orientation %u, expected 2..8 (EXIF; 1 is written by "
                        "leaving the field out)",
                        name, orientation_at, out->orientation);
    NIC_TRY(nic_check_dimensions(ctx, name, (uint64_t)w1 + 1, (uint64_t)h1 + 1));
    out->width = w1 + 1;
    out->height = h1 + 1;
    if (vf & FLAG_ORIGINAL_SIZE) {
        char what[300];
        snprintf(what, sizeof(what), "%s (original size)", name);
        NIC_TRY(nic_check_dimensions(ctx, what, (uint64_t)ow1 + 1, (uint64_t)oh1 + 1));
        out->original_width = ow1 + 1;
        out->original_height = oh1 + 1;
    }
    return NIC_OK;
}

nic_status nic_container_read_file(nic_context *ctx, const char *path, unsigned flags,
                                   uint8_t **data, size_t *size, nic_container *out)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    nic_status st = NIC_OK;
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_FILE_SIZE + 1) {
                st = NIC_FAIL(ctx, NIC_ERR_LIMIT, "%s: larger than %zu MiB, not a .nic file",
                              path, MAX_FILE_SIZE >> 20);
                break;
            }
            size_t ncap = cap * 2 > MAX_FILE_SIZE + 1 ? MAX_FILE_SIZE + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                st = NIC_FAIL(ctx, NIC_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (st == NIC_OK)
        st = nic_container_parse(ctx, buf, n, path, flags, out);
    if (st != NIC_OK) {
        free(buf);
        memset(out, 0, sizeof(*out));
        return st;
    }
    *data = buf;
    *size = n;
    return NIC_OK;
}

/* ------------------------------------------------------------------ write */

nic_status nic_container_write(nic_context *ctx, nic_container *c, uint8_t **out,
                               size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (c->version != NIC_CONTAINER_VERSION)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "container: version %u, this nic writes version %u", c->version,
                        NIC_CONTAINER_VERSION);
    if (c->channels < 1 || c->channels > 4)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "container: %u channels, expected 1..4",
                        c->channels);
    if (c->orientation < 1 || c->orientation > 8)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "container: orientation %u, expected 1..8", c->orientation);
    if (c->stream_count > NIC_CONTAINER_MAX_STREAMS)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "container: %u streams, at most %d",
                        c->stream_count, NIC_CONTAINER_MAX_STREAMS);
    if (c->width == 0 || c->height == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "container: image size %ux%u",
                        c->width, c->height);
    NIC_TRY(nic_check_dimensions(ctx, "container", c->width, c->height));
    int has_original = c->original_width != 0 || c->original_height != 0;
    if (has_original)
        NIC_TRY(nic_check_dimensions(ctx, "container (original size)", c->original_width,
                                     c->original_height));
    if (c->params_size > UINT32_MAX || (c->params_size && !c->params))
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "container: bad parameters (%zu bytes)",
                        c->params_size);
    uint64_t payload = c->params_size;
    for (uint32_t i = 0; i < c->stream_count; i++) {
        if (c->streams[i].size > UINT32_MAX || (c->streams[i].size && !c->streams[i].data))
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "container: stream %u: bad data (%zu bytes)", i,
                            c->streams[i].size);
        payload += c->streams[i].size;
    }
    /* Header: at most 2 + 1 + 5 + 4 + 5 + 5 + 1 + 5 + 5 + 5 + 5 + 5 * 32 bytes. */
    uint8_t head[256];
    size_t h = 0;
    uint8_t flags = (uint8_t)(c->channels - 1);
    if (c->orientation != 1)
        flags |= FLAG_ORIENTATION;
    if (has_original)
        flags |= FLAG_ORIGINAL_SIZE;
    head[h++] = NIC_CONTAINER_MAGIC0;
    head[h++] = NIC_CONTAINER_MAGIC1;
    head[h++] = (uint8_t)(NIC_CONTAINER_VERSION << 4 | flags);
    h += nic_varint_write(head + h, c->model_id);
    head[h++] = (uint8_t)c->weights_hash;
    head[h++] = (uint8_t)(c->weights_hash >> 8);
    head[h++] = (uint8_t)(c->weights_hash >> 16);
    head[h++] = (uint8_t)(c->weights_hash >> 24);
    h += nic_varint_write(head + h, c->width - 1);
    h += nic_varint_write(head + h, c->height - 1);
    if (c->orientation != 1)
        head[h++] = (uint8_t)c->orientation;
    if (has_original) {
        h += nic_varint_write(head + h, c->original_width - 1);
        h += nic_varint_write(head + h, c->original_height - 1);
    }
    h += nic_varint_write(head + h, (uint32_t)c->params_size);
    uint8_t tail[5 + 5 * NIC_CONTAINER_MAX_STREAMS];
    size_t t = nic_varint_write(tail, c->stream_count);
    for (uint32_t i = 0; i < c->stream_count; i++)
        t += nic_varint_write(tail + t, (uint32_t)c->streams[i].size);

    uint64_t total = (uint64_t)h + payload + t + 4;
    if (total > MAX_FILE_SIZE)
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "container: %llu bytes, more than %zu MiB",
                        (unsigned long long)total, MAX_FILE_SIZE >> 20);
    uint8_t *buf = malloc((size_t)total);
    if (!buf)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "container: cannot allocate %llu bytes",
                        (unsigned long long)total);
    size_t pos = 0;
    memcpy(buf, head, h);
    pos = h;
    if (c->params_size)
        memcpy(buf + pos, c->params, c->params_size);
    pos += c->params_size;
    memcpy(buf + pos, tail, t);
    pos += t;
    c->header_size = pos;
    for (uint32_t i = 0; i < c->stream_count; i++) {
        if (c->streams[i].size)
            memcpy(buf + pos, c->streams[i].data, c->streams[i].size);
        c->streams[i].offset = pos;
        pos += c->streams[i].size;
    }
    uint32_t crc = crc32_of(buf, pos);
    buf[pos++] = (uint8_t)crc;
    buf[pos++] = (uint8_t)(crc >> 8);
    buf[pos++] = (uint8_t)(crc >> 16);
    buf[pos++] = (uint8_t)(crc >> 24);
    c->crc = crc;
    c->file_size = pos;
    c->truncated = 0;
    *out = buf;
    *out_size = pos;
    return NIC_OK;
}

nic_status nic_container_write_file(nic_context *ctx, const char *path, nic_container *c)
{
    uint8_t *buf;
    size_t size;
    NIC_TRY(nic_container_write(ctx, c, &buf, &size));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    size_t wrote = fwrite(buf, 1, size, f);
    int err = ferror(f);
    int close_failed = fclose(f) != 0;
    free(buf);
    if (wrote != size || err || close_failed)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return NIC_OK;
}

nic_status nic_container_declared_sizes(nic_context *ctx, const nic_container *c,
                                        const uint8_t *data, size_t size, uint32_t *sizes)
{
    /* The lengths follow the parameters and the stream count (FORMAT.md 2). */
    if (!c->params || c->params < data || (size_t)(c->params - data) > size ||
        c->header_size > size)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "container: the parsed header does not belong to this data");
    size_t pos = (size_t)(c->params - data) + c->params_size;
    uint32_t count;
    for (uint32_t i = 0; i <= c->stream_count; i++) {
        int n = pos < c->header_size ? nic_varint_read(data + pos, c->header_size - pos, &count)
                                     : NIC_VARINT_TRUNCATED;
        if (n <= 0 || (i == 0 && count != c->stream_count))
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "container: the parsed header does not belong to this data");
        if (i > 0)
            sizes[i - 1] = count;
        pos += (size_t)n;
    }
    return NIC_OK;
}
