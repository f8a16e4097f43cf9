/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Engine threads: busy-poll a CQ, apply each announced chunk with the
 * algorithm's kernel, and notify a worker when its whole push is applied.
 * The data path allocates nothing, takes no lock and makes no syscall
 * beyond post/poll: chunk ownership (c % T) serializes updates of a chunk.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "optim/kernels.h"
#include "ps/server.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"
#include "util/spin.h"

#define POLL_BATCH	   16
/* polls between housekeeping passes (new and dead lanes, held workers) */
#define HOUSEKEEPING_EVERY 4096
/* empty polls in a row that end the drain at stop */
#define DRAIN_QUIET_POLLS  100000
/* between keepalive writes to every lane (see keepalive()) */
#define KEEPALIVE_NS	   (2ull * 1000000000ull)
/* the worker's control word the keepalive writes: after the doorbell
 * (ctl[1] in worker.c), which it never reads */
#define KEEPALIVE_OFFSET   8

static uint64_t tau_of(struct rps_server *srv, ps_slot_t *s)
{
	return atomic_load(&srv->version) - atomic_load(&s->pull_version);
}

/* The scheduled learning rate now.  A decay boundary may fall inside a
 * push: its chunks applied after the boundary use the new rate. */
static float lr_now(const struct rps_server *srv)
{
	return rps_hparams_lr_at(&srv->cfg.hp,
				 atomic_load_explicit(&srv->version, memory_order_relaxed));
}

static int apply_async(struct rps_server *srv, ps_slot_t *s, uint64_t off, uint64_t len,
		       const float *g, float *undo)
{
	const rps_hparams_t *hp = &srv->cfg.hp;
	float *w = srv->w + off, *b = s->snap + off;
	const float lr = lr_now(srv);

	switch (srv->cfg.algo) {
	case RPS_ALGO_SGD:
	case RPS_ALGO_ASGD: {
		rps_sgd_params_t p = { lr, hp->momentum, hp->weight_decay };
		/* the snapshot the worker reads next is the model after its
		 * own update, written in the same pass */
		return rps_optim_sgd(w, srv->state_a ? srv->state_a + off : NULL, b, g, len, &p,
				     undo);
	}
	case RPS_ALGO_DCASGD_C:
		return rps_optim_dcasgd(w, b, g, len, lr, hp->lambda, undo);
	case RPS_ALGO_DCASGD_A: {
		rps_dcasgd_a_params_t p = { lr, hp->lambda, hp->ms_decay, hp->eps };

		return rps_optim_dcasgd_a(w, b, srv->state_a + off, g, len, &p, undo);
	}
	case RPS_ALGO_PCASGD: {
		/* clipping bound: the SSP bound when set, else M (a delay of
		 * more than one round of every worker is "outdated") */
		uint64_t bound =
			srv->cfg.max_staleness ? srv->cfg.max_staleness : srv->cfg.num_workers;
		return rps_optim_pcasgd(w, b, g, len, lr, hp->lambda, hp->theta,
					tau_of(srv, s) <= bound, undo);
	}
	default:
		return -EINVAL;
	}
}

/* S[chunk] = exact sum of every worker's latest gradient for the chunk. */
static void dude_refresh(struct rps_server *srv, uint32_t c, uint64_t off, uint64_t len)
{
	const float *h[RPS_MAX_WORKERS];
	uint32_t M = srv->cfg.num_workers;

	for (uint32_t m = 0; m < M; m++) {
		int8_t p = srv->slots[m].chunk_parity[c];

		h[m] = p >= 0 ? ps_grad_chunk(srv, &srv->slots[m], (unsigned)p, off) : NULL;
	}
	rps_optim_sum(srv->state_a + off, h, M, len);
	srv->dude_since_refresh[c] = 0;
}

