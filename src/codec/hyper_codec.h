/*
 * The hyper codec: a trained hyperprior model turned into a real bitstream.
 *
 *   analysis   image -> y (float, any kernels), z^ = round(h_a(y)) (integers)
 *   tables     z^ -> mean, log-scale (integer heads); quality -> steps (integer)
 *   symbols    s = round((y - mean) / step), coded with the Gaussian table of
 *              scale exp(log-scale) / step; z^ coded with per-channel tables
 *   synthesis  y^ = s * step + mean -> image, in exact integer arithmetic
 *              (models/int_transform.h), as the analysis
 *
 * docs/CODEC.md explains why the decoder reproduces every table choice on
 * any machine, and docs/FORMAT.md the bitstream.
 */
#ifndef NIC_CODEC_HYPER_CODEC_H
#define NIC_CODEC_HYPER_CODEC_H

#include "entropy/cdf.h"
#include "entropy/gaussian.h"
#include "models/hyper_int.h"
#include "models/int_transform.h"
#include "nn/conv.h"

#define NIC_MODEL_ID_HYPER 1
#define NIC_MODEL_ID_HYPER_MSSSIM 4 /* the same codec, weights trained for MS-SSIM */
#define NIC_HYPER_QUALITY_LEVELS 256 /* quality index 0..255 in the file */

typedef struct nic_hyper_codec {
    nic_hyper_model model;
    nic_hyper_int hint;
    nic_cdf_set z_tables; /* one per channel of z */
    nic_cdf_set y_tables; /* the 64 Gaussian tables */
    uint32_t weights_hash;
    nic_hyper_distortion distortion; /* what the weights were trained for */
    uint32_t model_id;               /* NIC_MODEL_ID_HYPER or _HYPER_MSSSIM, from it */
    /* The decoder's reconstruction offsets (docs/CODEC.md, "Reconstruction
     * offsets"): recon_offset[(q * 64 + t) * 3 + min(|s|, 3) - 1], in 1/65536
     * of a step, moves a nonzero symbol s coded with Gaussian table t at
     * quality index q towards the mean. NULL when the model file has none
     * (every offset 0: y^ = (s + mean) step). */
    int32_t *recon_offset;
    nic_int_transform analysis, synthesis; /* g_a and g_s in integer arithmetic */
    int have_analysis, have_engine;        /* made on first encode */
    nn_isa isa;                            /* their kernels (any gives the same bits) */
    /* Measurement only: run g_a and g_s as the float model on the engine's
     * kernels instead (not deterministic), to see what the integer
     * arithmetic costs in quality. */
    int float_transforms;
    size_t mem_budget;  /* bytes of row windows for the transforms (0: default) */
    nn_engine *eng;     /* float kernels for h_a and float_transforms (may be NULL) */
    char path[512];
} nic_hyper_codec;

nic_status nic_hyper_codec_load(nic_context *ctx, const char *path, nic_hyper_codec **out);
void nic_hyper_codec_free(nic_hyper_codec *c);
/* Makes what only encoding needs (the integer analysis, the engine); encoding
 * does it on first use. A model shared read-only by several contexts makes
 * it once, up front, so that the contexts' views only read it. */
nic_status nic_hyper_codec_prepare_encoder(nic_context *ctx, nic_hyper_codec *c);

/* Writes model weights plus the integer z tables (so decoders on every machine
 * use the same tables) and metadata (description; the distortion it was
 * trained for, which decides its model id) to path. */
nic_status nic_hyper_export(nic_context *ctx, const nic_hyper_model *m, const char *path,
                            const char *description, nic_hyper_distortion distortion);

#define NIC_HYPER_RECON_MAGS 3 /* |s| = 1, 2, >= 3 */
#define NIC_HYPER_RECON_SIZE (NIC_HYPER_QUALITY_LEVELS * NIC_GAUSSIAN_SCALES * NIC_HYPER_RECON_MAGS)
#define NIC_HYPER_RECON_MAX 32768 /* an offset is at most half a step */

