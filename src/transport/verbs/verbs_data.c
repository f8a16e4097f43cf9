/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: the data path (post, CQ polling, completion mapping) and
 * the drain that takes a closing connection's completions off its CQ.
 *
 * Send-queue accounting.  A connection owns a ring of sq_depth slots; post
 * n uses slot n % sq_depth and the wr_id of its WR is that slot.  RC
 * completes a send queue in order, so a completion of post n retires
 * every post before it too (unsignaled ones included): sq_tail = n + 1.
 * The ring is full when sq_head - sq_tail == sq_depth, which is the
 * caller's -EAGAIN; the post that takes the last free slot is always
 * signaled (its completion is swallowed if the caller did not ask), so
 * a caller that signals rarely can slow the ring down but never wedge it.
 *
 * Receives.  Every receive buffer is posted once when the connection is
 * established.  A RECV completion hands the buffer to the caller until
 * its next cq_poll, which re-posts it first; a WRITE_WITH_IMM consumes a
 * receive WR but no data, so its buffer is re-posted as soon as the
 * caller is handed the completion.  Flushed receives (the QP went to the
 * error state) are neither reported nor re-posted.
 *
 * Pending completions.  cq_progress and a conn_close drain take
 * completions off the device that the caller has not seen yet: they wait
 * in cq->pend (see struct vrb_pending), which cq_poll empties first, so
 * the caller sees every completion in device order.  The ring is
 * allocated with the CQ and nothing is taken off the device without room
 * in it: a completion is never dropped.
 *
 * No allocation, locking or system call on the success paths.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "transport/verbs/verbs.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

static const char *const vrb_op_names[] = {
	[RPS_OP_WRITE] = "write",
	[RPS_OP_WRITE_IMM] = "write_imm",
	[RPS_OP_READ] = "read",
	[RPS_OP_SEND] = "send",
};

static const enum ibv_wr_opcode vrb_wr_opcodes[] = {
	[RPS_OP_WRITE] = IBV_WR_RDMA_WRITE,
	[RPS_OP_WRITE_IMM] = IBV_WR_RDMA_WRITE_WITH_IMM,
	[RPS_OP_READ] = IBV_WR_RDMA_READ,
	[RPS_OP_SEND] = IBV_WR_SEND,
};

static const rps_comp_type_t vrb_comp_types[] = {
	[RPS_OP_WRITE] = RPS_COMP_WRITE,
	[RPS_OP_WRITE_IMM] = RPS_COMP_WRITE_IMM,
	[RPS_OP_READ] = RPS_COMP_READ,
	[RPS_OP_SEND] = RPS_COMP_SEND,
};

const char *rps_vrb_op_name(unsigned op)
{
	if (op < RPS_ARRAY_SIZE(vrb_op_names) && vrb_op_names[op])
		return vrb_op_names[op];
	return "operation";
}

/* ---- post ------------------------------------------------------------------- */

static int vrb_post_failed(struct vrb_conn *conn, const rps_op_t *op, int err)
{
	/* the device's queue is full even though our ring is not (a device
	 * that counts unsignaled WRs differently): the caller polls, retries */
	if (err == ENOMEM)
		return -EAGAIN;
	rps_err("%s: %s of %zu bytes to %s: ibv_post_send: %s", conn->tp->base.device_name,
		rps_vrb_op_name(op->type), op->len, conn->base.peer, strerror(err));
	return -err;
}

/* Fills slot and the WR (with its one SGE) for bytes [off, off+len) of op;
 * last = the final WR of the operation. */
static void vrb_wr_prep(struct vrb_conn *conn, const rps_op_t *op, struct vrb_send *slot,
			size_t off, size_t len, bool last, struct ibv_send_wr *wr,
			struct ibv_sge *sge)
{
	slot->op = (uint8_t)op->type;
	slot->report = last && !(op->flags & RPS_POST_UNSIGNALED);
	slot->part = !last;
	slot->seq = conn->sq_head;
	slot->wr_id = op->wr_id;

