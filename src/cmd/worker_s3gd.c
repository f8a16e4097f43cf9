/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * DC-S3GD on rdma-worker: the rings to the peers and the per-step
 * schedule.  The equations are in rdma-worker(1), DC-S3GD.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/worker_s3gd.h"
#include "optim/kernels.h"
#include "util/clock.h"

#define PROG "rdma-worker"

/* allreduces timed alone at start, for the overlap figure: the fastest
 * is the one no late peer held up */
#define ALONE_REPS 5

/* "host:port" of every peer for ring k: ring k listens on port + k */
static char **peer_strings(const struct worker_cli *cli, uint32_t k)
{
	char **v = calloc(cli->world, sizeof(*v));
	struct worker_server p;

	if (!v)
		return NULL;
	for (uint32_t r = 0; r < cli->world; r++) {
		size_t len = sizeof(p.host) + 16;

		if (worker_cli_peer(cli, r, &p) || !(v[r] = malloc(len)))
			goto fail;
		if ((uint32_t)p.port + k > 65535) {
			fprintf(stderr, PROG ": --peers %s:%u: ring %u would need port %u\n",
				p.host, p.port, k, p.port + k);
			goto fail;
		}
		/* an IPv6 literal keeps its brackets */
		snprintf(v[r], len, strchr(p.host, ':') ? "[%s]:%u" : "%s:%u", p.host, p.port + k);
	}
	return v;
fail:
	for (uint32_t r = 0; r < cli->world; r++)
		free(v[r]);
	free(v);
	return NULL;
}

