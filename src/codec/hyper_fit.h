/*
 * The tables a hyper model's decoder reads beside its weights, fitted to the
 * model on training images when it is exported (nic train --export):
 *   - the reconstruction offsets (recon_offset in nic_hyper_codec, tensor
 *     "recon.offset"): docs/CODEC.md, "Reconstruction offsets";
 *   - the y tables (tensor "y_tables.weights"): the 64 entropy-coding tables
 *     of y, fitted to the symbols the model really codes with each of them
 *     instead of the discretized Gaussians: docs/CODEC.md, "Fitted y tables".
 * docs/FORMAT.md says how a decoder uses them.
 */
#ifndef NIC_CODEC_HYPER_FIT_H
#define NIC_CODEC_HYPER_FIT_H

#include "codec/hyper_codec.h"

#define NIC_HYPER_RECON_KNOTS 9 /* quality indexes 0, 32, ..., 224, 255 */

typedef struct nic_hyper_fit {
    int quality[NIC_HYPER_RECON_KNOTS]; /* the knots' quality indexes */
    double alpha[NIC_HYPER_RECON_KNOTS]; /* share of the Gaussian centroid shift chosen */
    double gain[NIC_HYPER_RECON_KNOTS];  /* mean quality gained there (dB, or MS-SSIM) */
    int32_t *offsets;    /* NIC_HYPER_RECON_SIZE values (malloc'ed; free()) */
    uint64_t *y_weights; /* nic_gaussian_weights_count() values (malloc'ed; free()) */
    double y_bits_before, y_bits_after; /* ideal y bits of the fit's files, both tables */
} nic_hyper_fit;

/* Codes images with model c at each knot's quality index and fits
 *   - alpha per knot: each file decoded with alpha = 0, 0.1, ..., 1, the best
 *     mean of the quality the model is trained for (PSNR, or MS-SSIM for
 *     MS-SSIM-tuned weights); the table interpolates linearly in between;
 *   - the y tables: the symbols of those files counted per table, symmetric
 *     around 0, mixed with the Gaussian as a prior (docs/CODEC.md).
 * c is left as it was. progress (may be NULL) is called after each image. */
nic_status nic_hyper_fit_tables(nic_context *ctx, nic_hyper_codec *c, const nic_image *images,
                                size_t count, nic_hyper_fit *fit,
                                void (*progress)(void *user, int image), void *user);

void nic_hyper_fit_free(nic_hyper_fit *fit);

#endif
