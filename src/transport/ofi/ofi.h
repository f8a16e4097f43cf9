/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider (libfabric FI_EP_MSG): private objects and helpers.
 *
 * One fabric + domain + event queue per transport.  Every endpoint and
 * passive endpoint reports to that single EQ; whoever reads it (connect,
 * accept, get_request, progress) holds tp->lock and dispatches each event
 * to the object whose fid it names, so no thread ever loses another's
 * event.  Data completions go to the rps_cq the connection was bound to.
 *
 * A WRITE_WITH_IMM carries 64 bits of remote CQ data: the caller's 32-bit
 * immediate in the low half and, in the high half, the *target's* token
 * for the connection (exchanged in the connection private data), because
 * an FI_EP_MSG CQ entry for remote CQ data names neither endpoint nor
 * context.  The target maps the token back to its rps_conn.
 *
 * Data progress is manual on tcp: an endpoint moves only while the CQ it
 * is bound to is read.  rps_transport_progress reads every CQ with count
 * 0 (which takes no entry), so a target that only calls progress still
 * serves WRITEs and READs aimed at it.
 *
 * Threading follows the public contract: a CQ, its connections and their
 * closing belong to one thread; the EQ side (lists, tokens) is locked.
 *
 * A provider with no FI_EP_MSG endpoint (shm) is driven in RDM mode
 * (tp->rdm, ofi_rdm.c): rdmaps' own TCP control socket per connection
 * carries what the EQ carries for FI_EP_MSG (the private data, the
 * tokens, the refusal, the disconnect), and each connection owns an
 * FI_EP_RDM endpoint with its peer alone in an address vector of its
 * own.  The data path is the same code: only msg.addr differs.
 *
 * Next to tcp, a transport also opens shm (ofi_shm.c) unless
 * RPS_OFI_SHM=0: a connection between two processes of one host is
 * made over tcp as always, and then moves its data over an FI_EP_RDM shm
 * endpoint of its own (conn->shm_ep), the tcp endpoint staying for the
 * disconnect.  Every region is registered in both domains with one key.
 */
#ifndef RPS_OFI_H
#define RPS_OFI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include "transport/transport_priv.h"
#include "util/list.h"

/* libfabric API level we are written against (configure wants >= 1.10) */
#define RPS_OFI_API_VERSION FI_VERSION(1, 10)

/* Our trailer after the rps_priv_pack() frame in connection private data:
 * the sender's token, little-endian. */
#define RPS_OFI_TOKEN_LEN	4
#define RPS_OFI_CONNECT_RAW_MAX (RPS_PRIV_HDR_LEN + RPS_CONNECT_DATA_MAX + RPS_OFI_TOKEN_LEN)
#define RPS_OFI_ACCEPT_RAW_MAX	(RPS_PRIV_HDR_LEN + RPS_ACCEPT_DATA_MAX + RPS_OFI_TOKEN_LEN)

/* Connection tokens: 20 bits of table index, 12 bits of generation, so
 * an imm arriving late for a closed connection does not land on the one
 * that reused its slot (tokens are freed before the endpoint closes). */
#define RPS_OFI_TOKEN_IDX_BITS 20
#define RPS_OFI_TOKEN_IDX_MASK ((1u << RPS_OFI_TOKEN_IDX_BITS) - 1)
#define RPS_OFI_TOKEN_CHUNK    1024
#define RPS_OFI_TOKEN_NCHUNKS  ((1u << RPS_OFI_TOKEN_IDX_BITS) / RPS_OFI_TOKEN_CHUNK)

/* the longest endpoint name RDM mode exchanges (shm's are ~30 bytes) */
#define RPS_OFI_RDM_NAME_MAX 256

/* what tcp carries as connection private data (TCPX_MAX_CM_DATA_SIZE) */
#define RPS_OFI_CM_DATA_MAX 256

/* completions read from libfabric per fi_cq_read call */
#define RPS_OFI_CQ_BATCH 32

/* ---- objects ------------------------------------------------------- */

struct rps_ofi_conn;

struct rps_ofi_token_chunk {
	_Atomic(struct rps_ofi_conn *) conn[RPS_OFI_TOKEN_CHUNK];
};

/* shm next to an FI_EP_MSG provider (ofi_shm.c); info NULL: none */
struct rps_ofi_shm {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	size_t inject_size;
	uint32_t max_recv;
};

