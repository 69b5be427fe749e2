/*
 * Files of the MNIST model ("mnist-cnn", models/mnist_ae.h): 28 x 28 gray
 * digits, one rate level per file. docs/FORMAT.md section 6.2.
 *
 * Symbols: for an image at level l, element e of y (channel-major, then
 * row-major over 7 x 7) becomes s_e = round(y_e / step_lc - mu_e / step_lc)
 * (c = e's channel, ties to even), coded with the Gaussian table t[l][e]
 * (entropy/gaussian.h) through the binary coder (entropy/cdf_binary.h), so
 * a stream has no framing bytes. The tables t[l][e] are integers computed
 * once from the trained model (nic_mnist_codec_create): the decoder never
 * chooses a table from a float computed at decode time. The decoder
 * reconstructs y^_e = (s_e + mu_e / step_lc) * step_lc and runs the decoder
 * network.
 *
 * The same coded bits in three layouts:
 *  - record: one image; byte 0 = level (bits 0-3) | record version 1 << 4,
 *    then the binary stream, whose length is the rest of the file. 1 byte of
 *    overhead: the model is agreed on beforehand (no weights hash, no CRC),
 *    as for a message between two copies of the same application;
 *  - .nic: one image in the container (FORMAT.md section 2): model id 16,
 *    weights hash, 28 x 28, 1 channel, parameters = the level byte, one
 *    stream (17 bytes of container overhead + 1 parameter byte);
 *  - archive: many images in one .nic container: parameters = the level
 *    byte then the image count (varint), one stream holding every image's
 *    symbols in order.
 */
#ifndef NIC_CODEC_MNIST_CODEC_H
#define NIC_CODEC_MNIST_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "entropy/binary.h"
#include "entropy/cdf.h"
#include "models/mnist_ae.h"

/* Ids 2..15 are left for the codecs of the RNN issue and later default codecs. */
#define NIC_MODEL_ID_MNIST 16
#define NIC_MNIST_RECORD_VERSION 1
#define NIC_MNIST_ARCHIVE_MAX_IMAGES 1000000u /* bounds what a reader allocates */

typedef struct nic_mnist_codec {
    int levels, latent, count; /* count = latent * 49 symbols per image */
    uint16_t *table;           /* [levels][count] Gaussian table index */
    float *mean_q;             /* [levels][count] mu_e / step */
    float *step;               /* [levels][latent] */
    uint32_t weights_hash;     /* CRC-32 of the parameters, in declaration order */
    nic_cdf_set gauss;
} nic_mnist_codec;

nic_status nic_mnist_codec_create(nic_context *ctx, const nic_mnist_ae *m, nic_mnist_codec *c);
void nic_mnist_codec_free(nic_mnist_codec *c);

/* y (count floats of one image) -> symbols, and back to y^. */
void nic_mnist_codec_quantize(const nic_mnist_codec *c, int level, const float *y, int32_t *sym);
void nic_mnist_codec_dequantize(const nic_mnist_codec *c, int level, const int32_t *sym,
                                float *yhat);

/* The symbols of one image into / out of a binary stream. */
void nic_mnist_codec_put(const nic_mnist_codec *c, int level, const int32_t *sym,
                         nic_binary_encoder *enc);
nic_status nic_mnist_codec_get(nic_context *ctx, const nic_mnist_codec *c, int level,
                               nic_binary_decoder *dec, int32_t *sym);

/* Files (malloc'ed, free with free()); readers fill sym (count values, or
 * n * count for the archive: *syms malloc'ed). name labels messages. */
nic_status nic_mnist_record_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                                  const int32_t *sym, uint8_t **out, size_t *size);
nic_status nic_mnist_record_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                                 size_t size, const char *name, int *level, int32_t *sym);
nic_status nic_mnist_nic_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                               const int32_t *sym, uint8_t **out, size_t *size);
nic_status nic_mnist_nic_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                              size_t size, const char *name, int *level, int32_t *sym);
nic_status nic_mnist_archive_write(nic_context *ctx, const nic_mnist_codec *c, int level,
                                   uint32_t n, const int32_t *syms, uint8_t **out, size_t *size);
nic_status nic_mnist_archive_read(nic_context *ctx, const nic_mnist_codec *c, const uint8_t *data,
                                  size_t size, const char *name, int *level, uint32_t *n,
                                  int32_t **syms);

#endif
