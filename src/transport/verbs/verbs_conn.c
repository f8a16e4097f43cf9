/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: one connection's resources (event channel, RC QP, send
 * ring, receive pool), its rdma_cm events, and its teardown.
 *
 * Each connection has its own non-blocking rdma_cm event channel, so
 * reading one connection's events never consumes another's, every event
 * read is acked at once, and rdma_destroy_id (which waits for the acks of
 * the events it delivered) can never hang in conn_close.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "transport/verbs/verbs.h"
#include "util/log.h"

static int vrb_ch_nonblock(struct rdma_event_channel *ch)
{
	int flags = fcntl(ch->fd, F_GETFL);

	if (flags < 0 || fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Gives the connection its own non-blocking event channel and moves id
 * onto it (any events still pending for id move along). */
static int vrb_conn_channel(struct vrb_conn *conn)
{
	const char *dev = conn->tp->base.device_name;
	int ret;

	conn->ch = rdma_create_event_channel();
	if (!conn->ch) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: %s: rdma_create_event_channel: %s", dev, conn->base.peer,
			strerror(-ret));
		return ret;
	}
	ret = vrb_ch_nonblock(conn->ch);
	if (ret == 0 && rdma_migrate_id(conn->id, conn->ch))
		ret = errno ? -errno : -EIO;
	if (ret) {
		rps_err("%s: %s: move to own event channel: %s", dev, conn->base.peer,
			strerror(-ret));
		rdma_destroy_event_channel(conn->ch);
		conn->ch = NULL;
	}
	return ret;
}

/* The send ring and the receive pool (one registered block of buffers). */
static int vrb_conn_buffers(struct vrb_conn *conn)
{
	const rps_transport_attr_t *attr = &conn->tp->base.attr;
	size_t pool_len = (size_t)attr->recv_depth * attr->max_msg_size;
	void *pool;
	int ret;

	conn->sq_depth = attr->sq_depth;
	conn->rq_depth = attr->recv_depth;
	conn->msg_size = attr->max_msg_size;
	conn->sq = calloc(conn->sq_depth, sizeof(*conn->sq));
	conn->rq = calloc(conn->rq_depth, sizeof(*conn->rq));
	if (!conn->sq || !conn->rq || posix_memalign(&pool, 4096, pool_len))
		return -ENOMEM;
	conn->pool = pool;
	conn->pool_mr = ibv_reg_mr(conn->pd, conn->pool, pool_len, IBV_ACCESS_LOCAL_WRITE);
	if (!conn->pool_mr) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: %s: register receive pool (%u x %u bytes): %s",
			conn->tp->base.device_name, conn->base.peer, conn->rq_depth, conn->msg_size,
			strerror(-ret));
		return ret;
	}
	for (uint32_t i = 0; i < conn->sq_depth; i++)
		conn->sq[i].wr = (struct vrb_wr){ conn, VRB_WR_SEND };
	for (uint32_t i = 0; i < conn->rq_depth; i++) {
		conn->rq[i].wr = (struct vrb_wr){ conn, VRB_WR_RECV };
		conn->rq[i].buf = (char *)conn->pool + (size_t)i * conn->msg_size;
	}
	conn->drain_sq = (struct vrb_wr){ conn, VRB_WR_DRAIN };
	return 0;
}

/* Creates the RC QP in the conn's PD and on its CQ, with one
 * send WR more than asked for conn_close's drain marker.  A device that
 * cannot inline attr.max_inline bytes refuses with EINVAL: ask for half
 * as much, down to none (a bounded number of tries, because EINVAL may
 * also mean the connect request is gone). */
static int vrb_conn_qp(struct vrb_conn *conn)
{
	struct vrb_transport *tp = conn->tp;
	uint32_t max_inline = tp->base.attr.max_inline;
	struct ibv_qp_init_attr qa;
	struct ibv_qp_attr qattr;
	int ret;

	for (;;) {
		/* rdma_create_qp writes back into qa even when it fails */
		qa = (struct ibv_qp_init_attr){
			.qp_context = conn,
			.send_cq = conn->cq->cq,
			.recv_cq = conn->cq->cq,
			.qp_type = IBV_QPT_RC,
			.sq_sig_all = 0,
			.cap = { .max_send_wr = conn->sq_depth + 1,
				 .max_recv_wr = conn->rq_depth,
				 .max_send_sge = 1,
				 .max_recv_sge = 1,
				 .max_inline_data = max_inline },
		};
		if (rdma_create_qp(conn->id, conn->pd, &qa) == 0)
			break;
		ret = errno ? -errno : -EIO;
		if (ret != -EINVAL || max_inline == 0) {
			rps_err("%s: %s: rdma_create_qp (sq %u, rq %u, device "
				"max_qp_wr %d): %s",
				tp->base.device_name, conn->base.peer, conn->sq_depth + 1,
				conn->rq_depth, tp->dev_attr.max_qp_wr, strerror(-ret));
			return ret;
		}
		max_inline = max_inline > 16 ? max_inline / 2 : 0;
	}
	conn->qp = conn->id->qp;
	/* what the device granted, which may differ from what we asked */
	if (ibv_query_qp(conn->qp, &qattr, IBV_QP_CAP, &qa) == 0)
		conn->max_inline = qattr.cap.max_inline_data;
	else
		conn->max_inline = max_inline;
	if (conn->max_inline > tp->base.attr.max_inline)
		conn->max_inline = tp->base.attr.max_inline;
	return 0;
}

