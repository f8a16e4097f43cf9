/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The asynchronous algorithms: each one's update of a chunk, and the
 * table (ps_algo_ops_t) that rps_server_create picks by algorithm, so the
 * engine never switches on the algorithm per chunk.  They share the push
 * bookkeeping of server_engine.c (ps_async_chunk, ps_async_join); DuDe
 * adds the running sum of every worker's latest gradient.  SSGD's rounds
 * are in server_ssgd.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "optim/kernels.h"
#include "ps/server.h"

/* ---- one kernel call per chunk ------------------------------------------ */

/* Chunk c of the arrays a kernel works on: the weights w, worker m's
 * snapshot b (what m reads next, written in the same pass) and its
 * gradient g in half parity. */
struct chunk {
	uint64_t off, len;
	float *w, *b;
	const float *g;
};

static struct chunk chunk_of(const struct rps_server *srv, const ps_slot_t *s, uint32_t c,
			     unsigned parity)
{
	uint64_t off = ps_chunk_start(srv, c);

	return (struct chunk){ off, ps_chunk_len(srv, c), srv->w + off, s->snap + off,
			       ps_grad_chunk(srv, s, parity, off) };
}

/* sgd and asgd (sgd is asgd with one worker); momentum v in state_a */
static int apply_sgd(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity)
{
	struct rps_server *srv = e->srv;
	const rps_hparams_t *hp = &srv->cfg.hp;
	const rps_sgd_params_t p = { ps_lr_now(srv), hp->momentum, hp->weight_decay };
	struct chunk k = chunk_of(srv, s, c, parity);
	float *v = srv->state_a ? srv->state_a + k.off : NULL;

	return rps_optim_sgd(k.w, v, k.b, k.g, k.len, &p, e->undo);
}

static int apply_dcasgd_c(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity)
{
	struct rps_server *srv = e->srv;
	const rps_dcasgd_params_t p = { ps_lr_now(srv), srv->cfg.hp.lambda };
	struct chunk k = chunk_of(srv, s, c, parity);

	return rps_optim_dcasgd(k.w, k.b, k.g, k.len, &p, e->undo);
}

/* the mean square of gradients ms in state_a */
static int apply_dcasgd_a(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity)
{
	struct rps_server *srv = e->srv;
	const rps_hparams_t *hp = &srv->cfg.hp;
	const rps_dcasgd_a_params_t p = { ps_lr_now(srv), hp->lambda, hp->ms_decay, hp->eps };
	struct chunk k = chunk_of(srv, s, c, parity);

	return rps_optim_dcasgd_a(k.w, k.b, srv->state_a + k.off, k.g, k.len, &p, e->undo);
}

static int apply_pcasgd(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity)
{
	struct rps_server *srv = e->srv;
	const rps_hparams_t *hp = &srv->cfg.hp;
	/* clipping bound: the SSP bound when set, else M (a delay of more
	 * than one round of every worker is "outdated") */
	uint64_t bound = srv->cfg.max_staleness ? srv->cfg.max_staleness : srv->cfg.num_workers;
	const rps_pcasgd_params_t p = { ps_lr_now(srv), hp->lambda, hp->theta,
					ps_tau(srv, s) <= bound };
	struct chunk k = chunk_of(srv, s, c, parity);

	return rps_optim_pcasgd(k.w, k.b, k.g, k.len, &p, e->undo);
}

/* ---- DuDe-ASGD: S (state_a) sums every worker's latest gradient --------- */

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

