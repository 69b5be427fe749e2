/*
 * Factorized-prior coder: one CDF table per channel (the hyper-latent z of
 * the hyperprior model), built from the model's integer CDFs, values coded
 * channel by channel. Values outside a channel's table are escaped
 * (cdf.h), never clipped.
 *
 * Determinism: the tables come from integers stored with the model (a
 * quantized CDF, or integer probability weights that nic_cdf_quantize turns
 * into one), never from a floating-point evaluation of the density at
 * decode time (docs/ENTROPY.md).
 */
#ifndef NIC_ENTROPY_FACTORIZED_H
#define NIC_ENTROPY_FACTORIZED_H

#include <stddef.h>
#include <stdint.h>

#include "entropy/cdf.h"

/* Channel c covers the values offsets[c] .. offsets[c] + lengths[c] - 2;
 * symbol lengths[c] - 1 is its escape. lengths[c] is 2..NIC_CDF_MAX_SYMBOLS.
 * cdfs + c * stride holds lengths[c] + 1 cumulative values from 0 to 65536,
 * strictly increasing (the layout of CompressAI's quantized_cdf). */
nic_status nic_factorized_create_from_cdfs(nic_context *ctx, nic_cdf_set *set, uint32_t channels,
                                           const int32_t *offsets, const uint32_t *lengths,
                                           const uint32_t *cdfs, size_t stride);

/* The same from integer probability weights: weights + c * stride holds
 * lengths[c] weights, the escape's (the tail mass) last. */
nic_status nic_factorized_create_from_weights(nic_context *ctx, nic_cdf_set *set,
                                              uint32_t channels, const int32_t *offsets,
                                              const uint32_t *lengths, const uint64_t *weights,
                                              size_t stride);

/* values is planar: channel c is values[c * plane .. (c + 1) * plane).
 * channels must equal set->count. */
nic_status nic_factorized_encode(nic_context *ctx, const nic_cdf_set *set, const int32_t *values,
                                 uint32_t channels, size_t plane, nic_rans_encoder *enc);
nic_status nic_factorized_decode(nic_context *ctx, const nic_cdf_set *set, nic_rans_decoder *dec,
                                 uint32_t channels, size_t plane, int32_t *values);

#endif
