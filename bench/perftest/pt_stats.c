/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The numbers of a run, computed as perftest computes them
 * (print_report_bw, print_report_lat in perftest_parameters.c):
 *
 * bandwidth: average = bytes moved / (last completion - first post);
 * peak = the best rate over any run of operations from a marked post to a
 * marked completion (perftest takes every post; we mark every cq_mod-th
 * one, see pt_bw.c); message rate = operations / the same time.
 *
 * latency: the n - 1 intervals between n consecutive post time stamps,
 * divided by 2 for a WRITE ping-pong (a round trip is two one-way trips),
 * sorted; the two largest are set aside; t_min = the smallest, t_typical
 * = the median, t_avg and t_stdev (population) over the rest, and t_max,
 * 99% and 99.9% index the sorted intervals as perftest does (t_max is the
 * largest interval not set aside).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "perftest.h"

#define PT_LAT_TAIL 2 /* perftest's LAT_MEASURE_TAIL */

/* Best bytes/s over the runs between a post mark and a later completion
 * mark. */
static double pt_bw_peak(uint64_t size, const pt_bw_marks_t *mk)
{
	double best = 0;

	for (size_t i = 0; i < mk->npost; i++) {
		for (size_t j = 0; j < mk->ncomp; j++) {
			const pt_mark_t *p = &mk->post[i], *c = &mk->comp[j];
			double rate;

			if (c->ops <= p->ops || c->t_ns <= p->t_ns)
				continue;
			rate = (double)size * (double)(c->ops - p->ops) * 1e9 /
			       (double)(c->t_ns - p->t_ns);
			if (rate > best)
				best = rate;
		}
	}
	return best;
}

void pt_bw_result(uint64_t size, uint64_t ops, uint64_t t_ns, const pt_bw_marks_t *marks,
		  pt_bw_result_t *r_p)
{
	double secs = (double)t_ns / 1e9;

	*r_p = (pt_bw_result_t){
		.size = size,
		.iters = ops,
		.peak_bps = marks ? pt_bw_peak(size, marks) : 0,
		.avg_bps = secs > 0 ? (double)size * (double)ops / secs : 0,
		.msg_rate = secs > 0 ? (double)ops / secs : 0,
	};
}

static int pt_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void pt_lat_result(uint64_t size, uint64_t *stamps, uint64_t n, unsigned rtt_factor,
		   pt_lat_result_t *r_p)
{
	uint64_t *d = stamps; /* intervals, in place */
	uint64_t cnt = n - 1, median, i99, i999;
	double unit = 1000.0 * rtt_factor; /* ns per usec, per one-way trip */
	double sum = 0, var = 0, avg;

	for (uint64_t i = 0; i < cnt; i++)
		d[i] = stamps[i + 1] - stamps[i];
	qsort(d, cnt, sizeof(*d), pt_u64_cmp);
	cnt -= PT_LAT_TAIL;
	median = cnt % 2 ? d[cnt / 2] : (d[cnt / 2] + d[cnt / 2 - 1]) / 2;
	for (uint64_t i = 0; i < cnt; i++)
		sum += (double)d[i] / unit;
	avg = sum / (double)cnt;
	for (uint64_t i = 0; i < cnt; i++) {
		double dev = avg - (double)d[i] / unit;

		var += dev * dev;
	}
	i99 = (uint64_t)ceil((double)cnt * 0.99);
	i999 = (uint64_t)ceil((double)cnt * 0.999);
	*r_p = (pt_lat_result_t){
		.size = size,
		.iters = n,
		.t_min = (double)d[0] / unit,
		.t_max = (double)d[cnt] / unit,
		.t_typical = (double)median / unit,
		.t_avg = avg,
		.t_stdev = sqrt(var / (double)cnt),
		.p99 = (double)d[i99] / unit,
		.p99_9 = (double)d[i999] / unit,
	};
}