static void vrb_conn_set_ack_timeout(struct vrb_conn *conn)
{
	uint8_t tmo = VRB_ACK_TIMEOUT;

	if (rdma_set_option(conn->id, RDMA_OPTION_ID, RDMA_OPTION_ID_ACK_TIMEOUT, &tmo,
			    sizeof(tmo))) {
		/* older kernels: keep rdma_cm's default (~4 s per retry) */
		rps_warn("%s: %s: cannot set the ACK timeout (%s): a dead peer "
			 "will take longer to detect",
			 conn->tp->base.device_name, conn->base.peer, strerror(errno));
	}
}

void rps_vrb_conn_free(struct vrb_conn *conn)
{
	if (conn->pool_mr && ibv_dereg_mr(conn->pool_mr))
		rps_warn("%s: %s: deregister receive pool: %s", conn->tp->base.device_name,
			 conn->base.peer, strerror(errno));
	free(conn->pool);
	free(conn->rq);
	free(conn->sq);
	free(conn);
}

int rps_vrb_conn_create(struct vrb_transport *tp, struct ibv_pd *pd, struct vrb_cq *cq,
			struct rdma_cm_id *id, struct vrb_conn **conn_p)
{
	struct vrb_conn *conn;
	int ret;

	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->tp = tp;
	conn->pd = pd;
	conn->cq = cq;
	conn->id = id;
	conn->base.tp = &tp->base;
	conn->base.cq = &cq->base;
	rps_list_init(&conn->node);
	rps_sockaddr_name(rdma_get_peer_addr(id), conn->base.peer, sizeof(conn->base.peer));
	ret = vrb_conn_buffers(conn);
	if (ret)
		goto err_free;
	ret = vrb_conn_channel(conn);
	if (ret)
		goto err_free;
	vrb_conn_set_ack_timeout(conn);
	ret = vrb_conn_qp(conn);
	if (ret)
		goto err_destroy_channel;
	id->context = conn;
	*conn_p = conn;
	return 0;

err_destroy_channel:
	/* park id on a private channel of its own (librdmacm's "sync"
	 * mode) so ours can go; the caller rejects or destroys id */
	rdma_migrate_id(id, NULL);
	rdma_destroy_event_channel(conn->ch);
err_free:
	rps_vrb_conn_free(conn);
	return ret;
}

/* What the QP ended up with after rdma_cm moved it to RTS: shows
 * whether the ACK timeout and read depths took (debug level). */
static void vrb_conn_log_qp(const struct vrb_conn *conn)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr qa;

	if (rps_log_get_level() < RPS_LOG_DEBUG ||
	    ibv_query_qp(conn->qp, &qa,
			 IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				 IBV_QP_MAX_QP_RD_ATOMIC | IBV_QP_MAX_DEST_RD_ATOMIC |
				 IBV_QP_PATH_MTU,
			 &init))
		return;
	rps_dbg("%s: %s: QP 0x%x: sq %u rq %u inline %u, MTU %d, ACK timeout "
		"%u, retry %u, RNR retry %u, reads out %u / in %u",
		conn->tp->base.device_name, conn->base.peer, conn->qp->qp_num, conn->sq_depth,
		conn->rq_depth, conn->max_inline, 128 << qa.path_mtu, qa.timeout, qa.retry_cnt,
		qa.rnr_retry, qa.max_rd_atomic, qa.max_dest_rd_atomic);
}

int rps_vrb_conn_activate(struct vrb_conn *conn)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };
	int ret;

	if (epoll_ctl(conn->tp->epfd, EPOLL_CTL_ADD, conn->ch->fd, &ev)) {
		ret = -errno;
		rps_err("%s: %s: epoll_ctl: %s", conn->tp->base.device_name, conn->base.peer,
			strerror(errno));
		return ret;
	}
	conn->in_epoll = true;
	/* up before the receives: a completion polled on another thread
	 * while we post re-posts its buffer only on a connected conn */
	conn->base.connected = true;
	conn->wrs_posted = true;
	for (uint32_t i = 0; i < conn->rq_depth; i++) {
		ret = rps_vrb_recv_post(conn, &conn->rq[i]);
		if (ret) {
			conn->base.connected = false;
			return ret;
		}
	}
	pthread_mutex_lock(&conn->tp->lock);
	rps_list_add(&conn->tp->conns, &conn->node);
	pthread_mutex_unlock(&conn->tp->lock);
	vrb_conn_log_qp(conn);
	return 0;
}

void rps_vrb_conn_shutdown(struct vrb_conn *conn)
{
	struct ibv_qp_attr qattr = { .qp_state = IBV_QPS_ERR };

	conn->base.connected = false;
	if (conn->disconnected)
		return;
	conn->disconnected = true;
	/* rdma_disconnect moves the QP to ERR first, then sends a DREQ (or
	 * answers the peer's); if the CM was never connected, do the first
	 * part by hand so queued WRs flush either way */
	if (rdma_disconnect(conn->id) && conn->qp)
		ibv_modify_qp(conn->qp, &qattr, IBV_QP_STATE);
}

