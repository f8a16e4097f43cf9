/* SPDX-License-Identifier: BSD-2-Clause */
/* DC-ASGD (constant and adaptive lambda) and the PC-ASGD mix built on it.
 * Each has a fused one-pass path (with undo) and a two-pass fallback. */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "optim/fused.h"
#include "optim/kernels.h"

/* w -= lr * (a * (g + lambda*g*g*(w - b)) + c * g);  b = w.
 * dc-asgd-c is a = 1, c = 0; pc-asgd is a = theta, c = clip. */
static inline float dc_step(float wi, float bi, float gi, float lr, float lambda, float a, float c)
{
	return wi - lr * (a * (gi + lambda * gi * gi * (wi - bi)) + c * gi);
}

static int dc_two_pass(float *restrict w, float *restrict b, const float *restrict g, size_t n,
		       float lr, float lambda, float a, float c)
{
	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	for (size_t i = 0; i < n; i++) {
		float wn = dc_step(w[i], b[i], g[i], lr, lambda, a, c);

		w[i] = wn;
		b[i] = wn;
	}
	return 0;
}

RPS_OPTIM_INLINE int dc_fused(float *restrict w, float *restrict b, const float *restrict g,
			      size_t n, float lr, float lambda, float a, float c,
			      float *restrict undo)
{
	float *restrict uw = undo, *restrict ub = undo + n;
	uint32_t bad = 0;

	/* 5 DRAM streams: read g, w, b; write w, b (the undo stays in cache) */
	for (size_t i = 0; i < n; i++) {
		float wi = w[i], bi = b[i], wn = dc_step(wi, bi, g[i], lr, lambda, a, c);

		bad |= rps_nonfinite(g[i]);
		uw[i] = wi;
		ub[i] = bi;
		w[i] = wn;
		b[i] = wn;
	}
	if (bad) {
		float *arrays[] = { w, b };

		rps_optim_restore(arrays, 2, undo, n);
		return -EDOM;
	}
	return 0;
}

RPS_OPTIM_CLONES
int rps_optim_dcasgd(float *restrict w, float *restrict b, const float *restrict g, size_t n,
		     const rps_dcasgd_params_t *p, float *restrict undo)
{
	const float lr = p->lr, lambda = p->lambda;

	if (!undo)
		return dc_two_pass(w, b, g, n, lr, lambda, 1.0f, 0.0f);
	return dc_fused(w, b, g, n, lr, lambda, 1.0f, 0.0f, undo);
}

RPS_OPTIM_CLONES
int rps_optim_pcasgd(float *restrict w, float *restrict b, const float *restrict g, size_t n,
		     const rps_pcasgd_params_t *p, float *restrict undo)
{
	const float lr = p->lr, lambda = p->lambda, theta = p->theta;
	/* fold the branch out of the loop: the clipped part's weight is a
	 * constant for the whole chunk */
	const float clip = p->fresh ? 1.0f - theta : 0.0f;

	if (!undo)
		return dc_two_pass(w, b, g, n, lr, lambda, theta, clip);
	return dc_fused(w, b, g, n, lr, lambda, theta, clip, undo);
}

/* ms = m*ms + (1-m)*g*g;  then the DC-ASGD step with lambda0/sqrt(ms+eps).
 * Both paths use this one expression, operand for operand, so they round
 * alike. */
static inline float dca_ms(float msi, float gi, float m)
{
	return m * msi + (1.0f - m) * (gi * gi);
}

RPS_OPTIM_INLINE int dca_two_pass(float *restrict w, float *restrict b, float *restrict ms,
				  const float *restrict g, size_t n, const rps_dcasgd_a_params_t *p)
{
	const float lr = p->lr, lambda0 = p->lambda0, m = p->ms_decay, eps = p->eps;

	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	for (size_t i = 0; i < n; i++) {
		float gi = g[i], msi = dca_ms(ms[i], gi, m);
		float wn = dc_step(w[i], b[i], gi, lr, lambda0 / sqrtf(msi + eps), 1.0f, 0.0f);

		ms[i] = msi;
		w[i] = wn;
		b[i] = wn;
	}
	return 0;
}

/* undo is not NULL: the scratch pointers are formed only here */
RPS_OPTIM_INLINE int dca_fused(float *restrict w, float *restrict b, float *restrict ms,
			       const float *restrict g, size_t n, const rps_dcasgd_a_params_t *p,
			       float *restrict undo)
{
	const float lr = p->lr, lambda0 = p->lambda0, m = p->ms_decay, eps = p->eps;
	float *restrict uw = undo, *restrict ub = undo + n, *restrict um = undo + 2 * n;
	uint32_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		float gi = g[i], wi = w[i], bi = b[i], mi = ms[i], msi = dca_ms(mi, gi, m);
		float wn = dc_step(wi, bi, gi, lr, lambda0 / sqrtf(msi + eps), 1.0f, 0.0f);

		bad |= rps_nonfinite(gi);
		uw[i] = wi;
		ub[i] = bi;
		um[i] = mi;
		ms[i] = msi;
		w[i] = wn;
		b[i] = wn;
	}
	if (bad) {
		float *arrays[] = { w, b, ms };

		rps_optim_restore(arrays, 3, undo, n);
		return -EDOM;
	}
	return 0;
}

RPS_OPTIM_CLONES
int rps_optim_dcasgd_a(float *restrict w, float *restrict b, float *restrict ms,
		       const float *restrict g, size_t n, const rps_dcasgd_a_params_t *p,
		       float *restrict undo)
{
	if (!undo)
		return dca_two_pass(w, b, ms, g, n, p);
	return dca_fused(w, b, ms, g, n, p, undo);
}
