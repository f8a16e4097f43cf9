/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider (libibverbs + librdmacm): private objects and the
 * functions its files share.  Not installed.
 *
 * Files:  verbs.c         the ops table
 *         verbs_device.c  probe, open/close, memory regions, CQ objects
 *         verbs_pd.c      protection domains (an ibv_pd each)
 *         verbs_cm.c      rdma_cm: listen, accept, connect, progress
 *         verbs_conn.c    a connection's QP, rings and receive pool; close
 *         verbs_data.c    post, CQ polling and progress, completion
 *                         mapping, the pending list, drain
 *
 * Work request ids.  Every WR the provider posts carries the address of a
 * struct vrb_wr (first member of a send slot, a receive buffer
 * descriptor, or a drain marker), so a completion leads straight to its
 * connection and the user's wr_id even when wc.opcode is undefined (error
 * completions).  Those structures live as long as the connection, and
 * conn_close drains the QP's completions out of the shared CQ before it
 * frees them, so no later poll can see a dangling wr_id.
 */
#ifndef RPS_VERBS_H
#define RPS_VERBS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "transport/transport_priv.h"
#include "util/list.h"

/* an operation longer than the port's max_msg_sz is posted as up to this
 * many WRs (soft-RoCE: 8 MiB each) */
#define VRB_SPLIT_MAX	     64
/* completions taken from the device per ibv_poll_cq call */
#define VRB_POLL_BATCH	     32
/* cap on RDMA READs in flight per QP, each way (devices allow 16-128) */
#define VRB_MAX_RD_ATOMIC    16
/* RC ACK timeout exponent: 4.096 us * 2^14 = 67 ms; with retry_count 7
 * a dead peer is noticed in about half a second instead of minutes */
#define VRB_ACK_TIMEOUT	     14
#define VRB_RETRY_COUNT	     7
#define VRB_RNR_RETRY_COUNT  7 /* 7 = retry forever on RNR NAK */
/* conn_close waits at most this long for the QP's flushes */
#define VRB_DRAIN_TIMEOUT_MS 2000
#define VRB_LISTEN_BACKLOG   128

enum vrb_wr_kind {
	VRB_WR_SEND = 1, /* a struct vrb_send slot: WRITE/READ/SEND */
	VRB_WR_RECV,	 /* a struct vrb_recv pool buffer */
	VRB_WR_DRAIN,	 /* conn_close's marker on the send queue */
	VRB_WR_DEAD,	 /* of a buried connection: ignored */
};

struct vrb_conn;

/* What every wr_id points at. */
struct vrb_wr {
	struct vrb_conn *conn;
	uint8_t kind; /* enum vrb_wr_kind */
};

/* One send-queue slot: the ring has sq_depth of them. */
struct vrb_send {
	struct vrb_wr wr;
	uint8_t op;	/* rps_op_type_t */
	bool report;	/* the caller asked for a completion */
	bool part;	/* not the last WR of an operation split in pieces */
	uint64_t seq;	/* post number: completing it retires all before */
	uint64_t wr_id; /* the caller's */
};

/* One receive buffer of the connection's pool. */
struct vrb_recv {
	struct vrb_wr wr;
	struct vrb_recv *next; /* on the CQ's held list */
	void *buf;
};

/* An rps_pd: an ibv_pd.  The transport's default PD is one too, embedded
 * in struct vrb_transport. */
struct vrb_pd {
	struct rps_pd base;
	struct ibv_pd *pd;
};

struct vrb_transport {
	struct rps_transport base;
	struct ibv_context **devices; /* rdma_get_devices(): owns ctx */
	struct ibv_context *ctx;
	struct vrb_pd pd; /* the default PD (base.pd points here) */
	struct ibv_device_attr dev_attr;
	uint8_t port_num;
	uint32_t max_msg_sz; /* the port's largest message */
	int epfd;	     /* the conns' event channels + async fd */
	/* connect and accept may run in different threads (a test that
	 * plays both sides does), and progress in yet another: the lock
	 * guards the list and keeps progress off a conn being closed */
	pthread_mutex_t lock;
	struct rps_list conns; /* struct vrb_conn.node */
};

