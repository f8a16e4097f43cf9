/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider (libibverbs + librdmacm): private objects and the
 * functions its files share.  Not installed.
 *
 * Files:  verbs.c         the ops table
 *         verbs_device.c  probe, open/close, memory regions, CQ objects
 *         verbs_pd.c      extra protection domains (ibv_alloc_pd each)
 *         verbs_cm.c      rdma_cm: listen, accept, connect, progress
 *         verbs_conn.c    a connection's QP, rings and receive pool; close
 *         verbs_data.c    post, CQ polling, completion mapping, drain
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

struct vrb_transport {
	struct rps_transport base;
	struct ibv_context **devices; /* rdma_get_devices(): owns ctx */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
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

/* An rps_pd: its own ibv_pd.  The transport's default PD is tp->pd and
 * has no such object (rps_mr.pd / rps_conn.pd are NULL for it). */
struct vrb_pd {
	struct rps_pd base;
	struct ibv_pd *pd;
};

struct vrb_mr {
	struct rps_mr base;
	struct ibv_mr *mr;
};

struct vrb_cq {
	struct rps_cq base;
	struct vrb_transport *tp;
	struct ibv_cq *cq;
	/* receive buffers handed out by the last poll: re-posted by the next */
	struct vrb_recv *held;
	/* completions of other connections taken off the device while
	 * conn_close drained one connection: delivered by the next polls */
	struct ibv_wc *stash;
	unsigned stash_head, stash_len, stash_cap;
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
	uint32_t rq_posted; /* receives on the QP: each one completes */
	void *pool;
	struct ibv_mr *pool_mr;

	struct vrb_wr drain_sq; /* conn_close's marker on the send queue */
	bool disconnected;	/* rdma_disconnect done: QP in the error state */
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
int rps_vrb_mr_reg(rps_transport_t *tp, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
/* Registers in the given ibv_pd (the default one or an rps_pd's). */
int rps_vrb_mr_reg_in(struct vrb_transport *tp, struct ibv_pd *pd, void *addr, size_t len,
		      unsigned access, rps_mr_t **mr_p);
void rps_vrb_mr_dereg(rps_mr_t *mr);
int rps_vrb_cq_create(rps_transport_t *tp, uint32_t depth, rps_cq_t **cq_p);
void rps_vrb_cq_destroy(rps_cq_t *cq);

/* verbs_pd.c */
int rps_vrb_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p);
void rps_vrb_pd_free(rps_pd_t *pd);
int rps_vrb_mr_reg_pd(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
int rps_vrb_accept_pd(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		      rps_conn_t **conn_p);
int rps_vrb_connect_pd(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq,
		       const void *data, size_t len, rps_conn_t **conn_p);

/* verbs_cm.c */
int rps_vrb_listen(rps_transport_t *tp, const char *addr, uint16_t port, rps_listener_t **l_p);
void rps_vrb_listener_close(rps_listener_t *l);
int rps_vrb_get_request(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p);
int rps_vrb_accept(rps_conn_req_t *req, rps_cq_t *cq, const void *data, size_t len,
		   rps_conn_t **conn_p);
void rps_vrb_reject(rps_conn_req_t *req);
int rps_vrb_connect(rps_transport_t *tp, const char *addr, uint16_t port, rps_cq_t *cq,
		    const void *data, size_t len, rps_conn_t **conn_p);
/* accept / connect with the QP and its receive pool in pd */
int rps_vrb_accept_in(rps_conn_req_t *req, struct ibv_pd *pd, rps_cq_t *cq, const void *data,
		      size_t len, rps_conn_t **conn_p);
int rps_vrb_connect_in(struct vrb_transport *tp, struct ibv_pd *pd, const char *addr, uint16_t port,
		       rps_cq_t *cq, const void *data, size_t len, rps_conn_t **conn_p);
int rps_vrb_progress(rps_transport_t *tp);

/* verbs_conn.c */
/* Builds a connection on id (resolved, or a connect request): its event
 * channel, QP on cq in pd, send ring and receive pool (registered in pd
 * too: a QP may only use local keys of its own PD), receives posted.  On
 * failure everything it made is undone and id is left to the caller. */
int rps_vrb_conn_create(struct vrb_transport *tp, struct ibv_pd *pd, struct vrb_cq *cq,
			struct rdma_cm_id *id, struct vrb_conn **conn_p);
/* Enters an established connection into the transport's list and its
 * event channel into the progress epoll set. */
int rps_vrb_conn_activate(struct vrb_conn *conn);
/* Marks the connection down and moves its QP to the error state so
 * queued operations flush; idempotent. */
void rps_vrb_conn_shutdown(struct vrb_conn *conn);
/* Frees a connection made by rps_vrb_conn_create and its cm_id; moves
 * the QP to the error state and drains it first. */
void rps_vrb_conn_destroy(struct vrb_conn *conn);
void rps_vrb_conn_close(rps_conn_t *conn);
/* Handles one rdma_cm event of an established connection. */
void rps_vrb_conn_event(struct vrb_conn *conn, const struct rdma_cm_event *ev);

/* verbs_data.c */
int rps_vrb_post(rps_conn_t *conn, const rps_op_t *op);
int rps_vrb_cq_poll(rps_cq_t *cq, rps_completion_t *comps, int max);
/* Posts receive buffer rx; 0 or a negative errno (logged). */
int rps_vrb_recv_post(struct vrb_conn *conn, struct vrb_recv *rx);
/* Takes every completion of conn's QP (now in the error state) off its
 * CQ, keeping other connections' completions for the next polls.
 * Returns 0, or -ETIMEDOUT when the flushes did not all come back. */
int rps_vrb_cq_drain_conn(struct vrb_cq *cq, struct vrb_conn *conn);

#endif /* RPS_VERBS_H */
