/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker --algo dc-s3gd (worker_s3gd.c): no server.  Every worker
 * holds the averaged weights wbar (the same bits on every worker) and its
 * local weights w; each step it computes g on w, applies the allreduce of
 * the step S before (wbar += mean of the workers' dw), takes the
 * delay-compensated step from wbar (rps_optim_dcs3gd) and starts the
 * allreduce of its dw, which runs on the ring's progress thread while the
 * next gradient is computed.  S rings, one per step in flight.  Private.
 */
#ifndef RPS_CMD_WORKER_S3GD_H
#define RPS_CMD_WORKER_S3GD_H

#include <stdint.h>

#include <rdmaps/algo.h>
#include <rdmaps/ring.h>

#include "cmd/worker_cli.h"
#include "ml/model.h"

struct worker_s3gd {
	rps_ring_t *ring[WORKER_MAX_STALENESS];
	uint32_t nrings; /* = S; 0 alone (world 1) */
	uint32_t world;
	uint64_t n;
	const rps_model_t *model;
	float *wbar;   /* averaged weights */
	float *params; /* local weights: the gradient is computed here */
	float *grad;   /* the model writes the gradient here */
	float *dw1;    /* world 1: the step, applied at once */
	/* lr and its --lr-schedule: step t's is rps_hparams_lr_at(&sched, t) */
	rps_hparams_t sched;
	uint64_t steps; /* taken so far: t of the next step */
	float lambda, lambda0;
	bool adaptive; /* lambda0 per tensor, else the constant lambda */
	int timeout_ms;
	uint64_t started, applied; /* allreduces */
	uint64_t rejected;	   /* steps whose own gradient was not finite */
	/* overlap: time blocked waiting for allreduces, and the time of one
	 * allreduce alone, measured at start */
	uint64_t wait_ns, waits;
	double alone_ns;
};

/* Initial weights from --seed (the same on every worker), then the rings
 * to the --peers, their progress threads on comm_cpu (-1: where the
 * scheduler likes): 0, or a negative errno after one line. */
int worker_s3gd_init(const struct worker_cli *cli, const rps_model_t *model, int comm_cpu,
		     struct worker_s3gd *s);
/* One step, the gradient being in s->grad: 0, -EDOM when it was not
 * finite (a zero step is sent instead: the ring stays in step), or a
 * negative errno (the ring is broken). */
int worker_s3gd_step(struct worker_s3gd *s);
/* Applies the allreduces still in flight; then params = wbar, the model
 * every worker ends with.  0 or a negative errno. */
int worker_s3gd_finish(struct worker_s3gd *s);
/* Fraction of the allreduce time hidden behind computation, 0..1
 * (-1 before any wait). */
double worker_s3gd_overlap(const struct worker_s3gd *s);
void worker_s3gd_close(struct worker_s3gd *s);

#endif /* RPS_CMD_WORKER_S3GD_H */
