/* Image I/O: every promised input format, orientation, alpha warning, and
 * malformed files (clear error, never a crash); the resampler of byte-budget
 * encodes. */
#include "test.h"

#include "image/image_internal.h"
#include "image/resize.h"
#include "nic.h"

static const uint8_t QUAD[4][3] = {{220, 30, 30}, {30, 200, 40}, {40, 50, 210}, {240, 230, 60}};
enum { W = 32, H = 24 };

static char path_buf[4096];
static const char *fixture(const char *dir, const char *name)
{
    snprintf(path_buf, sizeof(path_buf), "%s/images/%s", dir, name);
    return path_buf;
}

typedef struct log_capture {
    int warnings;
    char last[512];
} log_capture;

static void capture_log(void *user, nic_log_level level, const char *msg)
{
    log_capture *c = user;
    if (level == NIC_LOG_WARNING) {
        c->warnings++;
        snprintf(c->last, sizeof(c->last), "%s", msg);
    }
}

/* Max abs difference between pixel (x,y) and an RGB triple (gray: its luma). */
static int pixel_error(const nic_image *img, uint32_t x, uint32_t y, const uint8_t rgb[3])
{
    const uint8_t *p = img->data + ((size_t)y * img->width + x) * img->channels;
    if (img->channels == 1) {
        int luma = (int)(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] + 0.5);
        return abs(p[0] - luma);
    }
    int e = 0;
    for (int c = 0; c < 3; c++) {
        int d = abs(p[c] - rgb[c]);
        e = d > e ? d : e;
    }
    return e;
}

/* Checks the four quadrant centers (the picture every fixture holds, upright). */
static void check_quadrants(const nic_image *img, int tolerance, const char *what)
{
    CHECK_MSG(img->width == W && img->height == H, "%s: size %ux%u", what, img->width,
              img->height);
    if (img->width != W || img->height != H)
        return;
    uint32_t xs[2] = {W / 4, 3 * W / 4}, ys[2] = {H / 4, 3 * H / 4};
    for (int q = 0; q < 4; q++) {
        int e = pixel_error(img, xs[q & 1], ys[q >> 1], QUAD[q]);
        CHECK_MSG(e <= tolerance, "%s: quadrant %d off by %d", what, q, e);
    }
}

