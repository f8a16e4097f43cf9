/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parameter server end to end, in one process: a server and worker
 * threads over the provider this binary is built for (RPS_TEST_PROVIDER).
 * Exits 77 (SKIP) when that provider has no device or address here.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
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

#include "optim/kernels.h"
#include "proto/wire.h"
#include "ps/ps_private.h"

static const char *addr;

/* deterministic gradient of worker m's push k, independent of weights so
 * the replay test can regenerate it */
static float grad_value(uint32_t m, uint64_t k, uint64_t i)
{
	uint32_t x = (uint32_t)(m * 2654435761u ^ k * 40503u ^ i * 2246822519u);

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return ((float)(x & 0xffff) / 65536.0f - 0.5f) * 0.02f;
}

static void fill_grad(float *g, uint64_t n, uint32_t m, uint64_t k)
{
	for (uint64_t i = 0; i < n; i++)
		g[i] = grad_value(m, k, i);
}

static float init_value(uint64_t i)
{
	return (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
}

/* A server configuration for the tests: the provider under test, the
 * test address, algo with its defaults, M workers, n params. */
static void test_config(rps_server_config_t *cfg, rps_transport_attr_t *attr, rps_algo_t algo,
			uint32_t M, uint64_t n)
{
	rps_transport_attr_init(attr);
	attr->provider = RPS_TEST_PROVIDER;
	rps_server_config_init(cfg);
	cfg->transport = attr;
	cfg->addr = addr;
	cfg->algo = algo;
	rps_hparams_default(algo, &cfg->hp);
	cfg->num_workers = M;
	cfg->num_params = n;
}

static rps_server_t *start_server(rps_algo_t algo, uint32_t M, uint64_t n, uint32_t chunk,
				  uint32_t threads, uint32_t staleness, uint64_t log_len)
{
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv;
	float *init = malloc(n * sizeof(float));

	assert_non_null(init);
	for (uint64_t i = 0; i < n; i++)
		init[i] = init_value(i);
	rps_server_config_init(&cfg);
	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	cfg.transport = &attr;
	cfg.algo = algo;
	rps_hparams_default(algo, &cfg.hp);
	cfg.hp.lr = 0.05f;
	cfg.num_workers = M;
	cfg.num_params = n;
	cfg.init_weights = init;
	cfg.chunk_bytes = chunk;
	cfg.threads = threads;
	cfg.max_staleness = staleness;
	cfg.addr = addr;
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	free(init);
	assert_int_equal(rps_server_apply_log_enable(srv, log_len), 0);
	assert_int_equal(rps_server_start(srv), 0);
	return srv;
}

static int worker_connect(rps_server_t *srv, uint32_t id, uint32_t M, rps_worker_t **w_p)
{
	rps_worker_config_t cfg = { 0 };
	rps_transport_attr_t attr;

	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	cfg.server = addr;
	cfg.port = rps_server_port(srv);
	cfg.worker_id = id;
	cfg.num_workers = M;
	cfg.transport = &attr;
	cfg.timeout_ms = 60000;
	return rps_worker_connect(&cfg, w_p);
}

/* ---- many workers, every chunk exactly once -------------------------- */

struct wjob {
	rps_server_t *srv;
	uint32_t id, M;
	unsigned pushes;
	int ret;
};

static void *worker_loop(void *arg)
{
	struct wjob *j = arg;
	rps_worker_t *w;

	if ((j->ret = worker_connect(j->srv, j->id, j->M, &w)))
		return NULL;
	for (unsigned k = 0; k < j->pushes && !j->ret; k++) {
		fill_grad(rps_worker_grad(w), rps_worker_num_params(w), j->id, k);
		if ((j->ret = rps_push(w)) == 0)
			j->ret = rps_pull(w);
	}
	rps_worker_close(w);
	return NULL;
}

static void run_workers(rps_server_t *srv, uint32_t M, unsigned pushes)
{
	pthread_t thr[16];
	struct wjob jobs[16];

	for (uint32_t m = 0; m < M; m++) {
		jobs[m] = (struct wjob){ srv, m, M, pushes, 0 };
		assert_int_equal(pthread_create(&thr[m], NULL, worker_loop, &jobs[m]), 0);
	}
	for (uint32_t m = 0; m < M; m++) {
		pthread_join(thr[m], NULL);
		if (jobs[m].ret)
			fail_msg("worker %u: %s", m, rps_strerror(jobs[m].ret));
	}
}

static void test_every_chunk_applied_once_8_workers(void **state)
{
	const uint32_t M = 8, pushes = 12;
	const uint64_t n = 50000; /* 13 chunks of 16 KiB, the last one short */
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, M, n, 16384, 2, 0, 0);
	float *w = malloc(n * sizeof(float));

	(void)state;
	run_workers(srv, M, pushes);
	rps_server_stop(srv);
	for (uint32_t m = 0; m < M; m++) {
		rps_server_worker_stats_t st;

		assert_int_equal(rps_server_worker_stats(srv, m, &st), 0);
		assert_int_equal(st.pushes, pushes);
		assert_int_equal(st.chunks_applied, pushes * ((n * 4 + 16383) / 16384));
		assert_int_equal(st.chunks_rejected, 0);
		assert_int_equal(st.protocol_errors, 0);
		/* the engine timed every chunk it applied for this worker */
		assert_true(st.apply_ns > 0);
	}
	assert_int_equal(rps_server_version(srv), (uint64_t)M * pushes);
	/* ASGD with lr*g summed over every push, whatever the order, lands
	 * within float rounding of the sequential sum */
	rps_server_read_weights(srv, w);
	for (uint64_t i = 0; i < n; i += 97) {
		double ref = init_value(i);

		for (uint32_t m = 0; m < M; m++)
			for (uint64_t k = 0; k < pushes; k++)
				ref -= 0.05 * grad_value(m, k, i);
		assert_true(fabs(w[i] - ref) < 1e-5);
	}
	free(w);
	rps_server_destroy(srv);
}

/* ---- replay: the logged order, applied sequentially, is bit-identical --- */

