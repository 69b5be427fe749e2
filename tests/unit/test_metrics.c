/*
 * Quality metrics: nic_compare() against reference values written by
 * tests/fixtures/metrics/generate.py (scikit-image 0.19.3 SSIM and the
 * script's MS-SSIM), the fast separable SSIM against a direct 2-D window
 * written here from the definition, and small hand-checked cases.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "metrics/metrics.h"
#include "nic.h"
#include "test.h"

/* Tolerance against the Python reference (absolute, every metric). */
#define REFERENCE_TOLERANCE 1e-4

/* Deterministic test data: xorshift64*. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* An image with a smooth ramp plus noise of the given amplitude. */
static void fill_image(nic_image *img, int noise)
{
    for (uint32_t y = 0; y < img->height; y++) {
        for (uint32_t x = 0; x < img->width; x++) {
            for (uint32_t c = 0; c < img->channels; c++) {
                int v = (int)((x * 3 + y * 2 + c * 40) % 256);
                if (noise)
                    v += (int)(rng_next() % (2u * noise + 1)) - noise;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                img->data[((size_t)y * img->width + x) * img->channels + c] = (uint8_t)v;
            }
        }
    }
}

static void make_image(nic_context *ctx, nic_image *img, uint32_t w, uint32_t h, uint32_t ch,
                       int noise)
{
    if (nic_image_alloc(ctx, img, w, h, ch) != NIC_OK) {
        fprintf(stderr, "nic_image_alloc %ux%ux%u: %s\n", w, h, ch, nic_context_error(ctx));
        exit(2);
    }
    fill_image(img, noise);
}

/* ------------------------------------------------------------------ */
/* Reference fixtures                                                  */
/* ------------------------------------------------------------------ */

typedef struct deviation {
    const char *name;
    double max;
} deviation;

/* expected "nan" needs NAN, "inf" needs +INFINITY, else |got - expected| <= tol. */
static void check_value(const char *pair, deviation *dev, double got, double expected)
{
    if (isnan(expected)) {
        CHECK_MSG(isnan(got), "%s %s: got %.10g, expected nan", pair, dev->name, got);
        return;
    }
    if (isinf(expected)) {
        CHECK_MSG(got == expected, "%s %s: got %.10g, expected %g", pair, dev->name, got,
                  expected);
        return;
    }
    double d = fabs(got - expected);
    CHECK_MSG(d <= REFERENCE_TOLERANCE, "%s %s: got %.10g, expected %.10g (|diff| %.3g > %g)",
              pair, dev->name, got, expected, d, REFERENCE_TOLERANCE);
    if (!(d <= dev->max))
        dev->max = d;
}

static void test_reference_fixtures(nic_context *ctx, const char *fixtures)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/metrics/expected.txt", fixtures);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f)
        return;

    deviation dev[4] = {{"psnr_rgb", 0}, {"psnr_luma", 0}, {"ssim", 0}, {"ms_ssim", 0}};
    int pairs = 0, finite_ms_ssim = 0;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char name_a[256], name_b[256], v[4][64];
        int fields = sscanf(line, "%255s %255s %63s %63s %63s %63s", name_a, name_b, v[0], v[1],
                            v[2], v[3]);
        CHECK_MSG(fields == 6, "%s: malformed line: %s", path, line);
        if (fields != 6)
            continue;

        nic_image a, b;
        char pa[4096], pb[4096];
        snprintf(pa, sizeof(pa), "%s/metrics/%s", fixtures, name_a);
        snprintf(pb, sizeof(pb), "%s/metrics/%s", fixtures, name_b);
        nic_status sa = nic_image_read_file(ctx, pa, &a, NULL);
        CHECK_MSG(sa == NIC_OK, "%s: %s", pa, nic_context_error(ctx));
        nic_status sb = nic_image_read_file(ctx, pb, &b, NULL);
        CHECK_MSG(sb == NIC_OK, "%s: %s", pb, nic_context_error(ctx));
        if (sa == NIC_OK && sb == NIC_OK) {
            nic_quality q;
            nic_status s = nic_compare(ctx, &a, &b, &q);
            CHECK_MSG(s == NIC_OK, "%s vs %s: %s", name_a, name_b, nic_context_error(ctx));
            if (s == NIC_OK) {
                double got[4] = {q.psnr_rgb, q.psnr_luma, q.ssim, q.ms_ssim};
                for (int i = 0; i < 4; i++)
                    check_value(name_a, &dev[i], got[i], strtod(v[i], NULL));
                pairs++;
                finite_ms_ssim += isfinite(q.ms_ssim) && q.ms_ssim > 0.0;
            }
        }
        if (sa == NIC_OK)
            nic_image_free(&a);
        if (sb == NIC_OK)
            nic_image_free(&b);
    }
    fclose(f);
    /* The file must have been read, and must exercise MS-SSIM for real. */
    CHECK_MSG(pairs >= 8, "only %d fixture pairs compared", pairs);
    CHECK_MSG(finite_ms_ssim >= 3, "only %d pairs with a positive MS-SSIM", finite_ms_ssim);
    printf("reference fixtures: %d pairs, max |C - reference|:", pairs);
    for (int i = 0; i < 4; i++)
        printf(" %s %.3g", dev[i].name, dev[i].max);
    printf("\n");
}

