/*
 * The .nic container: field round trips, the measured overhead, a golden
 * file (tests/fixtures/format/sample.nic: any change of the format shows up
 * here; regenerate with NIC_UPDATE_GOLDEN=1 only for an intended format
 * change, with a version bump), and malformed files: truncated at every
 * byte, wrong magic, 7-bit-stripped magic, versions, every single-byte
 * corruption, lengths past the end, trailing bytes, absurd dimensions,
 * bad orientation, non-canonical varints, too many streams. Malformed
 * files are built by an independent writer that follows docs/FORMAT.md.
 */
#include <stdint.h>
#include <zlib.h>

#include "nic.h"
#include "test.h"

/* ---------------------------------------------------- raw writer (from the spec) */

typedef struct raw {
    uint8_t b[4096];
    size_t n;
} raw;

static void raw_u8(raw *r, unsigned v)
{
    r->b[r->n++] = (uint8_t)v;
}
static void raw_varint(raw *r, uint64_t v)
{
    while (v >= 0x80) {
        raw_u8(r, (unsigned)(v & 0x7f) | 0x80);
        v >>= 7;
    }
    raw_u8(r, (unsigned)v);
}
static void raw_u32(raw *r, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        raw_u8(r, (v >> (8 * i)) & 0xff);
}
static void raw_crc(raw *r)
{
    raw_u32(r, (uint32_t)crc32(0, r->b, (uInt)r->n));
}

typedef struct fields {
    unsigned version, channels, orientation;
    uint64_t w1, h1, ow1, oh1;
    int has_orientation, has_original;
    unsigned model;
    uint32_t hash;
    unsigned nparams;
    unsigned nstreams;
    unsigned lens[40];
} fields;

static fields default_fields(void)
{
    fields f;
    memset(&f, 0, sizeof(f));
    f.version = 1;
    f.channels = 3;
    f.w1 = 767;
    f.h1 = 511;
    f.model = 1;
    f.hash = 0xdeadbeef;
    f.nparams = 2;
    f.nstreams = 2;
    f.lens[0] = 10;
    f.lens[1] = 300;
    return f;
}

/* Header fields and stream bytes, then the CRC. */
static void raw_build(raw *r, const fields *f)
{
    r->n = 0;
    raw_u8(r, 0x4e);
    raw_u8(r, 0xc9);
    raw_u8(r, f->version << 4 | (f->channels - 1) | (f->has_orientation ? 4 : 0) |
                  (f->has_original ? 8 : 0));
    raw_varint(r, f->model);
    raw_u32(r, f->hash);
    raw_varint(r, f->w1);
    raw_varint(r, f->h1);
    if (f->has_orientation)
        raw_u8(r, f->orientation);
    if (f->has_original) {
        raw_varint(r, f->ow1);
        raw_varint(r, f->oh1);
    }
    raw_varint(r, f->nparams);
    for (unsigned i = 0; i < f->nparams; i++)
        raw_u8(r, 0x10 + i);
    raw_varint(r, f->nstreams);
    for (unsigned i = 0; i < f->nstreams; i++)
        raw_varint(r, f->lens[i]);
    for (unsigned i = 0; i < f->nstreams; i++)
        for (unsigned j = 0; j < f->lens[i]; j++)
            raw_u8(r, (i * 31 + j * 7) & 0xff);
    raw_crc(r);
}

static nic_status parse(nic_context *ctx, const raw *r, nic_container *c)
{
    return nic_container_parse(ctx, r->b, r->n, "t.nic", 0, c);
}

static int has(nic_context *ctx, const char *needle)
{
    int ok = strstr(nic_context_error(ctx), needle) != NULL;
    if (!ok)
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", nic_context_error(ctx), needle);
    return ok;
}

/* ---------------------------------------------------- tests */

static const uint8_t stream_a[] = {1, 2, 3, 4, 5};
static uint8_t stream_b[300];
static const uint8_t params[] = {42, 7};

