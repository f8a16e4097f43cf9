/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: connection management over rdma_cm (listen, connect
 * requests, accept/reject, connect) and progress of established
 * connections' events.
 *
 * Every channel is non-blocking and waited on with poll(2), so each step
 * honours its timeout.  A listener's channel receives connect requests;
 * accept moves the new cm_id to the connection's own channel before it
 * answers, so everything after that (ESTABLISHED, DISCONNECTED) arrives
 * there.  rdma_cm picks the source address and GID; we check it picked
 * our device.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "transport/verbs/verbs.h"
#include "util/clock.h"
#include "util/log.h"

/* rdma_cm's own default for address and route resolution when the caller
 * waits forever */
#define VRB_RESOLVE_MS_DEFAULT 2000

/* IB CM reject reasons (IBTA table 112) worth naming */
#define VRB_REJ_INVALID_SERVICE_ID 8
#define VRB_REJ_CONSUMER_DEFINED   28

static int vrb_errno(void)
{
	return errno ? -errno : -EIO;
}

static int vrb_channel_open(struct rdma_event_channel **ch_p)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	int flags;

	if (!ch)
		return vrb_errno();
	flags = fcntl(ch->fd, F_GETFL);
	if (flags < 0 || fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		int ret = vrb_errno();

		rdma_destroy_event_channel(ch);
		return ret;
	}
	*ch_p = ch;
	return 0;
}

/* Takes the next event of ch, waiting until deadline: 0, -ETIMEDOUT or a
 * negative errno.  The caller acks the event. */
static int vrb_cm_wait(struct rdma_event_channel *ch, uint64_t deadline,
		       struct rdma_cm_event **ev_p)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };

	for (;;) {
		int ms;

		if (rdma_get_cm_event(ch, ev_p) == 0)
			return 0;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return vrb_errno();
		ms = rps_ms_left(deadline);
		if (ms == 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return vrb_errno();
	}
}

static const char *vrb_reject_reason(int status)
{
	switch (status) {
	case VRB_REJ_INVALID_SERVICE_ID:
		return "nobody listens on that port";
	case VRB_REJ_CONSUMER_DEFINED:
		return "the peer rejected the request";
	default:
		return "rejected";
	}
}

/* A refusal by the peer's rps_conn_req_reject: what it said goes to
 * reject_p, and the caller, who knows what it means, reports it (logged
 * here at the info level only).  0 when ev is no such refusal. */
static int vrb_cm_rejected_with_data(const struct vrb_transport *tp, const char *what,
				     const char *peer, const struct rdma_cm_event *ev,
				     rps_reject_t *reject_p)
{
	int len;

	if (!reject_p || ev->status != VRB_REJ_CONSUMER_DEFINED || !ev->param.conn.private_data_len)
		return 0;
	len = rps_priv_unpack(ev->param.conn.private_data, ev->param.conn.private_data_len,
			      reject_p->data, sizeof(reject_p->data));
	reject_p->len = len > 0 ? (size_t)len : 0;
	rps_info("%s: %s %s: the peer refused (%zu bytes of reject data)", tp->base.device_name,
		 what, peer, reject_p->len);
	return -ECONNREFUSED;
}

/* The errno for an event other than the one a step waited for; logs it.
 * reject_p (connect only, else NULL) takes a refusal's private data. */
static int vrb_cm_unexpected(const struct vrb_transport *tp, const char *what, const char *peer,
			     const struct rdma_cm_event *ev, rps_reject_t *reject_p)
{
	const char *dev = tp->base.device_name;
	int ret;

	switch (ev->event) {
	case RDMA_CM_EVENT_REJECTED:
		if ((ret = vrb_cm_rejected_with_data(tp, what, peer, ev, reject_p)))
			return ret;
		rps_log_refused("%s: %s %s: %s (reject reason %d)", dev, what, peer,
				vrb_reject_reason(ev->status), ev->status);
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_UNREACHABLE:
		ret = ev->status == -ETIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
		ret = ev->status < 0 ? ev->status : -EHOSTUNREACH;
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		ret = -ENODEV;
		break;
	default:
		ret = ev->status < 0 ? ev->status : -ECONNABORTED;
		break;
	}
	rps_err("%s: %s %s: %s (status %d): %s", dev, what, peer, rdma_event_str(ev->event),
		ev->status, strerror(-ret));
	return ret;
}