struct rps_ofi_transport {
	struct rps_transport base;
	struct rps_pd pd;     /* the default PD (base.pd points here): see ofi_pd.c */
	struct fi_info *info; /* the one we opened; template for endpoints */
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_eq *eq;
	uint64_t mr_mode;
	size_t inject_size;
	uint32_t max_recv;	       /* receives the provider lets a connection post */
	atomic_uint_fast64_t next_key; /* requested_key: unique per domain */
	uint64_t key_seed;
	size_t key_size;

	/* tp->lock guards the EQ reads and everything below */
	pthread_mutex_t lock;
	struct rps_list cqs;   /* every CQ, for progress */
	struct rps_list conns; /* every conn owning an endpoint */
	_Atomic(struct rps_ofi_token_chunk *) token_chunk[RPS_OFI_TOKEN_NCHUNKS];
	uint32_t *token_free; /* recycled indexes */
	uint32_t token_nfree, token_free_cap;
	uint32_t token_next; /* first never-used index */
	uint32_t token_gen;
	bool rdm; /* FI_EP_RDM: connections over control sockets (ofi_rdm.c) */
	struct rps_ofi_shm shm;
};

struct rps_ofi_mr {
	struct rps_mr base;
	struct fid_mr *mr;
	void *desc;
	struct fid_mr *shm_mr; /* the same region and key in tp->shm's domain */
	void *shm_desc;
};

/* A completion read off the libfabric CQ but not yet handed out (by
 * cq_progress, or by a conn_close emptying the CQ), with the receive
 * buffer it holds (RECV) or NULL. */
struct rps_ofi_parked {
	rps_completion_t comp;
	struct rps_ofi_recv *recv;
};

struct rps_ofi_cq {
	struct rps_cq base;
	struct rps_ofi_transport *tp;
	struct rps_list link; /* tp->cqs */
	struct fid_cq *cq;
	struct fid_cq *shm_cq; /* in tp->shm's domain, for connections over shm */
	atomic_uint nshm;      /* shm endpoints bound to shm_cq: read it only then */
	bool shm_turn;	       /* shm_cq is read first this time */
	/* receive buffers handed out by the last poll, reposted by the next */
	struct rps_ofi_recv **repost;
	uint32_t nrepost, repost_cap;
	/* completions kept for the next polls, oldest first: a ring of
	 * parked_cap = 2 x depth, allocated with the CQ.  cq_progress fills
	 * it to the depth at most; a conn_close may use the rest.  Nothing
	 * is read off libfabric without room here: none is ever dropped. */
	struct rps_ofi_parked *parked;
	uint32_t parked_head, parked_count, parked_cap;
	/* connections closed while the ring had no room for the CQ's other
	 * completions: kept (dead) until the CQ goes, because entries that
	 * name their contexts may still be in it; grave_lock because a
	 * setup failing on another thread may add one */
	pthread_mutex_t grave_lock;
	struct rps_list graves; /* struct rps_ofi_conn.link */
	/* RDM mode: held around every read of the CQ and while an endpoint
	 * bound to it is set up or closed.  shm lists an endpoint on the CQ
	 * at bind time but creates its shared region only at fi_enable, and
	 * a read of the CQ in between (the CQ's owner polling while another
	 * thread accepts) progresses an endpoint with no region: a
	 * segfault, seen in rdma-ps under load. */
	pthread_mutex_t rdm_lock;
};

/* whether reads of fcq (one of cq's) need rdm_lock: it is an RDM one */
static inline bool rps_ofi_cq_locked(const struct rps_ofi_cq *cq, const struct fid_cq *fcq)
{
	return cq->tp->rdm || (fcq && fcq == cq->shm_cq);
}

/* around an RDM endpoint's setup or close */
static inline void rps_ofi_cq_lock(struct rps_ofi_cq *cq)
{
	if (rps_ofi_cq_locked(cq, cq->shm_cq))
		pthread_mutex_lock(&cq->rdm_lock);
}

static inline void rps_ofi_cq_unlock(struct rps_ofi_cq *cq)
{
	if (rps_ofi_cq_locked(cq, cq->shm_cq))
		pthread_mutex_unlock(&cq->rdm_lock);
}

/* fi_cq_read of fcq, one of cq's, under rdm_lock when it needs it; a
 * count of 0 only drives its endpoints (manual progress) */
