/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checkpoint and resume of the server's state: the weights, the
 * optimizer's persistent arrays and the update and push counts.  A
 * running server is paused between two chunk applications only for the
 * in-memory copy; the file is written (atomically, by checkpoint.c) after
 * the engines go on.  An SSGD round may be half applied (chunk by chunk):
 * the rounds applied per chunk are kept, so after a resume the redone
 * round steps only the chunks it had not stepped.  What is not kept: the
 * gradients of an SSGD round in progress (workers redo the step), the
 * worker snapshots
 * B[m], which every (re)joining worker gets fresh from W, and DuDe-ASGD's
 * latest gradients: they belong to connected workers, and after a restart
 * no worker is connected (a worker that leaves takes its gradient out of
 * the running sum, so a resumed server starts with an empty one).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "optim/kernels.h"
#include "ps/checkpoint.h"
#include "ps/server.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

/* the optimizer array that outlives a step, if any: SSGD's state_a is
 * the round accumulator (transient), its momentum is state_b; DuDe's is
 * the sum of connected workers' gradients (none after a restart) */
static float *persistent_a(const struct rps_server *srv)
{
	return srv->ops->state_a_transient ? NULL : srv->state_a;
}

struct ckpt_copy {
	ps_ckpt_meta_t meta;
	ps_ckpt_section_t sec[5];
	uint32_t nsec;
	void *bufs[5];
};

static void *dup_bytes(struct ckpt_copy *cp, uint32_t id, const void *src, uint64_t bytes)
{
	void *p = malloc(bytes ? bytes : 1);

	if (!p)
		return NULL;
	if (src)
		memcpy(p, src, bytes);
	cp->bufs[cp->nsec] = p;
	cp->sec[cp->nsec++] = (ps_ckpt_section_t){ id, p, bytes };
	return p;
}

static void copy_free(struct ckpt_copy *cp)
{
	for (uint32_t i = 0; i < cp->nsec; i++)
		free(cp->bufs[i]);
}

static int copy_state(const struct rps_server *srv, struct ckpt_copy *cp)
{
	uint64_t bytes = srv->n * sizeof(float);
	uint64_t *pushes;

	if (!dup_bytes(cp, PS_CKPT_WEIGHTS, srv->w, bytes))
		return -ENOMEM;
	if (persistent_a(srv) && !dup_bytes(cp, PS_CKPT_STATE_A, srv->state_a, bytes))
		return -ENOMEM;
	if (srv->state_b && !dup_bytes(cp, PS_CKPT_STATE_B, srv->state_b, bytes))
		return -ENOMEM;
	pushes = dup_bytes(cp, PS_CKPT_PUSHES, NULL, srv->cfg.num_workers * sizeof(uint64_t));
	if (!pushes)
		return -ENOMEM;
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++)
		pushes[m] = atomic_load(&srv->slots[m].pushes);
	if (srv->cfg.algo == RPS_ALGO_SSGD &&
	    !dup_bytes(cp, PS_CKPT_SSGD_ROUNDS, srv->ssgd_chunk_round,
		       srv->num_chunks * sizeof(uint64_t)))
		return -ENOMEM;
	return 0;
}

RPS_EXPORT int rps_server_checkpoint(rps_server_t *srv, const char *path)
{
	const rps_hparams_t *hp = &srv->cfg.hp;
	struct ckpt_copy cp = { 0 };
	uint64_t t0 = rps_now_ns();
	int ret;

	if (!path)
		return -EINVAL;
	cp.meta = (ps_ckpt_meta_t){
		.algo = srv->cfg.algo,
		.num_workers = srv->cfg.num_workers,
		.num_params = srv->n,
		.shard_offset = srv->cfg.shard_offset,
		.chunk_bytes = srv->cfg.chunk_bytes,
		.threads = srv->threads,
		.wall_time = (uint64_t)time(NULL),
		.lr = hp->lr,
		.momentum = hp->momentum,
		.weight_decay = hp->weight_decay,
		.lambda = hp->lambda,
		.ms_decay = hp->ms_decay,
		.theta = hp->theta,
	};
	/* one checkpoint at a time: a second would let the engines go while
	 * the first still copies */
	pthread_mutex_lock(&srv->checkpoint_lock);
	ps_engines_pause(srv);
	cp.meta.version = atomic_load(&srv->version);
	ret = copy_state(srv, &cp);
	ps_engines_resume(srv);
	pthread_mutex_unlock(&srv->checkpoint_lock);
	if (!ret)
		ret = ps_ckpt_write(path, &cp.meta, cp.sec, cp.nsec);
	else
		rps_err("checkpoint %s: cannot copy the model: %s", path, rps_strerror(ret));
	if (!ret)
		rps_info("checkpoint %s: version %" PRIu64 " written in %.3f s", path,
			 cp.meta.version, (double)(rps_now_ns() - t0) / 1e9);
	copy_free(&cp);
	return ret;
}

/* ---- resume ------------------------------------------------------------ */

/* A section that must be there with exactly `bytes` bytes; NULL after a
 * logged error. */
static const ps_ckpt_section_t *need(const char *path, const ps_ckpt_section_t *sec, uint32_t n,
				     uint32_t id, uint64_t bytes, const char *what)
{
	const ps_ckpt_section_t *s = ps_ckpt_find(sec, n, id);

	if (!s)
		rps_err("checkpoint %s: no %s section", path, what);
	else if (s->bytes != bytes)
		rps_err("checkpoint %s: the %s section has %" PRIu64
			" bytes, the layout needs %" PRIu64,
			path, what, s->bytes, bytes);
	else
		return s;
	return NULL;
}

