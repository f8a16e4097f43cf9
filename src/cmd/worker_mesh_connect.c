/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Setting up the agents' graph: every agent listens on its --peers entry,
 * connects to its lower-ranked neighbours (in ascending order) and then
 * accepts its higher-ranked ones.  rps_connect blocks until the other
 * side accepts; rank 0 connects to nobody, so it accepts at once, and by
 * induction every agent's connects end and it turns to accepting: no
 * cycle.  A neighbour that is not listening yet, or is busy connecting,
 * is retried until the timeout (rps_connect_retry).
 *
 * The connect's private data (hello, 48 bytes) says who we are, what we
 * run and where our slot for the acceptor's copies is; the accept's
 * (welcome, 32 bytes) where the acceptor's slot for ours is.  A request
 * that does not fit (not a neighbour, another world, model or topology)
 * is refused with a reason the connector prints.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd/worker_mesh_priv.h"
#include "transport/connect_retry.h"
#include "util/clock.h"
#include "util/le.h"

#define PROG "rdma-worker"

#define HELLO_MAGIC   0x48414350u /* "PCAH" */
#define WELCOME_MAGIC 0x57414350u /* "PCAW" */
#define WIRE_VERSION  1

_Static_assert(MESH_HELLO_LEN <= RPS_CONNECT_DATA_MAX, "hello fits a connect");
_Static_assert(MESH_WELCOME_LEN <= RPS_ACCEPT_DATA_MAX, "welcome fits an accept");

struct hello {
	uint32_t rank, world, topology;
	uint64_t n;
	uint64_t addr, key; /* the sender's slot for the receiver's copies */
};

static void put_head(wcur_t *c, uint32_t magic)
{
	put_u32(c, magic);
	put_u16(c, WIRE_VERSION);
	put_u16(c, 0);
}

static bool get_head(rcur_t *c, uint32_t magic)
{
	bool ok = get_u32(c) == magic && get_u16(c) == WIRE_VERSION;

	(void)get_u16(c);
	return ok;
}

static void hello_pack(const struct hello *h, uint8_t buf[MESH_HELLO_LEN])
{
	wcur_t c = { buf };

	put_head(&c, HELLO_MAGIC);
	put_u32(&c, h->rank);
	put_u32(&c, h->world);
	put_u32(&c, h->topology);
	put_u32(&c, 0);
	put_u64(&c, h->n);
	put_u64(&c, h->addr);
	put_u64(&c, h->key);
}

static int hello_parse(const void *buf, size_t len, struct hello *h)
{
	rcur_t c = { buf };

	if (len != MESH_HELLO_LEN || !get_head(&c, HELLO_MAGIC))
		return -RPS_ERR_PROTO;
	h->rank = get_u32(&c);
	h->world = get_u32(&c);
	h->topology = get_u32(&c);
	(void)get_u32(&c);
	h->n = get_u64(&c);
	h->addr = get_u64(&c);
	h->key = get_u64(&c);
	return 0;
}

static void welcome_pack(uint32_t rank, const rps_remote_t *slot, uint8_t buf[MESH_WELCOME_LEN])
{
	wcur_t c = { buf };

	put_head(&c, WELCOME_MAGIC);
	put_u32(&c, rank);
	put_u32(&c, 0);
	put_u64(&c, slot->addr);
	put_u64(&c, slot->key);
}

static int welcome_parse(const void *buf, size_t len, uint32_t *rank_p, uint64_t *addr_p,
			 uint64_t *key_p)
{
	rcur_t c = { buf };

	if (len != MESH_WELCOME_LEN || !get_head(&c, WELCOME_MAGIC))
		return -RPS_ERR_PROTO;
	*rank_p = get_u32(&c);
	(void)get_u32(&c);
	*addr_p = get_u64(&c);
	*key_p = get_u64(&c);
	return 0;
}

static const char *topo_name(uint32_t t)
{
	return t == WORKER_TOPO_RING ? "ring" : t == WORKER_TOPO_FULL ? "full" : "unknown";
}

static void my_hello(const struct worker_mesh *m, const struct mesh_edge *e, struct hello *h)
{
	rps_remote_t slot;

	rps_mr_remote(e->slot_mr, &slot);
	*h = (struct hello){ .rank = m->rank,
			     .world = m->world,
			     .topology = m->topology,
			     .n = m->n,
			     .addr = slot.addr,
			     .key = slot.key };
}

static void set_remote(const struct worker_mesh *m, struct mesh_edge *e, uint64_t addr,
		       uint64_t key)
{
	e->remote = (rps_remote_t){ .addr = addr, .key = key, .len = 2 * m->buf_bytes };
	rps_conn_set_context(e->conn, e);
	e->heard_ns = rps_now_ns();
}

static int connect_lower(struct worker_mesh *m, struct mesh_edge *e, const struct worker_server *p,
			 uint64_t deadline)
{
	uint8_t data[MESH_HELLO_LEN];
	rps_reject_t rej = { 0 };
	struct hello h;
	const void *pd;
	size_t len;
	uint32_t rank;
	uint64_t addr, key;
	int ret;

	my_hello(m, e, &h);
	hello_pack(&h, data);
	ret = rps_connect_retry(rps_transport_pd(m->tp), p->host, p->port, m->cq, data,
				sizeof(data), &rej, deadline, &e->conn);
	if (ret) {
		if (rej.len)
			fprintf(stderr, PROG " %u/%u: pc-asgd: neighbour %s refused us: %.*s\n",
				m->rank, m->world, e->name, (int)rej.len, (const char *)rej.data);
		else
			fprintf(stderr, PROG " %u/%u: pc-asgd: connect to neighbour %s: %s%s\n",
				m->rank, m->world, e->name, rps_strerror(ret),
				rps_connect_retryable(ret) ? " (gave up at --timeout: is it "
							     "running, with the same --peers?)"
							   : "");
		return ret;
	}
	pd = rps_conn_peer_data(e->conn, &len);
	if (welcome_parse(pd, len, &rank, &addr, &key) || rank != e->rank) {
		fprintf(stderr,
			PROG " %u/%u: pc-asgd: %s is not rank %u of a pc-asgd run (%zu bytes "
			     "of accept data): --peers lists differ\n",
			m->rank, m->world, rps_conn_peer(e->conn), e->rank, len);
		return -RPS_ERR_PROTO;
	}
	set_remote(m, e, addr, key);
	return 0;
}

