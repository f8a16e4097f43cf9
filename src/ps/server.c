/* SPDX-License-Identifier: BSD-2-Clause */
/* Parameter server: configuration, lifecycle and counters. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim/kernels.h"
#include "proto/auth.h"
#include "ps/server.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/ext_struct.h"
#include "util/log.h"

#define DEFAULT_CHUNK_BYTES  (256u << 10)
#define DEFAULT_DUDE_REFRESH 1024
#define ENGINE_CQ_DEPTH_MIN  1024

RPS_EXPORT float rps_hparams_lr_at(const rps_hparams_t *hp, uint64_t version)
{
	if (!hp->lr_decay_every)
		return hp->lr;
	return hp->lr * powf(hp->lr_decay, (float)(version / hp->lr_decay_every));
}

RPS_EXPORT void rps_hparams_default(rps_algo_t algo, rps_hparams_t *hp)
{
	memset(hp, 0, sizeof(*hp));
	hp->lr = 0.1f;
	hp->lr_decay = 1.0f;
	hp->ms_decay = 0.95f;
	hp->eps = 1e-7f;
	hp->theta = 0.5f;
	hp->dude_refresh = DEFAULT_DUDE_REFRESH;
	/* lambda = 0.04 for DC-ASGD-c (MXNet's default), lambda0 = 2 for
	 * DC-ASGD-a (the authors' experiments), as PAPERS.md records */
	hp->lambda = algo == RPS_ALGO_DCASGD_A ? 2.0f : 0.04f;
}

static void config_defaults(rps_server_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->algo = RPS_ALGO_DCASGD_A;
	rps_hparams_default(cfg->algo, &cfg->hp);
	cfg->chunk_bytes = DEFAULT_CHUNK_BYTES;
	cfg->threads = 1;
	cfg->numa_node = -1;
}

RPS_EXPORT void rps_server_config_init_size(rps_server_config_t *cfg, size_t size)
{
	rps_server_config_t full;

	config_defaults(&full);
	rps_ext_struct_out(cfg, size, &full, sizeof(full));
}

/* The caller's configuration over the defaults, whatever its size. */
int ps_config_in(rps_server_config_t *dst, const rps_server_config_t *cfg)
{
	int ret;

	config_defaults(dst);
	ret = rps_ext_struct_in(
		dst, sizeof(*dst), cfg, RPS_EXT_END(rps_server_config_t, resume_path),
		RPS_EXT_END(rps_server_config_t, num_params), "rps_server_config_t");
	if (ret)
		return ret;
	for (size_t i = 0; i < sizeof(dst->hp.reserved) / sizeof(dst->hp.reserved[0]); i++) {
		if (dst->hp.reserved[i]) {
			rps_err("server config: hyper-parameter slot reserved[%zu] is set, which "
				"this "
				"librdmaps does not know: built against a newer librdmaps?",
				i);
			return -E2BIG;
		}
	}
	return 0;
}

/* One reason per refusal, naming the field. */
static const char *config_problem(const rps_server_config_t *c)
{
	const rps_hparams_t *hp = &c->hp;

	if (!rps_algo_name(c->algo) || !ps_algo_ops(c->algo))
		return "unknown algorithm";
	if (!c->num_workers || c->num_workers > RPS_MAX_WORKERS)
		return "num_workers must be 1..4096";
	if (c->algo == RPS_ALGO_SGD && c->num_workers != 1)
		return "sgd is sequential: num_workers must be 1 (use asgd for several)";
	if (!c->num_params || c->num_params > RPS_MAX_PARAMS)
		return "num_params must be 1..2^36";
	if (c->auth_token && (!c->auth_token_len || c->auth_token_len > RPS_AUTH_MAX_TOKEN))
		return "auth_token_len must be 1..4096";
	if (c->shard_offset > RPS_MAX_PARAMS * 64)
		return "shard_offset must be at most 2^42";
	if (c->chunk_bytes < RPS_MIN_CHUNK_BYTES || c->chunk_bytes > RPS_MAX_CHUNK_BYTES ||
	    c->chunk_bytes % 64)
		return "chunk_bytes must be 4 KiB..64 MiB and a multiple of 64";
	if (!c->threads || c->threads > RPS_MAX_LANES)
		return "threads must be 1..256";
	if (!isfinite(hp->lr) || hp->lr <= 0)
		return "lr must be finite and > 0";
	if (!isfinite(hp->momentum) || hp->momentum < 0 || hp->momentum >= 1)
		return "momentum must be in [0,1)";
	if (!isfinite(hp->weight_decay) || hp->weight_decay < 0)
		return "weight_decay must be >= 0";
	if (!isfinite(hp->lambda) || hp->lambda < 0)
		return "lambda must be finite and >= 0";
	if (!(hp->ms_decay >= 0 && hp->ms_decay < 1))
		return "ms_decay must be in [0,1)";
	if (!(hp->eps > 0) || !isfinite(hp->eps))
		return "eps must be > 0";
	if (!(hp->theta >= 0 && hp->theta <= 1))
		return "theta must be in [0,1]";
	if (hp->lr_decay_every && !(hp->lr_decay > 0 && hp->lr_decay <= 1))
		return "lr_decay must be in (0,1]";
	return NULL;
}