static int apply_dude(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity)
{
	struct rps_server *srv = e->srv;
	uint64_t off = ps_chunk_start(srv, c), len = ps_chunk_len(srv, c);
	int8_t prev = s->chunk_parity[c];
	/* the average over the workers whose gradient is in S, this one
	 * included (the paper's 1/M while all M train) */
	const rps_dude_params_t p = { ps_lr_now(srv),
				      1.0f / (float)(srv->dude_active[c] + (prev < 0)) };
	const float *g_new = ps_grad_chunk(srv, s, parity, off);
	const float *g_old = prev >= 0 ? ps_grad_chunk(srv, s, (unsigned)prev, off) : NULL;
	int ret;

	/* prev is never this push's parity: pushes alternate halves, and a
	 * worker that left had its gradient taken out (dude_forget, prev =
	 * -1) before it could rejoin */
	ret = rps_optim_dude(srv->w + off, srv->state_a + off, s->snap + off, g_new, g_old, len, &p,
			     e->undo);
	if (ret)
		return ret;
	srv->dude_active[c] += prev < 0;
	s->chunk_parity[c] = (int8_t)parity;
	/* bound the float drift of S += g_new - g_old */
	if (++srv->dude_since_refresh[c] >= srv->cfg.hp.dude_refresh)
		dude_refresh(srv, c, off, len);
	return 0;
}

/* Worker s left, so its last gradient leaves the running sum of e's
 * chunks (S rebuilt exactly from the others).  Kept, a finished worker's
 * frozen gradient would be applied again at every later push of the
 * others and drag the model away. */
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

static void dude_destroy(struct rps_server *srv)
{
	free(srv->dude_since_refresh);
	free(srv->dude_active);
	srv->dude_since_refresh = NULL;
	srv->dude_active = NULL;
}

static int dude_create(struct rps_server *srv)
{
	srv->dude_since_refresh = calloc(srv->num_chunks, sizeof(uint32_t));
	srv->dude_active = calloc(srv->num_chunks, sizeof(uint32_t));
	return srv->dude_since_refresh && srv->dude_active ? 0 : -ENOMEM;
}

/* ---- the tables ---------------------------------------------------------- */

static const ps_algo_ops_t sgd_ops = {
	.momentum = true,
	.on_chunk = ps_async_chunk,
	.apply = apply_sgd,
	.on_join = ps_async_join,
};

static const ps_algo_ops_t dcasgd_c_ops = {
	.on_chunk = ps_async_chunk,
	.apply = apply_dcasgd_c,
	.on_join = ps_async_join,
};

static const ps_algo_ops_t dcasgd_a_ops = {
	.state_arrays = 1, /* ms */
	.on_chunk = ps_async_chunk,
	.apply = apply_dcasgd_a,
	.on_join = ps_async_join,
};

static const ps_algo_ops_t pcasgd_ops = {
	.on_chunk = ps_async_chunk,
	.apply = apply_pcasgd,
	.on_join = ps_async_join,
};

static const ps_algo_ops_t dude_ops = {
	.state_arrays = 1, /* S */
	.state_a_transient = true,
	.create = dude_create,
	.destroy = dude_destroy,
	.on_chunk = ps_async_chunk,
	.apply = apply_dude,
	.on_join = ps_async_join,
	.on_worker_left = dude_forget,
};

/* sgd is asgd with one worker; ssgd's table is in server_ssgd.c.  One
 * entry a line, as wire.c's algo_names (clang-format would pack them). */
/* clang-format off */
static const ps_algo_ops_t *const algo_ops[RPS_ALGO_MAX_] = {
	[RPS_ALGO_SGD] = &sgd_ops,
	[RPS_ALGO_ASGD] = &sgd_ops,
	[RPS_ALGO_SSGD] = &ps_ssgd_ops,
	[RPS_ALGO_DCASGD_C] = &dcasgd_c_ops,
	[RPS_ALGO_DCASGD_A] = &dcasgd_a_ops,
	[RPS_ALGO_PCASGD] = &pcasgd_ops,
	[RPS_ALGO_DUDE] = &dude_ops,
};
/* clang-format on */

const ps_algo_ops_t *ps_algo_ops(rps_algo_t algo)
{
	if (algo <= 0 || algo >= RPS_ALGO_MAX_)
		return NULL;
	return algo_ops[algo];
}
