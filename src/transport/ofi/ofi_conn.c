/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: connections.  Each owns an FI_EP_MSG endpoint bound to
 * its rps_cq (selective completion) and to the transport's EQ, a send
 * ring of attr.sq_depth contexts, and attr.recv_depth registered receive
 * buffers that are posted before the connection is reported up.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

static void ofi_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* rps_priv_pack() framing, then our token for the peer's imm data */
size_t rps_ofi_pack(uint8_t *raw, const void *data, size_t len, uint32_t token)
{
	size_t n = rps_priv_pack(raw, data, len);

	ofi_put_le32(raw + n, token);
	return n + RPS_OFI_TOKEN_LEN;
}

void rps_ofi_conn_free(struct rps_ofi_conn *conn)
{
	struct rps_ofi_transport *tp = conn->tp;

	if (conn->token) {
		pthread_mutex_lock(&tp->lock);
		rps_ofi_token_free(tp, conn);
		pthread_mutex_unlock(&tp->lock);
	}
	if (conn->sock >= 0)
		close(conn->sock);
	if (conn->av)
		fi_close(&conn->av->fid);
	free(conn->shm_peer);
	if (conn->shm_counted)
		atomic_fetch_sub(&conn->cq->nshm, 1);
	if (conn->recv_mr)
		fi_close(&conn->recv_mr->fid);
	free(conn->recv_buf);
	free(conn->recvs);
	free(conn->ops);
	free(conn);
}

int rps_ofi_conn_reg_recvs(struct rps_ofi_conn *conn, struct fid_domain *domain)
{
	size_t len = (size_t)conn->nrecv * conn->recv_size;
	uint64_t key;
	int ret;

	if (conn->recv_mr)
		fi_close(&conn->recv_mr->fid);
	conn->recv_mr = NULL;
	ret = rps_ofi_mr_reg_raw(conn->tp, domain, conn->recv_buf, len, FI_RECV, &conn->recv_mr,
				 &key);
	if (ret) {
		conn->recv_mr = NULL;
		return ret;
	}
	conn->recv_desc = fi_mr_desc(conn->recv_mr);
	return 0;
}

static int ofi_conn_alloc_recvs(struct rps_ofi_conn *conn)
{
	const rps_transport_attr_t *attr = &conn->tp->base.attr;
	size_t len;
	int ret;

	conn->nrecv = attr->recv_depth < conn->tp->max_recv ? attr->recv_depth : conn->tp->max_recv;
	conn->recv_size = attr->max_msg_size;
	len = (size_t)conn->nrecv * conn->recv_size;
	conn->recvs = calloc(conn->nrecv, sizeof(*conn->recvs));
	if (!conn->recvs || posix_memalign(&conn->recv_buf, 4096, len))
		return -ENOMEM;
	ret = rps_ofi_conn_reg_recvs(conn, conn->tp->domain);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < conn->nrecv; i++) {
		conn->recvs[i].ctx.conn = conn;
		conn->recvs[i].ctx.kind = RPS_OFI_CTX_RECV;
		conn->recvs[i].buf = (char *)conn->recv_buf + i * conn->recv_size;
	}
	return 0;
}

int rps_ofi_conn_alloc(struct rps_ofi_transport *tp, struct rps_ofi_cq *cq,
		       struct rps_ofi_conn **conn_p)
{
	const rps_transport_attr_t *attr = &tp->base.attr;
	struct rps_ofi_conn *conn;
	int ret;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->tp = tp;
	conn->cq = cq;
	conn->sock = -1;
	rps_list_init(&conn->link);
	conn->sq_depth = attr->sq_depth;
	conn->inline_max = attr->max_inline < tp->inject_size ? attr->max_inline : tp->inject_size;
	conn->ops = calloc(conn->sq_depth, sizeof(*conn->ops));
	if (!conn->ops) {
		ret = -ENOMEM;
		goto err_free;
	}
	for (uint32_t i = 0; i < conn->sq_depth; i++) {
		conn->ops[i].ctx.conn = conn;
		conn->ops[i].ctx.kind = RPS_OFI_CTX_OP;
	}
	ret = ofi_conn_alloc_recvs(conn);
	if (ret)
		goto err_free;
	pthread_mutex_lock(&tp->lock);
	ret = rps_ofi_token_alloc(tp, conn);
	pthread_mutex_unlock(&tp->lock);
	if (ret)
		goto err_free;
	*conn_p = conn;
	return 0;

err_free:
	if (ret == -ENOMEM)
		rps_err("%s: new connection: out of memory (%u x %u B of "
			"receive buffers)",
			tp->base.device_name, attr->recv_depth, attr->max_msg_size);
	rps_ofi_conn_free(conn);
	return ret;
}

