/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ring allreduce: attributes, create/destroy, and the public entry points,
 * which run the engine on the caller's thread or hand work to the
 * progress thread.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "collective/ring_priv.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/ext_struct.h"
#include "util/log.h"

#define BUF_ALIGN   64
#define STAGE_ALIGN 4096
#define WAIT_SPINS  1000 /* empty polls before the wait starts yielding */

static void attr_defaults(rps_ring_attr_t *attr)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->world = 1;
	attr->chunk_bytes = RPS_RING_CHUNK_DEFAULT;
	attr->window = RPS_RING_WINDOW_DEFAULT;
	attr->timeout_ms = RPS_RING_TIMEOUT_DEFAULT;
	attr->progress_cpu = -1;
}

RPS_EXPORT void rps_ring_attr_init_size(rps_ring_attr_t *attr, size_t size)
{
	rps_ring_attr_t full;

	attr_defaults(&full);
	rps_ext_struct_out(attr, size, &full, sizeof(full));
}

static int attr_check(const rps_ring_attr_t *a)
{
	if (a->world == 0 || a->rank >= a->world || (a->world > 1 && !a->peers)) {
		rps_err("ring: rank %u of world %u%s: invalid", a->rank, a->world,
			a->world > 1 && !a->peers ? " without a peers list" : "");
		return -EINVAL;
	}
	if (a->count == 0 || a->count > SIZE_MAX / sizeof(float) / 2) {
		rps_err("ring rank %u: count %zu: must be 1..%zu floats", a->rank, a->count,
			SIZE_MAX / sizeof(float) / 2);
		return -EINVAL;
	}
	if (a->chunk_bytes < sizeof(float) || a->chunk_bytes % sizeof(float) ||
	    a->chunk_bytes > UINT32_MAX / 2) {
		rps_err("ring rank %u: chunk %zu bytes: must be a multiple of 4, 4..%u", a->rank,
			a->chunk_bytes, UINT32_MAX / 2);
		return -EINVAL;
	}
	if (a->window == 0 || a->window > RPS_RING_WINDOW_MAX) {
		rps_err("ring rank %u: window %u: must be 1..%u", a->rank, a->window,
			RPS_RING_WINDOW_MAX);
		return -EINVAL;
	}
	if (a->timeout_ms <= 0) {
		rps_err("ring rank %u: timeout %d ms: must be > 0", a->rank, a->timeout_ms);
		return -EINVAL;
	}
	if (a->progress_cpu < -1 || a->progress_cpu >= CPU_SETSIZE) {
		rps_err("ring rank %u: progress CPU %d: must be -1 or 0..%d", a->rank,
			a->progress_cpu, CPU_SETSIZE - 1);
		return -EINVAL;
	}
	return 0;
}

/* "host:port" (IPv6 as "[addr]:port"), port 1..65535. */
static int parse_peer(rps_ring_t *ring, uint32_t r, const char *s)
{
	const char *colon = s ? strrchr(s, ':') : NULL;
	const char *host = s;
	size_t hlen;
	char *end;
	long port;

	if (!colon)
		goto bad;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
		goto bad;
	hlen = (size_t)(colon - s);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || !(ring->peer_host[r] = strndup(host, hlen)))
		goto bad;
	ring->peer_port[r] = (uint16_t)port;
	return 0;
bad:
	rps_err("ring rank %u: peer %u '%s': expected host:port with port 1..65535", ring->rank, r,
		s ? s : "(null)");
	return -EINVAL;
}

static int open_transport(rps_ring_t *ring, const rps_ring_attr_t *a)
{
	rps_transport_attr_t ta;
	int ret;

	if (a->tp) {
		const rps_transport_attr_t *have = rps_transport_get_attr(a->tp);

		if (have->recv_depth < ring->window || have->sq_depth < ring->window) {
			rps_err("ring rank %u: transport has recv_depth %u, sq_depth %u: a "
				"window of %u chunks needs both >= %u",
				ring->rank, have->recv_depth, have->sq_depth, ring->window,
				ring->window);
			return -EINVAL;
		}
		ring->tp = a->tp;
		return 0;
	}
	if (a->tp_attr)
		ta = *a->tp_attr;
	else if ((ret = rps_transport_attr_init(&ta)))
		return ret;
	/* every slot can hold an unread immediate, every credit a write */
	if (ta.recv_depth < ring->window + 1)
		ta.recv_depth = ring->window + 1;
	if (ta.sq_depth < 2 * ring->window)
		ta.sq_depth = 2 * ring->window;
	if (ta.timeout_ms <= 0 || ta.timeout_ms > ring->timeout_ms)
		ta.timeout_ms = ring->timeout_ms;
	ret = rps_transport_open(&ta, &ring->tp);
	if (ret)
		return ret;
	ring->own_tp = true;
	return 0;
}

