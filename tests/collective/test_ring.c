/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ring allreduce end to end, in one process: each rank is a thread with a
 * transport of its own, over the provider this binary is built for
 * (RPS_TEST_PROVIDER).  Checks the sum against a double-precision
 * reference, that every rank holds the same bits, repeated rounds on one
 * ring, overlap with other work, and that a rank leaving mid-allreduce
 * fails the others instead of hanging them.  Exits 77 (SKIP) when the
 * provider has no device or address here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_addr.h"

#include <rdmaps/rdmaps.h>

#include "collective/ring_priv.h"

#define MAX_WORLD	5
#define TIMEOUT_MS	60000 /* generous: the soft-RoCE VM runs under TCG */
#define EXIT_TIMEOUT_MS 3000  /* how long survivors wait in the exit test */

static const char *addr;

/* ---- data ----------------------------------------------------------------- */

/* Input of rank r in round k at index i: magnitudes over 2^-8..2^8 and
 * both signs, so the float sums really round. */
static float input(uint32_t r, uint32_t k, size_t i)
{
	uint32_t x = (uint32_t)(r * 2654435761u ^ k * 40503u ^ (uint32_t)i * 2246822519u);

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return ldexpf((float)(x & 0xffff) / 65536.0f - 0.5f, (int)(x >> 16) % 17 - 8);
}

/* ---- ports ---------------------------------------------------------------- */

/* world distinct free TCP ports on addr: bound together (so distinct),
 * then released for the rings' listeners. */
static void free_ports(uint16_t *ports, uint32_t world)
{
	int fds[MAX_WORLD];

	for (uint32_t r = 0; r < world; r++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);

		assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
		fds[r] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[r] >= 0);
		assert_int_equal(bind(fds[r], (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(fds[r], (struct sockaddr *)&sa, &len), 0);
		ports[r] = ntohs(sa.sin_port);
	}
	for (uint32_t r = 0; r < world; r++)
		close(fds[r]);
}

/* ---- one rank ------------------------------------------------------------- */

struct job {
	uint32_t rank, world;
	const char *const *peers;
	size_t count, chunk_bytes;
	uint32_t window, rounds;
	bool progress_thread;
	bool interleave;   /* start, then progress between slices of work */
	bool leave_midway; /* start, progress a little, destroy: a rank gone */
	int wait_ms;
	float *result;	    /* rounds x count: the buffer after each round */
	int ret;	    /* first failure */
	unsigned work_done; /* slices of other work done while in flight */
};

/* Something to do between progress calls, as training would. */
static unsigned other_work(void)
{
	volatile float acc = 0;

	for (int i = 0; i < 2000; i++)
		acc += (float)i * 0.5f;
	return acc > 0;
}

static int run_round(struct job *j, rps_ring_t *ring, uint32_t k)
{
	float *buf = rps_ring_buffer(ring);
	int ret;

	for (size_t i = 0; i < j->count; i++)
		buf[i] = input(j->rank, k, i);
	if (!j->interleave)
		return k % 2 ? rps_ring_allreduce(ring)
			     : (rps_ring_allreduce_start(ring)
					?: rps_ring_allreduce_wait(ring, j->wait_ms));
	if ((ret = rps_ring_allreduce_start(ring)))
		return ret;
	/* a second start while in flight is refused */
	ret = rps_ring_allreduce_start(ring);
	if (ret != -EBUSY && !(ret == 0 && j->world == 1))
		return ret ? ret : -EPROTO;
	while ((ret = rps_ring_progress(ring)) == 0)
		j->work_done += other_work();
	return ret < 0 ? ret : 0;
}

