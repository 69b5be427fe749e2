/*
 * Fitting the decoder's reconstruction offsets (docs/CODEC.md,
 * "Reconstruction offsets").
 *
 * A nonzero symbol s says that y - mean fell in [s - 1/2, s + 1/2) steps.
 * Where the model's Gaussian for that element is narrow, most of that bin's
 * mass lies on the side towards the mean, so the bin's centroid is a better
 * guess than its middle. The offsets are alpha(q) times the Gaussian
 * centroid's distance from the middle, for the table's scale and |s| = 1, 2,
 * >= 3; alpha is chosen per quality index on training images by decoding them
 * (the synthesis, trained on bin middles, takes only part of the centroid
 * shift well, and less of it at high rates), on a few knots and linearly in
 * between. Everything here runs once, when a model is exported: what ships is
 * the integer table, which every decoder reads as it is.
 */
#include "codec/hyper_recon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

static const int knots[NIC_HYPER_RECON_KNOTS] = {0, 32, 64, 96, 128, 160, 192, 224, 255};
#define ALPHA_STEPS 10 /* alpha in 0, 0.1, ..., 1 */

/* Distance of the centroid of N(0, sigma^2) over [a - 1/2, a + 1/2) from a,
 * for a >= 1 (in steps; 0 .. 1/2). */
static double gaussian_centroid_offset(double sigma, int a)
{
    const double lo = (a - 0.5) / sigma, hi = (a + 0.5) / sigma;
    const double mass = 0.5 * (erfc(lo / sqrt(2.0)) - erfc(hi / sqrt(2.0)));
    double c;
    if (mass > 1e-300)
        c = sigma * (exp(-0.5 * lo * lo) - exp(-0.5 * hi * hi)) / sqrt(2.0 * 3.14159265358979323846) /
            mass;
    else
        c = a - 0.5; /* far in the tail: the centroid is at the bin's near edge */
    double d = a - c;
    return d < 0 ? 0 : (d > 0.5 ? 0.5 : d);
}

/* Row q of the table for one alpha. */
static void fill_row(int32_t *table, int q, double alpha)
{
    int32_t *row = table + (size_t)q * NIC_GAUSSIAN_SCALES * NIC_HYPER_RECON_MAGS;
    for (int t = 0; t < NIC_GAUSSIAN_SCALES; t++)
        for (int a = 1; a <= NIC_HYPER_RECON_MAGS; a++) {
            double sigma = nic_gaussian_scale_q16[t] / 65536.0;
            double v = nearbyint(alpha * gaussian_centroid_offset(sigma, a) * 65536.0);
            row[t * NIC_HYPER_RECON_MAGS + a - 1] =
                (int32_t)(v > NIC_HYPER_RECON_MAX ? NIC_HYPER_RECON_MAX : v);
        }
}

/* The quality the model is trained for (higher is better). */
static double quality(nic_context *ctx, const nic_hyper_codec *c, const nic_image *a,
                      const nic_image *b)
{
    if (c->distortion == NIC_HYPER_MSSSIM) {
        nic_quality q;
        return nic_compare(ctx, a, b, &q) == NIC_OK && isfinite(q.ms_ssim) ? q.ms_ssim : NAN;
    }
    return nic_psnr_from_mse(nic_mse_images(a, b), NIC_METRICS_PEAK);
}

nic_status nic_hyper_fit_recon(nic_context *ctx, nic_hyper_codec *c, const nic_image *images,
                               size_t count, nic_hyper_recon_fit *fit,
                               void (*progress)(void *user, int knot), void *user)
{
    memset(fit, 0, sizeof(*fit));
    if (count == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "no images to fit the reconstruction on");
    int32_t *saved = c->recon_offset;
    int32_t *table = calloc(NIC_HYPER_RECON_SIZE, sizeof(int32_t));
    double *sum = calloc((size_t)NIC_HYPER_RECON_KNOTS * (ALPHA_STEPS + 1), sizeof(double));
    if (!table || !sum) {
        free(table);
        free(sum);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory fitting the reconstruction");
    }
    c->recon_offset = table; /* the decoder reads the row of the file's quality */
    nic_status st = NIC_OK;
    for (size_t i = 0; i < count && st == NIC_OK; i++) {
        nic_hyper_latents lat;
        st = nic_hyper_analyze(ctx, c, &images[i], &lat);
        if (st != NIC_OK)
            break;
        for (int k = 0; k < NIC_HYPER_RECON_KNOTS && st == NIC_OK; k++) {
            uint8_t *buf = NULL;
            size_t size;
            nic_container f;
            st = nic_hyper_encode(ctx, c, &lat, knots[k], 0, 0, &buf, &size);
            if (st == NIC_OK)
                st = nic_container_parse(ctx, buf, size, "fit", 0, &f);
            for (int a = 0; a <= ALPHA_STEPS && st == NIC_OK; a++) {
                nic_image dec;
                fill_row(table, knots[k], a / (double)ALPHA_STEPS);
                st = nic_hyper_decode(ctx, c, &f, "fit", &dec);
                if (st == NIC_OK) {
                    double v = quality(ctx, c, &images[i], &dec);
                    if (!isfinite(v))
                        st = NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                                      "image %zu: its quality cannot be measured (%ux%u)", i,
                                      images[i].width, images[i].height);
                    sum[k * (ALPHA_STEPS + 1) + a] += v;
                    nic_image_free(&dec);
                }
            }
            free(buf);
        }
        nic_hyper_latents_free(&lat);
        if (progress && st == NIC_OK)
            progress(user, (int)i);
    }
    c->recon_offset = saved;
    if (st == NIC_OK) {
        for (int k = 0; k < NIC_HYPER_RECON_KNOTS; k++) {
            const double *s = sum + k * (ALPHA_STEPS + 1);
            int best = 0;
            for (int a = 1; a <= ALPHA_STEPS; a++)
                if (s[a] > s[best])
                    best = a;
            fit->quality[k] = knots[k];
            fit->alpha[k] = best / (double)ALPHA_STEPS;
            fit->gain[k] = (s[best] - s[0]) / (double)count;
        }
        /* alpha between the knots: linear in the quality index */
        for (int q = 0; q < NIC_HYPER_QUALITY_LEVELS; q++) {
            int k = 0;
            while (k + 2 < NIC_HYPER_RECON_KNOTS && q > knots[k + 1])
                k++;
            double u = (q - knots[k]) / (double)(knots[k + 1] - knots[k]);
            fill_row(table, q, fit->alpha[k] + u * (fit->alpha[k + 1] - fit->alpha[k]));
        }
        fit->offsets = table;
    } else {
        free(table);
    }
    free(sum);
    return st;
}
