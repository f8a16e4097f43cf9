/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The progress thread of the agents' graph: the only thread that touches
 * the transport.  It polls the CQ (libfabric's manual progress moves the
 * neighbours' copies into our slots only while we poll), counts the
 * chunks of each landing copy, and posts what the main thread made due:
 * acks, our newest copy to each neighbour with room for it, the goodbye.
 * Between polls it yields after a run of empty ones (util/spin.h) and
 * naps after a longer run, so that agents sharing cores leave them to
 * the models' computation.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/worker_mesh_priv.h"
#include "util/clock.h"
#include "util/spin.h"
#include "util/thread.h"

#define POLL_BATCH     16
#define NAP_AFTER      4096 /* empty polls */
#define NAP_NS	       50000L
#define CM_INTERVAL_NS 1000000ull /* connection events: every ms */

/* wr_id: edge index << 8 | what */
enum { WR_DATA = 1, WR_ACK, WR_DONE, WR_DONE_ACK };

static uint64_t wr_id(const struct worker_mesh *m, const struct mesh_edge *e, int what)
{
	return (uint64_t)(e - m->edges) << 8 | (uint64_t)what;
}

void mesh_edge_lose(struct mesh_edge *e, int ret, const char *why)
{
	if (!e->lost) {
		e->lost = ret ? ret : -ECONNRESET;
		e->why = why;
	}
}

/* a neighbour that said goodbye may close at any time: nothing on its
 * connection is a failure any more */
static bool gone_ok(const struct mesh_edge *e)
{
	return e->peer_done;
}

static void on_remote_imm(struct worker_mesh *m, struct mesh_edge *e, uint32_t imm)
{
	uint32_t seq = imm & MESH_SEQ_MASK;

	e->heard_ns = rps_now_ns();
	switch (imm >> MESH_SEQ_BITS) {
	case MESH_DATA:
		if (seq != ((e->landed + 1) & MESH_SEQ_MASK)) {
			mesh_edge_lose(e, -RPS_ERR_PROTO, "sent a copy out of sequence");
			return;
		}
		if (++e->chunks_seen < m->nchunks)
			return;
		e->chunks_seen = 0;
		e->landed++;
		m->stats.received++;
		/* after our last step nobody reads the copies: release them
		 * at once, so the neighbour's final copy and goodbye flow */
		if (m->finishing) {
			e->held = e->landed;
			e->ack_due = true;
		}
		return;
	case MESH_ACK: {
		if (seq == 0 && e->sent_seq == 0) {
			e->ready = true; /* copy 0: its start */
			return;
		}
		/* the held copy's number, from its low 30 bits */
		uint64_t a = e->sent_seq - ((e->sent_seq - seq) & MESH_SEQ_MASK);

		if (a > e->sent_seq || a < e->acked) {
			mesh_edge_lose(e, -RPS_ERR_PROTO, "acknowledged a copy never sent");
			return;
		}
		e->acked = a;
		return;
	}
	case MESH_DONE:
		e->peer_done = true;
		return;
	case MESH_DONE_ACK:
		e->done_acked = true;
		return;
	}
}

static void on_local(struct worker_mesh *m, struct mesh_edge *e, int what)
{
	switch (what) {
	case WR_DATA:
		/* the copy is done with its staging buffer once all of its
		 * chunks are posted and completed */
		if (e->inflight && --e->inflight == 0 && !e->posting) {
			m->stage_inflight[e->inflight_stage]--;
			m->stats.sent++;
		}
		break;
	case WR_DONE_ACK:
		e->done_ack_done = true;
		break;
	default:
		break;
	}
}

static void on_completion(struct worker_mesh *m, const rps_completion_t *c)
{
	struct mesh_edge *e = c->conn ? rps_conn_get_context(c->conn) : NULL;
	int what = (int)(c->wr_id & 0xff);

	if (!e)
		return; /* a connection being set up or closed: nothing of ours */
	if (c->status) {
		/* a failed write still releases what it read from */
		if (c->type != RPS_COMP_REMOTE_WRITE_IMM && c->type != RPS_COMP_RECV)
			on_local(m, e, what);
		if (!gone_ok(e))
			mesh_edge_lose(e, c->status, "its connection failed");
		else if (what == WR_DONE_ACK)
			e->done_ack_done = true; /* it closed: our answer is moot */
		return;
	}
	if (c->type == RPS_COMP_REMOTE_WRITE_IMM)
		on_remote_imm(m, e, c->imm);
	else if (c->type == RPS_COMP_RECV)
		mesh_edge_lose(e, -RPS_ERR_PROTO, "sent a message pc-asgd never sends");
	else
		on_local(m, e, what);
}

static int post_imm(struct worker_mesh *m, struct mesh_edge *e, enum mesh_imm_type t, uint64_t seq,
		    int what)
{
	return rps_post_write_imm(e->conn, NULL, 0, NULL, e->remote.addr, e->remote.key,
				  mesh_imm(t, seq), wr_id(m, e, what), 0);
}

/* Our newest copy into the buffer of copy sent_seq + 1, chunk by chunk.
 * A full send queue (-EAGAIN) pauses it: the next pass posts the rest
 * from the same staging buffer, so the neighbour counts the chunks of
 * one copy, never of a copy begun twice. */
static int post_copy(struct worker_mesh *m, struct mesh_edge *e)
{
	uint64_t q = e->sent_seq + 1;
	uint64_t dst = e->remote.addr + (q % 2) * m->buf_bytes;
	const uint8_t *src;

	if (!e->posting) {
		e->posting = true;
		e->post_off = 0;
		e->inflight_stage = m->cur;
		e->post_version = m->stage_version[m->cur];
		/* held until the last chunk completes (on_local) */
		m->stage_inflight[m->cur]++;
	}
	src = m->stage + (size_t)e->inflight_stage * m->buf_bytes;
	while (e->post_off < m->buf_bytes) {
		size_t off = e->post_off;
		size_t len =
			m->buf_bytes - off < m->chunk_bytes ? m->buf_bytes - off : m->chunk_bytes;
		int ret = rps_post_write_imm(e->conn, src + off, len, m->stage_mr, dst + off,
					     e->remote.key, mesh_imm(MESH_DATA, q),
					     wr_id(m, e, WR_DATA), 0);

		if (ret)
			return ret; /* -EAGAIN: resumed by the next pass */
		e->inflight++;
		e->post_off += len;
	}
	e->posting = false;
	e->sent_seq = q;
	e->sent_version = e->post_version;
	return 0;
}

static void post_edge(struct worker_mesh *m, struct mesh_edge *e)
{
	int ret = 0;

	if (!e->ready_posted) {
		if ((ret = post_imm(m, e, MESH_ACK, 0, WR_ACK)) == -EAGAIN)
			return;
		e->ready_posted = !ret;
	}
	if (!ret && e->ack_due) {
		if ((ret = post_imm(m, e, MESH_ACK, e->held, WR_ACK)) == -EAGAIN)
			return;
		e->ack_due = false;
	}
	/* a copy half posted goes out whole first, even to a neighbour
	 * that is leaving (it waits for our answer, which follows it) */
	if (!ret && e->posting && (ret = post_copy(m, e)) == -EAGAIN)
		return;
	if (!ret && e->peer_done) {
		/* it is leaving: no more copies; answer once ours landed */
		if (!e->done_ack_posted && !e->inflight && !e->posting &&
		    !(ret = post_imm(m, e, MESH_DONE_ACK, 0, WR_DONE_ACK)))
			e->done_ack_posted = true;
	} else if (!ret && !e->done_posted) {
		if (m->cur >= 0 && m->stage_version[m->cur] > e->sent_version && !e->inflight &&
		    !e->posting && e->sent_seq <= e->acked)
			ret = post_copy(m, e);
		else if (m->finishing && e->sent_version == m->final_version && !e->inflight &&
			 !e->posting && !(ret = post_imm(m, e, MESH_DONE, 0, WR_DONE)))
			e->done_posted = true;
	}
	if (ret && ret != -EAGAIN && !gone_ok(e))
		mesh_edge_lose(e, ret, "a write to it failed");
}

/* one pass: completions, connection events now and then, then posts;
 * the number of completions seen */
static int progress_once(struct worker_mesh *m, uint64_t *next_cm)
{
	rps_completion_t comps[POLL_BATCH];
	int n = rps_cq_poll(m->cq, comps, POLL_BATCH);

	if (n < 0) {
		for (uint32_t i = 0; i < m->k; i++)
			mesh_edge_lose(&m->edges[i], n, "our completion queue failed");
		return 0;
	}
	for (int i = 0; i < n; i++)
		on_completion(m, &comps[i]);
	if (rps_now_ns() >= *next_cm) {
		rps_transport_progress(m->tp);
		for (uint32_t i = 0; i < m->k; i++) {
			struct mesh_edge *e = &m->edges[i];

			if (!rps_conn_is_connected(e->conn) && !gone_ok(e))
				mesh_edge_lose(e, -ECONNRESET, "it disconnected");
		}
		*next_cm = rps_now_ns() + CM_INTERVAL_NS;
	}
	for (uint32_t i = 0; i < m->k; i++)
		if (!m->edges[i].lost)
			post_edge(m, &m->edges[i]);
	return n;
}

static void *progress_main(void *arg)
{
	struct worker_mesh *m = arg;
	uint64_t next_cm = 0;
	unsigned idle = 0;

	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		int n;

		pthread_mutex_lock(&m->lock);
		n = progress_once(m, &next_cm);
		pthread_mutex_unlock(&m->lock);
		rps_idle_poll(&idle, n);
		if (idle > NAP_AFTER)
			nanosleep(&(struct timespec){ 0, NAP_NS }, NULL);
	}
	return NULL;
}

int mesh_thread_start(struct worker_mesh *m)
{
	int ret;

	atomic_init(&m->stop, false);
	ret = rps_thread_start_pinned(&m->thread, m->cpu, progress_main, m);
	if (ret) {
		fprintf(stderr, "rdma-worker %u/%u: pc-asgd: progress thread (CPU %d): %s\n",
			m->rank, m->world, m->cpu, strerror(-ret));
		return ret;
	}
	m->has_thread = true;
	return 0;
}

void mesh_thread_stop(struct worker_mesh *m)
{
	if (!m->has_thread)
		return;
	atomic_store(&m->stop, true);
	pthread_join(m->thread, NULL);
	m->has_thread = false;
}