static int create_ring(const struct worker_cli *cli, uint64_t n, uint32_t k, int cpu,
		       rps_ring_t **ring_p)
{
	char **peers = peer_strings(cli, k);
	rps_ring_attr_t attr;
	int ret;

	if (!peers)
		return -EINVAL;
	rps_ring_attr_init(&attr);
	attr.tp_attr = &cli->common.attr;
	attr.rank = cli->rank;
	attr.world = cli->world;
	attr.peers = (const char *const *)peers;
	attr.count = n;
	attr.timeout_ms = (int)cli->timeout_s * 1000;
	/* the ring moves while the model computes: that is the overlap */
	attr.progress_thread = true;
	/* else it would inherit the compute thread's one CPU */
	attr.progress_cpu = cpu;
	ret = rps_ring_create(&attr, ring_p);
	if (ret)
		fprintf(stderr, PROG ": dc-s3gd: ring %u to the --peers (rank %u is %s): %s\n", k,
			cli->rank, peers[cli->rank], rps_strerror(ret));
	for (uint32_t r = 0; r < cli->world; r++)
		free(peers[r]);
	free(peers);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ALONE_REPS allreduces of zeros on ring 0 before training: the fastest
 * is what one costs with nothing to hide it behind (the first ones also
 * wait for peers still starting) */
static int time_alone(struct worker_s3gd *s)
{
	double t[ALONE_REPS];
	int ret;

	for (int i = 0; i < ALONE_REPS; i++) {
		uint64_t t0 = rps_now_ns();

		memset(rps_ring_buffer(s->ring[0]), 0, s->n * sizeof(float));
		if ((ret = rps_ring_allreduce(s->ring[0])))
			return ret;
		t[i] = (double)(rps_now_ns() - t0);
	}
	qsort(t, ALONE_REPS, sizeof(t[0]), cmp_double);
	s->alone_ns = t[0];
	return 0;
}

int worker_s3gd_init(const struct worker_cli *cli, const rps_model_t *model, int comm_cpu,
		     struct worker_s3gd *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->model = model;
	s->n = rps_model_num_params(model);
	s->world = cli->world;
	s->sched.lr = cli->lr;
	s->sched.lr_decay_every = cli->lr_decay_every;
	s->sched.lr_decay = cli->lr_decay;
	s->lambda = cli->lambda;
	s->lambda0 = cli->lambda0;
	s->adaptive = !cli->lambda_set;
	s->timeout_ms = (int)cli->timeout_s * 1000;
	s->wbar = malloc(s->n * sizeof(float));
	s->params = malloc(s->n * sizeof(float));
	s->grad = malloc(s->n * sizeof(float));
	s->dw1 = malloc(s->n * sizeof(float));
	if (!s->wbar || !s->params || !s->grad || !s->dw1) {
		fprintf(stderr, PROG ": cannot allocate the model (%llu params)\n",
			(unsigned long long)s->n);
		return -ENOMEM;
	}
	/* the same seed on every worker: the same starting point, no
	 * broadcast needed */
	rps_model_init(model, s->wbar, cli->seed);
	memcpy(s->params, s->wbar, s->n * sizeof(float));
	if (cli->world == 1)
		return 0;
	for (uint32_t k = 0; k < cli->staleness; k++) {
		if ((ret = create_ring(cli, s->n, k, comm_cpu, &s->ring[k])))
			return ret;
		s->nrings++;
	}
	if ((ret = time_alone(s)))
		fprintf(stderr, PROG ": dc-s3gd: first allreduce: %s\n", rps_strerror(ret));
	return ret;
}

/* wbar += sum / world of the allreduce on ring k, once it is done */
static int apply_allreduce(struct worker_s3gd *s, uint32_t k)
{
	uint64_t t0 = rps_now_ns();
	const float *sum = rps_ring_buffer(s->ring[k]);
	float inv = 1.0f / (float)s->world;
	int ret = rps_ring_allreduce_wait(s->ring[k], s->timeout_ms);

	s->wait_ns += rps_now_ns() - t0;
	s->waits++;
	if (ret) {
		fprintf(stderr,
			PROG ": dc-s3gd: allreduce %llu: %s (a peer stopped or the "
			     "network failed)\n",
			(unsigned long long)s->applied, rps_strerror(ret));
		return ret;
	}
	for (uint64_t i = 0; i < s->n; i++)
		s->wbar[i] += sum[i] * inv;
	s->applied++;
	return 0;
}

/* the delay-compensated step of one tensor (a layer's W or b) into dw */
static int tensor_step(struct worker_s3gd *s, float lr, float *dw, uint64_t off, uint64_t len)
{
	rps_dcs3gd_params_t p = { .lr = lr, .lambda = s->lambda };

	if (s->adaptive)
		p.lambda = rps_optim_dcs3gd_lambda(s->params + off, s->wbar + off, s->grad + off,
						   len, s->lambda0);
	return rps_optim_dcs3gd(s->params + off, dw + off, s->wbar + off, s->grad + off, len, &p);
}

int worker_s3gd_step(struct worker_s3gd *s)
{
	uint32_t k = s->nrings ? (uint32_t)(s->started % s->nrings) : 0;
	float *dw = s->nrings ? rps_ring_buffer(s->ring[k]) : s->dw1;
	uint32_t layers = rps_model_num_layers(s->model);
	/* each step is one update, as a server's version counts them */
	float lr = rps_hparams_lr_at(&s->sched, s->steps++);
	int ret = 0, bad = 0;

	/* ring k still carries the allreduce of step started - S */
	if (s->nrings && s->started - s->applied == s->nrings && (ret = apply_allreduce(s, k)))
		return ret;
	for (uint32_t l = 0; l < layers && !bad; l++) {
		rps_model_layer_t ly = rps_model_layer(s->model, l);

		bad = tensor_step(s, lr, dw, ly.w_off, (uint64_t)ly.in * ly.out) ||
		      tensor_step(s, lr, dw, ly.b_off, ly.out);
	}
	if (bad) {
		/* every worker must still take part in this allreduce: a zero
		 * step keeps the rings in step and the model clean */
		memset(dw, 0, s->n * sizeof(float));
		memcpy(s->params, s->wbar, s->n * sizeof(float));
		s->rejected++;
	}
	if (!s->nrings) {
		for (uint64_t i = 0; i < s->n; i++)
			s->wbar[i] += dw[i];
		memcpy(s->params, s->wbar, s->n * sizeof(float));
		return bad ? -EDOM : 0;
	}
	if ((ret = rps_ring_allreduce_start(s->ring[k]))) {
		fprintf(stderr, PROG ": dc-s3gd: starting allreduce %llu: %s\n",
			(unsigned long long)s->started, rps_strerror(ret));
		return ret;
	}
	s->started++;
	return bad ? -EDOM : 0;
}

int worker_s3gd_finish(struct worker_s3gd *s)
{
	int ret;

	while (s->applied < s->started)
		if ((ret = apply_allreduce(s, (uint32_t)(s->applied % s->nrings))))
			return ret;
	memcpy(s->params, s->wbar, s->n * sizeof(float));
	return 0;
}

double worker_s3gd_overlap(const struct worker_s3gd *s)
{
	double hidden;

	if (!s->waits || s->alone_ns <= 0)
		return -1;
	hidden = 1.0 - ((double)s->wait_ns / (double)s->waits) / s->alone_ns;
	return hidden < 0 ? 0 : hidden > 1 ? 1 : hidden;
}

void worker_s3gd_close(struct worker_s3gd *s)
{
	for (uint32_t k = 0; k < s->nrings; k++)
		rps_ring_destroy(s->ring[k]);
	free(s->wbar);
	free(s->params);
	free(s->grad);
	free(s->dw1);
	memset(s, 0, sizeof(*s));
}