	sge->addr = (uintptr_t)op->buf + off;
	sge->length = (uint32_t)len;
	sge->lkey = len ? container_of(op->mr, struct vrb_mr, base)->mr->lkey : 0;
	wr->wr_id = (uintptr_t)&slot->wr;
	wr->next = NULL;
	wr->sg_list = sge;
	wr->num_sge = len ? 1 : 0;
	wr->opcode = vrb_wr_opcodes[op->type];
	/* the pieces before a WRITE_WITH_IMM are plain WRITEs: RC places
	 * them before the immediate reaches the target */
	if (!last && op->type == RPS_OP_WRITE_IMM)
		wr->opcode = IBV_WR_RDMA_WRITE;
	wr->send_flags = 0;
	if (slot->report)
		wr->send_flags |= IBV_SEND_SIGNALED;
	if (len && len <= conn->max_inline && op->type != RPS_OP_READ)
		wr->send_flags |= IBV_SEND_INLINE;
	wr->imm_data = htonl(op->imm);
	wr->wr.rdma.remote_addr = op->remote_addr + off;
	wr->wr.rdma.rkey = (uint32_t)op->rkey;
}

/* Takes the slots of n posted WRs. */
static inline void vrb_sq_advance(struct vrb_conn *conn, uint32_t n)
{
	conn->sq_head += n;
	conn->sq_pi += n;
	if (conn->sq_pi >= conn->sq_depth)
		conn->sq_pi -= conn->sq_depth;
}

/* An operation longer than the port's largest message, as a chain of
 * WRs of at most max_msg_sz bytes; only the last one may be signaled or
 * reported, and it carries the first error of any piece. */
static int vrb_post_split(struct vrb_conn *conn, const rps_op_t *op, uint64_t used)
{
	struct ibv_send_wr wrs[VRB_SPLIT_MAX], *bad_wr = wrs;
	struct ibv_sge sges[VRB_SPLIT_MAX];
	size_t chunk = conn->tp->max_msg_sz;
	size_t n = (op->len + chunk - 1) / chunk;
	uint32_t pi = conn->sq_pi;
	int ret;

	if (rps_unlikely(n > VRB_SPLIT_MAX || n > conn->sq_depth)) {
		rps_err("%s: %s of %zu bytes to %s: more than %zu pieces of the "
			"port's max_msg_sz %zu (sq_depth %u)",
			conn->tp->base.device_name, rps_vrb_op_name(op->type), op->len,
			conn->base.peer,
			n > VRB_SPLIT_MAX ? (size_t)VRB_SPLIT_MAX : (size_t)conn->sq_depth, chunk,
			conn->sq_depth);
		return -EMSGSIZE;
	}
	if (used + n > conn->sq_depth)
		return -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * chunk;
		size_t len = op->len - off < chunk ? op->len - off : chunk;

		vrb_wr_prep(conn, op, &conn->sq[pi], off, len, i == n - 1, &wrs[i], &sges[i]);
		conn->sq[pi].seq = conn->sq_head + i;
		if (i)
			wrs[i - 1].next = &wrs[i];
		if (++pi == conn->sq_depth)
			pi = 0;
	}
	if (used + n == conn->sq_depth)
		wrs[n - 1].send_flags |= IBV_SEND_SIGNALED;
	ret = ibv_post_send(conn->qp, wrs, &bad_wr);
	if (rps_unlikely(ret)) {
		/* a partial chain cannot be taken back: count what went */
		if (bad_wr > wrs && bad_wr < wrs + n)
			vrb_sq_advance(conn, (uint32_t)(bad_wr - wrs));
		return vrb_post_failed(conn, op, ret > 0 ? ret : errno);
	}
	vrb_sq_advance(conn, (uint32_t)n);
	return 0;
}

