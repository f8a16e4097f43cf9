/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Workers learn why rdma-ps refused them: every reason the server can
 * have reaches the connecting side, with the values that differ, as the
 * private data of the reject (a REFUSE message), over the provider this
 * binary is built for (RPS_TEST_PROVIDER); and rps_worker_connect turns
 * it into -RPS_ERR_REFUSED (or -EBUSY when a retry may help) with one
 * log line that names the reason.  Exits 77 (SKIP) when the provider has
 * no device or address here.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_addr.h"

#include <rdmaps/rdmaps.h>

#include "proto/refuse.h"
#include "proto/wire.h"

#define M	4
#define N	5000
#define THREADS 2
#define TOKEN	"a-shared-secret"

static const char *addr;

static rps_server_t *start_server(const char *token)
{
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv;

	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	rps_server_config_init(&cfg);
	cfg.transport = &attr;
	cfg.addr = addr;
	cfg.algo = RPS_ALGO_ASGD;
	rps_hparams_default(cfg.algo, &cfg.hp);
	cfg.num_workers = M;
	cfg.num_params = N;
	cfg.chunk_bytes = 4096; /* several chunks: both lanes carry some */
	cfg.threads = THREADS;
	if (token) {
		cfg.auth_token = token;
		cfg.auth_token_len = strlen(token);
	}
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	return srv;
}

/* A raw client: one transport, CQ and doorbell region, as a worker of
 * another build (or a hostile one) could make. */
struct raw {
	rps_transport_t *tp;
	rps_cq_t *cq;
	uint8_t *db;
	rps_mr_t *mr;
	rps_conn_t *conn[THREADS];
};

static void raw_open(struct raw *r)
{
	rps_transport_attr_t attr;

	memset(r, 0, sizeof(*r));
	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	assert_int_equal(rps_transport_open(&attr, &r->tp), 0);
	assert_int_equal(rps_cq_create(r->tp, 1024, &r->cq), 0);
	assert_int_equal(posix_memalign((void **)&r->db, 4096, 4096), 0);
	assert_int_equal(rps_mr_reg(rps_transport_pd(r->tp), r->db, 4096,
				    RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE, &r->mr),
			 0);
}

static void raw_close(struct raw *r)
{
	rps_completion_t c;

	for (int i = 0; i < THREADS; i++)
		if (r->conn[i])
			rps_conn_close(r->conn[i]);
	while (rps_cq_poll(r->cq, &c, 1) > 0)
		;
	rps_mr_dereg(r->mr);
	rps_cq_destroy(r->cq);
	rps_transport_close(r->tp);
	free(r->db);
}

/* A HELLO of worker id on lane, with r's doorbell (off bytes into it). */
static rps_hello_t hello(struct raw *r, uint16_t lane, uint32_t id, uint64_t off)
{
	rps_remote_t db;

	rps_mr_remote(r->mr, &db);
	return (rps_hello_t){ .lane = lane,
			      .worker_id = id,
			      .num_workers = M,
			      .model_params = N,
			      .doorbell_addr = db.addr + off,
			      .doorbell_key = db.key };
}

/* Sends raw private data; returns rps_connect's status, the connection
 * (lane slot) kept when it succeeds, the REFUSE parsed into *why when
 * refused. */
static int send_raw(struct raw *r, rps_server_t *srv, const void *data, size_t len, int slot,
		    rps_refuse_t *why)
{
	rps_reject_t rej;
	rps_conn_t *c = NULL;
	const char *perr;
	int ret;

	ret = rps_connect(rps_transport_pd(r->tp), addr, rps_server_port(srv), r->cq, data, len,
			  &rej, &c);
	if (ret == 0) {
		r->conn[slot] = c;
		return 0;
	}
	assert_int_equal(ret, -ECONNREFUSED);
	/* rdma-ps always says why */
	assert_int_equal(rps_refuse_parse(rej.data, rej.len, why, &perr), 0);
	return ret;
}

