/* SPDX-License-Identifier: BSD-2-Clause */
/* DuDe-ASGD: incremental aggregation of every worker's latest gradient. */
#include "config.h"

#include <errno.h>

#include "optim/kernels.h"

int rps_optim_dude(float *restrict w, float *restrict s, float *restrict b,
		   const float *restrict g_new, const float *restrict g_old, size_t n,
		   float lr, float inv_m)
{
	const float step = lr * inv_m;

	if (!rps_optim_all_finite(g_new, n))
		return -EDOM;
	/* g_old == NULL (a first push) reads as zeros; the branches stay out
	 * of the loops so each one vectorizes */
	if (g_old && b) {
		for (size_t i = 0; i < n; i++) {
			float si = s[i] + (g_new[i] - g_old[i]);
			float wn = w[i] - step * si;

			s[i] = si;
			w[i] = wn;
			b[i] = wn;
		}
	} else if (g_old) {
		for (size_t i = 0; i < n; i++) {
			float si = s[i] + (g_new[i] - g_old[i]);

			s[i] = si;
			w[i] -= step * si;
		}
	} else if (b) {
		for (size_t i = 0; i < n; i++) {
			float si = s[i] + g_new[i];
			float wn = w[i] - step * si;

			s[i] = si;
			w[i] = wn;
			b[i] = wn;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			float si = s[i] + g_new[i];

			s[i] = si;
			w[i] -= step * si;
		}
	}
	return 0;
}

void rps_optim_sum(float *restrict s, const float *const *h, size_t nh, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double acc = 0.0;

		for (size_t m = 0; m < nh; m++)
			if (h[m])
				acc += (double)h[m][i];
		s[i] = (float)acc;
	}
}