int rps_ofi_ep_open(struct rps_ofi_conn *conn, struct fid_domain *domain, struct fi_info *info,
		    struct fid_cq *fcq, struct fid *events, struct fid_ep **ep_p)
{
	const char *step;
	int ret;

	step = "fi_endpoint";
	ret = fi_endpoint(domain, info, ep_p, conn);
	if (ret) {
		*ep_p = NULL;
		goto err;
	}
	step = "bind CQ";
	ret = fi_ep_bind(*ep_p, &fcq->fid, FI_TRANSMIT | FI_RECV | FI_SELECTIVE_COMPLETION);
	if (ret)
		goto err;
	step = events->fclass == FI_CLASS_AV ? "bind AV" : "bind EQ";
	ret = fi_ep_bind(*ep_p, events, 0);
	if (ret)
		goto err;
	step = "fi_enable";
	ret = fi_enable(*ep_p);
	if (ret)
		goto err;
	return 0;

err:
	return rps_ofi_step_error(conn, step, ret);
}

int rps_ofi_step_error(struct rps_ofi_conn *conn, const char *step, int ret)
{
	rps_err("%s: connection to %s: %s: %s", conn->tp->base.device_name, conn->base.peer, step,
		fi_strerror(-ret));
	return ret == -FI_ENOMEM ? -ENOMEM : -EIO;
}

/* Opens the endpoint and lists conn so the EQ dispatcher finds it.  info
 * names the peer (connect) or carries the request handle (accept). */
static int ofi_conn_open_ep(struct rps_ofi_conn *conn, struct fi_info *info)
{
	struct rps_ofi_transport *tp = conn->tp;
	int ret = rps_ofi_ep_open(conn, tp->domain, info, conn->cq->cq, &tp->eq->fid, &conn->ep);

	if (ret)
		return ret;
	conn->data_ep = conn->ep;
	pthread_mutex_lock(&tp->lock);
	conn->state = RPS_OFI_CONN_CONNECTING;
	rps_list_add_tail(&tp->conns, &conn->link);
	pthread_mutex_unlock(&tp->lock);
	return 0;
}

/* Posts the receive pool, once the connection is up but before the
 * caller learns of it.  A message that arrives first waits in the
 * provider (tcp holds it until a buffer is posted).  Posting only now
 * keeps a connection that fails to establish out of its CQ entirely, so
 * accept, often run by another thread than the CQ's, never has to clean
 * the CQ up. */
int rps_ofi_conn_post_recvs(struct rps_ofi_conn *conn)
{
	int ret;

	for (; conn->nposted < conn->nrecv; conn->nposted++) {
		ret = rps_ofi_post_recv(&conn->recvs[conn->nposted]);
		if (ret) {
			rps_err("%s: connection to %s: post receive: %s",
				conn->tp->base.device_name, conn->base.peer, fi_strerror(-ret));
			return ret == -FI_ENOMEM ? -ENOMEM : -EIO;
		}
	}
	return 0;
}

/* Closes the endpoint (its queued operations are flushed) and frees
 * conn.  One that ever posted may have entries in the CQ: on the CQ's
 * thread (may_forget: conn_close) they are taken out first; elsewhere (a
 * setup that failed half-way, on any thread) conn is buried instead, so
 * the CQ's thread never meets freed memory and nobody else reads its
 * CQ. */
void rps_ofi_conn_teardown(struct rps_ofi_conn *conn, bool may_forget)
{
	struct rps_ofi_transport *tp = conn->tp;
	int ret;

	rps_ofi_shm_ep_close(conn);
	if (conn->ep) {
		pthread_mutex_lock(&tp->lock);
		rps_list_del(&conn->link);
		/* a late WRITE_WITH_IMM of this conn now maps to no one */
		rps_ofi_token_free(tp, conn);
		pthread_mutex_unlock(&tp->lock);
		rps_ofi_cq_lock(conn->cq);
		ret = fi_close(&conn->ep->fid);
		rps_ofi_cq_unlock(conn->cq);
		if (ret)
			rps_warn("%s: close endpoint to %s: %s", tp->base.device_name,
				 conn->base.peer, fi_strerror(-ret));
		conn->ep = NULL;
		/* RDM: the peer sees the control socket close */
		if (conn->sock >= 0)
			close(conn->sock);
		conn->sock = -1;
		/* full ring or a failed CQ: keep conn rather than guess */
		if (conn->nposted && (!may_forget || rps_ofi_cq_forget_conn(conn->cq, conn))) {
			rps_ofi_cq_bury(conn->cq, conn);
			return;
		}
	}
	rps_ofi_conn_free(conn);
}

