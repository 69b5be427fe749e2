#include "entropy/gaussian.h"

#include <stdlib.h>

#include "common/context.h"

uint32_t nic_gaussian_tail(uint64_t x_q16)
{
    uint64_t i = x_q16 >> 8;
    if (i >= NIC_GAUSSIAN_TAIL_ENTRIES - 1)
        return 0;
    uint32_t frac = (uint32_t)(x_q16 & 255u);
    uint32_t a = nic_gaussian_tail_q32[i];
    uint32_t b = nic_gaussian_tail_q32[i + 1];
    return a - (uint32_t)(((uint64_t)(a - b) * frac) >> 8);
}

/* Q((j + 1/2) / s) for s = scale_q16 / 2^16: x_q16 = (2j + 1) * 2^31 / scale_q16. */
static uint32_t boundary_tail(uint32_t j, uint32_t scale_q16)
{
    uint64_t x_q16 = (((uint64_t)2 * j + 1) << 31) / scale_q16;
    return nic_gaussian_tail(x_q16);
}

static uint32_t half_width(uint32_t scale_q16)
{
    const uint32_t max_m = (NIC_CDF_MAX_SYMBOLS - 2) / 2;
    uint32_t m = 0;
    while (m < max_m && (uint64_t)2 * boundary_tail(m, scale_q16) > NIC_GAUSSIAN_TAIL_MASS_Q32)
        m++;
    return m;
}

uint32_t nic_gaussian_table_size(int t)
{
    return 2 * half_width(nic_gaussian_scale_q16[t]) + 2;
}

void nic_gaussian_table_weights(int t, uint64_t *w)
{
    const uint32_t scale = nic_gaussian_scale_q16[t];
    const uint32_t m = (nic_gaussian_table_size(t) - 2) / 2;
    /* P(0) = 1 - 2 Q(1/2s); P(+-k) = Q((k - 1/2)/s) - Q((k + 1/2)/s);
     * escape = 2 Q((m + 1/2)/s). The weights sum to exactly 2^32. */
    uint32_t prev = boundary_tail(0, scale);
    w[m] = ((uint64_t)1 << 32) - 2 * (uint64_t)prev;
    for (uint32_t k = 1; k <= m; k++) {
        uint32_t q = boundary_tail(k, scale);
        w[m + k] = w[m - k] = (uint64_t)prev - q;
        prev = q;
    }
    w[2 * m + 1] = 2 * (uint64_t)prev;
}

size_t nic_gaussian_weights_count(void)
{
    size_t n = 0;
    for (int t = 0; t < NIC_GAUSSIAN_SCALES; t++)
        n += nic_gaussian_table_size(t);
    return n;
}

nic_status nic_gaussian_create_from_weights(nic_context *ctx, nic_cdf_set *set,
                                            const uint64_t *weights)
{
    uint32_t sizes[NIC_GAUSSIAN_SCALES];
    int32_t offsets[NIC_GAUSSIAN_SCALES];
    uint32_t widest = 0;
    for (int t = 0; t < NIC_GAUSSIAN_SCALES; t++) {
        sizes[t] = nic_gaussian_table_size(t);
        offsets[t] = -(int32_t)((sizes[t] - 2) / 2);
        if (sizes[t] > widest)
            widest = sizes[t];
    }
    NIC_TRY(nic_cdf_set_create(ctx, set, NIC_GAUSSIAN_SCALES, sizes, offsets));
    uint64_t *w = weights ? NULL : malloc(widest * sizeof(uint64_t));
    if (!weights && !w) {
        nic_cdf_set_free(set);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "Gaussian tables: out of memory");
    }
    nic_status st = NIC_OK;
    for (int t = 0; t < NIC_GAUSSIAN_SCALES && st == NIC_OK; t++) {
        if (weights) {
            st = nic_cdf_set_fill_weights(ctx, set, (uint32_t)t, weights);
            weights += sizes[t];
        } else {
            nic_gaussian_table_weights(t, w);
            st = nic_cdf_set_fill_weights(ctx, set, (uint32_t)t, w);
        }
    }
    free(w);
    if (st != NIC_OK)
        nic_cdf_set_free(set);
    return st;
}

nic_status nic_gaussian_create(nic_context *ctx, nic_cdf_set *set)
{
    return nic_gaussian_create_from_weights(ctx, set, NULL);
}

uint16_t nic_gaussian_scale_index(uint32_t scale_q16)
{
    uint32_t lo = 0, hi = NIC_GAUSSIAN_SCALES - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (nic_gaussian_scale_q16[mid] >= scale_q16)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (uint16_t)lo;
}
