/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agents' graph of rdma-worker --algo pc-asgd: create and destroy,
 * and the main thread's side of the exchange (worker_mesh.h; the
 * protocol is in worker_mesh_priv.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/worker_mesh_priv.h"
#include "util/clock.h"

#define PROG	  "rdma-worker"
#define BUF_ALIGN 4096

uint32_t worker_mesh_neighbours(uint32_t rank, uint32_t world, enum worker_topology topo,
				uint32_t *nb)
{
	uint32_t k = 0;

	if (world < 2)
		return 0;
	if (topo == WORKER_TOPO_FULL) {
		for (uint32_t r = 0; r < world; r++)
			if (r != rank)
				nb[k++] = r;
		return k;
	}
	/* ring: left and right, once each (with 2 agents they are one) */
	uint32_t left = (rank + world - 1) % world, right = (rank + 1) % world;

	nb[k++] = left < right ? left : right;
	if (left != right)
		nb[k++] = left < right ? right : left;
	return k;
}

static void *alloc_zero(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, BUF_ALIGN, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

static int open_transport(struct worker_mesh *m, const struct worker_mesh_attr *a)
{
	rps_transport_attr_t ta = *a->tp_attr;
	int ret;

	/* per connection: the chunks of a landing copy and three controls
	 * each hold a receive; our copy's chunks and controls the queue */
	if (ta.recv_depth < m->nchunks + 8)
		ta.recv_depth = m->nchunks + 8;
	if (ta.sq_depth < m->nchunks + 8)
		ta.sq_depth = m->nchunks + 8;
	if (ta.timeout_ms <= 0 || ta.timeout_ms > m->timeout_ms)
		ta.timeout_ms = m->timeout_ms;
	if ((ret = rps_transport_open(&ta, &m->tp))) {
		fprintf(stderr, PROG " %u/%u: pc-asgd: opening the transport: %s\n", m->rank,
			m->world, rps_strerror(ret));
		return ret;
	}
	ret = rps_cq_create(m->tp, (m->k ? m->k : 1) * (ta.recv_depth + ta.sq_depth), &m->cq);
	if (ret)
		fprintf(stderr, PROG " %u/%u: pc-asgd: completion queue: %s\n", m->rank, m->world,
			rps_strerror(ret));
	return ret;
}

static int register_buffers(struct worker_mesh *m)
{
	rps_pd_t *pd = rps_transport_pd(m->tp);
	int ret;

	if (!(m->stage = alloc_zero(2 * m->buf_bytes)))
		return -ENOMEM;
	if ((ret = rps_mr_reg(pd, m->stage, 2 * m->buf_bytes, 0, &m->stage_mr)))
		return ret;
	for (uint32_t i = 0; i < m->k; i++) {
		struct mesh_edge *e = &m->edges[i];

		if (!(e->slot = alloc_zero(2 * m->buf_bytes)))
			return -ENOMEM;
		if ((ret = rps_mr_reg(pd, e->slot, 2 * m->buf_bytes,
				      RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE,
				      &e->slot_mr)))
			return ret;
	}
	return 0;
}

/* the layout of a copy: both ends derive it from n alone */
static void layout(struct worker_mesh *m)
{
	size_t bytes = MESH_HEADER + 2 * m->n * sizeof(float);
	size_t chunk = (bytes + MESH_CHUNKS_MAX - 1) / MESH_CHUNKS_MAX;

	m->buf_bytes = (bytes + 63) & ~(size_t)63;
	chunk = (chunk + 63) & ~(size_t)63;
	m->chunk_bytes = chunk < MESH_CHUNK_MIN ? MESH_CHUNK_MIN : chunk;
	m->nchunks = (uint32_t)((m->buf_bytes + m->chunk_bytes - 1) / m->chunk_bytes);
}

static void sleep_us(long us)
{
	nanosleep(&(struct timespec){ 0, us * 1000L }, NULL);
}

/* one line naming the first lost neighbour; under the lock */
static int report_lost(struct worker_mesh *m);

/* Polls, under the lock, until done(e) holds for every edge: 0; the
 * error of a lost neighbour (after its line); or -ETIMEDOUT at deadline,
 * after a line for each neighbour not done, saying it did not `what`. */
static int wait_edges(struct worker_mesh *m, bool (*done)(const struct mesh_edge *),
		      uint64_t deadline, const char *what)
{
	for (;;) {
		bool all = true;
		int ret;

		pthread_mutex_lock(&m->lock);
		for (uint32_t i = 0; i < m->k; i++)
			all = all && done(&m->edges[i]);
		ret = report_lost(m);
		if (!all && !ret && rps_ms_left(deadline) == 0) {
			for (uint32_t i = 0; i < m->k; i++)
				if (!done(&m->edges[i]))
					fprintf(stderr,
						PROG " %u/%u: pc-asgd: neighbour %s did not %s "
						     "within --timeout\n",
						m->rank, m->world, m->edges[i].name, what);
			ret = -ETIMEDOUT;
		}
		pthread_mutex_unlock(&m->lock);
		if (ret || all)
			return ret;
		sleep_us(200);
	}
}

/* it said READY: connected to all of its own neighbours */
static bool edge_ready(const struct mesh_edge *e)
{
	return e->ready;
}

int worker_mesh_create(const struct worker_mesh_attr *a, struct worker_mesh **m_p)
{
	struct worker_mesh *m = calloc(1, sizeof(*m));
	uint32_t *nb = calloc(a->world, sizeof(*nb));
	int ret = -ENOMEM;

	if (!m || !nb)
		goto fail;
	m->rank = a->rank;
	m->world = a->world;
	m->n = a->n;
	m->topology = a->topology;
	m->timeout_ms = a->timeout_ms;
	m->cpu = a->progress_cpu;
	m->cur = -1;
	pthread_mutex_init(&m->lock, NULL);
	m->k = worker_mesh_neighbours(a->rank, a->world, a->topology, nb);
	if (!(m->edges = calloc(m->k ? m->k : 1, sizeof(*m->edges))))
		goto fail;
	for (uint32_t i = 0; i < m->k; i++) {
		const struct worker_server *p = &a->peers[nb[i]];

		m->edges[i].rank = nb[i];
		snprintf(m->edges[i].name, sizeof(m->edges[i].name),
			 strchr(p->host, ':') ? "rank %u ([%s]:%u)" : "rank %u (%s:%u)", nb[i],
			 p->host, p->port);
	}
	layout(m);
	if ((ret = open_transport(m, a)))
		goto fail;
	if ((ret = register_buffers(m))) {
		fprintf(stderr,
			PROG " %u/%u: pc-asgd: registering %zu bytes for %u neighbour(s): %s\n",
			m->rank, m->world, (size_t)(m->k + 1) * 2 * m->buf_bytes, m->k,
			rps_strerror(ret));
		goto fail;
	}
	/* step counts start together (worker_mesh_priv.h) */
	if ((ret = mesh_connect_all(m, a)) || (ret = mesh_thread_start(m)) ||
	    (ret = wait_edges(m, edge_ready, rps_deadline_ns(m->timeout_ms),
			      "get connected to all of its neighbours (are they all running?)")))
		goto fail;
	free(nb);
	*m_p = m;
	return 0;
fail:
	if (ret == -ENOMEM && !m)
		fprintf(stderr, PROG ": pc-asgd: out of memory\n");
	free(nb);
	worker_mesh_destroy(m);
	return ret;
}

uint32_t worker_mesh_degree(const struct worker_mesh *m)
{
	return m ? m->k : 0;
}

static int report_lost(struct worker_mesh *m)
{
	for (uint32_t i = 0; i < m->k; i++) {
		struct mesh_edge *e = &m->edges[i];

		/* after the goodbye, a neighbour that answered may go */
		if (e->lost && !e->peer_done && !(m->finishing && e->done_acked)) {
			fprintf(stderr, PROG " %u/%u: pc-asgd: lost neighbour %s: %s (%s)\n",
				m->rank, m->world, e->name, e->why, rps_strerror(e->lost));
			return e->lost;
		}
	}
	return 0;
}

int worker_mesh_acquire(struct worker_mesh *m, struct worker_mesh_view *views)
{
	uint64_t now = rps_now_ns(), limit = (uint64_t)m->timeout_ms * 1000000ull;
	int ret;

	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < m->k; i++) {
		struct mesh_edge *e = &m->edges[i];
		struct worker_mesh_view *v = &views[i];

		/* silent: it had room (we hold its latest) and sent nothing */
		if (!m->finishing && !e->peer_done && !e->lost && e->landed == e->held &&
		    now > e->heard_ns && now - e->heard_ns > limit)
			mesh_edge_lose(e, -ETIMEDOUT, "it sent nothing for --timeout");
		v->rank = e->rank;
		v->x = v->g = NULL;
		v->version = 0;
		v->fresh = e->landed > e->held;
		if (v->fresh) {
			e->held = e->landed;
			e->ack_due = true;
			/* its silence is counted from the room we give it now */
			e->heard_ns = now;
		}
		if (e->held) {
			const uint8_t *buf = mesh_slot_buf(e, m, e->held);
			struct mesh_header h;

			memcpy(&h, buf, sizeof(h));
			if (h.magic != MESH_COPY_MAGIC || h.rank != e->rank) {
				mesh_edge_lose(e, -RPS_ERR_PROTO, "its copy has a bad header");
				continue;
			}
			v->version = h.version;
			v->x = (const float *)(buf + MESH_HEADER);
			v->g = v->x + m->n;
		}
	}
	ret = report_lost(m);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int worker_mesh_publish(struct worker_mesh *m, const float *x, const float *g, uint64_t version)
{
	struct mesh_header h = { .magic = MESH_COPY_MAGIC, .rank = m->rank, .version = version };
	int next;
	uint8_t *buf;

	pthread_mutex_lock(&m->lock);
	next = m->cur < 0 ? 0 : 1 - m->cur;
	if (m->stage_inflight[next]) {
		m->stats.skipped++;
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	pthread_mutex_unlock(&m->lock);
	/* no write reads this buffer, and none starts from it until it is
	 * cur: fill it without the lock */
	buf = m->stage + (size_t)next * m->buf_bytes;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + MESH_HEADER, x, m->n * sizeof(float));
	memcpy(buf + MESH_HEADER + m->n * sizeof(float), g, m->n * sizeof(float));
	pthread_mutex_lock(&m->lock);
	m->cur = next;
	m->stage_version[next] = version;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* said goodbye both ways, or it left first and we answered */
static bool edge_finished(const struct mesh_edge *e)
{
	if (e->peer_done)
		return e->done_ack_done || e->lost;
	return e->done_acked;
}

int worker_mesh_finish(struct worker_mesh *m, const float *x, const float *g, uint64_t version)
{
	uint64_t deadline = rps_deadline_ns(m->timeout_ms);

	if (!m->k)
		return 0;
	/* the final copy: a staging buffer frees as soon as its writes land */
	while (worker_mesh_publish(m, x, g, version) == 1) {
		if (rps_ms_left(deadline) == 0)
			break;
		sleep_us(100);
	}
	pthread_mutex_lock(&m->lock);
	m->finishing = true;
	m->final_version = m->stage_version[m->cur];
	/* from now on copies are released as they land (the thread does it
	 * for new ones): a neighbour's final copy must not wait for a step */
	for (uint32_t i = 0; i < m->k; i++)
		if (m->edges[i].landed > m->edges[i].held) {
			m->edges[i].held = m->edges[i].landed;
			m->edges[i].ack_due = true;
		}
	pthread_mutex_unlock(&m->lock);
	return wait_edges(m, edge_finished, deadline, "answer our goodbye");
}

void worker_mesh_stats(struct worker_mesh *m, struct worker_mesh_stats *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->stats;
	pthread_mutex_unlock(&m->lock);
}

void worker_mesh_destroy(struct worker_mesh *m)
{
	if (!m)
		return;
	mesh_thread_stop(m);
	for (uint32_t i = 0; m->edges && i < m->k; i++) {
		struct mesh_edge *e = &m->edges[i];

		if (e->conn)
			rps_conn_close(e->conn);
		if (e->slot_mr)
			rps_mr_dereg(e->slot_mr);
		free(e->slot);
	}
	if (m->stage_mr)
		rps_mr_dereg(m->stage_mr);
	free(m->stage);
	if (m->cq)
		rps_cq_destroy(m->cq);
	if (m->tp)
		rps_transport_close(m->tp);
	pthread_mutex_destroy(&m->lock);
	free(m->edges);
	free(m);
}
