/* SPDX-License-Identifier: BSD-2-Clause */
/* DC-ASGD (constant and adaptive lambda) and the PC-ASGD mix built on it. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "optim/kernels.h"

int rps_optim_dcasgd(float *restrict w, float *restrict b, const float *restrict g,
		     size_t n, float lr, float lambda)
{
	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	/* 5 streams: read g, w, b; write w, b */
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], wi = w[i];
		float wn = wi - lr * (gi + lambda * gi * gi * (wi - b[i]));

		w[i] = wn;
		b[i] = wn;
	}
	return 0;
}

int rps_optim_dcasgd_a(float *restrict w, float *restrict b, float *restrict ms,
		       const float *restrict g, size_t n,
		       const rps_dcasgd_a_params_t *p)
{
	const float lr = p->lr, lambda0 = p->lambda0, m = p->ms_decay, eps = p->eps;

	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], wi = w[i], gg = gi * gi;
		float msi = m * ms[i] + (1.0f - m) * gg;
		float lambda = lambda0 / sqrtf(msi + eps);
		float wn = wi - lr * (gi + lambda * gg * (wi - b[i]));

		ms[i] = msi;
		w[i] = wn;
		b[i] = wn;
	}
	return 0;
}

int rps_optim_pcasgd(float *restrict w, float *restrict b, const float *restrict g,
		     size_t n, float lr, float lambda, float theta, bool fresh)
{
	/* fold the branch out of the loop: the clipped part's weight is a
	 * constant for the whole chunk */
	const float clip = fresh ? 1.0f - theta : 0.0f;

	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], wi = w[i];
		float pred = gi + lambda * gi * gi * (wi - b[i]);
		float wn = wi - lr * (theta * pred + clip * gi);

		w[i] = wn;
		b[i] = wn;
	}
	return 0;
}
