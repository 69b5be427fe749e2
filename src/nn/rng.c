#include "nn/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void nn_rng_seed(nn_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t nn_rng_next(nn_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float nn_rng_uniform(nn_rng *rng)
{
    return (float)(nn_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

double nn_rng_uniform_f64(nn_rng *rng)
{
    return (double)(nn_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

double nn_rng_normal(nn_rng *rng)
{
    /* 1 - u is in (0, 1], so log() never sees 0. */
    double u1 = 1.0 - nn_rng_uniform_f64(rng);
    double u2 = nn_rng_uniform_f64(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t nn_rng_below(nn_rng *rng, uint64_t n)
{
    uint64_t limit = (uint64_t)0 - ((uint64_t)0 - n) % n; /* largest multiple of n, mod 2^64 */
    for (;;) {
        uint64_t r = nn_rng_next(rng);
        if (limit == 0 || r < limit)
            return r % n;
    }
}

void nn_rng_save(const nn_rng *rng, uint8_t out[32])
{
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 8; b++)
            out[i * 8 + b] = (uint8_t)(rng->s[i] >> (8 * b));
}

void nn_rng_load(nn_rng *rng, const uint8_t in[32])
{
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int b = 0; b < 8; b++)
            v |= (uint64_t)in[i * 8 + b] << (8 * b);
        rng->s[i] = v;
    }
}
