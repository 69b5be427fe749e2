/*
 * The progressive rnn codec (model id 2): the RNN model of src/models/rnn.h
 * turned into a layered bitstream.
 *
 *   file    one container stream per iteration ("layer"), in order
 *   layer   the iteration's bits, bits x ceil(H/16) x ceil(W/16), position by
 *           position in raster order, `bits` channels per position, packed
 *           most significant bit first (docs/FORMAT.md 6.3)
 *   decode  the decoder network on the first K layers, additive (or one-shot)
 *
 * Any prefix of a file that ends on a layer boundary is a coarser picture,
 * and a file cut anywhere decodes the complete layers it holds. The decoder
 * runs the deterministic reference kernels (fixed summation order, parallel
 * over outputs only), so its pixels are the same for any thread count and in
 * the build without oneDNN; the raw bits need no model to be read at all.
 */
#ifndef NIC_CODEC_RNN_CODEC_H
#define NIC_CODEC_RNN_CODEC_H

#include "entropy/binary.h"
#include "models/rnn.h"
#include "models/rnn_ctx.h"
#include "nn/conv.h"

#define NIC_MODEL_ID_RNN 2
#define NIC_MODEL_ID_RNN_CNN 3 /* rnn+cnn: the same layers, coded with the context model */
/* The networks keep every cell's state for the whole picture (about 0.5 KB per
 * pixel decoding, 1 KB encoding): larger pictures are refused (no tiles yet). */
#define NIC_RNN_MAX_PIXELS (4u << 20)

typedef struct nic_rnn_codec {
    nic_rnn_model model;
    uint32_t weights_hash;
    nn_engine *eng; /* fast kernels for the encoder (may be NULL) */
    nic_rnn_ctx_model ctx_model; /* rnn+cnn */
    int has_ctx;
    char path[512];
} nic_rnn_codec;

/* NIC_MODEL_ID_RNN, or NIC_MODEL_ID_RNN_CNN for a model with a context model. */
int nic_rnn_model_id(const nic_rnn_codec *c);

/* Weights + metadata (model "rnn", iterations, reconstruction). */
nic_status nic_rnn_export(nic_context *ctx, const nic_rnn_model *m, const char *path,
                          const char *description);
/* The rnn+cnn model file: the rnn weights and the integer context model
 * (ctx.weights, ctx.p1). */
nic_status nic_rnn_cnn_export(nic_context *ctx, const nic_rnn_model *m,
                              const nic_rnn_ctx_model *cm, const char *path,
                              const char *description);
nic_status nic_rnn_codec_load(nic_context *ctx, const char *path, nic_rnn_codec **out);
void nic_rnn_codec_free(nic_rnn_codec *c);

/* Bytes of one raw layer of a width x height picture. */
size_t nic_rnn_layer_bytes(const nic_rnn_codec *c, uint32_t width, uint32_t height);

/* Encodes `layers` iterations (1..model iterations) of img into a complete
 * .nic file. With max_bytes > 0, keeps the most layers whose file fits (at
 * least one; NIC_ERR_LIMIT when even one does not). *layers_out: the layers
 * in the file. original_*: 0, or the size to scale back to. */
nic_status nic_rnn_encode(nic_context *ctx, nic_rnn_codec *c, const nic_image *img, int layers,
                          uint64_t max_bytes, uint32_t original_width, uint32_t original_height,
                          uint8_t **out, size_t *size, int *layers_out);
/* The same; codes (may be NULL) receives the binary codes of every layer coded
 * (free codes->v with free()): the training data of the context model. */
nic_status nic_rnn_encode_codes(nic_context *ctx, nic_rnn_codec *c, const nic_image *img,
                                int layers, uint64_t max_bytes, uint32_t original_width,
                                uint32_t original_height, uint8_t **out, size_t *size,
                                int *layers_out, nic_rnn_codes *codes);

typedef struct nic_rnn_decode_info {
    int layers_total;    /* layers the file declares */
    int layers_present;  /* complete layers in the data */
    int layers_decoded;  /* decoded (max_layers may stop earlier) */
    size_t bytes_missing; /* of the declared file (0 when whole) */
} nic_rnn_decode_info;

/* Decodes the first min(max_layers, complete layers) layers (max_layers 0:
 * all) of a parsed container (a partial one too: NIC_CONTAINER_ALLOW_TRUNCATED)
 * into the coded-size image. data/size: the bytes the container was parsed
 * from (to find the declared layer sizes of a cut file). Fails when no layer
 * is complete. */
nic_status nic_rnn_decode(nic_context *ctx, nic_rnn_codec *c, const nic_container *file,
                          const uint8_t *data, size_t size, const char *name, int max_layers,
                          nic_image *out, nic_rnn_decode_info *info);

/* The same, calling fn (when not NULL) with the picture after every layer
 * (coded size; a progressive viewer, the evaluation); a status other than
 * NIC_OK from fn stops decoding and is returned. */
typedef nic_status (*nic_rnn_layer_fn)(void *user, int layers, const nic_image *picture);
nic_status nic_rnn_decode_layers(nic_context *ctx, nic_rnn_codec *c, const nic_container *file,
                                 const uint8_t *data, size_t size, const char *name,
                                 int max_layers, nic_rnn_layer_fn fn, void *user, nic_image *out,
                                 nic_rnn_decode_info *info);

/* The same from codes already read (codes->iterations layers, [bits][h16][w16]
 * each, h16 x w16 the 16x16 blocks of the padded picture): the decoder network
 * alone, the same pixels as from a file with these codes. */
nic_status nic_rnn_decode_codes(nic_context *ctx, nic_rnn_codec *c, const nic_rnn_codes *codes,
                                uint32_t width, uint32_t height, uint32_t channels,
                                nic_rnn_layer_fn fn, void *user, nic_image *out);

/* rnn+cnn: layer t of codes through the binary coder, every code with its
 * probability from the context model (FORMAT.md 6.4 order); a layer's stream
 * is one put_layer, a record's stream several in a row. get_layer needs the
 * layers before t in codes already. */
void nic_rnn_ctx_put_layer(const nic_rnn_ctx_model *m, const nic_rnn_codes *codes, int t,
                           nic_binary_encoder *enc);
void nic_rnn_ctx_get_layer(const nic_rnn_ctx_model *m, nic_binary_decoder *dec,
                           nic_rnn_codes *codes, int t);

/* Records (FORMAT.md 6.5): the first `layers` layers of one picture with no
 * container, for two sides that agree on the model and the picture size
 * beforehand (the MNIST experiment). rnn: the raw layers of 6.3 back to back
 * (the length gives the layer count); rnn+cnn: one byte, the layer count,
 * then ONE binary stream coding all the layers in order (one stream end
 * instead of one per layer). The reader allocates codes->v (free()). */
nic_status nic_rnn_record_write(nic_context *ctx, const nic_rnn_codec *c,
                                const nic_rnn_codes *codes, int layers, uint8_t **out,
                                size_t *size);
nic_status nic_rnn_record_read(nic_context *ctx, const nic_rnn_codec *c, const uint8_t *data,
                               size_t size, uint32_t width, uint32_t height, const char *name,
                               nic_rnn_codes *codes);

/* The context's rnn codec (rnn.safetensors) or rnn+cnn codec
 * (rnn+cnn.safetensors), loaded on first use from the model search path. */
nic_status nic_codec_get_rnn(nic_context *ctx, nic_rnn_codec **out);
nic_status nic_codec_get_rnn_cnn(nic_context *ctx, nic_rnn_codec **out);

#endif
