/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker's view of the model: one rps_worker_t per server, the model
 * cut by rps_shard_range in server order (worker_shards.c).  With one
 * server the registered buffers are the model (no copies).  Private.
 */
#ifndef RPS_CMD_WORKER_SHARDS_H
#define RPS_CMD_WORKER_SHARDS_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/worker_cli.h"

struct worker_shards {
	rps_worker_t *w[WORKER_MAX_SERVERS];
	uint64_t off[WORKER_MAX_SERVERS], cnt[WORKER_MAX_SERVERS];
	uint32_t k;
	uint64_t n;    /* whole model */
	float *params; /* the model's weights (n floats) */
	float *grad;   /* write the gradient here (n floats) */
	int timeout_ms;
	uint32_t failed; /* the server a failed connect was at */
};

/* Connects to every server of cli for a model of n params, checking each
 * holds the shard the order implies.  0, or a negative errno after a
 * one-line error naming the server (quiet: no error line, the caller
 * retries and reports).  On failure call worker_shards_close. */
int worker_shards_connect(const struct worker_cli *cli, uint64_t n, struct worker_shards *s,
			  bool quiet);
/* The one-line error for a failed connect to server i (why: the log line
 * caught, or NULL). */
void worker_shards_explain(const struct worker_cli *cli, uint32_t i, int ret, const char *why);
/* Pushes grad to every shard, waits until applied, pulls the weights.
 * 0, -EDOM when a server rejected part of the gradient (not applied; the
 * step still completes), or a negative errno. */
int worker_shards_step(struct worker_shards *s);
/* The version of the first server seen at the last push. */
uint64_t worker_shards_version(const struct worker_shards *s);
/* Says goodbye to every server and frees. */
void worker_shards_close(struct worker_shards *s);

#endif /* RPS_CMD_WORKER_SHARDS_H */