struct vrb_mr {
	struct rps_mr base;
	struct ibv_mr *mr;
};

/* A completion taken off the device but not yet handed to the caller:
 * by cq_progress, or by a conn_close draining another connection.
 * Sends are mapped when taken (that retires their send-queue slots, in
 * device order); receives stay raw, so their buffer is re-posted only
 * once the caller has seen them. */
struct vrb_pending {
	bool mapped;
	union {
		rps_completion_t comp; /* mapped: handed out as is */
		struct ibv_wc wc;      /* raw: mapped when handed out */
	};
};

struct vrb_cq {
	struct rps_cq base;
	struct vrb_transport *tp;
	struct ibv_cq *cq;
	/* receive buffers handed out by the last poll: re-posted by the next */
	struct vrb_recv *held;
	/* completions kept for the next polls, oldest first: a ring of
	 * pend_cap = 2 x the CQ's depth, allocated with the CQ.  cq_progress
	 * fills it to the depth at most; a conn_close drain may use the
	 * rest.  Nothing is taken off the device without room here, so no
	 * completion is ever dropped. */
	struct vrb_pending *pend;
	uint32_t pend_cap, pend_head, pend_len;
	/* connections whose QP could not be drained: their work-request
	 * state stays allocated until the CQ goes, because completions that
	 * name it may still be on the device (guarded by grave_lock: setup
	 * failures on other threads add to it) */
	pthread_mutex_t grave_lock;
	struct rps_list graves; /* struct vrb_conn.node */
};

struct vrb_listener {
	struct rps_listener base;
	struct vrb_transport *tp;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	char name[RPS_PEER_NAME_MAX]; /* "addr:port" for log lines */
};

struct vrb_conn_req {
	struct rps_conn_req base;
	struct vrb_transport *tp;
	struct rdma_cm_id *id;			      /* still on the listener's channel */
	uint8_t responder_resources, initiator_depth; /* from the request */
};

struct vrb_conn {
	struct rps_conn base;
	struct rps_list node; /* on vrb_transport.conns */
	struct vrb_transport *tp;
	struct vrb_cq *cq;
	struct rdma_event_channel *ch; /* this conn's own, non-blocking */
	struct rdma_cm_id *id;
	struct ibv_pd *pd; /* of the QP and the receive pool: tp->pd or
			    * an rps_pd's */
	struct ibv_qp *qp;
	uint32_t max_inline; /* min(attr.max_inline, the QP's) */

	/* send ring: slot of post n is sq[n % sq_depth] */
	struct vrb_send *sq;
	uint32_t sq_depth, sq_pi;
	uint64_t sq_head; /* posts so far */
	uint64_t sq_tail; /* posts retired by a completion */
	int part_err;	  /* error of a piece, reported with the last */

	/* receive pool: rq_depth buffers of msg_size bytes, one MR */
	struct vrb_recv *rq;
	uint32_t rq_depth, msg_size;
	/* receives on the QP (each one completes): atomic, because the
	 * thread that activates a connection posts while the CQ's thread
	 * may already take completions */
	_Atomic uint32_t rq_posted;
	void *pool;
	struct ibv_mr *pool_mr;

	struct vrb_wr drain_sq; /* conn_close's marker on the send queue */
	bool disconnected;	/* rdma_disconnect done: QP in the error state */
	bool wrs_posted;	/* a WR went onto the QP: closing must drain */
	bool err_logged;	/* first error completion was logged */
	bool in_epoll;
};

static inline struct vrb_transport *vrb_tp(rps_transport_t *tp)
{
	return container_of(tp, struct vrb_transport, base);
}

static inline struct vrb_conn *vrb_conn(rps_conn_t *conn)
{
	return container_of(conn, struct vrb_conn, base);
}

static inline struct vrb_cq *vrb_cq(rps_cq_t *cq)
{
	return container_of(cq, struct vrb_cq, base);
}

static inline struct vrb_pd *vrb_pd(rps_pd_t *pd)
{
	return container_of(pd, struct vrb_pd, base);
}

/* "write", "read", ... for log lines */
const char *rps_vrb_op_name(unsigned op);