/* ------------------------------------------------------------------ */
/* Fast SSIM against the definition                                    */
/* ------------------------------------------------------------------ */

/* scipy.ndimage 'reflect': d c b a | a b c d | d c b a, period 2n. */
static long reflect_index(long i, long n)
{
    long period = 2 * n;
    long m = i % period;
    if (m < 0)
        m += period;
    return m < n ? m : period - 1 - m;
}

/* SSIM and cs means by the book: full 11x11 Gaussian window at every pixel
 * with reflected borders, then the 5-pixel crop. No separability, no
 * shortcuts; O(121) per pixel. */
static void ssim_direct(const double *x, const double *y, long w, long h, double *ssim,
                        double *cs)
{
    double g[NIC_SSIM_TAPS], sum = 0.0;
    for (int i = 0; i < NIC_SSIM_TAPS; i++) {
        double d = i - NIC_SSIM_RADIUS;
        g[i] = exp(-d * d / (2.0 * NIC_SSIM_SIGMA * NIC_SSIM_SIGMA));
        sum += g[i];
    }
    for (int i = 0; i < NIC_SSIM_TAPS; i++)
        g[i] /= sum;
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double s_total = 0.0, c_total = 0.0;
    long count = 0;
    for (long r = 0; r < h; r++) {
        for (long c = 0; c < w; c++) {
            double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
            for (int i = 0; i < NIC_SSIM_TAPS; i++) {
                long rr = reflect_index(r + i - NIC_SSIM_RADIUS, h);
                for (int j = 0; j < NIC_SSIM_TAPS; j++) {
                    long cc = reflect_index(c + j - NIC_SSIM_RADIUS, w);
                    double wt = g[i] * g[j], a = x[rr * w + cc], b = y[rr * w + cc];
                    ux += wt * a;
                    uy += wt * b;
                    uxx += wt * a * a;
                    uyy += wt * b * b;
                    uxy += wt * a * b;
                }
            }
            if (r < NIC_SSIM_RADIUS || r >= h - NIC_SSIM_RADIUS || c < NIC_SSIM_RADIUS ||
                c >= w - NIC_SSIM_RADIUS)
                continue;
            double vx = uxx - ux * ux, vy = uyy - uy * uy, vxy = uxy - ux * uy;
            double csv = (2 * vxy + c2) / (vx + vy + c2);
            s_total += (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * csv;
            c_total += csv;
            count++;
        }
    }
    *ssim = s_total / count;
    *cs = c_total / count;
}

static void random_planes(double *x, double *y, size_t n, int correlated)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = rng_next() % 256;
        y[i] = correlated ? fmin(255.0, fmax(0.0, x[i] + (double)(rng_next() % 61) - 30.0))
                          : (double)(rng_next() % 256);
    }
}

