/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Busy polling that stays polite when cores are oversubscribed.  The
 * engine threads and the worker poll their CQs in a loop (no interrupts
 * on the data path).  After RPS_IDLE_POLLS empty polls in a row each
 * further empty poll yields the core: on a dedicated core sched_yield
 * returns at once (there is nothing else to run), so latency is
 * unchanged; with more runnable threads than cores (several workers on a
 * node, workers next to rdma-ps, the soft-RoCE VM) the others get to run
 * instead of waiting for our time slice to end.
 */
#ifndef RPS_UTIL_SPIN_H
#define RPS_UTIL_SPIN_H

#include <sched.h>

#define RPS_IDLE_POLLS 256

/* Call after each poll with the number of completions it returned. */
static inline void rps_idle_poll(unsigned *idle_p, int n)
{
	if (n > 0)
		*idle_p = 0;
	else if (++*idle_p > RPS_IDLE_POLLS)
		sched_yield();
}

#endif /* RPS_UTIL_SPIN_H */