static void replay_check(rps_algo_t algo)
{
	const uint32_t M = 4, pushes = 10, chunk = 8192;
	const uint64_t n = 20000, cp = chunk / 4;
	rps_server_t *srv = start_server(algo, M, n, chunk, 2, 0, 100000);
	float *got = malloc(n * sizeof(float)), *w = malloc(n * sizeof(float));
	float *ms = calloc(n, sizeof(float)), *b[4], *g = malloc(cp * sizeof(float));
	const rps_apply_record_t *log;
	uint64_t nlog;
	rps_hparams_t hp;

	run_workers(srv, M, pushes);
	rps_server_stop(srv);
	rps_server_read_weights(srv, got);
	log = rps_server_apply_log(srv, &nlog);
	assert_non_null(log);
	assert_int_equal(nlog, (uint64_t)M * pushes * ((n + cp - 1) / cp));

	rps_hparams_default(algo, &hp);
	hp.lr = 0.05f;
	for (uint64_t i = 0; i < n; i++)
		w[i] = init_value(i);
	for (uint32_t m = 0; m < M; m++) {
		b[m] = malloc(n * sizeof(float));
		memcpy(b[m], w, n * sizeof(float));
	}
	for (uint64_t r = 0; r < nlog; r++) {
		uint64_t off = (uint64_t)log[r].chunk * cp, len = n - off < cp ? n - off : cp;

		for (uint64_t i = 0; i < len; i++)
			g[i] = grad_value(log[r].worker, log[r].push, off + i);
		if (algo == RPS_ALGO_DCASGD_A) {
			rps_dcasgd_a_params_t p = { hp.lr, hp.lambda, hp.ms_decay, hp.eps };

			assert_int_equal(rps_optim_dcasgd_a(w + off, b[log[r].worker] + off,
							    ms + off, g, len, &p, NULL),
					 0);
		} else {
			rps_sgd_params_t p = { hp.lr, 0, 0 };

			assert_int_equal(rps_optim_sgd(w + off, NULL, NULL, g, len, &p, NULL), 0);
		}
	}
	assert_memory_equal(got, w, n * sizeof(float));
	for (uint32_t m = 0; m < M; m++)
		free(b[m]);
	free(g);
	free(ms);
	free(w);
	free(got);
	rps_server_destroy(srv);
}

static void test_replay_dcasgd_a_bit_identical(void **state)
{
	(void)state;
	replay_check(RPS_ALGO_DCASGD_A);
}

static void test_replay_asgd_bit_identical(void **state)
{
	(void)state;
	replay_check(RPS_ALGO_ASGD);
}

/* ---- faults and bad input ------------------------------------------- */

static void test_nan_chunk_rejected_model_untouched(void **state)
{
	const uint64_t n = 8192; /* two chunks of 16 KiB */
	rps_server_t *srv = start_server(RPS_ALGO_DCASGD_C, 1, n, 16384, 1, 0, 0);
	float *before = malloc(n * sizeof(float)), *after = malloc(n * sizeof(float));
	rps_server_worker_stats_t st;
	rps_worker_t *w;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 1, &w), 0);
	memcpy(before, rps_worker_weights(w), n * sizeof(float));
	fill_grad(rps_worker_grad(w), n, 0, 0);
	rps_worker_grad(w)[4096 + 17] = NAN; /* in chunk 1 */
	assert_int_equal(rps_push(w), -EDOM);
	assert_int_equal(rps_pull(w), 0);
	memcpy(after, rps_worker_weights(w), n * sizeof(float));
	/* chunk 1 untouched, chunk 0 applied, nothing non-finite anywhere */
	assert_memory_equal(after + 4096, before + 4096, 4096 * sizeof(float));
	assert_memory_not_equal(after, before, 4096 * sizeof(float));
	for (uint64_t i = 0; i < n; i++)
		assert_true(isfinite(after[i]));
	/* and the worker goes on */
	fill_grad(rps_worker_grad(w), n, 0, 1);
	assert_int_equal(rps_push(w), 0);
	rps_worker_close(w);
	rps_server_stop(srv);
	assert_int_equal(rps_server_worker_stats(srv, 0, &st), 0);
	assert_int_equal(st.chunks_rejected, 1);
	assert_int_equal(st.chunks_applied, 3);
	assert_int_equal(st.pushes, 2);
	free(before);
	free(after);
	rps_server_destroy(srv);
}

static void test_disconnect_mid_push_others_continue(void **state)
{
	const uint32_t M = 3;
	const uint64_t n = 40000;
	rps_server_t *srv = start_server(RPS_ALGO_DCASGD_A, M, n, 16384, 1, 0, 0);
	rps_worker_t *quitter;
	pthread_t thr[2];
	struct wjob jobs[2];
	rps_server_worker_stats_t st;

	(void)state;
	/* worker 2 starts a push and vanishes without waiting for it */
	assert_int_equal(worker_connect(srv, 2, M, &quitter), 0);
	fill_grad(rps_worker_grad(quitter), n, 2, 0);
	assert_int_equal(rps_push_start(quitter), 0);
	rps_worker_close(quitter);
	/* the others train on */
	for (uint32_t m = 0; m < 2; m++) {
		jobs[m] = (struct wjob){ srv, m, M, 8, 0 };
		assert_int_equal(pthread_create(&thr[m], NULL, worker_loop, &jobs[m]), 0);
	}
	for (uint32_t m = 0; m < 2; m++) {
		pthread_join(thr[m], NULL);
		assert_int_equal(jobs[m].ret, 0);
	}
	/* and worker 2 can come back under the same id and push */
	for (int tries = 0; tries < 100; tries++) {
		int ret = worker_connect(srv, 2, M, &quitter);

		if (ret == 0)
			break;
		/* refused while its previous lanes are still being reaped */
		assert_int_equal(ret, -EBUSY);
		usleep(20000);
		quitter = NULL;
	}
	assert_non_null(quitter);
	fill_grad(rps_worker_grad(quitter), n, 2, 1);
	assert_int_equal(rps_push(quitter), 0);
	rps_worker_close(quitter);
	rps_server_stop(srv);
	for (uint32_t m = 0; m < 2; m++) {
		assert_int_equal(rps_server_worker_stats(srv, m, &st), 0);
		assert_int_equal(st.pushes, 8);
	}
	float *wts = malloc(n * sizeof(float));
	rps_server_read_weights(srv, wts);
	for (uint64_t i = 0; i < n; i++)
		assert_true(isfinite(wts[i]));
	free(wts);
	rps_server_destroy(srv);
}

static void test_bad_hello_refused_others_unaffected(void **state)
{
	const uint64_t n = 4096;
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, 2, n, 16384, 1, 0, 0);
	rps_worker_config_t cfg = { 0 };
	rps_transport_attr_t attr;
	rps_worker_t *good, *bad = NULL;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 2, &good), 0);
	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	cfg = (rps_worker_config_t){ .server = addr,
				     .port = rps_server_port(srv),
				     .worker_id = 1,
				     .num_workers = 2,
				     .num_params = n + 1,
				     .transport = &attr,
				     .timeout_ms = 5000 };
	assert_int_equal(rps_worker_connect(&cfg, &bad), -RPS_ERR_REFUSED); /* model size */
	cfg.num_params = n;
	cfg.worker_id = 7; /* beyond M */
	cfg.num_workers = 0;
	assert_int_equal(rps_worker_connect(&cfg, &bad), -RPS_ERR_REFUSED);
	cfg.worker_id = 0; /* already connected */
	assert_int_equal(rps_worker_connect(&cfg, &bad), -EBUSY);
	assert_null(bad);
	fill_grad(rps_worker_grad(good), n, 0, 0);
	assert_int_equal(rps_push(good), 0);
	rps_worker_close(good);
	rps_server_destroy(srv);
}

