/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: the data path.  Posting WRITE / WRITE_WITH_IMM / READ /
 * SEND on a connection's send ring, and polling a CQ in batches.
 *
 * Signaled WRITEs and SENDs ask for FI_DELIVERY_COMPLETE (FI_EP_MSG).  tcp otherwise
 * reports them done as soon as the socket took them, which breaks two
 * promises verbs keeps: a WRITE the target refuses (bad key, out of
 * range) would complete successfully while the target drops the
 * connection, and a signaled completion would not imply that the READs
 * posted before it have landed.  With it, completion waits for the
 * target's ack, which the target sends after it served everything that
 * came before; the cost is one round trip per signaled op, hidden when
 * several are in flight.  In RDM mode (shm) a WRITE of data asks for it
 * too: without it shm reports success for a WRITE its target refused
 * (with it, none at all: rps_post_write(3), BUGS).  A SEND and a
 * zero-length WRITE do not there: with delivery asked, a SEND would wait
 * for the target's next progress, which a receiver that only polls its
 * CQ now and then does not give, and shm reports nothing at all for a
 * zero-length WRITE.  shm serves a target's commands in order (the
 * msg_order asked for at open), so the order promises still hold.
 *
 * Completions read but not yet handed out (cq_progress, or a conn_close
 * emptying the CQ) wait in the CQ's parked ring; cq_poll hands them out
 * first, so the caller sees every completion in order.  The ring is
 * allocated with the CQ and nothing is read without room in it.
 *
 * Nothing here allocates, locks, or makes system calls besides the
 * libfabric post/poll calls themselves.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/ofi/ofi.h"
#include "util/compiler.h"
#include "util/log.h"

static const char *const ofi_op_names[] = {
	[RPS_OP_WRITE] = "write to",
	[RPS_OP_WRITE_IMM] = "write_imm to",
	[RPS_OP_READ] = "read from",
	[RPS_OP_SEND] = "send to",
};

static const rps_comp_type_t ofi_comp_types[] = {
	[RPS_OP_WRITE] = RPS_COMP_WRITE,
	[RPS_OP_WRITE_IMM] = RPS_COMP_WRITE_IMM,
	[RPS_OP_READ] = RPS_COMP_READ,
	[RPS_OP_SEND] = RPS_COMP_SEND,
};

/* ---- posting ------------------------------------------------------------ */

int rps_ofi_post_recv(struct rps_ofi_recv *recv)
{
	struct rps_ofi_conn *conn = recv->ctx.conn;
	struct iovec iov = { .iov_base = recv->buf, .iov_len = conn->recv_size };
	void *desc = conn->recv_desc;
	struct fi_msg msg = {
		.msg_iov = &iov,
		.desc = &desc,
		.iov_count = 1,
		.context = &recv->ctx.fi_ctx,
	};

	return (int)fi_recvmsg(conn->data_ep, &msg, FI_COMPLETION);
}

/* the local descriptor of op's region in the domain conn's data uses */
static inline void *ofi_desc(const struct rps_ofi_conn *conn, const rps_op_t *op)
{
	if (!op->mr)
		return NULL;
	return conn->shm ? rps_ofi_mr(op->mr)->shm_desc : rps_ofi_mr(op->mr)->desc;
}

static ssize_t ofi_post_rma(struct rps_ofi_conn *conn, const rps_op_t *op, struct rps_ofi_op *slot,
			    uint64_t flags)
{
	struct iovec iov = { .iov_base = op->buf, .iov_len = op->len };
	void *desc = ofi_desc(conn, op);
	struct fi_rma_iov rma = {
		.addr = op->remote_addr,
		.len = op->len,
		.key = op->rkey,
	};
	/* a zero-length op names no memory, local or remote (as in verbs) */
	struct fi_msg_rma msg = {
		.msg_iov = &iov,
		.desc = &desc,
		.iov_count = op->len || conn->rdm ? 1 : 0,
		.rma_iov = &rma,
		.rma_iov_count = op->len || conn->rdm ? 1 : 0,
		.addr = conn->peer_addr,
		.context = &slot->ctx.fi_ctx,
	};

	if (op->type == RPS_OP_READ)
		return fi_readmsg(conn->data_ep, &msg, flags & ~FI_INJECT);
	if (op->type == RPS_OP_WRITE_IMM) {
		/* the target maps the high half back to its connection */
		msg.data = (uint64_t)conn->peer_token << 32 | op->imm;
		flags |= FI_REMOTE_CQ_DATA;
	}
	if ((flags & FI_COMPLETION) && (op->len || !conn->rdm))
		flags |= FI_DELIVERY_COMPLETE;
	return fi_writemsg(conn->data_ep, &msg, flags);
}