/* the edge a request is for, or NULL with why (sent back as the refusal) */
static struct mesh_edge *match(struct worker_mesh *m, const struct hello *h, char *why, size_t len)
{
	if (h->world != m->world || h->n != m->n || h->topology != m->topology) {
		snprintf(why, len,
			 MESH_REJECT_PREFIX "rank %u runs %u agents, %llu params, %s topology; "
					    "rank %u has %u, %llu, %s",
			 h->rank, h->world, (unsigned long long)h->n, topo_name(h->topology),
			 m->rank, m->world, (unsigned long long)m->n, topo_name(m->topology));
		return NULL;
	}
	for (uint32_t i = 0; i < m->k; i++) {
		struct mesh_edge *e = &m->edges[i];

		if (e->rank == h->rank && e->rank > m->rank) {
			if (!e->conn)
				return e;
			snprintf(why, len, MESH_REJECT_PREFIX "rank %u is connected already",
				 h->rank);
			return NULL;
		}
	}
	snprintf(why, len, MESH_REJECT_PREFIX "rank %u is not a higher neighbour of rank %u",
		 h->rank, m->rank);
	return NULL;
}

static int accept_higher(struct worker_mesh *m, rps_listener_t *l, uint32_t count,
			 uint64_t deadline)
{
	while (count) {
		uint8_t data[MESH_WELCOME_LEN];
		char why[RPS_REJECT_DATA_MAX];
		rps_conn_req_t *req;
		struct mesh_edge *e;
		struct hello h;
		const void *pd;
		rps_remote_t slot;
		size_t len;
		int left = rps_ms_left(deadline), ret;

		ret = left == 0 ? -ETIMEDOUT : rps_listener_get_request(l, left, &req);
		if (ret) {
			fprintf(stderr,
				PROG " %u/%u: pc-asgd: %u higher-ranked neighbour(s) did not "
				     "connect within --timeout (%d s): are they running, with the "
				     "same --peers?\n",
				m->rank, m->world, count, m->timeout_ms / 1000);
			for (uint32_t i = 0; i < m->k; i++)
				if (m->edges[i].rank > m->rank && !m->edges[i].conn)
					fprintf(stderr, PROG " %u/%u: pc-asgd: no neighbour %s\n",
						m->rank, m->world, m->edges[i].name);
			return ret;
		}
		pd = rps_conn_req_data(req, &len);
		if (hello_parse(pd, len, &h)) {
			fprintf(stderr,
				PROG " %u/%u: pc-asgd: %s connected without a pc-asgd hello "
				     "(%zu bytes): refused\n",
				m->rank, m->world, rps_conn_req_peer(req), len);
			rps_conn_req_reject(req, NULL, 0);
			continue;
		}
		if (!(e = match(m, &h, why, sizeof(why)))) {
			fprintf(stderr, PROG " %u/%u: %s: refused %s\n", m->rank, m->world, why,
				rps_conn_req_peer(req));
			rps_conn_req_reject(req, why, strlen(why) + 1);
			continue;
		}
		rps_mr_remote(e->slot_mr, &slot);
		welcome_pack(m->rank, &slot, data);
		ret = rps_conn_req_accept(req, rps_transport_pd(m->tp), m->cq, data, sizeof(data),
					  &e->conn);
		if (ret) {
			e->conn = NULL;
			/* a connect that timed out on its side leaves a stale
			 * request; its retry sends a fresh one */
			if (rps_connect_retryable(ret))
				continue;
			fprintf(stderr, PROG " %u/%u: pc-asgd: accepting neighbour %s: %s\n",
				m->rank, m->world, e->name, rps_strerror(ret));
			return ret;
		}
		set_remote(m, e, h.addr, h.key);
		count--;
	}
	return 0;
}

int mesh_connect_all(struct worker_mesh *m, const struct worker_mesh_attr *a)
{
	uint64_t deadline = rps_deadline_ns(m->timeout_ms);
	const struct worker_server *me = &a->peers[m->rank];
	rps_listener_t *l = NULL;
	uint32_t higher = 0;
	int ret = 0;

	for (uint32_t i = 0; i < m->k; i++)
		higher += m->edges[i].rank > m->rank;
	/* listen first: a higher neighbour may connect while we connect */
	if (higher && (ret = rps_listen(m->tp, me->host, me->port, &l))) {
		fprintf(stderr, PROG " %u/%u: pc-asgd: listen on %s:%u (our --peers entry): %s\n",
			m->rank, m->world, me->host, me->port, rps_strerror(ret));
		return ret;
	}
	for (uint32_t i = 0; i < m->k && !ret; i++)
		if (m->edges[i].rank < m->rank)
			ret = connect_lower(m, &m->edges[i], &a->peers[m->edges[i].rank], deadline);
	if (!ret && higher)
		ret = accept_higher(m, l, higher, deadline);
	if (l)
		rps_listener_close(l);
	return ret;
}
