/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps transport API: one-sided RDMA (WRITE, WRITE_WITH_IMM, READ) and
 * two-sided SEND/RECV over a pluggable provider ("verbs" = libibverbs +
 * librdmacm, "ofi" = libfabric).  Everything above this layer is
 * provider-agnostic.  See librdmaps(3).
 *
 * Object model (lifetimes nest in this order; destroy in reverse):
 *   rps_transport_t   an opened provider + device
 *   rps_pd_t          a protection domain: the transport's default one
 *                     (rps_transport_pd) or one of rps_pd_alloc
 *   rps_mr_t          a registered memory region, in one PD
 *   rps_cq_t          a completion queue, shared by any number of conns
 *   rps_listener_t    a passive endpoint bound to an address/port
 *   rps_conn_req_t    a connection request seen by a listener
 *   rps_conn_t        a connected reliable endpoint (an RC QP / FI_EP_MSG),
 *                     in one PD
 *
 * Protection domains, as in verbs: every region and every connection is
 * in one PD, named when it is made (rps_mr_reg, rps_conn_req_accept,
 * rps_connect).  A peer reaches a region only through a connection in
 * the region's PD: on verbs a WRITE or READ from a connection in another
 * PD fails with an error completion (-RPS_ERR_REMOTE_ACCESS), even with
 * the right key and address.  So a server that puts each client's
 * regions and connection in a PD of their own keeps a client that learns
 * another's key away from that memory.  The ofi provider cannot do this
 * (a libfabric key is valid on every endpoint of its domain, and the
 * endpoints of one CQ must share a domain): its PDs are aliases of the
 * transport's domain; rps_pd_isolated() says which case you have.
 * A post's local buffer must be registered in the connection's PD.
 *
 * Receives are provider-managed: each connection owns a pool of receive
 * buffers (attr.recv_depth x attr.max_msg_size).  An incoming SEND shows up
 * as an RPS_COMP_RECV completion pointing into that pool; an incoming
 * WRITE_WITH_IMM shows up as RPS_COMP_REMOTE_WRITE_IMM and consumes no
 * user buffer on either provider.
 *
 * Threading: objects are not internally locked.  One thread may use a CQ
 * and the connections bound to it while other threads use other CQs;
 * connection setup (listen/accept/connect) may run on other threads.
 * rps_conn_close() drains the connection's CQ, so call it on the thread
 * that polls that CQ.
 *
 * CQ depth must cover every completion that can be pending at once:
 * each bound connection's recv_depth, and its signaled operations in
 * flight (at most sq_depth).
 *
 * Progress.  Two calls move things along without handing out anything:
 *   rps_cq_progress(cq)        the data path of one CQ: retires finished
 *                              sends so their send-queue slots can be
 *                              reused (the cure for a post's -EAGAIN),
 *                              and drives libfabric's manual progress;
 *                              completions the caller must see are kept,
 *                              in order, for its next rps_cq_poll(), and
 *                              the receive buffers the last poll handed
 *                              out stay untouched.
 *   rps_transport_progress(tp) connection events (a peer's disconnect).
 * The ofi provider moves one-sided data only while the target polls or
 * progresses its CQ (libfabric manual progress), so the target of WRITEs
 * and READs must keep calling rps_cq_poll() or rps_cq_progress().
 */
#ifndef RDMAPS_TRANSPORT_H
#define RDMAPS_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/errno.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rps_transport rps_transport_t;
typedef struct rps_pd rps_pd_t;
typedef struct rps_mr rps_mr_t;
typedef struct rps_cq rps_cq_t;
typedef struct rps_listener rps_listener_t;
typedef struct rps_conn_req rps_conn_req_t;
typedef struct rps_conn rps_conn_t;

/* Largest private data a connect / an accept carries.  These are the
 * rdma_cm limits for RC (56 and 196 bytes) less a 4-byte length header
 * the providers add, so that both providers deliver exactly what was sent. */
#define RPS_CONNECT_DATA_MAX 52
#define RPS_ACCEPT_DATA_MAX  192
/* Largest private data a reject carries: the IB CM's REJ holds 148 bytes
 * (rdma_cm adds no header of its own there), less the same 4 bytes. */
#define RPS_REJECT_DATA_MAX  144

/* What a peer said when it refused a connection (rps_conn_req_reject).
 * len 0: it said nothing, or nobody listened. */
typedef struct rps_reject {
	size_t len;
	uint8_t data[RPS_REJECT_DATA_MAX];
} rps_reject_t;

/* memory access rights (rps_mr_reg) */
enum rps_access {
	RPS_ACCESS_LOCAL_WRITE = 1 << 0,  /* local RECV / READ target */
	RPS_ACCESS_REMOTE_WRITE = 1 << 1, /* peers may RDMA-WRITE into it */
	RPS_ACCESS_REMOTE_READ = 1 << 2,  /* peers may RDMA-READ from it */
};

/* flags for the post calls */
enum rps_post_flags {
	/* no completion on success (errors still complete): post a signaled
	 * operation at least every attr.sq_depth operations so the send
	 * queue can drain, as with verbs selective signaling */
	RPS_POST_UNSIGNALED = 1 << 0,
};

typedef enum rps_comp_type {
	RPS_COMP_WRITE = 1,	   /* a local WRITE finished */
	RPS_COMP_WRITE_IMM,	   /* a local WRITE_WITH_IMM finished */
	RPS_COMP_READ,		   /* a local READ finished: data is in place */
	RPS_COMP_SEND,		   /* a local SEND finished */
	RPS_COMP_RECV,		   /* a peer's SEND arrived: data/len */
	RPS_COMP_REMOTE_WRITE_IMM, /* a peer's WRITE_WITH_IMM landed: imm */
} rps_comp_type_t;

typedef struct rps_completion {
	uint64_t wr_id;	  /* caller's id (local operations only) */
	rps_conn_t *conn; /* the connection the operation belongs to */
	/* 0 or negative errno / -RPS_ERR_*.  A refused remote access is
	 * -RPS_ERR_REMOTE_ACCESS on verbs; libfabric's tcp provider can only
	 * drop the connection, so on ofi it shows as -RPS_ERR_FLUSHED.  On
	 * both, the connection is dead afterwards. */
	int status;
	rps_comp_type_t type; /* meaningful when status == 0 */
	uint32_t imm;	      /* RPS_COMP_REMOTE_WRITE_IMM: the immediate */
	uint32_t len;	      /* RPS_COMP_RECV: bytes received */
	/* RPS_COMP_RECV: the message, in the connection's receive pool; valid
	 * until the next rps_cq_poll() on this CQ, which recycles it */
	const void *data;
} rps_completion_t;

/* Where a peer may reach a registered region: put rps_remote_t.addr +
 * offset in the remote_addr of a post call, and .key in its rkey.  The
 * address form (virtual address or offset) is the provider's business. */
typedef struct rps_remote {
	uint64_t addr;
	uint64_t key;
	uint64_t len;
} rps_remote_t;

typedef struct rps_transport_attr {
	/* the struct's size as the caller was compiled, so that it can grow:
	 * rps_transport_attr_init() sets it; 0 = the librdmaps 1.0 layout
	 * (see "Extensible structs" in librdmaps(3)) */
	size_t size;
	/* "auto" (verbs if an RDMA device has an active port, else ofi),
	 * "verbs" or "ofi" */
	const char *provider;
	/* verbs: device name (mlx5_0, rxe0), NULL = first active device;
	 * ofi: libfabric domain name, NULL = any */
	const char *device;
	/* ofi: libfabric provider name ("tcp"), NULL = "tcp" */
	const char *ofi_provider;
	uint8_t port;	       /* verbs: HCA port, 1-based; 0 = any */
	int gid_index;	       /* verbs: expected GID index, -1 = any */
	uint32_t sq_depth;     /* send queue entries per connection */
	uint32_t recv_depth;   /* receive buffers per connection */
	uint32_t max_msg_size; /* largest SEND, size of each receive buffer */
	uint32_t max_inline;   /* inline data up to this size, 0 = never */
	int timeout_ms;	       /* connect/accept/disconnect timeout */
} rps_transport_attr_t;

/* Fills the first size bytes of attr (its size member = size) with the
 * defaults, then applies the environment variables RPS_PROVIDER,
 * RPS_DEVICE, RPS_OFI_PROVIDER, RPS_IB_PORT, RPS_GID_INDEX.  Returns 0, or
 * -EINVAL (logged) when a variable holds a bad value.  Call it through
 * rps_transport_attr_init(), which passes the size you compiled with. */
int rps_transport_attr_init_size(rps_transport_attr_t *attr, size_t size);
static inline int rps_transport_attr_init(rps_transport_attr_t *attr)
{
	return rps_transport_attr_init_size(attr, sizeof(*attr));
}

/* Names of the providers compiled in, NULL-terminated, static. */
const char *const *rps_transport_providers(void);

/* Opens a provider and device.  attr NULL = defaults.  Strings in attr
 * are copied.  -ENODEV when the provider is absent or has no device,
 * -E2BIG when attr sets a field this librdmaps does not know. */
int rps_transport_open(const rps_transport_attr_t *attr, rps_transport_t **tp_p);
/* Closes a transport; every object made from it must be gone already. */
void rps_transport_close(rps_transport_t *tp);
/* "verbs" or "ofi": the provider actually opened (after "auto"). */
const char *rps_transport_provider(const rps_transport_t *tp);
/* The device opened: verbs device name, ofi "provider/domain". */
const char *rps_transport_device(const rps_transport_t *tp);
/* The attributes in force (defaults filled in). */
const rps_transport_attr_t *rps_transport_get_attr(const rps_transport_t *tp);
/* Processes connection events without blocking (a peer's disconnect
 * marks its connection down and flushes its queued operations with
 * errors).  Call it now and then from the thread that polls the CQs.
 * Returns the number of events handled or a negative errno. */
int rps_transport_progress(rps_transport_t *tp);

/* The transport's default protection domain: made by rps_transport_open,
 * freed by rps_transport_close (rps_pd_free ignores it).  Never NULL. */
rps_pd_t *rps_transport_pd(rps_transport_t *tp);
/* Allocates a further protection domain on tp (ibv_alloc_pd on verbs).
 * Regions and connections made in it are fenced off from those of other
 * PDs where rps_pd_isolated() is true. */
int rps_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p);
/* Frees a PD of rps_pd_alloc; its regions and connections must be gone
 * already.  NULL and the default PD are ignored. */
void rps_pd_free(rps_pd_t *pd);
/* true when a connection in another PD cannot reach this PD's regions
 * (verbs); false when keys are valid transport-wide (ofi). */
bool rps_pd_isolated(const rps_pd_t *pd);
/* The transport pd belongs to. */
rps_transport_t *rps_pd_transport(const rps_pd_t *pd);

/* Registers [addr, addr+len) in pd with the given rps_access rights. */
int rps_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
/* Deregisters; no operation may still use the region. */
void rps_mr_dereg(rps_mr_t *mr);
/* What a peer needs to reach the region (send it in private data). */
void rps_mr_remote(const rps_mr_t *mr, rps_remote_t *remote_p);
void *rps_mr_addr(const rps_mr_t *mr);
size_t rps_mr_len(const rps_mr_t *mr);

/* Creates a completion queue with room for depth entries. */
int rps_cq_create(rps_transport_t *tp, uint32_t depth, rps_cq_t **cq_p);
/* Destroys a CQ; no connection may still be bound to it. */
void rps_cq_destroy(rps_cq_t *cq);
/* Takes up to max (>= 1) completions without blocking: first those
 * rps_cq_progress kept, then new ones, in the order they happened.
 * Returns how many (0 when none), -EINVAL when max < 1 or comps is NULL,
 * or another negative errno when the CQ itself failed.  Recycles the
 * receive buffers handed out by the previous call on this CQ. */
int rps_cq_poll(rps_cq_t *cq, rps_completion_t *comps, int max);
/* Makes progress on cq without handing anything out: finished sends are
 * retired, so a post that returned -EAGAIN may succeed after it, and the
 * ofi provider moves data aimed at or sent from cq's connections.  Every
 * completion the caller must see is kept, in order, for the next
 * rps_cq_poll; none is dropped.  The receive buffers the last
 * rps_cq_poll handed out stay untouched (so a caller may call it while
 * working through a batch).  It keeps at most the CQ's depth of
 * completions: past that it leaves the rest queued, and posts may go on
 * returning -EAGAIN until the caller polls.  Returns the number of
 * completions waiting for rps_cq_poll, or a negative errno. */
int rps_cq_progress(rps_cq_t *cq);
/* Like rps_cq_poll, but busy-polls (driving rps_transport_progress now
 * and then) until at least one completion arrives or timeout_ms passes
 * (-ETIMEDOUT).  For tests and control paths, not the data path. */
int rps_cq_poll_wait(rps_cq_t *cq, rps_completion_t *comps, int max, int timeout_ms);

/* Listens on addr:port (addr NULL = any, port 0 = ephemeral). */
int rps_listen(rps_transport_t *tp, const char *addr, uint16_t port, rps_listener_t **l_p);
/* Requests taken from the listener must be accepted or rejected first. */
void rps_listener_close(rps_listener_t *l);
/* The port actually bound (useful after port 0). */
uint16_t rps_listener_port(const rps_listener_t *l);
/* Waits up to timeout_ms (-1 = forever, 0 = poll) for a connect request:
 * -ETIMEDOUT when none came. */
int rps_listener_get_request(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p);
/* The connector's private data (exactly as sent) and its address. */
const void *rps_conn_req_data(const rps_conn_req_t *req, size_t *len_p);
const char *rps_conn_req_peer(const rps_conn_req_t *req);
/* Accepts with up to RPS_ACCEPT_DATA_MAX bytes of private data, with the
 * new connection (its QP and receive pool) in pd and bound to cq; waits
 * until it is established.  The connection reaches, and is reached by,
 * only regions registered in pd.  pd and cq must come from the listener's
 * transport.  The request is consumed whatever the outcome. */
int rps_conn_req_accept(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data,
			size_t len, rps_conn_t **conn_p);
/* Refuses the request with up to RPS_REJECT_DATA_MAX bytes of private
 * data (data NULL / len 0: none), which the connector's rps_connect
 * returns in its rps_reject_t, and frees the request.  0, or -EINVAL
 * when len is too long (the request is refused without data then). */
int rps_conn_req_reject(rps_conn_req_t *req, const void *data, size_t len);

/* Connects to addr:port with up to RPS_CONNECT_DATA_MAX bytes of private
 * data, with the connection in pd and bound to cq (both of one
 * transport).  -ECONNREFUSED when nobody listens or the peer rejects: then
 * reject_p (when not NULL) holds what the peer's rps_conn_req_reject
 * said; its len is 0 after every other outcome.  -ETIMEDOUT after
 * attr.timeout_ms. */
int rps_connect(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq, const void *data,
		size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p);
/* Disconnects (if still up) and frees.  Operations still queued complete
 * with errors or are dropped; poll their CQ before destroying it. */
void rps_conn_close(rps_conn_t *conn);
/* The private data the acceptor sent back (rps_connect side). */
const void *rps_conn_peer_data(const rps_conn_t *conn, size_t *len_p);
/* "host:port" of the peer, for log lines. */
const char *rps_conn_peer(const rps_conn_t *conn);
/* false once a disconnect or a fatal error was seen. */
bool rps_conn_is_connected(const rps_conn_t *conn);
void rps_conn_set_context(rps_conn_t *conn, void *context);
void *rps_conn_get_context(const rps_conn_t *conn);

/* One-sided and two-sided operations.  buf must lie inside mr (mr may be
 * NULL only when len == 0), and mr must be in the connection's PD.
 * remote_addr/rkey come from the peer's rps_mr_remote().  Return 0 when
 * queued, -EAGAIN when the send queue is full (rps_cq_poll or
 * rps_cq_progress the connection's CQ, then retry), -ENOTCONN when the
 * connection is down. */
int rps_post_write(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr,
		   uint64_t remote_addr, uint64_t rkey, uint64_t wr_id, unsigned flags);
/* WRITE, then deliver imm to the target's CQ; when the target sees it,
 * the written data is visible. */
int rps_post_write_imm(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr,
		       uint64_t remote_addr, uint64_t rkey, uint32_t imm, uint64_t wr_id,
		       unsigned flags);
int rps_post_read(rps_conn_t *conn, void *buf, size_t len, rps_mr_t *mr, uint64_t remote_addr,
		  uint64_t rkey, uint64_t wr_id, unsigned flags);
/* len <= attr.max_msg_size */
int rps_post_send(rps_conn_t *conn, const void *buf, size_t len, rps_mr_t *mr, uint64_t wr_id,
		  unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_TRANSPORT_H */
