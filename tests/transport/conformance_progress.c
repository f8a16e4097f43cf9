/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Conformance cases for the progress contract and for refusals that say
 * why (compiled into each provider's conformance binary):
 *
 *   - rps_cq_progress() alone gets a full send queue moving again, keeps
 *     every completion, in order, for the next rps_cq_poll(), and keeps
 *     no more than the CQ's depth;
 *   - the receive buffers a poll handed out stay untouched by
 *     rps_cq_progress() until the caller polls again;
 *   - closing a connection keeps the completions of the CQ's other
 *     connections that progress was holding;
 *   - rps_conn_req_reject() data reaches rps_connect()'s rps_reject_t.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "conformance_cases.h"

#define SERVER TH_SERVER
#define CLIENT TH_CLIENT

static const unsigned rw_access =
	RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE | RPS_ACCESS_REMOTE_READ;

static void nap_ms(int ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* One 8-byte signaled WRITE per call, wr_id = seq, into slot seq % slots
 * of the server's buffer. */
static int post_seq(rps_conn_t *c, const th_buf_t *cli, const th_buf_t *srv, uint64_t seq,
		    size_t slots)
{
	size_t off = (seq % slots) * 8;

	return rps_post_write(c, cli->buf + off, 8, cli->mr, srv->remote.addr + off,
			      srv->remote.key, seq, 0);
}

/* post_seq, riding out a full send queue with rps_cq_progress. */
static void post_retry(th_fixture_t *f, rps_conn_t *c, const th_buf_t *cli, const th_buf_t *srv,
		       uint64_t seq, size_t slots)
{
	int ret;

	while ((ret = post_seq(c, cli, srv, seq, slots)) == -EAGAIN) {
		assert_true(rps_cq_progress(f->side[CLIENT].cq) >= 0);
		th_pump_side(f, SERVER);
	}
	assert_int_equal(ret, 0);
}

/* Polls the client CQ dry and checks it hands out exactly wr_ids
 * [first, first + n), in order, all successful WRITEs. */
static void expect_writes_in_order(th_fixture_t *f, uint64_t first, uint64_t n)
{
	rps_completion_t comps[64];
	uint64_t next = first;
	int idle = 0;

	while (next < first + n && idle < 100000) {
		int got = rps_cq_poll(f->side[CLIENT].cq, comps, 64);

		assert_true(got >= 0);
		idle = got ? 0 : idle + 1;
		for (int i = 0; i < got; i++) {
			assert_int_equal(comps[i].status, 0);
			assert_int_equal(comps[i].type, RPS_COMP_WRITE);
			assert_int_equal(comps[i].wr_id, next);
			next++;
		}
		/* the target of the writes must move too (ofi) */
		th_pump_side(f, SERVER);
	}
	assert_int_equal(next, first + n);
	/* nothing more: no completion was handed out twice */
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rps_cq_poll(f->side[CLIENT].cq, comps, 64), 0);
}

/* A send queue filled to the brim gets going again through
 * rps_cq_progress alone: the client never polls until the end, and then
 * gets every completion once, in order. */
static void test_progress_recovers_full_sq(void **state)
{
	th_fixture_t *f = *state;
	const uint32_t depth = rps_transport_get_attr(f->tp)->sq_depth;
	const uint64_t total = 3 * (uint64_t)depth;
	uint64_t posted = 0, fulls = 0;
	int waiting = 0;
	th_pair_t p;

	th_pair_open(f, &p, depth * 8);
	th_fill(p.cli.buf, depth * 8, 31);
	while (posted < total) {
		int ret = post_seq(p.c, &p.cli, &p.srv, posted, depth);

		if (ret == 0) {
			posted++;
			continue;
		}
		assert_int_equal(ret, -EAGAIN);
		fulls++;
		waiting = rps_cq_progress(f->side[CLIENT].cq);
		assert_true(waiting >= 0);
		th_pump_side(f, SERVER);
	}
	/* the queue did fill (else this proved nothing) */
	assert_true(fulls > 0);
	print_message("# %llu writes through a %u-deep send queue, %llu times full\n",
		      (unsigned long long)total, depth, (unsigned long long)fulls);
	assert_true(waiting > 0);
	expect_writes_in_order(f, 0, total);
	assert_true(th_check(p.srv.buf, depth * 8, 31));
	th_pair_close(&p);
}

/* rps_cq_progress keeps at most the CQ's depth: with the client never
 * polling, posting stalls once that many are kept, and none is lost. */
static void test_progress_fills_pending(void **state)
{
	th_fixture_t *f = *state;
	const uint32_t depth = rps_transport_get_attr(f->tp)->sq_depth;
	uint64_t posted = 0;
	int waiting = 0, stuck = 0;
	th_pair_t p;

	th_pair_open(f, &p, depth * 8);
	/* post until the queue stays full however often progress is called */
	while (stuck < 2000 && posted < 4 * (uint64_t)TH_CQ_DEPTH) {
		int ret = post_seq(p.c, &p.cli, &p.srv, posted, depth);

		if (ret == 0) {
			posted++;
			stuck = 0;
			continue;
		}
		assert_int_equal(ret, -EAGAIN);
		waiting = rps_cq_progress(f->side[CLIENT].cq);
		assert_true(waiting >= 0);
		th_pump_side(f, SERVER);
		stuck++;
	}
	print_message("# posted %llu, %d kept by progress (CQ depth %d)\n",
		      (unsigned long long)posted, waiting, TH_CQ_DEPTH);
	/* it stalled: full, not unbounded */
	assert_true(posted < 4 * (uint64_t)TH_CQ_DEPTH);
	/* and it kept (about) a CQ's worth: at least its depth, and the
	 * rest of what was posted is still on the send queue or the CQ */
	assert_true(waiting >= TH_CQ_DEPTH);
	assert_true(posted >= (uint64_t)waiting);
	assert_true(posted - (uint64_t)waiting <= 2 * (uint64_t)depth);
	expect_writes_in_order(f, 0, posted);
	th_pair_close(&p);
}

/* The server sends n 64-byte messages, pattern seed + i. */
static void send_msgs(th_fixture_t *f, rps_conn_t *s, th_buf_t *sb, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		th_fill(sb->buf + i * 64, 64, seed + i);
	for (uint32_t i = 0; i < n; i++) {
		int ret;

		while ((ret = rps_post_send(s, sb->buf + i * 64, 64, sb->mr, 1000 + i, 0)) ==
		       -EAGAIN)
			th_pump_side(f, SERVER);
		assert_int_equal(ret, 0);
	}
}

/* The payload of a returned batch stays intact until the caller's next
 * poll, whatever rps_cq_progress does meanwhile: the client holds a
 * whole pool's worth of received messages while the server sends as
 * many more; recycling a held buffer would let them overwrite it. */
static void test_progress_keeps_recv_payload(void **state)
{
	th_fixture_t *f = *state;
	const uint32_t n = rps_transport_get_attr(f->tp)->recv_depth;
	rps_completion_t *batch = calloc(n, sizeof(*batch));
	rps_conn_t *s, *c;
	th_buf_t sb;
	int waiting = 0, got;

	assert_non_null(batch);
	th_connect_pair(f, NULL, 0, NULL, 0, &s, &c);
	th_buf_alloc(f, 2 * (size_t)n * 64, rw_access, &sb);
	send_msgs(f, s, &sb, n, 100);
	/* gather all n with progress (which must keep them), then take
	 * them in one batch */
	for (int i = 0; i < 200000 && waiting < (int)n; i++) {
		waiting = rps_cq_progress(f->side[CLIENT].cq);
		assert_true(waiting >= 0);
		th_pump_side(f, SERVER);
	}
	assert_int_equal(waiting, n);
	got = rps_cq_poll(f->side[CLIENT].cq, batch, (int)n);
	assert_int_equal(got, n);
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(batch[i].status, 0);
		assert_int_equal(batch[i].type, RPS_COMP_RECV);
		assert_int_equal(batch[i].len, 64);
		assert_true(th_check(batch[i].data, 64, 100 + i));
	}
	/* every pool buffer is the caller's now; n more messages come */
	send_msgs(f, s, &sb, n, 500);
	for (int i = 0; i < 100; i++) {
		assert_true(rps_cq_progress(f->side[CLIENT].cq) >= 0);
		th_pump_side(f, SERVER);
		nap_ms(1);
	}
	for (uint32_t i = 0; i < n; i++)
		assert_true(th_check(batch[i].data, 64, 100 + i));
	/* the next poll releases the batch: the new messages come, whole
	 * and in order */
	for (uint32_t i = 0; i < n;) {
		th_comp_t m;

		assert_int_equal(th_wait(f, CLIENT, RPS_COMP_RECV, UINT64_MAX, TH_TIMEOUT_MS, &m),
				 0);
		assert_int_equal(m.c.status, 0);
		assert_true(th_check(m.data, 64, 500 + i));
		free(m.data);
		i++;
	}
	th_drain(f);
	rps_conn_close(c);
	rps_conn_close(s);
	th_buf_free(&sb);
	free(batch);
}

