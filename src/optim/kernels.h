/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Update kernels: pure functions over float arrays (one chunk at a time),
 * no I/O, no allocation, no locks.  A kernel that finds NaN or +-Inf in
 * the pushed gradient returns -EDOM and leaves every array exactly as it
 * was; otherwise it applies the whole chunk.
 *
 * One pass over memory: given an undo scratch (room for
 * RPS_OPTIM_UNDO_ARRAYS x n floats, per engine thread), the kernel checks
 * g, saves the old values it overwrites into the scratch and applies the
 * update in a single loop, so DRAM sees each stream once (DC-ASGD: read
 * g, w, b; write w, b); the scratch stays in cache and is read back only
 * when a chunk is refused.  With undo == NULL the kernel scans g first,
 * then applies (two passes over g): for callers without scratch.  Both
 * paths round every operation alike: their results are equal bit for bit.
 *
 * Every kernel takes its arrays, then n, then its hyper-parameters as a
 * const struct rps_<kernel>_params, then the undo scratch.
 *
 * Notation (rdmaps(7)): w current weights, g the pushed gradient, b =
 * w_bak(m) the weights worker m computed g on, lr the learning rate.
 * Pointers are restrict: the arrays never overlap.
 */
#ifndef RPS_OPTIM_KERNELS_H
#define RPS_OPTIM_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* floats of undo scratch per parameter of a chunk */
#define RPS_OPTIM_UNDO_ARRAYS 3

/* true when every g[i] is finite (no NaN, no +-Inf) */
bool rps_optim_all_finite(const float *restrict g, size_t n);

/*
 * SGD as PyTorch's torch.optim.SGD defines it (dampening 0, no Nesterov):
 *   d = g + weight_decay * w
 *   v = momentum * v + d          (only when momentum != 0; v starts at 0)
 *   w -= lr * (momentum != 0 ? v : d)
 * v may be NULL when momentum == 0.  b, when not NULL, receives the new
 * weights in the same pass (the snapshot the worker reads next).  Used by
 * sgd, asgd and (with the averaged gradient) ssgd.
 */
typedef struct rps_sgd_params {
	float lr;
	float momentum;
	float weight_decay;
} rps_sgd_params_t;

int rps_optim_sgd(float *restrict w, float *restrict v, float *restrict b, const float *restrict g,
		  size_t n, const rps_sgd_params_t *p, float *restrict undo);

/* SSGD accumulation of one worker's gradient into acc: acc = g when first,
 * else acc += g.  The step is then rps_optim_sgd on acc with lr / M. */
int rps_optim_accumulate(float *restrict acc, const float *restrict g, size_t n, bool first);

/*
 * DC-ASGD-c (Zheng et al., ICML 2017), fused with the snapshot update:
 *   w -= lr * (g + lambda * g*g*(w - b));  b = w
 */
typedef struct rps_dcasgd_params {
	float lr;
	float lambda;
} rps_dcasgd_params_t;

int rps_optim_dcasgd(float *restrict w, float *restrict b, const float *restrict g, size_t n,
		     const rps_dcasgd_params_t *p, float *restrict undo);

/*
 * DC-ASGD-a: the mean square of gradients ms (per parameter) scales lambda:
 *   ms = m*ms + (1-m)*g*g;  lambda_t = lambda0 / sqrt(ms + eps)
 *   w -= lr * (g + lambda_t * g*g*(w - b));  b = w
 */
typedef struct rps_dcasgd_a_params {
	float lr;
	float lambda0;
	float ms_decay; /* m, 0.95 in the paper's experiments */
	float eps;	/* 1e-7 as in the authors' Multiverso updater */
} rps_dcasgd_a_params_t;

int rps_optim_dcasgd_a(float *restrict w, float *restrict b, float *restrict ms,
		       const float *restrict g, size_t n, const rps_dcasgd_a_params_t *p,
		       float *restrict undo);

/*
 * PC-ASGD, server-side form: a predicting step (the DC-ASGD Taylor term)
 * and a clipping step (a gradient too stale is dropped: fresh = tau <=
 * staleness bound) mixed by theta in [0,1]:
 *   w -= lr * (theta * (g + lambda*g*g*(w - b)) + (1-theta) * fresh * g)
 *   b = w
 * theta = 1 is DC-ASGD-c; theta = 0 is ASGD that drops stale gradients.
 */
typedef struct rps_pcasgd_params {
	float lr;
	float lambda;
	float theta;
	bool fresh; /* this push's tau is within the staleness bound */
} rps_pcasgd_params_t;

int rps_optim_pcasgd(float *restrict w, float *restrict b, const float *restrict g, size_t n,
		     const rps_pcasgd_params_t *p, float *restrict undo);

/*
 * DuDe-ASGD: the server keeps every worker's latest gradient h[m] and
 * their sum S; a push of g_new by m (whose previous gradient is g_old)
 * does, in one pass:
 *   S += g_new - g_old;  w -= lr * S / M;  b = w (when b is not NULL)
 * g_old is NULL for a worker's first push (then S += g_new).  Nothing is
 * copied: the caller flips m's double-buffered slot so g_new becomes
 * h[m].  Only g_new is checked (g_old was checked when it arrived).
 */
typedef struct rps_dude_params {
	float lr;
	float inv_m; /* 1 / the number of workers whose gradient is in S */
} rps_dude_params_t;

int rps_optim_dude(float *restrict w, float *restrict s, float *restrict b,
		   const float *restrict g_new, const float *restrict g_old, size_t n,
		   const rps_dude_params_t *p, float *restrict undo);

