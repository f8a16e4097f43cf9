/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * REFUSE: why rdma-ps turned a worker's HELLO down, carried as the private
 * data of the connection's reject (rps_conn_req_reject), so the worker
 * can say why in one line instead of "connection refused".  Fixed size,
 * little-endian, versioned like the other control messages (wire.h):
 *
 *   u32 magic "RPSR"  u8 version (RPS_PROTO_VERSION)  u8 reason  u16 lane
 *   u32 worker_id     u32 reserved (0)
 *   u64 expected      u64 got        (the server's and the worker's value
 *                                     of what differs, per reason)
 *
 * A refusal for a wrong auth token carries nothing beyond its reason:
 * nothing about the layout is told to a peer that failed authentication.
 */
#ifndef RPS_PROTO_REFUSE_H
#define RPS_PROTO_REFUSE_H

#include <stddef.h>
#include <stdint.h>

#define RPS_REFUSE_MAGIC    0x52535052u /* "RPSR" little-endian */
#define RPS_REFUSE_WIRE_LEN 32

typedef enum rps_refuse_reason {
	RPS_REFUSE_HELLO = 1,	/* the HELLO did not parse */
	RPS_REFUSE_AUTH,	/* wrong or missing auth token */
	RPS_REFUSE_WORKER_ID,	/* got: the id; expected: the number of workers */
	RPS_REFUSE_WORLD,	/* got/expected: the world sizes */
	RPS_REFUSE_MODEL_SIZE,	/* got/expected: parameters (of this shard) */
	RPS_REFUSE_LANE,	/* got: the lane; expected: the server's lanes */
	RPS_REFUSE_CONNECTED,	/* this worker id and lane are connected */
	RPS_REFUSE_CLOSING,	/* its previous connection is still closing */
	RPS_REFUSE_LANE0_FIRST, /* a lane came before lane 0 */
	RPS_REFUSE_DOORBELL,	/* the doorbell differs from lane 0's */
	RPS_REFUSE_REASON_MAX_
} rps_refuse_reason_t;

typedef struct rps_refuse {
	rps_refuse_reason_t reason;
	uint16_t lane;
	uint32_t worker_id;
	uint64_t expected;
	uint64_t got;
} rps_refuse_t;

/* Fills exactly RPS_REFUSE_WIRE_LEN bytes of out. */
void rps_refuse_encode(const rps_refuse_t *r, uint8_t out[RPS_REFUSE_WIRE_LEN]);
/* 0 and *out, or -RPS_ERR_PROTO with a static reason in *why_p (the
 * length rule of wire.h: shorter is refused, longer only with zeros). */
int rps_refuse_parse(const void *buf, size_t len, rps_refuse_t *out, const char **why_p);
/* One line for a person, e.g. "the model size differs: this worker
 * trains 7850 parameters, the server holds 101770"; into buf (always
 * terminated).  Returns buf. */
char *rps_refuse_describe(const rps_refuse_t *r, char *buf, size_t len);
/* true for refusals that may go away by themselves (the worker's
 * previous connection is still being torn down): worth a retry. */
int rps_refuse_transient(rps_refuse_reason_t reason);

#endif /* RPS_PROTO_REFUSE_H */
