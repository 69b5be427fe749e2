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

#endif