static void test_valid_fixtures(nic_context *ctx, const char *dir)
{
    static const struct {
        const char *name;
        uint32_t channels;
        int tolerance;
        int alpha;
        nic_image_format format;
    } cases[] = {
        {"rgb8.png", 3, 0, 0, NIC_FORMAT_PNG},         {"gray8.png", 1, 1, 0, NIC_FORMAT_PNG},
        {"rgba8.png", 3, 0, 1, NIC_FORMAT_PNG},        {"graya8.png", 1, 1, 1, NIC_FORMAT_PNG},
        {"palette.png", 3, 0, 0, NIC_FORMAT_PNG},      {"interlaced.png", 3, 0, 0, NIC_FORMAT_PNG},
        {"rgb16.png", 3, 0, 0, NIC_FORMAT_PNG},        {"baseline.jpg", 3, 12, 0, NIC_FORMAT_JPEG},
        {"progressive.jpg", 3, 12, 0, NIC_FORMAT_JPEG}, {"gray.jpg", 1, 4, 0, NIC_FORMAT_JPEG},
        {"cmyk.jpg", 3, 12, 0, NIC_FORMAT_JPEG},       {"orient6.jpg", 3, 12, 0, NIC_FORMAT_JPEG},
        {"rgb.ppm", 3, 0, 0, NIC_FORMAT_PNM},          {"gray.pgm", 1, 1, 0, NIC_FORMAT_PNM},
        {"ascii.ppm", 3, 0, 0, NIC_FORMAT_PNM},        {"gray16.pgm", 1, 1, 0, NIC_FORMAT_PNM},
    };
    log_capture log = {0};
    nic_context_set_log(ctx, capture_log, &log);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nic_image img;
        nic_image_info info;
        int before = log.warnings;
        nic_status st = nic_image_read_file(ctx, fixture(dir, cases[i].name), &img, &info);
        CHECK_MSG(st == NIC_OK, "%s: %s", cases[i].name, nic_context_error(ctx));
        if (st != NIC_OK)
            continue;
        CHECK_MSG(img.channels == cases[i].channels, "%s: %u channels", cases[i].name,
                  img.channels);
        CHECK(info.format == cases[i].format);
        CHECK_MSG(info.had_alpha == cases[i].alpha, "%s: had_alpha %d", cases[i].name,
                  info.had_alpha);
        /* Alpha is dropped with a warning that names the file; no warning otherwise. */
        CHECK_MSG((log.warnings > before) == cases[i].alpha, "%s: warnings %d -> %d",
                  cases[i].name, before, log.warnings);
        if (cases[i].alpha)
            CHECK(strstr(log.last, cases[i].name) && strstr(log.last, "alpha"));
        check_quadrants(&img, cases[i].tolerance, cases[i].name);
        nic_image_free(&img);
    }
    nic_context_set_log(ctx, NULL, NULL);

    /* Bit depths as found in the source. */
    nic_image img;
    nic_image_info info;
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "rgb16.png"), &img, &info), NIC_OK);
    CHECK(info.source_bit_depth == 16);
    nic_image_free(&img);
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "orient6.jpg"), &img, &info), NIC_OK);
    CHECK(info.orientation == 6);
    nic_image_free(&img);
    /* 1-bit gray: left half black, right half white. */
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "gray1.png"), &img, &info), NIC_OK);
    CHECK(img.channels == 1 && img.data[0] == 0 && img.data[W - 1] == 255 && info.source_bit_depth == 1);
    nic_image_free(&img);
}

