/* SPDX-License-Identifier: BSD-2-Clause */
/* DuDe-ASGD: incremental aggregation of every worker's latest gradient. */
#include "config.h"

#include <errno.h>

#include "optim/fused.h"
#include "optim/kernels.h"

static int dude_two_pass(float *restrict w, float *restrict s, float *restrict b,
			 const float *restrict g_new, const float *restrict g_old, size_t n,
			 float step)
{
	if (!rps_optim_all_finite(g_new, n))
		return -EDOM;
	/* the branches stay out of the loops so each one vectorizes */
	if (g_old && b) {
		for (size_t i = 0; i < n; i++) {
			float si = s[i] + (g_new[i] - g_old[i]), wn = w[i] - step * si;

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
			float si = s[i] + g_new[i], wn = w[i] - step * si;

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

/* One pass with a previous gradient and a snapshot; undo is not NULL
 * (the scratch pointers are formed only here). */
RPS_OPTIM_INLINE int dude_fused(float *restrict w, float *restrict s, float *restrict b,
				const float *restrict g_new, const float *restrict g_old, size_t n,
				float step, float *restrict undo)
{
	float *restrict uw = undo, *restrict us = undo + n, *restrict ub = undo + 2 * n;
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		float wi = w[i], si = s[i], sn = si + (g_new[i] - g_old[i]);
		float wn = wi - step * sn;

		bad |= rps_nonfinite(g_new[i]);
		uw[i] = wi;
		us[i] = si;
		ub[i] = b[i];
		s[i] = sn;
		w[i] = wn;
		b[i] = wn;
	}
	if (bad) {
		float *arrays[] = { w, s, b };

		rps_optim_restore(arrays, 3, undo, n);
		return -EDOM;
	}
	return 0;
}

RPS_OPTIM_CLONES
int rps_optim_dude(float *restrict w, float *restrict s, float *restrict b,
		   const float *restrict g_new, const float *restrict g_old, size_t n,
		   const rps_dude_params_t *p, float *restrict undo)
{
	const float step = p->lr * p->inv_m;

	/* a first push (no g_old) happens once per worker: two passes */
	if (!undo || !b || !g_old)
		return dude_two_pass(w, s, b, g_new, g_old, n, step);
	return dude_fused(w, s, b, g_new, g_old, n, step, undo);
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
