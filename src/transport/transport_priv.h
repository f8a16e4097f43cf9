/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Provider interface of the transport layer.  Not installed.
 *
 * A provider fills one `static const struct rps_transport_ops` and exposes
 * it through RPS_PROVIDER_INI(name); transport.c lists the providers that
 * configure found (as libfabric's fi_ini does).  Each provider object
 * embeds the matching base struct below as its FIRST member, so the core
 * can read the common fields and the provider can downcast with
 * container_of().  The core validates arguments before dispatching; ops
 * see only well-formed calls (non-NULL objects, len limits checked,
 * buf inside mr).
 */
#ifndef RPS_TRANSPORT_PRIV_H
#define RPS_TRANSPORT_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/transport.h>

#define RPS_PEER_NAME_MAX 64

/* Set by rps_connect_retry (connect_retry.c) on its thread while it
 * connects: a refusal is then what it expects of a peer not listening
 * yet, and it reports the last one itself, so the providers log the
 * refusals at debug level instead of as errors. */
extern _Thread_local bool rps_connect_retrying;
#define rps_log_refused(...)                                                                       \
	rps_log_msg(rps_connect_retrying ? RPS_LOG_DEBUG : RPS_LOG_ERROR, __VA_ARGS__)

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct rps_transport_ops;

struct rps_transport {
	const struct rps_transport_ops *ops;
	rps_transport_attr_t attr; /* defaults filled in; strings owned */
	char device_name[64];	   /* set by the provider's open */
	rps_pd_t *pd;		   /* the default PD: set by the provider's
				    * open, freed by its close */
};

/* A protection domain.  The provider allocates it (base struct first)
 * and sets `isolated`; the core fills tp (the provider's open fills it
 * for the default PD). */
struct rps_pd {
	rps_transport_t *tp;
	bool isolated; /* set by the provider: see rps_pd_isolated() */
};

struct rps_mr {
	rps_transport_t *tp;
	rps_pd_t *pd;
	void *addr;
	size_t len;
	unsigned access;
	rps_remote_t remote; /* set by the provider's mr_reg */
};

struct rps_cq {
	rps_transport_t *tp;
	uint32_t depth;
};

struct rps_listener {
	rps_transport_t *tp;
	uint16_t port; /* set by the provider's listen */
};

struct rps_conn_req {
	rps_listener_t *listener;
	uint8_t data[RPS_CONNECT_DATA_MAX];
	size_t data_len;
	char peer[RPS_PEER_NAME_MAX];
};

struct rps_conn {
	rps_transport_t *tp;
	rps_pd_t *pd;
	rps_cq_t *cq;
	void *context;
	/* the provider clears it on disconnect/fatal error: atomic, because
	 * the thread that handles connection events and the CQ's thread may
	 * both find the connection dead (and the CQ's thread reads it at every
	 * post) */
	_Atomic bool connected;
	uint8_t peer_data[RPS_ACCEPT_DATA_MAX];
	size_t peer_data_len;
	char peer[RPS_PEER_NAME_MAX];
	/* data moves over libfabric's shm (ofi: RDM mode, or shm next to
	 * tcp), for what does not hold there (see rps_step's notices) */
	bool over_shm;
};

typedef enum rps_op_type {
	RPS_OP_WRITE = 1,
	RPS_OP_WRITE_IMM,
	RPS_OP_READ,
	RPS_OP_SEND,
} rps_op_type_t;

/* One operation to post; the public post calls build it on the stack. */
typedef struct rps_op {
	rps_op_type_t type;
	void *buf;
	size_t len;
	rps_mr_t *mr; /* NULL only when len == 0 */
	uint64_t remote_addr;
	uint64_t rkey;
	uint32_t imm;
	uint64_t wr_id;
	unsigned flags; /* enum rps_post_flags */
} rps_op_t;

/*
 * The ops table.  `size` is sizeof(struct rps_transport_ops) as the
 * provider was compiled, so ops added at the end later can be detected
 * (RPS_OPS_HAS).  Constructors set *x_p only on success and allocate the
 * whole provider object (base struct first).  The core fills the base
 * fields it owns (tp, pd, addr/len/access, cq, context) after the op
 * returns; the provider fills the ones marked "set by the provider".
 * A pd argument is never NULL: the transport's default PD is an object
 * like the others.
 */
struct rps_transport_ops {
	size_t size;
	const char *name;

	/* > 0 when the provider has a usable device right now (for "auto"),
	 * 0 when not, negative errno on error.  Must be cheap and quiet. */
	int (*probe)(const rps_transport_attr_t *attr);
	/* also makes the default PD (tp->pd, with its tp set) */
	int (*open)(const rps_transport_attr_t *attr, rps_transport_t **tp_p);
	void (*close)(rps_transport_t *tp);
	int (*progress)(rps_transport_t *tp);

	int (*pd_alloc)(rps_transport_t *tp, rps_pd_t **pd_p);
	/* never called for the default PD */
	void (*pd_free)(rps_pd_t *pd);
	int (*mr_reg)(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p);
	void (*mr_dereg)(rps_mr_t *mr);

	int (*cq_create)(rps_transport_t *tp, uint32_t depth, rps_cq_t **cq_p);
	void (*cq_destroy)(rps_cq_t *cq);
	/* max >= 1, comps not NULL (checked by the core) */
	int (*cq_poll)(rps_cq_t *cq, rps_completion_t *comps, int max);
	int (*cq_progress)(rps_cq_t *cq);

	int (*listen)(rps_transport_t *tp, const char *addr, uint16_t port, rps_listener_t **l_p);
	void (*listener_close)(rps_listener_t *l);
	/* timeout_ms: -1 forever, 0 poll; -ETIMEDOUT when nothing came */
	int (*get_request)(rps_listener_t *l, int timeout_ms, rps_conn_req_t **req_p);
	/* consumes req in every case */
	int (*accept)(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		      rps_conn_t **conn_p);
	/* consumes req; len <= RPS_REJECT_DATA_MAX (checked by the core) */
	void (*reject)(rps_conn_req_t *req, const void *data, size_t len);

	/* reject_p is never NULL and comes zeroed */
	int (*connect)(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq,
		       const void *data, size_t len, rps_reject_t *reject_p, rps_conn_t **conn_p);
	void (*conn_close)(rps_conn_t *conn);

	int (*post)(rps_conn_t *conn, const rps_op_t *op);
};

/* Every op of the 1.0 table is required: a smaller table is refused at
 * open.  Ops appended later go through RPS_OPS_HAS. */
#define RPS_OPS_SIZE_MIN                                                                           \
	(offsetof(struct rps_transport_ops, post) + sizeof(((struct rps_transport_ops *)0)->post))
/* true when a table of ops->size bytes includes member and sets it, as
 * libfabric's FI_CHECK_OP does for its versioned ops structs. */
#define RPS_OPS_HAS(ops, member)                                                                   \
	((ops)->size >= offsetof(struct rps_transport_ops, member) + sizeof((ops)->member) &&      \
	 (ops)->member)

#define RPS_PROVIDER_INI(name) const struct rps_transport_ops *rps_##name##_ini(void)

/* transport_attr.c: the defaults (with the environment's), and a
 * caller's attributes of any size over them (util/ext_struct.h);
 * attr NULL = the defaults.  0 or a negative errno (logged). */
int rps_transport_attr_defaults(rps_transport_attr_t *attr);
int rps_transport_attr_in(rps_transport_attr_t *dst, const rps_transport_attr_t *attr);

RPS_PROVIDER_INI(verbs);
RPS_PROVIDER_INI(ofi);

/* Private-data framing shared by the providers: a 4-byte little-endian
 * header carrying the payload length, because rdma_cm pads private data
 * to the transport maximum and the receiver cannot tell the length. */
#define RPS_PRIV_HDR_LEN 4
/* Writes hdr+payload into out (room for RPS_PRIV_HDR_LEN + len); returns
 * the total length. */
size_t rps_priv_pack(void *out, const void *data, size_t len);
/* Parses hdr+payload of total length raw_len into out (room for max
 * bytes).  Returns the payload length or -RPS_ERR_PROTO when malformed. */
int rps_priv_unpack(const void *raw, size_t raw_len, void *out, size_t max);

/* "a.b.c.d:port" / "[v6]:port" of a sockaddr, into buf. */
void rps_sockaddr_name(const void *sockaddr, char *buf, size_t buflen);

#endif /* RPS_TRANSPORT_PRIV_H */