static void test_malformed_fixtures(nic_context *ctx, const char *dir)
{
    static const struct {
        const char *name;
        nic_status expected;
        const char *words; /* must appear in the message */
    } cases[] = {
        {"bad-truncated.png", NIC_ERR_FORMAT, "truncated"},
        {"bad-truncated.jpg", NIC_ERR_FORMAT, "truncated"},
        {"bad-magic.png", NIC_ERR_UNSUPPORTED, "not a PNG"},
        {"bad-huge.png", NIC_ERR_LIMIT, "100000x100000"},
        {"bad-huge.jpg", NIC_ERR_LIMIT, "65500x65500"},
        {"bad-huge.ppm", NIC_ERR_LIMIT, "100000x100000"},
        {"bad-crc.png", NIC_ERR_FORMAT, "CRC"},
        {"bad-empty.png", NIC_ERR_FORMAT, "empty"},
        {"bad-text.ppm", NIC_ERR_FORMAT, "width"},
        {"bad-garbage.bin", NIC_ERR_UNSUPPORTED, "not a PNG"},
        {"does-not-exist.png", NIC_ERR_IO, "cannot open"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nic_image img = {(uint32_t)-1, 0, 0, NULL};
        nic_status st = nic_image_read_file(ctx, fixture(dir, cases[i].name), &img, NULL);
        const char *msg = nic_context_error(ctx);
        CHECK_MSG(st == cases[i].expected, "%s: status %d (%s), expected %d", cases[i].name, st,
                  msg, cases[i].expected);
        CHECK_MSG(strstr(msg, cases[i].name) != NULL, "%s: message does not name the file: %s",
                  cases[i].name, msg);
        CHECK_MSG(strstr(msg, cases[i].words) != NULL, "%s: message lacks '%s': %s",
                  cases[i].name, cases[i].words, msg);
        CHECK(img.data == NULL && img.width == 0);
    }
}

/* Every prefix of valid files must fail cleanly (or succeed for the whole). */
static void test_every_truncation(nic_context *ctx, const char *dir)
{
    const char *names[] = {"rgb8.png", "progressive.jpg", "baseline.jpg", "rgb.ppm", "ascii.ppm",
                           "cmyk.jpg"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        FILE *f = fopen(fixture(dir, names[k]), "rb");
        CHECK(f != NULL);
        if (!f)
            continue;
        uint8_t buf[16384];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        int failures = 0;
        for (size_t len = 0; len < n; len++) {
            nic_image img;
            uint8_t *copy = malloc(len ? len : 1); /* exact-size copy so ASan sees overreads */
            memcpy(copy, buf, len);
            nic_status st = nic_image_read_memory(ctx, copy, len, names[k], &img, NULL);
            if (st == NIC_OK)
                nic_image_free(&img);
            else if (st != NIC_ERR_FORMAT && st != NIC_ERR_UNSUPPORTED)
                failures++;
            free(copy);
        }
        CHECK_MSG(failures == 0, "%s: %d truncations gave an unexpected status", names[k],
                  failures);
    }
}

static void test_round_trips(nic_context *ctx)
{
    nic_image img;
    CHECK_STATUS(nic_image_alloc(ctx, &img, 7, 5, 3), NIC_OK);
    for (size_t i = 0; i < 7 * 5 * 3; i++)
        img.data[i] = (uint8_t)(i * 37 + 11);
    uint8_t *buf;
    size_t size;
    nic_image back;
    /* PNG, lossless */
    CHECK_STATUS(nic_image_encode_png(ctx, &img, &buf, &size), NIC_OK);
    CHECK_STATUS(nic_image_read_memory(ctx, buf, size, "rt.png", &back, NULL), NIC_OK);
    CHECK(back.width == 7 && back.height == 5 && back.channels == 3 &&
          memcmp(back.data, img.data, 105) == 0);
    nic_image_free(&back);
    free(buf);
    /* PNM, lossless */
    CHECK_STATUS(nic_pnm_encode(ctx, &img, &buf, &size), NIC_OK);
    CHECK_STATUS(nic_image_read_memory(ctx, buf, size, "rt.ppm", &back, NULL), NIC_OK);
    CHECK(back.width == 7 && memcmp(back.data, img.data, 105) == 0);
    nic_image_free(&back);
    free(buf);
    /* Files on disk, by extension */
    char path[4200];
    snprintf(path, sizeof(path), "%s/test_image_rt.pgm", test_tmp_dir());
    nic_image gray;
    CHECK_STATUS(nic_image_alloc(ctx, &gray, 3, 2, 1), NIC_OK);
    memcpy(gray.data, "\x00\x10\x20\x80\xf0\xff", 6);
    CHECK_STATUS(nic_image_write_file(ctx, path, &gray), NIC_OK);
    CHECK_STATUS(nic_image_read_file(ctx, path, &back, NULL), NIC_OK);
    CHECK(back.channels == 1 && memcmp(back.data, gray.data, 6) == 0);
    nic_image_free(&back);
    remove(path);
    CHECK_STATUS(nic_image_write_file(ctx, "/nonexistent-dir/x.png", &gray), NIC_ERR_IO);
    CHECK(strstr(nic_context_error(ctx), "/nonexistent-dir/x.png") != NULL);
    CHECK_STATUS(nic_image_write_file(ctx, "x.tiff", &gray), NIC_ERR_UNSUPPORTED);
    CHECK_STATUS(nic_image_write_jpeg(ctx, "x.jpg", &gray, 0), NIC_ERR_INVALID_ARGUMENT);
    nic_image_free(&gray);
    nic_image_free(&img);
}

/* JPEG writer + EXIF: all eight orientations come back upright. */
static void test_orientations(nic_context *ctx)
{
    /* Upright picture: quadrants; build each stored version by inverting the transform. */
    nic_image up;
    CHECK_STATUS(nic_image_alloc(ctx, &up, W, H, 3), NIC_OK);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
            memcpy(up.data + (y * W + x) * 3, QUAD[(x >= W / 2) + 2 * (y >= H / 2)], 3);
    /* The inverse of orientation o, applied to the upright picture, gives the stored one. */
    static const int inverse[9] = {0, 1, 2, 3, 4, 5, 8, 7, 6};
    for (int o = 1; o <= 8; o++) {
        nic_image stored;
        CHECK_STATUS(nic_image_alloc(ctx, &stored, W, H, 3), NIC_OK);
        memcpy(stored.data, up.data, (size_t)W * H * 3);
        CHECK_STATUS(nic_image_apply_orientation(ctx, &stored, inverse[o]), NIC_OK);
        nic_jpeg_options opt = {.quality = 95, .progressive = o & 1, .exif_orientation = o};
        uint8_t *buf;
        size_t size;
        CHECK_STATUS(nic_jpeg_encode(ctx, stored.data, stored.width, stored.height, 3, &opt, &buf,
                                     &size),
                     NIC_OK);
        nic_image got;
        nic_image_info info;
        CHECK_STATUS(nic_image_read_memory(ctx, buf, size, "orient.jpg", &got, &info), NIC_OK);
        CHECK_MSG(info.orientation == o, "orientation %d read as %d", o, info.orientation);
        char what[32];
        snprintf(what, sizeof(what), "orientation %d", o);
        check_quadrants(&got, 12, what);
        nic_image_free(&got);
        nic_image_free(&stored);
        free(buf);
    }
    nic_image_free(&up);
}

/* Adobe CMYK written by our encoder (inverted convention) decodes to the right colors. */
static void test_cmyk(nic_context *ctx)
{
    uint8_t cmyk[16 * 16 * 4];
    for (int i = 0; i < 16 * 16; i++) {
        /* pure red = no cyan ink, full magenta and yellow; stored inverted */
        cmyk[4 * i] = 255;
        cmyk[4 * i + 1] = 0;
        cmyk[4 * i + 2] = 0;
        cmyk[4 * i + 3] = 255;
    }
    nic_jpeg_options opt = {.quality = 95, .cmyk_adobe = 1};
    uint8_t *buf;
    size_t size;
    CHECK_STATUS(nic_jpeg_encode(ctx, cmyk, 16, 16, 4, &opt, &buf, &size), NIC_OK);
    nic_image img;
    nic_image_info info;
    CHECK_STATUS(nic_image_read_memory(ctx, buf, size, "cmyk", &img, &info), NIC_OK);
    CHECK(info.source_channels == 4 && img.channels == 3);
    const uint8_t red[3] = {255, 0, 0};
    CHECK(pixel_error(&img, 8, 8, red) <= 4);
    nic_image_free(&img);
    free(buf);
}

static void test_exif_parser(void)
{
    const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 3, 0, 0, 0};
    CHECK(nic_exif_orientation(le, sizeof(le)) == 3);
    CHECK(nic_exif_orientation(le, sizeof(le) - 4) == 0); /* entry cut short */
    uint8_t bad[sizeof(le)];
    memcpy(bad, le, sizeof(le));
    bad[4] = 0xf0; /* IFD offset past the end */
    CHECK(nic_exif_orientation(bad, sizeof(bad)) == 0);
    memcpy(bad, le, sizeof(le));
    bad[18] = 9; /* orientation out of range */
    CHECK(nic_exif_orientation(bad, sizeof(bad)) == 0);
    CHECK(nic_exif_orientation(NULL, 0) == 0);
}