static void *rank_main(void *arg)
{
	struct job *j = arg;
	rps_transport_attr_t ta;
	rps_ring_attr_t attr;
	rps_ring_t *ring;
	int ret;

	rps_transport_attr_init(&ta);
	ta.provider = RPS_TEST_PROVIDER;
	rps_ring_attr_init(&attr);
	attr.tp_attr = &ta;
	attr.rank = j->rank;
	attr.world = j->world;
	attr.peers = j->peers;
	attr.count = j->count;
	attr.chunk_bytes = j->chunk_bytes;
	attr.window = j->window;
	attr.timeout_ms = TIMEOUT_MS;
	attr.progress_thread = j->progress_thread;
	if ((ret = rps_ring_create(&attr, &ring))) {
		j->ret = ret;
		return NULL;
	}
	if (j->leave_midway) {
		float *buf = rps_ring_buffer(ring);

		for (size_t i = 0; i < j->count; i++)
			buf[i] = input(j->rank, 0, i);
		if (rps_ring_allreduce_start(ring) == 0)
			for (int i = 0; i < 3; i++)
				rps_ring_progress(ring);
		rps_ring_destroy(ring); /* gone, as a crashed process would be */
		return NULL;
	}
	for (uint32_t k = 0; k < j->rounds; k++) {
		if ((ret = run_round(j, ring, k))) {
			j->ret = ret;
			break;
		}
		memcpy(j->result + (size_t)k * j->count, rps_ring_buffer(ring),
		       j->count * sizeof(float));
	}
	rps_ring_destroy(ring);
	return NULL;
}

/* ---- a ring of threads ---------------------------------------------------- */

struct ring_run {
	uint32_t world;
	size_t count, chunk_bytes;
	uint32_t window, rounds;
	bool progress_thread, interleave;
	int leaver; /* rank that leaves midway, -1 = none */
	struct job jobs[MAX_WORLD];
};

static void run_ring(struct ring_run *run)
{
	char names[MAX_WORLD][64];
	const char *peers[MAX_WORLD];
	uint16_t ports[MAX_WORLD];
	pthread_t thr[MAX_WORLD];

	free_ports(ports, run->world);
	for (uint32_t r = 0; r < run->world; r++) {
		snprintf(names[r], sizeof(names[r]), "%s:%u", addr, ports[r]);
		peers[r] = names[r];
	}
	for (uint32_t r = 0; r < run->world; r++) {
		struct job *j = &run->jobs[r];

		*j = (struct job){
			.rank = r,
			.world = run->world,
			.peers = peers,
			.count = run->count,
			.chunk_bytes = run->chunk_bytes,
			.window = run->window,
			.rounds = run->rounds,
			.progress_thread = run->progress_thread,
			.interleave = run->interleave,
			.leave_midway = (int)r == run->leaver,
			.wait_ms = run->leaver >= 0 ? EXIT_TIMEOUT_MS : TIMEOUT_MS,
			.result = calloc((size_t)run->rounds * run->count, sizeof(float)),
		};
		assert_non_null(j->result);
		assert_int_equal(pthread_create(&thr[r], NULL, rank_main, j), 0);
	}
	for (uint32_t r = 0; r < run->world; r++)
		pthread_join(thr[r], NULL);
}

static void free_run(struct ring_run *run)
{
	for (uint32_t r = 0; r < run->world; r++)
		free(run->jobs[r].result);
}

/*
 * Every rank's result equals the double-precision sum within the bound of
 * recursive float summation: world-1 additions, each rounding by at most
 * u = 2^-24 of the partial sum, give |err| <= (world-1) u sum|x_i| (Higham,
 * Accuracy and Stability, (4.4)); we allow world * FLT_EPSILON (= 2u)
 * times sum|x_i|, a factor 2 over the bound.  And every rank holds the
 * same bits: the allgather copies the one reduced segment.
 */
static void check_run(const struct ring_run *run)
{
	for (uint32_t r = 0; r < run->world; r++)
		if (run->jobs[r].ret)
			fail_msg("world %u count %zu: rank %u failed: %s", run->world, run->count,
				 r, rps_strerror(run->jobs[r].ret));
	for (uint32_t k = 0; k < run->rounds; k++) {
		const float *res0 = run->jobs[0].result + (size_t)k * run->count;

		for (size_t i = 0; i < run->count; i++) {
			double sum = 0, abs = 0;

			for (uint32_t r = 0; r < run->world; r++) {
				sum += (double)input(r, k, i);
				abs += fabs((double)input(r, k, i));
			}
			double tol = run->world * (double)FLT_EPSILON * abs;
			if (fabs((double)res0[i] - sum) > tol)
				fail_msg("world %u count %zu round %u: [%zu] = %.9g, expected %.9g "
					 "(tolerance %.3g)",
					 run->world, run->count, k, i, (double)res0[i], sum, tol);
		}
		for (uint32_t r = 1; r < run->world; r++)
			if (memcmp(res0, run->jobs[r].result + (size_t)k * run->count,
				   run->count * sizeof(float)))
				fail_msg("world %u count %zu round %u: rank %u's result differs "
					 "in its bits from rank 0's",
					 run->world, run->count, k, r);
	}
}

