/*
 * The decoder's reconstruction offsets of the hyper codec: how a model's
 * table (recon_offset in nic_hyper_codec, tensor "recon.offset" of its file)
 * is fitted. docs/CODEC.md, "Reconstruction offsets"; the decoder's use of it
 * is in docs/FORMAT.md.
 */
#ifndef NIC_CODEC_HYPER_RECON_H
#define NIC_CODEC_HYPER_RECON_H

#include "codec/hyper_codec.h"

#define NIC_HYPER_RECON_KNOTS 9 /* quality indexes 0, 32, ..., 224, 255 */

typedef struct nic_hyper_recon_fit {
    int quality[NIC_HYPER_RECON_KNOTS]; /* the knots' quality indexes */
    double alpha[NIC_HYPER_RECON_KNOTS]; /* share of the Gaussian centroid shift chosen */
    double gain[NIC_HYPER_RECON_KNOTS];  /* mean quality gained there (dB, or MS-SSIM) */
    int32_t *offsets; /* NIC_HYPER_RECON_SIZE values (malloc'ed; free()) */
} nic_hyper_recon_fit;

/* Fits the offsets of model c on images (coded at each knot's quality,
 * decoded with alpha = 0, 0.1, ..., 1; the best mean of the quality the model
 * is trained for: PSNR, or MS-SSIM for MS-SSIM-tuned weights). c's own table
 * is left as it was. progress (may be NULL) is called after each image. */
nic_status nic_hyper_fit_recon(nic_context *ctx, nic_hyper_codec *c, const nic_image *images,
                               size_t count, nic_hyper_recon_fit *fit,
                               void (*progress)(void *user, int image), void *user);

#endif
