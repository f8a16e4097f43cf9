/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The endpoint of a perftest tool: the transport, one buffer with a send
 * and a receive area per QP, its MR, and the N connections (one QP each)
 * of a run.  The client's hello carries the run's parameters and its
 * buffer's address; the server's welcome carries the server's.  The
 * server takes size, iterations, -a, -D, -q and -b from the client, so
 * those need only be given on the client; -t and -I are each side's own,
 * as in perftest.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perftest.h"
#include "util/clock.h"

#define PT_RECV_DEPTH	    16	  /* control messages in flight at most */
#define PT_MSG_MAX	    256	  /* receive buffer: a control message fits */
#define PT_CONNECT_RETRY_MS 5000  /* the server may not listen yet */
#define PT_ACCEPT_NEXT_MS   30000 /* between a client's connections */
#define PT_AREA_ALIGN	    4096

static size_t pt_area_size(const pt_cfg_t *cfg)
{
	/* with -a, size is the largest of the run */
	return (size_t)((cfg->size + PT_AREA_ALIGN - 1) / PT_AREA_ALIGN * PT_AREA_ALIGN);
}

/* The transport attributes this side's options ask for. */
static void pt_attr_fill(pt_cfg_t *cfg)
{
	rps_transport_attr_t *a = &cfg->attr;
	int inl = cfg->inline_size;

	if (inl < 0)
		inl = cfg->tool->verb == PT_WRITE && cfg->tool->test == PT_LAT
			      ? PT_DEF_INLINE_WRITE_LAT
			      : 0;
	a->sq_depth = cfg->tx_depth < 4 ? 4 : cfg->tx_depth;
	a->recv_depth = PT_RECV_DEPTH;
	a->max_msg_size = PT_MSG_MAX;
	a->max_inline = (uint32_t)inl;
}

static int pt_ep_open(pt_ep_t *ep, pt_cfg_t *cfg)
{
	const char *prog = cfg->tool->prog;
	int ret;

	memset(ep, 0, sizeof(*ep));
	ep->cfg = cfg;
	pt_attr_fill(cfg);
	ret = rps_transport_open(&cfg->attr, &ep->tp);
	if (ret) {
		fprintf(stderr, "%s: open provider %s, device %s: %s\n", prog, cfg->attr.provider,
			cfg->attr.device ? cfg->attr.device : "(any)", rps_strerror(ret));
		return ret;
	}
	ep->needs_progress = !strcmp(rps_transport_provider(ep->tp), "ofi");
	return 0;
}

/* Buffers, MRs and the CQ, once the run's parameters are known. */
static int pt_ep_alloc(pt_ep_t *ep)
{
	pt_cfg_t *cfg = ep->cfg;
	const rps_transport_attr_t *a = rps_transport_get_attr(ep->tp);
	uint32_t depth = cfg->nqps * (a->sq_depth + a->recv_depth) + 16;
	int ret;

	ep->nqps = cfg->nqps;
	ep->slot = pt_area_size(cfg);
	ep->buf_len = 2 * ep->slot * ep->nqps;
	ep->qps = calloc(ep->nqps, sizeof(*ep->qps));
	if (!ep->qps || posix_memalign((void **)&ep->buf, PT_AREA_ALIGN, ep->buf_len) ||
	    posix_memalign((void **)&ep->ctrl_buf, 64, PT_MSG_MAX)) {
		fprintf(stderr, "%s: out of memory for %zu bytes of buffers\n", cfg->tool->prog,
			ep->buf_len);
		return -ENOMEM;
	}
	/* touch every page now, not in the timed loops */
	memset(ep->buf, 0, ep->buf_len);
	for (uint32_t q = 0; q < ep->nqps; q++) {
		ep->qps[q].send_area = ep->buf + 2 * q * ep->slot;
		ep->qps[q].recv_area = ep->qps[q].send_area + ep->slot;
	}
	if ((ret = rps_mr_reg(rps_transport_pd(ep->tp), ep->buf, ep->buf_len,
			      RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE |
				      RPS_ACCESS_REMOTE_READ,
			      &ep->mr)) ||
	    (ret = rps_mr_reg(rps_transport_pd(ep->tp), ep->ctrl_buf, PT_MSG_MAX,
			      RPS_ACCESS_LOCAL_WRITE, &ep->ctrl_mr)) ||
	    (ret = rps_cq_create(ep->tp, depth, &ep->cq)))
		fprintf(stderr, "%s: %s: register %zu bytes / create CQ: %s\n", cfg->tool->prog,
			rps_transport_device(ep->tp), ep->buf_len, rps_strerror(ret));
	return ret;
}