static void test_limits(nic_context *ctx, const char *dir)
{
    nic_image img;
    nic_context_set_max_pixels(ctx, 100);
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "rgb8.png"), &img, NULL), NIC_ERR_LIMIT);
    nic_context_set_max_pixels(ctx, 0); /* back to the default */
    nic_context_set_max_dimension(ctx, 16);
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "rgb.ppm"), &img, NULL), NIC_ERR_LIMIT);
    nic_context_set_max_dimension(ctx, 0);
    CHECK_STATUS(nic_image_read_file(ctx, fixture(dir, "rgb.ppm"), &img, NULL), NIC_OK);
    nic_image_free(&img);
    const char pnm_bad_sample[] = "P2\n2 1\n10\n5 11\n";
    CHECK_STATUS(nic_image_read_memory(ctx, pnm_bad_sample, sizeof(pnm_bad_sample) - 1, "m.pgm",
                                       &img, NULL),
                 NIC_ERR_FORMAT);
    const char pnm_bitmap[] = "P4\n8 1\n\xff";
    CHECK_STATUS(nic_image_read_memory(ctx, pnm_bitmap, sizeof(pnm_bitmap) - 1, "m.pbm", &img,
                                       NULL),
                 NIC_ERR_UNSUPPORTED);
}

/* The budget resampler (Catmull-Rom, antialiased when shrinking): a flat
 * picture stays flat; upscaling reproduces a quadratic exactly away from the
 * clamped edges (bilinear misses by up to 1.75 here); shrinking a one-pixel
 * stripe pattern by 2 leaves its mean (no aliasing); gray and RGB alike. */