/* ---- isolation: a worker's keys reach only its own slot ----------------- */

/* A hand-made client that speaks the HELLO/WELCOME handshake on one raw
 * connection (lane 0) and then posts whatever the test wants, as a buggy
 * or hostile worker could. */
struct rogue {
	rps_transport_t *tp;
	rps_cq_t *cq;
	uint8_t *buf; /* [0, 64): doorbell for the server's READY; then data */
	size_t len;
	rps_mr_t *mr;
	rps_conn_t *conn;
	rps_welcome_t welcome;
};

static void rogue_open(struct rogue *r, size_t len)
{
	rps_transport_attr_t attr;

	memset(r, 0, sizeof(*r));
	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	assert_int_equal(rps_transport_open(&attr, &r->tp), 0);
	assert_int_equal(rps_cq_create(r->tp, 1024, &r->cq), 0);
	r->len = 64 + len;
	assert_int_equal(posix_memalign((void **)&r->buf, 4096, r->len), 0);
	/* NaN everywhere: applied anywhere, it would show in the model */
	memset(r->buf, 0xff, r->len);
	assert_int_equal(rps_mr_reg(rps_transport_pd(r->tp), r->buf, r->len,
				    RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE |
					    RPS_ACCESS_REMOTE_READ,
				    &r->mr),
			 0);
}

static void rogue_close(struct rogue *r)
{
	rps_mr_dereg(r->mr);
	rps_cq_destroy(r->cq);
	rps_transport_close(r->tp);
	free(r->buf);
}

/* Joins as worker id (lane 0), keeping the WELCOME; retries while the
 * server is still reaping the id's previous connection. */
static void rogue_join(struct rogue *r, rps_server_t *srv, uint32_t id, uint32_t M, uint64_t n)
{
	rps_remote_t db;
	rps_hello_t h = { .lane = 0, .worker_id = id, .num_workers = M, .model_params = n };
	uint8_t wire[RPS_HELLO_WIRE_LEN];
	const char *why;
	const void *data;
	size_t len;
	int ret = -ECONNREFUSED;

	rps_mr_remote(r->mr, &db);
	h.doorbell_addr = db.addr;
	h.doorbell_key = db.key;
	rps_hello_encode(&h, wire);
	for (int tries = 0; tries < 200 && ret == -ECONNREFUSED; tries++) {
		ret = rps_connect(rps_transport_pd(r->tp), addr, rps_server_port(srv), r->cq, wire,
				  sizeof(wire), NULL, &r->conn);
		if (ret == -ECONNREFUSED)
			usleep(20000);
	}
	assert_int_equal(ret, 0);
	data = rps_conn_peer_data(r->conn, &len);
	assert_int_equal(rps_welcome_parse(data, len, &r->welcome, &why), 0);
	assert_int_equal(r->welcome.worker_id, id);
}

static void rogue_leave(struct rogue *r)
{
	rps_completion_t c;

	rps_conn_close(r->conn);
	r->conn = NULL;
	while (rps_cq_poll(r->cq, &c, 1) > 0)
		;
}

/* WRITEs len bytes of NaN to remote [raddr, raddr+len) with key and
 * returns the status of its completion (the server's READY notice, which
 * may come first, is passed over). */
static int rogue_write(struct rogue *r, uint64_t raddr, uint64_t key, size_t len)
{
	rps_completion_t c;

	assert_true(64 + len <= r->len);
	assert_int_equal(rps_post_write(r->conn, r->buf + 64, len, r->mr, raddr, key, 77, 0), 0);
	for (;;) {
		assert_true(rps_cq_poll_wait(r->cq, &c, 1, 60000) == 1);
		if (c.status || c.wr_id == 77)
			return c.status;
	}
}

/* Waits until the server counts worker id as gone (it reaps a broken
 * lane on its own; the rogue has closed its end too). */
static void wait_disconnected(rps_server_t *srv, uint32_t id)
{
	rps_server_worker_stats_t st;

	for (int tries = 0; tries < 3000; tries++) {
		assert_int_equal(rps_server_worker_stats(srv, id, &st), 0);
		if (!st.connected)
			return;
		usleep(10000);
	}
	fail_msg("worker %u still counted as connected", id);
}

static bool pd_isolation(void)
{
	rps_transport_attr_t attr;
	rps_transport_t *tp;
	rps_pd_t *pd;
	bool isolated;

	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	assert_int_equal(rps_transport_open(&attr, &tp), 0);
	assert_int_equal(rps_pd_alloc(tp, &pd), 0);
	isolated = rps_pd_isolated(pd);
	rps_pd_free(pd);
	rps_transport_close(tp);
	return isolated;
}

/* The issue-9 attack: worker 1 learns worker 0's gradient key and
 * address (here by joining as worker 0 once) and WRITEs into G[0], and
 * READs B[0], on its own connection.  On verbs both fail with a remote
 * access error; worker 1 is dropped (its lane broke) and may come back;
 * worker 0 trains on and the model is exactly what worker 0's pushes make
 * of it. */