/* Where QP q reaches the peer's areas. */
static void pt_qp_set_peer(pt_ep_t *ep, uint32_t q, uint64_t addr, uint64_t key)
{
	ep->qps[q].peer_send = addr + 2 * q * ep->slot;
	ep->qps[q].peer_recv = ep->qps[q].peer_send + ep->slot;
	ep->qps[q].rkey = key;
}

/* ---- server ------------------------------------------------------------- */

int pt_ep_listen(pt_ep_t *ep, pt_cfg_t *cfg)
{
	int ret = pt_ep_open(ep, cfg);

	if (ret)
		return ret;
	ret = rps_listen(ep->tp, NULL, cfg->port, &ep->listener);
	if (ret) {
		fprintf(stderr, "%s: listen on port %u: %s\n", cfg->tool->prog, cfg->port,
			rps_strerror(ret));
		return ret;
	}
	pt_report_banner(ep);
	return 0;
}

/* Takes the run's parameters from the first hello. */
static int pt_adopt(pt_ep_t *ep, const pt_hello_t *h, const char *peer)
{
	pt_cfg_t *cfg = ep->cfg;
	static const char *const names[2][2] = {
		[PT_WRITE] = { "rps_write_bw", "rps_write_lat" },
		[PT_READ] = { "rps_read_bw", "rps_read_lat" },
	};

	if (h->verb != cfg->tool->verb || h->test != cfg->tool->test) {
		fprintf(stderr, "%s: %s runs %s: start the same tool on both sides\n",
			cfg->tool->prog, peer, names[h->verb][h->test]);
		return -RPS_ERR_PROTO;
	}
	cfg->size = h->size;
	cfg->all = h->all;
	cfg->iters = h->iters;
	cfg->duration = h->duration;
	cfg->nqps = h->nqps;
	cfg->bidir = h->bidir;
	return 0;
}

/* Waits for the next valid hello: a stray connection is refused and
 * forgotten, a client of another tool ends the run. */
static int pt_next_request(pt_ep_t *ep, int timeout_ms, pt_hello_t *h_p, rps_conn_req_t **req_p)
{
	const char *prog = ep->cfg->tool->prog;
	rps_conn_req_t *req;
	const void *data;
	size_t len;
	int ret;

	for (;;) {
		ret = rps_listener_get_request(ep->listener, timeout_ms, &req);
		if (ret) {
			fprintf(stderr, "%s: waiting for a connection: %s\n", prog,
				rps_strerror(ret));
			return ret;
		}
		data = rps_conn_req_data(req, &len);
		if (!pt_hello_parse(data, len, h_p)) {
			*req_p = req;
			return 0;
		}
		fprintf(stderr,
			"%s: %s is not an rdmaps perftest client (%zu bytes of "
			"connect data): refused\n",
			prog, rps_conn_req_peer(req), len);
		rps_conn_req_reject(req, NULL, 0);
	}
}

int pt_ep_accept(pt_ep_t *ep)
{
	pt_cfg_t *cfg = ep->cfg;
	uint8_t raw[PT_WELCOME_LEN];
	pt_welcome_t w;
	pt_hello_t h;
	uint32_t session = 0;
	int ret;

	for (uint32_t q = 0; q < cfg->nqps; q++) {
		rps_conn_req_t *req;
		char peer[64];

		ret = pt_next_request(ep, q ? PT_ACCEPT_NEXT_MS : -1, &h, &req);
		if (ret)
			return ret;
		snprintf(peer, sizeof(peer), "%s", rps_conn_req_peer(req));
		if (q == 0) {
			if ((ret = pt_adopt(ep, &h, peer)) || (ret = pt_ep_alloc(ep))) {
				rps_conn_req_reject(req, NULL, 0);
				return ret;
			}
			session = h.session;
			rps_mr_remote(ep->mr, &w.remote);
			w.slot = ep->slot;
			pt_welcome_pack(&w, raw);
		} else if (h.session != session || h.qp_index != q) {
			/* another client meanwhile: not part of this run */
			fprintf(stderr, "%s: %s: connection of another run refused\n",
				cfg->tool->prog, peer);
			rps_conn_req_reject(req, NULL, 0);
			q--;
			continue;
		}
		pt_qp_set_peer(ep, q, h.addr, h.key);
		ret = rps_conn_req_accept(req, rps_transport_pd(ep->tp), ep->cq, raw, sizeof(raw),
					  &ep->qps[q].conn);
		if (ret) {
			fprintf(stderr, "%s: accept %s: %s\n", cfg->tool->prog, peer,
				rps_strerror(ret));
			return ret;
		}
		rps_conn_set_context(ep->qps[q].conn, &ep->qps[q]);
	}
	return 0;
}

