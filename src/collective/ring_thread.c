/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The optional progress thread.  With it, only this thread touches the
 * engine, the CQ and the connections (the transport's threading rule);
 * the caller hands it rounds through two counters:
 *   req_round   rounds the caller asked for (store-release after it
 *               filled the buffer: the thread's acquire sees the input)
 *   done_round  rounds the thread completed (store-release after the last
 *               write into the buffer: the caller's acquire sees the sum)
 * and a sticky error.  It busy-polls during a round, as an RDMA progress
 * engine must to keep latency low (and as ofi's manual progress needs),
 * yielding the core after a run of empty polls (util/spin.h), and naps
 * between rounds so an idle ring does not burn a core.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "collective/ring_priv.h"
#include "util/log.h"
#include "util/spin.h"
#include "util/thread.h"

#define IDLE_NAP_NS 50000L

static void *progress_main(void *arg)
{
	rps_ring_t *ring = arg;
	unsigned idle = 0;

	while (!atomic_load_explicit(&ring->stop, memory_order_relaxed)) {
		unsigned req = atomic_load_explicit(&ring->req_round, memory_order_acquire);
		uint64_t seen = ring->ncomps;
		int ret;

		if (!ring->active && req != ring->round)
			ret = rps_ring_engine_start(ring);
		else
			ret = rps_ring_engine_progress(ring);
		/* a worker's compute thread shares the node's cores with this
		 * one (and, with several workers a node, with the others'):
		 * a round's empty polls yield after a while, as the engines do */
		if (ring->active)
			rps_idle_poll(&idle, ring->ncomps != seen);
		if (ret < 0) {
			atomic_store_explicit(&ring->thread_err, ret, memory_order_release);
			break; /* the ring is broken: nothing left to drive */
		}
		if (!ring->active) {
			atomic_store_explicit(&ring->done_round, ring->round, memory_order_release);
			if (atomic_load_explicit(&ring->req_round, memory_order_relaxed) ==
			    ring->round)
				nanosleep(&(struct timespec){ 0, IDLE_NAP_NS }, NULL);
		}
	}
	return NULL;
}

int rps_ring_thread_start(rps_ring_t *ring)
{
	int ret;

	atomic_init(&ring->stop, false);
	atomic_init(&ring->req_round, 0);
	atomic_init(&ring->done_round, 0);
	atomic_init(&ring->thread_err, 0);
	ret = rps_thread_start_pinned(&ring->thread, ring->cpu, progress_main, ring);
	if (ret) {
		rps_err("ring rank %u: progress thread (CPU %d): %s", ring->rank, ring->cpu,
			strerror(-ret));
		return ret;
	}
	ring->has_thread = true;
	return 0;
}

void rps_ring_thread_stop(rps_ring_t *ring)
{
	atomic_store(&ring->stop, true);
	pthread_join(ring->thread, NULL);
	ring->has_thread = false;
}