/* Reads and acks whatever events the channel still holds. */
static void vrb_conn_events_flush(struct vrb_conn *conn)
{
	struct rdma_cm_event *ev;

	while (rdma_get_cm_event(conn->ch, &ev) == 0) {
		rps_dbg("%s: %s: closing, dropped %s", conn->tp->base.device_name, conn->base.peer,
			rdma_event_str(ev->event));
		rdma_ack_cm_event(ev);
	}
}

void rps_vrb_conn_bury(struct vrb_conn *conn)
{
	struct vrb_cq *cq = conn->cq;

	/* late completions may still name this conn's slots: keep them
	 * until the CQ goes rather than risk a use after free, and make the
	 * polls ignore them; the receive pool is no one's any more */
	for (uint32_t i = 0; i < conn->sq_depth; i++)
		conn->sq[i].wr.kind = VRB_WR_DEAD;
	for (uint32_t i = 0; i < conn->rq_depth; i++)
		conn->rq[i].wr.kind = VRB_WR_DEAD;
	conn->drain_sq.kind = VRB_WR_DEAD;
	if (conn->pool_mr && ibv_dereg_mr(conn->pool_mr))
		rps_warn("%s: %s: deregister receive pool: %s", conn->tp->base.device_name,
			 conn->base.peer, strerror(errno));
	conn->pool_mr = NULL;
	pthread_mutex_lock(&cq->grave_lock);
	rps_list_add(&cq->graves, &conn->node);
	pthread_mutex_unlock(&cq->grave_lock);
}

/* Takes conn off the transport: no more events, no progress on it. */
static void vrb_conn_unlist(struct vrb_conn *conn)
{
	pthread_mutex_lock(&conn->tp->lock);
	if (conn->in_epoll) {
		epoll_ctl(conn->tp->epfd, EPOLL_CTL_DEL, conn->ch->fd, NULL);
		conn->in_epoll = false;
	}
	rps_list_del(&conn->node);
	pthread_mutex_unlock(&conn->tp->lock);
}

/* may_drain: we are on the CQ's thread (conn_close), so conn's
 * completions can be taken off the CQ; else (a setup that failed, on any
 * thread) a conn that ever posted is buried instead. */
static void vrb_conn_teardown(struct vrb_conn *conn, bool may_drain)
{
	int ret = 0;

	vrb_conn_unlist(conn);
	rps_vrb_conn_shutdown(conn);
	if (conn->qp && conn->wrs_posted) {
		ret = may_drain ? rps_vrb_cq_drain_conn(conn->cq, conn) : -EAGAIN;
		if (ret == -ETIMEDOUT)
			rps_warn("%s: %s: QP did not flush in %d ms; keeping its "
				 "work-request state until its CQ is destroyed",
				 conn->tp->base.device_name, conn->base.peer, VRB_DRAIN_TIMEOUT_MS);
		else if (ret == -ENOSPC)
			rps_warn("%s: %s: no room left to keep the CQ's other "
				 "completions while closing (poll the CQ more often); keeping "
				 "this connection's work-request state until the CQ is destroyed",
				 conn->tp->base.device_name, conn->base.peer);
	}
	if (conn->qp) {
		rdma_destroy_qp(conn->id);
		conn->qp = NULL;
	}
	vrb_conn_events_flush(conn);
	rdma_destroy_id(conn->id);
	rdma_destroy_event_channel(conn->ch);
	if (ret)
		rps_vrb_conn_bury(conn);
	else
		rps_vrb_conn_free(conn);
}

void rps_vrb_conn_destroy(struct vrb_conn *conn)
{
	vrb_conn_teardown(conn, false);
}

void rps_vrb_conn_close(rps_conn_t *base)
{
	struct vrb_conn *conn = vrb_conn(base);

	rps_dbg("%s: %s: closing", base->tp->device_name, base->peer);
	vrb_conn_teardown(conn, true);
}

void rps_vrb_conn_event(struct vrb_conn *conn, const struct rdma_cm_event *ev)
{
	const char *dev = conn->tp->base.device_name;

	switch (ev->event) {
	case RDMA_CM_EVENT_DISCONNECTED:
		if (conn->base.connected)
			rps_info("%s: %s disconnected", dev, conn->base.peer);
		rps_vrb_conn_shutdown(conn);
		break;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		rps_err("%s: %s: device removed", dev, conn->base.peer);
		rps_vrb_conn_shutdown(conn);
		break;
	case RDMA_CM_EVENT_ADDR_CHANGE:
		rps_warn("%s: %s: local address changed; connection closed", dev, conn->base.peer);
		rps_vrb_conn_shutdown(conn);
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		break;
	default:
		rps_dbg("%s: %s: ignored %s (status %d)", dev, conn->base.peer,
			rdma_event_str(ev->event), ev->status);
		break;
	}
}
