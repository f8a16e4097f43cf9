/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Wire format of the rdmaps control plane.  Every message is fixed-size,
 * explicitly little-endian and versioned; each has one encode and one
 * parse function, and the parser range-checks every field, so the rest of
 * the server only ever sees validated structs.
 *
 *   HELLO    worker -> server, connect private data (<= 52 bytes): who the
 *            worker is, the model size it expects, where its doorbell is,
 *            and its authentication tag.  Checked before any memory is
 *            registered for that peer.
 *   WELCOME  server -> worker, accept private data (<= 192 bytes): the
 *            layout of the worker's slots (gradient landing zone G[m],
 *            snapshot B[m]), chunking, algorithm and hyper-parameters.
 *   BYE      either way, a SEND: orderly leave with a reason.
 *   REFUSE   server -> worker, reject private data: why the HELLO was
 *            turned down (proto/refuse.h).
 *
 * Immediate data (32 bits) of the data path: see rps_imm_*.
 */
#ifndef RPS_PROTO_WIRE_H
#define RPS_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/algo.h>

#define RPS_PROTO_VERSION 1

#define RPS_HELLO_MAGIC	  0x48535052u /* "RPSH" little-endian */
#define RPS_WELCOME_MAGIC 0x57535052u /* "RPSW" */
#define RPS_BYE_MAGIC	  0x42535052u /* "RPSB" */
#define RPS_OPTIONS_MAGIC 0x4f535052u /* "RPSO" */

#define RPS_HELLO_WIRE_LEN   52
#define RPS_WELCOME_WIRE_LEN 128
#define RPS_BYE_WIRE_LEN     16
#define RPS_OPTIONS_WIRE_LEN 12
#define RPS_AUTH_TAG_LEN     12

/* Limits the parsers enforce (also what the server can lay out). */
#define RPS_MAX_WORKERS	    4096
#define RPS_MAX_LANES	    256
#define RPS_MAX_PARAMS	    (1ull << 36) /* 64 Gi floats = 256 GiB per shard */
#define RPS_MIN_CHUNK_BYTES 4096
#define RPS_MAX_CHUNK_BYTES (64u << 20)

/* rps_algo_t, rps_algo_name() and rps_algo_parse() are public: rdmaps/algo.h */

/* A region of registered memory as a peer reaches it. */
typedef struct rps_wire_region {
	uint64_t addr;
	uint64_t key;
	uint64_t len;
} rps_wire_region_t;

typedef struct rps_hello {
	uint16_t lane;		/* which engine thread's connection, < lanes */
	uint32_t worker_id;	/* rank, < num_workers when that is known */
	uint32_t num_workers;	/* the worker's world size, 0 = unknown */
	uint64_t model_params;	/* parameters the worker trains, 0 = server's */
	uint64_t doorbell_addr; /* worker's 8-byte doorbell for notifications */
	uint64_t doorbell_key;
	uint8_t auth_tag[RPS_AUTH_TAG_LEN]; /* zero when no token is used */
} rps_hello_t;

typedef struct rps_welcome {
	rps_algo_t algo;
	uint32_t worker_id;
	uint32_t num_workers;
	uint64_t shard_params;	/* parameters in this shard */
	uint64_t shard_offset;	/* index of its first parameter in the model */
	uint32_t chunk_bytes;	/* push/pull granularity */
	uint32_t num_chunks;	/* ceil(shard_params * 4 / chunk_bytes) */
	uint32_t grad_slots;	/* 1, or 2 when G[m] is double-buffered */
	uint32_t max_staleness; /* 0 = unbounded */
	uint32_t lanes;		/* connections per worker = engine threads;
				 * chunk c travels on lane c % lanes */
	rps_wire_region_t grad; /* G[m]: grad_slots x shard_params floats */
	rps_wire_region_t snap; /* B[m]: shard_params floats */
	float lr, lambda, ms_decay, theta;
	uint64_t step;		/* server updates applied so far (resume point) */
	uint32_t worker_pushes; /* this worker's pushes applied so far (low 32
				 * bits): a rejoining worker continues there */
} rps_welcome_t;

typedef enum rps_bye_reason {
	RPS_BYE_DONE = 0,     /* training finished */
	RPS_BYE_SHUTDOWN = 1, /* the server is going down */
	RPS_BYE_ERROR = 2,    /* the sender hit an error */
	RPS_BYE_REASON_MAX_
} rps_bye_reason_t;

typedef struct rps_bye {
	rps_bye_reason_t reason;
	uint32_t worker_id;
	uint32_t step; /* last step the sender saw, low 32 bits (for logs) */
} rps_bye_t;