static void sample_container(nic_container *c)
{
    nic_container_init(c);
    c->model_id = 1;
    c->weights_hash = 0x1234abcd;
    c->width = 768;
    c->height = 512;
    c->channels = 3;
    c->params = params;
    c->params_size = sizeof(params);
    c->stream_count = 2;
    c->streams[0].data = stream_a;
    c->streams[0].size = sizeof(stream_a);
    for (size_t i = 0; i < sizeof(stream_b); i++)
        stream_b[i] = (uint8_t)(i * 13 + 5);
    c->streams[1].data = stream_b;
    c->streams[1].size = sizeof(stream_b);
}

static void test_roundtrip(nic_context *ctx)
{
    nic_container c, d;
    sample_container(&c);
    c.orientation = 6;
    c.original_width = 1536;
    c.original_height = 1024;
    c.channels = 1;
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_OK);
    CHECK(size == c.file_size);
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "rt", 0, &d), NIC_OK);
    CHECK(d.version == 1 && d.model_id == 1 && d.weights_hash == 0x1234abcd);
    CHECK(d.width == 768 && d.height == 512 && d.channels == 1 && d.orientation == 6);
    CHECK(d.original_width == 1536 && d.original_height == 1024);
    CHECK(d.params_size == 2 && d.params[0] == 42 && d.params[1] == 7);
    CHECK(d.stream_count == 2 && d.streams[0].size == 5 && d.streams[1].size == 300);
    CHECK(memcmp(d.streams[1].data, stream_b, 300) == 0);
    CHECK(d.streams[0].offset == c.streams[0].offset && d.streams[1].offset == c.streams[1].offset);
    CHECK(d.crc == c.crc && d.header_size == c.header_size && d.file_size == size);
    CHECK(!d.truncated);
    CHECK(nic_container_overhead(&d) == size - 2 - 305);
    free(buf);

    /* No streams, no parameters, the smallest image. */
    nic_container_init(&c);
    c.width = c.height = 1;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_OK);
    CHECK(size == 16);
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "min", 0, &d), NIC_OK);
    CHECK(d.width == 1 && d.height == 1 && d.stream_count == 0 && d.original_width == 0);
    free(buf);

    /* Files on disk. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/test_container.nic", test_tmp_dir());
    sample_container(&c);
    CHECK_STATUS(nic_container_write_file(ctx, path, &c), NIC_OK);
    uint8_t *data;
    CHECK_STATUS(nic_container_read_file(ctx, path, 0, &data, &size, &d), NIC_OK);
    CHECK(size == c.file_size && d.stream_count == 2 && d.streams[1].data == data + c.streams[1].offset);
    free(data);
    remove(path);
    CHECK_STATUS(nic_container_read_file(ctx, path, 0, &data, &size, &d), NIC_ERR_IO);
    CHECK(has(ctx, "cannot open"));
}

/* Fixed overhead by image size: everything that is neither params nor streams. */
static void test_overhead(nic_context *ctx)
{
    static const uint32_t dims[][2] = {{64, 64}, {128, 128}, {512, 512}, {768, 512}, {4000, 3000}};
    printf("container overhead (1 stream of 2000 bytes, no parameters, model id < 128):\n");
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
        static uint8_t payload[2000];
        nic_container c;
        nic_container_init(&c);
        c.model_id = 3;
        c.width = dims[i][0];
        c.height = dims[i][1];
        c.stream_count = 1;
        c.streams[0].data = payload;
        c.streams[0].size = sizeof(payload);
        uint8_t *buf;
        size_t size;
        CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_OK);
        size_t fixed = nic_container_overhead(&c) - 2; /* less the stream's own length */
        printf("  %4ux%-4u  %zu bytes fixed + 2 for the stream length = %zu\n", dims[i][0],
               dims[i][1], fixed, fixed + 2);
        CHECK(fixed <= (dims[i][0] <= 128 ? 16u : 18u));
        free(buf);
    }
}