/* Waits for event `want` on ch; anything else (or the deadline) fails.
 * On success *ev_p holds the event, unacked, when ev_p is not NULL; a
 * refusal's private data goes to reject_p when that is not NULL. */
static int vrb_cm_expect(const struct vrb_transport *tp, const char *what, const char *peer,
			 struct rdma_event_channel *ch, enum rdma_cm_event_type want,
			 uint64_t deadline, rps_reject_t *reject_p, struct rdma_cm_event **ev_p)
{
	struct rdma_cm_event *ev;
	int ret;

	ret = vrb_cm_wait(ch, deadline, &ev);
	if (ret) {
		rps_err("%s: %s %s: %s waiting for %s", tp->base.device_name, what, peer,
			ret == -ETIMEDOUT ? "timed out" : strerror(-ret), rdma_event_str(want));
		return ret;
	}
	if (ev->event != want) {
		ret = vrb_cm_unexpected(tp, what, peer, ev, reject_p);
		rdma_ack_cm_event(ev);
		return ret;
	}
	if (ev_p)
		*ev_p = ev;
	else
		rdma_ack_cm_event(ev);
	return 0;
}

/* addr (NULL = any, for listen) and port to a socket address. */
static int vrb_addr_parse(const struct vrb_transport *tp, const char *what, const char *addr,
			  uint16_t port, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res;
	char service[8];
	int ret;

	if (!addr) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		memset(ss, 0, sizeof(*ss));
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return 0;
	}
	snprintf(service, sizeof(service), "%u", port);
	ret = getaddrinfo(addr, service, &hints, &res);
	if (ret) {
		rps_err("%s: %s %s:%u: %s", tp->base.device_name, what, addr, port,
			gai_strerror(ret));
		return ret == EAI_SYSTEM ? vrb_errno() : -EADDRNOTAVAIL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/* ---- listener ---------------------------------------------------------------- */

int rps_vrb_listen(rps_transport_t *base, const char *addr, uint16_t port, rps_listener_t **l_p)
{
	struct vrb_transport *tp = vrb_tp(base);
	struct sockaddr_storage ss;
	struct vrb_listener *l;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->tp = tp;
	snprintf(l->name, sizeof(l->name), "%s:%u", addr ? addr : "*", port);
	ret = vrb_addr_parse(tp, "listen on", addr, port, &ss);
	if (ret)
		goto err_free;
	ret = vrb_channel_open(&l->ch);
	if (ret) {
		rps_err("%s: listen on %s: rdma_create_event_channel: %s", base->device_name,
			l->name, strerror(-ret));
		goto err_free;
	}
	if (rdma_create_id(l->ch, &l->id, l, RDMA_PS_TCP)) {
		ret = vrb_errno();
		rps_err("%s: listen on %s: rdma_create_id: %s", base->device_name, l->name,
			strerror(-ret));
		goto err_destroy_channel;
	}
	if (rdma_bind_addr(l->id, (struct sockaddr *)&ss) ||
	    rdma_listen(l->id, VRB_LISTEN_BACKLOG)) {
		ret = vrb_errno();
		rps_err("%s: listen on %s: %s", base->device_name, l->name, strerror(-ret));
		goto err_destroy_id;
	}
	/* a specific address pins the device: it must be ours */
	if (l->id->verbs && l->id->verbs != tp->ctx) {
		rps_err("%s: listen on %s: that address belongs to device %s", base->device_name,
			l->name, ibv_get_device_name(l->id->verbs->device));
		ret = -EADDRNOTAVAIL;
		goto err_destroy_id;
	}
	l->base.port = ntohs(rdma_get_src_port(l->id));
	snprintf(l->name, sizeof(l->name), "%s:%u", addr ? addr : "*", l->base.port);
	rps_info("%s: listening on %s", base->device_name, l->name);
	*l_p = &l->base;
	return 0;

err_destroy_id:
	rdma_destroy_id(l->id);
err_destroy_channel:
	rdma_destroy_event_channel(l->ch);
err_free:
	free(l);
	return ret;
}

void rps_vrb_listener_close(rps_listener_t *base)
{
	struct vrb_listener *l = container_of(base, struct vrb_listener, base);
	struct rdma_cm_event *ev;

	/* requests nobody took: ack them so destroy_id does not wait; the
	 * kernel rejects their connectors when the listener goes */
	while (rdma_get_cm_event(l->ch, &ev) == 0) {
		struct rdma_cm_id *id = ev->event == RDMA_CM_EVENT_CONNECT_REQUEST ? ev->id : NULL;

		rdma_ack_cm_event(ev);
		if (id) {
			rdma_reject(id, NULL, 0);
			rdma_destroy_id(id);
		}
	}
	rdma_destroy_id(l->id);
	rdma_destroy_event_channel(l->ch);
	free(l);
}

/* Turns a CONNECT_REQUEST into a request object; -EAGAIN when the
 * request was refused here (other device, bad private data). */
static int vrb_req_create(struct vrb_listener *l, const struct rdma_cm_event *ev,
			  struct vrb_conn_req **req_p)
{
	const char *dev = l->tp->base.device_name;
	struct vrb_conn_req *req;
	int len;

	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->tp = l->tp;
	req->id = ev->id;
	req->responder_resources = ev->param.conn.responder_resources;
	req->initiator_depth = ev->param.conn.initiator_depth;
	rps_sockaddr_name(rdma_get_peer_addr(ev->id), req->base.peer, sizeof(req->base.peer));
	if (ev->id->verbs != l->tp->ctx) {
		rps_warn("%s: %s: connect request from %s arrived on device "
			 "%s: rejected",
			 dev, l->name, req->base.peer, ibv_get_device_name(ev->id->verbs->device));
		goto err_refuse;
	}
	len = rps_priv_unpack(ev->param.conn.private_data, ev->param.conn.private_data_len,
			      req->base.data, sizeof(req->base.data));
	if (len < 0) {
		rps_warn("%s: %s: connect request from %s carries malformed "
			 "private data (%u bytes): rejected",
			 dev, l->name, req->base.peer, ev->param.conn.private_data_len);
		goto err_refuse;
	}
	req->base.data_len = (size_t)len;
	*req_p = req;
	return 0;

err_refuse:
	free(req);
	return -EAGAIN;
}

int rps_vrb_get_request(rps_listener_t *base, int timeout_ms, rps_conn_req_t **req_p)
{
	struct vrb_listener *l = container_of(base, struct vrb_listener, base);
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	struct vrb_conn_req *req = NULL;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	int ret;

	for (;;) {
		ret = vrb_cm_wait(l->ch, deadline, &ev);
		if (ret) {
			if (ret != -ETIMEDOUT)
				rps_err("%s: %s: rdma_get_cm_event: %s", base->tp->device_name,
					l->name, strerror(-ret));
			return ret;
		}
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
			/* a request whose connector gave up before we took it */
			rps_dbg("%s: %s: ignored %s", base->tp->device_name, l->name,
				rdma_event_str(ev->event));
			rdma_ack_cm_event(ev);
			continue;
		}
		id = ev->id;
		ret = vrb_req_create(l, ev, &req);
		rdma_ack_cm_event(ev);
		if (ret == 0)
			break;
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		if (ret != -EAGAIN)
			return ret;
	}
	rps_dbg("%s: %s: connect request from %s", base->tp->device_name, l->name, req->base.peer);
	*req_p = &req->base;
	return 0;
}

