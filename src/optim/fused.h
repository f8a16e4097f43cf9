/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the kernel files.  Private to src/optim. */
#ifndef RPS_OPTIM_FUSED_H
#define RPS_OPTIM_FUSED_H

#include <stdint.h>
#include <string.h>

/* x86-64: one clone per ISA, picked at load time (glibc ifunc), so the
 * library runs on any x86-64 and uses AVX2 where the CPU has it.  No FMA:
 * both clones round every operation alike, so results are identical. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RPS_OPTIM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define RPS_OPTIM_CLONES
#endif

/* A loop a kernel under RPS_OPTIM_CLONES delegates to a helper must be
 * inlined into every clone to be vectorized for that clone's ISA (AVX2's
 * 32-byte vectors); left out of line, it is compiled for the baseline
 * only. */
#define RPS_OPTIM_INLINE static inline __attribute__((always_inline))

/* 1 when x is NaN or +-Inf: its exponent bits are all ones.  An integer
 * test, so it vectorizes inside the update loop. */
static inline uint32_t rps_nonfinite(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	return (u & 0x7f800000u) == 0x7f800000u;
}

/* Puts back what a refused chunk overwrote: k arrays of n floats saved
 * back to back in undo. */
static inline void rps_optim_restore(float *const *arrays, unsigned k, const float *undo, size_t n)
{
	for (unsigned a = 0; a < k; a++)
		if (arrays[a])
			memcpy(arrays[a], undo + a * n, n * sizeof(float));
}

#endif /* RPS_OPTIM_FUSED_H */