static void test_golden(nic_context *ctx, const char *fixtures)
{
    nic_container c;
    sample_container(&c);
    c.orientation = 3;
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_OK);
    char path[1024];
    snprintf(path, sizeof(path), "%s/format/sample.nic", fixtures);
    if (getenv("NIC_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(buf, 1, size, f) == size);
        if (f)
            fclose(f);
    }
    uint8_t *golden;
    size_t gsize;
    nic_container g;
    CHECK_STATUS(nic_container_read_file(ctx, path, 0, &golden, &gsize, &g), NIC_OK);
    CHECK_MSG(gsize == size && memcmp(golden, buf, size) == 0,
              "the writer's output differs from %s: the format changed", path);
    CHECK(g.orientation == 3 && g.width == 768 && g.crc == c.crc);
    CHECK_MSG(c.crc == 0x122a732cu, "CRC of the sample is %08x", c.crc);
    free(golden);
    free(buf);
}

static void test_truncation_and_corruption(nic_context *ctx)
{
    nic_container c, d;
    sample_container(&c);
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_OK);
    /* Every prefix is an error with a message; never OK. */
    int all_format = 1;
    for (size_t k = 0; k < size; k++) {
        uint8_t *copy = malloc(k ? k : 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, buf, k);
        nic_status st = nic_container_parse(ctx, copy, k, "cut", 0, &d);
        all_format &= st == NIC_ERR_FORMAT && nic_context_error(ctx)[0] != '\0';
        if (k > 0 && k < 3)
            all_format &= has(ctx, "truncated");
        /* Progressive readers may accept a cut inside the streams. */
        st = nic_container_parse(ctx, copy, k, "cut", NIC_CONTAINER_ALLOW_TRUNCATED, &d);
        if (k >= c.header_size) {
            all_format &= st == NIC_OK && d.truncated;
            size_t got = 0;
            for (uint32_t i = 0; i < d.stream_count; i++)
                got += d.streams[i].size;
            all_format &= got == (k < c.header_size + 305 ? k - c.header_size : 305);
        } else {
            all_format &= st == NIC_ERR_FORMAT;
        }
        free(copy);
    }
    CHECK(all_format);
    CHECK_STATUS(nic_container_parse(ctx, buf, size - 1, "t.nic", 0, &d), NIC_ERR_FORMAT);
    CHECK(has(ctx, "truncated") && has(ctx, "CRC"));
    CHECK_STATUS(nic_container_parse(ctx, buf, 20, "t.nic", 0, &d), NIC_ERR_FORMAT);
    CHECK(has(ctx, "stream 0") && has(ctx, "past the end"));

    /* Any single corrupted byte is detected (CRC-32 catches every burst of <= 32 bits). */
    int all_caught = 1;
    for (size_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            all_caught &= nic_container_parse(ctx, buf, size, "flip", 0, &d) != NIC_OK;
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK(all_caught);
    buf[size - 30] ^= 0x40;
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "t.nic", 0, &d), NIC_ERR_CORRUPT);
    CHECK(has(ctx, "CRC-32 mismatch") && has(ctx, "stored"));
    buf[size - 30] ^= 0x40;

    /* Trailing bytes. */
    uint8_t *longer = malloc(size + 3);
    memcpy(longer, buf, size);
    memset(longer + size, 0, 3);
    CHECK_STATUS(nic_container_parse(ctx, longer, size + 3, "t.nic", 0, &d), NIC_ERR_FORMAT);
    CHECK(has(ctx, "3 bytes of unexpected data"));
    free(longer);
    free(buf);
}