/* Closing one connection keeps the CQ's other completions: those that
 * progress held and those still on the device. */
static void test_close_keeps_other_completions(void **state)
{
	th_fixture_t *f = *state;
	const uint32_t depth = rps_transport_get_attr(f->tp)->sq_depth;
	uint64_t posted = 0;
	th_pair_t p1, p2;

	th_pair_open(f, &p1, depth * 8);
	th_pair_open(f, &p2, 8);
	/* pair 1's completions: some held by progress, some not yet taken */
	for (int round = 0; round < 4; round++) {
		for (uint32_t i = 0; i < depth / 2; i++, posted++)
			post_retry(f, p1.c, &p1.cli, &p1.srv, posted, depth);
		for (int i = 0; round < 3 && i < 2000; i++) {
			assert_true(rps_cq_progress(f->side[CLIENT].cq) >= 0);
			th_pump_side(f, SERVER);
		}
	}
	/* pair 2 on the same CQs, with a write of its own in flight */
	assert_int_equal(rps_post_write(p2.c, p2.cli.buf, 8, p2.cli.mr, p2.srv.remote.addr,
					p2.srv.remote.key, UINT64_MAX - 1, 0),
			 0);
	th_pair_close(&p2);
	/* pair 1's, all of them, and nothing of the closed pair */
	expect_writes_in_order(f, 0, posted);
	th_pair_close(&p1);
}

