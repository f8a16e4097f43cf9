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

#include "bench/pushpull/pushpull.h"
#include "optim/kernels.h"
#include "util/clock.h"

#define WARMUP_STEPS 2

struct job {
	const struct pp_cfg *cfg;
	rps_server_t *srv;
	uint32_t id, workers;
	double *push, *pull; /* [steps] microseconds */
	int ret;
};

static void *worker_main(void *arg)
{
	struct job *j = arg;
	rps_worker_config_t wc = { 0 };
	rps_worker_t *w;

	wc.server = j->cfg->addr;
	wc.port = rps_server_port(j->srv);
	wc.worker_id = j->id;
	wc.num_workers = j->workers;
	wc.transport = &j->cfg->attr;
	wc.timeout_ms = 120000;
	if ((j->ret = rps_worker_connect(&wc, &w)))
		return NULL;
	/* a small gradient: the weights stay finite over any number of steps */
	for (uint64_t i = 0; i < rps_worker_num_params(w); i++)
		rps_worker_grad(w)[i] = 1e-6f;
	for (uint32_t s = 0; s < WARMUP_STEPS + j->cfg->steps && !j->ret; s++) {
		uint64_t t0 = rps_now_ns(), t1;

		if ((j->ret = rps_push(w)))
			break;
		t1 = rps_now_ns();
		if ((j->ret = rps_pull(w)))
			break;
		if (s >= WARMUP_STEPS) {
			j->push[s - WARMUP_STEPS] = (double)(t1 - t0) / 1e3;
			j->pull[s - WARMUP_STEPS] = (double)(rps_now_ns() - t1) / 1e3;
		}
	}
	rps_worker_close(w);
	return NULL;
}

/* the update kernel alone over the model, one core: what the engine adds
 * to a push if nothing overlapped it */
static double apply_alone_us(uint64_t n)
{
	float *w = calloc(n, sizeof(float)), *g = calloc(n, sizeof(float));
	rps_sgd_params_t p = { 1e-3f, 0, 0 };
	double t[5];

	if (!w || !g) {
		free(w);
		free(g);
		return 0;
	}
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = rps_now_ns();

		rps_optim_sgd(w, NULL, NULL, g, n, &p, NULL);
		t[i] = (double)(rps_now_ns() - t0) / 1e3;
	}
	free(w);
	free(g);
	return pp_median(t, 5);
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
	rps_server_config_init(&sc);
	sc.algo = cfg->algo;
	rps_hparams_default(cfg->algo, &sc.hp);
	sc.hp.lr = 1e-3f;
	sc.num_workers = workers;
	sc.num_params = bytes / sizeof(float);
	sc.chunk_bytes = (uint32_t)chunk;
	sc.threads = cfg->threads;
	sc.cpus = cfg->cpus;
	sc.numa_node = cfg->numa;
	sc.no_pin = cfg->no_pin;
	sc.addr = cfg->addr;
	sc.transport = &cfg->attr;
	if ((ret = rps_server_create(&sc, &srv)))
		goto out;
	if (!placement_shown && !cfg->csv) {
		printf("# engine placement: %s\n", rps_server_placement(srv));
		placement_shown = true;
	}
	if ((ret = rps_server_start(srv)))
		goto out_srv;
	for (uint32_t m = 0; m < workers; m++) {
		jobs[m] = (struct job){
			cfg, srv, m, workers, push + (size_t)m * steps, pull + (size_t)m * steps, 0
		};
		if ((ret = -pthread_create(&thr[m], NULL, worker_main, &jobs[m])))
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

		for (uint32_t i = 0; i < k; i++)
			step[i] = push[i] + pull[i];
		r->push_us = pp_median(push, k);
		r->pull_us = pp_median(pull, k);
		r->step_us = pp_median(step, k);
		r->apply_us = apply_alone_us(sc.num_params);
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