static ssize_t ofi_post_send(struct rps_ofi_conn *conn, const rps_op_t *op, struct rps_ofi_op *slot,
			     uint64_t flags)
{
	struct iovec iov = { .iov_base = op->buf, .iov_len = op->len };
	void *desc = ofi_desc(conn, op);
	struct fi_msg msg = {
		.msg_iov = &iov,
		.desc = &desc,
		.iov_count = op->len ? 1 : 0,
		.addr = conn->peer_addr,
		.context = &slot->ctx.fi_ctx,
	};

	if ((flags & FI_COMPLETION) && !conn->rdm)
		flags |= FI_DELIVERY_COMPLETE;
	return fi_sendmsg(conn->data_ep, &msg, flags);
}

static int ofi_post_error(struct rps_ofi_conn *conn, const rps_op_t *op, ssize_t ret)
{
	struct rps_ofi_transport *tp = conn->tp;

	if (ret == -FI_EAGAIN)
		return -EAGAIN;
	if (!conn->err_logged) {
		conn->err_logged = true;
		rps_err("%s: %s %s: %s", tp->base.device_name, ofi_op_names[op->type],
			conn->base.peer, fi_strerror((int)-ret));
	}
	switch (ret) {
	case -FI_EOPBADSTATE:
	case -FI_ENOTCONN:
	case -FI_ECONNRESET:
	case -FI_ECONNABORTED:
	case -FI_ESHUTDOWN:
	case -EPIPE:
		conn->base.connected = false;
		return -ENOTCONN;
	case -FI_ENOMEM:
		return -ENOMEM;
	case -EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EINVAL;
	}
}

int rps_ofi_post(rps_conn_t *bconn, const rps_op_t *op)
{
	struct rps_ofi_conn *conn = rps_ofi_conn(bconn);
	struct rps_ofi_op *slot;
	uint64_t flags = 0;
	ssize_t ret;

	/* the caller keeps at most sq_depth ops outstanding; a slot whose
	 * signaled op has not completed yet is still the provider's */
	if (rps_unlikely(conn->sq_posted - conn->sq_retired >= conn->sq_depth))
		return -EAGAIN;
	slot = &conn->ops[conn->sq_posted % conn->sq_depth];
	if (rps_unlikely(slot->pending))
		return -EAGAIN;

	if (!(op->flags & RPS_POST_UNSIGNALED))
		flags |= FI_COMPLETION;
	if (op->len <= conn->inline_max && conn->inline_max && (op->len || !conn->rdm))
		flags |= FI_INJECT;
	slot->wr_id = op->wr_id;
	slot->type = op->type;
	slot->seq = conn->sq_posted;
	slot->pending = flags & FI_COMPLETION;

	if (op->type == RPS_OP_SEND)
		ret = ofi_post_send(conn, op, slot, flags);
	else
		ret = ofi_post_rma(conn, op, slot, flags);
	if (rps_likely(ret == 0)) {
		conn->sq_posted++;
		return 0;
	}
	slot->pending = false;
	return ofi_post_error(conn, op, ret);
}

/* ---- completions -------------------------------------------------------- */

/* A completion of op means every op posted before it is done too (the
 * send queue drains in order), so their slots may be reused. */
static inline void ofi_op_retire(struct rps_ofi_conn *conn, struct rps_ofi_op *op)
{
	op->pending = false;
	if (op->seq >= conn->sq_retired)
		conn->sq_retired = op->seq + 1;
}

static inline bool ofi_is_remote_imm(uint64_t flags)
{
	return (flags & (FI_REMOTE_CQ_DATA | FI_RECV)) == FI_REMOTE_CQ_DATA;
}

/* Fills comp from a successful entry; 0 when the entry is for no one
 * (a WRITE_WITH_IMM of a connection already closed). */
