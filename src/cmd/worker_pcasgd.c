/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * PC-ASGD on rdma-worker: the agent's step around rps_optim_pcasgd_dec
 * and the exchange with its neighbours (worker_pcasgd.h).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/worker_pcasgd.h"
#include "optim/kernels.h"

#define PROG "rdma-worker"

static int create_mesh(const struct worker_cli *cli, struct worker_pcasgd *s, int comm_cpu)
{
	struct worker_server *peers = calloc(cli->world, sizeof(*peers));
	struct worker_mesh_attr a = {
		.tp_attr = &cli->common.attr,
		.rank = cli->rank,
		.world = cli->world,
		.peers = peers,
		.topology = cli->topology,
		.n = s->n,
		.timeout_ms = (int)cli->timeout_s * 1000,
		.progress_cpu = comm_cpu,
	};
	int ret = 0;

	if (!peers)
		return -ENOMEM;
	for (uint32_t r = 0; r < cli->world && !ret; r++)
		ret = worker_cli_peer(cli, r, &peers[r]); /* checked when parsed */
	if (!ret)
		ret = worker_mesh_create(&a, &s->mesh);
	free(peers);
	return ret;
}

int worker_pcasgd_init(const struct worker_cli *cli, const rps_model_t *model, int comm_cpu,
		       struct worker_pcasgd *s)
{
	uint32_t k;
	int ret;

	memset(s, 0, sizeof(*s));
	s->model = model;
	s->rank = cli->rank;
	s->world = cli->world;
	s->n = rps_model_num_params(model);
	s->sched.lr = cli->lr;
	s->sched.lr_decay_every = cli->lr_decay_every;
	s->sched.lr_decay = cli->lr_decay;
	s->momentum = cli->momentum;
	s->theta = cli->theta;
	s->theta_auto = cli->theta_auto;
	s->delay_bound = cli->delay_bound;
	s->params = malloc(s->n * sizeof(float));
	s->grad = malloc(s->n * sizeof(float));
	s->mom = calloc(s->n, sizeof(float));
	if (!s->params || !s->grad || !s->mom) {
		fprintf(stderr, PROG ": cannot allocate the model (%llu params)\n",
			(unsigned long long)s->n);
		return -ENOMEM;
	}
	rps_model_init(model, s->params, cli->init_seed_set ? cli->init_seed : cli->seed);
	/* alone there is no graph; else the mesh knows the degree */
	if (cli->world > 1 && (ret = create_mesh(cli, s, comm_cpu)))
		return ret;
	s->k = k = worker_mesh_degree(s->mesh);
	s->views = calloc(k + 1, sizeof(*s->views));
	s->copy_ok = calloc(k + 1, sizeof(*s->copy_ok));
	s->tx = calloc(k + 1, sizeof(*s->tx));
	s->tg = calloc(k + 1, sizeof(*s->tg));
	s->pi = calloc(k + 1, sizeof(*s->pi));
	s->state = calloc(k + 1, sizeof(*s->state));
	if (!s->views || !s->copy_ok || !s->tx || !s->tg || !s->pi || !s->state) {
		fprintf(stderr, PROG ": pc-asgd: cannot allocate %u neighbours' views\n", k);
		return -ENOMEM;
	}
	/* uniform over self and neighbours: every agent of a ring or a full
	 * graph has the same degree, so the matrix is doubly stochastic */
	s->pi_self = 1.0f / (float)(k + 1);
	for (uint32_t i = 0; i < k; i++)
		s->pi[i] = s->pi_self;
	return 0;
}

/* the state of each neighbour's copy for this step, and the lag counters */
static void classify(struct worker_pcasgd *s)
{
	for (uint32_t i = 0; i < s->k; i++) {
		const struct worker_mesh_view *v = &s->views[i];
		uint64_t lag;

		if (v->fresh && v->x) {
			/* a neighbour that misbehaves must not corrupt us: a
			 * copy with NaN or Inf stays out until a finite one */
			s->copy_ok[i] = rps_optim_all_finite(v->x, s->n) &&
					rps_optim_all_finite(v->g, s->n);
			if (!s->copy_ok[i] && !s->bad_copies++)
				fprintf(stderr,
					PROG " %u/%u: pc-asgd: neighbour rank %u sent weights "
					     "or a gradient that are not finite: left out of the "
					     "mix until it sends finite ones\n",
					s->rank, s->world, v->rank);
		}
		if (!v->x || !s->copy_ok[i]) {
			s->state[i] = RPS_PCASGD_NB_ABSENT;
			continue;
		}
		lag = s->steps > v->version ? s->steps - v->version : 0;
		s->state[i] = lag > s->delay_bound ? RPS_PCASGD_NB_DELAYED : RPS_PCASGD_NB_ON_TIME;
		s->uses++;
		s->delayed_uses += s->state[i] == RPS_PCASGD_NB_DELAYED;
		s->lag_sum += lag;
		s->lag_count++;
		if (lag > s->lag_max)
			s->lag_max = lag;
	}
}