static int apply_dude(struct rps_server *srv, ps_slot_t *s, uint32_t c, uint64_t off, uint64_t len,
		      unsigned parity, float *undo)
{
	int8_t prev = s->chunk_parity[c];
	/* the average over the workers whose gradient is in S, this one
	 * included (the paper's 1/M while all M train) */
	const float step = 1.0f / (float)(srv->dude_active[c] + (prev < 0));
	const float *g_new = ps_grad_chunk(srv, s, parity, off);
	const float *g_old = prev >= 0 ? ps_grad_chunk(srv, s, (unsigned)prev, off) : NULL;
	float *w = srv->w + off, *sum = srv->state_a + off;
	int ret;

	/* prev is never this push's parity: pushes alternate halves, and a
	 * worker that left had its gradient taken out (dude_forget, prev =
	 * -1) before it could rejoin */
	ret = rps_optim_dude(w, sum, s->snap + off, g_new, g_old, len, lr_now(srv), step, undo);
	if (ret)
		return ret;
	srv->dude_active[c] += prev < 0;
	s->chunk_parity[c] = (int8_t)parity;
	/* bound the float drift of S += g_new - g_old */
	if (++srv->dude_since_refresh[c] >= srv->cfg.hp.dude_refresh)
		dude_refresh(srv, c, off, len);
	return 0;
}

static void log_apply(struct rps_server *srv, uint32_t c, uint32_t m, uint64_t push)
{
	uint64_t i;

	if (!srv->apply_log)
		return;
	i = atomic_fetch_add(&srv->apply_log_n, 1);
	if (i < srv->apply_log_len)
		srv->apply_log[i] = (rps_apply_record_t){ c, m, push };
}

/* Applies chunk c of slot m's push with the given parity; 0, or -EDOM
 * when the gradient was refused (nothing changed). */
static int apply_chunk(struct rps_server *srv, ps_slot_t *s, uint32_t c, unsigned parity,
		       float *undo)
{
	uint64_t off = ps_chunk_start(srv, c), len = ps_chunk_len(srv, c);

	if (srv->cfg.algo == RPS_ALGO_DUDE)
		return apply_dude(srv, s, c, off, len, parity, undo);
	return apply_async(srv, s, off, len, ps_grad_chunk(srv, s, parity, off), undo);
}

/* ---- notification ------------------------------------------------------ */

static void notify(ps_engine_t *e, ps_slot_t *s, bool rejected)
{
	struct rps_server *srv = e->srv;
	ps_lane_t *lane = &s->lanes[e->index];
	uint64_t pushes = atomic_load(&s->pushes);
	uint32_t imm = rps_imm_encode(rejected ? RPS_IMM_REJECT : RPS_IMM_NOTIFY,
				      (unsigned)((pushes - 1) & 1),
				      (uint32_t)((pushes - 1) & RPS_IMM_VALUE_MAX));
	int ret;

	if (atomic_load_explicit(&lane->state, memory_order_acquire) != LANE_UP)
		return; /* the worker left; it will resync when it rejoins */
	*lane->notify_src = atomic_load(&srv->version);
	/* at most one notification per worker is in flight (the worker waits
	 * for it before pushing again), so a full send queue means the lane
	 * is wedged: retry briefly while driving progress, then give up and
	 * let the worker's timeout report it */
	for (int tries = 0; tries < 1000; tries++) {
		ret = rps_post_write_imm(lane->conn, lane->notify_src, sizeof(uint64_t),
					 s->notify_mr, s->doorbell_addr, s->doorbell_key, imm, 0,
					 0);
		if (ret != -EAGAIN)
			break;
		rps_cq_poll(e->cq, NULL, 0);
	}
	if (ret)
		rps_warn("server: notify worker %u: %s", s->id, rps_strerror(ret));
}

/* Slowest live worker's completed pushes (SSP reference point). */
static uint64_t min_live_pushes(struct rps_server *srv)
{
	uint64_t min = UINT64_MAX;

	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *s = &srv->slots[m];

		if (atomic_load(&s->connected)) {
			uint64_t p = atomic_load(&s->pushes);

			if (p < min)
				min = p;
		}
	}
	return min;
}

static bool too_far_ahead(struct rps_server *srv, ps_slot_t *s)
{
	uint64_t bound = srv->cfg.max_staleness, min;

	if (!bound)
		return false;
	min = min_live_pushes(srv);
	return min != UINT64_MAX && atomic_load(&s->pushes) > min + bound;
}