/* One engine thread's statistics of M workers, zeroed, on cache lines of
 * their own: no other thread's writes share them. */
static ps_stats_t *stats_alloc(uint32_t M)
{
	size_t bytes = ((size_t)M * sizeof(ps_stats_t) + 63) & ~(size_t)63;
	ps_stats_t *st = aligned_alloc(64, bytes);

	if (st)
		memset(st, 0, bytes);
	return st;
}

RPS_EXPORT int rps_server_create(const rps_server_config_t *cfg, rps_server_t **srv_p)
{
	rps_server_t *srv;
	const char *why;
	int ret;

	rps_server_config_t norm;

	if (!cfg || !srv_p)
		return -EINVAL;
	/* the caller's struct may be smaller or larger than ours */
	if ((ret = ps_config_in(&norm, cfg)))
		return ret;
	/* 0 means "the default" where ps.h says so */
	if (!norm.chunk_bytes)
		norm.chunk_bytes = DEFAULT_CHUNK_BYTES;
	if (!norm.threads)
		norm.threads = 1;
	cfg = &norm;
	if ((why = config_problem(cfg))) {
		rps_err("server config: %s", why);
		return -EINVAL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	srv->ops = ps_algo_ops(cfg->algo);
	pthread_mutex_init(&srv->checkpoint_lock, NULL);
	srv->cfg.init_weights = NULL; /* copied into W by the layout */
	/* only the digest is kept, not the caller's token */
	if (cfg->auth_token) {
		srv->auth = true;
		rps_auth_tag(cfg->auth_token, cfg->auth_token_len, srv->auth_tag);
	}
	srv->cfg.auth_token = NULL;
	srv->cfg.auth_token_len = 0;
	if (!srv->cfg.hp.dude_refresh)
		srv->cfg.hp.dude_refresh = DEFAULT_DUDE_REFRESH;
	srv->n = cfg->num_params;
	srv->threads = cfg->threads;
	srv->chunk_params = cfg->chunk_bytes / sizeof(float);
	srv->num_chunks = (uint32_t)((srv->n + srv->chunk_params - 1) / srv->chunk_params);
	if (srv->num_chunks > RPS_IMM_VALUE_MAX) {
		rps_err("server config: %u chunks exceed the immediate encoding; "
			"use larger chunks",
			srv->num_chunks);
		ret = -EINVAL;
		goto err_free;
	}

	if ((ret = rps_transport_open(cfg->transport, &srv->tp)))
		goto err_free;
	/* before the layout: its buffers go on the chosen NUMA node */
	if ((ret = ps_place(srv)))
		goto err_close;
	srv->cfg.init_weights = cfg->init_weights;
	ret = ps_layout_create(srv);
	srv->cfg.init_weights = NULL;
	if (ret)
		goto err_close;
	/* before anyone can connect: nothing reads the layout yet */
	srv->cfg.resume_path = NULL;
	if (cfg->resume_path && (ret = ps_checkpoint_restore(srv, cfg->resume_path)))
		goto err_layout;

	srv->engines = calloc(srv->threads, sizeof(*srv->engines));
	if (!srv->engines) {
		ret = -ENOMEM;
		goto err_layout;
	}
	/* every lane of every worker may have its receive pool and a few
	 * operations pending on its thread's CQ */
	uint32_t depth = cfg->num_workers * (rps_transport_get_attr(srv->tp)->recv_depth + 64);
	if (depth < ENGINE_CQ_DEPTH_MIN)
		depth = ENGINE_CQ_DEPTH_MIN;
	for (uint32_t t = 0; t < srv->threads; t++) {
		srv->engines[t].srv = srv;
		srv->engines[t].index = t;
		if (posix_memalign((void **)&srv->engines[t].undo, 4096,
				   RPS_OPTIM_UNDO_ARRAYS * srv->chunk_params * sizeof(float)) ||
		    !(srv->engines[t].stats = stats_alloc(cfg->num_workers))) {
			ret = -ENOMEM;
			goto err_cqs;
		}
		if ((ret = rps_cq_create(srv->tp, depth, &srv->engines[t].cq)))
			goto err_cqs;
	}
	if ((ret = rps_listen(srv->tp, cfg->addr, cfg->port, &srv->listener)))
		goto err_cqs;
	rps_info("server: %s on %s, listening on port %u, %u engine thread(s), "
		 "%u chunks of %u bytes",
		 rps_transport_provider(srv->tp), rps_transport_device(srv->tp),
		 rps_listener_port(srv->listener), srv->threads, srv->num_chunks, cfg->chunk_bytes);
	*srv_p = srv;
	return 0;

err_cqs:
	for (uint32_t t = 0; t < srv->threads; t++) {
		rps_cq_destroy(srv->engines[t].cq);
		free(srv->engines[t].stats);
		free(srv->engines[t].undo);
	}
	free(srv->engines);
err_layout:
	ps_layout_destroy(srv);
err_close:
	rps_topo_unload(srv->topo);
	rps_transport_close(srv->tp);
err_free:
	pthread_mutex_destroy(&srv->checkpoint_lock);
	free(srv);
	return ret;
}

RPS_EXPORT uint16_t rps_server_port(const rps_server_t *srv)
{
	return rps_listener_port(srv->listener);
}

RPS_EXPORT uint64_t rps_server_footprint(const rps_server_t *srv)
{
	return srv->footprint;
}

RPS_EXPORT const char *rps_server_provider(const rps_server_t *srv)
{
	return rps_transport_provider(srv->tp);
}

RPS_EXPORT const char *rps_server_device(const rps_server_t *srv)
{
	return rps_transport_device(srv->tp);
}

RPS_EXPORT int rps_server_start(rps_server_t *srv)
{
	int ret;

	atomic_store(&srv->stop, false);
	atomic_store(&srv->ssgd_round_start, rps_now_ns());
	for (uint32_t t = 0; t < srv->threads; t++) {
		ret = pthread_create(&srv->engines[t].thread, NULL, ps_engine_main,
				     &srv->engines[t]);
		if (ret) {
			rps_err("server: cannot start engine thread %u: %s", t, rps_strerror(ret));
			rps_server_stop(srv);
			return -ret;
		}
		srv->engines[t].started = true;
	}
	ret = pthread_create(&srv->control, NULL, ps_control_main, srv);
	if (ret) {
		rps_err("server: cannot start the control thread: %s", rps_strerror(ret));
		rps_server_stop(srv);
		return -ret;
	}
	srv->control_started = true;
	return 0;
}

RPS_EXPORT void rps_server_stop(rps_server_t *srv)
{
	/* the engines drain what already arrived before they leave */
	atomic_store(&srv->stop, true);
	if (srv->control_started) {
		pthread_join(srv->control, NULL);
		srv->control_started = false;
	}
	for (uint32_t t = 0; t < srv->threads; t++) {
		if (srv->engines[t].started) {
			pthread_join(srv->engines[t].thread, NULL);
			srv->engines[t].started = false;
		}
	}
}

RPS_EXPORT void rps_server_destroy(rps_server_t *srv)
{
	if (!srv)
		return;
	rps_server_stop(srv);
	/* the threads are gone: this thread may close every lane */
	for (uint32_t m = 0; m < srv->cfg.num_workers; m++) {
		for (uint32_t t = 0; t < srv->threads; t++) {
			ps_lane_t *lane = &srv->slots[m].lanes[t];

			if (atomic_load(&lane->state) != LANE_EMPTY)
				rps_conn_close(lane->conn);
			atomic_store(&lane->state, LANE_EMPTY);
		}
	}
	rps_listener_close(srv->listener);
	for (uint32_t t = 0; t < srv->threads; t++) {
		rps_cq_destroy(srv->engines[t].cq);
		free(srv->engines[t].stats);
		free(srv->engines[t].undo);
	}
	free(srv->engines);
	ps_layout_destroy(srv);
	rps_topo_unload(srv->topo); /* after the frees, which need it */
	rps_transport_close(srv->tp);
	pthread_mutex_destroy(&srv->checkpoint_lock);
	free(srv);
}

RPS_EXPORT int rps_server_worker_stats_size(const rps_server_t *srv, uint32_t id,
					    rps_server_worker_stats_t *stats_p, size_t size)
{
	rps_server_worker_stats_t full = { .size = sizeof(full) }, *st = &full;
	const ps_slot_t *s;
	ps_stats_t sum = { 0 };

	if (!stats_p || id >= srv->cfg.num_workers)
		return -EINVAL;
	s = &srv->slots[id];
	/* each engine thread counts what it did itself: add them up */
	for (uint32_t t = 0; t < srv->threads; t++) {
		const ps_stats_t *e = &srv->engines[t].stats[id];
		uint64_t tau_max = ps_stat_read(&e->tau_max);

		sum.chunks += ps_stat_read(&e->chunks);
		sum.rejected += ps_stat_read(&e->rejected);
		sum.proto += ps_stat_read(&e->proto);
		sum.tau_sum += ps_stat_read(&e->tau_sum);
		sum.rounds += ps_stat_read(&e->rounds);
		sum.apply_ns += ps_stat_read(&e->apply_ns);
		if (tau_max > sum.tau_max)
			sum.tau_max = tau_max;
	}
	/* joined before connected: see the order of the stores at a join */
	st->joined = atomic_load(&s->ever_joined);
	st->connected = atomic_load(&s->connected);
	/* ssgd: the rounds it took part in, not the rounds that passed */
	st->pushes = srv->ops->rounds ? sum.rounds : atomic_load(&s->pushes) - s->pushes_restored;
	st->chunks_applied = sum.chunks;
	st->chunks_rejected = sum.rejected;
	st->protocol_errors = sum.proto;
	st->staleness_sum = sum.tau_sum;
	st->staleness_max = sum.tau_max;
	st->apply_ns = sum.apply_ns;
	/* no more than the caller's struct holds */
	rps_ext_struct_out(stats_p, size, &full, sizeof(full));
	return 0;
}

RPS_EXPORT uint64_t rps_server_version(const rps_server_t *srv)
{
	return atomic_load(&srv->version);
}

RPS_EXPORT void rps_server_read_weights(const rps_server_t *srv, float *out)
{
	memcpy(out, srv->w, srv->n * sizeof(float));
}

RPS_EXPORT_PRIVATE int rps_server_apply_log_enable(rps_server_t *srv, uint64_t len)
{
	rps_apply_record_t *log = NULL;

	if (srv->control_started)
		return -EBUSY;
	if (len && !(log = calloc(len, sizeof(*log)))) {
		rps_err("server: out of memory for an apply log of %" PRIu64 " records", len);
		return -ENOMEM;
	}
	free(srv->apply_log);
	srv->apply_log = log;
	srv->apply_log_len = len;
	atomic_store(&srv->apply_log_n, 0);
	return 0;
}

RPS_EXPORT_PRIVATE const rps_apply_record_t *rps_server_apply_log(const rps_server_t *srv,
								  uint64_t *n_p)
{
	uint64_t n = atomic_load(&srv->apply_log_n);

	if (!srv->apply_log)
		return NULL;
	*n_p = n < srv->apply_log_len ? n : srv->apply_log_len;
	return srv->apply_log;
}
