/*
 * nic_compare(): PSNR, luma PSNR, SSIM and MS-SSIM of two 8-bit images,
 * plus the small per-pixel helpers it is built from. The windowed SSIM
 * machinery lives in ssim.c. Definitions: docs/METRICS.md.
 */
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "common/context.h"

/* BT.601 luma weights, applied in double to the 8-bit samples. */
#define LUMA_R 0.299
#define LUMA_G 0.587
#define LUMA_B 0.114

/* Element-wise work on fewer pixels than this stays on one thread. */
#define PARALLEL_MIN_PIXELS 262144

void nic_luma_plane(const nic_image *img, double *y)
{
    long n = (long)img->width * (long)img->height;
    const uint8_t *p = img->data;
    if (img->channels == 1) {
        for (long i = 0; i < n; i++)
            y[i] = p[i];
        return;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_PIXELS)
#endif
    for (long i = 0; i < n; i++)
        y[i] = LUMA_R * p[3 * i] + LUMA_G * p[3 * i + 1] + LUMA_B * p[3 * i + 2];
}

/* Sample c (0..2) of pixel i, reading a gray image as R = G = B. */
static inline int sample_rgb(const nic_image *img, size_t i, unsigned c)
{
    return img->channels == 1 ? img->data[i] : img->data[3 * i + c];
}

double nic_mse_images(const nic_image *a, const nic_image *b)
{
    size_t n = (size_t)a->width * a->height;
    unsigned channels = (a->channels == 1 && b->channels == 1) ? 1 : 3;
    /* Integer sum: exact (each term is at most 255^2 < 2^16, so 2^48
     * pixels fit in 64 bits) and independent of summation order. */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        for (unsigned c = 0; c < channels; c++) {
            int d = sample_rgb(a, i, c) - sample_rgb(b, i, c);
            sum += (uint64_t)(d * d);
        }
    }
    return (double)sum / ((double)n * channels);
}

double nic_mse_planes(const double *x, const double *y, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = x[i] - y[i];
        sum += d * d;
    }
    return sum / (double)n;
}

double nic_psnr_from_mse(double mse, double peak)
{
    if (mse == 0.0)
        return INFINITY;
    return 10.0 * log10(peak * peak / mse);
}

/* The argument checks shared by both images; which is "first" or "second". */
static nic_status check_image(nic_context *ctx, const nic_image *img, const char *which)
{
    if (!img)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_compare: %s image is NULL", which);
    if (img->channels != 1 && img->channels != 3)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                        "nic_compare: %s image has %u channels, expected 1 or 3", which,
                        (unsigned)img->channels);
    if (img->width == 0 || img->height == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_compare: %s image is empty (%ux%u)",
                        which, (unsigned)img->width, (unsigned)img->height);
    if (!img->data)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_compare: %s image has no pixel data",
                        which);
    return NIC_OK;
}

nic_status nic_compare(nic_context *ctx, const nic_image *a, const nic_image *b, nic_quality *out)
{
    if (!out)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "nic_compare: output is NULL");
    out->psnr_rgb = out->psnr_luma = out->ssim = out->ms_ssim = NAN;
    NIC_TRY(check_image(ctx, a, "first"));
    NIC_TRY(check_image(ctx, b, "second"));
    if (a->width != b->width || a->height != b->height)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH, "nic_compare: image sizes differ: %ux%u vs %ux%u",
                        (unsigned)a->width, (unsigned)a->height, (unsigned)b->width,
                        (unsigned)b->height);

    size_t n, bytes;
    if (!nic_mul_size(a->width, a->height, &n) || !nic_mul_size(n, 2 * sizeof(double), &bytes))
        return NIC_FAIL(ctx, NIC_ERR_LIMIT, "nic_compare: %ux%u is too large to measure",
                        (unsigned)a->width, (unsigned)a->height);
    double *luma = malloc(bytes);
    if (!luma)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "nic_compare: out of memory for two %ux%u luma planes",
                        (unsigned)a->width, (unsigned)a->height);
    double *ya = luma, *yb = luma + n;
    nic_luma_plane(a, ya);
    nic_luma_plane(b, yb);

    nic_quality q;
    q.psnr_rgb = nic_psnr_from_mse(nic_mse_images(a, b), NIC_METRICS_PEAK);
    q.psnr_luma = nic_psnr_from_mse(nic_mse_planes(ya, yb, n), NIC_METRICS_PEAK);
    nic_status status =
        nic_ssim_ms_ssim_planes(ctx, ya, yb, a->width, a->height, &q.ssim, &q.ms_ssim);
    free(luma);
    if (status != NIC_OK)
        return status;
    *out = q;
    return NIC_OK;
}

double nic_bits_per_pixel(uint64_t bytes, uint32_t width, uint32_t height)
{
    if (width == 0 || height == 0)
        return NAN;
    return (double)bytes * 8.0 / ((double)width * (double)height);
}