static void test_foreign_key_refused_model_unchanged(void **state)
{
	const uint64_t n = 8192; /* two chunks of 16 KiB */
	const float lr = 0.05f;
	rps_server_t *srv;
	rps_worker_t *w0;
	rps_wire_region_t g0, b0;
	struct rogue r;
	float *before, *after;
	int status;

	(void)state;
	if (!pd_isolation()) {
		print_message("# SKIP provider %s: protection domains are not isolated "
			      "(a libfabric key is valid on every endpoint of its domain): "
			      "a worker holding another's key can reach its slot; see "
			      "rdmaps(7) SECURITY\n",
			      RPS_TEST_PROVIDER);
		skip();
	}
	srv = start_server(RPS_ALGO_ASGD, 2, n, 16384, 1, 0, 0);
	before = malloc(n * sizeof(float));
	after = malloc(n * sizeof(float));
	rogue_open(&r, 2 * n * sizeof(float));

	/* learn worker 0's regions, then let the real worker 0 in */
	rogue_join(&r, srv, 0, 2, n);
	g0 = r.welcome.grad;
	b0 = r.welcome.snap;
	rogue_leave(&r);
	wait_disconnected(srv, 0);
	for (int tries = 0; tries < 200; tries++) {
		int ret = worker_connect(srv, 0, 2, &w0);

		if (ret == 0)
			break;
		assert_int_equal(ret, -EBUSY); /* still reaping */
		w0 = NULL;
		usleep(20000);
	}
	assert_non_null(w0);
	fill_grad(rps_worker_grad(w0), n, 0, 0);
	assert_int_equal(rps_push(w0), 0);
	assert_int_equal(rps_pull(w0), 0);

	/* worker 1 writes NaNs over both halves of G[0] with 0's key */
	rogue_join(&r, srv, 1, 2, n);
	assert_true(r.welcome.grad.key != g0.key);
	rps_server_read_weights(srv, before);
	status = rogue_write(&r, g0.addr, g0.key, g0.len);
	print_message("# worker 1 writing G[0]: %s\n", rps_strerror(status));
	assert_int_equal(status, -RPS_ERR_REMOTE_ACCESS);
	rogue_leave(&r);
	wait_disconnected(srv, 1);

	/* and reads B[0] with 0's snapshot key */
	rogue_join(&r, srv, 1, 2, n);
	assert_int_equal(rps_post_read(r.conn, r.buf + 64, 4096, r.mr, b0.addr, b0.key, 78, 0), 0);
	{
		rps_completion_t c;

		do
			assert_true(rps_cq_poll_wait(r.cq, &c, 1, 60000) == 1);
		while (!c.status && c.wr_id != 78);
		print_message("# worker 1 reading B[0]: %s\n", rps_strerror(c.status));
		assert_int_equal(c.status, -RPS_ERR_REMOTE_ACCESS);
	}
	rogue_leave(&r);
	wait_disconnected(srv, 1);
	rps_server_read_weights(srv, after);
	assert_memory_equal(after, before, n * sizeof(float));

	/* worker 0 never noticed: it trains on, and W is exactly what its
	 * own pushes make of the initial weights */
	for (uint64_t k = 1; k < 4; k++) {
		fill_grad(rps_worker_grad(w0), n, 0, k);
		assert_int_equal(rps_push(w0), 0);
		assert_int_equal(rps_pull(w0), 0);
	}
	rps_worker_close(w0);
	rps_server_stop(srv);
	rps_server_read_weights(srv, after);
	for (uint64_t i = 0; i < n; i++) {
		float ref = init_value(i);

		for (uint64_t k = 0; k < 4; k++)
			ref -= lr * grad_value(0, k, i);
		assert_true(isfinite(after[i]));
		assert_true(fabsf(after[i] - ref) < 1e-5f);
	}
	rogue_close(&r);
	free(before);
	free(after);
	rps_server_destroy(srv);
}

/* A worker writing past the end of its own G[m] (into whatever lies
 * beyond) is refused on every provider: verbs checks the MR bounds, and
 * libfabric's tcp provider refuses the access and drops the connection
 * (the completion then reads "flushed").  The model is untouched and the
 * other worker goes on. */
static void test_write_beyond_slot_refused(void **state)
{
	const uint64_t n = 8192;
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, 2, n, 16384, 1, 0, 0);
	float *before = malloc(n * sizeof(float)), *after = malloc(n * sizeof(float));
	rps_server_worker_stats_t st;
	rps_worker_t *w0;
	struct rogue r;
	int status;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 2, &w0), 0);
	fill_grad(rps_worker_grad(w0), n, 0, 0);
	assert_int_equal(rps_push(w0), 0);
	rogue_open(&r, 16384);
	rogue_join(&r, srv, 1, 2, n);
	rps_server_read_weights(srv, before);
	/* starts 4 KiB before the end of G[1], ends 12 KiB past it */
	status = rogue_write(&r, r.welcome.grad.addr + r.welcome.grad.len - 4096,
			     r.welcome.grad.key, 16384);
	print_message("# worker 1 writing past G[1]: %s\n", rps_strerror(status));
	assert_true(status == -RPS_ERR_REMOTE_ACCESS || status == -RPS_ERR_FLUSHED);
	if (pd_isolation())
		assert_int_equal(status, -RPS_ERR_REMOTE_ACCESS);
	rogue_leave(&r);
	wait_disconnected(srv, 1);
	rps_server_read_weights(srv, after);
	assert_memory_equal(after, before, n * sizeof(float));
	/* worker 0 trains on; worker 1 may rejoin (the server drops a worker
	 * whose connection broke, it does not ban it) */
	fill_grad(rps_worker_grad(w0), n, 0, 1);
	assert_int_equal(rps_push(w0), 0);
	assert_int_equal(rps_pull(w0), 0);
	rogue_join(&r, srv, 1, 2, n);
	rogue_leave(&r);
	rps_worker_close(w0);
	rps_server_stop(srv);
	assert_int_equal(rps_server_worker_stats(srv, 0, &st), 0);
	assert_int_equal(st.pushes, 2);
	assert_int_equal(st.chunks_rejected, 0);
	rps_server_read_weights(srv, after);
	for (uint64_t i = 0; i < n; i++)
		assert_true(isfinite(after[i]));
	rogue_close(&r);
	free(before);
	free(after);
	rps_server_destroy(srv);
}

/* ---- synchronous SGD and the staleness bound --------------------------- */

struct ssgd_job {
	rps_server_t *srv;
	uint32_t id;
	int ret;
	float *final;
};

static void *ssgd_worker(void *arg)
{
	struct ssgd_job *j = arg;
	rps_worker_t *w;

	if ((j->ret = worker_connect(j->srv, j->id, 2, &w)))
		return NULL;
	for (unsigned k = 0; k < 3 && !j->ret; k++) {
		fill_grad(rps_worker_grad(w), rps_worker_num_params(w), j->id, k);
		if (!(j->ret = rps_push(w)))
			j->ret = rps_pull(w);
	}
	memcpy(j->final, rps_worker_weights(w), rps_worker_num_params(w) * sizeof(float));
	rps_worker_close(w);
	return NULL;
}

static void test_ssgd_averages_each_step(void **state)
{
	const uint64_t n = 10000;
	rps_server_t *srv = start_server(RPS_ALGO_SSGD, 2, n, 16384, 1, 0, 0);
	struct ssgd_job jobs[2];
	pthread_t thr[2];

	(void)state;
	for (uint32_t m = 0; m < 2; m++) {
		jobs[m] = (struct ssgd_job){ srv, m, 0, malloc(n * sizeof(float)) };
		assert_int_equal(pthread_create(&thr[m], NULL, ssgd_worker, &jobs[m]), 0);
	}
	for (uint32_t m = 0; m < 2; m++) {
		pthread_join(thr[m], NULL);
		assert_int_equal(jobs[m].ret, 0);
	}
	/* three steps of w -= lr * (g0 + g1) / 2, seen identically by both */
	for (uint64_t i = 0; i < n; i++) {
		double ref = init_value(i);

		for (unsigned k = 0; k < 3; k++)
			ref -= 0.05 * (grad_value(0, k, i) + grad_value(1, k, i)) / 2;
		assert_true(fabs(jobs[0].final[i] - ref) < 1e-6);
		assert_true(jobs[0].final[i] == jobs[1].final[i]);
	}
	assert_int_equal(rps_server_version(srv), 3);
	free(jobs[0].final);
	free(jobs[1].final);
	rps_server_destroy(srv);
}

