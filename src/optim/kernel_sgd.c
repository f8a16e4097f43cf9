/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>

#include "optim/fused.h"
#include "optim/kernels.h"

/* Two passes: scan g, then apply.  Also the path without a snapshot. */
static int sgd_two_pass(float *restrict w, float *restrict v, float *restrict b,
			const float *restrict g, size_t n, const rps_sgd_params_t *p)
{
	const float lr = p->lr, mu = p->momentum, wd = p->weight_decay;

	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	/* one branch-free loop per case, so each vectorizes */
	if (mu != 0.0f && b) {
		for (size_t i = 0; i < n; i++) {
			float vi = mu * v[i] + (g[i] + wd * w[i]);
			float wn = w[i] - lr * vi;

			v[i] = vi;
			w[i] = wn;
			b[i] = wn;
		}
	} else if (mu != 0.0f) {
		for (size_t i = 0; i < n; i++) {
			float vi = mu * v[i] + (g[i] + wd * w[i]);

			v[i] = vi;
			w[i] -= lr * vi;
		}
	} else if (b) {
		for (size_t i = 0; i < n; i++) {
			float wn = w[i] - lr * (g[i] + wd * w[i]);

			w[i] = wn;
			b[i] = wn;
		}
	} else {
		for (size_t i = 0; i < n; i++)
			w[i] -= lr * (g[i] + wd * w[i]);
	}
	return 0;
}

/* One pass: check, save and apply.  undo is not NULL (the scratch
 * pointers are formed only here) and neither is b: the snapshot is
 * overwritten too, so it is saved with w (and v). */
RPS_OPTIM_INLINE int sgd_fused(float *restrict w, float *restrict v, float *restrict b,
			       const float *restrict g, size_t n, const rps_sgd_params_t *p,
			       float *restrict undo)
{
	const float lr = p->lr, mu = p->momentum, wd = p->weight_decay;
	float *restrict uw = undo, *restrict ub = undo + n, *restrict uv = undo + 2 * n;
	uint32_t bad = 0;

	if (mu != 0.0f) {
		for (size_t i = 0; i < n; i++) {
			float wi = w[i], vi = v[i];
			float vn = mu * vi + (g[i] + wd * wi), wn = wi - lr * vn;

			bad |= rps_nonfinite(g[i]);
			uw[i] = wi;
			ub[i] = b[i];
			uv[i] = vi;
			v[i] = vn;
			w[i] = wn;
			b[i] = wn;
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			float wi = w[i], wn = wi - lr * (g[i] + wd * wi);

			bad |= rps_nonfinite(g[i]);
			uw[i] = wi;
			ub[i] = b[i];
			w[i] = wn;
			b[i] = wn;
		}
	}
	if (bad) {
		float *arrays[] = { w, b, mu != 0.0f ? v : NULL };

		rps_optim_restore(arrays, 3, undo, n);
		return -EDOM;
	}
	return 0;
}

RPS_OPTIM_CLONES
int rps_optim_sgd(float *restrict w, float *restrict v, float *restrict b, const float *restrict g,
		  size_t n, const rps_sgd_params_t *p, float *restrict undo)
{
	if (!undo || !b)
		return sgd_two_pass(w, v, b, g, n, p);
	return sgd_fused(w, v, b, g, n, p, undo);
}

int rps_optim_accumulate(float *restrict acc, const float *restrict g, size_t n, bool first)
{
	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	if (first) {
		for (size_t i = 0; i < n; i++)
			acc[i] = g[i];
	} else {
		for (size_t i = 0; i < n; i++)
			acc[i] += g[i];
	}
	return 0;
}