static void test_fast_vs_direct(nic_context *ctx)
{
    static const size_t sizes[][2] = {{11, 11}, {12, 17}, {37, 29}, {64, 23}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int correlated = 0; correlated <= 1; correlated++) {
            size_t w = sizes[s][0], h = sizes[s][1];
            double *x = malloc(w * h * sizeof(double)), *y = malloc(w * h * sizeof(double));
            if (!x || !y)
                exit(2);
            random_planes(x, y, w * h, correlated);
            nic_ssim_means fast;
            double ssim, cs;
            CHECK_STATUS(nic_ssim_plane(ctx, x, y, w, h, &fast), NIC_OK);
            ssim_direct(x, y, (long)w, (long)h, &ssim, &cs);
            CHECK_NEAR(fast.ssim, ssim, 1e-10);
            CHECK_NEAR(fast.cs, cs, 1e-10);
            free(x);
            free(y);
        }
    }
}

/* The result must not depend on how many threads share the rows. */
static void test_thread_count_invariance(nic_context *ctx)
{
#ifdef _OPENMP
    nic_image a, b;
    make_image(ctx, &a, 301, 257, 3, 0);
    make_image(ctx, &b, 301, 257, 3, 20);
    nic_quality many, one;
    int saved = omp_get_max_threads();
    omp_set_num_threads(saved > 1 ? saved : 3); /* more than one even on 1 core */
    CHECK_STATUS(nic_compare(ctx, &a, &b, &many), NIC_OK);
    omp_set_num_threads(1);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &one), NIC_OK);
    omp_set_num_threads(saved);
    CHECK(memcmp(&many, &one, sizeof(one)) == 0);
    nic_image_free(&a);
    nic_image_free(&b);
#else
    (void)ctx;
#endif
}

/* ------------------------------------------------------------------ */
/* Small hand-checked cases                                            */
/* ------------------------------------------------------------------ */

static void test_hand_computed_psnr(nic_context *ctx)
{
    nic_image a, b;
    /* 2x2 RGB, one sample off by 10: MSE = 100 / 12. */
    CHECK_STATUS(nic_image_alloc(ctx, &a, 2, 2, 3), NIC_OK);
    CHECK_STATUS(nic_image_alloc(ctx, &b, 2, 2, 3), NIC_OK);
    b.data[4] = 10; /* pixel 1, green */
    nic_quality q;
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK_NEAR(q.psnr_rgb, 10.0 * log10(255.0 * 255.0 * 12.0 / 100.0), 1e-12);
    /* Luma error 0.587 * 10 in one of 4 pixels. */
    CHECK_NEAR(q.psnr_luma, 10.0 * log10(255.0 * 255.0 * 4.0 / (5.87 * 5.87)), 1e-9);
    CHECK(isnan(q.ssim));    /* smaller than the 11x11 window */
    CHECK(isnan(q.ms_ssim)); /* smaller than 5 scales */
    nic_image_free(&a);
    nic_image_free(&b);

    /* Gray 2x1: errors 3 and 4, MSE 12.5 on both PSNRs. */
    CHECK_STATUS(nic_image_alloc(ctx, &a, 2, 1, 1), NIC_OK);
    CHECK_STATUS(nic_image_alloc(ctx, &b, 2, 1, 1), NIC_OK);
    b.data[0] = 3;
    b.data[1] = 4;
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK_NEAR(q.psnr_rgb, 10.0 * log10(65025.0 / 12.5), 1e-12);
    CHECK_NEAR(q.psnr_luma, 10.0 * log10(65025.0 / 12.5), 1e-12);
    nic_image_free(&a);
    nic_image_free(&b);

    CHECK_NEAR(nic_psnr_from_mse(65025.0, 255.0), 0.0, 1e-15);
    CHECK_NEAR(nic_psnr_from_mse(650.25, 255.0), 20.0, 1e-12);
    CHECK(isinf(nic_psnr_from_mse(0.0, 255.0)) && nic_psnr_from_mse(0.0, 255.0) > 0);
}