/* Releases held workers that the others caught up with; any engine
 * thread may do it, through its own lane to that worker. */
static void release_held(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;

	/* only the SSP bound holds workers: without it, skip the scan that
	 * would otherwise follow every push */
	if (!srv->cfg.max_staleness)
		return;
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *s = &srv->slots[m];

		if (atomic_load(&s->held) && !too_far_ahead(srv, s)) {
			bool expected = true;

			if (atomic_compare_exchange_strong(&s->held, &expected, false))
				notify(e, s, atomic_load(&s->last_bad));
		}
	}
}

static void push_complete(ps_engine_t *e, ps_slot_t *s)
{
	struct rps_server *srv = e->srv;
	uint64_t tau = tau_of(srv, s), max;
	bool bad = atomic_load(&s->chunks_bad) != 0;

	atomic_fetch_add(&s->stat_tau_sum, tau);
	max = atomic_load(&s->stat_tau_max);
	while (tau > max && !atomic_compare_exchange_weak(&s->stat_tau_max, &max, tau))
		;
	/* the worker's snapshot B[m] dates from now (b = w after its own
	 * update), held back by the SSP bound or not: its next tau counts
	 * from here */
	atomic_store(&s->pull_version, atomic_fetch_add(&srv->version, 1) + 1);
	/* the push count moves before the counters reset: a chunk of the
	 * next push can only arrive after the notification below */
	atomic_fetch_add(&s->pushes, 1);
	atomic_store(&s->last_bad, bad);
	if (too_far_ahead(srv, s)) {
		atomic_store(&s->held, true);
	} else {
		notify(e, s, bad);
	}
	release_held(e);
}

/* ---- SSGD: sum the gradients of a round, apply once, notify all --------
 * A round's chunk c is applied when every expected worker has delivered
 * it (see ssgd_chunk_ready): a worker that leaves does not block the
 * others (what it delivered stays in the average), and one that rejoins
 * takes part from the round in progress.  The round ends when all chunks
 * are applied. */

/* true when no expected worker still owes chunk c of the current round.
 * Expected: every connected worker, and every worker not seen yet (the
 * first rounds wait for all M to join); not expected: a worker that
 * joined and left. */
static bool ssgd_chunk_ready(struct rps_server *srv, uint32_t c)
{
	uint64_t round = atomic_load(&srv->version);
	uint32_t timeout_ms = srv->cfg.ssgd_timeout_ms;

	/* past the round's timeout nobody more is waited for (the caller
	 * has at least one gradient of the chunk) */
	if (timeout_ms &&
	    rps_now_ns() - atomic_load(&srv->ssgd_round_start) > (uint64_t)timeout_ms * 1000000)
		return true;

	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		const ps_slot_t *o = &srv->slots[m];
		/* ever_joined first: see the order of the stores at a join */
		bool joined = atomic_load(&o->ever_joined);
		bool expected = !joined || atomic_load(&o->connected);

		if (expected && ps_chunk_push(o, c) <= round)
			return false;
	}
	return true;
}

static void ssgd_round_done(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;
	uint64_t version = atomic_fetch_add(&srv->version, 1) + 1;

	atomic_store(&srv->ssgd_chunks_done, 0);
	atomic_store(&srv->ssgd_round_start, rps_now_ns());
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *o = &srv->slots[m];

		/* every slot moves to the next round, present or not, so a
		 * worker that (re)joins later starts in step with the others */
		atomic_fetch_add(&o->pushes, 1);
		if (atomic_exchange(&o->delivered, false))
			atomic_fetch_add(&o->stat_rounds, 1);
		atomic_store(&o->pull_version, version);
		notify(e, o, atomic_exchange(&o->chunks_bad, 0) != 0);
	}
}