static void tensor_step(struct worker_pcasgd *s, const rps_pcasgd_dec_params_t *p, uint64_t off,
			uint64_t len)
{
	enum rps_pcasgd_choice choice = RPS_PCASGD_MIXED;

	for (uint32_t i = 0; i < s->k; i++) {
		bool present = s->state[i] != RPS_PCASGD_NB_ABSENT;

		s->tx[i] = present ? s->views[i].x + off : NULL;
		s->tg[i] = present ? s->views[i].g + off : NULL;
	}
	/* the gradient was checked whole: no tensor can refuse it */
	(void)rps_optim_pcasgd_dec(s->params + off, s->mom + off, s->grad + off, s->tx, s->tg, len,
				   p, &choice);
	s->chose[choice]++;
}

int worker_pcasgd_step(struct worker_pcasgd *s)
{
	rps_pcasgd_dec_params_t p = {
		.lr = rps_hparams_lr_at(&s->sched, s->steps),
		.momentum = s->momentum,
		.theta = s->theta,
		.theta_auto = s->theta_auto,
		.pi_self = s->pi_self,
		.k = s->k,
		.pi = s->pi,
		.state = s->state,
	};
	uint32_t layers = rps_model_num_layers(s->model);
	int ret;

	if (s->mesh && (ret = worker_mesh_acquire(s->mesh, s->views)))
		return ret;
	/* whole, before any tensor moves: a step is taken entirely or not */
	if (!rps_optim_all_finite(s->grad, s->n)) {
		s->rejected++;
		return -EDOM;
	}
	classify(s);
	for (uint32_t l = 0; l < layers; l++) {
		rps_model_layer_t ly = rps_model_layer(s->model, l);

		tensor_step(s, &p, ly.w_off, (uint64_t)ly.in * ly.out);
		tensor_step(s, &p, ly.b_off, ly.out);
	}
	s->steps++;
	/* skipped when both staging buffers are still on the wire: the next
	 * step's copy goes instead (never a wait) */
	if (s->mesh)
		(void)worker_mesh_publish(s->mesh, s->params, s->grad, s->steps);
	return 0;
}

double worker_pcasgd_spread(const struct worker_pcasgd *s)
{
	double d2 = 0, x2 = 0;
	uint32_t m = 0;

	for (uint32_t i = 0; i < s->k; i++) {
		const float *y = s->views[i].x;

		if (!y || !s->copy_ok[i])
			continue;
		for (uint64_t j = 0; j < s->n; j++) {
			double d = (double)s->params[j] - y[j];

			d2 += d * d;
		}
		m++;
	}
	if (!m)
		return -1;
	for (uint64_t j = 0; j < s->n; j++)
		x2 += (double)s->params[j] * s->params[j];
	return x2 > 0 ? sqrt(d2 / m) / sqrt(x2) : -1;
}

int worker_pcasgd_finish(struct worker_pcasgd *s)
{
	int ret;

	if (!s->mesh)
		return 0;
	if ((ret = worker_mesh_finish(s->mesh, s->params, s->grad, s->steps)))
		return ret;
	/* the neighbours' last copies, for the final spread */
	ret = worker_mesh_acquire(s->mesh, s->views);
	for (uint32_t i = 0; i < s->k; i++)
		s->copy_ok[i] = s->views[i].x && rps_optim_all_finite(s->views[i].x, s->n);
	return ret;
}

void worker_pcasgd_close(struct worker_pcasgd *s)
{
	worker_mesh_destroy(s->mesh);
	free(s->params);
	free(s->grad);
	free(s->mom);
	free(s->views);
	free(s->copy_ok);
	free(s->tx);
	free(s->tg);
	free(s->pi);
	free(s->state);
	memset(s, 0, sizeof(*s));
}
