/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Transport core: provider registry, "auto" selection, argument checks,
 * and the one-line dispatches of the public API to the provider ops.
 * Checks live here once so every provider sees only well-formed calls.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_priv.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

typedef const struct rps_transport_ops *(*provider_ini_fn)(void);

/* Probe order for "auto": hardware RDMA first, libfabric as fallback. */
static const struct {
	const char *name;
	provider_ini_fn ini;
} providers[] = {
#ifdef RPS_HAVE_VERBS
	{ "verbs", rps_verbs_ini },
#endif
#ifdef RPS_HAVE_OFI
	{ "ofi", rps_ofi_ini },
#endif
};

static const char *const provider_names[] = {
#ifdef RPS_HAVE_VERBS
	"verbs",
#endif
#ifdef RPS_HAVE_OFI
	"ofi",
#endif
	NULL,
};

RPS_EXPORT const char *const *rps_transport_providers(void)
{
	return provider_names;
}

static const struct rps_transport_ops *provider_find(const char *name)
{
	for (size_t i = 0; i < RPS_ARRAY_SIZE(providers); i++) {
		if (strcmp(providers[i].name, name) == 0) {
			const struct rps_transport_ops *ops = providers[i].ini();

			if (!ops)
				return NULL;
			/* a table older than the first version lacks entries
			 * we call unchecked; later ones go through
			 * RPS_OPS_HAS */
			if (ops->size < RPS_OPS_SIZE_MIN) {
				rps_err("provider %s: ops table too old (%zu < %zu bytes)", name,
					ops->size, (size_t)RPS_OPS_SIZE_MIN);
				return NULL;
			}
			return ops;
		}
	}
	return NULL;
}

static const struct rps_transport_ops *provider_auto(const rps_transport_attr_t *attr)
{
	for (size_t i = 0; i < RPS_ARRAY_SIZE(providers); i++) {
		const struct rps_transport_ops *ops = provider_find(providers[i].name);

		if (ops && ops->probe(attr) > 0) {
			rps_info("provider auto: chose %s", ops->name);
			return ops;
		}
	}
	return NULL;
}

/* Copies the caller's strings so the transport never points into memory
 * the caller may free (getenv results, option buffers). */
static int attr_copy(rps_transport_attr_t *dst, const rps_transport_attr_t *src)
{
	*dst = *src;
	dst->provider = NULL;
	dst->device = NULL;
	dst->ofi_provider = NULL;
	if ((src->provider && !(dst->provider = strdup(src->provider))) ||
	    (src->device && !(dst->device = strdup(src->device))) ||
	    (src->ofi_provider && !(dst->ofi_provider = strdup(src->ofi_provider))))
		return -ENOMEM;
	return 0;
}

static void attr_free(rps_transport_attr_t *attr)
{
	free((char *)attr->provider);
	free((char *)attr->device);
	free((char *)attr->ofi_provider);
}

static int attr_check(const rps_transport_attr_t *attr)
{
	if (attr->sq_depth == 0 || attr->recv_depth == 0) {
		rps_err("transport: sq_depth and recv_depth must be > 0");
		return -EINVAL;
	}
	if (attr->max_msg_size == 0) {
		rps_err("transport: max_msg_size must be > 0");
		return -EINVAL;
	}
	return 0;
}

RPS_EXPORT int rps_transport_open(const rps_transport_attr_t *attr_in, rps_transport_t **tp_p)
{
	const struct rps_transport_ops *ops;
	rps_transport_attr_t full, copy;
	const rps_transport_attr_t *attr = &full;
	rps_transport_t *tp;
	const char *name;
	int ret;

	if (!tp_p)
		return -EINVAL;
	/* the caller's struct may be smaller or larger than ours */
	ret = rps_transport_attr_in(&full, attr_in);
	if (ret)
		return ret;
	ret = attr_check(attr);
	if (ret)
		return ret;

	name = attr->provider ? attr->provider : "auto";
	if (strcmp(name, "auto") == 0) {
		ops = provider_auto(attr);
		if (!ops) {
			rps_err("provider auto: no provider has a usable device");
			return -ENODEV;
		}
	} else {
		ops = provider_find(name);
		if (!ops) {
			rps_err("provider '%s' is not built into this librdmaps "
				"(use verbs or ofi; see rps_transport_providers)",
				name);
			return -ENODEV;
		}
	}

	ret = attr_copy(&copy, attr);
	if (ret)
		goto err_free_copy;
	free((char *)copy.provider);
	copy.provider = strdup(ops->name);
	if (!copy.provider) {
		ret = -ENOMEM;
		goto err_free_copy;
	}
	ret = ops->open(&copy, &tp);
	if (ret)
		goto err_free_copy;
	tp->ops = ops;
	tp->attr = copy;
	tp->pd->tp = tp;
	*tp_p = tp;
	return 0;

err_free_copy:
	attr_free(&copy);
	return ret;
}

