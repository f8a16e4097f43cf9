/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where rps_pushpull_bench's own threads run: the bare reference's target
 * on the engine threads' CPUs, the workers (and the reference's
 * initiator) on the others.  A thread starts where its creator runs, and
 * one that starts on a CPU where another polls without a pause shares it
 * until the scheduler moves it: later than a point of a few milliseconds
 * ends.  A 64 KiB push took 190 instead of 30 us that way, in one point
 * of two, at random, and the reference's 1 MiB WRITE 110 to 480 us.
 */
#define _GNU_SOURCE /* cpu_set_t, pthread_attr_setaffinity_np */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench/pushpull/pushpull.h"

/* rps_server_placement's "cpus=0,1,..." ("none" with --no-pin) */
static void parse_cpus(const char *placement, struct pp_cfg *cfg)
{
	const char *p = strstr(placement, "cpus=");

	cfg->nengine_cpus = 0;
	if (!p)
		return;
	for (p += strlen("cpus="); *p >= '0' && *p <= '9';) {
		char *end;
		unsigned long cpu = strtoul(p, &end, 10);

		if (cpu < CPU_SETSIZE && cfg->nengine_cpus < PP_MAX_CPUS)
			cfg->engine_cpus[cfg->nengine_cpus++] = (unsigned)cpu;
		p = *end == ',' ? end + 1 : end;
	}
}

int pp_engine_cpus(struct pp_cfg *cfg)
{
	rps_server_config_t sc;
	rps_server_t *srv;
	int ret;

	/* a server of one chunk, never started: the placement is decided at
	 * create, by the same options every point's server gets */
	pp_server_config(cfg, 4096, cfg->chunks[0], 1, &sc);
	if ((ret = rps_server_create(&sc, &srv)))
		return ret;
	parse_cpus(rps_server_placement(srv), cfg);
	rps_server_destroy(srv);
	return 0;
}

/* on (or off) the engines' CPUs, of those this process may use; false
 * when that leaves none (or the engines are not pinned) */
static bool engine_set(const struct pp_cfg *cfg, bool on, cpu_set_t *set)
{
	cpu_set_t eng;

	if (!cfg->nengine_cpus || sched_getaffinity(0, sizeof(*set), set))
		return false;
	CPU_ZERO(&eng);
	for (unsigned i = 0; i < cfg->nengine_cpus; i++)
		CPU_SET(cfg->engine_cpus[i], &eng);
	if (on)
		CPU_AND(set, set, &eng);
	else
		for (unsigned i = 0; i < cfg->nengine_cpus; i++)
			CPU_CLR(cfg->engine_cpus[i], set);
	return CPU_COUNT(set) > 0;
}

int pp_thread_start(const struct pp_cfg *cfg, bool on_engines, pthread_t *thr, void *(*fn)(void *),
		    void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	if ((ret = pthread_attr_init(&attr)))
		return -ret;
	/* where it cannot be placed (one CPU, engines on all), it runs
	 * where the scheduler puts it, as before */
	if (engine_set(cfg, on_engines, &set))
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	ret = pthread_create(thr, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -ret;
}
