/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Engine threads: busy-poll a CQ, hand each announced chunk to the
 * algorithm (srv->ops->on_chunk), and, for the asynchronous algorithms,
 * notify a worker when its whole push is applied.  The data path
 * allocates nothing, takes no lock and makes no syscall beyond post/poll:
 * chunk ownership (c % T) serializes updates of a chunk.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <unistd.h>

#include "ps/server.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/le.h"
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

static void log_apply(struct rps_server *srv, uint32_t c, uint32_t m, uint64_t push)
{
	uint64_t i;

	if (!srv->apply_log)
		return;
	i = atomic_fetch_add(&srv->apply_log_n, 1);
	if (i < srv->apply_log_len)
		srv->apply_log[i] = (rps_apply_record_t){ c, m, push };
}

/* ---- notification ------------------------------------------------------ */

/* The WRITE_WITH_IMM of lane's notify word into worker s's doorbell, up
 * to tries times while the send queue is full, letting rps_cq_progress
 * retire finished sends in between (it keeps every completion for our
 * next poll and leaves the batch we are working through alone).  0 or
 * the last error, -EAGAIN when the queue stayed full. */
static int post_doorbell(ps_engine_t *e, ps_slot_t *s, ps_lane_t *lane, uint32_t imm, int tries)
{
	int ret = -EAGAIN;

	for (int i = 0; i < tries; i++) {
		ret = rps_post_write_imm(lane->conn, lane->notify_src, sizeof(uint64_t),
					 s->notify_mr, s->doorbell_addr, s->doorbell_key, imm, 0,
					 0);
		if (ret != -EAGAIN)
			break;
		rps_cq_progress(e->cq);
	}
	return ret;
}

void ps_notify(ps_engine_t *e, ps_slot_t *s, bool rejected)
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
	 * for it before pushing again), but unsignaled keepalives share the
	 * send queue: a full one is retried; still full after 1000 tries,
	 * the lane is wedged: give up and let the worker's timeout report it */
	ret = post_doorbell(e, s, lane, imm, 1000);
	if (ret)
		rps_warn("server: notify worker %u: %s", s->id, rps_strerror(ret));
}

/* Tells worker m that chunk c of its push is applied, so that it may
 * read that part of B[m] while the rest of the push is still applied
 * (rps_step(3)).  Best effort: a notice that finds the send queue full
 * after a few retries is dropped, and the worker reads that chunk after
 * the push's notification instead.  Signaled, as the notification is:
 * a lane's send queue is retired by its own completions.  Workers over
 * shm do not ask for notices (send_options in worker.c). */
static void ps_chunk_notice(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity,
			    uint64_t push)
{
	ps_lane_t *lane = &s->lanes[e->index];
	uint32_t imm = rps_imm_encode(RPS_IMM_CONTROL, parity, rps_ctl_chunk(push, c));
	int ret;

	if (c >= RPS_CTL_CHUNK_MAX ||
	    atomic_load_explicit(&lane->state, memory_order_acquire) != LANE_UP)
		return;
	ret = post_doorbell(e, s, lane, imm, 4);
	if (ret && ret != -EAGAIN)
		rps_dbg("server: chunk notice to worker %u: %s", s->id, rps_strerror(ret));
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
				ps_notify(e, s, atomic_load(&s->last_bad));
		}
	}
}

static void push_complete(ps_engine_t *e, ps_slot_t *s)
{
	struct rps_server *srv = e->srv;
	uint64_t tau = ps_tau(srv, s);
	bool bad = atomic_load(&s->chunks_bad) != 0;

	ps_stat_add(&e->stats[s->id].tau_sum, tau);
	ps_stat_max(&e->stats[s->id].tau_max, tau);
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
		ps_notify(e, s, bad);
	}
	release_held(e);
}

/* ---- the asynchronous algorithms' pushes ---------------------------------
 * Each chunk is applied as it lands (ops->apply); the push is complete,
 * and its worker notified, when the last of its chunks is in, whichever
 * engine thread applies it. */