static inline int ofi_comp_success(struct rps_ofi_cq *cq, const struct fi_cq_data_entry *e,
				   rps_completion_t *comp, struct rps_ofi_recv **recv_p)
{
	struct rps_ofi_ctx *ctx;
	struct rps_ofi_conn *conn;

	*recv_p = NULL;
	memset(comp, 0, sizeof(*comp));
	if (ofi_is_remote_imm(e->flags)) {
		/* no context names the endpoint: our token does */
		conn = rps_ofi_token_lookup(cq->tp, (uint32_t)(e->data >> 32));
		if (rps_unlikely(!conn))
			return 0;
		comp->conn = &conn->base;
		comp->type = RPS_COMP_REMOTE_WRITE_IMM;
		comp->imm = (uint32_t)e->data;
		comp->len = (uint32_t)e->len;
		return 1;
	}
	ctx = e->op_context;
	/* no context, or a buried connection's leftover: no one's */
	if (rps_unlikely(!ctx || ctx->conn->dead))
		return 0;
	comp->conn = &ctx->conn->base;
	if (ctx->kind == RPS_OFI_CTX_RECV) {
		struct rps_ofi_recv *recv = container_of(ctx, struct rps_ofi_recv, ctx);

		comp->type = RPS_COMP_RECV;
		comp->len = (uint32_t)e->len;
		comp->data = recv->buf;
		*recv_p = recv;
		return 1;
	}
	struct rps_ofi_op *op = container_of(ctx, struct rps_ofi_op, ctx);

	ofi_op_retire(ctx->conn, op);
	comp->wr_id = op->wr_id;
	comp->type = ofi_comp_types[op->type];
	return 1;
}

/* Logs the first failed completion of a connection; what names the
 * operation and its direction ("write to", "receive from"). */
static void ofi_log_comp_error(struct rps_ofi_conn *conn, const char *what,
			       const struct fi_cq_err_entry *err, int status)
{
	const char *dev = conn->tp->base.device_name;

	if (conn->err_logged) {
		rps_dbg("%s: %s %s failed: %s", dev, what, conn->base.peer, fi_strerror(err->err));
		return;
	}
	conn->err_logged = true;
	/* a flush says the connection died, not why: the peer went away,
	 * or refused an access (tcp then drops the connection) */
	rps_log_msg(status == -RPS_ERR_FLUSHED ? RPS_LOG_WARN : RPS_LOG_ERROR,
		    "%s: %s %s failed: %s (libfabric: %s)", dev, what, conn->base.peer,
		    rps_strerror(status), fi_strerror(err->err));
}

/* Reads one error entry into comp.  Returns 1, 0 when it is for no one
 * (a provider-managed receive flushed by a disconnect), or -errno. */
static int ofi_comp_error(struct rps_ofi_cq *cq, struct fid_cq *fcq, rps_completion_t *comp,
			  struct rps_ofi_recv **recv_p)
{
	struct fi_cq_err_entry err = { 0 };
	struct rps_ofi_conn *conn;
	struct rps_ofi_ctx *ctx;
	ssize_t ret;

	*recv_p = NULL;
	ret = rps_ofi_cq_readerr(cq, fcq, &err);
	if (ret == -FI_EAGAIN)
		return 0;
	if (ret < 0) {
		rps_err("%s: fi_cq_readerr: %s", cq->tp->base.device_name, fi_strerror((int)-ret));
		return -EIO;
	}
	memset(comp, 0, sizeof(*comp));
	comp->status = rps_ofi_comp_errno(err.err);
	if (ofi_is_remote_imm(err.flags)) {
		conn = rps_ofi_token_lookup(cq->tp, (uint32_t)(err.data >> 32));
		if (!conn)
			return 0;
		comp->type = RPS_COMP_REMOTE_WRITE_IMM;
		comp->imm = (uint32_t)err.data;
		ofi_log_comp_error(conn, "remote write_imm from", &err, comp->status);
		goto out;
	}
	ctx = err.op_context;
	if (!ctx) {
		rps_err("%s: completion error with no context (flags 0x%llx): %s",
			cq->tp->base.device_name, (unsigned long long)err.flags,
			fi_strerror(err.err));
		return 0;
	}
	conn = ctx->conn;
	if (conn->dead)
		return 0;
	if (ctx->kind == RPS_OFI_CTX_RECV) {
		conn->base.connected = false;
		/* our own receive buffers, flushed by a disconnect */
		if (err.err == ECANCELED)
			return 0;
		comp->type = RPS_COMP_RECV;
		ofi_log_comp_error(conn, "receive from", &err, comp->status);
	} else {
		struct rps_ofi_op *op = container_of(ctx, struct rps_ofi_op, ctx);

		ofi_op_retire(conn, op);
		comp->wr_id = op->wr_id;
		comp->type = ofi_comp_types[op->type];
		ofi_log_comp_error(conn, ofi_op_names[op->type], &err, comp->status);
	}
out:
	/* on an FI_EP_MSG endpoint every error means the endpoint is gone */
	conn->base.connected = false;
	comp->conn = &conn->base;
	return 1;
}

