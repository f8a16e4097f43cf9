/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker --algo pc-asgd (worker_pcasgd.c): PC-ASGD among agents, as
 * the paper sets it (no server).  Every agent holds its own weights x and
 * a momentum buffer; each step it computes g at x, reads the latest copy
 * of each neighbour's weights and gradient (worker_mesh.h), marks a copy
 * delayed when its version lags ours by more than --delay-bound, takes
 * the step of rps_optim_pcasgd_dec per tensor (consensus plus momentum;
 * predicted and clipped candidates mixed by theta, or chosen per tensor
 * with --theta auto) and publishes its new x and g.  It never waits for
 * a neighbour.  The equations are in rdma-worker(1), PC-ASGD.  Private.
 */
#ifndef RPS_CMD_WORKER_PCASGD_H
#define RPS_CMD_WORKER_PCASGD_H

#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/algo.h>

#include "cmd/worker_cli.h"
#include "cmd/worker_mesh.h"
#include "ml/model.h"

struct worker_pcasgd {
	struct worker_mesh *mesh; /* NULL alone (world 1) */
	uint32_t rank, world, k;
	uint64_t n;
	const rps_model_t *model;
	float *params;			/* x: the gradient is computed here */
	float *grad;			/* the model writes the gradient here */
	float *mom;			/* heavy-ball buffer */
	struct worker_mesh_view *views; /* [k] of the last acquire */
	bool *copy_ok;			/* [k]: the held copy is finite */
	const float **tx, **tg;		/* [k] one tensor's slices */
	float *pi;			/* [k] mixing weights */
	uint8_t *state;			/* [k] enum rps_pcasgd_nb */
	float pi_self;
	rps_hparams_t sched; /* lr and --lr-schedule, in this agent's steps */
	float momentum, theta;
	bool theta_auto;
	uint64_t delay_bound;
	uint64_t steps; /* taken: the version of our next copy is steps + 1 */
	/* counters */
	uint64_t rejected;		      /* own gradient not finite: step skipped */
	uint64_t bad_copies;		      /* neighbours' copies refused (not finite) */
	uint64_t uses, delayed_uses;	      /* neighbour copies mixed in, of them delayed */
	uint64_t chose[4];		      /* tensors by enum rps_pcasgd_choice */
	uint64_t lag_sum, lag_count, lag_max; /* neighbours' lag, in our steps */
};

/* Initial weights from --init-seed (default --seed), the mixing weights
 * (1/(degree+1), uniform: doubly stochastic on a ring or a full graph),
 * and the graph (progress thread on comm_cpu).  0, or a negative errno
 * after one line. */
int worker_pcasgd_init(const struct worker_cli *cli, const rps_model_t *model, int comm_cpu,
		       struct worker_pcasgd *s);
/* One step, the gradient being in s->grad: 0, -EDOM when it was not
 * finite (nothing changed, nothing sent), or a negative errno after a
 * line naming a lost neighbour. */
int worker_pcasgd_step(struct worker_pcasgd *s);
/* Root mean square distance of x to the neighbours' copies of the last
 * step, relative to |x|: how far from consensus (-1 without copies). */
double worker_pcasgd_spread(const struct worker_pcasgd *s);
/* Goodbye: the final copy to the neighbours, then every neighbour's
 * answer (within --timeout).  0 or a negative errno after one line. */
int worker_pcasgd_finish(struct worker_pcasgd *s);
void worker_pcasgd_close(struct worker_pcasgd *s);

#endif /* RPS_CMD_WORKER_PCASGD_H */
