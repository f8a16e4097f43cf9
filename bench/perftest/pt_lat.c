/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The latency loops, as perftest's run_iter_lat_write / run_iter_lat:
 *
 * WRITE: a ping-pong on the first QP.  Each side WRITEs size bytes from
 * its send area into the peer's recv area, the last byte holding the
 * iteration number, and learns of the peer's WRITE by watching the last
 * byte of its own recv area change (memory, not the CQ).  Per iteration:
 * wait for the peer's WRITE (the initiator skips this the first time),
 * post, stamp the clock, wait for the post's own completion.  A stamp-to-
 * stamp interval is one round trip.
 *
 * READ: the client posts one READ at a time and waits for its completion;
 * an interval is one READ.
 *
 * The cycle counter is read just after the post (perftest reads it just
 * before): the interval between two stamps is the same iteration, and
 * the read overlaps the transfer instead of delaying it.
 *
 * On ofi the target's one-sided data moves only while it polls its CQ,
 * so the memory watch polls the CQ too there; on verbs it touches memory
 * only (and the CQ now and then with -D, for the client's STOP).
 */
#include "config.h"

#include <errno.h>

#include "perftest.h"
#include "util/clock.h"

#define PT_SPIN_CHECK  0xfffffu /* spins between looks for a dead peer */
#define PT_STOP_POLL   0x3fu	/* verbs -D: spins between looks for STOP */
#define PT_CLOCK_EVERY 0x3fu	/* -D: iterations between clock reads */

/* Takes completions off the CQ: *own counts this side's operations. */
/* the run's length, and the cycle counter's rate over it */
static void run_end(pt_lat_run_t *run, uint64_t t0, uint64_t tk0)
{
	uint64_t tk = pt_ticks();

	run->t_ns = rps_now_ns() - t0;
	run->ns_per_tick = tk > tk0 ? (double)run->t_ns / (double)(tk - tk0) : 1.0;
}

void pt_lat_stamps_to_ns(uint64_t *stamps, uint64_t n, double ns_per_tick)
{
	uint64_t first = n ? stamps[0] : 0;

	for (uint64_t i = 0; i < n; i++)
		stamps[i] = (uint64_t)((double)(stamps[i] - first) * ns_per_tick + 0.5);
}

static int pt_lat_poll(pt_ep_t *ep, uint64_t *own)
{
	int n = pt_poll(ep);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const rps_completion_t *c = &ep->comps[i];
		int ret;

		if (c->status == 0 && (c->type == RPS_COMP_WRITE || c->type == RPS_COMP_READ)) {
			(*own)++;
			continue;
		}
		if ((ret = pt_ctrl_take(ep, c)))
			return ret;
	}
	return 0;
}

static int pt_lat_peer_alive(pt_ep_t *ep)
{
	rps_conn_t *conn = ep->qps[0].conn;

	rps_transport_progress(ep->tp);
	if (rps_conn_is_connected(conn))
		return 0;
	fprintf(stderr, "%s: %s disconnected during the test\n", ep->cfg->tool->prog,
		rps_conn_peer(conn));
	return -ENOTCONN;
}

/* Waits until *own reaches want. */
static int pt_lat_wait_own(pt_ep_t *ep, uint64_t *own, uint64_t want)
{
	unsigned spins = 0;
	int ret;

	while (*own < want) {
		if ((ret = pt_lat_poll(ep, own)))
			return ret;
		if ((++spins & PT_SPIN_CHECK) == 0 && (ret = pt_lat_peer_alive(ep)))
			return ret;
	}
	return 0;
}

/* true when the peer's STOP is in the inbox (taken out) */
static bool pt_lat_stopped(pt_ep_t *ep)
{
	for (unsigned i = 0; i < ep->inbox_len; i++) {
		if (ep->inbox[i].type == PT_MSG_STOP) {
			ep->inbox[i] = ep->inbox[--ep->inbox_len];
			return true;
		}
	}
	return false;
}