static inline ssize_t rps_ofi_cq_read(struct rps_ofi_cq *cq, struct fid_cq *fcq, void *buf,
				      size_t count)
{
	ssize_t ret;

	if (!rps_ofi_cq_locked(cq, fcq))
		return fi_cq_read(fcq, buf, count);
	pthread_mutex_lock(&cq->rdm_lock);
	ret = fi_cq_read(fcq, buf, count);
	pthread_mutex_unlock(&cq->rdm_lock);
	return ret;
}

/* fi_cq_readerr of fcq, as rps_ofi_cq_read */
static inline ssize_t rps_ofi_cq_readerr(struct rps_ofi_cq *cq, struct fid_cq *fcq,
					 struct fi_cq_err_entry *err)
{
	ssize_t ret;

	if (!rps_ofi_cq_locked(cq, fcq))
		return fi_cq_readerr(fcq, err, 0);
	pthread_mutex_lock(&cq->rdm_lock);
	ret = fi_cq_readerr(fcq, err, 0);
	pthread_mutex_unlock(&cq->rdm_lock);
	return ret;
}

/* Drives every endpoint of cq without taking entries. */
static inline void rps_ofi_cq_drive(struct rps_ofi_cq *cq)
{
	struct fi_cq_data_entry unused;

	(void)rps_ofi_cq_read(cq, cq->cq, &unused, 0);
	if (cq->shm_cq && atomic_load_explicit(&cq->nshm, memory_order_relaxed))
		(void)rps_ofi_cq_read(cq, cq->shm_cq, &unused, 0);
}

enum rps_ofi_ctx_kind {
	RPS_OFI_CTX_OP = 1,
	RPS_OFI_CTX_RECV,
};

/* Every context given to libfabric starts with this: mode FI_CONTEXT lets
 * the provider use fi_ctx until the operation completes. */
struct rps_ofi_ctx {
	struct fi_context fi_ctx;
	struct rps_ofi_conn *conn;
	uint8_t kind; /* enum rps_ofi_ctx_kind */
};

/* One slot of a connection's send ring. */
struct rps_ofi_op {
	struct rps_ofi_ctx ctx;
	uint64_t wr_id;
	uint64_t seq; /* position in the ring when posted */
	rps_op_type_t type;
	bool pending; /* a completion is owed (signaled op) */
};

struct rps_ofi_recv {
	struct rps_ofi_ctx ctx;
	void *buf;
};

enum rps_ofi_conn_state {
	RPS_OFI_CONN_IDLE = 0,
	RPS_OFI_CONN_CONNECTING,
	RPS_OFI_CONN_CONNECTED,
	RPS_OFI_CONN_FAILED, /* never established: cm_err says why */
	RPS_OFI_CONN_DOWN,   /* was established, then shut down */
};

struct rps_ofi_conn {
	struct rps_conn base;
	struct rps_ofi_transport *tp;
	struct rps_ofi_cq *cq;
	struct rps_list link;	/* tp->conns, while ep is open */
	struct fid_ep *ep;	/* FI_EP_MSG (connection events) or RDM */
	struct fid_ep *shm_ep;	/* next to tcp: an shm endpoint, or NULL */
	struct fid_ep *data_ep; /* where data moves: ep, or shm_ep */
	bool rdm;		/* data_ep is FI_EP_RDM */
	bool shm;		/* data_ep is shm_ep */
	bool shm_counted;	/* in cq->nshm (until freed) */
	uint8_t *shm_peer;	/* the peer's shm endpoint name, once told */
	size_t shm_peer_len;
	struct fid_av *av;	       /* RDM: the peer's address alone */
	fi_addr_t peer_addr;	       /* RDM: its index there; MSG: unused (0) */
	int sock;		       /* RDM: the control socket, -1 when none */
	enum rps_ofi_conn_state state; /* under tp->lock */
	int cm_err;		       /* positive FI_ errno */
	bool active;		       /* we connected (vs accepted) */
	uint32_t token;		       /* ours: the peer puts it in imm data */
	uint32_t peer_token;	       /* the peer's: we put it in ours */

	struct rps_ofi_op *ops; /* send ring, attr.sq_depth slots */
	uint32_t sq_depth;
	uint64_t sq_posted, sq_retired;
	size_t inline_max;   /* FI_INJECT up to this, 0 = never */
	bool err_logged;     /* first completion error already logged */
	bool dead;	     /* buried: entries naming it are no one's */
	rps_reject_t reject; /* connect: what a refusing peer said */