/* Adds tables fitted to the model to a model file written by
 * nic_hyper_export, in place (either may be NULL: not written, and one the
 * file had is kept); the file's weights hash then covers them:
 * offsets: the reconstruction offsets (NIC_HYPER_RECON_SIZE values in
 * 0..NIC_HYPER_RECON_MAX, layout as recon_offset), tensor "recon.offset";
 * y_weights: the weights of the 64 y tables (nic_gaussian_weights_count()
 * values, laid out as nic_gaussian_create_from_weights reads them), tensor
 * "y_tables.weights". */
nic_status nic_hyper_write_tables(nic_context *ctx, const char *path, const int32_t *offsets,
                                  const uint64_t *y_weights);

/* What the analysis transform found for one image; reused for every quality. */
typedef struct nic_hyper_latents {
    uint32_t width, height, channels; /* the coded image */
    int hy, wy, hz, wz;               /* latent sizes */
    float *y;                         /* [m][hy][wy] */
    int32_t *zhat;                    /* [nz][hz][wz] */
    int32_t *mean_q16, *log_scale_q16; /* [m][hy][wy] */
    uint8_t *z_stream;                /* coded z (the same for every quality) */
    size_t z_size;
} nic_hyper_latents;

nic_status nic_hyper_analyze(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                             nic_hyper_latents *lat);
void nic_hyper_latents_free(nic_hyper_latents *lat);

/* Encoder-side refinement (docs/CODEC.md): `iters` gradient steps on lat's y
 * towards a lower rate + lambda * MSE for quality index q with the model held
 * fixed, then z, the heads' outputs and z's stream again from the new y. The
 * latents then serve that quality (others still decode, less well). Pictures
 * that nic_hyper_can_refine refuses fail with NIC_ERR_LIMIT: the float model's
 * activations for the whole picture are held at once. */
#define NIC_HYPER_REFINE_MAX_PIXELS (4 << 20) /* padded to multiples of 64 */
#define NIC_HYPER_REFINE_LR 0.003f
int nic_hyper_can_refine(uint32_t width, uint32_t height);
nic_status nic_hyper_refine_latents(nic_context *ctx, nic_hyper_codec *c, const nic_image *img,
                                    int q, int iters, nic_hyper_latents *lat);

/* A complete .nic file at quality index q (0..255). original_* = 0 when the
 * coded image is the original size. */
nic_status nic_hyper_encode(nic_context *ctx, nic_hyper_codec *c, const nic_hyper_latents *lat,
                            int q, uint32_t original_width, uint32_t original_height,
                            uint8_t **out, size_t *size);

/* The same, also counting the symbols the file codes with each y table:
 * counts[t * NIC_CDF_MAX_SYMBOLS + k] += 1 for symbol k of table t (the
 * escape is symbol size - 1). For fitting the tables (hyper_fit.h). */
nic_status nic_hyper_encode_counting(nic_context *ctx, nic_hyper_codec *c,
                                     const nic_hyper_latents *lat, int q,
                                     uint32_t original_width, uint32_t original_height,
                                     uint64_t *counts, uint8_t **out, size_t *size);

/* The quality the codec's weights aim at, of b against a (same size): PSNR
 * over RGB, or MS-SSIM for MS-SSIM-tuned weights; NAN when it cannot be
 * measured. What the budget search and the table fit maximize. */
double nic_hyper_quality(nic_context *ctx, const nic_hyper_codec *c, const nic_image *a,
                         const nic_image *b);

/* Decodes a parsed container whose model is this codec into the coded-size
 * image: the same pixels on every machine, thread count and build. */
nic_status nic_hyper_decode(nic_context *ctx, nic_hyper_codec *c, const nic_container *file,
                            const char *name, nic_image *out);

/* The context's hyper codec, loaded on first use from the model search path. */
nic_status nic_codec_get_hyper(nic_context *ctx, nic_hyper_codec **out);
/* The MS-SSIM-tuned model (models/hyper-msssim.safetensors), the same way. */
nic_status nic_codec_get_hyper_msssim(nic_context *ctx, nic_hyper_codec **out);

/* The quantization step of a channel, exp(log_step / 2^16), in Q20 (the same
 * on every machine: qconv.h's nic_q_exp). */
int64_t nic_hyper_step_q20(int32_t log_step_q16);

/* Index of the Gaussian table for log-scale ln(sigma) in Q16 (integer only). */
uint16_t nic_hyper_scale_index(int32_t log_sigma_q16);

#endif