/* a NaN chunk in one worker's SSGD gradient: that worker hears -EDOM, the
 * step averages the gradients that were accepted */
static void test_ssgd_reports_rejected_chunk(void **state)
{
	const uint64_t n = 4096;
	rps_server_t *srv = start_server(RPS_ALGO_SSGD, 2, n, 16384, 1, 0, 0);
	rps_worker_t *a, *b;
	rps_server_worker_stats_t st;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 2, &a), 0);
	assert_int_equal(worker_connect(srv, 1, 2, &b), 0);
	fill_grad(rps_worker_grad(a), n, 0, 0);
	fill_grad(rps_worker_grad(b), n, 1, 0);
	rps_worker_grad(b)[5] = INFINITY;
	assert_int_equal(rps_push_start(a), 0);
	assert_int_equal(rps_push_start(b), 0);
	assert_int_equal(rps_push_wait(a, 30000), 0);
	assert_int_equal(rps_push_wait(b, 30000), -EDOM);
	assert_int_equal(rps_pull(a), 0);
	/* only a's gradient made the step */
	for (uint64_t i = 0; i < n; i += 31)
		assert_true(fabs(rps_worker_weights(a)[i] -
				 (init_value(i) - 0.05 * grad_value(0, 0, i))) < 1e-6);
	rps_worker_close(a);
	rps_worker_close(b);
	rps_server_stop(srv);
	assert_int_equal(rps_server_worker_stats(srv, 1, &st), 0);
	assert_int_equal(st.chunks_rejected, 1);
	rps_server_destroy(srv);
}

/* --lr-schedule step:2,0.5 on asgd: pushes 0,1 step with lr, 2,3 with
 * lr/2, 4 with lr/4 (the version counts applied pushes) */
static void test_lr_step_schedule(void **state)
{
	const uint64_t n = 3000;
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv;
	rps_worker_t *w;
	float *out = malloc(n * sizeof(float));

	(void)state;
	assert_non_null(out);
	test_config(&cfg, &attr, RPS_ALGO_ASGD, 1, n);
	cfg.hp.lr = 1.0f;
	cfg.hp.lr_decay_every = 2;
	cfg.hp.lr_decay = 0.5f;
	cfg.chunk_bytes = 4096; /* several chunks: each sees the schedule */
	assert_float_equal(rps_hparams_lr_at(&cfg.hp, 3), 0.5f, 0);
	assert_float_equal(rps_hparams_lr_at(&cfg.hp, 4), 0.25f, 0);
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	assert_int_equal(worker_connect(srv, 0, 1, &w), 0);
	for (unsigned k = 0; k < 5; k++) {
		for (uint64_t i = 0; i < n; i++)
			rps_worker_grad(w)[i] = 1.0f;
		assert_int_equal(rps_push(w), 0);
		assert_int_equal(rps_pull(w), 0);
	}
	rps_worker_close(w);
	rps_server_stop(srv);
	rps_server_read_weights(srv, out);
	for (uint64_t i = 0; i < n; i++)
		assert_float_equal(out[i], -(1 + 1 + 0.5 + 0.5 + 0.25), 0);
	/* a decay factor out of (0, 1] is refused */
	rps_server_destroy(srv);
	srv = NULL;
	cfg.hp.lr_decay = 1.5f;
	assert_int_equal(rps_server_create(&cfg, &srv), -EINVAL);
	free(out);
}

/* ---- checkpoint and resume ---------------------------------------------
 * One worker, deterministic gradients: 3 pushes, the worker reconnects,
 * 3 more, on one server, must give bit for bit the weights of 3 pushes, a
 * checkpoint taken while the engines run, a new server resumed from it,
 * and 3 more pushes (the worker reconnects there too). */

static void push_range(rps_server_t *srv, unsigned from, unsigned to)
{
	rps_worker_t *w;
	int ret, tries = 0;

	/* a rejoin is refused while the server still reaps the previous
	 * connection of this worker id: retry for a while (20 s: under a
	 * loaded make check -j2 it has been seen to take over 5 s) */
	while ((ret = worker_connect(srv, 0, 1, &w)) && ++tries < 400)
		usleep(50000);
	assert_int_equal(ret, 0);
	for (unsigned k = from; k < to; k++) {
		fill_grad(rps_worker_grad(w), rps_worker_num_params(w), 0, k);
		assert_int_equal(rps_push(w), 0);
		assert_int_equal(rps_pull(w), 0);
	}
	rps_worker_close(w);
}

/* a fresh server (path NULL: weights init_value) or one resumed from
 * path; NULL when create refuses */
static rps_server_t *ckpt_server(rps_algo_t algo, uint64_t n, const char *path)
{
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv = NULL;
	float *init = malloc(n * sizeof(float));

	assert_non_null(init);
	for (uint64_t i = 0; i < n; i++)
		init[i] = init_value(i);
	test_config(&cfg, &attr, algo, 1, n);
	cfg.hp.lr = 0.05f;
	if (algo == RPS_ALGO_ASGD)
		cfg.hp.momentum = 0.9f; /* the momentum buffer must survive */
	cfg.init_weights = init;
	cfg.chunk_bytes = 16384;
	cfg.threads = 2;
	cfg.resume_path = path;
	int ret = rps_server_create(&cfg, &srv);

	free(init);
	if (ret)
		return NULL;
	assert_int_equal(rps_server_start(srv), 0);
	return srv;
}