	struct rps_ofi_recv *recvs; /* attr.recv_depth slots */
	uint32_t nrecv;
	uint32_t nposted; /* posted at least once: the CQ may name them */
	size_t recv_size;
	void *recv_buf;
	struct fid_mr *recv_mr;
	void *recv_desc;
};

struct rps_ofi_listener {
	struct rps_listener base;
	struct rps_ofi_transport *tp;
	struct fid_pep *pep;
	struct fid_eq *eq; /* the pep's own: see ofi_listen.c */
	int sock;	   /* RDM: the listening control socket */
	char name[RPS_PEER_NAME_MAX];
};

struct rps_ofi_conn_req {
	struct rps_conn_req base;
	struct rps_ofi_listener *l;
	struct fi_info *info; /* owns info->handle until accept/reject */
	uint32_t peer_token;
	int sock; /* RDM: the control socket, owned until accept/reject */
	/* RDM: its endpoint's name; MSG: its shm endpoint's when it offered
	 * shm and is on this host (ofi_shm.c), else length 0 */
	uint8_t peer_name[RPS_OFI_RDM_NAME_MAX];
	size_t peer_name_len;
};

#define rps_ofi_tp(tp)	    container_of(tp, struct rps_ofi_transport, base)
#define rps_ofi_cq(cq)	    container_of(cq, struct rps_ofi_cq, base)
#define rps_ofi_mr(mr)	    container_of(mr, struct rps_ofi_mr, base)
#define rps_ofi_conn(c)	    container_of(c, struct rps_ofi_conn, base)
#define rps_ofi_listener(l) container_of(l, struct rps_ofi_listener, base)
#define rps_ofi_req(r)	    container_of(r, struct rps_ofi_conn_req, base)

/* ---- ofi_domain.c --------------------------------------------------- */
/* fi_getinfo for attr's provider and device, with the capabilities,
 * modes and ordering rdmaps needs; ep_type FI_EP_UNSPEC: any endpoint */
int rps_ofi_getinfo(const rps_transport_attr_t *attr, enum fi_ep_type ep_type,
		    struct fi_info **info_p);
int rps_ofi_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
int rps_ofi_mr_reg_raw(struct rps_ofi_transport *tp, struct fid_domain *domain, void *addr,
		       size_t len, uint64_t access, struct fid_mr **mr_p, uint64_t *key_p);
int rps_ofi_token_alloc(struct rps_ofi_transport *tp, struct rps_ofi_conn *conn);
void rps_ofi_token_free(struct rps_ofi_transport *tp, struct rps_ofi_conn *conn);
struct rps_ofi_conn *rps_ofi_token_lookup(struct rps_ofi_transport *tp, uint32_t token);
/* Maps a positive FI_ errno from a completion to 0 / -errno / -RPS_ERR_*. */
int rps_ofi_comp_errno(int fi_err);

/* ---- ofi_pd.c ------------------------------------------------------- */
int rps_ofi_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p);
void rps_ofi_pd_free(rps_pd_t *pd);

/* ---- ofi_cm.c ------------------------------------------------------- */
/* room for the largest CM event: entry + provider private data */
#define OFI_EQ_BUF_LEN (sizeof(struct fi_eq_cm_entry) + 512)

int rps_ofi_eq_drain(struct rps_ofi_transport *tp);
void rps_ofi_backoff(unsigned *us, uint64_t deadline_ns);
/* Unpacks rps_priv_pack() framing followed by our token trailer.
 * Returns the payload length or -RPS_ERR_PROTO. */
int rps_ofi_unpack(const uint8_t *raw, size_t raw_len, void *out, size_t max, uint32_t *token_p);
/* bytes of raw an rps_ofi_unpack() of len payload bytes took */
#define RPS_OFI_PACKED_LEN(len) (RPS_PRIV_HDR_LEN + (size_t)(len) + RPS_OFI_TOKEN_LEN)
int rps_ofi_progress(rps_transport_t *tp);

/* ---- ofi_listen.c --------------------------------------------------- */
/* getaddrinfo for addr:port; passive = for a listener (addr NULL = any).
 * Returns 0 or a getaddrinfo error code (gai_strerror). */