static int send_hello(struct raw *r, rps_server_t *srv, const rps_hello_t *h, rps_refuse_t *why)
{
	uint8_t wire[RPS_HELLO_WIRE_LEN];

	rps_hello_encode(h, wire);
	return send_raw(r, srv, wire, sizeof(wire), h->lane, why);
}

static void expect_refused(struct raw *r, rps_server_t *srv, const rps_hello_t *h,
			   rps_refuse_reason_t reason, uint64_t expected, uint64_t got)
{
	rps_refuse_t why;
	char text[160];

	assert_int_equal(send_hello(r, srv, h, &why), -ECONNREFUSED);
	print_message("# %-14s %s\n", "refused:", rps_refuse_describe(&why, text, sizeof(text)));
	assert_int_equal(why.reason, reason);
	assert_int_equal(why.expected, expected);
	assert_int_equal(why.got, got);
}

/* Every reason, through the real server, with what differed. */
static void test_each_reason_reaches_the_worker(void **state)
{
	rps_server_t *srv = start_server(NULL);
	uint8_t junk[RPS_HELLO_WIRE_LEN];
	struct raw r, late;
	rps_refuse_t why;
	rps_hello_t h;

	(void)state;
	raw_open(&r);
	raw_open(&late);
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(send_raw(&r, srv, junk, sizeof(junk), 0, &why), -ECONNREFUSED);
	assert_int_equal(why.reason, RPS_REFUSE_HELLO);

	h = hello(&r, 0, 9, 0); /* beyond M; with a world of M it does not parse */
	h.num_workers = 0;
	expect_refused(&r, srv, &h, RPS_REFUSE_WORKER_ID, M, 9);
	h = hello(&r, 0, 1, 0);
	h.num_workers = M + 3;
	expect_refused(&r, srv, &h, RPS_REFUSE_WORLD, M, M + 3);
	h = hello(&r, 0, 1, 0);
	h.model_params = N + 1;
	expect_refused(&r, srv, &h, RPS_REFUSE_MODEL_SIZE, N, N + 1);
	h = hello(&r, THREADS, 1, 0);
	expect_refused(&r, srv, &h, RPS_REFUSE_LANE, THREADS, THREADS);
	h = hello(&r, 1, 1, 0); /* lane 1 before lane 0 */
	expect_refused(&r, srv, &h, RPS_REFUSE_LANE0_FIRST, 0, 0);

	/* worker 1 joins on lane 0 */
	h = hello(&r, 0, 1, 0);
	assert_int_equal(send_hello(&r, srv, &h, &why), 0);
	/* lane 1 must name lane 0's doorbell */
	h = hello(&r, 1, 1, 8);
	expect_refused(&r, srv, &h, RPS_REFUSE_DOORBELL, 0, 0);
	/* another process as worker 1 */
	h = hello(&late, 0, 1, 0);
	expect_refused(&late, srv, &h, RPS_REFUSE_CONNECTED, 0, 0);
	/* lane 1 joins, then lane 0 goes: until the server has reaped all
	 * of worker 1, a new lane 0 hears "still closing" */
	h = hello(&r, 1, 1, 0);
	assert_int_equal(send_hello(&r, srv, &h, &why), 0);
	rps_conn_close(r.conn[0]);
	r.conn[0] = NULL;
	h = hello(&late, 0, 1, 0);
	for (int tries = 0;; tries++) {
		assert_int_equal(send_hello(&late, srv, &h, &why), -ECONNREFUSED);
		if (why.reason == RPS_REFUSE_CLOSING)
			break;
		/* before the server noticed lane 0 went */
		assert_int_equal(why.reason, RPS_REFUSE_CONNECTED);
		assert_true(tries < 500);
		usleep(10000);
	}
	assert_true(rps_refuse_transient(RPS_REFUSE_CLOSING));
	raw_close(&late);
	raw_close(&r);
	rps_server_destroy(srv);
}

