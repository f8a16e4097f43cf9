/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Server memory layout (DESIGN.md "Server memory"): W, and per worker the
 * gradient landing zone G[m] (double-buffered) and the snapshot B[m], each
 * worker region in its own MR, plus the optimizer state.  W and the state
 * are never registered.  Each worker's MRs live in a protection domain of
 * the worker's own, which its connections are accepted into: separate MRs
 * alone would not do, since with one PD a worker that learns another's
 * key and address could use them (rps_pd_isolated() says whether the
 * provider enforces this; ofi does not).  Everything 64-byte (in fact
 * page) aligned.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ps/server.h"
#include "util/log.h"

/* Page-aligned (registration pins whole pages anyway, and 64-byte
 * alignment of every chunk start follows from it), on the NIC's NUMA node
 * when the placement has one. */
float *ps_alloc_floats(struct rps_server *srv, uint64_t n)
{
	void *p = NULL;

	if (rps_topo_alloc(srv->topo, n ? n * sizeof(float) : 4096, srv->place.numa, &p))
		return NULL;
	return p;
}

void ps_free_floats(struct rps_server *srv, float *p, uint64_t n)
{
	if (p)
		rps_topo_free(srv->topo, p, n ? n * sizeof(float) : 4096);
}

/* Floats of optimizer state the algorithm needs per parameter: its own
 * arrays (ms, S, acc), plus v with momentum where it uses one. */
static unsigned state_arrays(const struct rps_server *srv)
{
	return srv->ops->state_arrays + (srv->ops->momentum && srv->cfg.hp.momentum != 0.0f);
}

static uint64_t layout_bytes(const struct rps_server *srv)
{
	/* W + M x (2 n of G + n of B) + state */
	return (uint64_t)sizeof(float) * srv->n *
	       (1 + 3ull * srv->cfg.num_workers + state_arrays(srv));
}

static int check_fits(struct rps_server *srv)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;

	srv->footprint = layout_bytes(srv);
	rps_info("layout: %" PRIu64 " params, %u workers, %s: %.1f MiB "
		 "(W + %u x (2 G + B) + state)",
		 srv->n, srv->cfg.num_workers, rps_algo_name(srv->cfg.algo),
		 (double)srv->footprint / (1 << 20), srv->cfg.num_workers);
	/* leave a quarter of the machine to everything else */
	if (ram && srv->footprint > ram / 4 * 3) {
		rps_err("layout needs %.1f GiB but this machine has %.1f GiB: use "
			"fewer workers per server, or more shards on more processes",
			(double)srv->footprint / (1 << 30), (double)ram / (1 << 30));
		return -ENOMEM;
	}
	return 0;
}

/* G[m], B[m] and m's notification sources, in a PD of m's own. */
static int slot_register(struct rps_server *srv, ps_slot_t *s)
{
	uint64_t n = srv->n;
	int ret;

	ret = rps_pd_alloc(srv->tp, &s->pd);
	if (ret) {
		rps_err("layout: worker %u: protection domain: %s", s->id, rps_strerror(ret));
		return ret;
	}
	ret = rps_mr_reg(s->pd, s->grad, 2 * n * sizeof(float),
			 RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE, &s->grad_mr);
	if (ret)
		return ret;
	ret = rps_mr_reg(s->pd, s->snap, n * sizeof(float), RPS_ACCESS_REMOTE_READ, &s->snap_mr);
	if (ret)
		return ret;
	/* the source of the WRITE_WITH_IMMs the engines post on m's lanes:
	 * a QP uses only local keys of its own PD, hence a registration per
	 * worker (slices of one array may share a page; verbs allows that) */
	return rps_mr_reg(s->pd, s->lanes[0].notify_src, srv->threads * sizeof(uint64_t),
			  RPS_ACCESS_LOCAL_WRITE, &s->notify_mr);
}

