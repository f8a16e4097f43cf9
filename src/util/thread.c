/* SPDX-License-Identifier: BSD-2-Clause */
/* A thread pinned before it runs (thread.h). */
#define _GNU_SOURCE
#include "config.h"

#include <sched.h>

#include "util/compiler.h"
#include "util/thread.h"

RPS_EXPORT_PRIVATE int rps_thread_start_pinned(pthread_t *thread, int cpu, void *(*fn)(void *),
					       void *arg)
{
	pthread_attr_t pa;
	int ret;

	if ((ret = pthread_attr_init(&pa)))
		return -ret;
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		ret = pthread_attr_setaffinity_np(&pa, sizeof(set), &set);
	}
	if (ret == 0)
		ret = pthread_create(thread, &pa, fn, arg);
	pthread_attr_destroy(&pa);
	return -ret;
}