/* A wrong token tells the peer that much and nothing of the layout. */
static void test_auth_refusal_says_nothing_else(void **state)
{
	rps_server_t *srv = start_server(TOKEN);
	struct raw r;
	rps_hello_t h;

	(void)state;
	raw_open(&r);
	h = hello(&r, 0, 1, 0);
	h.model_params = N + 1; /* would be refused for this too */
	expect_refused(&r, srv, &h, RPS_REFUSE_AUTH, 0, 0);
	raw_close(&r);
	rps_server_destroy(srv);
}

static char last_err[256];

static void keep_error(rps_log_level_t level, const char *msg, void *arg)
{
	(void)arg;
	if (level == RPS_LOG_ERROR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static int worker(rps_server_t *srv, uint32_t id, uint32_t world, uint64_t n, const char *token,
		  rps_worker_t **w_p)
{
	rps_worker_config_t cfg = { 0 };
	rps_transport_attr_t attr;
	int ret;

	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	cfg.server = addr;
	cfg.port = rps_server_port(srv);
	cfg.worker_id = id;
	cfg.num_workers = world;
	cfg.num_params = n;
	cfg.transport = &attr;
	cfg.timeout_ms = 20000;
	cfg.auth_token = token;
	cfg.auth_token_len = token ? strlen(token) : 0;
	last_err[0] = '\0';
	rps_log_set_handler(keep_error, NULL);
	ret = rps_worker_connect(&cfg, w_p);
	rps_log_set_handler(NULL, NULL);
	return ret;
}

/* The worker client: one error line with the reason; -RPS_ERR_REFUSED,
 * or -EBUSY for a rank whose previous connection is still there. */
static void test_worker_connect_says_why(void **state)
{
	rps_server_t *srv = start_server(TOKEN);
	rps_worker_t *good, *bad = NULL;

	(void)state;
	assert_int_equal(worker(srv, 0, M, N, TOKEN, &good), 0);
	assert_int_equal(worker(srv, 1, M, N + 7, TOKEN, &bad), -RPS_ERR_REFUSED);
	assert_non_null(strstr(last_err, "model size differs"));
	assert_non_null(strstr(last_err, "5007"));
	assert_non_null(strstr(last_err, "5000"));
	assert_int_equal(worker(srv, 1, M + 1, N, TOKEN, &bad), -RPS_ERR_REFUSED);
	assert_non_null(strstr(last_err, "world size differs"));
	assert_int_equal(worker(srv, M, 0, N, TOKEN, &bad), -RPS_ERR_REFUSED);
	assert_non_null(strstr(last_err, "beyond"));
	assert_int_equal(worker(srv, M, M, N, TOKEN, &bad), -EINVAL); /* caught at home */
	assert_int_equal(worker(srv, 1, M, N, "wrong", &bad), -RPS_ERR_REFUSED);
	assert_non_null(strstr(last_err, "auth token"));
	assert_int_equal(worker(srv, 0, M, N, TOKEN, &bad), -EBUSY);
	assert_non_null(strstr(last_err, "already connected"));
	assert_null(bad);
	print_message("# last: %s\n", last_err);
	/* the refusals disturbed nobody */
	for (unsigned i = 0; i < N; i++)
		rps_worker_grad(good)[i] = 0.5f;
	assert_int_equal(rps_push(good), 0);
	assert_int_equal(rps_pull(good), 0);
	rps_worker_close(good);
	rps_server_destroy(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_reason_reaches_the_worker),
		cmocka_unit_test(test_auth_refusal_says_nothing_else),
		cmocka_unit_test(test_worker_connect_says_why),
	};
	char name[64];
	int ret = test_addr_or_skip(RPS_TEST_PROVIDER, &addr);

	if (ret)
		return ret;
	snprintf(name, sizeof(name), "refusals say why (%s)", RPS_TEST_PROVIDER);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL) ? 1 : 0;
}
