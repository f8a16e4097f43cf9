/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The bandwidth loop: WRITEs (local send area -> peer's recv area) or
 * READs (peer's send area -> local recv area) on every QP, tx-depth of
 * them in flight per QP, posted round robin.  Selective signaling: every
 * cq_mod-th operation of a QP and its last one ask for a completion; an
 * RC send queue completes in order, so a completion of operation i
 * retires every operation of that QP up to i.
 *
 * Timing reads the clock at the start, at every cq_mod-th post and at
 * each completion (the marks the peak is computed from), never once per
 * operation.  Nothing here allocates; the only calls are post and poll.
 */
#include "config.h"

#include <errno.h>

#include "perftest.h"
#include "util/clock.h"

static inline void pt_mark(pt_mark_t *m, size_t *n, size_t cap, uint64_t ops, uint64_t t)
{
	if (*n < cap && (*n == 0 || m[*n - 1].ops != ops))
		m[(*n)++] = (pt_mark_t){ ops, t };
}

static inline int pt_bw_post(pt_ep_t *ep, pt_verb_t verb, pt_qp_t *qp, uint64_t size,
			     unsigned flags)
{
	if (verb == PT_WRITE)
		return rps_post_write(qp->conn, qp->send_area, size, ep->mr, qp->peer_recv,
				      qp->rkey, qp->posted, flags);
	return rps_post_read(qp->conn, qp->recv_area, size, ep->mr, qp->peer_send, qp->rkey,
			     qp->posted, flags);
}

/* Posts on qp while it has room and work left; *total counts posts. */
static int pt_bw_fill(pt_ep_t *ep, pt_verb_t verb, pt_bw_run_t *run, pt_qp_t *qp, uint64_t limit,
		      bool stop, uint64_t *total)
{
	pt_bw_marks_t *mk = run->marks;

	for (;;) {
		/* once stopped (-D), only a tail of unsignaled posts still
		 * needs a signaled one behind it, or it would never retire */
		bool more = stop ? qp->posted > qp->signaled : qp->posted < limit;
		uint64_t i = qp->posted;
		bool last = stop || i + 1 == limit;
		bool signal = last || (i + 1) % run->cq_mod == 0;
		int ret;

		if (!more || i - qp->done >= run->depth)
			return 0;
		if (mk && *total % run->cq_mod == 0)
			pt_mark(mk->post, &mk->npost, mk->cap, *total, rps_now_ns());
		ret = pt_bw_post(ep, verb, qp, run->size, signal ? 0 : RPS_POST_UNSIGNALED);
		if (ret == -EAGAIN)
			return 0;
		if (ret) {
			fprintf(stderr, "%s: post %s of %lu bytes to %s: %s\n", ep->cfg->tool->prog,
				verb == PT_WRITE ? "WRITE" : "READ", (unsigned long)run->size,
				rps_conn_peer(qp->conn), rps_strerror(ret));
			return ret;
		}
		qp->posted++;
		if (signal)
			qp->signaled = qp->posted;
		(*total)++;
	}
}

/* Takes one poll's completions: *done counts retired operations. */
static int pt_bw_reap(pt_ep_t *ep, pt_bw_run_t *run, int n, uint64_t *done, uint64_t *t_last)
{
	pt_bw_marks_t *mk = run->marks;

	for (int i = 0; i < n; i++) {
		const rps_completion_t *c = &ep->comps[i];
		pt_qp_t *qp;
		int ret;

		if (c->status == 0 && (c->type == RPS_COMP_WRITE || c->type == RPS_COMP_READ)) {
			qp = rps_conn_get_context(c->conn);
			*done += c->wr_id + 1 - qp->done;
			qp->done = c->wr_id + 1;
			*t_last = rps_now_ns();
			if (mk)
				pt_mark(mk->comp, &mk->ncomp, mk->cap, *done, *t_last);
			continue;
		}
		if ((ret = pt_ctrl_take(ep, c)))
			return ret;
	}
	return 0;
}

int pt_bw_loop(pt_ep_t *ep, pt_verb_t verb, pt_bw_run_t *run)
{
	uint64_t limit = run->duration_ns ? UINT64_MAX : run->iters;
	uint64_t posted = 0, done = 0, t_first, t_last, deadline = 0;
	bool stop = false;
	int ret, n;

	for (uint32_t q = 0; q < ep->nqps; q++)
		ep->qps[q].posted = ep->qps[q].done = ep->qps[q].signaled = 0;
	if (run->marks)
		run->marks->npost = run->marks->ncomp = 0;
	t_first = t_last = rps_now_ns();
	if (run->duration_ns)
		deadline = t_first + run->duration_ns;
	for (;;) {
		bool filled = true;

		for (uint32_t q = 0; q < ep->nqps; q++) {
			pt_qp_t *qp = &ep->qps[q];

			if ((ret = pt_bw_fill(ep, verb, run, qp, limit, stop, &posted)))
				return ret;
			if (stop ? qp->posted > qp->signaled : qp->posted < limit)
				filled = false;
		}
		if (filled && done == posted)
			break;
		if ((n = pt_poll(ep)) < 0)
			return n;
		if ((ret = pt_bw_reap(ep, run, n, &done, &t_last)))
			return ret;
		if (deadline && !stop && rps_now_ns() >= deadline)
			stop = true;
	}
	run->ops = done;
	run->t_ns = t_last - t_first;
	return 0;
}