static int alloc_buffers(rps_ring_t *ring)
{
	size_t blen = (ring->count * sizeof(float) + BUF_ALIGN - 1) / BUF_ALIGN * BUF_ALIGN;
	size_t slen = (size_t)ring->window * ring->chunk_bytes;
	uint32_t nrecv = ring->lo.recv_first[ring->lo.nsteps];
	int ret;

	if (posix_memalign((void **)&ring->buf, BUF_ALIGN, blen) ||
	    posix_memalign((void **)&ring->stage, STAGE_ALIGN, slen))
		goto nomem;
	memset(ring->buf, 0, blen);
	memset(ring->stage, 0, slen);
	ring->recv_done = calloc(nrecv ? nrecv : 1, 1);
	ring->free_slots = calloc(ring->window, sizeof(uint32_t));
	ring->slot_busy = calloc(ring->window, 1);
	ring->stash = calloc(ring->window, sizeof(uint32_t));
	ring->acks = calloc(ring->window, sizeof(uint32_t));
	if (!ring->recv_done || !ring->free_slots || !ring->slot_busy || !ring->stash ||
	    !ring->acks)
		goto nomem;
	rps_ring_engine_reset_credits(ring);
	if ((ret = rps_mr_reg(rps_transport_pd(ring->tp), ring->buf, blen, RPS_ACCESS_LOCAL_WRITE,
			      &ring->buf_mr)))
		return ret;
	/* the stage also takes the right neighbour's zero-byte acks */
	return rps_mr_reg(rps_transport_pd(ring->tp), ring->stage, slen,
			  RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE, &ring->stage_mr);
nomem:
	rps_err("ring rank %u: out of memory for %zu floats and %u x %zu B of receive slots",
		ring->rank, ring->count, ring->window, ring->chunk_bytes);
	return -ENOMEM;
}

static int setup(rps_ring_t *ring, const rps_ring_attr_t *a)
{
	const rps_transport_attr_t *ta;
	int ret;

	ret = rps_ring_layout_init(&ring->lo, a->rank, a->world, a->count,
				   a->chunk_bytes / sizeof(float));
	if (ret) {
		rps_err("ring rank %u: %zu floats in %zu-byte chunks over %u ranks: %s", a->rank,
			a->count, a->chunk_bytes, a->world,
			ret == -E2BIG ? "too many chunks (over 2^23): use larger chunks"
				      : rps_strerror(ret));
		return ret;
	}
	if ((ret = alloc_buffers(ring)))
		return ret;
	if (ring->world == 1)
		return 0;
	ta = rps_transport_get_attr(ring->tp);
	ret = rps_cq_create(ring->tp, 2 * (ta->recv_depth + ta->sq_depth) + 16, &ring->cq);
	if (ret)
		return ret;
	return rps_ring_connect(ring);
}

RPS_EXPORT int rps_ring_create(const rps_ring_attr_t *attr_in, rps_ring_t **ring_p)
{
	rps_ring_attr_t full, *attr = &full;
	rps_ring_t *ring;
	int ret;

	if (!attr_in || !ring_p)
		return -EINVAL;
	/* the caller's struct may be smaller or larger than ours: the
	 * required part ends with count */
	attr_defaults(&full);
	if ((ret = rps_ext_struct_in(&full, sizeof(full), attr_in,
				     RPS_EXT_END(rps_ring_attr_t, progress_cpu),
				     RPS_EXT_END(rps_ring_attr_t, count), "rps_ring_attr_t")) ||
	    (ret = attr_check(attr)))
		return ret;
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	ring->rank = attr->rank;
	ring->world = attr->world;
	ring->window = attr->window;
	ring->count = attr->count;
	ring->chunk_bytes = attr->chunk_bytes;
	ring->timeout_ms = attr->timeout_ms;
	ring->cpu = attr->progress_cpu;
	if (ring->world > 1) {
		ring->peer_host = calloc(ring->world, sizeof(char *));
		ring->peer_port = calloc(ring->world, sizeof(uint16_t));
		if (!ring->peer_host || !ring->peer_port) {
			ret = -ENOMEM;
			goto err_destroy;
		}
		for (uint32_t r = 0; r < ring->world; r++)
			if ((ret = parse_peer(ring, r, attr->peers[r])))
				goto err_destroy;
	}
	if ((ret = open_transport(ring, attr)) || (ret = setup(ring, attr)))
		goto err_destroy;
	if (attr->progress_thread && (ret = rps_ring_thread_start(ring)))
		goto err_destroy;
	rps_info("ring rank %u of %u: %zu floats, %zu-byte chunks, window %u, over %s", ring->rank,
		 ring->world, ring->count, ring->chunk_bytes, ring->window,
		 rps_transport_provider(ring->tp));
	*ring_p = ring;
	return 0;

err_destroy:
	rps_ring_destroy(ring);
	return ret;
}