static void allreduce_case(uint32_t world, size_t count, size_t chunk_bytes, uint32_t window,
			   uint32_t rounds, bool thread, bool interleave)
{
	struct ring_run run = {
		.world = world,
		.count = count,
		.chunk_bytes = chunk_bytes,
		.window = window,
		.rounds = rounds,
		.progress_thread = thread,
		.interleave = interleave,
		.leaver = -1,
	};

	run_ring(&run);
	check_run(&run);
	free_run(&run);
}

/* ---- tests ---------------------------------------------------------------- */

/* The schedule covers count exactly, and what step t sends is what step
 * t-1 received, for every rank. */
static void test_layout(void **state)
{
	(void)state;
	for (uint32_t world = 1; world <= 7; world++) {
		for (size_t count = 1; count <= 23; count += 3) {
			for (uint32_t r = 0; r < world; r++) {
				rps_ring_layout_t lo;
				size_t covered = 0;

				assert_int_equal(rps_ring_layout_init(&lo, r, world, count, 2), 0);
				for (uint32_t s = 0; s < world; s++) {
					size_t off, len;

					rps_ring_seg(&lo, s, &off, &len);
					assert_int_equal(off, covered);
					covered += len;
				}
				assert_int_equal(covered, count);
				for (uint32_t t = 1; t < lo.nsteps; t++)
					assert_int_equal(lo.send_seg[t], lo.recv_seg[t - 1]);
				/* the allgather starts with the segment rank owns */
				if (world > 1)
					assert_int_equal(lo.send_seg[world - 1], (r + 1) % world);
				for (uint32_t q = 0; q < lo.recv_first[lo.nsteps]; q++) {
					uint32_t t = rps_ring_step_of(lo.recv_first, lo.nsteps, q);

					assert_true(lo.recv_first[t] <= q &&
						    q < lo.recv_first[t + 1]);
				}
				rps_ring_layout_fini(&lo);
			}
		}
	}
}

static void test_wire_roundtrip(void **state)
{
	rps_ring_hello_t h = { 3, 5, 8, 4096, 1009, { 0x1122334455667788ull, 42, 0 } }, h2;
	rps_ring_welcome_t w = { 4, { 7, 8, 9 } }, w2;
	uint8_t hb[RPS_RING_HELLO_LEN], wb[RPS_RING_WELCOME_LEN];
	uint32_t p, s, sl;

	(void)state;
	rps_ring_hello_pack(&h, hb);
	assert_int_equal(rps_ring_hello_parse(hb, sizeof(hb), &h2), 0);
	assert_int_equal(h2.rank, 3);
	assert_int_equal(h2.count, 1009);
	assert_int_equal(h2.ack.addr, h.ack.addr);
	assert_int_equal(rps_ring_hello_parse(hb, sizeof(hb) - 1, &h2), -RPS_ERR_PROTO);
	rps_ring_welcome_pack(&w, wb);
	assert_int_equal(rps_ring_welcome_parse(wb, sizeof(wb), &w2), 0);
	assert_int_equal(w2.stage.len, 9);
	/* a hello is not a welcome */
	assert_int_equal(rps_ring_welcome_parse(hb, sizeof(wb), &w2), -RPS_ERR_PROTO);
	rps_ring_imm_parse(rps_ring_imm(7, RPS_RING_SEQ_MAX - 1, 255), &p, &s, &sl);
	assert_int_equal(p, 1);
	assert_int_equal(s, RPS_RING_SEQ_MAX - 1);
	assert_int_equal(sl, 255);
}

/* world 2..5; lengths 1, world-1, a prime, and many chunks with a short
 * last one (1009 = 63 x 16 + 1 floats of 64-byte chunks; 40000 floats in
 * 4 KiB chunks over 3 ranks: 13334 = 13 x 1024 + 22) */