int rps_vrb_post(rps_conn_t *base, const rps_op_t *op)
{
	struct vrb_conn *conn = vrb_conn(base);
	uint64_t used = conn->sq_head - conn->sq_tail;
	struct ibv_send_wr wr, *bad_wr;
	struct ibv_sge sge;
	int ret;

	if (rps_unlikely(!base->connected))
		return -ENOTCONN;
	if (rps_unlikely(used >= conn->sq_depth))
		return -EAGAIN;
	if (rps_unlikely(op->len > conn->tp->max_msg_sz))
		return vrb_post_split(conn, op, used);
	vrb_wr_prep(conn, op, &conn->sq[conn->sq_pi], 0, op->len, true, &wr, &sge);
	/* the last free slot is always signaled: see the top of the file */
	if (used + 1 == conn->sq_depth)
		wr.send_flags |= IBV_SEND_SIGNALED;
	ret = ibv_post_send(conn->qp, &wr, &bad_wr);
	if (rps_unlikely(ret))
		return vrb_post_failed(conn, op, ret > 0 ? ret : errno);
	vrb_sq_advance(conn, 1);
	return 0;
}

int rps_vrb_recv_post(struct vrb_conn *conn, struct vrb_recv *rx)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)rx->buf,
		.length = conn->msg_size,
		.lkey = conn->pool_mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.wr_id = (uintptr_t)&rx->wr,
		.sg_list = &sge,
		.num_sge = 1,
	};
	struct ibv_recv_wr *bad_wr;
	int ret;

	ret = ibv_post_recv(conn->qp, &wr, &bad_wr);
	if (rps_unlikely(ret)) {
		ret = ret > 0 ? ret : errno;
		rps_err("%s: %s: ibv_post_recv: %s", conn->tp->base.device_name, conn->base.peer,
			strerror(ret));
		return -ret;
	}
	atomic_fetch_add_explicit(&conn->rq_posted, 1, memory_order_relaxed);
	return 0;
}

/* ---- completions ------------------------------------------------------------ */

static int vrb_wc_errno(enum ibv_wc_status status, bool recv)
{
	switch (status) {
	case IBV_WC_REM_ACCESS_ERR:
	case IBV_WC_REM_INV_REQ_ERR:
		return -RPS_ERR_REMOTE_ACCESS;
	case IBV_WC_WR_FLUSH_ERR:
		return -RPS_ERR_FLUSHED;
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return -RPS_ERR_RETRY_EXCEEDED;
	case IBV_WC_LOC_LEN_ERR:
		/* on a receive: the peer sent more than a pool buffer holds */
		return recv ? -RPS_ERR_TRUNCATED : -RPS_ERR_LOCAL_ACCESS;
	case IBV_WC_LOC_PROT_ERR:
		return -RPS_ERR_LOCAL_ACCESS;
	case IBV_WC_REM_OP_ERR:
		return -RPS_ERR_REMOTE_OP;
	default:
		return -EIO;
	}
}

/* An error completion: the QP is in the error state now, so the
 * connection is down; the first one also disconnects, so the peer learns
 * it too.  Logs the first real error of the connection; the flushes that
 * follow it are expected and stay quiet. */
static int vrb_wc_error(struct vrb_conn *conn, const struct ibv_wc *wc, const char *what,
			const char *dir, bool recv)
{
	if (!conn->disconnected)
		rps_vrb_conn_shutdown(conn);
	conn->base.connected = false;
	if (wc->status == IBV_WC_WR_FLUSH_ERR) {
		rps_dbg("%s: %s %s %s: flushed", conn->tp->base.device_name, what, dir,
			conn->base.peer);
	} else if (!conn->err_logged) {
		conn->err_logged = true;
		rps_err("%s: %s %s %s failed: %s (vendor error 0x%x)", conn->tp->base.device_name,
			what, dir, conn->base.peer, ibv_wc_status_str(wc->status), wc->vendor_err);
	}
	return vrb_wc_errno(wc->status, recv);
}