static void check_resume_bit_identical(rps_algo_t algo)
{
	const uint64_t n = 10000;
	char dir[] = "/tmp/rps-ckpt-XXXXXX", path[64];
	float *straight = malloc(n * sizeof(float)), *resumed = malloc(n * sizeof(float));
	rps_server_t *srv;

	assert_non_null(straight);
	assert_non_null(resumed);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ps.ckpt", dir);
	assert_non_null(srv = ckpt_server(algo, n, NULL));
	push_range(srv, 0, 3);
	push_range(srv, 3, 6);
	rps_server_stop(srv);
	rps_server_read_weights(srv, straight);
	rps_server_destroy(srv);

	assert_non_null(srv = ckpt_server(algo, n, NULL));
	push_range(srv, 0, 3);
	assert_int_equal(rps_server_checkpoint(srv, path), 0); /* engines running */
	rps_server_destroy(srv);
	assert_non_null(srv = ckpt_server(algo, n, path));
	assert_int_equal(rps_server_version(srv), 3);
	push_range(srv, 3, 6);
	rps_server_stop(srv);
	rps_server_read_weights(srv, resumed);
	rps_server_destroy(srv);
	assert_memory_equal(straight, resumed, n * sizeof(float));

	/* refusals: another algorithm; a corrupt file (one flipped byte) */
	assert_null(ckpt_server(algo == RPS_ALGO_SSGD ? RPS_ALGO_ASGD : RPS_ALGO_SSGD, n, path));
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, 200, SEEK_SET), 0);
	int byte = fgetc(f);
	assert_int_equal(fseek(f, 200, SEEK_SET), 0);
	fputc(byte ^ 0x10, f);
	fclose(f);
	assert_null(ckpt_server(algo, n, path));
	unlink(path);
	rmdir(dir);
	free(straight);
	free(resumed);
}

static void test_resume_bit_identical_asgd_momentum(void **state)
{
	(void)state;
	check_resume_bit_identical(RPS_ALGO_ASGD);
}

static void test_resume_bit_identical_dcasgd_a(void **state)
{
	(void)state;
	check_resume_bit_identical(RPS_ALGO_DCASGD_A);
}

static void test_resume_bit_identical_dude(void **state)
{
	(void)state;
	check_resume_bit_identical(RPS_ALGO_DUDE);
}

static void test_resume_bit_identical_ssgd(void **state)
{
	(void)state;
	check_resume_bit_identical(RPS_ALGO_SSGD);
}

/* a server with a shared token: the right token trains, a wrong or
 * missing one is refused at connect, and the refusals disturb nobody */
static int connect_with_token(rps_server_t *srv, uint32_t id, const char *token, rps_worker_t **w_p)
{
	rps_worker_config_t cfg = { 0 };
	rps_transport_attr_t attr;

	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	cfg.server = addr;
	cfg.port = rps_server_port(srv);
	cfg.worker_id = id;
	cfg.num_workers = 2;
	cfg.transport = &attr;
	cfg.timeout_ms = 20000;
	cfg.auth_token = token;
	cfg.auth_token_len = token ? strlen(token) : 0;
	return rps_worker_connect(&cfg, w_p);
}

static void test_auth_token_refuses_wrong_or_missing(void **state)
{
	const uint64_t n = 5000;
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv;
	rps_worker_t *good, *bad = NULL;
	rps_server_worker_stats_t st;

	(void)state;
	test_config(&cfg, &attr, RPS_ALGO_ASGD, 2, n);
	cfg.auth_token = "s3cret-token";
	cfg.auth_token_len = strlen("s3cret-token");
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	assert_int_equal(connect_with_token(srv, 0, "s3cret-token", &good), 0);
	assert_int_equal(connect_with_token(srv, 1, "s3cret-tokeN", &bad), -RPS_ERR_REFUSED);
	assert_null(bad);
	assert_int_equal(connect_with_token(srv, 1, NULL, &bad), -RPS_ERR_REFUSED);
	assert_null(bad);
	/* worker 1's slot was never taken; worker 0 trains on */
	assert_int_equal(rps_server_worker_stats(srv, 1, &st), 0);
	assert_false(st.joined);
	for (unsigned k = 0; k < 3; k++) {
		fill_grad(rps_worker_grad(good), n, 0, k);
		assert_int_equal(rps_push(good), 0);
		assert_int_equal(rps_pull(good), 0);
	}
	assert_int_equal(rps_server_version(srv), 3);
	rps_worker_close(good);
	rps_server_destroy(srv);
}

/* SSGD with a round timeout: of 2 workers only one ever comes; each of
 * its rounds completes after the timeout with its gradient alone */
static void test_ssgd_timeout_continues_without_absent_worker(void **state)
{
	const uint64_t n = 6000;
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv;
	rps_worker_t *w;
	float *out = malloc(n * sizeof(float));

	(void)state;
	assert_non_null(out);
	test_config(&cfg, &attr, RPS_ALGO_SSGD, 2, n);
	cfg.hp.lr = 0.5f;
	cfg.chunk_bytes = 8192;
	cfg.threads = 2;
	cfg.ssgd_timeout_ms = 300;
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	assert_int_equal(rps_server_start(srv), 0);
	assert_int_equal(worker_connect(srv, 0, 2, &w), 0);
	for (unsigned k = 0; k < 3; k++) {
		for (uint64_t i = 0; i < n; i++)
			rps_worker_grad(w)[i] = 1.0f;
		assert_int_equal(rps_push(w), 0);
		assert_int_equal(rps_pull(w), 0);
	}
	assert_int_equal(rps_server_version(srv), 3);
	rps_worker_close(w);
	rps_server_stop(srv);
	/* the counts say who took part: 3 rounds for worker 0, none for 1 */
	rps_server_worker_stats_t st;

	assert_int_equal(rps_server_worker_stats(srv, 0, &st), 0);
	assert_int_equal(st.pushes, 3);
	assert_int_equal(rps_server_worker_stats(srv, 1, &st), 0);
	assert_int_equal(st.pushes, 0);
	rps_server_read_weights(srv, out);
	/* the average of the one gradient that came: w = 0 - 3 * 0.5 */
	for (uint64_t i = 0; i < n; i++)
		assert_float_equal(out[i], -1.5f, 0);
	rps_server_destroy(srv);
	free(out);
}

/* DuDe-ASGD: a worker that leaves takes its gradient out of the running
 * sum; the others then step with the average of the gradients present */
static void test_dude_leaver_gradient_removed(void **state)
{
	const uint64_t n = 5000;
	rps_server_t *srv = start_server(RPS_ALGO_DUDE, 2, n, 8192, 2, 0, 0);
	rps_server_worker_stats_t st;
	rps_worker_t *w0, *w1;
	float *out = malloc(n * sizeof(float));

	(void)state;
	assert_non_null(out);
	assert_int_equal(worker_connect(srv, 1, 2, &w1), 0);
	fill_grad(rps_worker_grad(w1), n, 1, 0);
	assert_int_equal(rps_push(w1), 0);
	rps_worker_close(w1);
	for (int i = 0; i < 1000; i++) { /* until the server reaped it (10 s) */
		rps_server_worker_stats(srv, 1, &st);
		if (!st.connected)
			break;
		usleep(10000);
	}
	assert_false(st.connected);
	assert_int_equal(worker_connect(srv, 0, 2, &w0), 0);
	for (unsigned k = 0; k < 3; k++) {
		fill_grad(rps_worker_grad(w0), n, 0, k);
		assert_int_equal(rps_push(w0), 0);
		assert_int_equal(rps_pull(w0), 0);
	}
	rps_worker_close(w0);
	rps_server_stop(srv);
	rps_server_read_weights(srv, out);
	/* w1's one step (alone: step 1/1), then w0's three, each on S = its
	 * own latest gradient only (w1's was taken out) */
	for (uint64_t i = 0; i < n; i++) {
		double ref = init_value(i) - 0.05 * grad_value(1, 0, i);

		for (unsigned k = 0; k < 3; k++)
			ref -= 0.05 * grad_value(0, k, i);
		assert_true(fabs(out[i] - ref) < 1e-5);
	}
	rps_server_destroy(srv);
	free(out);
}