/* OPTIONS (worker -> server, a SEND on lane 0 once the lanes are up):
 * what the worker would like beyond the base protocol.  A server that
 * does not know the message ignores it, so nothing else depends on it.
 * Wire: magic, version, u8 0, u16 0, u32 flags. */
#define RPS_OPT_CHUNK_NOTICES 0x1u /* chunk notices (RPS_CTL_CHUNK) */
#define RPS_OPT_KNOWN	      RPS_OPT_CHUNK_NOTICES

typedef struct rps_options {
	uint32_t flags; /* RPS_OPT_* */
} rps_options_t;

/* The common header of every control message: magic u32, version u8
 * (RPS_PROTO_VERSION), then a message-specific u8 and u16; and the length
 * rule below.  0, or -RPS_ERR_PROTO with a static reason in *why_p. */
int rps_wire_check_frame(const void *buf, size_t len, size_t wire_len, uint32_t magic,
			 const char **why_p);

/* Encoders fill exactly *_WIRE_LEN bytes of out; they assume a struct that
 * the matching parser would accept. */
void rps_hello_encode(const rps_hello_t *h, uint8_t out[RPS_HELLO_WIRE_LEN]);
void rps_welcome_encode(const rps_welcome_t *w, uint8_t out[RPS_WELCOME_WIRE_LEN]);
void rps_bye_encode(const rps_bye_t *b, uint8_t out[RPS_BYE_WIRE_LEN]);
void rps_options_encode(const rps_options_t *o, uint8_t out[RPS_OPTIONS_WIRE_LEN]);

/* Parsers: 0 and *out on success; -RPS_ERR_PROTO with a static reason in
 * *why_p (e.g. "bad magic", "worker_id 9 >= num_workers 4") otherwise.
 * len is what arrived: shorter than the wire length is refused, longer is
 * allowed only when the extra bytes are zero (a newer minor revision). */
int rps_hello_parse(const void *buf, size_t len, rps_hello_t *out, const char **why_p);
int rps_welcome_parse(const void *buf, size_t len, rps_welcome_t *out, const char **why_p);
int rps_bye_parse(const void *buf, size_t len, rps_bye_t *out, const char **why_p);
int rps_options_parse(const void *buf, size_t len, rps_options_t *out, const char **why_p);

/*
 * Immediate data of the data path, 32 bits:
 *   bits 31..30  kind (RPS_IMM_PUSH, RPS_IMM_NOTIFY, ...)
 *   bit  29      parity: which half of a double-buffered slot
 *   bits 28..0   value: chunk index (PUSH) or sequence number (NOTIFY)
 */
typedef enum rps_imm_kind {
	RPS_IMM_PUSH = 0,   /* worker -> server: chunk `value` of G[m] landed */
	RPS_IMM_NOTIFY = 1, /* server -> worker: push `value` applied */
	RPS_IMM_REJECT = 2, /* server -> worker: push `value` refused (NaN/Inf) */
	RPS_IMM_CONTROL = 3,
} rps_imm_kind_t;

#define RPS_IMM_VALUE_MAX ((1u << 29) - 1)

/* values of RPS_IMM_CONTROL */
enum {
	RPS_CTL_READY = 1, /* server -> worker: this lane is adopted, use it */
};

/* RPS_IMM_CONTROL with RPS_CTL_CHUNK set, server -> worker, only to a
 * worker that asked (RPS_OPT_CHUNK_NOTICES): chunk c of push p is
 * applied, so its part of B[m] may be read.  Bits 27..20 carry p's low 8
 * bits (with the parity bit, p's lowest, repeated), 19..0 the chunk,
 * so a notice late by less than 256 pushes is never taken for the
 * current one.  Chunks from RPS_CTL_CHUNK_MAX up get none. */
#define RPS_CTL_CHUNK	  (1u << 28)
#define RPS_CTL_CHUNK_MAX (1u << 20)

static inline uint32_t rps_ctl_chunk(uint64_t push, uint32_t c)
{
	return RPS_CTL_CHUNK | (uint32_t)(push & 0xff) << 20 | (c & (RPS_CTL_CHUNK_MAX - 1));
}

static inline uint32_t rps_imm_encode(rps_imm_kind_t kind, unsigned parity, uint32_t value)
{
	return (uint32_t)kind << 30 | (uint32_t)(parity & 1) << 29 | (value & RPS_IMM_VALUE_MAX);
}

static inline rps_imm_kind_t rps_imm_kind(uint32_t imm)
{
	return (rps_imm_kind_t)(imm >> 30);
}

static inline unsigned rps_imm_parity(uint32_t imm)
{
	return (imm >> 29) & 1;
}

static inline uint32_t rps_imm_value(uint32_t imm)
{
	return imm & RPS_IMM_VALUE_MAX;
}

#endif /* RPS_PROTO_WIRE_H */