static void test_luma_and_pooling(nic_context *ctx)
{
    nic_image img;
    CHECK_STATUS(nic_image_alloc(ctx, &img, 2, 1, 3), NIC_OK);
    uint8_t px[6] = {10, 20, 30, 255, 255, 255};
    memcpy(img.data, px, 6);
    double y[2];
    nic_luma_plane(&img, y);
    CHECK_NEAR(y[0], 2.99 + 11.74 + 3.42, 1e-12);
    CHECK_NEAR(y[1], 255.0, 1e-12);
    nic_image_free(&img);

    /* 3x3 -> 1x1: the odd last row and column are dropped. */
    const double src[9] = {1, 2, 100, 3, 6, 100, 100, 100, 100};
    double dst[1] = {0};
    nic_downsample_2x2(src, 3, 3, dst);
    CHECK_NEAR(dst[0], 3.0, 0.0);
}

static void test_identical(nic_context *ctx)
{
    nic_image a;
    make_image(ctx, &a, 181, 176, 3, 30);
    nic_quality q;
    CHECK_STATUS(nic_compare(ctx, &a, &a, &q), NIC_OK);
    CHECK(isinf(q.psnr_rgb) && q.psnr_rgb > 0);
    CHECK(isinf(q.psnr_luma) && q.psnr_luma > 0);
    CHECK_NEAR(q.ssim, 1.0, 1e-12);
    CHECK_NEAR(q.ms_ssim, 1.0, 1e-12);
    nic_image_free(&a);
}

static void test_size_rules(nic_context *ctx)
{
    nic_image a, b;
    nic_quality q;
    /* MS-SSIM needs 176 = 11 * 16 on both sides; SSIM needs 11. */
    make_image(ctx, &a, 176, 176, 1, 0);
    make_image(ctx, &b, 176, 176, 1, 40);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK(isfinite(q.ms_ssim) && q.ms_ssim > 0.0 && q.ms_ssim < 1.0);
    nic_image_free(&a);
    nic_image_free(&b);

    make_image(ctx, &a, 300, 175, 1, 0);
    make_image(ctx, &b, 300, 175, 1, 40);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK(isfinite(q.ssim));
    CHECK(isnan(q.ms_ssim));
    nic_image_free(&a);
    nic_image_free(&b);

    make_image(ctx, &a, 11, 11, 3, 0);
    make_image(ctx, &b, 11, 11, 3, 40);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK(isfinite(q.ssim) && q.ssim < 1.0);
    nic_image_free(&a);
    nic_image_free(&b);

    make_image(ctx, &a, 40, 10, 3, 0);
    make_image(ctx, &b, 40, 10, 3, 40);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_OK);
    CHECK(isnan(q.ssim));
    CHECK(isfinite(q.psnr_rgb));
    nic_image_free(&a);
    nic_image_free(&b);
}

static void test_symmetry_and_gray(nic_context *ctx)
{
    nic_image a, b, gray, gray_rgb;
    make_image(ctx, &a, 190, 183, 3, 10);
    make_image(ctx, &b, 190, 183, 3, 50);
    nic_quality ab, ba;
    CHECK_STATUS(nic_compare(ctx, &a, &b, &ab), NIC_OK);
    CHECK_STATUS(nic_compare(ctx, &b, &a, &ba), NIC_OK);
    CHECK(ab.psnr_rgb == ba.psnr_rgb);
    CHECK(ab.psnr_luma == ba.psnr_luma);
    CHECK_NEAR(ab.ssim, ba.ssim, 1e-12);
    CHECK_NEAR(ab.ms_ssim, ba.ms_ssim, 1e-12);
    CHECK(ab.ssim > 0.0 && ab.ssim < 1.0);

    /* A gray image is R = G = B: same result as its explicit RGB copy. */
    make_image(ctx, &gray, 190, 183, 1, 25);
    CHECK_STATUS(nic_image_alloc(ctx, &gray_rgb, 190, 183, 3), NIC_OK);
    for (size_t i = 0; i < (size_t)190 * 183; i++)
        gray_rgb.data[3 * i] = gray_rgb.data[3 * i + 1] = gray_rgb.data[3 * i + 2] = gray.data[i];
    nic_quality qg, qr;
    CHECK_STATUS(nic_compare(ctx, &gray, &b, &qg), NIC_OK);
    CHECK_STATUS(nic_compare(ctx, &gray_rgb, &b, &qr), NIC_OK);
    CHECK(qg.psnr_rgb == qr.psnr_rgb);
    CHECK_NEAR(qg.psnr_luma, qr.psnr_luma, 1e-9);
    CHECK_NEAR(qg.ssim, qr.ssim, 1e-9);
    CHECK_NEAR(qg.ms_ssim, qr.ms_ssim, 1e-9);
    CHECK_STATUS(nic_compare(ctx, &b, &gray, &qr), NIC_OK);
    CHECK(qg.psnr_rgb == qr.psnr_rgb);
    nic_image_free(&a);
    nic_image_free(&b);
    nic_image_free(&gray);
    nic_image_free(&gray_rgb);
}