static int vrb_wc_send(struct vrb_conn *conn, struct vrb_send *slot, const struct ibv_wc *wc,
		       rps_completion_t *comp)
{
	int status;

	conn->sq_tail = slot->seq + 1;
	if (rps_likely(wc->status == IBV_WC_SUCCESS)) {
		if (!slot->report)
			return 0;
		*comp = (rps_completion_t){
			.wr_id = slot->wr_id,
			.conn = &conn->base,
			.type = vrb_comp_types[slot->op],
		};
		return 1;
	}
	status = vrb_wc_error(conn, wc, rps_vrb_op_name(slot->op),
			      slot->op == RPS_OP_READ ? "from" : "to", false);
	if (slot->part) {
		/* one completion per operation: its last WR (flushed now, if
		 * not failed) reports the piece's error */
		if (!conn->part_err)
			conn->part_err = status;
		return 0;
	}
	if (conn->part_err) {
		status = conn->part_err;
		conn->part_err = 0;
	}
	*comp = (rps_completion_t){
		.wr_id = slot->wr_id,
		.conn = &conn->base,
		.type = vrb_comp_types[slot->op],
		.status = status,
	};
	return 1;
}

static int vrb_wc_recv(struct vrb_cq *cq, struct vrb_conn *conn, struct vrb_recv *rx,
		       const struct ibv_wc *wc, rps_completion_t *comp)
{
	atomic_fetch_sub_explicit(&conn->rq_posted, 1, memory_order_relaxed);
	if (rps_unlikely(wc->status != IBV_WC_SUCCESS)) {
		if (wc->status == IBV_WC_WR_FLUSH_ERR) {
			conn->base.connected = false;
			return 0;
		}
		*comp = (rps_completion_t){
			.conn = &conn->base,
			.type = RPS_COMP_RECV,
			.status = vrb_wc_error(conn, wc, "receive", "from", true),
		};
		return 1;
	}
	if (wc->opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
		*comp = (rps_completion_t){
			.conn = &conn->base,
			.type = RPS_COMP_REMOTE_WRITE_IMM,
			.imm = ntohl(wc->imm_data),
		};
		if (rps_likely(conn->base.connected))
			rps_vrb_recv_post(conn, rx);
		return 1;
	}
	*comp = (rps_completion_t){
		.conn = &conn->base,
		.type = RPS_COMP_RECV,
		.len = wc->byte_len,
		.data = rx->buf,
	};
	rx->next = cq->held;
	cq->held = rx;
	return 1;
}

/* Maps one work completion; returns how many completions it produced
 * (0 for those no one is told of: unsignaled sends, flushes, buried
 * connections' leftovers). */
static int vrb_wc_map(struct vrb_cq *cq, const struct ibv_wc *wc, rps_completion_t *comp)
{
	struct vrb_wr *wr = (struct vrb_wr *)(uintptr_t)wc->wr_id;

	if (rps_likely(wr->kind == VRB_WR_SEND))
		return vrb_wc_send(wr->conn, container_of(wr, struct vrb_send, wr), wc, comp);
	if (rps_likely(wr->kind == VRB_WR_RECV))
		return vrb_wc_recv(cq, wr->conn, container_of(wr, struct vrb_recv, wr), wc, comp);
	return 0;
}

static inline bool vrb_wc_is_send(const struct ibv_wc *wc)
{
	return ((const struct vrb_wr *)(uintptr_t)wc->wr_id)->kind == VRB_WR_SEND;
}

/* Re-posts the buffers the previous poll handed out, except those of
 * connections that went down meanwhile. */
static void vrb_cq_repost_held(struct vrb_cq *cq)
{
	struct vrb_recv *rx = cq->held;

	cq->held = NULL;
	while (rx) {
		struct vrb_recv *next = rx->next;
		struct vrb_conn *conn = rx->wr.conn;

		if (conn->base.connected)
			rps_vrb_recv_post(conn, rx);
		rx = next;
	}
}

/* ---- the pending ring ------------------------------------------------------- */

static inline struct vrb_pending *vrb_pend_at(struct vrb_cq *cq, uint32_t i)
{
	uint32_t k = cq->pend_head + i;

	return &cq->pend[k < cq->pend_cap ? k : k - cq->pend_cap];
}

static inline struct vrb_pending *vrb_pend_push(struct vrb_cq *cq)
{
	return vrb_pend_at(cq, cq->pend_len++);
}

/* Keeps a completion taken off the device.  Sends are mapped now, in
 * device order, so their slots retire; an unsignaled one leaves nothing.
 * The caller made sure there is room. */