static void test_server_config_defaults_and_refusals(void **state)
{
	rps_server_config_t cfg;
	rps_transport_attr_t attr;
	rps_server_t *srv = NULL;

	(void)state;
	rps_transport_attr_init(&attr);
	attr.provider = RPS_TEST_PROVIDER;
	rps_server_config_init(&cfg);
	cfg.transport = &attr;
	cfg.addr = addr;
	cfg.num_workers = 2;
	cfg.num_params = 1000;
	cfg.chunk_bytes = 0; /* 0 = the defaults, as ps.h says */
	cfg.threads = 0;
	assert_int_equal(rps_server_create(&cfg, &srv), 0);
	/* W + 2 x 3 n + ms for dc-asgd-a */
	assert_int_equal(rps_server_footprint(srv), 4 * 1000 * (1 + 6 + 1));
	rps_server_destroy(srv);

	srv = NULL;
	rps_server_config_t bad = cfg;
	bad.num_workers = 0;
	assert_int_equal(rps_server_create(&bad, &srv), -EINVAL);
	bad = cfg;
	bad.hp.lr = NAN;
	assert_int_equal(rps_server_create(&bad, &srv), -EINVAL);
	bad = cfg;
	bad.algo = RPS_ALGO_SGD; /* sequential: one worker only */
	assert_int_equal(rps_server_create(&bad, &srv), -EINVAL);
	bad = cfg;
	bad.chunk_bytes = 1000;
	assert_int_equal(rps_server_create(&bad, &srv), -EINVAL);
	bad = cfg;
	bad.hp.theta = 2;
	assert_int_equal(rps_server_create(&bad, &srv), -EINVAL);
	assert_null(srv);
}

/* SSGD with a worker that leaves: the others' rounds complete without it;
 * when it comes back mid-round and pushes again, what it had delivered is
 * not counted twice. */
static void test_ssgd_worker_leaves_and_rejoins(void **state)
{
	const uint64_t n = 20000; /* 5 chunks of 16 KiB */
	rps_server_t *srv = start_server(RPS_ALGO_SSGD, 3, n, 16384, 1, 0, 0);
	rps_worker_t *w[3];
	float *expect = malloc(n * sizeof(float));

	(void)state;
	for (uint32_t m = 0; m < 3; m++)
		assert_int_equal(worker_connect(srv, m, 3, &w[m]), 0);
	for (uint64_t i = 0; i < n; i++)
		expect[i] = init_value(i);

	/* round 0: worker 2 starts its push and vanishes mid-way */
	for (uint32_t m = 0; m < 3; m++)
		fill_grad(rps_worker_grad(w[m]), n, m, 0);
	assert_int_equal(rps_push_start(w[2]), 0);
	rps_worker_close(w[2]);
	/* workers 0 and 1 finish round 0 without it */
	assert_int_equal(rps_push_start(w[0]), 0);
	assert_int_equal(rps_push_start(w[1]), 0);
	assert_int_equal(rps_push_wait(w[0], 30000), 0);
	assert_int_equal(rps_push_wait(w[1], 30000), 0);
	assert_int_equal(rps_server_version(srv), 1);

	/* the model after round 0, as worker 0 sees it */
	assert_int_equal(rps_pull(w[0]), 0);
	memcpy(expect, rps_worker_weights(w[0]), n * sizeof(float));

	/* worker 2 comes back (retrying while its old lanes are reaped) and
	 * the three run round 1 together */
	for (int tries = 0; tries < 200; tries++) {
		int ret = worker_connect(srv, 2, 3, &w[2]);

		if (ret == 0)
			break;
		assert_int_equal(ret, -EBUSY);
		w[2] = NULL;
		usleep(20000);
	}
	assert_non_null(w[2]);
	for (uint32_t m = 0; m < 3; m++) {
		fill_grad(rps_worker_grad(w[m]), n, m, 1);
		assert_int_equal(rps_push_start(w[m]), 0);
	}
	for (uint32_t m = 0; m < 3; m++)
		assert_int_equal(rps_push_wait(w[m], 30000), 0);
	assert_int_equal(rps_pull(w[1]), 0);
	/* round 1 is exactly one step on the average of the three gradients:
	 * a gradient counted twice or missed would move every chunk */
	for (uint64_t i = 0; i < n; i++) {
		double avg = (grad_value(0, 1, i) + grad_value(1, 1, i) + grad_value(2, 1, i)) / 3;

		assert_true(fabs(rps_worker_weights(w[1])[i] - (expect[i] - 0.05 * avg)) < 1e-6);
	}
	assert_int_equal(rps_server_version(srv), 2);
	for (uint32_t m = 0; m < 3; m++)
		rps_worker_close(w[m]);
	rps_server_stop(srv);
	for (uint32_t m = 0; m < 3; m++) {
		rps_server_worker_stats_t st;

		assert_int_equal(rps_server_worker_stats(srv, m, &st), 0);
		assert_int_equal(st.pushes, 2);
	}
	free(expect);
	rps_server_destroy(srv);
}

static void test_staleness_bound_holds_fast_worker(void **state)
{
	const uint64_t n = 4096;
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, 2, n, 16384, 1, 1, 0);
	rps_worker_t *fast, *slow;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 2, &fast), 0);
	assert_int_equal(worker_connect(srv, 1, 2, &slow), 0);
	/* bound 1: the fast worker may be one push ahead, not two */
	assert_int_equal(rps_push(fast), 0);
	assert_int_equal(rps_push_start(fast), 0);
	assert_int_equal(rps_push_wait(fast, 500), -ETIMEDOUT);
	/* the slow one pushes: the fast one is released */
	assert_int_equal(rps_push(slow), 0);
	assert_int_equal(rps_push_wait(fast, 10000), 0);
	rps_worker_close(fast);
	rps_worker_close(slow);
	rps_server_destroy(srv);
}

/* ---- rps_step: push and pull overlapped ------------------------------ */