/* One fi_cq_read of up to max entries (max <= RPS_OFI_CQ_BATCH), or one
 * error entry.  Returns completions produced, or -errno; *nraw_p is the
 * number of entries consumed, -1 when the CQ was empty. */
static int ofi_cq_read_fid(struct rps_ofi_cq *cq, struct fid_cq *fcq, rps_completion_t *comps,
			   struct rps_ofi_recv **recvs, int max, int *nraw_p)
{
	struct fi_cq_data_entry e[RPS_OFI_CQ_BATCH];
	ssize_t ret;
	int n = 0;

	ret = rps_ofi_cq_read(cq, fcq, e, (size_t)max);
	if (ret == -FI_EAGAIN) {
		*nraw_p = -1;
		return 0;
	}
	if (ret == -FI_EAVAIL) {
		*nraw_p = 1;
		return ofi_comp_error(cq, fcq, comps, recvs);
	}
	if (rps_unlikely(ret < 0)) {
		rps_err("%s: fi_cq_read: %s", cq->tp->base.device_name, fi_strerror((int)-ret));
		return -EIO;
	}
	for (ssize_t i = 0; i < ret; i++)
		n += ofi_comp_success(cq, &e[i], &comps[n], &recvs[n]);
	*nraw_p = (int)ret;
	return n;
}

/* ofi_cq_read_fid of the tcp (or only) CQ and, while connections use
 * it, of the shm one next to it, as if they were one: taking turns at
 * going first, so neither starves the other. */
static int ofi_cq_read_batch(struct rps_ofi_cq *cq, rps_completion_t *comps,
			     struct rps_ofi_recv **recvs, int max, int *nraw_p)
{
	struct fid_cq *first = cq->cq, *second = NULL;
	int n, m, nraw2;

	if (cq->shm_cq && atomic_load_explicit(&cq->nshm, memory_order_relaxed)) {
		second = cq->shm_cq;
		cq->shm_turn = !cq->shm_turn;
		if (cq->shm_turn) {
			first = cq->shm_cq;
			second = cq->cq;
		}
	}
	n = ofi_cq_read_fid(cq, first, comps, recvs, max, nraw_p);
	if (!second || n < 0 || n >= max)
		return n;
	m = ofi_cq_read_fid(cq, second, comps + n, recvs + n, max - n, &nraw2);
	if (m < 0)
		return n ? n : m;
	if (nraw2 >= 0)
		*nraw_p = (*nraw_p > 0 ? *nraw_p : 0) + nraw2;
	return n + m;
}

/* Gives the buffers handed out by the last poll back to their endpoints. */
static void ofi_cq_repost(struct rps_ofi_cq *cq)
{
	for (uint32_t i = 0; i < cq->nrepost; i++) {
		struct rps_ofi_recv *recv = cq->repost[i];
		struct rps_ofi_conn *conn = recv->ctx.conn;
		int ret;

		if (!conn->base.connected)
			continue;
		ret = rps_ofi_post_recv(recv);
		if (rps_unlikely(ret) && !conn->err_logged) {
			conn->err_logged = true;
			rps_err("%s: repost receive from %s: %s", conn->tp->base.device_name,
				conn->base.peer, fi_strerror(-ret));
		}
	}
	cq->nrepost = 0;
}

static inline struct rps_ofi_parked *ofi_parked_at(struct rps_ofi_cq *cq, uint32_t i)
{
	uint32_t k = cq->parked_head + i;

	return &cq->parked[k < cq->parked_cap ? k : k - cq->parked_cap];
}

/* Hands out up to max parked completions, oldest first. */
static int ofi_cq_unpark(struct rps_ofi_cq *cq, rps_completion_t *comps, int max)
{
	int n = 0;

	while (cq->parked_count && n < max) {
		struct rps_ofi_parked *p = ofi_parked_at(cq, 0);

		comps[n++] = p->comp;
		if (p->recv)
			cq->repost[cq->nrepost++] = p->recv;
		cq->parked_head = cq->parked_head + 1 < cq->parked_cap ? cq->parked_head + 1 : 0;
		cq->parked_count--;
	}
	if (!cq->parked_count)
		cq->parked_head = 0;
	return n;
}

