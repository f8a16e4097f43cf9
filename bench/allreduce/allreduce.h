/* SPDX-License-Identifier: BSD-2-Clause */
/* rps_allreduce_bench: shared between the option parsing, the runner and
 * the table emitter. */
#ifndef RPS_BENCH_ALLREDUCE_H
#define RPS_BENCH_ALLREDUCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rdmaps/rdmaps.h>

#include "collective/ring_profile.h"

#define AR_PROG	     "rps_allreduce_bench"
#define AR_MAX_WORLD 1024

struct ar_cfg {
	rps_transport_attr_t tattr;
	uint64_t minbytes, maxbytes, stepfactor;
	uint64_t iters, warmup, check;
	uint64_t chunk, window, timeout_ms;
	bool profile; /* --profile: a breakdown line per row (rank 0) */
	uint32_t world, rank;
	bool world_set, rank_set;
	const char *peers_arg; /* --peers as given */
	const char *addr;      /* local mode: address of every rank */
	uint64_t port;	       /* local mode: first port, 0 = free ones */
	/* resolved: world "host:port" strings; with --peers they point into
	 * peers_buf, else each is allocated */
	char **peers;
	char *peers_buf;
};

/* One row: what the emitters print. */
struct ar_result {
	size_t bytes, count;
	double time_us; /* mean over iterations, averaged over ranks */
	double algbw, busbw;
	long wrong;		 /* -1 = not checked */
	rps_ring_profile_t prof; /* this rank's, with --profile */
};

/* Runs every size as rank cfg->rank; rank 0 prints.  0, or 1 on a
 * failure or wrong results. */
int ar_run(const struct ar_cfg *cfg);

void ar_emit_header(FILE *out, const struct ar_cfg *cfg, const char *provider, const char *device);
void ar_emit_row(FILE *out, const struct ar_result *r);
void ar_emit_footer(FILE *out, long wrong, double avg_busbw);
/* --profile: "#  profile ..." after the row: each part's share */
void ar_emit_profile(FILE *out, const struct ar_result *r);

#endif /* RPS_BENCH_ALLREDUCE_H */