void rps_vrb_reject(rps_conn_req_t *base, const void *data, size_t len)
{
	struct vrb_conn_req *req = container_of(base, struct vrb_conn_req, base);
	uint8_t priv[RPS_PRIV_HDR_LEN + RPS_REJECT_DATA_MAX];

	/* framed like connect and accept data: the REJ pads it to 148 */
	if (rdma_reject(req->id, len ? priv : NULL,
			len ? (uint8_t)rps_priv_pack(priv, data, len) : 0))
		rps_warn("%s: reject %s: %s", req->tp->base.device_name, base->peer,
			 strerror(errno));
	rdma_destroy_id(req->id);
	free(req);
}

static uint8_t vrb_min_u8(int a, int b)
{
	int m = a < b ? a : b;

	return (uint8_t)(m < 0 ? 0 : m > UINT8_MAX ? UINT8_MAX : m);
}

/* Accepts on conn (made from req) and waits until it is established. */
static int vrb_accept_finish(struct vrb_conn *conn, struct vrb_conn_req *req, const void *data,
			     size_t len)
{
	const struct ibv_device_attr *da = &conn->tp->dev_attr;
	uint8_t priv[RPS_PRIV_HDR_LEN + RPS_ACCEPT_DATA_MAX];
	struct rdma_conn_param param = {
		.private_data = priv,
		.private_data_len = (uint8_t)rps_priv_pack(priv, data, len),
		/* READs the peer may have in flight towards us */
		.responder_resources = vrb_min_u8(da->max_qp_rd_atom, VRB_MAX_RD_ATOMIC),
		/* ours towards it: no more than it will take */
		.initiator_depth =
			vrb_min_u8(vrb_min_u8(da->max_qp_init_rd_atom, VRB_MAX_RD_ATOMIC),
				   req->initiator_depth),
		.retry_count = VRB_RETRY_COUNT,
		.rnr_retry_count = VRB_RNR_RETRY_COUNT,
	};
	int ret;

	if (rdma_accept(conn->id, &param)) {
		ret = vrb_errno();
		rps_err("%s: accept %s: rdma_accept: %s", conn->tp->base.device_name,
			conn->base.peer, strerror(-ret));
		return ret;
	}
	return vrb_cm_expect(conn->tp, "accept", conn->base.peer, conn->ch,
			     RDMA_CM_EVENT_ESTABLISHED,
			     rps_deadline_ns(conn->tp->base.attr.timeout_ms), NULL, NULL);
}