/* the checkpoint must describe this very layout */
static int check_meta(const struct rps_server *srv, const char *path, const ps_ckpt_meta_t *m)
{
	const rps_server_config_t *c = &srv->cfg;

	if (m->algo != (uint32_t)c->algo) {
		rps_err("checkpoint %s: written by algorithm %s, this server runs %s", path,
			rps_algo_name((rps_algo_t)m->algo) ? rps_algo_name((rps_algo_t)m->algo)
							   : "(unknown)",
			rps_algo_name(c->algo));
		return -EINVAL;
	}
	if (m->num_params != srv->n || m->shard_offset != c->shard_offset) {
		rps_err("checkpoint %s: holds %" PRIu64 " params from %" PRIu64 ", this server "
			"%" PRIu64 " from %" PRIu64,
			path, m->num_params, m->shard_offset, srv->n, c->shard_offset);
		return -EINVAL;
	}
	if (c->algo == RPS_ALGO_SSGD && m->chunk_bytes != c->chunk_bytes) {
		rps_err("checkpoint %s: ssgd rounds are kept per %u-byte chunk; start with --chunk "
			"%u",
			path, m->chunk_bytes, m->chunk_bytes);
		return -EINVAL;
	}
	if (m->num_workers != c->num_workers) {
		rps_err("checkpoint %s: written for %u workers, this server has %u", path,
			m->num_workers, c->num_workers);
		return -EINVAL;
	}
	return 0;
}

/* an optimizer array: loaded when both sides have it; a missing one
 * starts at zero (e.g. momentum switched on at resume) */
static void restore_array(const char *path, float *dst, const ps_ckpt_section_t *sec, uint32_t n,
			  uint32_t id, uint64_t bytes, const char *what)
{
	const ps_ckpt_section_t *s;

	if (!dst)
		return;
	s = ps_ckpt_find(sec, n, id);
	if (s && s->bytes == bytes) {
		memcpy(dst, s->data, bytes);
		return;
	}
	rps_warn("checkpoint %s: no %s in it: starting that state from zero", path, what);
	memset(dst, 0, bytes);
}

/* ssgd: chunks of the round in progress that were already stepped stay
 * stepped (round version + 1); the round ends when the others are */
static int restore_ssgd_rounds(struct rps_server *srv, const char *path, uint64_t version,
			       const ps_ckpt_section_t *sec, uint32_t nsec)
{
	const ps_ckpt_section_t *r = need(path, sec, nsec, PS_CKPT_SSGD_ROUNDS,
					  srv->num_chunks * sizeof(uint64_t), "ssgd rounds");
	const uint64_t *rounds;
	uint32_t done = 0;

	if (!r)
		return -EINVAL;
	rounds = r->data;
	for (uint32_t c = 0; c < srv->num_chunks; c++) {
		if (rounds[c] != version && rounds[c] != version + 1) {
			rps_err("checkpoint %s: chunk %u at ssgd round %" PRIu64
				", the server at %" PRIu64,
				path, c, rounds[c], version);
			return -EINVAL;
		}
		srv->ssgd_chunk_round[c] = rounds[c];
		done += rounds[c] > version;
	}
	atomic_store(&srv->ssgd_chunks_done, done);
	return 0;
}

static int restore(struct rps_server *srv, const char *path, const ps_ckpt_meta_t *meta,
		   const ps_ckpt_section_t *sec, uint32_t nsec)
{
	uint64_t bytes = srv->n * sizeof(float);
	const ps_ckpt_section_t *w, *pushes;
	const uint64_t *pv;
	int ret;

	if ((ret = check_meta(srv, path, meta)))
		return ret;
	if (!(w = need(path, sec, nsec, PS_CKPT_WEIGHTS, bytes, "weights")) ||
	    !(pushes = need(path, sec, nsec, PS_CKPT_PUSHES,
			    srv->cfg.num_workers * sizeof(uint64_t), "push counts")))
		return -EINVAL;
	if (!rps_optim_all_finite(w->data, srv->n)) {
		rps_err("checkpoint %s: the weights are not all finite", path);
		return -EINVAL;
	}
	memcpy(srv->w, w->data, bytes);
	restore_array(path, persistent_a(srv), sec, nsec, PS_CKPT_STATE_A, bytes,
		      "optimizer state");
	restore_array(path, srv->state_b, sec, nsec, PS_CKPT_STATE_B, bytes, "momentum");
	pv = pushes->data;
	atomic_store(&srv->version, meta->version);
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		ps_slot_t *s = &srv->slots[m];
		/* SSGD: everyone is at the last complete round */
		uint64_t p = srv->cfg.algo == RPS_ALGO_SSGD ? meta->version : pv[m];

		atomic_store(&s->pushes, p);
		s->pushes_restored = p; /* stats count this run's pushes */
		atomic_store(&s->pull_version, meta->version);
		for (uint32_t c = 0; c < srv->num_chunks; c++)
			ps_set_chunk_push(s, c, p);
		memcpy(s->snap, srv->w, bytes);
	}
	if (srv->cfg.algo == RPS_ALGO_SSGD)
		return restore_ssgd_rounds(srv, path, meta->version, sec, nsec);
	return 0;
}

int ps_checkpoint_restore(struct rps_server *srv, const char *path)
{
	ps_ckpt_meta_t meta;
	ps_ckpt_section_t *sec;
	uint32_t nsec;
	void *blob;
	int ret;

	if ((ret = ps_ckpt_read(path, &meta, &sec, &nsec, &blob)))
		return ret;
	ret = restore(srv, path, &meta, sec, nsec);
	if (!ret)
		rps_info("checkpoint %s: resumed at version %" PRIu64, path, meta.version);
	free(sec);
	free(blob);
	return ret;
}