static void test_errors(nic_context *ctx)
{
    nic_image a, b;
    nic_quality q;
    make_image(ctx, &a, 4, 3, 3, 0);
    make_image(ctx, &b, 3, 4, 3, 0);
    nic_context_clear_error(ctx);
    CHECK_STATUS(nic_compare(ctx, &a, &b, &q), NIC_ERR_MISMATCH);
    CHECK_STATUS(nic_context_status(ctx), NIC_ERR_MISMATCH);
    CHECK_MSG(strstr(nic_context_error(ctx), "4x3") && strstr(nic_context_error(ctx), "3x4"),
              "message: %s", nic_context_error(ctx));
    CHECK(isnan(q.psnr_rgb) && isnan(q.ssim));

    CHECK_STATUS(nic_compare(ctx, NULL, &b, &q), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_compare(ctx, &a, NULL, &q), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_compare(ctx, &a, &a, NULL), NIC_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(nic_compare(NULL, &a, &b, &q), NIC_ERR_MISMATCH); /* ctx may be NULL */
    nic_image bad = a;
    bad.channels = 2;
    CHECK_STATUS(nic_compare(ctx, &a, &bad, &q), NIC_ERR_INVALID_ARGUMENT);
    CHECK_MSG(strstr(nic_context_error(ctx), "second") != NULL, "message: %s",
              nic_context_error(ctx));
    bad = a;
    bad.data = NULL;
    CHECK_STATUS(nic_compare(ctx, &bad, &a, &q), NIC_ERR_INVALID_ARGUMENT);
    bad = a;
    bad.width = 0;
    CHECK_STATUS(nic_compare(ctx, &bad, &a, &q), NIC_ERR_INVALID_ARGUMENT);
    nic_image_free(&a);
    nic_image_free(&b);
}

static void test_bits_per_pixel(void)
{
    CHECK_NEAR(nic_bits_per_pixel(1000, 100, 80), 1.0, 0.0);
    CHECK_NEAR(nic_bits_per_pixel(3, 2, 3), 4.0, 0.0);
    CHECK_NEAR(nic_bits_per_pixel(0, 7, 9), 0.0, 0.0);
    CHECK_NEAR(nic_bits_per_pixel(12345, 768, 512), 12345.0 * 8.0 / (768.0 * 512.0), 1e-15);
    /* No overflow on large sizes: 65535^2 pixels, 2^40 bytes. */
    CHECK_NEAR(nic_bits_per_pixel((uint64_t)1 << 40, 65535, 65535),
               8.0 * 1099511627776.0 / (65535.0 * 65535.0), 1e-9);
    CHECK(isnan(nic_bits_per_pixel(100, 0, 10)));
    CHECK(isnan(nic_bits_per_pixel(100, 10, 0)));
}

int main(int argc, char **argv)
{
    const char *fixtures = test_fixtures_dir(argc, argv);
    nic_context *ctx = nic_context_create();
    if (!ctx)
        return 2;
    test_reference_fixtures(ctx, fixtures);
    test_fast_vs_direct(ctx);
    test_thread_count_invariance(ctx);
    test_hand_computed_psnr(ctx);
    test_luma_and_pooling(ctx);
    test_identical(ctx);
    test_size_rules(ctx);
    test_symmetry_and_gray(ctx);
    test_errors(ctx);
    test_bits_per_pixel();
    nic_context_destroy(ctx);
    return test_finish("test_metrics");
}
