/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ring setup: listen on our own address, connect to the right neighbour,
 * accept the left one, and trade where each may write (private data).
 *
 * rps_connect() and rps_conn_req_accept() block, so if every rank
 * connected first, every rank would wait for an accept nobody makes.
 * Even ranks connect then accept, odd ranks accept then connect.  Every
 * even rank's right neighbour is odd and accepts first, so those connects
 * finish; then the even rank accepts its left, which unblocks that odd
 * rank's connect.  With an odd world, ranks world-1 and 0 are both even:
 * world-1's connect waits until 0 has finished its own (to the odd rank
 * 1, which accepts first) and turns to accepting — a chain that always
 * ends, so no cycle.  A neighbour that is not listening yet refuses: we
 * retry with backoff until the ring's timeout.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "collective/ring_priv.h"
#include "transport/connect_retry.h"
#include "util/clock.h"
#include "util/log.h"

static int check_welcome(rps_ring_t *ring, uint32_t right)
{
	rps_ring_welcome_t w;
	const void *pd;
	size_t len;
	uint64_t need = (uint64_t)ring->window * ring->chunk_bytes;

	pd = rps_conn_peer_data(ring->right, &len);
	if (rps_ring_welcome_parse(pd, len, &w)) {
		rps_err("ring rank %u: right neighbour %s is not an rdmaps ring rank "
			"(%zu bytes of accept data)",
			ring->rank, rps_conn_peer(ring->right), len);
		return -RPS_ERR_PROTO;
	}
	if (w.rank != right || w.stage.len < need) {
		rps_err("ring rank %u: %s answered as rank %u with a %llu-byte receive "
			"buffer, expected rank %u with %llu bytes: peers lists differ",
			ring->rank, rps_conn_peer(ring->right), w.rank,
			(unsigned long long)w.stage.len, right, (unsigned long long)need);
		return -RPS_ERR_PROTO;
	}
	ring->right_stage = w.stage;
	return 0;
}

static int connect_right(rps_ring_t *ring, uint64_t deadline)
{
	uint32_t right = (ring->rank + 1) % ring->world;
	const char *host = ring->peer_host[right];
	uint16_t port = ring->peer_port[right];
	rps_ring_hello_t h = {
		.rank = ring->rank,
		.world = ring->world,
		.window = ring->window,
		.chunk_bytes = (uint32_t)ring->chunk_bytes,
		.count = ring->count,
	};
	uint8_t data[RPS_RING_HELLO_LEN];
	int ret;

	rps_mr_remote(ring->stage_mr, &h.ack);
	rps_ring_hello_pack(&h, data);
	ret = rps_connect_retry(rps_transport_pd(ring->tp), host, port, ring->cq, data,
				sizeof(data), NULL, deadline, &ring->right);
	if (ret == 0)
		return check_welcome(ring, right);
	rps_err("ring rank %u: connect to right neighbour rank %u at %s:%u: %s%s", ring->rank,
		right, host, port, rps_strerror(ret),
		rps_connect_retryable(ret) ? " (gave up at the ring timeout)" : "");
	return ret;
}

/* 0 when the request is our left neighbour running the same ring. */
static int check_hello(rps_ring_t *ring, rps_conn_req_t *req, uint32_t left)
{
	rps_ring_hello_t h;
	const void *pd;
	size_t len;

	pd = rps_conn_req_data(req, &len);
	if (rps_ring_hello_parse(pd, len, &h)) {
		rps_err("ring rank %u: %s connected without a ring hello (%zu bytes)", ring->rank,
			rps_conn_req_peer(req), len);
		return -RPS_ERR_PROTO;
	}
	if (h.rank != left || h.world != ring->world || h.count != ring->count ||
	    h.window != ring->window || h.chunk_bytes != ring->chunk_bytes) {
		rps_err("ring rank %u: %s is rank %u of world %u, count %llu, chunk %u B, "
			"window %u; expected rank %u of world %u, count %zu, chunk %zu B, "
			"window %u",
			ring->rank, rps_conn_req_peer(req), h.rank, h.world,
			(unsigned long long)h.count, h.chunk_bytes, h.window, left, ring->world,
			ring->count, ring->chunk_bytes, ring->window);
		return -RPS_ERR_PROTO;
	}
	ring->left_ack = h.ack;
	return 0;
}

static int accept_left(rps_ring_t *ring, uint64_t deadline)
{
	uint32_t left = (ring->rank + ring->world - 1) % ring->world;
	rps_ring_welcome_t w = { .rank = ring->rank };
	uint8_t data[RPS_RING_WELCOME_LEN];
	rps_conn_req_t *req;
	int ret;

	rps_mr_remote(ring->stage_mr, &w.stage);
	rps_ring_welcome_pack(&w, data);
	for (;;) {
		int left_ms = rps_ms_left(deadline);

		ret = left_ms == 0 ? -ETIMEDOUT
				   : rps_listener_get_request(ring->listener, left_ms, &req);
		if (ret) {
			rps_err("ring rank %u: no connection from left neighbour rank %u (%s:%u) "
				"within %d ms: %s",
				ring->rank, left, ring->peer_host[left], ring->peer_port[left],
				ring->timeout_ms, rps_strerror(ret));
			return ret;
		}
		ret = check_hello(ring, req, left);
		if (ret) {
			rps_conn_req_reject(req, NULL, 0);
			return ret;
		}
		ret = rps_conn_req_accept(req, rps_transport_pd(ring->tp), ring->cq, data,
					  sizeof(data), &ring->left);
		if (ret == 0)
			return 0;
		/* a connect that timed out on the left while we were busy
		 * leaves a stale request; its retry sends a fresh one */
		if (!rps_connect_retryable(ret))
			return ret;
	}
}

int rps_ring_connect(rps_ring_t *ring)
{
	uint64_t deadline = rps_deadline_ns(ring->timeout_ms);
	int ret;

	ret = rps_listen(ring->tp, ring->peer_host[ring->rank], ring->peer_port[ring->rank],
			 &ring->listener);
	if (ret) {
		rps_err("ring rank %u: listen on %s:%u: %s", ring->rank,
			ring->peer_host[ring->rank], ring->peer_port[ring->rank],
			rps_strerror(ret));
		return ret;
	}
	if (ring->rank % 2 == 0)
		ret = connect_right(ring, deadline) ?: accept_left(ring, deadline);
	else
		ret = accept_left(ring, deadline) ?: connect_right(ring, deadline);
	/* no one else connects to us: the port is free again for others */
	rps_listener_close(ring->listener);
	ring->listener = NULL;
	return ret;
}