int rps_vrb_accept(rps_conn_req_t *base, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		   rps_conn_t **conn_p)
{
	struct vrb_conn_req *req = container_of(base, struct vrb_conn_req, base);
	struct vrb_conn *conn;
	int ret;

	ret = rps_vrb_conn_create(req->tp, vrb_pd(pd)->pd, vrb_cq(cq), req->id, &conn);
	if (ret) {
		rdma_reject(req->id, NULL, 0);
		rdma_destroy_id(req->id);
		goto out_free_req;
	}
	ret = vrb_accept_finish(conn, req, data, len);
	if (ret == 0)
		ret = rps_vrb_conn_activate(conn);
	if (ret) {
		rps_vrb_conn_destroy(conn);
		goto out_free_req;
	}
	rps_info("%s: accepted %s", conn->tp->base.device_name, base->peer);
	*conn_p = &conn->base;
out_free_req:
	free(req);
	return ret;
}

/* ---- connect ----------------------------------------------------------------- */

/* Milliseconds for one resolution step: what is left of the deadline. */
static int vrb_step_ms(uint64_t deadline)
{
	int ms = rps_ms_left(deadline);

	return ms < 0 ? VRB_RESOLVE_MS_DEFAULT : ms;
}

/* After address resolution: rdma_cm must have picked our device (and
 * port, when one was asked for). */
