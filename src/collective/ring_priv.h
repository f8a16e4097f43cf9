/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ring allreduce internals, shared by the files of src/collective:
 *   ring_layout.c   segments, steps and chunk numbering (pure functions)
 *   ring_wire.c     the private data of connect/accept, the immediates
 *   ring_connect.c  listen, connect right, accept left
 *   ring_engine.c   the reduce-scatter/allgather state machine
 *   ring_thread.c   the optional progress thread
 *   ring.c          create/destroy and the public entry points
 */
#ifndef RPS_COLLECTIVE_RING_PRIV_H
#define RPS_COLLECTIVE_RING_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/ring.h>

#include "collective/ring_profile.h"

/* ---- layout: who sends which segment at which step -------------------------
 *
 * count floats split into world segments of nearly equal length (the first
 * count % world get one more; with count < world some are empty).  Steps
 * 0..world-2 are the reduce-scatter, world-1..2*world-3 the allgather.  At
 * step t rank r sends segment send_seg(r, t) to its right and receives
 * segment send_seg(r-1, t) from its left; what it receives at step t it
 * sends at step t+1, so chunk c of step t+1 may go as soon as chunk c of
 * step t arrived: chunks stream around the ring.  After the reduce-scatter
 * rank r holds the one reduced copy of segment r+1, and the allgather
 * only copies it: every rank ends with the same bits. */
typedef struct rps_ring_layout {
	uint32_t world;
	size_t count;
	size_t chunk;	 /* floats per chunk */
	uint32_t nsteps; /* 2 * (world - 1) */
	/* per step, for this rank's sends and for its receives (= the left
	 * neighbour's sends): segment, and the number of the step's first
	 * chunk among all chunks of the allreduce (first[nsteps] = total) */
	uint32_t *send_seg, *recv_seg;
	uint32_t *send_first, *recv_first;
} rps_ring_layout_t;

int rps_ring_layout_init(rps_ring_layout_t *lo, uint32_t rank, uint32_t world, size_t count,
			 size_t chunk_floats);
void rps_ring_layout_fini(rps_ring_layout_t *lo);
/* Offset and length, in floats, of segment seg. */
void rps_ring_seg(const rps_ring_layout_t *lo, uint32_t seg, size_t *off_p, size_t *len_p);
/* Chunks in segment seg. */
uint32_t rps_ring_seg_chunks(const rps_ring_layout_t *lo, uint32_t seg);
/* The step whose chunk numbers (first[]) contain seq; seq < first[nsteps]. */
uint32_t rps_ring_step_of(const uint32_t *first, uint32_t nsteps, uint32_t seq);
/* Offset and length in floats of chunk c of segment seg. */
void rps_ring_chunk(const rps_ring_layout_t *lo, uint32_t seg, uint32_t c, size_t *off_p,
		    size_t *len_p);

/* ---- wire ----------------------------------------------------------------- */

/* A data immediate: round parity (1 bit), the chunk's number in the
 * sender's allreduce (23 bits), the receive slot it landed in (8 bits).
 * An ack immediate (on the other connection) is the freed slot. */
#define RPS_RING_SEQ_BITS 23
#define RPS_RING_SEQ_MAX  (1u << RPS_RING_SEQ_BITS)

static inline uint32_t rps_ring_imm(uint32_t round, uint32_t seq, uint32_t slot)
{
	return (round & 1u) << 31 | seq << 8 | slot;
}

static inline void rps_ring_imm_parse(uint32_t imm, uint32_t *parity_p, uint32_t *seq_p,
				      uint32_t *slot_p)
{
	*parity_p = imm >> 31;
	*seq_p = (imm >> 8) & (RPS_RING_SEQ_MAX - 1);
	*slot_p = imm & 0xff;
}

/* connect private data, left -> right: who I am and what I run */
typedef struct rps_ring_hello {
	uint32_t rank, world, window, chunk_bytes;
	uint64_t count;
	rps_remote_t ack; /* where the right neighbour writes its acks */
} rps_ring_hello_t;

