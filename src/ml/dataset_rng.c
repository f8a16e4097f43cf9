/* SPDX-License-Identifier: BSD-2-Clause */
/* xoshiro256** (Blackman & Vigna) and the draws built on it: see
 * dataset_rng.h. */
#include "config.h"

#include <math.h>

#include "ml/dataset_rng.h"

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

void rps_rng_seed(rps_rng_t *rng, uint64_t seed, uint64_t stream)
{
	/* Hash the seed before mixing in the stream, so (seed, stream) pairs
	 * that differ by the same constant do not collide. */
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);

	x = h ^ (stream * 0xd1b54a32d192ed03ull + 0x8bb84b93962eacc9ull);
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
	/* splitmix64 is a bijection of a counter: four zero outputs in a row
	 * cannot happen, so the all-zero xoshiro state is unreachable. */
}

uint64_t rps_rng_next(rps_rng_t *rng)
{
	uint64_t *s = rng->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

double rps_rng_uniform(rps_rng_t *rng)
{
	return (double)(rps_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t rps_rng_below(rps_rng_t *rng, uint64_t bound)
{
	/* Reject the top partial block: 2^64 mod bound values would otherwise
	 * make small results slightly more likely. */
	uint64_t limit = -bound % bound;
	uint64_t r;

	do
		r = rps_rng_next(rng);
	while (r < limit);
	return r % bound;
}

double rps_rng_normal(rps_rng_t *rng)
{
	double u, v, s;

	do {
		u = 2.0 * rps_rng_uniform(rng) - 1.0;
		v = 2.0 * rps_rng_uniform(rng) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	/* The polar method yields two normals; dropping the second keeps the
	 * state a plain xoshiro state (no cached value to reset). */
	return u * sqrt(-2.0 * log(s) / s);
}

double rps_rng_log_gamma(rps_rng_t *rng, double alpha)
{
	double boost = 0.0;

	if (alpha < 1.0) {
		/* Gamma(a) = Gamma(a + 1) * U^(1/a); in logs so tiny alphas do
		 * not underflow (U^(1/0.01) is often below DBL_MIN). */
		double u;

		do
			u = rps_rng_uniform(rng);
		while (u == 0.0);
		boost = log(u) / alpha;
		alpha += 1.0;
	}
	double d = alpha - 1.0 / 3.0;
	double c = 1.0 / sqrt(9.0 * d);

	for (;;) {
		double x, v, u;

		do {
			x = rps_rng_normal(rng);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = rps_rng_uniform(rng);
		if (u < 1.0 - 0.0331 * x * x * x * x)
			return log(d * v) + boost;
		if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return log(d * v) + boost;
	}
}

void rps_rng_shuffle(rps_rng_t *rng, uint64_t *a, uint64_t n)
{
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rps_rng_below(rng, i);
		uint64_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}