static void test_sum_sizes(void **state)
{
	(void)state;
	for (uint32_t world = 2; world <= 5; world++) {
		allreduce_case(world, 1, 64, 4, 1, false, false);
		if (world - 1 > 1)
			allreduce_case(world, world - 1, 64, 4, 1, false, false);
		allreduce_case(world, 1009, 64, 4, 2, false, false);
		allreduce_case(world, 40000, 4096, 8, 1, false, false);
	}
}

/* One rank is a ring too: the buffer is the sum. */
static void test_world_one(void **state)
{
	(void)state;
	allreduce_case(1, 17, 64, 2, 2, false, false);
}

/* 10 rounds in a row on one ring, new data each time, 2 credits: every
 * round ends with the credits back, and early chunks of the next round
 * wait for it. */
static void test_repeated(void **state)
{
	(void)state;
	allreduce_case(3, 1009, 64, 2, 10, false, false);
	allreduce_case(4, 4099, 256, 1, 10, false, false);
}

/* start, then other work with progress calls in between; then the same
 * driven by the progress thread */
static void test_interleaved(void **state)
{
	struct ring_run run = {
		.world = 4,
		.count = 30011,
		.chunk_bytes = 1024,
		.window = 4,
		.rounds = 3,
		.interleave = true,
		.leaver = -1,
	};

	(void)state;
	run_ring(&run);
	check_run(&run);
	for (uint32_t r = 0; r < run.world; r++)
		assert_true(run.jobs[r].work_done > 0 || run.jobs[r].ret);
	free_run(&run);
	allreduce_case(3, 30011, 1024, 4, 5, true, true);
	allreduce_case(2, 1009, 64, 2, 10, true, false);
}

static void log_drop(rps_log_level_t level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

/* A rank that starts and then goes away: every other rank returns an
 * error from its wait (a lost link, or the timeout), none hangs. */
static void test_peer_leaves(void **state)
{
	(void)state;
	for (uint32_t world = 3; world <= 4; world++) {
		struct ring_run run = {
			.world = world,
			.count = 200003,
			.chunk_bytes = 1024,
			.window = 2,
			.rounds = 1,
			.leaver = 1,
		};

		rps_log_set_handler(log_drop, NULL); /* the failures are expected */
		run_ring(&run);
		rps_log_set_handler(NULL, NULL);
		for (uint32_t r = 0; r < world; r++) {
			if ((int)r == run.leaver)
				continue;
			if (run.jobs[r].ret >= 0)
				fail_msg("world %u: rank %u completed although rank %d left", world,
					 r, run.leaver);
		}
		free_run(&run);
	}
}

/* Bad attributes fail create with -EINVAL, before any network traffic. */
static void test_bad_attr(void **state)
{
	const char *peers[2] = { "127.0.0.1:1", "127.0.0.1:0" };
	rps_ring_attr_t a;
	rps_ring_t *ring = NULL;

	(void)state;
	rps_log_set_handler(log_drop, NULL);
	rps_ring_attr_init(&a);
	a.count = 0;
	assert_int_equal(rps_ring_create(&a, &ring), -EINVAL);
	a.count = 10;
	a.chunk_bytes = 6;
	assert_int_equal(rps_ring_create(&a, &ring), -EINVAL);
	a.chunk_bytes = 64;
	a.world = 2;
	a.rank = 2;
	a.peers = peers;
	assert_int_equal(rps_ring_create(&a, &ring), -EINVAL);
	a.rank = 0;
	assert_int_equal(rps_ring_create(&a, &ring), -EINVAL); /* port 0 */
	a.window = 0;
	assert_int_equal(rps_ring_create(&a, &ring), -EINVAL);
	rps_log_set_handler(NULL, NULL);
	assert_null(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),	    cmocka_unit_test(test_wire_roundtrip),
		cmocka_unit_test(test_bad_attr),    cmocka_unit_test(test_world_one),
		cmocka_unit_test(test_sum_sizes),   cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_interleaved), cmocka_unit_test(test_peer_leaves),
	};
	char name[64];
	int skip = test_addr_or_skip(RPS_TEST_PROVIDER, &addr);

	if (skip)
		return skip;
	snprintf(name, sizeof(name), "ring allreduce (%s)", RPS_TEST_PROVIDER);
	return cmocka_run_group_tests_name(name, tests, NULL, NULL) ? 1 : 0;
}