static void ofi_conn_destroy(struct rps_ofi_conn *conn)
{
	rps_ofi_conn_teardown(conn, false);
}

/* Waits for FI_CONNECTED (or a failure) of conn, driving the EQ. */
static int ofi_conn_wait(struct rps_ofi_conn *conn, const char *what)
{
	struct rps_ofi_transport *tp = conn->tp;
	uint64_t deadline = rps_deadline_ns(tp->base.attr.timeout_ms);
	enum rps_ofi_conn_state state;
	unsigned backoff_us = 20;
	int ret, err;

	for (;;) {
		pthread_mutex_lock(&tp->lock);
		ret = rps_ofi_eq_drain(tp);
		state = conn->state;
		err = conn->cm_err;
		pthread_mutex_unlock(&tp->lock);
		if (state == RPS_OFI_CONN_CONNECTED)
			return 0;
		if (state != RPS_OFI_CONN_CONNECTING)
			break;
		if (ret < 0)
			return ret;
		if (rps_ms_left(deadline) == 0) {
			rps_err("%s: %s %s: timed out after %d ms", tp->base.device_name, what,
				conn->base.peer, tp->base.attr.timeout_ms);
			return -ETIMEDOUT;
		}
		rps_ofi_backoff(&backoff_us, deadline);
	}
	/* a refusal that says why: the caller, who knows what it means,
	 * reports it */
	if (err == ECONNREFUSED && conn->reject.len) {
		rps_info("%s: %s %s: the peer refused (%zu bytes of reject data)",
			 tp->base.device_name, what, conn->base.peer, conn->reject.len);
		return -ECONNREFUSED;
	}
	/* a reset before the handshake ended: the listener went away */
	if (err == ECONNREFUSED || err == ECONNRESET) {
		rps_log_refused("%s: %s %s: connection refused%s", tp->base.device_name, what,
				conn->base.peer, err == ECONNRESET ? " (reset)" : "");
		return -ECONNREFUSED;
	}
	rps_err("%s: %s %s: %s", tp->base.device_name, what, conn->base.peer,
		err == EPROTO ? "malformed private data (not an rdmaps peer?)" : fi_strerror(err));
	if (err == ETIMEDOUT)
		return -ETIMEDOUT;
	/* the code verbs gives for the same */
	if (err == EPROTO)
		return -RPS_ERR_PROTO;
	return err > 0 && err < FI_ERRNO_OFFSET ? -err : -ECONNABORTED;
}

/* The end of accept and connect alike: wait for FI_CONNECTED, post the
 * receive pool, and only then call the connection up. */
static int ofi_conn_establish(struct rps_ofi_conn *conn, const char *what)
{
	uint64_t deadline = rps_deadline_ns(conn->tp->base.attr.timeout_ms);
	int ret = ofi_conn_wait(conn, what);

	if (!ret)
		ret = rps_ofi_shm_finish(conn, deadline);
	if (!ret)
		ret = rps_ofi_conn_post_recvs(conn);
	if (!ret)
		conn->base.connected = true;
	return ret;
}

/* Every PD is the domain here (ofi_pd.c): pd only names the transport. */
int rps_ofi_accept(rps_conn_req_t *breq, rps_pd_t *pd, rps_cq_t *bcq, const void *data, size_t len,
		   rps_conn_t **conn_p)
{
	struct rps_ofi_conn_req *req = rps_ofi_req(breq);
	struct rps_ofi_transport *tp = req->l->tp;
	uint8_t raw[RPS_OFI_CM_DATA_MAX];
	struct rps_ofi_conn *conn;
	size_t raw_len;
	int ret;

	if (tp->rdm)
		return rps_ofi_rdm_accept(req, rps_ofi_cq(bcq), data, len, conn_p);
	ret = rps_ofi_conn_alloc(tp, rps_ofi_cq(bcq), &conn);
	if (ret) {
		rps_ofi_req_free(req, true);
		return ret;
	}
	memcpy(conn->base.peer, req->base.peer, sizeof(conn->base.peer));
	conn->peer_token = req->peer_token;
	ret = ofi_conn_open_ep(conn, req->info);
	if (ret) {
		/* the endpoint, once created, owns the request handle */
		rps_ofi_req_free(req, conn->ep == NULL);
		goto err_destroy;
	}
	raw_len = rps_ofi_shm_answer(conn, req, raw, rps_ofi_pack(raw, data, len, conn->token));
	rps_ofi_req_free(req, false);
	ret = fi_accept(conn->ep, raw, raw_len);
	if (ret) {
		rps_err("%s: accept %s: fi_accept: %s", tp->base.device_name, conn->base.peer,
			fi_strerror(-ret));
		ret = -ECONNABORTED;
		goto err_destroy;
	}
	ret = ofi_conn_establish(conn, "accept");
	if (ret)
		goto err_destroy;
	rps_dbg("%s: accepted %s", tp->base.device_name, conn->base.peer);
	*conn_p = &conn->base;
	return 0;

err_destroy:
	ofi_conn_destroy(conn);
	return ret;
}

