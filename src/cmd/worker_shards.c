/* SPDX-License-Identifier: BSD-2-Clause */
/* rdma-worker: one model over one or several rdma-ps (worker_shards.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/worker_shards.h"

#define PROG "rdma-worker"

void worker_shards_explain(const struct worker_cli *cli, uint32_t i, int ret, const char *why)
{
	const struct worker_server *srv = &cli->servers[i];

	/* a refusing rdma-ps says why (REFUSE), and the library logged it
	 * into why; a bare refusal means nobody listens there */
	fprintf(stderr, PROG ": %s:%u: %s%s\n", srv->host, srv->port,
		why && why[0] ? why : rps_strerror(ret),
		ret == -ECONNREFUSED ? " (is rdma-ps running there, on that port?)" : "");
}

static int connect_one(const struct worker_cli *cli, struct worker_shards *s, uint32_t i,
		       bool quiet)
{
	const struct worker_server *srv = &cli->servers[i];
	rps_worker_config_t wc = {
		.server = srv->host,
		.port = srv->port,
		.worker_id = cli->rank,
		.num_workers = cli->world,
		.num_params = s->cnt[i],
		.transport = &cli->common.attr,
		.timeout_ms = s->timeout_ms,
		.auth_token = cli->common.auth_token_len ? cli->common.auth_token : NULL,
		.auth_token_len = cli->common.auth_token_len,
	};
	char why[CMD_WHY_LEN];
	int ret;

	s->failed = i;
	cmd_log_capture(why);
	ret = rps_worker_connect(&wc, &s->w[i]);
	cmd_log_release();
	if (ret && !(quiet && ret == -ECONNREFUSED))
		worker_shards_explain(cli, i, ret, why);
	if (ret)
		return ret;
	if (rps_worker_shard_offset(s->w[i]) != s->off[i]) {
		fprintf(stderr,
			PROG ": %s:%u holds the shard from parameter %llu, but as server %u "
			     "of %u it should hold the one from %llu (check the --server order and "
			     "rdma-ps --shard)\n",
			srv->host, srv->port, (unsigned long long)rps_worker_shard_offset(s->w[i]),
			i, s->k, (unsigned long long)s->off[i]);
		return -EINVAL;
	}
	return 0;
}

int worker_shards_connect(const struct worker_cli *cli, uint64_t n, struct worker_shards *s,
			  bool quiet)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->k = cli->nservers;
	s->n = n;
	s->timeout_ms = (int)cli->timeout_s * 1000;
	for (uint32_t i = 0; i < s->k; i++) {
		if (rps_shard_range(n, s->k, i, &s->off[i], &s->cnt[i])) {
			fprintf(stderr,
				PROG ": a model of %llu params cannot be split over %u "
				     "servers\n",
				(unsigned long long)n, s->k);
			return -EINVAL;
		}
		if ((ret = connect_one(cli, s, i, quiet)))
			return ret;
	}
	if (s->k == 1) {
		s->params = rps_worker_weights(s->w[0]);
		s->grad = rps_worker_grad(s->w[0]);
		return 0;
	}
	s->params = malloc(n * sizeof(float));
	s->grad = malloc(n * sizeof(float));
	if (!s->params || !s->grad) {
		fprintf(stderr, PROG ": cannot allocate the model (%llu params)\n",
			(unsigned long long)n);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->k; i++)
		memcpy(s->params + s->off[i], rps_worker_weights(s->w[i]),
		       s->cnt[i] * sizeof(float));
	return 0;
}

/* the first failure wins; -EDOM (rejected chunks) only if nothing worse */
static int worse(int cur, int ret)
{
	if (!ret || (cur && cur != -EDOM))
		return cur;
	return ret;
}

int worker_shards_step(struct worker_shards *s)
{
	int ret = 0;

	if (s->k > 1)
		for (uint32_t i = 0; i < s->k; i++)
			memcpy(rps_worker_grad(s->w[i]), s->grad + s->off[i],
			       s->cnt[i] * sizeof(float));
	/* every shard's push in flight before waiting for any */
	for (uint32_t i = 0; i < s->k; i++)
		if ((ret = rps_push_start(s->w[i])))
			return ret;
	for (uint32_t i = 0; i < s->k; i++)
		ret = worse(ret, rps_push_wait(s->w[i], s->timeout_ms));
	if (ret && ret != -EDOM)
		return ret;
	for (uint32_t i = 0; i < s->k; i++) {
		int r = rps_pull_start(s->w[i]);

		if (r)
			return r;
	}
	for (uint32_t i = 0; i < s->k; i++) {
		for (uint32_t c = 0; c < rps_worker_num_chunks(s->w[i]); c++) {
			int r = rps_pull_wait_chunk(s->w[i], c, s->timeout_ms);

			if (r)
				return r;
		}
		if (s->k > 1)
			memcpy(s->params + s->off[i], rps_worker_weights(s->w[i]),
			       s->cnt[i] * sizeof(float));
	}
	return ret;
}

uint64_t worker_shards_version(const struct worker_shards *s)
{
	return s->w[0] ? rps_worker_server_version(s->w[0]) : 0;
}

void worker_shards_close(struct worker_shards *s)
{
	for (uint32_t i = 0; i < WORKER_MAX_SERVERS; i++)
		rps_worker_close(s->w[i]);
	if (s->k > 1) {
		free(s->params);
		free(s->grad);
	}
	memset(s, 0, sizeof(*s));
}
