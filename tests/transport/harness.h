/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Harness of the transport conformance suite: one process plays both the
 * passive ("server") and active ("client") side of each connection over a
 * single transport.  Every wait pumps BOTH completion queues, because the
 * ofi provider's data progress is manual: the target of a one-sided
 * operation must keep polling for the transfer to move.
 */
#ifndef RPS_TEST_TRANSPORT_HARNESS_H
#define RPS_TEST_TRANSPORT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/rdmaps.h>

/* exit status automake reads as SKIP */
#define TH_EXIT_SKIP  77
/* generous: soft-RoCE under TCG emulation moves ~45 MB/s */
#define TH_TIMEOUT_MS 60000
/* depth of the fixture's two CQs */
#define TH_CQ_DEPTH   4096

enum th_side_id { TH_SERVER = 0, TH_CLIENT = 1 };

/* A completion taken off a CQ, with RECV payloads copied out (the
 * provider's buffer is recycled by the next poll). */
typedef struct th_comp {
	rps_completion_t c;
	uint8_t *data; /* malloc'd copy for RPS_COMP_RECV, else NULL */
} th_comp_t;

typedef struct th_side {
	rps_cq_t *cq;
	th_comp_t *queue; /* completions seen but not yet consumed */
	size_t n, cap;
} th_side_t;

typedef struct th_fixture {
	rps_transport_t *tp;
	const char *addr; /* address both sides use */
	rps_listener_t *listener;
	th_side_t side[2];
} th_fixture_t;

/* The provider this binary tests (set by the build, e.g. "ofi"). */
const char *th_provider(void);

/* Opens the transport and picks the address: $RPS_TEST_ADDR, else
 * 127.0.0.1 for ofi, else the first local IPv4 address the provider can
 * listen on.  Returns 0, or TH_EXIT_SKIP when the provider has no usable
 * device here, or -errno. */
int th_global_setup(void);
void th_global_teardown(void);

/* cmocka setup/teardown: transport, two CQs and a listener. */
int th_setup(void **state);
int th_teardown(void **state);

/* Connects a new pair through the fixture's listener: client sends cdata,
 * server accepts with adata.  Asserts success and that each side received
 * exactly what the other sent. */
void th_connect_pair(th_fixture_t *f, const void *cdata, size_t clen, const void *adata,
		     size_t alen, rps_conn_t **server_p, rps_conn_t **client_p);
/* Like th_connect_pair but returns the client's status (the server side
 * rejects when reject is true) instead of asserting. */
int th_try_connect(th_fixture_t *f, bool reject, rps_conn_t **server_p, rps_conn_t **client_p);

/* A connect that the server side refuses with rlen bytes of rdata (its
 * rps_conn_req_reject's return in *reject_ret_p); returns rps_connect's
 * status, with what it reported in *reject_p (may be NULL). */
int th_connect_refused(th_fixture_t *f, const void *rdata, size_t rlen, int *reject_ret_p,
		       rps_reject_t *reject_p);

/* th_connect_pair without private data, the server side accepted in spd
 * and the client side connected in cpd (NULL = the default PD). */
void th_connect_pair_pd(th_fixture_t *f, rps_pd_t *spd, rps_pd_t *cpd, rps_conn_t **server_p,
			rps_conn_t **client_p);

/* Polls both CQs once, queueing what arrives; returns the number taken. */
int th_pump(th_fixture_t *f);
/* The same for one side's CQ only. */
int th_pump_side(th_fixture_t *f, enum th_side_id side);
/* Pumps until side has a completion matching type (0 = any) and, when
 * wr_id != UINT64_MAX, that wr_id; removes and returns it in *out.
 * Returns 0 or -ETIMEDOUT.  A caller that gets a RECV owns out->data. */
int th_wait(th_fixture_t *f, enum th_side_id side, rps_comp_type_t type, uint64_t wr_id,
	    int timeout_ms, th_comp_t *out);
/* Pumps until side has any completion whose status is an error. */
int th_wait_error(th_fixture_t *f, enum th_side_id side, int timeout_ms, th_comp_t *out);
/* Drops every queued completion (freeing RECV copies). */
void th_drain(th_fixture_t *f);

/* Registered buffer of len bytes plus guard bytes on both sides that
 * must stay untouched; the MR covers only [buf, buf+len). */
typedef struct th_buf {
	uint8_t *mem; /* guard | buf | guard */
	uint8_t *buf;
	size_t len;
	rps_mr_t *mr;
	rps_remote_t remote;
} th_buf_t;

#define TH_GUARD 4096

void th_buf_alloc(th_fixture_t *f, size_t len, unsigned access, th_buf_t *b);

/* A connected pair (th_connect_pair, no private data) with a buffer of
 * len bytes on each side, readable and writable by the peer. */
typedef struct th_pair {
	rps_conn_t *s, *c;
	th_buf_t srv, cli;
} th_pair_t;

void th_pair_open(th_fixture_t *f, th_pair_t *p, size_t len);
void th_pair_close(th_pair_t *p);
/* th_buf_alloc, registered in pd (NULL = the default PD). */
void th_buf_alloc_pd(th_fixture_t *f, rps_pd_t *pd, size_t len, unsigned access, th_buf_t *b);
void th_buf_free(th_buf_t *b);
/* Fills with a pattern derived from seed; returns nothing. */
void th_fill(void *p, size_t len, uint32_t seed);
/* true when every byte equals the pattern of th_fill(seed). */
bool th_check(const void *p, size_t len, uint32_t seed);
/* true when both guards still hold the guard pattern. */
bool th_guards_intact(const th_buf_t *b);

#endif /* RPS_TEST_TRANSPORT_HARNESS_H */