static void ssgd_apply_chunk(ps_engine_t *e, uint32_t c)
{
	struct rps_server *srv = e->srv;
	uint64_t off = ps_chunk_start(srv, c), len = ps_chunk_len(srv, c);

	if (srv->ssgd_accepted[c]) {
		const rps_hparams_t *hp = &srv->cfg.hp;
		float a = (float)srv->ssgd_accepted[c];
		/* the step on the sum with lr/A is the step on the average;
		 * weight decay must not be divided, so it is scaled back */
		rps_sgd_params_t p = { lr_now(srv) / a, hp->momentum, hp->weight_decay * a };

		/* acc was checked as it was summed: no undo needed */
		rps_optim_sgd(srv->w + off, srv->state_b ? srv->state_b + off : NULL, NULL,
			      srv->state_a + off, len, &p, NULL);
	}
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++)
		memcpy(srv->slots[m].snap + off, srv->w + off, len * sizeof(float));
	srv->ssgd_arrived[c] = srv->ssgd_accepted[c] = 0;
	srv->ssgd_chunk_round[c]++;
	if (atomic_fetch_add(&srv->ssgd_chunks_done, 1) + 1 == srv->num_chunks)
		ssgd_round_done(e);
}

static void ssgd_chunk(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity, uint64_t round)
{
	struct rps_server *srv = e->srv;
	uint64_t off = ps_chunk_start(srv, c), len = ps_chunk_len(srv, c);
	const float *g = ps_grad_chunk(srv, s, parity, off);

	/* a worker that joined mid-round can be too late for a chunk the
	 * round already applied: that piece of its gradient is dropped, so
	 * it never leaks into the next round's average */
	if (srv->ssgd_chunk_round[c] > round)
		return;

	if (rps_optim_accumulate(srv->state_a + off, g, len, srv->ssgd_accepted[c] == 0) == 0) {
		srv->ssgd_accepted[c]++;
		atomic_fetch_add(&s->stat_chunks, 1);
	} else {
		atomic_fetch_add(&s->stat_rejected, 1);
		atomic_fetch_add(&s->chunks_bad, 1);
	}
	srv->ssgd_arrived[c]++;
	atomic_store_explicit(&s->delivered, true, memory_order_relaxed);
	if (ssgd_chunk_ready(srv, c))
		ssgd_apply_chunk(e, c);
}

/* re-checks the pending chunks this engine owns (a worker left) */
static void ssgd_recheck(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;

	for (uint32_t c = e->index; c < srv->num_chunks; c += srv->threads)
		if (srv->ssgd_arrived[c] && ssgd_chunk_ready(srv, c))
			ssgd_apply_chunk(e, c);
}

/* ---- one chunk notice --------------------------------------------------- */

static void on_push_chunk(ps_engine_t *e, ps_slot_t *s, uint32_t imm)
{
	struct rps_server *srv = e->srv;
	uint32_t c = rps_imm_value(imm);
	unsigned parity = rps_imm_parity(imm);
	uint64_t push = atomic_load(&s->pushes);

	/* a worker can only hurt itself: anything unexpected is counted and
	 * dropped, never applied */
	if (rps_unlikely(c >= srv->num_chunks || c % srv->threads != e->index ||
			 parity != (push & 1) || ps_chunk_push(s, c) != push)) {
		if (atomic_fetch_add(&s->stat_proto, 1) < 8)
			rps_warn("server: worker %u: unexpected chunk notice (chunk %u, "
				 "parity %u, push %" PRIu64 "): dropped",
				 s->id, c, parity, push);
		return;
	}
	ps_set_chunk_push(s, c, push + 1);
	log_apply(srv, c, s->id, push);
	if (srv->cfg.algo == RPS_ALGO_SSGD) {
		ssgd_chunk(e, s, c, parity, push);
		return;
	}
	if (apply_chunk(srv, s, c, parity, e->undo) == 0) {
		atomic_fetch_add(&s->stat_chunks, 1);
	} else {
		atomic_fetch_add(&s->chunks_bad, 1);
		if (atomic_fetch_add(&s->stat_rejected, 1) < 8)
			rps_warn("server: worker %u: chunk %u of push %" PRIu64
				 " has NaN/Inf: not applied",
				 s->id, c, push);
	}
	if (atomic_fetch_add(&s->chunks_done, 1) + 1 == srv->num_chunks) {
		atomic_store(&s->chunks_done, 0);
		push_complete(e, s);
		atomic_store(&s->chunks_bad, 0);
	}
}