int rps_ofi_resolve(const char *addr, uint16_t port, bool passive, struct sockaddr_storage *ss,
		    size_t *len_p);
/* rps_ofi_resolve for a listener, the error logged: 0 or -EADDRNOTAVAIL */
int rps_ofi_resolve_listen(struct rps_ofi_transport *tp, const char *addr, uint16_t port,
			   struct sockaddr_storage *ss, size_t *len_p);
/* Sets l's name and port from the address it is bound to. */
void rps_ofi_listener_named(struct rps_ofi_listener *l, const struct sockaddr_storage *ss);
int rps_ofi_listen(rps_transport_t *tp, const char *addr, uint16_t port, rps_listener_t **l_p);
void rps_ofi_listener_close(rps_listener_t *l);
int rps_ofi_get_request(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p);
void rps_ofi_reject(rps_conn_req_t *req, const void *data, size_t len);
/* Frees req, refusing it first (without private data) when reject. */
void rps_ofi_req_free(struct rps_ofi_conn_req *req, bool reject);

/* ---- ofi_conn.c ----------------------------------------------------- */
int rps_ofi_accept(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		   rps_conn_t **conn_p);
int rps_ofi_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq, const void *data,
		    size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p);
void rps_ofi_conn_close(rps_conn_t *conn);
/* Frees a closed conn's memory (endpoint and token already gone). */
void rps_ofi_conn_free(struct rps_ofi_conn *conn);
/* shared with ofi_rdm.c: a new conn (token published, not listed), its
 * rps_priv_pack() framing with our token, the receive pool, the close of
 * its endpoint and then conn (may_forget: on the CQ's thread) */
int rps_ofi_conn_alloc(struct rps_ofi_transport *tp, struct rps_ofi_cq *cq,
		       struct rps_ofi_conn **conn_p);
size_t rps_ofi_pack(uint8_t *raw, const void *data, size_t len, uint32_t token);
int rps_ofi_conn_post_recvs(struct rps_ofi_conn *conn);
/* Creates an endpoint of conn in domain from info, binds it to fcq (one
 * of conn's CQ) and to events (the transport's EQ, or an RDM
 * connection's AV), and enables it. */
int rps_ofi_ep_open(struct rps_ofi_conn *conn, struct fid_domain *domain, struct fi_info *info,
		    struct fid_cq *fcq, struct fid *events, struct fid_ep **ep_p);
/* Logs "connection to PEER: STEP: libfabric's error"; -ENOMEM or -EIO. */
int rps_ofi_step_error(struct rps_ofi_conn *conn, const char *step, int ret);
/* Registers conn's receive buffers in domain (replacing any earlier). */
int rps_ofi_conn_reg_recvs(struct rps_ofi_conn *conn, struct fid_domain *domain);
void rps_ofi_conn_teardown(struct rps_ofi_conn *conn, bool may_forget);

/* ---- ofi_rdm.c ------------------------------------------------------ */
/* Binds and listens l's control socket on ss (its name and port set). */
int rps_ofi_rdm_listen(struct rps_ofi_listener *l, struct sockaddr_storage *ss, size_t len);
void rps_ofi_rdm_listener_close(struct rps_ofi_listener *l);
int rps_ofi_rdm_get_request(struct rps_ofi_listener *l, int timeout_ms, rps_conn_req_t **req_p);
int rps_ofi_rdm_accept(struct rps_ofi_conn_req *req, struct rps_ofi_cq *cq, const void *data,
		       size_t len, rps_conn_t **conn_p);
void rps_ofi_rdm_reject(struct rps_ofi_conn_req *req, const void *data, size_t len);
int rps_ofi_rdm_connect(struct rps_ofi_transport *tp, const char *addr, uint16_t port,
			struct rps_ofi_cq *cq, const void *data, size_t len, rps_reject_t *reject_p,
			rps_conn_t **conn_p);
/* tp->lock held: marks the connections whose control socket closed */
void rps_ofi_rdm_watch(struct rps_ofi_transport *tp);

/* ---- ofi_rdm_ep.c: an RDM endpoint for one peer (RDM mode and shm) -- */
/* Opens conn's AV and an RDM endpoint in domain bound to fcq into *ep_p;
 * its name in name (room RPS_OFI_RDM_NAME_MAX), length *len_p. */
int rps_ofi_rdm_ep_open(struct rps_ofi_conn *conn, struct fid_domain *domain, struct fi_info *info,
			struct fid_cq *fcq, struct fid_ep **ep_p, uint8_t *name, size_t *len_p);
