/*
 * Fitting the tables of a hyper model's decoder (hyper_fit.h): the
 * reconstruction offsets and the y tables.
 *
 * Reconstruction offsets (docs/CODEC.md, "Reconstruction offsets"): a nonzero symbol s says that y - mean fell in [s - 1/2, s + 1/2) steps.
 * Where the model's Gaussian for that element is narrow, most of that bin's
 * mass lies on the side towards the mean, so the bin's centroid is a better
 * guess than its middle. The offsets are alpha(q) times the Gaussian
 * centroid's distance from the middle, for the table's scale and |s| = 1, 2,
 * >= 3; alpha is chosen per quality index on training images by decoding them
 * (the synthesis, trained on bin middles, takes only part of the centroid
 * shift well, and less of it at high rates), on a few knots and linearly in
 * between.
 *
 * y tables (docs/CODEC.md, "Fitted y tables"): the model's Gaussians are a
 * little off the real distribution of the symbols coded with each table; the
 * counts of those symbols, made symmetric, with the Gaussian as a prior of
 * Y_PRIOR_COUNT symbols, give tables that code them in fewer bits.
 *
 * Everything here runs once, when a model is exported: what ships is integer
 * tables, which every decoder reads as they are.
 */
#include "codec/hyper_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

static const int knots[NIC_HYPER_RECON_KNOTS] = {0, 32, 64, 96, 128, 160, 192, 224, 255};
#define ALPHA_STEPS 10 /* alpha in 0, 0.1, ..., 1 */
#define Y_PRIOR_COUNT 1000.0 /* weight of the Gaussian beside a table's counts, in symbols */

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
/* Ideal bits of the counted symbols under a set of y tables. */
static double counted_bits(const nic_cdf_set *set, const uint64_t *counts)
{
    double bits = 0;
    for (uint32_t t = 0; t < set->count; t++)
        for (uint32_t k = 0; k < set->cdfs[t].size; k++) {
            uint64_t n = counts[(size_t)t * NIC_CDF_MAX_SYMBOLS + k];
            if (n)
                bits += (double)n * (16.0 - log2((double)(set->cdfs[t].sym[k] >> 16)));
        }
    return bits;
}

/* The y tables' weights from the counts: symmetric counts and the Gaussian as
 * a prior of Y_PRIOR_COUNT symbols, as probabilities times 2^40. */
static nic_status fit_y_weights(nic_context *ctx, const uint64_t *counts, uint64_t *out)
{
    uint64_t *g = malloc(sizeof(uint64_t) * NIC_CDF_MAX_SYMBOLS);
    if (!g)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory fitting the y tables");
    for (int t = 0; t < NIC_GAUSSIAN_SCALES; t++) {
        const uint32_t size = nic_gaussian_table_size(t), m = (size - 2) / 2;
        const uint64_t *c = counts + (size_t)t * NIC_CDF_MAX_SYMBOLS;
        nic_gaussian_table_weights(t, g);
        double total = 0;
        for (uint32_t k = 0; k < size; k++)
            total += (double)c[k];
        for (uint32_t k = 0; k < size; k++) {
            /* residual k - m and its mirror m - (k - m); the escape as it is */
            double n = k + 1 < size ? 0.5 * ((double)c[k] + (double)c[2 * m - k]) : (double)c[k];
            double p = (n + Y_PRIOR_COUNT * ((double)g[k] / 4294967296.0)) /
                       (total + Y_PRIOR_COUNT);
            out[k] = (uint64_t)llround(p * 1099511627776.0);
        }
        out += size;
    }
    free(g);
    return NIC_OK;
}

nic_status nic_hyper_fit_tables(nic_context *ctx, nic_hyper_codec *c, const nic_image *images,
                                size_t count, nic_hyper_fit *fit,
                                void (*progress)(void *user, int knot), void *user)
{
    memset(fit, 0, sizeof(*fit));
    if (count == 0)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "no images to fit the tables on");
    int32_t *saved = c->recon_offset;
    int32_t *table = calloc(NIC_HYPER_RECON_SIZE, sizeof(int32_t));
    double *sum = calloc((size_t)NIC_HYPER_RECON_KNOTS * (ALPHA_STEPS + 1), sizeof(double));
    uint64_t *counts = calloc((size_t)NIC_GAUSSIAN_SCALES * NIC_CDF_MAX_SYMBOLS, sizeof(uint64_t));
    uint64_t *weights = malloc(sizeof(uint64_t) * nic_gaussian_weights_count());
    if (!table || !sum || !counts || !weights) {
        free(table);
        free(sum);
        free(counts);
        free(weights);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory fitting the tables");
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
            st = nic_hyper_encode_counting(ctx, c, &lat, knots[k], 0, 0, counts, &buf, &size);
            if (st == NIC_OK)
                st = nic_container_parse(ctx, buf, size, "fit", 0, &f);
            for (int a = 0; a <= ALPHA_STEPS && st == NIC_OK; a++) {
                nic_image dec;
                fill_row(table, knots[k], a / (double)ALPHA_STEPS);
                st = nic_hyper_decode(ctx, c, &f, "fit", &dec);
                if (st == NIC_OK) {
                    double v = nic_hyper_quality(ctx, c, &images[i], &dec);
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
    nic_cdf_set fitted = {0};
    if (st == NIC_OK)
        st = fit_y_weights(ctx, counts, weights);
    if (st == NIC_OK)
        st = nic_gaussian_create_from_weights(ctx, &fitted, weights);
    if (st == NIC_OK) {
        fit->y_bits_before = counted_bits(&c->y_tables, counts);
        fit->y_bits_after = counted_bits(&fitted, counts);
        nic_cdf_set_free(&fitted);
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
        fit->y_weights = weights;
    } else {
        free(table);
        free(weights);
    }
    free(sum);
    free(counts);
    return st;
}

void nic_hyper_fit_free(nic_hyper_fit *fit)
{
    free(fit->offsets);
    free(fit->y_weights);
    fit->offsets = NULL;
    fit->y_weights = NULL;
}
