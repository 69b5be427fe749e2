/*
 * Deterministic pseudo-random numbers for training (noise, init, crops).
 *
 * xoshiro256** (Blackman & Vigna) seeded through splitmix64. The whole state
 * is this struct: no global generator, so a checkpoint can store and restore
 * it exactly (nn_rng_save / nn_rng_load give a portable 32-byte form).
 */
#ifndef NIC_NN_RNG_H
#define NIC_NN_RNG_H

#include <stdint.h>

typedef struct nn_rng {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *rng, uint64_t seed);
uint64_t nn_rng_next(nn_rng *rng);
/* Uniform in [0, 1) with 24 (float) or 53 (double) random bits. */
float nn_rng_uniform(nn_rng *rng);
double nn_rng_uniform_f64(nn_rng *rng);
/* Standard normal (Box-Muller, one value per call: simple and reproducible). */
double nn_rng_normal(nn_rng *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t nn_rng_below(nn_rng *rng, uint64_t n);
/* Little-endian serialization of the state (32 bytes). */
void nn_rng_save(const nn_rng *rng, uint8_t out[32]);
void nn_rng_load(nn_rng *rng, const uint8_t in[32]);

/* Counter-based noise: a uniform number in [-1/2, 1/2) that depends only on
 * (seed, index), so any slice of a tensor's noise can be drawn alone and in
 * any order. Data-parallel ranks draw exactly their shard of a global batch,
 * and the CUDA kernels (src/cuda) compute the same bits. The mixer is
 * splitmix64's output function applied to seed + index * golden gamma. */
static inline uint64_t nn_hash64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static inline float nn_noise_uniform(uint64_t seed, uint64_t index)
{
    uint64_t h = nn_hash64(seed + (index + 1) * 0x9e3779b97f4a7c15ull);
    return (float)(h >> 40) * (1.0f / 16777216.0f) - 0.5f;
}
/* Index of element e of stream s (0..1) of sample g: distinct for g < 2^23,
 * e < 2^40. */
static inline uint64_t nn_noise_index(uint64_t g, unsigned s, uint64_t e)
{
    return (g << 41) | ((uint64_t)s << 40) | e;
}

#endif