RPS_EXPORT void rps_ring_destroy(rps_ring_t *ring)
{
	if (!ring)
		return;
	if (ring->has_thread)
		rps_ring_thread_stop(ring);
	/* on the thread that polled the CQ (the transport's rule): now ours */
	rps_conn_close(ring->right);
	rps_conn_close(ring->left);
	rps_listener_close(ring->listener);
	rps_cq_destroy(ring->cq);
	rps_mr_dereg(ring->stage_mr);
	rps_mr_dereg(ring->buf_mr);
	if (ring->own_tp)
		rps_transport_close(ring->tp);
	free(ring->acks);
	free(ring->stash);
	free(ring->slot_busy);
	free(ring->free_slots);
	free(ring->recv_done);
	free(ring->stage);
	free(ring->buf);
	rps_ring_layout_fini(&ring->lo);
	for (uint32_t r = 0; ring->peer_host && r < ring->world; r++)
		free(ring->peer_host[r]);
	free(ring->peer_host);
	free(ring->peer_port);
	free(ring);
}

RPS_EXPORT float *rps_ring_buffer(rps_ring_t *ring)
{
	return ring->buf;
}

RPS_EXPORT int rps_ring_allreduce_start(rps_ring_t *ring)
{
	unsigned req;
	int err;

	if (!ring->has_thread)
		return rps_ring_engine_start(ring);
	if ((err = atomic_load_explicit(&ring->thread_err, memory_order_acquire)))
		return err;
	req = atomic_load_explicit(&ring->req_round, memory_order_relaxed);
	if (atomic_load_explicit(&ring->done_round, memory_order_acquire) != req)
		return -EBUSY;
	/* release: the thread sees the caller's input once it sees the request */
	atomic_store_explicit(&ring->req_round, req + 1, memory_order_release);
	return 0;
}

RPS_EXPORT int rps_ring_progress(rps_ring_t *ring)
{
	int err;

	if (!ring->has_thread)
		return rps_ring_engine_progress(ring);
	if ((err = atomic_load_explicit(&ring->thread_err, memory_order_acquire)))
		return err;
	return atomic_load_explicit(&ring->done_round, memory_order_acquire) ==
	       atomic_load_explicit(&ring->req_round, memory_order_relaxed);
}

RPS_EXPORT int rps_ring_allreduce_wait(rps_ring_t *ring, int timeout_ms)
{
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	unsigned spins = 0;
	int ret;

	for (;;) {
		ret = rps_ring_progress(ring);
		if (ret)
			return ret < 0 ? ret : 0;
		if (rps_ms_left(deadline) == 0) {
			if (timeout_ms) /* wait(0) is a poll, not a failure */
				rps_err("ring rank %u: allreduce not done after %d ms (a neighbour "
					"stalled or left)",
					ring->rank, timeout_ms);
			return -ETIMEDOUT;
		}
		/* spin first for latency; then give the core away between
		 * polls, so ranks that outnumber the cores (a local run, a
		 * shared node) still get to run their side */
		if (ring->has_thread || ++spins > WAIT_SPINS)
			sched_yield();
	}
}

RPS_EXPORT int rps_ring_allreduce(rps_ring_t *ring)
{
	int ret = rps_ring_allreduce_start(ring);

	return ret ? ret : rps_ring_allreduce_wait(ring, ring->timeout_ms);
}

RPS_EXPORT_PRIVATE void rps_ring_profile_enable(rps_ring_t *ring, bool on)
{
	memset(&ring->prof, 0, sizeof(ring->prof));
	ring->prof_on = on;
}

RPS_EXPORT_PRIVATE void rps_ring_profile_get(const rps_ring_t *ring, rps_ring_profile_t *p)
{
	*p = ring->prof;
}