static int vrb_check_device(struct vrb_transport *tp, struct rdma_cm_id *id, const char *peer)
{
	const char *dev = tp->base.device_name;

	if (id->verbs != tp->ctx) {
		rps_err("%s: connect %s: the route to it leaves through device "
			"%s, not %s (open the transport on %s, or use an "
			"address reached through %s)",
			dev, peer, id->verbs ? ibv_get_device_name(id->verbs->device) : "?", dev,
			id->verbs ? ibv_get_device_name(id->verbs->device) : "?", dev);
		return -EADDRNOTAVAIL;
	}
	if (tp->base.attr.port && id->port_num != tp->base.attr.port) {
		rps_err("%s: connect %s: the route to it uses port %u, not "
			"port %u",
			dev, peer, id->port_num, tp->base.attr.port);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/* rdma_cm chooses the source GID; warn when it is not the one the
 * configuration expects (a RoCE v1/v2 or VLAN mismatch, usually). */
static void vrb_check_gid(struct vrb_transport *tp, struct rdma_cm_id *id, const char *peer)
{
	int index = tp->base.attr.gid_index;
	union ibv_gid gid;

	if (index < 0)
		return;
	if (ibv_query_gid(tp->ctx, id->port_num, index, &gid) == 0 &&
	    memcmp(&gid, &id->route.addr.addr.ibaddr.sgid, sizeof(gid)) == 0)
		return;
	rps_warn("%s: connect %s: rdma_cm chose a source GID that is not at "
		 "index %d (RPS_GID_INDEX); using rdma_cm's choice",
		 tp->base.device_name, peer, index);
}

/* Resolves address and route of id on ch, checking the device. */
static int vrb_connect_resolve(struct vrb_transport *tp, struct rdma_event_channel *ch,
			       struct rdma_cm_id *id, struct sockaddr *sa, const char *peer,
			       uint64_t deadline)
{
	const char *dev = tp->base.device_name;
	int ret;

	if (rdma_resolve_addr(id, NULL, sa, vrb_step_ms(deadline))) {
		ret = vrb_errno();
		rps_err("%s: connect %s: rdma_resolve_addr: %s", dev, peer, strerror(-ret));
		return ret;
	}
	ret = vrb_cm_expect(tp, "connect", peer, ch, RDMA_CM_EVENT_ADDR_RESOLVED, deadline, NULL,
			    NULL);
	if (ret)
		return ret;
	ret = vrb_check_device(tp, id, peer);
	if (ret)
		return ret;
	if (rdma_resolve_route(id, vrb_step_ms(deadline))) {
		ret = vrb_errno();
		rps_err("%s: connect %s: rdma_resolve_route: %s", dev, peer, strerror(-ret));
		return ret;
	}
	ret = vrb_cm_expect(tp, "connect", peer, ch, RDMA_CM_EVENT_ROUTE_RESOLVED, deadline, NULL,
			    NULL);
	if (ret)
		return ret;
	vrb_check_gid(tp, id, peer);
	return 0;
}

/* Sends the request and waits for ESTABLISHED; keeps the peer's data. */
static int vrb_connect_finish(struct vrb_conn *conn, const void *data, size_t len,
			      uint64_t deadline, rps_reject_t *reject_p)
{
	const struct ibv_device_attr *da = &conn->tp->dev_attr;
	uint8_t priv[RPS_PRIV_HDR_LEN + RPS_CONNECT_DATA_MAX];
	struct rdma_conn_param param = {
		.private_data = priv,
		.private_data_len = (uint8_t)rps_priv_pack(priv, data, len),
		.responder_resources = vrb_min_u8(da->max_qp_rd_atom, VRB_MAX_RD_ATOMIC),
		.initiator_depth = vrb_min_u8(da->max_qp_init_rd_atom, VRB_MAX_RD_ATOMIC),
		.retry_count = VRB_RETRY_COUNT,
		.rnr_retry_count = VRB_RNR_RETRY_COUNT,
	};
	struct rdma_cm_event *ev;
	int ret;

	if (rdma_connect(conn->id, &param)) {
		ret = vrb_errno();
		rps_err("%s: connect %s: rdma_connect: %s", conn->tp->base.device_name,
			conn->base.peer, strerror(-ret));
		return ret;
	}
	ret = vrb_cm_expect(conn->tp, "connect", conn->base.peer, conn->ch,
			    RDMA_CM_EVENT_ESTABLISHED, deadline, reject_p, &ev);
	if (ret)
		return ret;
	ret = rps_priv_unpack(ev->param.conn.private_data, ev->param.conn.private_data_len,
			      conn->base.peer_data, sizeof(conn->base.peer_data));
	if (ret < 0)
		rps_err("%s: connect %s: the acceptor's private data is "
			"malformed (%u bytes)",
			conn->tp->base.device_name, conn->base.peer,
			ev->param.conn.private_data_len);
	else
		conn->base.peer_data_len = (size_t)ret;
	rdma_ack_cm_event(ev);
	return ret < 0 ? ret : 0;
}

int rps_vrb_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq, const void *data,
		    size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p)
{
	struct vrb_transport *tp = vrb_tp(pd->tp);
	rps_transport_t *base = &tp->base;
	uint64_t deadline = rps_deadline_ns(base->attr.timeout_ms);
	struct rdma_event_channel *ch;
	struct sockaddr_storage ss;
	char peer[RPS_PEER_NAME_MAX];
	struct vrb_conn *conn;
	struct rdma_cm_id *id;
	int ret;

	snprintf(peer, sizeof(peer), "%s:%u", addr, port);
	ret = vrb_addr_parse(tp, "connect", addr, port, &ss);
	if (ret)
		return ret;
	ret = vrb_channel_open(&ch);
	if (ret) {
		rps_err("%s: connect %s: rdma_create_event_channel: %s", base->device_name, peer,
			strerror(-ret));
		return ret;
	}
	if (rdma_create_id(ch, &id, NULL, RDMA_PS_TCP)) {
		ret = vrb_errno();
		rps_err("%s: connect %s: rdma_create_id: %s", base->device_name, peer,
			strerror(-ret));
		goto err_destroy_channel;
	}
	ret = vrb_connect_resolve(tp, ch, id, (struct sockaddr *)&ss, peer, deadline);
	if (ret)
		goto err_destroy_id;
	/* moves id to the connection's own channel */
	ret = rps_vrb_conn_create(tp, vrb_pd(pd)->pd, vrb_cq(cq), id, &conn);
	if (ret)
		goto err_destroy_id;
	rdma_destroy_event_channel(ch);
	ret = vrb_connect_finish(conn, data, len, deadline, reject_p);
	if (ret == 0)
		ret = rps_vrb_conn_activate(conn);
	if (ret) {
		rps_vrb_conn_destroy(conn);
		return ret;
	}
	rps_info("%s: connected to %s", base->device_name, conn->base.peer);
	*conn_p = &conn->base;
	return 0;

err_destroy_id:
	rdma_destroy_id(id);
err_destroy_channel:
	rdma_destroy_event_channel(ch);
	return ret;
}

/* ---- progress ---------------------------------------------------------------- */

static int vrb_conn_events(struct vrb_conn *conn)
{
	struct rdma_cm_event *ev;
	int n = 0;

	while (rdma_get_cm_event(conn->ch, &ev) == 0) {
		rps_vrb_conn_event(conn, ev);
		rdma_ack_cm_event(ev);
		n++;
	}
	return n;
}

static void vrb_async_event(struct vrb_transport *tp, const struct ibv_async_event *ev)
{
	const char *dev = tp->base.device_name;
	const char *what = ibv_event_type_str(ev->event_type);
	const struct vrb_conn *conn;

	switch (ev->event_type) {
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
		/* the error completions that follow mark the connection down;
		 * the peer name is immutable, so reading it here is safe */
		conn = ev->element.qp->qp_context;
		rps_err("%s: %s: %s", dev, conn ? conn->base.peer : "?", what);
		break;
	case IBV_EVENT_CQ_ERR:
		rps_err("%s: %s (completion queue overrun: make it deeper)", dev, what);
		break;
	case IBV_EVENT_DEVICE_FATAL:
	case IBV_EVENT_PORT_ERR:
		rps_err("%s: %s", dev, what);
		break;
	default:
		rps_dbg("%s: %s", dev, what);
		break;
	}
}

static int vrb_async_events(struct vrb_transport *tp)
{
	struct ibv_async_event ev;
	int n = 0;

	while (ibv_get_async_event(tp->ctx, &ev) == 0) {
		vrb_async_event(tp, &ev);
		ibv_ack_async_event(&ev);
		n++;
	}
	return n;
}

int rps_vrb_progress(rps_transport_t *base)
{
	struct vrb_transport *tp = vrb_tp(base);
	struct epoll_event evs[16];
	int n, handled = 0;

	/* conn_destroy takes the lock to leave the epoll set, so no conn
	 * epoll_wait hands us here can be freed under our feet */
	pthread_mutex_lock(&tp->lock);
	n = epoll_wait(tp->epfd, evs, 16, 0);
	if (n < 0) {
		n = errno == EINTR ? 0 : vrb_errno();
		pthread_mutex_unlock(&tp->lock);
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr)
			handled += vrb_conn_events(evs[i].data.ptr);
		else
			handled += vrb_async_events(tp);
	}
	pthread_mutex_unlock(&tp->lock);
	return handled;
}