static void vrb_pend_take(struct vrb_cq *cq, const struct ibv_wc *wc)
{
	struct vrb_pending *p;
	rps_completion_t comp;

	if (!vrb_wc_is_send(wc)) {
		p = vrb_pend_push(cq);
		p->mapped = false;
		p->wc = *wc;
		return;
	}
	if (vrb_wc_map(cq, wc, &comp)) {
		p = vrb_pend_push(cq);
		p->mapped = true;
		p->comp = comp;
	}
}

/* Hands out up to max kept completions, oldest first. */
static int vrb_pend_deliver(struct vrb_cq *cq, rps_completion_t *comps, int max)
{
	int n = 0;

	while (n < max && cq->pend_len) {
		struct vrb_pending *p = vrb_pend_at(cq, 0);

		if (p->mapped)
			comps[n++] = p->comp;
		else
			n += vrb_wc_map(cq, &p->wc, &comps[n]);
		cq->pend_head = cq->pend_head + 1 < cq->pend_cap ? cq->pend_head + 1 : 0;
		cq->pend_len--;
	}
	if (!cq->pend_len)
		cq->pend_head = 0;
	return n;
}

/* Takes up to room completions off the device into the ring.  Returns
 * how many it took (fewer than asked: the device is empty), or -EIO. */
static int vrb_pend_fill(struct vrb_cq *cq, uint32_t room)
{
	struct ibv_wc wc[VRB_POLL_BATCH];
	uint32_t taken = 0;

	while (taken < room) {
		int want = room - taken < VRB_POLL_BATCH ? (int)(room - taken) : VRB_POLL_BATCH;
		int got = ibv_poll_cq(cq->cq, want, wc);

		if (rps_unlikely(got < 0)) {
			rps_err("%s: ibv_poll_cq failed (%d): CQ overrun?",
				cq->tp->base.device_name, got);
			return -EIO;
		}
		for (int i = 0; i < got; i++)
			vrb_pend_take(cq, &wc[i]);
		taken += (uint32_t)got;
		if (got < want)
			break;
	}
	return (int)taken;
}

/* ---- poll and progress ------------------------------------------------------- */

int rps_vrb_cq_poll(rps_cq_t *base, rps_completion_t *comps, int max)
{
	struct vrb_cq *cq = vrb_cq(base);
	struct ibv_wc wc[VRB_POLL_BATCH];
	int n = 0;

	if (cq->held)
		vrb_cq_repost_held(cq);
	if (rps_unlikely(cq->pend_len)) {
		n = vrb_pend_deliver(cq, comps, max);
		/* not all handed out: newer ones must wait behind them */
		if (cq->pend_len)
			return n;
	}
	while (n < max) {
		int want = max - n < VRB_POLL_BATCH ? max - n : VRB_POLL_BATCH;
		int got = ibv_poll_cq(cq->cq, want, wc);

		if (rps_unlikely(got < 0)) {
			rps_err("%s: ibv_poll_cq failed (%d): CQ overrun?", base->tp->device_name,
				got);
			return n ? n : -EIO;
		}
		for (int i = 0; i < got; i++)
			n += vrb_wc_map(cq, &wc[i], &comps[n]);
		if (got < want)
			break;
	}
	return n;
}

int rps_vrb_cq_progress(rps_cq_t *base)
{
	struct vrb_cq *cq = vrb_cq(base);
	uint32_t limit = cq->pend_cap / 2;
	int ret;

	if (cq->pend_len < limit) {
		ret = vrb_pend_fill(cq, limit - cq->pend_len);
		if (ret < 0)
			return ret;
	}
	return (int)cq->pend_len;
}

/* ---- drain (conn_close) ------------------------------------------------------ */

