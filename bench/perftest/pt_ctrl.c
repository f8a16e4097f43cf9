/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Control messages between the two sides of a run, as SENDs on the first
 * connection: SYNC (a barrier before each size when both sides move
 * data), REPORT (a bandwidth result, for the side that prints it) and
 * DONE (end of test).  A message that arrives while a data loop polls the
 * CQ is parsed into a small inbox and waits there for pt_ctrl_wait().
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "perftest.h"
#include "util/clock.h"

#define PT_WR_CTRL	   UINT64_MAX	/* wr_id of a control SEND */
#define PT_CTRL_TIMEOUT_MS 60000	/* a control SEND not done by then: peer gone */
#define PT_CHECK_PEER_NS   1000000ull	/* how often a waiting side looks for a disconnect */
#define PT_PASSIVE_NAP_NS  5000000	/* verbs: a passive side sleeps between polls */
#define PT_DRAIN_NS	   200000000ull /* after a disconnect: completions still coming */

static const char *const pt_msg_names[] = { [PT_MSG_SYNC] = "SYNC",
					    [PT_MSG_REPORT] = "REPORT",
					    [PT_MSG_DONE] = "DONE",
					    [PT_MSG_STOP] = "STOP" };

int pt_comp_failed(pt_ep_t *ep, const rps_completion_t *c, const char *what)
{
	fprintf(stderr, "%s: %s %s: %s\n", ep->cfg->tool->prog, what,
		c->conn ? rps_conn_peer(c->conn) : "?", rps_strerror(c->status));
	return c->status ? c->status : -EIO;
}

int pt_ctrl_take(pt_ep_t *ep, const rps_completion_t *c)
{
	const char *prog = ep->cfg->tool->prog;
	pt_msg_t m;

	if (c->status)
		return pt_comp_failed(ep, c,
				      c->type == RPS_COMP_RECV	  ? "receive from"
				      : c->type == RPS_COMP_READ  ? "READ from"
				      : c->type == RPS_COMP_WRITE ? "WRITE to"
								  : "operation with");
	if (c->type != RPS_COMP_RECV)
		return 0;
	if (pt_msg_parse(c->data, c->len, &m)) {
		fprintf(stderr, "%s: %s sent a malformed control message (%u bytes)\n", prog,
			rps_conn_peer(c->conn), c->len);
		return -RPS_ERR_PROTO;
	}
	if (ep->inbox_len == PT_INBOX) {
		fprintf(stderr, "%s: %s sent more than %d control messages unanswered\n", prog,
			rps_conn_peer(c->conn), PT_INBOX);
		return -RPS_ERR_PROTO;
	}
	ep->inbox[ep->inbox_len++] = m;
	return 0;
}

/* Takes the first message of type out of the inbox: true when there was one. */
static bool pt_inbox_pop(pt_ep_t *ep, pt_msg_type_t type, pt_msg_t *m_p)
{
	for (unsigned i = 0; i < ep->inbox_len; i++) {
		if (ep->inbox[i].type != type)
			continue;
		*m_p = ep->inbox[i];
		memmove(&ep->inbox[i], &ep->inbox[i + 1],
			(ep->inbox_len - i - 1) * sizeof(ep->inbox[0]));
		ep->inbox_len--;
		return true;
	}
	return false;
}

int pt_poll(pt_ep_t *ep)
{
	int n = rps_cq_poll(ep->cq, ep->comps, PT_POLL_BATCH);

	if (n < 0)
		fprintf(stderr, "%s: poll the CQ: %s\n", ep->cfg->tool->prog, rps_strerror(n));
	return n;
}

/* Polls once; a control SEND's completion sets *sent_p. */
static int pt_ctrl_poll(pt_ep_t *ep, bool *sent_p, int *n_p)
{
	int n = pt_poll(ep);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		const rps_completion_t *c = &ep->comps[i];
		int ret;

		if (c->status == 0 && c->type == RPS_COMP_SEND && c->wr_id == PT_WR_CTRL) {
			if (sent_p)
				*sent_p = true;
			continue;
		}
		if ((ret = pt_ctrl_take(ep, c)))
			return ret;
	}
	*n_p = n;
	return 0;
}