static void test_resize(nic_context *ctx)
{
    enum { SW = 12, SH = 4, UP = 3 };
    nic_image src = {0}, up = {0}, down = {0};
    CHECK_STATUS(nic_image_alloc(ctx, &src, SW, SH, 3), NIC_OK);
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++)
            for (int c = 0; c < 3; c++)
                src.data[(y * SW + x) * 3 + c] = (uint8_t)(c == 0 ? 7 * (x - 5) * (x - 5) : 90);
    CHECK_STATUS(nic_image_resize(ctx, &src, SW * UP, SH * UP, &up), NIC_OK);
    double worst = 0, worst_flat = 0;
    for (int y = 0; y < SH * UP; y++)
        for (int x = 2 * UP; x < (SW - 2) * UP; x++) {
            const double u = (x + 0.5) / UP - 0.5; /* source coordinate */
            const uint8_t *p = up.data + (y * SW * UP + x) * 3;
            worst = fmax(worst, fabs(p[0] - 7 * (u - 5) * (u - 5)));
            worst_flat = fmax(worst_flat, fabs(p[1] - 90.0) + fabs(p[2] - 90.0));
        }
    CHECK_MSG(worst <= 0.5 + 1e-9, "quadratic off by %.3f after x%d", worst, UP);
    CHECK_MSG(worst_flat == 0, "a flat channel changed by %.0f", worst_flat);
    nic_image_free(&up);
    nic_image_free(&src);

    CHECK_STATUS(nic_image_alloc(ctx, &src, 16, 16, 1), NIC_OK);
    for (int i = 0; i < 16 * 16; i++)
        src.data[i] = (i % 2) ? 200 : 40;
    CHECK_STATUS(nic_image_resize(ctx, &src, 8, 8, &down), NIC_OK);
    int off = 0; /* the columns away from the clamped edges */
    for (int y = 0; y < 8; y++)
        for (int x = 2; x < 6; x++)
            off += down.data[y * 8 + x] != 120;
    CHECK_MSG(off == 0, "%d of 32 pixels of a halved stripe pattern are not its mean 120", off);
    nic_image_free(&down);
    CHECK_STATUS(nic_image_resize(ctx, &src, 16, 16, &down), NIC_OK);
    CHECK(down.width == 16 && memcmp(down.data, src.data, 16 * 16) == 0);
    nic_image_free(&down);
    nic_image_free(&src);
}

int main(int argc, char **argv)
{
    const char *dir = test_fixtures_dir(argc, argv);
    nic_context *ctx = nic_context_create();
    CHECK(ctx != NULL);
    test_valid_fixtures(ctx, dir);
    test_malformed_fixtures(ctx, dir);
    test_every_truncation(ctx, dir);
    test_round_trips(ctx);
    test_orientations(ctx);
    test_cmyk(ctx);
    test_exif_parser();
    test_limits(ctx, dir);
    test_resize(ctx);
    nic_context_destroy(ctx);
    return test_finish("test_image");
}
