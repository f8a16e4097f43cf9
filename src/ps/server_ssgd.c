/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SSGD: sum the gradients of a round, apply once, notify all.
 *
 * A round's chunk c is applied when every expected worker has delivered
 * it (see ssgd_chunk_ready): a worker that leaves does not block the
 * others (what it delivered stays in the average), and one that rejoins
 * takes part from the round in progress.  The round ends when all chunks
 * are applied; the engine thread that applies the last one notifies
 * every worker.  Per chunk, the arrival counts belong to the chunk's
 * engine thread (c % T), like the chunk itself.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "optim/kernels.h"
#include "ps/server.h"
#include "util/clock.h"

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
			ps_stat_add(&e->stats[m].rounds, 1);
		atomic_store(&o->pull_version, version);
		ps_notify(e, o, atomic_exchange(&o->chunks_bad, 0) != 0);
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
		rps_sgd_params_t p = { ps_lr_now(srv) / a, hp->momentum, hp->weight_decay * a };

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

/* on_chunk: sums the chunk into the round's accumulator, and applies the
 * round's chunk when nobody else owes it */
static void ssgd_chunk(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity, uint64_t round)
{
	struct rps_server *srv = e->srv;
	uint64_t off = ps_chunk_start(srv, c), len = ps_chunk_len(srv, c);
	const float *g = ps_grad_chunk(srv, s, parity, off);
	ps_stats_t *st = &e->stats[s->id];
	uint64_t t0;
	int ret;

	/* a worker that joined mid-round can be too late for a chunk the
	 * round already applied: that piece of its gradient is dropped, so
	 * it never leaks into the next round's average */
	if (srv->ssgd_chunk_round[c] > round)
		return;

	t0 = rps_now_ns();
	ret = rps_optim_accumulate(srv->state_a + off, g, len, srv->ssgd_accepted[c] == 0);
	/* the sum into the round is this worker's; the round's step is
	 * everyone's and is not counted */
	ps_stat_add(&st->apply_ns, rps_now_ns() - t0);
	if (ret == 0) {
		srv->ssgd_accepted[c]++;
		ps_stat_add(&st->chunks, 1);
	} else {
		ps_stat_add(&st->rejected, 1);
		atomic_fetch_add(&s->chunks_bad, 1);
	}
	srv->ssgd_arrived[c]++;
	atomic_store_explicit(&s->delivered, true, memory_order_relaxed);
	if (ssgd_chunk_ready(srv, c))
		ssgd_apply_chunk(e, c);
}

/* housekeeping: re-checks the pending chunks e owns (a worker left, or
 * the round timed out) */
static void ssgd_recheck(ps_engine_t *e)
{
	struct rps_server *srv = e->srv;

	for (uint32_t c = e->index; c < srv->num_chunks; c += srv->threads)
		if (srv->ssgd_arrived[c] && ssgd_chunk_ready(srv, c))
			ssgd_apply_chunk(e, c);
}

/* on_join: rounds are global, the rejoiner is in the current round, and
 * the chunks it already delivered to it stay delivered (a second copy is
 * dropped), so nothing counts twice */
static void ssgd_join(struct rps_server *srv, ps_slot_t *s)
{
	uint64_t pushes = atomic_load(&s->pushes);

	for (uint32_t c = 0; c < srv->num_chunks; c++)
		if (ps_chunk_push(s, c) < pushes)
			ps_set_chunk_push(s, c, pushes);
	atomic_store(&s->chunks_bad, 0);
	atomic_store(&s->pull_version, atomic_load(&srv->version));
}

static void ssgd_destroy(struct rps_server *srv)
{
	free(srv->ssgd_chunk_round);
	free(srv->ssgd_accepted);
	free(srv->ssgd_arrived);
	srv->ssgd_accepted = srv->ssgd_arrived = NULL;
	srv->ssgd_chunk_round = NULL;
}

static int ssgd_create(struct rps_server *srv)
{
	srv->ssgd_arrived = calloc(srv->num_chunks, sizeof(uint32_t));
	srv->ssgd_accepted = calloc(srv->num_chunks, sizeof(uint32_t));
	srv->ssgd_chunk_round = calloc(srv->num_chunks, sizeof(uint64_t));
	if (!srv->ssgd_arrived || !srv->ssgd_accepted || !srv->ssgd_chunk_round)
		return -ENOMEM;
	return 0;
}

const ps_algo_ops_t ps_ssgd_ops = {
	.state_arrays = 1, /* acc */
	.momentum = true,  /* v in state_b */
	.state_a_transient = true,
	.rounds = true,
	.create = ssgd_create,
	.destroy = ssgd_destroy,
	.on_chunk = ssgd_chunk,
	.on_join = ssgd_join,
	.housekeeping = ssgd_recheck,
};
