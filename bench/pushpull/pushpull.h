/* SPDX-License-Identifier: BSD-2-Clause */
/* rps_pushpull_bench internals (bench/pushpull/). */
#ifndef RPS_BENCH_PUSHPULL_H
#define RPS_BENCH_PUSHPULL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/rdmaps.h>

#define PP_MAX_LIST    32
#define PP_MAX_WORKERS 64
#define PP_MAX_CPUS    1024

struct pp_cfg {
	rps_transport_attr_t attr;
	const char *addr;	     /* local address for both ends */
	uint64_t sizes[PP_MAX_LIST]; /* model bytes */
	uint32_t nsizes;
	uint64_t chunks[PP_MAX_LIST]; /* chunk bytes */
	uint32_t nchunks;
	uint32_t workers[PP_MAX_LIST];
	uint32_t nworkers;
	uint32_t steps;	  /* measured steps per worker */
	uint32_t threads; /* engine threads */
	const char *cpus; /* engine threads' placement: --cpus, --numa, --no-pin */
	int numa;
	bool no_pin;
	rps_algo_t algo;
	bool csv;
	bool step; /* --step: time the step as rps_step(), not push + pull */
	/* --server: time a worker against this running rdma-ps instead of
	 * one in this process (host without brackets, port), as --rank */
	char server_host[256];
	uint16_t server_port;
	uint32_t rank;
	/* the CPUs the engine threads are pinned to (none: not pinned), as
	 * pp_engine_cpus found them */
	unsigned engine_cpus[PP_MAX_CPUS];
	unsigned nengine_cpus;
};

/* The medians of one (size, chunk, workers) point, in microseconds. */
struct pp_result {
	double push_us, pull_us, step_us; /* per worker step */
	double apply_us;		  /* the engine's time in the kernel per push */
	double raw_write_us, raw_read_us; /* the same bytes, bare transport */
};

/* Bare-transport reference: a target thread polls, this thread WRITEs (or
 * READs) `bytes` as chunks of `chunk` bytes, all in flight as the worker
 * posts them, and waits for the last; median of `reps` runs.  0 or a
 * negative errno (printed). */
int pp_raw_time(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, int reps,
		double *write_us_p, double *read_us_p);

/* The server every point runs (and pp_engine_cpus creates to place the
 * threads): bytes of model in chunks of chunk, room for workers. */
void pp_server_config(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, uint32_t workers,
		      rps_server_config_t *sc);

/* One rdma-ps engine and `workers` worker threads: push, pull per step. */
int pp_ps_time(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, uint32_t workers,
	       struct pp_result *r);

/* One worker thread (cfg->rank) against the running rdma-ps at
 * cfg->server_host:server_port, whose model size it takes (*bytes_p). */
int pp_ps_time_remote(const struct pp_cfg *cfg, uint64_t *bytes_p, struct pp_result *r);

double pp_median(double *v, uint32_t n);

/* Where the engine threads of this configuration go: cfg->engine_cpus,
 * from a server created (not started) with its options.  0 or -errno. */
int pp_engine_cpus(struct pp_cfg *cfg);

/* pthread_create of fn(arg) on the engines' CPUs (on_engines) or on the
 * others, when that leaves some; else anywhere.  0 or -errno. */
int pp_thread_start(const struct pp_cfg *cfg, bool on_engines, pthread_t *thr, void *(*fn)(void *),
		    void *arg);

#endif /* RPS_BENCH_PUSHPULL_H */