/* verbs_device.c */
int rps_vrb_probe(const rps_transport_attr_t *attr);
int rps_vrb_open(const rps_transport_attr_t *attr, rps_transport_t **tp_p);
void rps_vrb_close(rps_transport_t *tp);
int rps_vrb_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
void rps_vrb_mr_dereg(rps_mr_t *mr);
int rps_vrb_cq_create(rps_transport_t *tp, uint32_t depth, rps_cq_t **cq_p);
void rps_vrb_cq_destroy(rps_cq_t *cq);

/* verbs_pd.c */
/* Allocates pd's ibv_pd (the default PD's at open); isolated = true. */
int rps_vrb_pd_init(struct vrb_transport *tp, struct vrb_pd *pd);
int rps_vrb_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p);
void rps_vrb_pd_free(rps_pd_t *pd);

/* verbs_cm.c */
int rps_vrb_listen(rps_transport_t *tp, const char *addr, uint16_t port, rps_listener_t **l_p);
void rps_vrb_listener_close(rps_listener_t *l);
int rps_vrb_get_request(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p);
int rps_vrb_accept(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		   rps_conn_t **conn_p);
void rps_vrb_reject(rps_conn_req_t *req, const void *data, size_t len);
int rps_vrb_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq, const void *data,
		    size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p);
int rps_vrb_progress(rps_transport_t *tp);

/* verbs_conn.c */
/* Builds a connection on id (resolved, or a connect request): its event
 * channel, QP on cq in pd, send ring and receive pool (registered in pd
 * too: a QP may only use local keys of its own PD).  No WR is posted
 * yet, so until rps_vrb_conn_activate nothing of it can reach the CQ.
 * On failure everything it made is undone and id is left to the caller. */
int rps_vrb_conn_create(struct vrb_transport *tp, struct ibv_pd *pd, struct vrb_cq *cq,
			struct rdma_cm_id *id, struct vrb_conn **conn_p);
/* Posts the receive pool of an established connection, enters it into
 * the transport's list and its event channel into the progress epoll
 * set.  Receives go up only now (the peer's first message meanwhile
 * meets an RNR NAK and is retried: rnr_retry is infinite), so that a
 * connection that never got established has nothing on the shared CQ
 * and fails without touching it, from any thread. */
int rps_vrb_conn_activate(struct vrb_conn *conn);
/* Marks the connection down and moves its QP to the error state so
 * queued operations flush; idempotent. */
void rps_vrb_conn_shutdown(struct vrb_conn *conn);
/* Frees a connection whose setup failed (any thread), with its cm_id:
 * one that never posted is freed at once, one that did is buried. */
void rps_vrb_conn_destroy(struct vrb_conn *conn);
/* Frees what conn_create allocated (not the QP or cm_id). */
void rps_vrb_conn_free(struct vrb_conn *conn);
/* Moves conn to cq's graves (its WR state stays until the CQ is
 * destroyed, any thread); the QP must be gone already. */
void rps_vrb_conn_bury(struct vrb_conn *conn);
void rps_vrb_conn_close(rps_conn_t *conn);
/* Handles one rdma_cm event of an established connection. */
void rps_vrb_conn_event(struct vrb_conn *conn, const struct rdma_cm_event *ev);

/* verbs_data.c */
int rps_vrb_post(rps_conn_t *conn, const rps_op_t *op);
int rps_vrb_cq_poll(rps_cq_t *cq, rps_completion_t *comps, int max);
int rps_vrb_cq_progress(rps_cq_t *cq);
/* Posts receive buffer rx; 0 or a negative errno (logged). */
int rps_vrb_recv_post(struct vrb_conn *conn, struct vrb_recv *rx);
/* Takes every completion of conn's QP (now in the error state) off its
 * CQ, keeping other connections' completions for the next polls.
 * Returns 0, -ETIMEDOUT when the flushes did not all come back, or
 * -ENOSPC when the pending list had no room left for the others. */
int rps_vrb_cq_drain_conn(struct vrb_cq *cq, struct vrb_conn *conn);

#endif /* RPS_VERBS_H */