/* ---- client ------------------------------------------------------------- */

static uint32_t pt_session_id(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ ((uint32_t)getpid() << 16);
}

static int pt_connect_one(pt_ep_t *ep, uint32_t q, const pt_hello_t *h)
{
	pt_cfg_t *cfg = ep->cfg;
	uint64_t deadline = rps_deadline_ns(q ? 0 : PT_CONNECT_RETRY_MS);
	const struct timespec pause = { .tv_nsec = 100 * 1000000 };
	uint8_t raw[PT_HELLO_LEN];
	const void *pd;
	pt_welcome_t w;
	size_t len;
	int ret;

	pt_hello_pack(h, raw);
	for (;;) {
		ret = rps_connect(rps_transport_pd(ep->tp), cfg->host, cfg->port, ep->cq, raw,
				  sizeof(raw), NULL, &ep->qps[q].conn);
		if (ret != -ECONNREFUSED || rps_ms_left(deadline) == 0)
			break;
		nanosleep(&pause, NULL); /* the server may not listen yet */
	}
	if (ret) {
		fprintf(stderr, "%s: connect to %s port %u: %s%s\n", cfg->tool->prog, cfg->host,
			cfg->port, rps_strerror(ret),
			ret == -ECONNREFUSED ? " (no server there, or one of another tool)" : "");
		return ret;
	}
	rps_conn_set_context(ep->qps[q].conn, &ep->qps[q]);
	pd = rps_conn_peer_data(ep->qps[q].conn, &len);
	if (pt_welcome_parse(pd, len, &w) || w.slot != ep->slot ||
	    w.remote.len < 2 * w.slot * ep->nqps) {
		fprintf(stderr,
			"%s: %s is not an rdmaps perftest server of this version "
			"(%zu bytes of accept data)\n",
			cfg->tool->prog, rps_conn_peer(ep->qps[q].conn), len);
		return -RPS_ERR_PROTO;
	}
	pt_qp_set_peer(ep, q, w.remote.addr, w.remote.key);
	return 0;
}

int pt_ep_connect(pt_ep_t *ep, pt_cfg_t *cfg)
{
	rps_remote_t mine;
	pt_hello_t h = {
		.verb = (uint8_t)cfg->tool->verb,
		.test = (uint8_t)cfg->tool->test,
		.bidir = cfg->bidir,
		.all = cfg->all,
		.nqps = (uint16_t)cfg->nqps,
		.session = pt_session_id(),
		.duration = cfg->duration,
		.size = (uint32_t)cfg->size,
		.iters = (uint32_t)cfg->iters,
	};
	int ret;

	if ((ret = pt_ep_open(ep, cfg)) || (ret = pt_ep_alloc(ep)))
		return ret;
	rps_mr_remote(ep->mr, &mine);
	h.addr = mine.addr;
	h.key = mine.key;
	for (uint32_t q = 0; q < ep->nqps; q++) {
		h.qp_index = (uint16_t)q;
		if ((ret = pt_connect_one(ep, q, &h)))
			return ret;
	}
	return 0;
}

void pt_ep_close(pt_ep_t *ep)
{
	for (uint32_t q = 0; ep->qps && q < ep->nqps; q++)
		rps_conn_close(ep->qps[q].conn);
	rps_listener_close(ep->listener);
	rps_mr_dereg(ep->ctrl_mr);
	rps_mr_dereg(ep->mr);
	rps_cq_destroy(ep->cq);
	rps_transport_close(ep->tp);
	free(ep->ctrl_buf);
	free(ep->buf);
	free(ep->qps);
	memset(ep, 0, sizeof(*ep));
}