/* Forgets conn's kept completions and its handed-out buffers. */
static void vrb_cq_forget_conn(struct vrb_cq *cq, struct vrb_conn *conn)
{
	struct vrb_recv **prev = &cq->held;
	uint32_t kept = 0;

	for (uint32_t i = 0; i < cq->pend_len; i++) {
		struct vrb_pending *p = vrb_pend_at(cq, i);
		const struct vrb_wr *wr = (const struct vrb_wr *)(uintptr_t)p->wc.wr_id;

		if (p->mapped ? p->comp.conn == &conn->base : wr->conn == conn) {
			if (!p->mapped && wr->kind == VRB_WR_RECV)
				atomic_fetch_sub_explicit(&conn->rq_posted, 1,
							  memory_order_relaxed);
			continue;
		}
		*vrb_pend_at(cq, kept++) = *p;
	}
	cq->pend_len = kept;
	while (*prev) {
		if ((*prev)->wr.conn == conn)
			*prev = (*prev)->next;
		else
			prev = &(*prev)->next;
	}
}
/* Moves the QP to the error state (again: that also makes soft-RoCE flush
 * receives posted since it first got there) and queues a signaled marker
 * behind every send WR: once it completes, the send queue is empty. */
static int vrb_drain_start(struct vrb_conn *conn)
{
	struct ibv_qp_attr qattr = { .qp_state = IBV_QPS_ERR };
	struct ibv_send_wr wr = {
		.wr_id = (uintptr_t)&conn->drain_sq,
		.opcode = IBV_WR_SEND,
		.send_flags = IBV_SEND_SIGNALED,
	};
	struct ibv_send_wr *bad_wr;
	int ret;

	if (ibv_modify_qp(conn->qp, &qattr, IBV_QP_STATE)) {
		ret = errno ? errno : EIO;
		rps_err("%s: %s: move QP to the error state: %s", conn->tp->base.device_name,
			conn->base.peer, strerror(ret));
		return -ret;
	}
	ret = ibv_post_send(conn->qp, &wr, &bad_wr);
	if (ret) {
		ret = ret > 0 ? ret : errno;
		rps_err("%s: %s: post drain marker: %s", conn->tp->base.device_name,
			conn->base.peer, strerror(ret));
		return -ret;
	}
	return 0;
}

/* Sorts one completion taken off the CQ while draining conn: conn's own
 * are dropped (the caller closed it), others kept for the next poll. */
static void vrb_drain_wc(struct vrb_cq *cq, struct vrb_conn *conn, const struct ibv_wc *wc,
			 bool *sq_done_p)
{
	const struct vrb_wr *wr = (const struct vrb_wr *)(uintptr_t)wc->wr_id;

	if (wr->kind == VRB_WR_DEAD)
		return;
	if (wr->conn != conn) {
		vrb_pend_take(cq, wc);
		return;
	}
	if (wr->kind == VRB_WR_DRAIN)
		*sq_done_p = true;
	else if (wr->kind == VRB_WR_RECV)
		atomic_fetch_sub_explicit(&conn->rq_posted, 1, memory_order_relaxed);
}

int rps_vrb_cq_drain_conn(struct vrb_cq *cq, struct vrb_conn *conn)
{
	uint64_t deadline = rps_deadline_ns(VRB_DRAIN_TIMEOUT_MS);
	const struct timespec pause = { .tv_nsec = 100000 };
	struct ibv_wc wc[VRB_POLL_BATCH];
	bool sq_done = false;
	int ret;

	vrb_cq_forget_conn(cq, conn);
	ret = vrb_drain_start(conn);
	if (ret)
		return ret;
	while (!sq_done || atomic_load_explicit(&conn->rq_posted, memory_order_relaxed)) {
		uint32_t room = cq->pend_cap - cq->pend_len;
		int want = room < VRB_POLL_BATCH ? (int)room : VRB_POLL_BATCH;
		int got;

		/* every completion taken may be another conn's: take no more
		 * than the ring can keep */
		if (want == 0)
			return -ENOSPC;
		got = ibv_poll_cq(cq->cq, want, wc);
		if (got < 0)
			return -EIO;
		for (int i = 0; i < got; i++)
			vrb_drain_wc(cq, conn, &wc[i], &sq_done);
		if (got == 0) {
			if (rps_ms_left(deadline) == 0)
				return -ETIMEDOUT;
			nanosleep(&pause, NULL);
		}
	}
	return 0;
}