/* Between empty polls: notices a peer that went away (-ENOTCONN). */
static int pt_ctrl_check_peer(pt_ep_t *ep, uint64_t *next_p)
{
	uint64_t now = rps_now_ns();

	if (now < *next_p)
		return 0;
	*next_p = now + PT_CHECK_PEER_NS;
	rps_transport_progress(ep->tp);
	return rps_conn_is_connected(ep->qps[0].conn) ? 0 : -ENOTCONN;
}

/* The peer is gone, but the message awaited may have come before it
 * left: a peer that sends DONE and exits at once can be seen
 * disconnected before its DONE's receive completion shows in the CQ
 * (soft-RoCE handles the CM's disconnect and the receive on different
 * paths; seen once on a loaded host).  So the CQ is drained for a moment
 * before the wait fails; the receives flushed by the disconnect are
 * expected then and skipped. */
static bool pt_ctrl_drain_for(pt_ep_t *ep, pt_msg_type_t type, pt_msg_t *m_p)
{
	uint64_t end = rps_now_ns() + PT_DRAIN_NS;

	do {
		int n = rps_cq_poll(ep->cq, ep->comps, PT_POLL_BATCH);

		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			const rps_completion_t *c = &ep->comps[i];

			if (c->status == 0 && c->type == RPS_COMP_RECV && pt_ctrl_take(ep, c))
				return false;
		}
		if (pt_inbox_pop(ep, type, m_p))
			return true;
	} while (rps_now_ns() < end);
	return false;
}

int pt_ctrl_send(pt_ep_t *ep, const pt_msg_t *m)
{
	uint64_t deadline = rps_deadline_ns(PT_CTRL_TIMEOUT_MS);
	rps_conn_t *conn = ep->qps[0].conn;
	size_t len = pt_msg_pack(m, ep->ctrl_buf);
	bool sent = false;
	int ret, n;

	while ((ret = rps_post_send(conn, ep->ctrl_buf, len, ep->ctrl_mr, PT_WR_CTRL, 0)) ==
	       -EAGAIN) {
		if ((ret = pt_ctrl_poll(ep, NULL, &n)))
			return ret;
	}
	if (ret) {
		fprintf(stderr, "%s: send %s to %s: %s\n", ep->cfg->tool->prog,
			pt_msg_names[m->type], rps_conn_peer(conn), rps_strerror(ret));
		return ret;
	}
	while (!sent) {
		if ((ret = pt_ctrl_poll(ep, &sent, &n)))
			return ret;
		if (!sent && n == 0 && rps_ms_left(deadline) == 0) {
			fprintf(stderr, "%s: %s did not take %s within %d s\n", ep->cfg->tool->prog,
				rps_conn_peer(conn), pt_msg_names[m->type],
				PT_CTRL_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
	}
	return 0;
}

int pt_ctrl_wait(pt_ep_t *ep, pt_msg_type_t type, bool passive, pt_msg_t *m_p)
{
	const struct timespec nap = { .tv_nsec = PT_PASSIVE_NAP_NS };
	uint64_t next_check = rps_now_ns() + PT_CHECK_PEER_NS;
	int ret, n;

	while (!pt_inbox_pop(ep, type, m_p)) {
		if ((ret = pt_ctrl_poll(ep, NULL, &n)))
			return ret;
		if (n)
			continue;
		if ((ret = pt_ctrl_check_peer(ep, &next_check))) {
			if (pt_ctrl_drain_for(ep, type, m_p))
				return 0;
			fprintf(stderr, "%s: %s disconnected before the end of the test\n",
				ep->cfg->tool->prog, rps_conn_peer(ep->qps[0].conn));
			return ret;
		}
		/* ofi moves the peer's one-sided data only while we poll */
		if (passive && !ep->needs_progress)
			nanosleep(&nap, NULL);
	}
	return 0;
}

int pt_ctrl_barrier(pt_ep_t *ep, uint32_t seq)
{
	pt_msg_t m = { .type = PT_MSG_SYNC, .seq = seq };
	int ret;

	if ((ret = pt_ctrl_send(ep, &m)) || (ret = pt_ctrl_wait(ep, PT_MSG_SYNC, false, &m)))
		return ret;
	if (m.seq != seq) {
		fprintf(stderr, "%s: %s is at step %" PRIu32 ", this side at %" PRIu32 "\n",
			ep->cfg->tool->prog, rps_conn_peer(ep->qps[0].conn), m.seq, seq);
		return -RPS_ERR_PROTO;
	}
	return 0;
}