static void on_completion(ps_engine_t *e, const rps_completion_t *c)
{
	ps_slot_t *s = rps_conn_get_context(c->conn);

	/* only adopted lanes carry work (the worker waits for READY); a
	 * notice on a lane we never published is dropped */
	if (rps_unlikely(!s))
		return;
	if (rps_unlikely(c->status)) {
		/* our notification write failed, or the lane broke: reaped by
		 * housekeeping once the transport marks it down */
		rps_dbg("server: worker %u lane %u: %s", s ? s->id : 0, e->index,
			rps_strerror(c->status));
		return;
	}
	if (c->type == RPS_COMP_REMOTE_WRITE_IMM && rps_imm_kind(c->imm) == RPS_IMM_PUSH)
		on_push_chunk(e, s, c->imm);
	else if (c->type == RPS_COMP_RECV)
		rps_dbg("server: worker %u: control message of %u bytes", s->id, c->len);
	else if (c->type == RPS_COMP_REMOTE_WRITE_IMM && atomic_fetch_add(&s->stat_proto, 1) < 8)
		rps_warn("server: worker %u: unexpected immediate 0x%08x", s->id, c->imm);
}

/* A lane the control thread accepted becomes ours: tell the worker it may
 * use it (the READY handshake closes the window in which a chunk notice
 * could reach a connection whose slot is not yet set). */
static void adopt_lane(ps_engine_t *e, ps_slot_t *s, ps_lane_t *lane)
{
	uint32_t imm = rps_imm_encode(RPS_IMM_CONTROL, 0, RPS_CTL_READY);
	int ret;

	atomic_store_explicit(&lane->state, LANE_UP, memory_order_release);
	e->lanes++;
	ret = rps_post_write_imm(lane->conn, lane->notify_src, sizeof(uint64_t), s->notify_mr,
				 s->doorbell_addr, s->doorbell_key, imm, 0, 0);
	if (ret)
		rps_warn("server: worker %u lane %u: READY: %s", s->id, e->index,
			 rps_strerror(ret));
}

/* dude: worker s left, so its last gradient leaves the running sum of
 * this engine's chunks (S rebuilt exactly from the others).  Kept, a
 * finished worker's frozen gradient would be applied again at every
 * later push of the others and drag the model away. */
static void dude_forget(ps_engine_t *e, ps_slot_t *s)
{
	struct rps_server *srv = e->srv;

	for (uint32_t c = e->index; c < srv->num_chunks; c += srv->threads) {
		if (s->chunk_parity[c] < 0)
			continue;
		s->chunk_parity[c] = -1;
		srv->dude_active[c]--;
		dude_refresh(srv, c, ps_chunk_start(srv, c), ps_chunk_len(srv, c));
	}
}

/* Adopts new lanes and closes those whose connection went down. */
static void reap_lanes(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;

	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *s = &srv->slots[m];
		ps_lane_t *lane = &s->lanes[e->index];
		int state = atomic_load_explicit(&lane->state, memory_order_acquire);

		if (state == LANE_NEW)
			adopt_lane(e, s, lane);
		if (state == LANE_EMPTY || rps_conn_is_connected(lane->conn))
			continue;
		rps_conn_close(lane->conn);
		lane->conn = NULL;
		/* before the lane counts as gone: a rejoin waits for it */
		if (srv->cfg.algo == RPS_ALGO_DUDE)
			dude_forget(e, s);
		atomic_store_explicit(&lane->state, LANE_EMPTY, memory_order_release);
		e->lanes--;
		if (atomic_fetch_sub(&s->lanes_up, 1) == 1) {
			atomic_store(&s->connected, false);
			rps_info("server: worker %u left after %" PRIu64 " pushes", m,
				 atomic_load(&s->pushes));
		}
	}
}

/*
 * A worker whose link fails while the server has nothing to send it (it
 * computes, or the network went down between two of its steps) leaves
 * its lanes looking connected: nothing on them ever completes in error.
 * rdma-ps would not report it, and the same worker restarted would be
 * refused as "already connected".  So every KEEPALIVE_NS each lane gets
 * an 8-byte RDMA WRITE into the worker's spare control word: the worker's
 * NIC answers it without the worker, and over a dead link RC gives up
 * after its retries (or the QP is flushed), which marks the lane down
 * for reap_lanes.  Unsignaled: only a failure completes.
 */