/* Watches *flag until it holds want: 1, or 0 when the peer sent STOP. */
static int pt_lat_watch(pt_ep_t *ep, const uint8_t *flag, uint8_t want, bool stoppable,
			uint64_t *own)
{
	unsigned spins = 0;
	int ret;

	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != want) {
		++spins;
		if (ep->needs_progress || (stoppable && (spins & PT_STOP_POLL) == 0)) {
			if ((ret = pt_lat_poll(ep, own)))
				return ret;
			if (stoppable && pt_lat_stopped(ep))
				return 0;
		}
		if ((spins & PT_SPIN_CHECK) == 0 && (ret = pt_lat_peer_alive(ep)))
			return ret;
	}
	return 1;
}

int pt_lat_write(pt_ep_t *ep, pt_lat_run_t *run)
{
	pt_qp_t *qp = &ep->qps[0];
	const uint8_t *flag = qp->recv_area + run->size - 1;
	uint8_t *mark = qp->send_area + run->size - 1;
	uint64_t n = run->duration_ns ? UINT64_MAX : run->iters;
	uint64_t scnt = 0, rcnt = 0, own = 0, t0, tk0, deadline = 0;
	bool stoppable = run->duration_ns && !run->stopper;
	bool stopper = run->duration_ns && run->stopper;
	int ret;

	t0 = rps_now_ns();
	tk0 = pt_ticks();
	if (run->duration_ns)
		deadline = t0 + run->duration_ns;
	while (scnt < n || rcnt < n) {
		if (rcnt < n && !(run->initiator && scnt == 0)) {
			rcnt++;
			ret = pt_lat_watch(ep, flag, (uint8_t)rcnt, stoppable, &own);
			if (ret < 0)
				return ret;
			if (ret == 0)
				break; /* the client's STOP */
		}
		if (stopper && (scnt & PT_CLOCK_EVERY) == 0 && rps_now_ns() >= deadline) {
			pt_msg_t stop = { .type = PT_MSG_STOP };

			if ((ret = pt_ctrl_send(ep, &stop)))
				return ret;
			break;
		}
		if (scnt < n) {
			*mark = (uint8_t)(scnt + 1);
			ret = rps_post_write(qp->conn, qp->send_area, run->size, ep->mr,
					     qp->peer_recv, qp->rkey, scnt + 1, 0);
			if (ret) {
				fprintf(stderr, "%s: post WRITE of %lu bytes to %s: %s\n",
					ep->cfg->tool->prog, (unsigned long)run->size,
					rps_conn_peer(qp->conn), rps_strerror(ret));
				return ret;
			}
			if (run->stamps)
				run->stamps[scnt] = pt_ticks();
			scnt++;
			if ((ret = pt_lat_wait_own(ep, &own, scnt)))
				return ret;
		}
	}
	run->done = scnt;
	run_end(run, t0, tk0);
	return 0;
}

int pt_lat_read(pt_ep_t *ep, pt_lat_run_t *run)
{
	pt_qp_t *qp = &ep->qps[0];
	uint64_t n = run->duration_ns ? UINT64_MAX : run->iters;
	uint64_t i, own = 0, t0 = rps_now_ns(), tk0 = pt_ticks();
	uint64_t deadline = run->duration_ns ? t0 + run->duration_ns : 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (deadline && (i & PT_CLOCK_EVERY) == 0 && rps_now_ns() >= deadline)
			break;
		ret = rps_post_read(qp->conn, qp->recv_area, run->size, ep->mr, qp->peer_send,
				    qp->rkey, i, 0);
		if (ret) {
			fprintf(stderr, "%s: post READ of %lu bytes from %s: %s\n",
				ep->cfg->tool->prog, (unsigned long)run->size,
				rps_conn_peer(qp->conn), rps_strerror(ret));
			return ret;
		}
		if (run->stamps)
			run->stamps[i] = pt_ticks();
		if ((ret = pt_lat_wait_own(ep, &own, i + 1)))
			return ret;
	}
	run->done = i;
	run_end(run, t0, tk0);
	return 0;
}