/* rps_conn_req_reject's data reaches the connector: none, one byte, the
 * most a reject carries; too much is refused and the peer learns
 * nothing. */
static void test_reject_data(void **state)
{
	th_fixture_t *f = *state;
	uint8_t data[RPS_REJECT_DATA_MAX + 1];
	const size_t lens[] = { 0, 1, RPS_REJECT_DATA_MAX };
	rps_reject_t why;
	int rret;

	th_fill(data, sizeof(data), 77);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(&why, 0xa5, sizeof(why));
		assert_int_equal(th_connect_refused(f, data, lens[i], &rret, &why), -ECONNREFUSED);
		assert_int_equal(rret, 0);
		assert_int_equal(why.len, lens[i]);
		assert_memory_equal(why.data, data, lens[i]);
	}
	memset(&why, 0xa5, sizeof(why));
	assert_int_equal(th_connect_refused(f, data, RPS_REJECT_DATA_MAX + 1, &rret, &why),
			 -ECONNREFUSED);
	assert_int_equal(rret, -EINVAL);
	assert_int_equal(why.len, 0);
	/* reject_p NULL is fine */
	assert_int_equal(th_connect_refused(f, data, 8, &rret, NULL), -ECONNREFUSED);
}

/* An address that does not resolve is the same error on every provider,
 * for connect and listen. */
static void test_unresolvable_address(void **state)
{
	th_fixture_t *f = *state;
	rps_listener_t *l = NULL;
	rps_conn_t *c = NULL;
	rps_reject_t why;

	assert_int_equal(rps_connect(rps_transport_pd(f->tp), "no-such-host.invalid", 4791,
				     f->side[CLIENT].cq, NULL, 0, &why, &c),
			 -EADDRNOTAVAIL);
	assert_null(c);
	assert_int_equal(why.len, 0);
	assert_int_equal(rps_listen(f->tp, "no-such-host.invalid", 0, &l), -EADDRNOTAVAIL);
	assert_null(l);
}

/* rps_cq_poll wants room for at least one completion. */
static void test_poll_needs_room(void **state)
{
	th_fixture_t *f = *state;
	rps_completion_t comp;

	assert_int_equal(rps_cq_poll(f->side[CLIENT].cq, &comp, 0), -EINVAL);
	assert_int_equal(rps_cq_poll(f->side[CLIENT].cq, NULL, 1), -EINVAL);
	assert_int_equal(rps_cq_progress(f->side[CLIENT].cq), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)
const struct CMUnitTest conformance_progress_tests[] = {
	T(test_poll_needs_room),
	T(test_progress_recovers_full_sq),
	T(test_progress_fills_pending),
	T(test_progress_keeps_recv_payload),
	T(test_close_keeps_other_completions),
	T(test_reject_data),
	T(test_unresolvable_address),
};
#undef T
const size_t conformance_progress_ntests =
	sizeof(conformance_progress_tests) / sizeof(conformance_progress_tests[0]);