/* accept private data, right -> left: where to write the data */
typedef struct rps_ring_welcome {
	uint32_t rank;
	rps_remote_t stage;
} rps_ring_welcome_t;

#define RPS_RING_HELLO_LEN   48
#define RPS_RING_WELCOME_LEN 36

void rps_ring_hello_pack(const rps_ring_hello_t *h, uint8_t buf[RPS_RING_HELLO_LEN]);
/* 0, or -RPS_ERR_PROTO (not a ring hello: bad length, magic or version). */
int rps_ring_hello_parse(const void *buf, size_t len, rps_ring_hello_t *h_p);
void rps_ring_welcome_pack(const rps_ring_welcome_t *w, uint8_t buf[RPS_RING_WELCOME_LEN]);
int rps_ring_welcome_parse(const void *buf, size_t len, rps_ring_welcome_t *w_p);

/* ---- the ring ------------------------------------------------------------- */

struct rps_ring {
	uint32_t rank, world, window;
	size_t count, chunk_bytes;
	int timeout_ms;
	char **peer_host; /* world entries, parsed from attr.peers */
	uint16_t *peer_port;

	rps_transport_t *tp;
	bool own_tp;
	rps_cq_t *cq;
	rps_listener_t *listener;
	rps_conn_t *left, *right;
	rps_remote_t right_stage; /* where data goes */
	rps_remote_t left_ack;	  /* where acks go */

	float *buf;
	rps_mr_t *buf_mr;
	float *stage; /* window slots of chunk_bytes: the left's data lands here */
	rps_mr_t *stage_mr;

	rps_ring_layout_t lo;

	/* engine state: owned by the thread that drives the engine */
	uint32_t round; /* allreduces started */
	bool active;
	uint64_t ncomps; /* completions seen: the progress thread yields when idle */
	int fatal;	 /* first error; the ring is broken after it */
	uint32_t send_step, send_chunk, send_seq;
	uint32_t sends_done;  /* data writes completed locally */
	uint32_t recvs;	      /* chunks received and consumed */
	uint8_t *recv_done;   /* per received chunk number */
	uint32_t *free_slots; /* credits: slots of the right's stage we may fill */
	uint32_t nfree;
	uint8_t *slot_busy; /* per right-side slot: written, not yet acked */
	uint32_t *stash;    /* next-round data that arrived early (imms) */
	uint32_t nstash;
	uint32_t *acks; /* slots to ack that the send queue refused */
	uint32_t nacks;
	uint32_t acks_inflight;
	uint64_t next_cm_ns; /* next rps_transport_progress() */
	uint64_t lost_ns;    /* when a needed link was first seen down */

	/* --profile: where the time goes (ring_profile.h) */
	bool prof_on;
	uint64_t prof_t0;	  /* this round's start */
	uint64_t prof_consume_ns; /* reduce + copy inside this pass's poll */
	uint64_t prof_t_poll;	  /* when this pass's poll part ended, 0 = none */
	uint64_t prof_last;	  /* when the last pass ended, 0 = no round */
	rps_ring_profile_t prof;

	/* progress thread */
	bool has_thread;
	int cpu;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint req_round;	/* rounds requested by the caller */
	atomic_uint done_round; /* rounds the thread completed */
	atomic_int thread_err;
};

int rps_ring_connect(rps_ring_t *ring);

/* The engine: start a round, advance it (1 done, 0 in flight, <0). */
int rps_ring_engine_start(rps_ring_t *ring);
int rps_ring_engine_progress(rps_ring_t *ring);
void rps_ring_engine_reset_credits(rps_ring_t *ring);

int rps_ring_thread_start(rps_ring_t *ring);
void rps_ring_thread_stop(rps_ring_t *ring);

#endif /* RPS_COLLECTIVE_RING_PRIV_H */
