/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where a ring allreduce spends its time (ring_engine.c), for
 * rps_allreduce_bench --profile.  Off by default: it reads the clock
 * around every pass of the engine.  Private (RDMAPS_PRIVATE_1).
 *
 * Every pass of the engine is one of: busy in the transport (a poll that
 * returned completions: with libfabric's manual progress this is where
 * the bytes move through the socket), adding a received chunk into the
 * buffer (reduce-scatter), copying one (allgather), posting writes and
 * acks, or a pass that found nothing to do; such an idle pass counts as
 * waiting, by what the round needs next: a credit (the right neighbour
 * has not consumed our earlier chunks), data (the left neighbour's chunk
 * that the next send forwards, or the round's last ones), or the wire
 * (our writes posted, their completions not back).
 */
#ifndef RPS_COLLECTIVE_RING_PROFILE_H
#define RPS_COLLECTIVE_RING_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/ring.h>

typedef struct rps_ring_profile {
	uint64_t rounds;   /* allreduces profiled */
	uint64_t round_ns; /* their time, start to done, summed */
	uint64_t transport_ns, reduce_ns, copy_ns, post_ns;
	uint64_t wait_credit_ns, wait_data_ns, wait_wire_ns;
} rps_ring_profile_t;

/* Starts (zeroing the counters) or stops profiling; between rounds. */
void rps_ring_profile_enable(rps_ring_t *ring, bool on);
/* The counters so far (between rounds). */
void rps_ring_profile_get(const rps_ring_t *ring, rps_ring_profile_t *p);

#endif /* RPS_COLLECTIVE_RING_PROFILE_H */
