/* SPDX-License-Identifier: BSD-2-Clause */
/* PC-ASGD's agent-side step (decentralized: no server): gossip consensus
 * with the neighbours, a heavy-ball momentum step, and the predicted and
 * clipped treatments of the delayed neighbours.  Runs on an agent, once
 * per step and per tensor, so it is the plain form: the gradient is
 * checked first, then the tensor is written in one pass (two with
 * theta_auto, whose first pass only reads). */
#include "config.h"

#include <errno.h>
#include <math.h>

#include "optim/kernels.h"

/* The step's constants, derived once from the parameters. */
struct pcasgd_dec_consts {
	float lr, momentum;
	float inv_all; /* 1 / W_all: the consensus and prediction weights */
	float inv_on;  /* 1 / W_on: the clipped (on-time only) consensus */
	uint32_t k;
	const float *pi;
	const uint8_t *state;
};

/* Both candidates and the new momentum of element i, in float.  The
 * consensus is written as x + sum pi_k (nb_x_k - x) / W, algebraically
 * the weighted mean of the header but exact when every neighbour agrees
 * with x (and when k == 0), where pi_self * x / W_all would round. */
static inline void pcasgd_dec_elem(const struct pcasgd_dec_consts *c, float xi, float vi, float gi,
				   const float *const *nb_x, const float *const *nb_g, size_t i,
				   float *pred, float *clip, float *vnew)
{
	float on = 0, del = 0, corr = 0;
	float vn = c->momentum * vi - c->lr * gi;

	for (uint32_t k = 0; k < c->k; k++) {
		if (c->state[k] == RPS_PCASGD_NB_ABSENT)
			continue;

		float d = nb_x[k][i] - xi;

		if (c->state[k] == RPS_PCASGD_NB_ON_TIME) {
			on += c->pi[k] * d;
		} else {
			float h = nb_g[k][i];

			del += c->pi[k] * d;
			/* -lr * h*h * (x - nb_x): the DC-ASGD Taylor term,
			 * h*h standing in for the Hessian's diagonal, for
			 * the lag of the delayed copy */
			corr += c->pi[k] * (c->lr * h * h * d);
		}
	}
	*pred = xi + ((on + del) + corr) * c->inv_all + vn;
	*clip = xi + on * c->inv_on + vn;
	*vnew = vn;
}

int rps_optim_pcasgd_dec(float *restrict x, float *restrict v, const float *restrict g,
			 const float *const *nb_x, const float *const *nb_g, size_t n,
			 const rps_pcasgd_dec_params_t *p, enum rps_pcasgd_choice *choice)
{
	struct pcasgd_dec_consts c = {
		.lr = p->lr, .momentum = p->momentum, .k = p->k, .pi = p->pi, .state = p->state
	};
	double w_all = p->pi_self, w_on = p->pi_self;
	bool delayed = false;
	enum rps_pcasgd_choice took;

	/* Parameters first (a caller's bug, whatever the data), then the
	 * gradient; either refusal happens before anything is written. */
	if (!(p->pi_self > 0) || !isfinite(p->pi_self))
		return -EINVAL;
	if (!p->theta_auto && !(p->theta >= 0 && p->theta <= 1))
		return -EINVAL;
	if (c.k && (!c.pi || !c.state))
		return -EINVAL;
	for (uint32_t k = 0; k < c.k; k++) {
		uint8_t s = c.state[k];

		if (s == RPS_PCASGD_NB_ABSENT)
			continue; /* its weight and pointers are never read */
		if (s != RPS_PCASGD_NB_ON_TIME && s != RPS_PCASGD_NB_DELAYED)
			return -EINVAL;
		if (!(c.pi[k] >= 0) || !isfinite(c.pi[k]) || !nb_x || !nb_x[k])
			return -EINVAL;
		if (s == RPS_PCASGD_NB_DELAYED && (!nb_g || !nb_g[k]))
			return -EINVAL;
		w_all += c.pi[k];
		if (s == RPS_PCASGD_NB_ON_TIME)
			w_on += c.pi[k];
		else
			delayed = true;
	}
	if (!rps_optim_all_finite(g, n))
		return -EDOM;
	/* Renormalised over the present neighbours: an absent one is left
	 * out rather than counted as agreeing with x.  W_on >= pi_self > 0. */
	c.inv_all = (float)(1.0 / w_all);
	c.inv_on = (float)(1.0 / w_on);

	if (!delayed) {
		/* Both candidates are the plain consensus step; whatever
		 * theta says, write it as is (a theta-mix of it with
		 * itself could round away from it) and skip the scores. */
		took = RPS_PCASGD_NONE_DELAYED;
	} else if (p->theta_auto) {
		/* The candidate whose move concentrates where the gradient
		 * is large: ||(cand - x) * g|| / ||cand - x||, in double so a
		 * large tensor's sums lose nothing.  First pass: read only. */
		double pn = 0, pd = 0, cn = 0, cd = 0, sp = 0, sc = 0;

		for (size_t i = 0; i < n; i++) {
			float pr, cl, vn;

			pcasgd_dec_elem(&c, x[i], v[i], g[i], nb_x, nb_g, i, &pr, &cl, &vn);

			double dp = (double)pr - x[i], dc = (double)cl - x[i], gi = g[i];

			pn += dp * dp * gi * gi;
			pd += dp * dp;
			cn += dc * dc * gi * gi;
			cd += dc * dc;
		}
		if (pd > 0)
			sp = sqrt(pn) / sqrt(pd);
		if (cd > 0)
			sc = sqrt(cn) / sqrt(cd);
		/* a tie keeps the clipped step: it trusts only fresh data */
		took = sp > sc ? RPS_PCASGD_PREDICTED : RPS_PCASGD_CLIPPED;
	} else if (p->theta == 1) {
		took = RPS_PCASGD_PREDICTED;
	} else if (p->theta == 0) {
		took = RPS_PCASGD_CLIPPED;
	} else {
		took = RPS_PCASGD_MIXED;
	}

	const float theta = p->theta, omt = 1 - p->theta;

	for (size_t i = 0; i < n; i++) {
		float pr, cl, vn;

		pcasgd_dec_elem(&c, x[i], v[i], g[i], nb_x, nb_g, i, &pr, &cl, &vn);
		/* NONE_DELAYED: pr == cl bit for bit (del = corr = 0 and
		 * W_all = W_on), so either will do */
		x[i] = took == RPS_PCASGD_PREDICTED ? pr
		       : took == RPS_PCASGD_MIXED   ? theta * pr + omt * cl
						    : cl;
		v[i] = vn;
	}
	if (choice)
		*choice = took;
	return 0;
}
