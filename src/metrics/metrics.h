/*
 * Quality metrics on double-precision planes (private).
 *
 * The public entry point is nic_compare() (include/nic.h); these are its
 * building blocks, exposed to the rest of the library and to the tests.
 * Exact definitions, references and measured deviations: docs/METRICS.md.
 *
 * A plane is width * height doubles, row-major, no padding. Sample values
 * are on the 8-bit scale (0..255); the SSIM constants assume that range.
 */
#ifndef NIC_METRICS_METRICS_H
#define NIC_METRICS_METRICS_H

#include <stddef.h>

#include "nic.h"

/* Peak value of 8-bit samples, used by every PSNR. */
#define NIC_METRICS_PEAK 255.0

/* Gaussian window of SSIM: sigma 1.5 truncated at 3.5 sigma, i.e. radius
 * int(3.5 * 1.5 + 0.5) = 5 and 11 taps (scipy.ndimage convention). */
#define NIC_SSIM_SIGMA 1.5
#define NIC_SSIM_RADIUS 5
#define NIC_SSIM_TAPS (2 * NIC_SSIM_RADIUS + 1)

/* MS-SSIM: number of scales and the smallest side allowed at the last one. */
#define NIC_MS_SSIM_SCALES 5
#define NIC_MS_SSIM_MIN_SIDE NIC_SSIM_TAPS

/* Y = 0.299 R + 0.587 G + 0.114 B in double for each pixel of img (RGB);
 * Y = the sample for a gray image. y receives width * height values. */
void nic_luma_plane(const nic_image *img, double *y);

/* Mean squared error over every sample of two images of the same width and
 * height. A gray image paired with an RGB one counts as R = G = B, so the
 * mean is over width * height * 3 samples; two gray images use one channel
 * (the same value, since R = G = B repeats each error three times). */
double nic_mse_images(const nic_image *a, const nic_image *b);

/* Mean squared error between two planes of n values. */
double nic_mse_planes(const double *x, const double *y, size_t n);

/* 10 log10(peak^2 / mse); +INFINITY when mse is 0. */
double nic_psnr_from_mse(double mse, double peak);

/* Means over the cropped SSIM map of one scale (see nic_ssim_plane). */
typedef struct nic_ssim_means {
    double ssim; /* mean of the full SSIM map */
    double cs;   /* mean of the contrast-structure term (2 sxy + C2) / (sx2 + sy2 + C2) */
} nic_ssim_means;

/*
 * SSIM of two planes as scikit-image 0.19 computes
 * structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255): Gaussian-weighted local
 * statistics, K1 = 0.01, K2 = 0.03, mean of the map after cropping
 * NIC_SSIM_RADIUS pixels from every side. Also returns the mean of the
 * contrast-structure term over the same crop (for MS-SSIM).
 *
 * When a side is smaller than NIC_SSIM_TAPS the cropped map is empty and
 * both means are NAN (scikit-image raises an error there). Fails only when
 * memory runs out.
 */
nic_status nic_ssim_plane(nic_context *ctx, const double *x, const double *y, size_t width,
                          size_t height, nic_ssim_means *out);

/*
 * SSIM (scale 1) and MS-SSIM (Wang, Simoncelli & Bovik 2003) of two planes,
 * sharing the scale-1 statistics. MS-SSIM uses 5 scales with 2x2 average
 * pooling between them (an odd last row or column is dropped), weights
 * 0.0448, 0.2856, 0.3001, 0.2363, 0.1333, the mean cs at scales 1-4 and the
 * mean SSIM at scale 5, each clamped to 0 when negative before the power.
 * *ms_ssim is NAN when the last scale would have a side smaller than
 * NIC_MS_SSIM_MIN_SIDE (a side below 176 at scale 1). Either output may be
 * NULL. Fails only when memory runs out.
 */
nic_status nic_ssim_ms_ssim_planes(nic_context *ctx, const double *x, const double *y,
                                   size_t width, size_t height, double *ssim, double *ms_ssim);

/* 2x2 average pooling: dst is (width / 2) x (height / 2), an odd last row
 * or column of src is dropped. */
void nic_downsample_2x2(const double *src, size_t width, size_t height, double *dst);

#endif
