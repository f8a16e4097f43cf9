/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdint.h>

#include "optim/kernels.h"

/* An IEEE-754 float is NaN or Inf exactly when its exponent bits are all
 * ones.  Testing the bits (an integer OR-reduction) vectorizes; a float
 * comparison loop with an early exit would not. */
typedef uint32_t __attribute__((may_alias)) rps_u32_alias;

bool rps_optim_all_finite(const float *restrict g, size_t n)
{
	const rps_u32_alias *u = (const rps_u32_alias *)g;
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++)
		bad |= (uint32_t)((u[i] & 0x7f800000u) == 0x7f800000u);
	return bad == 0;
}
