#include "data/mnist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_COUNT 10000000u
#define IDX_MAX_SIDE 4096u

static nic_status read_exact(nic_context *ctx, gzFile f, const char *path, void *buf,
                             size_t n, const char *what)
{
    uint8_t *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) {
            int err;
            const char *msg = gzerror(f, &err);
            return NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: truncated while reading %s%s%s", path, what,
                            err ? ": " : "", err ? msg : "");
        }
        p += got;
        n -= (size_t)got;
    }
    return NIC_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static nic_status open_idx(nic_context *ctx, const char *path, gzFile *f)
{
    *f = gzopen(path, "rb"); /* reads plain files too */
    if (!*f)
        return NIC_FAIL(ctx, NIC_ERR_IO, "%s: cannot open: %s", path,
                        errno ? strerror(errno) : "out of memory");
    return NIC_OK;
}

nic_status nic_mnist_load_images(nic_context *ctx, const char *path, uint32_t max_count,
                                 nic_mnist *out)
{
    memset(out, 0, sizeof(*out));
    gzFile f;
    NIC_TRY(open_idx(ctx, path, &f));
    uint8_t head[16];
    nic_status st = read_exact(ctx, f, path, head, sizeof(head), "the header");
    if (st == NIC_OK && be32(head) != IDX_IMAGES_MAGIC)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not an IDX images file (magic %08x, expected %08x)",
                      path, be32(head), IDX_IMAGES_MAGIC);
    uint32_t count = 0, rows = 0, cols = 0;
    if (st == NIC_OK) {
        count = be32(head + 4);
        rows = be32(head + 8);
        cols = be32(head + 12);
        if (count == 0 || count > IDX_MAX_COUNT || rows == 0 || rows > IDX_MAX_SIDE || cols == 0 ||
            cols > IDX_MAX_SIDE)
            st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: implausible IDX header: %u images of %ux%u",
                          path, count, rows, cols);
    }
    if (st == NIC_OK) {
        uint32_t n = (max_count && max_count < count) ? max_count : count;
        size_t bytes = (size_t)n * rows * cols;
        out->pixels = malloc(bytes);
        if (!out->pixels)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory for %u images", path, n);
        else
            st = read_exact(ctx, f, path, out->pixels, bytes, "the pixels");
        out->count = n;
        out->rows = rows;
        out->cols = cols;
    }
    gzclose(f);
    if (st != NIC_OK)
        nic_mnist_free(out);
    return st;
}

nic_status nic_mnist_load_labels(nic_context *ctx, const char *path, nic_mnist *out)
{
    gzFile f;
    NIC_TRY(open_idx(ctx, path, &f));
    uint8_t head[8];
    nic_status st = read_exact(ctx, f, path, head, sizeof(head), "the header");
    if (st == NIC_OK && be32(head) != IDX_LABELS_MAGIC)
        st = NIC_FAIL(ctx, NIC_ERR_FORMAT, "%s: not an IDX labels file (magic %08x, expected %08x)",
                      path, be32(head), IDX_LABELS_MAGIC);
    if (st == NIC_OK && be32(head + 4) < out->count)
        st = NIC_FAIL(ctx, NIC_ERR_MISMATCH, "%s: %u labels for %u images", path, be32(head + 4),
                      out->count);
    if (st == NIC_OK) {
        free(out->labels);
        out->labels = malloc(out->count ? out->count : 1);
        if (!out->labels)
            st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "%s: out of memory", path);
        else
            st = read_exact(ctx, f, path, out->labels, out->count, "the labels");
    }
    gzclose(f);
    return st;
}

void nic_mnist_free(nic_mnist *m)
{
    free(m->pixels);
    free(m->labels);
    memset(m, 0, sizeof(*m));
}
