/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_connect() until the peer accepts or a deadline passes.  Peers that
 * start together (a ring, the PC-ASGD agents) connect to each other in an
 * order that makes someone connect before the other side listens, or while
 * it is busy with its own connect: those failures are retried with
 * backoff (10 ms doubling to 500 ms); anything else (a refusal with
 * private data, a bad address) returns at once.  Private: the programs
 * reach it through RDMAPS_PRIVATE_1.
 */
#ifndef RPS_TRANSPORT_CONNECT_RETRY_H
#define RPS_TRANSPORT_CONNECT_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/transport.h>

/* true for the errors a peer that is not up yet, or busy, gives */
bool rps_connect_retryable(int ret);

/* rps_connect with the same arguments, retried until deadline_ns
 * (rps_deadline_ns).  0, or the last negative errno. */
int rps_connect_retry(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq, const void *data,
		      size_t len, rps_reject_t *reject_p, uint64_t deadline_ns,
		      rps_conn_t **conn_p);

#endif /* RPS_TRANSPORT_CONNECT_RETRY_H */