/* k steps of one worker, as rps_push + rps_pull (serial) or rps_step, on
 * a fresh server: the pulled weights and the server's model */
static void steps_of(bool serial, unsigned k, float *pulled, float *model, uint64_t n)
{
	rps_server_t *srv = start_server(RPS_ALGO_DCASGD_C, 1, n, 8192, 2, 0, 0);
	rps_worker_t *w;

	assert_int_equal(worker_connect(srv, 0, 1, &w), 0);
	for (unsigned s = 0; s < k; s++) {
		fill_grad(rps_worker_grad(w), n, 0, s);
		if (serial) {
			assert_int_equal(rps_push(w), 0);
			assert_int_equal(rps_pull(w), 0);
		} else {
			assert_int_equal(rps_step(w), 0);
		}
	}
	memcpy(pulled, rps_worker_weights(w), n * sizeof(float));
	rps_worker_close(w);
	rps_server_stop(srv);
	rps_server_read_weights(srv, model);
	rps_server_destroy(srv);
}

static void test_step_same_weights_as_push_then_pull(void **state)
{
	const uint64_t n = 20000; /* 10 chunks of 8 KiB on 2 lanes */
	float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
	float *ma = malloc(n * sizeof(float)), *mb = malloc(n * sizeof(float));

	(void)state;
	steps_of(true, 6, a, ma, n);
	steps_of(false, 6, b, mb, n);
	assert_memory_equal(a, b, n * sizeof(float));
	assert_memory_equal(ma, mb, n * sizeof(float));
	/* dc-asgd-c: what a worker pulls is B[m], the model after its own
	 * update, which with one worker is the model */
	assert_memory_equal(b, mb, n * sizeof(float));
	free(a);
	free(b);
	free(ma);
	free(mb);
}

/* The notices are what lets a step read a chunk before its push is
 * complete: a worker held back by the staleness bound (no notification)
 * still gets chunk 0, and only its wait for the whole step goes on. */
static void test_step_reads_chunks_before_the_push_completes(void **state)
{
	const uint64_t n = 16384; /* 4 chunks of 16 KiB */
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, 2, n, 16384, 1, 1, 0);
	rps_worker_t *fast, *slow;
	float *before = malloc(n * sizeof(float));

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 2, &fast), 0);
	assert_int_equal(worker_connect(srv, 1, 2, &slow), 0);
	fill_grad(rps_worker_grad(fast), n, 0, 0);
	assert_int_equal(rps_step(fast), 0);
	memcpy(before, rps_worker_weights(fast), n * sizeof(float));
	/* two ahead: the notification is withheld, the notices are not */
	fill_grad(rps_worker_grad(fast), n, 0, 1);
	assert_int_equal(rps_step_start(fast), 0);
	assert_int_equal(rps_step_start(fast), -EBUSY);
	assert_int_equal(rps_pull_wait_chunk(fast, 0, 10000), 0);
	assert_memory_not_equal(rps_worker_weights(fast), before, 4096 * sizeof(float));
	assert_int_equal(rps_step_wait(fast, 300), -ETIMEDOUT);
	assert_int_equal(rps_step_wait(fast, 0), -EAGAIN);
	/* the slow one pushes: the fast one is released, its step ends */
	assert_int_equal(rps_push(slow), 0);
	assert_int_equal(rps_step_wait(fast, 10000), 0);
	for (uint32_t c = 0; c < rps_worker_num_chunks(fast); c++)
		assert_int_equal(rps_pull_wait_chunk(fast, c, 0), 0);
	rps_worker_close(fast);
	rps_worker_close(slow);
	free(before);
	rps_server_destroy(srv);
}

static void test_step_rejected_chunk(void **state)
{
	const uint64_t n = 8192; /* two chunks of 16 KiB */
	rps_server_t *srv = start_server(RPS_ALGO_ASGD, 1, n, 16384, 1, 0, 0);
	float *before = malloc(n * sizeof(float));
	rps_worker_t *w;

	(void)state;
	assert_int_equal(worker_connect(srv, 0, 1, &w), 0);
	memcpy(before, rps_worker_weights(w), n * sizeof(float));
	fill_grad(rps_worker_grad(w), n, 0, 0);
	rps_worker_grad(w)[4096 + 5] = NAN; /* in chunk 1, the last */
	assert_int_equal(rps_step(w), -EDOM);
	assert_memory_equal(rps_worker_weights(w) + 4096, before + 4096, 4096 * sizeof(float));
	assert_memory_not_equal(rps_worker_weights(w), before, 4096 * sizeof(float));
	fill_grad(rps_worker_grad(w), n, 0, 1);
	assert_int_equal(rps_step(w), 0);
	rps_worker_close(w);
	free(before);
	rps_server_destroy(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_chunk_applied_once_8_workers),
		cmocka_unit_test(test_replay_dcasgd_a_bit_identical),
		cmocka_unit_test(test_replay_asgd_bit_identical),
		cmocka_unit_test(test_nan_chunk_rejected_model_untouched),
		cmocka_unit_test(test_disconnect_mid_push_others_continue),
		cmocka_unit_test(test_bad_hello_refused_others_unaffected),
		cmocka_unit_test(test_foreign_key_refused_model_unchanged),
		cmocka_unit_test(test_write_beyond_slot_refused),
		cmocka_unit_test(test_ssgd_averages_each_step),
		cmocka_unit_test(test_staleness_bound_holds_fast_worker),
		cmocka_unit_test(test_ssgd_reports_rejected_chunk),
		cmocka_unit_test(test_ssgd_worker_leaves_and_rejoins),
		cmocka_unit_test(test_server_config_defaults_and_refusals),
		cmocka_unit_test(test_lr_step_schedule),
		cmocka_unit_test(test_dude_leaver_gradient_removed),
		cmocka_unit_test(test_ssgd_timeout_continues_without_absent_worker),
		cmocka_unit_test(test_auth_token_refuses_wrong_or_missing),
		cmocka_unit_test(test_step_same_weights_as_push_then_pull),
		cmocka_unit_test(test_step_reads_chunks_before_the_push_completes),
		cmocka_unit_test(test_step_rejected_chunk),
		cmocka_unit_test(test_resume_bit_identical_asgd_momentum),
		cmocka_unit_test(test_resume_bit_identical_dcasgd_a),
		cmocka_unit_test(test_resume_bit_identical_dude),
		cmocka_unit_test(test_resume_bit_identical_ssgd),
	};
	char name[64];
	int skip = test_addr_or_skip(RPS_TEST_PROVIDER, &addr);

	if (skip)
		return skip;
	snprintf(name, sizeof(name), "parameter server (%s)", RPS_TEST_PROVIDER);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL) ? 1 : 0;
}
