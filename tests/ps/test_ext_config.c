/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The parameter server's extensible structs (util/ext_struct.h), as
 * programs built against other headers see them: a server configuration,
 * a worker configuration and a statistics struct that end earlier than
 * this library's (an older header) train as before, with the defaults for
 * what they lack, and the library writes nothing past their end; larger
 * ones (a newer header) are fine while what the library does not know is
 * zero, and refused with -E2BIG otherwise; the 1.1 worker members (the
 * caller's buffers) are used.  Over RPS_TEST_PROVIDER; exits
 * 77 (SKIP) when it has no device or address here.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
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

#define N 3000

static const char *addr;

/* rps_server_config_t as a header that ended at `transport` had it: the
 * same members at the same places (checked below), fewer of them. */
struct server_config_old {
	size_t size;
	rps_algo_t algo;
	rps_hparams_t hp;
	uint32_t num_workers;
	uint64_t num_params;
	const float *init_weights;
	uint64_t shard_offset;
	uint32_t chunk_bytes;
	uint32_t threads;
	const char *cpus;
	int numa_node;
	bool no_pin;
	uint32_t max_staleness;
	uint32_t ssgd_timeout_ms;
	const char *addr;
	uint16_t port;
	const rps_transport_attr_t *transport;
};
_Static_assert(offsetof(struct server_config_old, transport) ==
		       offsetof(rps_server_config_t, transport),
	       "the old struct is a prefix of the current one");

/* the same for the worker: a header that ended at timeout_ms */
struct worker_config_old {
	size_t size;
	const char *server;
	uint16_t port;
	uint32_t worker_id;
	uint32_t num_workers;
	uint64_t num_params;
	const rps_transport_attr_t *transport;
	int timeout_ms;
};
_Static_assert(offsetof(struct worker_config_old, timeout_ms) ==
		       offsetof(rps_worker_config_t, timeout_ms),
	       "the old struct is a prefix of the current one");

/* and the statistics of a header that ended at pushes */
struct stats_old {
	size_t size;
	bool connected;
	bool joined;
	uint64_t pushes;
};
_Static_assert(offsetof(struct stats_old, pushes) == offsetof(rps_server_worker_stats_t, pushes),
	       "the old struct is a prefix of the current one");

/* and the statistics of librdmaps 1.0, which ended at staleness_max */
struct stats_1_0 {
	size_t size;
	bool connected;
	bool joined;
	uint64_t pushes;
	uint64_t chunks_applied;
	uint64_t chunks_rejected;
	uint64_t protocol_errors;
	uint64_t staleness_sum;
	uint64_t staleness_max;
};
_Static_assert(offsetof(struct stats_1_0, staleness_max) ==
		       offsetof(rps_server_worker_stats_t, staleness_max),
	       "the 1.0 struct is a prefix of the current one");

/* the structs of a newer header: this library's, then one more member */
struct server_config_new {
	rps_server_config_t cfg;
	uint64_t later_field;
};
struct worker_config_new {
	rps_worker_config_t cfg;
	uint64_t later_field;
};

static rps_transport_attr_t attr;

/* The test's server: one asgd worker of N parameters.  Sets members up
 * to transport only, so that it serves the older struct too. */
static void server_fields(rps_server_config_t *c)
{
	c->algo = RPS_ALGO_ASGD;
	rps_hparams_default(c->algo, &c->hp);
	c->num_workers = 1;
	c->num_params = N;
	c->addr = addr;
	c->transport = &attr;
}

/* An older program's server: its init writes no further than its
 * struct, and the server runs with the defaults of the fields it lacks
 * (here: no auth token, a fresh start). */
static rps_server_t *old_server(void)
{
	struct {
		struct server_config_old cfg;
		unsigned char canary[64];
	} mem;
	rps_server_t *srv;

	memset(&mem, 0xa5, sizeof(mem));
	rps_server_config_init_size((rps_server_config_t *)&mem.cfg, sizeof(mem.cfg));
	for (size_t i = 0; i < sizeof(mem.canary); i++)
		assert_int_equal(mem.canary[i], 0xa5);
	assert_int_equal(mem.cfg.size, sizeof(mem.cfg));
	assert_int_equal(mem.cfg.numa_node, -1); /* a default, written */
	server_fields((rps_server_config_t *)&mem.cfg);
	/* the canary stands where auth_token and resume_path would be */
	assert_int_equal(rps_server_create((rps_server_config_t *)&mem.cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	return srv;
}

static void push_pull(rps_worker_t *w)
{
	for (unsigned i = 0; i < N; i++)
		rps_worker_grad(w)[i] = 1.0f;
	assert_int_equal(rps_push(w), 0);
	assert_int_equal(rps_pull(w), 0);
}

/* A running server of this header's config (cfg, for its hp) and a
 * worker config of this header aimed at it. */
static rps_server_t *current_server(rps_server_config_t *cfg, rps_worker_config_t *wc)
{
	rps_server_t *srv;

	rps_server_config_init(cfg);
	server_fields(cfg);
	assert_int_equal(rps_server_create(cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	rps_worker_config_init(wc);
	wc->server = addr;
	wc->port = rps_server_port(srv);
	wc->transport = &attr;
	return srv;
}

static void test_older_structs_train(void **state)
{
	rps_server_t *srv = old_server();
	struct {
		struct worker_config_old cfg;
		unsigned char canary[64];
	} wmem;
	struct {
		struct stats_old st;
		unsigned char canary[64];
	} smem;
	struct {
		struct stats_1_0 st;
		unsigned char canary[sizeof(uint64_t)];
	} s10;
	rps_server_worker_stats_t now;
	rps_worker_t *w;

	(void)state;
	memset(&wmem, 0xa5, sizeof(wmem));
	rps_worker_config_init_size((rps_worker_config_t *)&wmem.cfg, sizeof(wmem.cfg));
	assert_int_equal(wmem.canary[0], 0xa5);
	assert_int_equal(wmem.cfg.timeout_ms, 60000);
	wmem.cfg.server = addr;
	wmem.cfg.port = rps_server_port(srv);
	wmem.cfg.num_workers = 1;
	wmem.cfg.transport = &attr;
	assert_int_equal(rps_worker_connect((rps_worker_config_t *)&wmem.cfg, &w), 0);
	push_pull(w);
	push_pull(w);
	/* the stats of an older program: its prefix, nothing further */
	memset(&smem, 0xa5, sizeof(smem));
	assert_int_equal(rps_server_worker_stats_size(srv, 0, (rps_server_worker_stats_t *)&smem.st,
						      sizeof(smem.st)),
			 0);
	assert_int_equal(smem.st.size, sizeof(smem.st));
	assert_true(smem.st.connected && smem.st.joined);
	assert_int_equal(smem.st.pushes, 2);
	for (size_t i = 0; i < sizeof(smem.canary); i++)
		assert_int_equal(smem.canary[i], 0xa5);
	/* a 1.0 program: everything up to staleness_max, not apply_ns */
	memset(&s10, 0xa5, sizeof(s10));
	assert_int_equal(rps_server_worker_stats_size(srv, 0, (rps_server_worker_stats_t *)&s10.st,
						      sizeof(s10.st)),
			 0);
	assert_int_equal(s10.st.size, sizeof(s10.st));
	assert_int_equal(s10.st.chunks_applied, 2); /* N floats: one chunk a push */
	assert_int_equal(s10.st.staleness_max, 0);
	for (size_t i = 0; i < sizeof(s10.canary); i++)
		assert_int_equal(s10.canary[i], 0xa5);
	/* and this library's: apply_ns too */
	assert_int_equal(rps_server_worker_stats(srv, 0, &now), 0);
	assert_int_equal(now.size, sizeof(now));
	assert_true(now.apply_ns > 0);
	rps_worker_close(w);
	rps_server_destroy(srv);
}

static void test_newer_structs(void **state)
{
	struct server_config_new s;
	struct worker_config_new wc;
	rps_server_t *srv = NULL;
	rps_worker_t *w;

	(void)state;
	rps_server_config_init_size(&s.cfg, sizeof(s));
	assert_int_equal(s.cfg.size, sizeof(s));
	assert_int_equal(s.later_field, 0); /* zeroed, not left */
	server_fields(&s.cfg);
	/* asks for a later feature: refused, nothing made */
	s.later_field = 1;
	assert_int_equal(rps_server_create(&s.cfg, &srv), -E2BIG);
	assert_null(srv);
	/* a reserved hyper-parameter slot is a later feature too */
	s.later_field = 0;
	s.cfg.hp.reserved[2] = 1;
	assert_int_equal(rps_server_create(&s.cfg, &srv), -E2BIG);
	s.cfg.hp.reserved[2] = 0;
	/* all zero: it runs */
	assert_int_equal(rps_server_create(&s.cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);

	rps_worker_config_init_size(&wc.cfg, sizeof(wc));
	wc.cfg.server = addr;
	wc.cfg.port = rps_server_port(srv);
	wc.cfg.transport = &attr;
	wc.later_field = 5;
	assert_int_equal(rps_worker_connect(&wc.cfg, &w), -E2BIG);
	wc.later_field = 0;
	assert_int_equal(rps_worker_connect(&wc.cfg, &w), 0);
	push_pull(w);
	rps_worker_close(w);
	rps_server_destroy(srv);
}

/* Designated initializers, no init call: size 0, the 1.0 layout; a size
 * that stops before the required members is refused. */
static void test_size_zero_and_too_small(void **state)
{
	rps_server_config_t cfg;
	rps_server_t *srv = NULL;
	rps_worker_t *w;

	(void)state;
	rps_server_config_init(&cfg);
	server_fields(&cfg);
	cfg.size = offsetof(rps_server_config_t, num_params);
	assert_int_equal(rps_server_create(&cfg, &srv), -EINVAL);
	cfg.size = 0;
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	rps_worker_config_t wc = { .server = addr,
				   .port = rps_server_port(srv),
				   .transport = &attr,
				   .timeout_ms = 20000 };
	assert_int_equal(rps_worker_connect(&wc, &w), 0);
	push_pull(w);
	rps_worker_close(w);
	rps_server_destroy(srv);
}

/* librdmaps 1.1: the caller's buffers are the ones registered and used
 * (the initial pull lands in them, the push reads them), and close leaves
 * them to the caller (ASan reports a free of memory it did not allocate) */
static void test_caller_buffers(void **state)
{
	rps_server_config_t cfg;
	rps_worker_config_t wc;
	rps_server_t *srv;
	rps_worker_t *w = NULL;
	float *grad = calloc(N, sizeof(float)), *weights = malloc(N * sizeof(float));

	(void)state;
	assert_non_null(grad);
	assert_non_null(weights);
	for (unsigned i = 0; i < N; i++)
		weights[i] = 7.0f; /* overwritten by the initial pull */
	srv = current_server(&cfg, &wc);
	wc.grad_buf = grad;
	wc.weights_buf = weights;
	/* their size must be given */
	assert_int_equal(rps_worker_connect(&wc, &w), -EINVAL);
	assert_null(w);
	/* and be the server's */
	wc.num_params = N - 1;
	assert_int_not_equal(rps_worker_connect(&wc, &w), 0);
	assert_null(w);
	wc.num_params = N;
	assert_int_equal(rps_worker_connect(&wc, &w), 0);
	assert_ptr_equal(rps_worker_grad(w), grad);
	assert_ptr_equal(rps_worker_weights(w), weights);
	for (unsigned i = 0; i < N; i++)
		assert_true(weights[i] == 0.0f);
	for (unsigned i = 0; i < N; i++)
		grad[i] = (float)(i % 5);
	assert_int_equal(rps_push(w), 0);
	assert_int_equal(rps_pull(w), 0);
	for (unsigned i = 0; i < N; i++)
		assert_true(weights[i] == 0.0f - cfg.hp.lr * (float)(i % 5));
	rps_worker_close(w);
	rps_server_destroy(srv);
	free(grad);
	free(weights);
}

/* the allocator of test_caller_allocator: hands out arg's two arrays
 * after checking the size the library asks for */
struct alloc_arg {
	float *bufs[2];
	uint64_t asked[2];
	int calls;
};

static float *give(uint64_t n, int which, void *arg)
{
	struct alloc_arg *a = arg;

	a->calls++;
	a->asked[which] = n;
	return a->bufs[which];
}

/* the allocator is asked, once the server told the size, for what the
 * caller did not give; its memory is used and left to the caller */
static void test_caller_allocator(void **state)
{
	rps_server_config_t cfg;
	rps_worker_config_t wc;
	rps_server_t *srv;
	rps_worker_t *w = NULL;
	float *given = calloc(N, sizeof(float));
	struct alloc_arg a = { { calloc(N, sizeof(float)), calloc(N, sizeof(float)) },
			       { 0, 0 },
			       0 };
	int ret;

	(void)state;
	srv = current_server(&cfg, &wc);
	wc.buf_alloc = give;
	wc.buf_alloc_arg = &a;
	/* num_params 0: the server's size */
	assert_int_equal(rps_worker_connect(&wc, &w), 0);
	assert_int_equal(a.calls, 2);
	assert_int_equal(a.asked[0], N);
	assert_int_equal(a.asked[1], N);
	assert_ptr_equal(rps_worker_grad(w), a.bufs[0]);
	assert_ptr_equal(rps_worker_weights(w), a.bufs[1]);
	push_pull(w);
	assert_true(a.bufs[1][0] == 0.0f - cfg.hp.lr);
	rps_worker_close(w);
	/* a given buffer wins over the allocator; one it fails to give fails
	 * the connect */
	a.calls = 0;
	free(a.bufs[1]);
	a.bufs[1] = NULL;
	wc.grad_buf = given;
	wc.num_params = N;
	/* (the server refuses the rank with -EBUSY until it reaped the
	 * previous connection) */
	for (int tries = 0; (ret = rps_worker_connect(&wc, &w)) == -EBUSY && tries < 400; tries++)
		usleep(50000);
	assert_int_equal(ret, -ENOMEM);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.asked[1], N);
	rps_server_destroy(srv);
	free(a.bufs[0]);
	free(given);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_older_structs_train),
		cmocka_unit_test(test_newer_structs),
		cmocka_unit_test(test_size_zero_and_too_small),
		cmocka_unit_test(test_caller_buffers),
		cmocka_unit_test(test_caller_allocator),
	};
	char name[64];
	int ret = test_addr_or_skip(RPS_TEST_PROVIDER, &addr);

	if (ret)
		return ret;
	if (rps_transport_attr_init(&attr))
		return 1;
	attr.provider = RPS_TEST_PROVIDER;
	snprintf(name, sizeof(name), "extensible configurations (%s)", RPS_TEST_PROVIDER);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL) ? 1 : 0;
}