/* The transport's info aimed at ss, with no source address: the kernel
 * picks the route, so one domain reaches any address. */
static struct fi_info *ofi_connect_info(struct rps_ofi_transport *tp,
					const struct sockaddr_storage *ss, size_t len)
{
	struct fi_info *info = fi_dupinfo(tp->info);

	if (!info)
		return NULL;
	free(info->src_addr);
	info->src_addr = NULL;
	info->src_addrlen = 0;
	free(info->dest_addr);
	info->dest_addr = malloc(len);
	if (!info->dest_addr) {
		fi_freeinfo(info);
		return NULL;
	}
	memcpy(info->dest_addr, ss, len);
	info->dest_addrlen = len;
	info->addr_format = ss->ss_family == AF_INET6 ? FI_SOCKADDR_IN6 : FI_SOCKADDR_IN;
	return info;
}

static int ofi_connect_start(struct rps_ofi_conn *conn, const struct sockaddr_storage *ss,
			     size_t sslen, const void *data, size_t len)
{
	struct rps_ofi_transport *tp = conn->tp;
	uint8_t raw[RPS_OFI_CM_DATA_MAX];
	struct fi_info *info;
	size_t raw_len;
	int ret;

	info = ofi_connect_info(tp, ss, sslen);
	if (!info)
		return -ENOMEM;
	ret = ofi_conn_open_ep(conn, info);
	fi_freeinfo(info);
	if (ret)
		return ret;
	raw_len = rps_ofi_shm_offer(conn, ss, raw, rps_ofi_pack(raw, data, len, conn->token));
	ret = fi_connect(conn->ep, ss, raw, raw_len);
	if (ret) {
		rps_err("%s: connect %s: fi_connect: %s", tp->base.device_name, conn->base.peer,
			fi_strerror(-ret));
		return ret == -FI_ECONNREFUSED ? -ECONNREFUSED : -EIO;
	}
	return 0;
}

int rps_ofi_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *bcq, const void *data,
		    size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p)
{
	rps_transport_t *btp = pd->tp;
	struct rps_ofi_transport *tp = rps_ofi_tp(btp);
	struct sockaddr_storage ss;
	struct rps_ofi_conn *conn;
	size_t sslen;
	int ret;

	if (tp->rdm)
		return rps_ofi_rdm_connect(tp, addr, port, rps_ofi_cq(bcq), data, len, reject_p,
					   conn_p);
	ret = rps_ofi_resolve(addr, port, false, &ss, &sslen);
	if (ret) {
		rps_err("%s: connect %s:%u: %s", btp->device_name, addr, port, gai_strerror(ret));
		/* as verbs (rdma_cm) says it */
		return -EADDRNOTAVAIL;
	}
	ret = rps_ofi_conn_alloc(tp, rps_ofi_cq(bcq), &conn);
	if (ret)
		return ret;
	conn->active = true;
	rps_sockaddr_name(&ss, conn->base.peer, sizeof(conn->base.peer));
	ret = ofi_connect_start(conn, &ss, sslen, data, len);
	if (ret)
		goto err_destroy;
	ret = ofi_conn_establish(conn, "connect");
	if (ret == -ECONNREFUSED)
		*reject_p = conn->reject;
	if (ret)
		goto err_destroy;
	rps_dbg("%s: connected to %s", btp->device_name, conn->base.peer);
	*conn_p = &conn->base;
	return 0;

err_destroy:
	ofi_conn_destroy(conn);
	return ret;
}

void rps_ofi_conn_close(rps_conn_t *bconn)
{
	struct rps_ofi_conn *conn = rps_ofi_conn(bconn);
	struct rps_ofi_transport *tp = conn->tp;
	bool up;
	int ret;

	pthread_mutex_lock(&tp->lock);
	up = conn->state == RPS_OFI_CONN_CONNECTED;
	conn->state = RPS_OFI_CONN_DOWN;
	pthread_mutex_unlock(&tp->lock);
	bconn->connected = false;
	/* operations flushed by our own close are no news */
	conn->err_logged = true;
	if (up && !tp->rdm) {
		ret = fi_shutdown(conn->ep, 0);
		if (ret && ret != -FI_ENOTCONN)
			rps_dbg("%s: shutdown %s: %s", tp->base.device_name, bconn->peer,
				fi_strerror(-ret));
	}
	rps_ofi_conn_teardown(conn, true);
}
