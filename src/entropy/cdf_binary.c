#include "entropy/cdf_binary.h"

#include <math.h>

#define HALF (1u << 15)
#define MAX_GAMMA_ZEROS 39 /* distances below 2^39 - 1, as the rANS escapes */

static uint32_t sym_start(const nic_cdf *c, uint32_t s)
{
    return s < c->size ? c->sym[s] & 0xffffu : 1u << 16;
}

/* P(symbol >= mid | lo <= symbol < hi) in 2^-16, clamped. */
static uint32_t upper_p1(const nic_cdf *c, uint32_t lo, uint32_t mid, uint32_t hi)
{
    uint32_t a = sym_start(c, lo), m = sym_start(c, mid), b = sym_start(c, hi);
    uint32_t p = (uint32_t)(((uint64_t)(b - m) << 16) / (b - a));
    return p < 1 ? 1 : (p > 65535 ? 65535 : p);
}

void nic_cdf_encode_binary(const nic_cdf *c, int64_t residual, nic_binary_encoder *enc)
{
    int64_t s = residual - c->offset;
    const int64_t esc = (int64_t)c->size - 1;
    uint32_t sym = (s >= 0 && s < esc) ? (uint32_t)s : (uint32_t)esc;
    uint32_t lo = 0, hi = c->size;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        int bit = sym >= mid;
        nic_binary_encode(enc, bit, upper_p1(c, lo, mid, hi));
        if (bit)
            lo = mid;
        else
            hi = mid;
    }
    if (sym != (uint32_t)esc)
        return;
    int above = s >= 0;
    uint64_t v = (above ? (uint64_t)(s - esc) : (uint64_t)(-s - 1)) + 1;
    unsigned nb = 0;
    while (v >> nb)
        nb++;
    nic_binary_encode(enc, above, HALF);
    for (unsigned i = 1; i < nb; i++)
        nic_binary_encode(enc, 0, HALF);
    nic_binary_encode(enc, 1, HALF);
    for (unsigned i = nb - 1; i-- > 0;)
        nic_binary_encode(enc, (int)((v >> i) & 1u), HALF);
}

int nic_cdf_decode_binary(const nic_cdf *c, nic_binary_decoder *dec, int64_t *residual)
{
    uint32_t lo = 0, hi = c->size;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (nic_binary_decode(dec, upper_p1(c, lo, mid, hi)))
            lo = mid;
        else
            hi = mid;
    }
    if (lo + 1 < c->size) {
        *residual = (int64_t)c->offset + lo;
        return 0;
    }
    int above = nic_binary_decode(dec, HALF);
    unsigned zeros = 0;
    while (!nic_binary_decode(dec, HALF))
        if (++zeros > MAX_GAMMA_ZEROS)
            return -1;
    uint64_t v = 1;
    for (unsigned i = 0; i < zeros; i++)
        v = (v << 1) | (uint64_t)nic_binary_decode(dec, HALF);
    uint64_t d = v - 1;
    if (above)
        *residual = (int64_t)c->offset + (int64_t)(c->size - 1) + (int64_t)d;
    else
        *residual = (int64_t)c->offset - 1 - (int64_t)d;
    return 0;
}

double nic_cdf_binary_cost_bits(const nic_cdf *c, int64_t residual)
{
    int64_t s = residual - c->offset;
    const int64_t esc = (int64_t)c->size - 1;
    uint32_t sym = (s >= 0 && s < esc) ? (uint32_t)s : (uint32_t)esc;
    uint32_t lo = 0, hi = c->size;
    double bits = 0;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        double p1 = upper_p1(c, lo, mid, hi) / 65536.0;
        if (sym >= mid) {
            bits -= log2(p1);
            lo = mid;
        } else {
            bits -= log2(1.0 - p1);
            hi = mid;
        }
    }
    if (sym == (uint32_t)esc) /* side bit and gamma code, as a rANS escape */
        bits += nic_rans_escape_bits(s >= 0 ? (uint64_t)(s - esc) : (uint64_t)(-s - 1));
    return bits;
}