RPS_EXPORT void rps_transport_close(rps_transport_t *tp)
{
	rps_transport_attr_t attr;

	if (!tp)
		return;
	attr = tp->attr;
	tp->ops->close(tp);
	attr_free(&attr);
}

RPS_EXPORT const char *rps_transport_provider(const rps_transport_t *tp)
{
	return tp->ops->name;
}

RPS_EXPORT const char *rps_transport_device(const rps_transport_t *tp)
{
	return tp->device_name;
}

RPS_EXPORT const rps_transport_attr_t *rps_transport_get_attr(const rps_transport_t *tp)
{
	return &tp->attr;
}

RPS_EXPORT int rps_transport_progress(rps_transport_t *tp)
{
	return tp->ops->progress(tp);
}

/* ---- protection domains -------------------------------------------------- */

RPS_EXPORT rps_pd_t *rps_transport_pd(rps_transport_t *tp)
{
	return tp->pd;
}

RPS_EXPORT int rps_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p)
{
	rps_pd_t *pd;
	int ret;

	if (!tp || !pd_p)
		return -EINVAL;
	ret = tp->ops->pd_alloc(tp, &pd);
	if (ret)
		return ret;
	pd->tp = tp;
	*pd_p = pd;
	return 0;
}

RPS_EXPORT void rps_pd_free(rps_pd_t *pd)
{
	/* the default PD goes with its transport */
	if (pd && pd != pd->tp->pd)
		pd->tp->ops->pd_free(pd);
}

RPS_EXPORT bool rps_pd_isolated(const rps_pd_t *pd)
{
	return pd->isolated;
}

RPS_EXPORT rps_transport_t *rps_pd_transport(const rps_pd_t *pd)
{
	return pd->tp;
}

/* ---- memory ------------------------------------------------------------ */

RPS_EXPORT int rps_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p)
{
	const unsigned known =
		RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE | RPS_ACCESS_REMOTE_READ;
	rps_transport_t *tp = pd ? pd->tp : NULL;
	rps_mr_t *mr;
	int ret;

	if (!pd || !addr || !len || !mr_p || (access & ~known)) {
		rps_err("%s: register %p+%zu access 0x%x: invalid argument%s",
			tp ? tp->device_name : "?", addr, len, access, pd ? "" : " (no PD)");
		return -EINVAL;
	}
	ret = tp->ops->mr_reg(pd, addr, len, access, &mr);
	if (ret)
		return ret;
	mr->tp = tp;
	mr->pd = pd;
	mr->addr = addr;
	mr->len = len;
	mr->access = access;
	*mr_p = mr;
	return 0;
}

RPS_EXPORT void rps_mr_dereg(rps_mr_t *mr)
{
	if (mr)
		mr->tp->ops->mr_dereg(mr);
}

RPS_EXPORT void rps_mr_remote(const rps_mr_t *mr, rps_remote_t *remote_p)
{
	*remote_p = mr->remote;
}

RPS_EXPORT void *rps_mr_addr(const rps_mr_t *mr)
{
	return mr->addr;
}

RPS_EXPORT size_t rps_mr_len(const rps_mr_t *mr)
{
	return mr->len;
}

/* ---- completion queues ---------------------------------------------------- */

RPS_EXPORT int rps_cq_create(rps_transport_t *tp, uint32_t depth, rps_cq_t **cq_p)
{
	rps_cq_t *cq;
	int ret;

	if (!tp || !depth || !cq_p)
		return -EINVAL;
	ret = tp->ops->cq_create(tp, depth, &cq);
	if (ret)
		return ret;
	cq->tp = tp;
	cq->depth = depth;
	*cq_p = cq;
	return 0;
}

RPS_EXPORT void rps_cq_destroy(rps_cq_t *cq)
{
	if (cq)
		cq->tp->ops->cq_destroy(cq);
}

RPS_EXPORT int rps_cq_poll(rps_cq_t *cq, rps_completion_t *comps, int max)
{
	if (rps_unlikely(max < 1 || !comps))
		return -EINVAL;
	return cq->tp->ops->cq_poll(cq, comps, max);
}

RPS_EXPORT int rps_cq_progress(rps_cq_t *cq)
{
	return cq->tp->ops->cq_progress(cq);
}

/* How often poll_wait drives connection events: often enough to notice a
 * dead peer promptly, rarely enough not to cost the polling loop much. */
#define POLL_WAIT_PROGRESS_NS 1000000ull

