#include "entropy/factorized.h"

#include "common/context.h"

nic_status nic_factorized_create_from_cdfs(nic_context *ctx, nic_cdf_set *set, uint32_t channels,
                                           const int32_t *offsets, const uint32_t *lengths,
                                           const uint32_t *cdfs, size_t stride)
{
    NIC_TRY(nic_cdf_set_create(ctx, set, channels, lengths, offsets));
    for (uint32_t c = 0; c < channels; c++) {
        if (stride < (size_t)lengths[c] + 1) {
            nic_cdf_set_free(set);
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "factorized prior: channel %u has %u symbols but the CDF stride is "
                            "%zu",
                            c, lengths[c], stride);
        }
        nic_status st = nic_cdf_set_fill_cdf(ctx, set, c, cdfs + (size_t)c * stride);
        if (st != NIC_OK) {
            nic_cdf_set_free(set);
            return nic_fail_prefix(ctx, "factorized prior: channel %u", c);
        }
    }
    return NIC_OK;
}

nic_status nic_factorized_create_from_weights(nic_context *ctx, nic_cdf_set *set,
                                              uint32_t channels, const int32_t *offsets,
                                              const uint32_t *lengths, const uint64_t *weights,
                                              size_t stride)
{
    NIC_TRY(nic_cdf_set_create(ctx, set, channels, lengths, offsets));
    for (uint32_t c = 0; c < channels; c++) {
        if (stride < lengths[c]) {
            nic_cdf_set_free(set);
            return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT,
                            "factorized prior: channel %u has %u symbols but the weight stride "
                            "is %zu",
                            c, lengths[c], stride);
        }
        nic_status st = nic_cdf_set_fill_weights(ctx, set, c, weights + (size_t)c * stride);
        if (st != NIC_OK) {
            nic_cdf_set_free(set);
            return nic_fail_prefix(ctx, "factorized prior: channel %u", c);
        }
    }
    return NIC_OK;
}

nic_status nic_factorized_encode(nic_context *ctx, const nic_cdf_set *set, const int32_t *values,
                                 uint32_t channels, size_t plane, nic_rans_encoder *enc)
{
    if (channels != set->count)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "factorized prior: %u channels to code, the model has %u", channels,
                        set->count);
    for (uint32_t c = 0; c < channels; c++)
        NIC_TRY(nic_cdf_encode_run(ctx, set, (uint16_t)c, values + (size_t)c * plane, plane,
                                   enc));
    return NIC_OK;
}

nic_status nic_factorized_decode(nic_context *ctx, const nic_cdf_set *set, nic_rans_decoder *dec,
                                 uint32_t channels, size_t plane, int32_t *values)
{
    if (channels != set->count)
        return NIC_FAIL(ctx, NIC_ERR_MISMATCH,
                        "factorized prior: %u channels to decode, the model has %u", channels,
                        set->count);
    for (uint32_t c = 0; c < channels; c++) {
        nic_status st =
            nic_cdf_decode_run(ctx, set, (uint16_t)c, dec, plane, values + (size_t)c * plane);
        if (st != NIC_OK)
            return nic_fail_prefix(ctx, "factorized prior: channel %u", c);
    }
    return NIC_OK;
}