/* Exact recomputation of S = sum of the nh gradients h[0..nh-1] (each
 * may be NULL = not yet pushed), summed in double so that the periodic
 * refresh removes the drift of the incremental float updates. */
void rps_optim_sum(float *restrict s, const float *const *h, size_t nh, size_t n);

/*
 * DC-S3GD (Rigazzi 2019), the local step of a worker (no server): wbar
 * is the averaged weights (the same on every worker), w the local ones
 * the gradient g was computed on:
 *   D = wbar - w;  dw = -lr * (g + lambda * g*g*D);  w = wbar + dw
 * dw is what the worker then allreduces.  Non-finite g: -EDOM, nothing
 * written.  No undo scratch: a worker's step has nothing to roll back,
 * the gradient is checked before anything is written.
 */
typedef struct rps_dcs3gd_params {
	float lr;
	float lambda; /* fixed, or rps_optim_dcs3gd_lambda() of the layer */
} rps_dcs3gd_params_t;

int rps_optim_dcs3gd(float *restrict w, float *restrict dw, const float *restrict wbar,
		     const float *restrict g, size_t n, const rps_dcs3gd_params_t *p);

/* The adaptive lambda of one layer: lambda0 * ||g|| / ||g*g*(wbar - w)||,
 * so the correction is lambda0 times the gradient in norm; 0 when the
 * correction term is 0 (or not finite). */
float rps_optim_dcs3gd_lambda(const float *restrict w, const float *restrict wbar,
			      const float *restrict g, size_t n, float lambda0);

/*
 * PC-ASGD, agent-side (decentralized) form: one agent's step on one
 * tensor, from its weights x (at which its gradient g was computed), its
 * momentum v, and each neighbour k's last received copy nb_x[k] and
 * gradient nb_g[k].  P = the present neighbours (state != ABSENT), T =
 * those ON_TIME, D = those DELAYED; pi_self and pi[k] the mixing weights:
 *   v' = momentum * v - lr * g
 *   W_all = pi_self + sum_{k in P} pi[k];  W_on = pi_self + sum_{k in T} pi[k]
 *   c = (pi_self * x + sum_{k in P} pi[k] * nb_x[k]) / W_all
 *   x_pred = c + sum_{k in D} pi[k] / W_all * (-lr * nb_g[k]^2 * (x - nb_x[k])) + v'
 *   x_clip = (pi_self * x + sum_{k in T} pi[k] * nb_x[k]) / W_on + v'
 *   x = theta * x_pred + (1 - theta) * x_clip;  v = v'
 * (elementwise; an absent neighbour is left out and the weights
 * renormalised, k == 0 gives x + v').  theta_auto takes, per tensor, the
 * candidate with the larger ||(cand - x) * g|| / ||cand - x|| (0 when
 * cand == x; a tie takes x_clip), summed in double; its first pass only
 * reads.  *choice (when not NULL) reports the step taken: PREDICTED
 * (theta == 1 or auto), CLIPPED (theta == 0 or auto), MIXED (0 < theta <
 * 1) or NONE_DELAYED when D is empty: then both candidates are the plain
 * consensus step, which is written whatever theta is.
 *
 * An absent neighbour's pi[k], nb_x[k] and nb_g[k] are never read (NULL
 * or stale is fine), nor is an on-time one's nb_g[k]; no copy may overlap
 * x or v.  Only g is checked: the neighbours' copies were checked when
 * they arrived.
 * Returns 0, -EINVAL (pi_self not > 0, a present neighbour's weight
 * negative or not finite, a state out of range, a pointer a present
 * neighbour needs is NULL, theta outside [0,1] without theta_auto) or
 * -EDOM (non-finite g); on either error nothing is written, *choice
 * included.  No undo scratch: as DC-S3GD's, an agent's step is checked
 * before anything is written.
 */

/* state of a neighbour's copy in one step */
enum rps_pcasgd_nb {
	RPS_PCASGD_NB_ABSENT = 0, /* no copy yet (or refused): left out, weights renormalised */
	RPS_PCASGD_NB_ON_TIME = 1,
	RPS_PCASGD_NB_DELAYED = 2, /* its version lags by more than the delay bound */
};

/* which candidate a step took */
enum rps_pcasgd_choice {
	RPS_PCASGD_MIXED = 0,
	RPS_PCASGD_PREDICTED = 1,
	RPS_PCASGD_CLIPPED = 2,
	/* no delayed neighbour: both candidates are the plain consensus step */
	RPS_PCASGD_NONE_DELAYED = 3,
};

typedef struct rps_pcasgd_dec_params {
	float lr;
	float momentum;	      /* heavy ball beta */
	float theta;	      /* 0..1, used unless theta_auto */
	bool theta_auto;      /* the practical variant: pick one candidate per tensor */
	float pi_self;	      /* this agent's mixing weight, > 0 */
	uint32_t k;	      /* neighbours */
	const float *pi;      /* [k] their mixing weights, >= 0 */
	const uint8_t *state; /* [k] enum rps_pcasgd_nb */
} rps_pcasgd_dec_params_t;

int rps_optim_pcasgd_dec(float *restrict x, float *restrict v, const float *restrict g,
			 const float *const *nb_x, const float *const *nb_g, size_t n,
			 const rps_pcasgd_dec_params_t *p, enum rps_pcasgd_choice *choice);

#endif /* RPS_OPTIM_KERNELS_H */