RPS_EXPORT int rps_cq_poll_wait(rps_cq_t *cq, rps_completion_t *comps, int max, int timeout_ms)
{
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	uint64_t next_progress = rps_now_ns() + POLL_WAIT_PROGRESS_NS;
	int n, ret;

	for (;;) {
		n = rps_cq_poll(cq, comps, max);
		if (n != 0)
			return n;
		uint64_t now = rps_now_ns();
		if (now >= next_progress) {
			ret = rps_transport_progress(cq->tp);
			if (ret < 0)
				return ret;
			next_progress = now + POLL_WAIT_PROGRESS_NS;
		}
		if (rps_ms_left(deadline) == 0)
			return -ETIMEDOUT;
	}
}

/* ---- connections ---------------------------------------------------------- */

RPS_EXPORT int rps_listen(rps_transport_t *tp, const char *addr, uint16_t port,
			  rps_listener_t **l_p)
{
	rps_listener_t *l;
	int ret;

	if (!tp || !l_p)
		return -EINVAL;
	ret = tp->ops->listen(tp, addr, port, &l);
	if (ret)
		return ret;
	l->tp = tp;
	*l_p = l;
	return 0;
}

RPS_EXPORT void rps_listener_close(rps_listener_t *l)
{
	if (l)
		l->tp->ops->listener_close(l);
}

RPS_EXPORT uint16_t rps_listener_port(const rps_listener_t *l)
{
	return l->port;
}

RPS_EXPORT int rps_listener_get_request(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p)
{
	rps_conn_req_t *req;
	int ret;

	if (!l || !req_p)
		return -EINVAL;
	ret = l->tp->ops->get_request(l, timeout_ms, &req);
	if (ret)
		return ret;
	req->listener = l;
	*req_p = req;
	return 0;
}

RPS_EXPORT const void *rps_conn_req_data(const rps_conn_req_t *req, size_t *len_p)
{
	if (len_p)
		*len_p = req->data_len;
	return req->data;
}

RPS_EXPORT const char *rps_conn_req_peer(const rps_conn_req_t *req)
{
	return req->peer;
}

RPS_EXPORT int rps_conn_req_accept(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq,
				   const void *data, size_t len, rps_conn_t **conn_p)
{
	rps_transport_t *tp;
	rps_conn_t *conn;
	int ret;

	if (!req)
		return -EINVAL;
	tp = req->listener->tp;
	if (!pd || !cq || !conn_p || len > RPS_ACCEPT_DATA_MAX || (len && !data) || cq->tp != tp ||
	    pd->tp != tp) {
		rps_err("%s: accept %s: invalid argument (no pd or cq, one of another "
			"transport, or %zu bytes of private data > %d)",
			tp->device_name, req->peer, len, RPS_ACCEPT_DATA_MAX);
		tp->ops->reject(req, NULL, 0);
		return -EINVAL;
	}
	ret = tp->ops->accept(req, pd, cq, data, len, &conn);
	if (ret)
		return ret;
	conn->tp = tp;
	conn->pd = pd;
	conn->cq = cq;
	*conn_p = conn;
	return 0;
}

RPS_EXPORT int rps_conn_req_reject(rps_conn_req_t *req, const void *data, size_t len)
{
	rps_transport_t *tp;

	if (!req)
		return -EINVAL;
	tp = req->listener->tp;
	if (len > RPS_REJECT_DATA_MAX || (len && !data)) {
		rps_err("%s: reject %s: %zu bytes of private data > %d: refused without it",
			tp->device_name, req->peer, len, RPS_REJECT_DATA_MAX);
		tp->ops->reject(req, NULL, 0);
		return -EINVAL;
	}
	tp->ops->reject(req, data, len);
	return 0;
}

RPS_EXPORT int rps_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq,
			   const void *data, size_t len, rps_reject_t *reject_p,
			   rps_conn_t **conn_p)
{
	rps_transport_t *tp = pd ? pd->tp : NULL;
	rps_reject_t ignored;
	rps_conn_t *conn;
	int ret;

	if (!reject_p)
		reject_p = &ignored;
	reject_p->len = 0;
	if (!tp || !addr || !port || !cq || !conn_p || cq->tp != tp || len > RPS_CONNECT_DATA_MAX ||
	    (len && !data)) {
		rps_err("%s: connect %s:%u: invalid argument (pd, address, port, cq, "
			"or %zu bytes of private data > %d)",
			tp ? tp->device_name : "?", addr ? addr : "(null)", port, len,
			RPS_CONNECT_DATA_MAX);
		return -EINVAL;
	}
	ret = tp->ops->connect(pd, addr, port, cq, data, len, reject_p, &conn);
	if (ret) {
		if (ret != -ECONNREFUSED)
			reject_p->len = 0;
		return ret;
	}
	conn->tp = tp;
	conn->pd = pd;
	conn->cq = cq;
	*conn_p = conn;
	return 0;
}