static void test_malformed_fields(nic_context *ctx)
{
    raw r;
    nic_container c;
    fields f = default_fields();
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_OK);
    CHECK(c.width == 768 && c.stream_count == 2 && c.params_size == 2);

    /* Magic. */
    r.b[0] = 'P';
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "magic is 50 C9, expected 4E C9"));
    r.b[0] = 0x4e;
    r.b[1] = 0x49;
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "7-bit"));
    uint8_t one = 'x';
    CHECK_STATUS(nic_container_parse(ctx, &one, 1, "t.nic", 0, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "magic is 78"));
    CHECK_STATUS(nic_container_parse(ctx, NULL, 0, "t.nic", 0, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "empty"));

    /* Versions. */
    f.version = 0;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "version 0"));
    f.version = 2;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_UNSUPPORTED);
    CHECK(has(ctx, "format version 2, this nic reads version 1"));
    f = default_fields();

    /* Absurd dimensions (CRC correct, so the values themselves are refused). */
    f.w1 = 0xffffffffu;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_LIMIT);
    CHECK(has(ctx, "4294967296x512"));
    f.w1 = 70000;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_LIMIT);
    f.w1 = 65534;
    f.h1 = 65534;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_LIMIT);
    CHECK(has(ctx, "pixels"));
    f = default_fields();
    f.has_original = 1;
    f.ow1 = 99999;
    f.oh1 = 10;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_LIMIT);
    CHECK(has(ctx, "original size"));
    f.ow1 = 1023;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_OK);
    CHECK(c.original_width == 1024 && c.original_height == 11);
    f = default_fields();

    /* Orientation. */
    f.has_orientation = 1;
    f.orientation = 9;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "orientation 9"));
    f.orientation = 0;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    f.orientation = 1; /* 1 is written by leaving the field out: one encoding per file */
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    f.orientation = 8;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_OK);
    CHECK(c.orientation == 8);
    f = default_fields();

    /* Streams. */
    f.nstreams = 33;
    for (int i = 0; i < 33; i++)
        f.lens[i] = 1;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "33 streams"));
    f.nstreams = 32;
    raw_build(&r, &f);
    CHECK_STATUS(parse(ctx, &r, &c), NIC_OK);
    f = default_fields();
    f.lens[1] = 3000; /* declared past the end */
    raw_build(&r, &f);
    r.n -= 2700 + 4; /* keep only 300 of its bytes, drop the CRC */
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "stream 1 (3000 bytes at offset") && has(ctx, "past the end"));
    f = default_fields();
    f.nparams = 200;
    raw_build(&r, &f);
    r.n = 30;
    CHECK_STATUS(parse(ctx, &r, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "parameters needs 200 bytes"));

    /* Varints: overlong, longer than 5 bytes, above 2^32 - 1. */
    static const uint8_t overlong[] = {0x4e, 0xc9, 0x12, 0x81, 0x00};
    static const uint8_t six[] = {0x4e, 0xc9, 0x12, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t big[] = {0x4e, 0xc9, 0x12, 0xff, 0xff, 0xff, 0xff, 0x1f};
    CHECK_STATUS(nic_container_parse(ctx, overlong, sizeof(overlong), "v", 0, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "offset 3") && has(ctx, "shortest form"));
    CHECK_STATUS(nic_container_parse(ctx, six, sizeof(six), "v", 0, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "longer than 5 bytes"));
    CHECK_STATUS(nic_container_parse(ctx, big, sizeof(big), "v", 0, &c), NIC_ERR_FORMAT);
    CHECK(has(ctx, "model id"));
}

static void test_writer_validation(nic_context *ctx)
{
    nic_container c;
    uint8_t *buf;
    size_t size;
    sample_container(&c);
    c.channels = 5;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    sample_container(&c);
    c.orientation = 0;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    sample_container(&c);
    c.stream_count = 33;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    sample_container(&c);
    c.width = 0;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    sample_container(&c);
    c.width = 100000;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_LIMIT);
    sample_container(&c);
    c.streams[1].data = NULL;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
    sample_container(&c);
    c.version = 2;
    CHECK_STATUS(nic_container_write(ctx, &c, &buf, &size), NIC_ERR_INVALID_ARGUMENT);
}

int main(int argc, char **argv)
{
    nic_context *ctx = nic_context_create();
    test_roundtrip(ctx);
    test_overhead(ctx);
    test_golden(ctx, test_fixtures_dir(argc, argv));
    test_truncation_and_corruption(ctx);
    test_malformed_fields(ctx);
    test_writer_validation(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_container");
}
