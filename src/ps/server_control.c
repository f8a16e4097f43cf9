/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Control thread: accepts workers (HELLO checked before anything is done
 * for the peer), answers with the layout (WELCOME), hands each lane to its
 * engine thread, and drives connection events.  Never on the data path.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/auth.h"
#include "proto/refuse.h"
#include "ps/server.h"
#include "util/log.h"

#define ACCEPT_POLL_MS 50

static void build_welcome(struct rps_server *srv, ps_slot_t *s, rps_welcome_t *w)
{
	rps_remote_t g, b;

	rps_mr_remote(s->grad_mr, &g);
	rps_mr_remote(s->snap_mr, &b);
	memset(w, 0, sizeof(*w));
	w->algo = srv->cfg.algo;
	w->worker_id = s->id;
	w->num_workers = srv->cfg.num_workers;
	w->shard_params = srv->n;
	w->shard_offset = srv->cfg.shard_offset;
	w->chunk_bytes = srv->cfg.chunk_bytes;
	w->num_chunks = srv->num_chunks;
	w->grad_slots = 2;
	w->max_staleness = srv->cfg.max_staleness;
	w->lanes = srv->threads;
	w->grad = (rps_wire_region_t){ g.addr, g.key, g.len };
	w->snap = (rps_wire_region_t){ b.addr, b.key, b.len };
	w->lr = srv->cfg.hp.lr;
	w->lambda = srv->cfg.hp.lambda;
	w->ms_decay = srv->cfg.hp.ms_decay;
	w->theta = srv->cfg.hp.theta;
	w->step = atomic_load(&srv->version);
	w->worker_pushes = (uint32_t)atomic_load(&s->pushes);
}

/* Sets the reason into *r; returns 1 (hello_check's "refused"). */
static int refused(rps_refuse_t *r, rps_refuse_reason_t reason, uint64_t expected, uint64_t got)
{
	r->reason = reason;
	r->expected = expected;
	r->got = got;
	return 1;
}

/* Whether this HELLO can be served: 0, or 1 with why in *r (what the
 * worker is told, and what this log says). */
static int hello_check(struct rps_server *srv, const rps_hello_t *h, rps_refuse_t *r)
{
	const uint32_t m = srv->cfg.num_workers;
	ps_slot_t *s;

	*r = (rps_refuse_t){ .lane = h->lane, .worker_id = h->worker_id };
	/* first, and alone: nothing about the layout is revealed to an
	 * unknown peer */
	if (srv->auth && !rps_auth_tag_equal(h->auth_tag, srv->auth_tag)) {
		*r = (rps_refuse_t){ .reason = RPS_REFUSE_AUTH };
		return 1;
	}
	if (h->worker_id >= m)
		return refused(r, RPS_REFUSE_WORKER_ID, m, h->worker_id);
	if (h->num_workers && h->num_workers != m)
		return refused(r, RPS_REFUSE_WORLD, m, h->num_workers);
	if (h->model_params && h->model_params != srv->n)
		return refused(r, RPS_REFUSE_MODEL_SIZE, srv->n, h->model_params);
	if (h->lane >= srv->threads)
		return refused(r, RPS_REFUSE_LANE, srv->threads, h->lane);
	s = &srv->slots[h->worker_id];
	if (atomic_load(&s->lanes[h->lane].state) != LANE_EMPTY)
		return refused(r, RPS_REFUSE_CONNECTED, 0, 0);
	if (h->lane == 0 && atomic_load(&s->lanes_up) != 0)
		return refused(r, RPS_REFUSE_CLOSING, 0, 0);
	if (h->lane != 0 && atomic_load(&s->lanes_up) == 0)
		return refused(r, RPS_REFUSE_LANE0_FIRST, 0, 0);
	if (h->lane != 0 &&
	    (h->doorbell_addr != s->doorbell_addr || h->doorbell_key != s->doorbell_key))
		return refused(r, RPS_REFUSE_DOORBELL, 0, 0);
	return 0;
}

/* Turns the request down, telling the worker why (REFUSE message). */
static void refuse(rps_conn_req_t *req, const char *peer, const rps_refuse_t *r, const char *detail)
{
	uint8_t wire[RPS_REFUSE_WIRE_LEN];
	char text[160];

	rps_warn("server: refusing %s: %s", peer,
		 detail ? detail : rps_refuse_describe(r, text, sizeof(text)));
	rps_refuse_encode(r, wire);
	rps_conn_req_reject(req, wire, sizeof(wire));
}

static void handle_request(struct rps_server *srv, rps_conn_req_t *req)
{
	uint8_t wire[RPS_WELCOME_WIRE_LEN];
	const char *why;
	/* a copy (RPS_PEER_NAME_MAX): accepting or rejecting frees the
	 * request, and its name with it */
	char peer[64];
	rps_welcome_t welcome;
	rps_refuse_t r;
	rps_hello_t h;
	rps_conn_t *conn;
	size_t len;
	const void *data = rps_conn_req_data(req, &len);
	ps_slot_t *s;
	int ret;

	snprintf(peer, sizeof(peer), "%s", rps_conn_req_peer(req));
	if (rps_hello_parse(data, len, &h, &why)) {
		refuse(req, peer, &(rps_refuse_t){ .reason = RPS_REFUSE_HELLO }, why);
		return;
	}
	if (hello_check(srv, &h, &r)) {
		refuse(req, peer, &r, NULL);
		return;
	}
	s = &srv->slots[h.worker_id];
	if (h.lane == 0) {
		/* none of its lanes is up (hello_check saw to it) */
		srv->ops->on_join(srv, s);
		s->doorbell_addr = h.doorbell_addr;
		s->doorbell_key = h.doorbell_key;
	}
	build_welcome(srv, s, &welcome);
	rps_welcome_encode(&welcome, wire);
	/* in m's PD: this QP reaches G[m] and B[m] and no other slot's */
	ret = rps_conn_req_accept(req, s->pd, srv->engines[h.lane].cq, wire, sizeof(wire), &conn);
	if (ret) {
		rps_warn("server: accepting worker %u lane %u from %s: %s", h.worker_id, h.lane,
			 peer, rps_strerror(ret));
		return;
	}
	rps_conn_set_context(conn, s);
	s->lanes[h.lane].conn = conn;
	if (atomic_fetch_add(&s->lanes_up, 1) == 0) {
		/* connected first: readers load ever_joined first, so one
		 * that sees "joined" also sees "connected" (no moment where a
		 * joining worker looks like one that left) */
		atomic_store(&s->connected, true);
		atomic_store(&s->ever_joined, true);
		rps_info("server: worker %u joined from %s (push %" PRIu64 ")", h.worker_id, peer,
			 atomic_load(&s->pushes));
	}
	/* publish: from here on the engine thread owns the connection */
	atomic_store_explicit(&s->lanes[h.lane].state, LANE_NEW, memory_order_release);
}

void *ps_control_main(void *arg)
{
	struct rps_server *srv = arg;
	rps_conn_req_t *req;
	int ret;

	while (!atomic_load(&srv->stop)) {
		/* marks lanes whose peer disconnected; engines reap them */
		rps_transport_progress(srv->tp);
		ret = rps_listener_get_request(srv->listener, ACCEPT_POLL_MS, &req);
		if (ret == -ETIMEDOUT)
			continue;
		if (ret) {
			rps_warn("server: waiting for workers: %s", rps_strerror(ret));
			continue;
		}
		handle_request(srv, req);
	}
	return NULL;
}