void ps_async_chunk(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity, uint64_t push)
{
	struct rps_server *srv = e->srv;
	ps_stats_t *st = &e->stats[s->id];
	/* two vDSO clock reads a chunk (tens of ns against the tens of us a
	 * 256K chunk takes): what rps_pushpull_bench reports as the apply */
	uint64_t t0 = rps_now_ns();
	int ret = srv->ops->apply(e, s, c, parity);

	ps_stat_add(&st->apply_ns, rps_now_ns() - t0);
	if (ret == 0) {
		ps_stat_add(&st->chunks, 1);
	} else {
		atomic_fetch_add(&s->chunks_bad, 1);
		if (ps_stat_add(&st->rejected, 1) < 8)
			rps_warn("server: worker %u: chunk %u of push %" PRIu64
				 " has NaN/Inf: not applied",
				 s->id, c, push);
	}
	if (atomic_fetch_add(&s->chunks_done, 1) + 1 == srv->num_chunks) {
		atomic_store(&s->chunks_done, 0);
		push_complete(e, s);
		atomic_store(&s->chunks_bad, 0);
	} else if (atomic_load_explicit(&s->chunk_notices, memory_order_relaxed)) {
		/* the last chunk's notice is the push's own notification */
		ps_chunk_notice(e, s, c, parity, push);
	}
}

void ps_async_join(struct rps_server *srv, ps_slot_t *s)
{
	uint64_t pushes = atomic_load(&s->pushes);

	/* a push the previous incarnation left half-applied is abandoned:
	 * its applied chunks stay (the model remains finite), the rest never
	 * comes, and the new incarnation starts at the next push number */
	if (atomic_load(&s->chunks_done) != 0) {
		pushes++;
		atomic_store(&s->pushes, pushes);
		rps_info("server: worker %u rejoins; its unfinished push is dropped", s->id);
	}
	for (uint32_t c = 0; c < srv->num_chunks; c++)
		ps_set_chunk_push(s, c, pushes);
	atomic_store(&s->chunks_done, 0);
	atomic_store(&s->chunks_bad, 0);
	atomic_store(&s->held, false);
	atomic_store(&s->pull_version, atomic_load(&srv->version));
	/* a new incarnation asks again (its OPTIONS) */
	atomic_store(&s->chunk_notices, false);
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
		if (ps_stat_add(&e->stats[s->id].proto, 1) < 8)
			rps_warn("server: worker %u: unexpected chunk notice (chunk %u, "
				 "parity %u, push %" PRIu64 "): dropped",
				 s->id, c, parity, push);
		return;
	}
	ps_set_chunk_push(s, c, push + 1);
	log_apply(srv, c, s->id, push);
	srv->ops->on_chunk(e, s, c, parity, push);
}

/* A SEND from worker m: its OPTIONS; anything else (its BYE) is only
 * logged.  Bad OPTIONS change nothing: m simply gets no chunk notices. */
static void on_message(ps_slot_t *s, const rps_completion_t *c)
{
	rps_options_t o;
	const char *why;

	if (c->len < 4 || !c->data || get_u32(&(rcur_t){ c->data }) != RPS_OPTIONS_MAGIC) {
		rps_dbg("server: worker %u: control message of %u bytes", s->id, c->len);
		return;
	}
	if (rps_options_parse(c->data, c->len, &o, &why)) {
		rps_warn("server: worker %u: OPTIONS ignored: %s", s->id, why);
		return;
	}
	atomic_store(&s->chunk_notices, (o.flags & RPS_OPT_CHUNK_NOTICES) != 0);
	rps_dbg("server: worker %u: chunk notices %s", s->id,
		o.flags & RPS_OPT_CHUNK_NOTICES ? "on" : "off");
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
		on_message(s, c);
	else if (c->type == RPS_COMP_REMOTE_WRITE_IMM && ps_stat_add(&e->stats[s->id].proto, 1) < 8)
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
		if (srv->ops->on_worker_left)
			srv->ops->on_worker_left(e, s);
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
			if (e->srv->ops->housekeeping)
				e->srv->ops->housekeeping(e);
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
