/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ml layer's own PRNG: xoshiro256** seeded through splitmix64.  Not
 * rand(): its sequence differs between libcs and it has one global state,
 * and a partition must come out the same on every rank's machine.
 */
#ifndef RPS_ML_DATASET_RNG_H
#define RPS_ML_DATASET_RNG_H

#include <stdint.h>

typedef struct rps_rng {
	uint64_t s[4];
} rps_rng_t;

/* Streams of one seed used by the ml layer; rank streams are 0..2^32-1. */
#define RPS_RNG_STREAM_SYNTHETIC (1ull << 32)
#define RPS_RNG_STREAM_PARTITION ((1ull << 32) + 1)
#define RPS_RNG_STREAM_DIRICHLET ((1ull << 32) + 2)

/* Seeds rng for (seed, stream): different streams of a seed are unrelated. */
void rps_rng_seed(rps_rng_t *rng, uint64_t seed, uint64_t stream);
uint64_t rps_rng_next(rps_rng_t *rng);
/* Uniform in [0, 1), 53 random bits. */
double rps_rng_uniform(rps_rng_t *rng);
/* Uniform in [0, bound) without modulo bias; bound > 0. */
uint64_t rps_rng_below(rps_rng_t *rng, uint64_t bound);
/* Standard normal (Marsaglia polar method). */
double rps_rng_normal(rps_rng_t *rng);
/* log of a Gamma(alpha, 1) draw, alpha > 0 (Marsaglia-Tsang).  The log,
 * because for alpha << 1 the draw itself underflows to 0. */
double rps_rng_log_gamma(rps_rng_t *rng, double alpha);
/* Fisher-Yates shuffle of a[0..n). */
void rps_rng_shuffle(rps_rng_t *rng, uint64_t *a, uint64_t n);

#endif /* RPS_ML_DATASET_RNG_H */
