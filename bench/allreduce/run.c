/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One rank of rps_allreduce_bench: for each size, a ring over this
 * process's transport, warm-up allreduces, timed allreduces, then one on
 * known data to count wrong results.  The time and the wrong count are
 * combined over the ranks with the ring itself (as nccl-tests averages its
 * time over ranks), and rank 0 prints the row.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench/allreduce/allreduce.h"
#include "util/clock.h"

/* Small integers: every sum of them is exact in float whatever the order,
 * so the check compares bits, not a tolerance. */
static float pattern(uint32_t rank, size_t i)
{
	return (float)((int)((i * 7 + (size_t)rank * 13) % 31) - 15);
}

static long count_wrong(const float *buf, size_t count, uint32_t world)
{
	long wrong = 0;

	for (size_t i = 0; i < count; i++) {
		float want = 0;

		for (uint32_t r = 0; r < world; r++)
			want += pattern(r, i);
		wrong += buf[i] != want;
	}
	return wrong;
}

/* The sum over ranks of v, through the ring (count >= 1 floats). */
static int sum_scalar(rps_ring_t *ring, size_t count, double v, double *sum_p)
{
	float *buf = rps_ring_buffer(ring);
	int ret;

	memset(buf, 0, count * sizeof(float));
	buf[0] = (float)v;
	if ((ret = rps_ring_allreduce(ring)))
		return ret;
	*sum_p = buf[0];
	return 0;
}

/* The transport logs each refused connect; while the ranks start, a
 * neighbour that is not listening yet refuses, and the ring retries.
 * Those lines say nothing, so they are dropped; all else goes to stderr
 * as the default handler prints it. */
static bool in_setup;

static void log_filter(rps_log_level_t level, const char *msg, void *arg)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	static const char refused[] = ": connection refused";
	size_t len = strlen(msg), rlen = sizeof(refused) - 1;

	(void)arg;
	if (in_setup && len >= rlen && strcmp(msg + len - rlen, refused) == 0)
		return;
	fprintf(stderr, "rdmaps: %s: %s\n", names[level], msg);
}

static int run_size(const struct ar_cfg *cfg, rps_transport_t *tp, size_t count,
		    struct ar_result *res)
{
	rps_ring_attr_t attr;
	rps_ring_t *ring;
	float *buf;
	double t_sum, wrong_sum;
	uint64_t t0;
	long wrong = -1;
	int ret;

	rps_ring_attr_init(&attr);
	attr.tp = tp;
	attr.rank = cfg->rank;
	attr.world = cfg->world;
	attr.peers = (const char *const *)cfg->peers;
	attr.count = count;
	attr.chunk_bytes = cfg->chunk;
	attr.window = (uint32_t)cfg->window;
	attr.timeout_ms = (int)cfg->timeout_ms;
	in_setup = true;
	ret = rps_ring_create(&attr, &ring);
	in_setup = false;
	if (ret)
		return ret;
	buf = rps_ring_buffer(ring);
	for (size_t i = 0; i < count; i++)
		buf[i] = pattern(cfg->rank, i);
	for (uint64_t i = 0; i < cfg->warmup && !ret; i++)
		ret = rps_ring_allreduce(ring);
	/* in place, as nccl-tests' in-place run: the sums just grow */
	if (cfg->profile)
		rps_ring_profile_enable(ring, true);
	t0 = rps_now_ns();
	for (uint64_t i = 0; i < cfg->iters && !ret; i++)
		ret = rps_ring_allreduce(ring);
	double us = (double)(rps_now_ns() - t0) / 1e3 / (double)cfg->iters;
	if (cfg->profile) {
		rps_ring_profile_get(ring, &res->prof);
		rps_ring_profile_enable(ring, false);
	}
	if (!ret && cfg->check) {
		for (size_t i = 0; i < count; i++)
			buf[i] = pattern(cfg->rank, i);
		if (!(ret = rps_ring_allreduce(ring)))
			wrong = count_wrong(buf, count, cfg->world);
	}
	if (!ret)
		ret = sum_scalar(ring, count, us, &t_sum);
	if (!ret)
		ret = sum_scalar(ring, count, wrong < 0 ? 0 : (double)wrong, &wrong_sum);
	rps_ring_destroy(ring);
	if (ret)
		return ret;
	res->bytes = count * sizeof(float);
	res->count = count;
	res->time_us = t_sum / cfg->world;
	res->algbw = res->time_us > 0 ? (double)res->bytes / res->time_us / 1e3 : 0;
	res->busbw = res->algbw * 2.0 * (cfg->world - 1) / cfg->world;
	res->wrong = wrong < 0 ? -1 : (long)wrong_sum;
	return 0;
}

int ar_run(const struct ar_cfg *cfg)
{
	rps_transport_attr_t ta = cfg->tattr;
	rps_transport_t *tp;
	long wrong = 0;
	double busbw = 0;
	unsigned rows = 0;
	int ret;

	rps_log_set_handler(log_filter, NULL);
	/* room for the ring's window: an unread immediate per slot */
	if (ta.recv_depth < cfg->window + 1)
		ta.recv_depth = (uint32_t)cfg->window + 1;
	if (ta.sq_depth < 2 * cfg->window)
		ta.sq_depth = 2 * (uint32_t)cfg->window;
	if ((ret = rps_transport_open(&ta, &tp))) {
		fprintf(stderr, AR_PROG ": rank %u: open transport: %s\n", cfg->rank,
			rps_strerror(ret));
		return 1;
	}
	if (cfg->rank == 0)
		ar_emit_header(stdout, cfg, rps_transport_provider(tp), rps_transport_device(tp));
	for (uint64_t size = cfg->minbytes; size <= cfg->maxbytes; size *= cfg->stepfactor) {
		struct ar_result res = { 0 };
		size_t count = size / sizeof(float) ? size / sizeof(float) : 1;

		if ((ret = run_size(cfg, tp, count, &res))) {
			fprintf(stderr, AR_PROG ": rank %u: %zu B: %s\n", cfg->rank,
				count * sizeof(float), rps_strerror(ret));
			break;
		}
		if (cfg->rank == 0)
			ar_emit_row(stdout, &res);
		if (cfg->rank == 0 && cfg->profile)
			ar_emit_profile(stdout, &res);
		wrong += res.wrong > 0 ? res.wrong : 0;
		busbw += res.busbw;
		rows++;
	}
	if (!ret && cfg->rank == 0)
		ar_emit_footer(stdout, wrong, rows ? busbw / rows : 0);
	rps_transport_close(tp);
	return ret || wrong ? 1 : 0;
}
