/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>

#include "optim/kernels.h"

int rps_optim_sgd(float *restrict w, float *restrict v, float *restrict b,
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

int rps_optim_accumulate(float *restrict acc, const float *restrict g, size_t n,
			 bool first)
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
