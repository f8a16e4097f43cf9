/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internals of the agents' graph (worker_mesh.h), shared by
 *   worker_mesh.c          create/destroy, the main thread's calls
 *   worker_mesh_connect.c  listen, connect, accept; hello and welcome
 *   worker_mesh_thread.c   the progress thread: completions and posts
 *
 * Protocol, per direction of an edge (sender s, receiver r):
 *   r registered a slot of two buffers for s; a copy is a header (magic,
 *   s's rank, its version) and x and g, written in chunks, every chunk a
 *   WRITE_WITH_IMM carrying DATA and the copy's sequence number q (1, 2,
 *   ...) into buffer q % 2.  r counts the chunks; when all landed, q is
 *   "landed".  r's step reads the latest landed copy in place ("held")
 *   and tells s with an ACK immediate (a zero-byte WRITE_WITH_IMM).
 *   s may write q only when r holds q-1 (acked >= q-1): the buffer of q
 *   is then the one r does not read, and never two copies race.  So a
 *   fast sender skips copies instead of waiting, and a slow receiver
 *   always finds its neighbour's freshest copy that it had room for.
 *   At the start every agent sends each neighbour READY (an ACK of copy
 *   0) once it is connected to all of its own, and steps only when all
 *   its neighbours said READY: their step counts then start together,
 *   so "lags by more than --delay-bound steps" measures delay, not who
 *   loaded its data first.
 *   At the end: s sends its final copy, then DONE; r stops writing to s,
 *   and once its own writes to s completed answers DONE_ACK; s closes
 *   only after every neighbour answered (or said DONE itself), so a
 *   disconnect without DONE always means a lost neighbour.
 * Only the progress thread touches the transport (its threading rule);
 * the main thread and it share the state below under one mutex.
 */
#ifndef RPS_CMD_WORKER_MESH_PRIV_H
#define RPS_CMD_WORKER_MESH_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "cmd/worker_mesh.h"

/* immediates: 2 bits of type, 30 of sequence number */
enum mesh_imm_type { MESH_DATA = 0, MESH_ACK = 1, MESH_DONE = 2, MESH_DONE_ACK = 3 };
#define MESH_SEQ_BITS 30
#define MESH_SEQ_MASK ((1u << MESH_SEQ_BITS) - 1)

static inline uint32_t mesh_imm(enum mesh_imm_type t, uint64_t seq)
{
	return (uint32_t)t << MESH_SEQ_BITS | ((uint32_t)seq & MESH_SEQ_MASK);
}

/* header of every copy, then x (n floats), then g (n floats) */
#define MESH_COPY_MAGIC 0x47414350u /* "PCAG" */
#define MESH_HEADER	64
struct mesh_header {
	uint32_t magic;
	uint32_t rank;
	uint64_t version;
};

/* a copy is written in at most this many chunks of at least 1 MiB: the
 * largest message stays far below any device's limit */
#define MESH_CHUNK_MIN	   (1u << 20)
#define MESH_CHUNKS_MAX	   16
#define MESH_HELLO_LEN	   48
#define MESH_WELCOME_LEN   32
#define MESH_REJECT_PREFIX "pc-asgd: "

struct mesh_edge {
	uint32_t rank;
	char name[300]; /* "rank R (host:port)", for messages */
	rps_conn_t *conn;
	rps_mr_t *slot_mr; /* the two buffers it writes into */
	uint8_t *slot;
	rps_remote_t remote; /* its slot for our copies */
	/* receive side */
	uint64_t landed, held; /* copies: last complete, the one a step reads */
	uint32_t chunks_seen;  /* of the copy landing now */
	bool ack_due;	       /* held moved: tell the sender */
	uint64_t heard_ns;     /* last immediate from it, or last credit we gave */
	/* send side */
	uint64_t sent_seq, acked, sent_version;
	uint32_t inflight;  /* chunks of our copy posted, not yet completed */
	int inflight_stage; /* the staging buffer they read */
	bool posting;	    /* a copy is half posted (the send queue was full) */
	size_t post_off;    /* its next chunk */
	uint64_t post_version;
	bool ready_posted, ready; /* the start: we are / it is connected to all */
	/* goodbye */
	bool done_posted, done_acked, peer_done, done_ack_posted, done_ack_done;
	/* lost: 0, or the error; why says what happened */
	int lost;
	const char *why;
};

struct worker_mesh {
	uint32_t rank, world, k;
	uint64_t n;
	size_t buf_bytes;   /* one copy: header + x + g, rounded to 64 */
	size_t chunk_bytes; /* the last chunk may be short */
	uint32_t nchunks;
	int timeout_ms;
	enum worker_topology topology;
	rps_transport_t *tp;
	rps_cq_t *cq;
	struct mesh_edge *edges; /* [k], ascending rank */
	/* our copies: two staging buffers; cur is the latest published */
	rps_mr_t *stage_mr;
	uint8_t *stage;
	int cur;
	uint64_t stage_version[2];
	uint32_t stage_inflight[2]; /* edges whose write reads it */
	/* goodbye */
	bool finishing;
	uint64_t final_version;
	struct worker_mesh_stats stats;
	pthread_mutex_t lock;
	pthread_t thread;
	bool has_thread;
	atomic_bool stop;
	int cpu;
};

/* listen/connect/accept every edge (worker_mesh_connect.c) */
int mesh_connect_all(struct worker_mesh *m, const struct worker_mesh_attr *a);
/* the progress thread (worker_mesh_thread.c) */
int mesh_thread_start(struct worker_mesh *m);
void mesh_thread_stop(struct worker_mesh *m);
/* marks e lost with ret and why (first cause wins); under the lock */
void mesh_edge_lose(struct mesh_edge *e, int ret, const char *why);

static inline uint8_t *mesh_slot_buf(const struct mesh_edge *e, const struct worker_mesh *m,
				     uint64_t seq)
{
	return e->slot + (seq % 2) * m->buf_bytes;
}

#endif /* RPS_CMD_WORKER_MESH_PRIV_H */