int rps_ofi_cq_poll(rps_cq_t *bcq, rps_completion_t *comps, int max)
{
	struct rps_ofi_cq *cq = rps_ofi_cq(bcq);
	struct rps_ofi_recv *recvs[RPS_OFI_CQ_BATCH];
	int n = 0, r, want, nraw;

	if (cq->nrepost)
		ofi_cq_repost(cq);
	/* every RECV handed out must fit the repost list */
	if ((uint32_t)max > cq->repost_cap)
		max = (int)cq->repost_cap;
	if (rps_unlikely(cq->parked_count)) {
		n = ofi_cq_unpark(cq, comps, max);
		/* not all handed out: newer ones must wait behind them */
		if (cq->parked_count)
			return n;
	}

	while (n < max) {
		want = max - n < RPS_OFI_CQ_BATCH ? max - n : RPS_OFI_CQ_BATCH;
		r = ofi_cq_read_batch(cq, comps + n, recvs, want, &nraw);
		if (rps_unlikely(r < 0))
			return n ? n : r;
		for (int i = 0; i < r; i++) {
			if (recvs[i])
				cq->repost[cq->nrepost++] = recvs[i];
		}
		n += r;
		if (nraw < want)
			break;
	}
	return n;
}

/* Reads up to room entries into the parked ring (skipping conn's when
 * conn is not NULL).  Returns the entries read, fewer than room when the
 * CQ ran dry, or -errno. */
static int ofi_cq_park(struct rps_ofi_cq *cq, uint32_t room, const struct rps_ofi_conn *conn)
{
	rps_completion_t comps[RPS_OFI_CQ_BATCH];
	struct rps_ofi_recv *recvs[RPS_OFI_CQ_BATCH];
	uint32_t taken = 0;
	int r, nraw;

	while (taken < room) {
		int want = room - taken < RPS_OFI_CQ_BATCH ? (int)(room - taken) : RPS_OFI_CQ_BATCH;

		r = ofi_cq_read_batch(cq, comps, recvs, want, &nraw);
		if (r < 0)
			return r;
		for (int k = 0; k < r; k++) {
			struct rps_ofi_parked *p;

			if (conn && comps[k].conn == &conn->base)
				continue;
			p = ofi_parked_at(cq, cq->parked_count++);
			p->comp = comps[k];
			p->recv = recvs[k];
		}
		/* empty: -1; an error entry comes alone, so a short read
		 * says nothing about what is left */
		if (nraw < 0)
			break;
		taken += (uint32_t)nraw;
	}
	return (int)taken;
}

int rps_ofi_cq_progress(rps_cq_t *bcq)
{
	struct rps_ofi_cq *cq = rps_ofi_cq(bcq);
	uint32_t limit = cq->parked_cap / 2;
	int ret;

	if (cq->parked_count >= limit) {

		/* no room to keep more: only move data (manual progress; a
		 * read of 0 entries takes none) */
		rps_ofi_cq_drive(cq);
		return (int)cq->parked_count;
	}
	ret = ofi_cq_park(cq, limit - cq->parked_count, NULL);
	return ret < 0 ? ret : (int)cq->parked_count;
}

/* ---- conn_close support -------------------------------------------------- */

int rps_ofi_cq_forget_conn(struct rps_ofi_cq *cq, struct rps_ofi_conn *conn)
{
	uint32_t i, kept;
	int r;

	for (i = kept = 0; i < cq->nrepost; i++) {
		if (cq->repost[i]->ctx.conn != conn)
			cq->repost[kept++] = cq->repost[i];
	}
	cq->nrepost = kept;
	for (i = kept = 0; i < cq->parked_count; i++) {
		struct rps_ofi_parked *p = ofi_parked_at(cq, i);

		if (p->comp.conn != &conn->base)
			*ofi_parked_at(cq, kept++) = *p;
	}
	cq->parked_count = kept;
	/* the endpoint is closed: whatever it left in the CQ is all there
	 * will ever be; keep the other connections' completions in order */
	for (;;) {
		uint32_t room = cq->parked_cap - cq->parked_count;

		if (room == 0)
			return -ENOSPC;
		r = ofi_cq_park(cq, room, conn);
		if (r < 0)
			return r;
		if ((uint32_t)r < room)
			return 0;
	}
}

void rps_ofi_cq_bury(struct rps_ofi_cq *cq, struct rps_ofi_conn *conn)
{
	conn->dead = true;
	pthread_mutex_lock(&cq->grave_lock);
	rps_list_add(&cq->graves, &conn->link);
	pthread_mutex_unlock(&cq->grave_lock);
}