RPS_EXPORT void rps_conn_close(rps_conn_t *conn)
{
	if (conn)
		conn->tp->ops->conn_close(conn);
}

RPS_EXPORT const void *rps_conn_peer_data(const rps_conn_t *conn, size_t *len_p)
{
	if (len_p)
		*len_p = conn->peer_data_len;
	return conn->peer_data;
}

RPS_EXPORT const char *rps_conn_peer(const rps_conn_t *conn)
{
	return conn->peer;
}

RPS_EXPORT bool rps_conn_is_connected(const rps_conn_t *conn)
{
	return conn->connected;
}

RPS_EXPORT void rps_conn_set_context(rps_conn_t *conn, void *context)
{
	conn->context = context;
}

RPS_EXPORT void *rps_conn_get_context(const rps_conn_t *conn)
{
	return conn->context;
}

/* ---- data path ------------------------------------------------------------ */

static const char *const op_names[] = {
	[RPS_OP_WRITE] = "write",
	[RPS_OP_WRITE_IMM] = "write_imm",
	[RPS_OP_READ] = "read",
	[RPS_OP_SEND] = "send",
};

/* The local buffer must lie inside its registration: a provider would
 * otherwise hand the NIC an address its lkey does not cover. */
static int post_check(rps_conn_t *conn, const rps_op_t *op)
{
	const rps_mr_t *mr = op->mr;

	if (rps_unlikely(!conn->connected))
		return -ENOTCONN;
	if (op->len == 0)
		return 0;
	if (rps_unlikely(!mr || !op->buf || (const char *)op->buf < (const char *)mr->addr ||
			 op->len > mr->len ||
			 (size_t)((const char *)op->buf - (const char *)mr->addr) >
				 mr->len - op->len)) {
		rps_err("%s: %s to %s: local buffer %p+%zu is not inside its "
			"memory registration",
			conn->tp->device_name, op_names[op->type], conn->peer, op->buf, op->len);
		return -EINVAL;
	}
	/* verbs would fail the operation with a local protection error and
	 * kill the connection; refuse it here, the same on every provider */
	if (rps_unlikely(mr->pd != conn->pd)) {
		rps_err("%s: %s to %s: local buffer %p+%zu is registered in "
			"another protection domain than the connection",
			conn->tp->device_name, op_names[op->type], conn->peer, op->buf, op->len);
		return -EINVAL;
	}
	if (rps_unlikely(op->type == RPS_OP_SEND && op->len > conn->tp->attr.max_msg_size)) {
		rps_err("%s: send to %s: %zu bytes > max_msg_size %u", conn->tp->device_name,
			conn->peer, op->len, conn->tp->attr.max_msg_size);
		return -EMSGSIZE;
	}
	return 0;
}

static int post(rps_conn_t *conn, const rps_op_t *op)
{
	int ret = post_check(conn, op);

	if (rps_unlikely(ret))
		return ret;
	return conn->tp->ops->post(conn, op);
}

RPS_EXPORT int rps_post_write(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr,
			      uint64_t remote_addr, uint64_t rkey, uint64_t wr_id, unsigned flags)
{
	rps_op_t op = { .type = RPS_OP_WRITE,
			.buf = (void *)buf,
			.len = len,
			.mr = mr,
			.remote_addr = remote_addr,
			.rkey = rkey,
			.wr_id = wr_id,
			.flags = flags };
	return post(conn, &op);
}

RPS_EXPORT int rps_post_write_imm(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr,
				  uint64_t remote_addr, uint64_t rkey, uint32_t imm, uint64_t wr_id,
				  unsigned flags)
{
	rps_op_t op = { .type = RPS_OP_WRITE_IMM,
			.buf = (void *)buf,
			.len = len,
			.mr = mr,
			.remote_addr = remote_addr,
			.rkey = rkey,
			.imm = imm,
			.wr_id = wr_id,
			.flags = flags };
	return post(conn, &op);
}

RPS_EXPORT int rps_post_read(rps_conn_t *conn, void *buf, size_t len, rps_mr_t *mr,
			     uint64_t remote_addr, uint64_t rkey, uint64_t wr_id, unsigned flags)
{
	rps_op_t op = { .type = RPS_OP_READ,
			.buf = buf,
			.len = len,
			.mr = mr,
			.remote_addr = remote_addr,
			.rkey = rkey,
			.wr_id = wr_id,
			.flags = flags };
	return post(conn, &op);
}

RPS_EXPORT int rps_post_send(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr,
			     uint64_t wr_id, unsigned flags)
{
	rps_op_t op = { .type = RPS_OP_SEND,
			.buf = (void *)buf,
			.len = len,
			.mr = mr,
			.wr_id = wr_id,
			.flags = flags };
	return post(conn, &op);
}