static int slot_create(struct rps_server *srv, ps_slot_t *s, uint32_t id)
{
	uint64_t n = srv->n;

	s->id = id;
	s->grad = ps_alloc_floats(srv, 2 * n);
	s->snap = ps_alloc_floats(srv, n);
	s->chunk_push = calloc(srv->num_chunks, sizeof(*s->chunk_push));
	s->chunk_parity = malloc(srv->num_chunks);
	s->lanes = calloc(srv->threads, sizeof(*s->lanes));
	if (!s->grad || !s->snap || !s->chunk_push || !s->chunk_parity || !s->lanes)
		return -ENOMEM;
	memset(s->grad, 0, 2 * n * sizeof(float));
	/* w_bak(m) starts at the initial weights, not zero (PAPERS.md) */
	memcpy(s->snap, srv->w, n * sizeof(float));
	memset(s->chunk_parity, -1, srv->num_chunks);
	for (uint32_t t = 0; t < srv->threads; t++)
		s->lanes[t].notify_src = &srv->notify_buf[(uint64_t)id * srv->threads + t];

	return slot_register(srv, s);
}

/* Teardown order: the slot's connections are closed already (lanes are
 * reaped or closed by rps_server_destroy before the layout goes), then
 * the MRs, then the PD they were in. */
static void slot_destroy(struct rps_server *srv, ps_slot_t *s)
{
	rps_mr_dereg(s->notify_mr);
	rps_mr_dereg(s->snap_mr);
	rps_mr_dereg(s->grad_mr);
	rps_pd_free(s->pd);
	s->notify_mr = s->snap_mr = s->grad_mr = NULL;
	s->pd = NULL;
	free(s->lanes);
	free(s->chunk_parity);
	free(s->chunk_push);
	ps_free_floats(srv, s->snap, srv->n);
	ps_free_floats(srv, s->grad, 2 * srv->n);
}

static int state_create(struct rps_server *srv)
{
	unsigned k = state_arrays(srv);
	uint64_t n = srv->n;

	if (k >= 1) {
		if (!(srv->state_a = ps_alloc_floats(srv, n)))
			return -ENOMEM;
		/* ms, S, v and acc all start at zero */
		memset(srv->state_a, 0, n * sizeof(float));
	}
	if (k >= 2) {
		if (!(srv->state_b = ps_alloc_floats(srv, n)))
			return -ENOMEM;
		memset(srv->state_b, 0, n * sizeof(float));
	}
	/* the algorithm's per-chunk bookkeeping (ssgd's rounds, dude's sum) */
	return srv->ops->create ? srv->ops->create(srv) : 0;
}

int ps_layout_create(struct rps_server *srv)
{
	const rps_server_config_t *cfg = &srv->cfg;
	uint64_t nnotify = (uint64_t)cfg->num_workers * srv->threads;
	int ret;

	if ((ret = check_fits(srv)))
		return ret;
	srv->w = ps_alloc_floats(srv, srv->n);
	srv->notify_buf = calloc(nnotify, sizeof(uint64_t));
	srv->slots = calloc(cfg->num_workers, sizeof(*srv->slots));
	if (!srv->w || !srv->notify_buf || !srv->slots)
		goto err_nomem;
	if (cfg->init_weights)
		memcpy(srv->w, cfg->init_weights, srv->n * sizeof(float));
	else
		memset(srv->w, 0, srv->n * sizeof(float));
	if ((ret = state_create(srv)))
		goto err;
	for (uint32_t m = 0; m < cfg->num_workers; m++)
		if ((ret = slot_create(srv, &srv->slots[m], m)))
			goto err;
	return 0;

err_nomem:
	ret = -ENOMEM;
	rps_err("layout: out of memory allocating %.1f MiB", (double)srv->footprint / (1 << 20));
err:
	ps_layout_destroy(srv);
	return ret;
}

void ps_layout_destroy(struct rps_server *srv)
{
	if (srv->slots)
		for (uint32_t m = 0; m < srv->cfg.num_workers; m++)
			slot_destroy(srv, &srv->slots[m]);
	free(srv->slots);
	srv->slots = NULL;
	free(srv->notify_buf);
	free(srv->apply_log);
	if (srv->ops->destroy)
		srv->ops->destroy(srv);
	ps_free_floats(srv, srv->state_b, srv->n);
	ps_free_floats(srv, srv->state_a, srv->n);
	ps_free_floats(srv, srv->w, srv->n);
	srv->notify_buf = NULL;
	srv->apply_log = NULL;
	srv->state_a = srv->state_b = srv->w = NULL;
}
