/* SPDX-License-Identifier: BSD-2-Clause */
/* DC-S3GD's local step (Rigazzi 2019): the delay-compensated gradient
 * applied from the averaged weights.  Runs on a worker, once per step and
 * per layer, so it is the plain two-pass form: the gradient is checked
 * first, then applied. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "optim/kernels.h"

float rps_optim_dcs3gd_lambda(const float *restrict w, const float *restrict wbar,
			      const float *restrict g, size_t n, float lambda0)
{
	double gg = 0, cc = 0;

	/* in double: a layer of a million squares loses nothing */
	for (size_t i = 0; i < n; i++) {
		double gi = g[i], ci = gi * gi * ((double)wbar[i] - w[i]);

		gg += gi * gi;
		cc += ci * ci;
	}
	if (!(cc > 0) || !isfinite(gg) || !isfinite(cc))
		return 0; /* nothing to compensate (D = 0 or g = 0) */
	return (float)(lambda0 * sqrt(gg) / sqrt(cc));
}

int rps_optim_dcs3gd(float *restrict w, float *restrict dw, const float *restrict wbar,
		     const float *restrict g, size_t n, const rps_dcs3gd_params_t *p)
{
	const float lr = p->lr, lambda = p->lambda;

	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], d = wbar[i] - w[i];
		float step = -lr * (gi + lambda * gi * gi * d);

		dw[i] = step;
		w[i] = wbar[i] + step;
	}
	return 0;
}