static void keepalive(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;
	uint64_t now = rps_now_ns();

	if (now < e->next_keepalive_ns)
		return;
	e->next_keepalive_ns = now + KEEPALIVE_NS;
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *s = &srv->slots[m];
		ps_lane_t *lane = &s->lanes[e->index];
		int ret;

		if (atomic_load_explicit(&lane->state, memory_order_acquire) != LANE_UP)
			continue;
		ret = rps_post_write(lane->conn, lane->notify_src, sizeof(uint64_t), s->notify_mr,
				     s->doorbell_addr + KEEPALIVE_OFFSET, s->doorbell_key, 0,
				     RPS_POST_UNSIGNALED);
		if (ret && ret != -EAGAIN && ret != -ENOTCONN)
			rps_dbg("server: worker %u lane %u: keepalive: %s", m, e->index,
				rps_strerror(ret));
	}
}

/* Between two completions no chunk is half-applied: wait here while a
 * checkpoint copies the model.  Completions queue up in the CQ meanwhile
 * (RDMA WRITEs keep landing in the gradient slots; nothing is lost). */
static void park(struct rps_server *srv)
{
	atomic_fetch_add(&srv->parked, 1);
	while (atomic_load(&srv->pause) && !atomic_load(&srv->stop))
		sched_yield();
	atomic_fetch_sub(&srv->parked, 1);
}

void ps_engines_pause(struct rps_server *srv)
{
	uint32_t running = 0;

	for (uint32_t t = 0; t < srv->threads; t++)
		running += srv->engines[t].started;
	atomic_store(&srv->pause, true);
	/* engines leaving on stop never park: do not wait for them */
	while (atomic_load(&srv->parked) < running && !atomic_load(&srv->stop))
		sched_yield();
}

void ps_engines_resume(struct rps_server *srv)
{
	atomic_store(&srv->pause, false);
}

void *ps_engine_main(void *arg)
{
	ps_engine_t *e = arg;
	rps_completion_t comps[POLL_BATCH];
	unsigned spins = 0, idle = 0;

	/* on the core placement chose for thread e->index (no-op with
	 * no_pin); a refusal is logged and the thread runs unpinned */
	rps_topo_place_bind(e->srv->topo, &e->srv->place, e->index);

	while (!atomic_load_explicit(&e->srv->stop, memory_order_relaxed)) {
		int n;

		if (rps_unlikely(atomic_load_explicit(&e->srv->pause, memory_order_relaxed)))
			park(e->srv);
		n = rps_cq_poll(e->cq, comps, POLL_BATCH);
		rps_idle_poll(&idle, n);
		if (rps_unlikely(!e->lanes && !n)) {
			/* no worker on this engine: nothing can arrive but a
			 * new lane, so look for one every millisecond instead
			 * of spinning a core (an idle rdma-ps costs nothing) */
			reap_lanes(e);
			if (!e->lanes)
				usleep(1000);
			continue;
		}

		for (int i = 0; i < n; i++)
			on_completion(e, &comps[i]);
		/* by loop count, busy or idle, so new lanes get adopted and
		 * dead ones reaped under full load too */
		if (++spins >= HOUSEKEEPING_EVERY) {
			spins = 0;
			keepalive(e);
			reap_lanes(e);
			release_held(e);
			if (e->srv->cfg.algo == RPS_ALGO_SSGD)
				ssgd_recheck(e);
		}
	}
	/* stopping: apply the chunk notices that already arrived (and
	 * notify their workers) until the CQ stays empty for a while */
	for (unsigned quiet = 0; quiet < DRAIN_QUIET_POLLS;) {
		int n = rps_cq_poll(e->cq, comps, POLL_BATCH);

		for (int i = 0; i < n; i++)
			on_completion(e, &comps[i]);
		quiet = n > 0 ? 0 : quiet + 1;
	}
	return NULL;
}