/* Puts the peer's endpoint name into conn's AV (conn->peer_addr). */
int rps_ofi_rdm_insert(struct rps_ofi_conn *conn, const uint8_t *name, size_t len);
/* One zero-length WRITE to the peer on ep (no completion): 0 once the
 * pair of endpoints is set up, -EAGAIN before (drive both ends and
 * retry), -EIO. */
int rps_ofi_rdm_warm_once(struct rps_ofi_conn *conn, struct fid_ep *ep);
/* rps_ofi_rdm_warm_once until it succeeds, driving conn's CQ: 0,
 * -ETIMEDOUT at the deadline, -EIO (logged). */
int rps_ofi_rdm_warm(struct rps_ofi_conn *conn, struct fid_ep *ep, uint64_t deadline);
/* The path of the /dev/shm file behind an shm endpoint name
 * ("fi_shm://pid:index:n"); false when name is not one, or too long. */
bool rps_ofi_shm_path(const uint8_t *name, size_t len, char *path, size_t size);
/* Removes the /dev/shm file of ep (an shm endpoint of conn) once the
 * peer has mapped it, which its warm-up or ours finishing says: nothing
 * then opens it by name again, and a process killed later (SIGKILL: shm
 * cannot clean up) leaves nothing behind in /dev/shm. */
void rps_ofi_rdm_unlink_own(struct rps_ofi_conn *conn, struct fid_ep *ep);

/* ---- ofi_shm.c: shm next to tcp ---------------------------------------- */
/* Opens tp->shm when the main provider has FI_EP_MSG and shm is there
 * and usable (RPS_OFI_SHM unset or not 0); quiet when it is not. */
void rps_ofi_shm_open(struct rps_ofi_transport *tp);
void rps_ofi_shm_close(struct rps_ofi_transport *tp);
/* connect: when ss is an address of this host, opens conn->shm_ep and
 * appends the offer to raw (raw_len bytes so far, room
 * RPS_OFI_CM_DATA_MAX); returns the new length */
size_t rps_ofi_shm_offer(struct rps_ofi_conn *conn, const struct sockaddr_storage *ss, uint8_t *raw,
			 size_t raw_len);
/* listener: reads an offer after the packed data into req->peer_name
 * when it comes from another process of this host */
void rps_ofi_shm_read_offer(struct rps_ofi_conn_req *req, const uint8_t *tail, size_t len);
/* accept: takes req's offer up when it can (conn->shm_ep, the first
 * warm-up sent) and appends the answer to raw; returns the new length */
size_t rps_ofi_shm_answer(struct rps_ofi_conn *conn, const struct rps_ofi_conn_req *req,
			  uint8_t *raw, size_t raw_len);
/* connector, FI_CONNECTED: keeps the acceptor's shm name, if it answered */
int rps_ofi_shm_read_answer(struct rps_ofi_conn *conn, const uint8_t *tail, size_t len);
/* once connected: moves conn's data to shm (warm-up, receive buffers) or
 * closes an shm endpoint the peer did not take up */
int rps_ofi_shm_finish(struct rps_ofi_conn *conn, uint64_t deadline);
/* closes conn->shm_ep (under the CQ lock) */
void rps_ofi_shm_ep_close(struct rps_ofi_conn *conn);

/* ---- ofi_data.c ----------------------------------------------------- */
int rps_ofi_post(rps_conn_t *conn, const rps_op_t *op);
int rps_ofi_post_recv(struct rps_ofi_recv *recv);
int rps_ofi_cq_poll(rps_cq_t *cq, rps_completion_t *comps, int max);
int rps_ofi_cq_progress(rps_cq_t *cq);
/* conn_close, after the endpoint closed: moves every completion still in
 * the CQ to the parked ring, dropping those of conn, and forgets conn's
 * receive buffers.  0, or -ENOSPC when the ring filled first (conn must
 * then stay allocated: rps_ofi_cq_bury). */
int rps_ofi_cq_forget_conn(struct rps_ofi_cq *cq, struct rps_ofi_conn *conn);
/* Keeps conn (dead) until cq is destroyed; any thread. */
void rps_ofi_cq_bury(struct rps_ofi_cq *cq, struct rps_ofi_conn *conn);

#endif /* RPS_OFI_H */
