/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The measured side of rps_pushpull_bench: an rdma-ps server (the real
 * engine) and N worker threads, each timing its push (RDMA WRITEs until
 * the server says the update is applied) and its pull (RDMA READs of the
 * new weights).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/pushpull/pushpull.h"
#include "optim/kernels.h"
#include "util/clock.h"

#define WARMUP_STEPS 2

struct job {
	const struct pp_cfg *cfg;
	const char *host; /* the server */
	uint16_t port;
	uint32_t id, workers;
	double *push, *pull, *step; /* [steps] microseconds */
	uint64_t params;	    /* the model size, once connected */
	int ret;
};

static void *worker_main(void *arg)
{
	struct job *j = arg;
	rps_worker_config_t wc = { 0 };
	rps_worker_t *w;

	wc.server = j->host;
	wc.port = j->port;
	wc.worker_id = j->id;
	wc.num_workers = j->workers;
	wc.transport = &j->cfg->attr;
	wc.timeout_ms = 120000;
	/* a running rdma-ps refuses a rank (-EBUSY) until it reaped the
	 * rank's previous connection, e.g. an earlier round's */
	for (int tries = 0; (j->ret = rps_worker_connect(&wc, &w)) == -EBUSY && tries < 400;
	     tries++)
		usleep(50000);
	if (j->ret)
		return NULL;
	j->params = rps_worker_num_params(w);
	/* a small gradient: the weights stay finite over any number of steps */
	for (uint64_t i = 0; i < rps_worker_num_params(w); i++)
		rps_worker_grad(w)[i] = 1e-6f;
	for (uint32_t s = 0; s < WARMUP_STEPS + j->cfg->steps && !j->ret; s++) {
		uint64_t t0 = rps_now_ns(), t1, t2, t3 = 0, t4 = 0;

		/* push and pull apart, for their columns ... */
		if ((j->ret = rps_push(w)))
			break;
		t1 = rps_now_ns();
		if ((j->ret = rps_pull(w)))
			break;
		t2 = rps_now_ns();
		/* ... and, with --step, the step as rps_step() takes it */
		if (j->cfg->step) {
			t3 = rps_now_ns();
			if ((j->ret = rps_step(w)))
				break;
			t4 = rps_now_ns();
		}
		if (s >= WARMUP_STEPS) {
			j->push[s - WARMUP_STEPS] = (double)(t1 - t0) / 1e3;
			j->pull[s - WARMUP_STEPS] = (double)(t2 - t1) / 1e3;
			j->step[s - WARMUP_STEPS] =
				(double)(j->cfg->step ? t4 - t3 : t2 - t0) / 1e3;
		}
	}
	rps_worker_close(w);
	return NULL;
}

/* the engine's own time in the update kernel per push, mean over every
 * push of the point (warm-up and --step's included): what a push costs
 * on top of its transfer where the application of a chunk overlaps
 * nothing.  Measured in the engine (rps_server_worker_stats' apply_ns)
 * rather than by timing a kernel apart, which missed the snapshot and
 * the undo copy the engine's kernels also write. */
static double engine_apply_us(const rps_server_t *srv, uint32_t workers)
{
	uint64_t ns = 0, pushes = 0;

	for (uint32_t m = 0; m < workers; m++) {
		rps_server_worker_stats_t st;

		if (rps_server_worker_stats(srv, m, &st) == 0) {
			ns += st.apply_ns;
			pushes += st.pushes;
		}
	}
	return pushes ? (double)ns / 1e3 / (double)pushes : 0;
}

void pp_server_config(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, uint32_t workers,
		      rps_server_config_t *sc)
{
	rps_server_config_init(sc);
	sc->algo = cfg->algo;
	rps_hparams_default(cfg->algo, &sc->hp);
	sc->hp.lr = 1e-3f;
	sc->num_workers = workers;
	sc->num_params = bytes / sizeof(float);
	sc->chunk_bytes = (uint32_t)chunk;
	sc->threads = cfg->threads;
	sc->cpus = cfg->cpus;
	sc->numa_node = cfg->numa;
	sc->no_pin = cfg->no_pin;
	sc->addr = cfg->addr;
	sc->transport = &cfg->attr;
}

/* the placement is the same for every point: the table shows it once */
static bool placement_shown;

int pp_ps_time(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, uint32_t workers,
	       struct pp_result *r)
{
	rps_server_config_t sc;
	rps_server_t *srv;
	struct job jobs[PP_MAX_WORKERS];
	pthread_t thr[PP_MAX_WORKERS];
	uint32_t steps = cfg->steps, started = 0;
	double *push = calloc((size_t)workers * steps, sizeof(double));
	double *pull = calloc((size_t)workers * steps, sizeof(double));
	double *step = calloc((size_t)workers * steps, sizeof(double));
	int ret = 0;

	if (!push || !pull || !step) {
		ret = -ENOMEM;
		goto out;
	}
	pp_server_config(cfg, bytes, chunk, workers, &sc);
	if ((ret = rps_server_create(&sc, &srv)))
		goto out;
	if (!placement_shown && !cfg->csv) {
		printf("# engine placement: %s\n", rps_server_placement(srv));
		placement_shown = true;
	}
	if ((ret = rps_server_start(srv)))
		goto out_srv;
	for (uint32_t m = 0; m < workers; m++) {
		jobs[m] = (struct job){ cfg,
					cfg->addr,
					rps_server_port(srv),
					m,
					workers,
					push + (size_t)m * steps,
					pull + (size_t)m * steps,
					step + (size_t)m * steps,
					0,
					0 };
		/* off the engines' CPUs, as rdma-worker on a host of its own */
		if ((ret = pp_thread_start(cfg, false, &thr[m], worker_main, &jobs[m])))
			break;
		started++;
	}
	for (uint32_t m = 0; m < started; m++) {
		pthread_join(thr[m], NULL);
		if (jobs[m].ret && !ret)
			ret = jobs[m].ret;
	}
	if (!ret) {
		uint32_t k = workers * steps;

		r->push_us = pp_median(push, k);
		r->pull_us = pp_median(pull, k);
		r->step_us = pp_median(step, k);
		r->apply_us = engine_apply_us(srv, workers);
	}
out_srv:
	rps_server_destroy(srv);
out:
	if (ret)
		fprintf(stderr,
			"rps_pushpull_bench: %llu bytes, %llu-byte chunks, %u workers: %s\n",
			(unsigned long long)bytes, (unsigned long long)chunk, workers,
			rps_strerror(ret));
	free(push);
	free(pull);
	free(step);
	return ret;
}

int pp_ps_time_remote(const struct pp_cfg *cfg, uint64_t *bytes_p, struct pp_result *r)
{
	uint32_t steps = cfg->steps;
	double *push = calloc(steps, sizeof(double)), *pull = calloc(steps, sizeof(double));
	double *step = calloc(steps, sizeof(double));
	struct job j = { cfg, cfg->server_host, cfg->server_port, cfg->rank, 0, push, pull, step, 0,
			 0 };

	if (!push || !pull || !step) {
		j.ret = -ENOMEM;
	} else {
		worker_main(&j); /* on this thread: nothing else runs here */
	}
	if (!j.ret) {
		r->push_us = pp_median(push, steps);
		r->pull_us = pp_median(pull, steps);
		r->step_us = pp_median(step, steps);
		*bytes_p = j.params * sizeof(float);
	} else {
		fprintf(stderr, "rps_pushpull_bench: --server %s:%u: %s\n", cfg->server_host,
			cfg->server_port, rps_strerror(j.ret));
	}
	free(push);
	free(pull);
	free(step);
	return j.ret;
}
