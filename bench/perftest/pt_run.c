/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The runner shared by the four tools: who does what, size after size,
 * and who prints which numbers, as in perftest:
 *
 *   bw, one way   the client moves data and prints its rows; the server
 *                 waits passively and prints the client's rows (REPORT)
 *   bw, -b        both move data at once (a barrier before each size),
 *                 exchange REPORTs and print the sum
 *   write_lat     both play ping-pong (a barrier before each run) and
 *                 each prints its own rows
 *   read_lat      the client READs and prints; the server waits passively
 *
 * Every measured run follows an untimed warm-up of max(16, iters/10)
 * iterations (per QP for bw), or of a tenth of the duration with -D.
 * The client ends the test with DONE; the server waits for it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "perftest.h"
#include "util/opt.h"

#define PT_WARMUP_MIN 16

/* -a: 2, 4, ... up to --size (2^23 by default) */
static unsigned pt_nsizes(const pt_cfg_t *cfg)
{
	unsigned n = 0;

	if (!cfg->all)
		return 1;
	while (n + PT_ALL_MIN_LOG < 63 && 1ull << (n + PT_ALL_MIN_LOG) <= cfg->size)
		n++;
	return n;
}

static uint64_t pt_size_at(const pt_cfg_t *cfg, unsigned i)
{
	return cfg->all ? 1ull << (PT_ALL_MIN_LOG + i) : cfg->size;
}

static uint64_t pt_warmup_iters(const pt_cfg_t *cfg)
{
	return cfg->iters / 10 > PT_WARMUP_MIN ? cfg->iters / 10 : PT_WARMUP_MIN;
}

static uint64_t pt_duration_ns(const pt_cfg_t *cfg)
{
	return (uint64_t)cfg->duration * 1000000000ull;
}

static uint32_t pt_cq_mod(const pt_cfg_t *cfg)
{
	return cfg->tx_depth / 2 ? cfg->tx_depth / 2 : 1;
}

/* ---- bandwidth ---------------------------------------------------------- */

static bool pt_wants_peak(const pt_cfg_t *cfg)
{
	return !cfg->no_peak && !cfg->duration && cfg->iters <= PT_PEAK_MAX_ITERS;
}

static int pt_marks_alloc(const pt_ep_t *ep, pt_bw_marks_t *mk)
{
	const pt_cfg_t *cfg = ep->cfg;

	mk->cap = cfg->iters * ep->nqps / pt_cq_mod(cfg) + ep->nqps + 2;
	mk->post = calloc(mk->cap, sizeof(*mk->post));
	mk->comp = calloc(mk->cap, sizeof(*mk->comp));
	if (mk->post && mk->comp)
		return 0;
	fprintf(stderr, "%s: out of memory for the time marks\n", cfg->tool->prog);
	return -ENOMEM;
}

/* Warm-up, then the measured loop of one size. */
static int pt_bw_measure(pt_ep_t *ep, uint64_t size, pt_bw_marks_t *marks, pt_bw_result_t *r)
{
	const pt_cfg_t *cfg = ep->cfg;
	pt_bw_run_t run = {
		.size = size,
		.iters = pt_warmup_iters(cfg),
		.duration_ns = pt_duration_ns(cfg) / 10,
		.depth = cfg->tx_depth,
		.cq_mod = pt_cq_mod(cfg),
	};
	int ret;

	if ((ret = pt_bw_loop(ep, cfg->tool->verb, &run)))
		return ret;
	run.iters = cfg->iters;
	run.duration_ns = pt_duration_ns(cfg);
	run.marks = pt_wants_peak(cfg) ? marks : NULL;
	if ((ret = pt_bw_loop(ep, cfg->tool->verb, &run)))
		return ret;
	pt_bw_result(size, run.ops, run.t_ns, run.marks, r);
	return 0;
}

/* The server of a one-way test: prints the client's rows. */
static int pt_bw_serve(pt_ep_t *ep)
{
	pt_msg_t m;
	int ret;

	for (unsigned i = 0; i < pt_nsizes(ep->cfg); i++) {
		if ((ret = pt_ctrl_wait(ep, PT_MSG_REPORT, true, &m)))
			return ret;
		pt_report_bw(ep->cfg, &m.report);
	}
	return pt_ctrl_wait(ep, PT_MSG_DONE, true, &m);
}

static int pt_bw_sizes(pt_ep_t *ep, pt_bw_marks_t *marks)
{
	const pt_cfg_t *cfg = ep->cfg;
	pt_bw_result_t r;
	pt_msg_t m = { .type = PT_MSG_REPORT }, peer;
	int ret;

	for (unsigned i = 0; i < pt_nsizes(cfg); i++) {
		if (cfg->bidir && (ret = pt_ctrl_barrier(ep, i)))
			return ret;
		if ((ret = pt_bw_measure(ep, pt_size_at(cfg, i), marks, &r)))
			return ret;
		m.report = r;
		if (!cfg->bidir) {
			pt_report_bw(cfg, &r);
			if ((ret = pt_ctrl_send(ep, &m)))
				return ret;
			continue;
		}
		if ((ret = pt_ctrl_send(ep, &m)) ||
		    (ret = pt_ctrl_wait(ep, PT_MSG_REPORT, false, &peer)))
			return ret;
		r.peak_bps += peer.report.peak_bps;
		r.avg_bps += peer.report.avg_bps;
		r.msg_rate += peer.report.msg_rate;
		pt_report_bw(cfg, &r);
	}
	return 0;
}

static int pt_run_bw(pt_ep_t *ep)
{
	const pt_cfg_t *cfg = ep->cfg;
	pt_bw_marks_t marks = { 0 };
	pt_msg_t m = { .type = PT_MSG_DONE };
	int ret;

	pt_report_table_head(cfg);
	if (!cfg->host && !cfg->bidir) {
		ret = pt_bw_serve(ep);
	} else if (!(ret = pt_wants_peak(cfg) ? pt_marks_alloc(ep, &marks) : 0) &&
		   !(ret = pt_bw_sizes(ep, &marks))) {
		ret = cfg->host ? pt_ctrl_send(ep, &m) : pt_ctrl_wait(ep, PT_MSG_DONE, true, &m);
	}
	free(marks.post);
	free(marks.comp);
	if (!ret)
		pt_report_line(cfg);
	return ret;
}

/* ---- latency ------------------------------------------------------------ */

/* One run: a ping-pong starts from a cleared flag byte and a barrier. */
static int pt_lat_once(pt_ep_t *ep, pt_lat_run_t *run, uint32_t seq)
{
	int ret;

	if (ep->cfg->tool->verb == PT_READ)
		return pt_lat_read(ep, run);
	ep->qps[0].recv_area[run->size - 1] = 0;
	if ((ret = pt_ctrl_barrier(ep, seq)))
		return ret;
	return pt_lat_write(ep, run);
}

static int pt_lat_size(pt_ep_t *ep, uint64_t size, unsigned i, uint64_t *stamps)
{
	const pt_cfg_t *cfg = ep->cfg;
	unsigned rtt = cfg->tool->verb == PT_WRITE ? 2 : 1;
	pt_lat_run_t run = {
		.size = size,
		.iters = cfg->duration ? 0 : pt_warmup_iters(cfg),
		.duration_ns = pt_duration_ns(cfg) / 10,
		.initiator = !cfg->host,
		.stopper = cfg->host != NULL,
	};
	pt_lat_result_t r;
	int ret;

	if ((ret = pt_lat_once(ep, &run, 2 * i)))
		return ret;
	run.iters = cfg->duration ? 0 : cfg->iters;
	run.duration_ns = pt_duration_ns(cfg);
	run.stamps = stamps;
	if ((ret = pt_lat_once(ep, &run, 2 * i + 1)))
		return ret;
	if (!cfg->duration) {
		pt_lat_stamps_to_ns(stamps, cfg->iters, run.ns_per_tick);
		pt_lat_result(size, stamps, cfg->iters, rtt, &r);
		pt_report_lat(cfg, &r);
	} else if (run.done && run.t_ns) {
		pt_report_lat_duration(cfg, size, run.done,
				       (double)run.t_ns / 1e3 / (double)run.done / rtt,
				       (double)run.done * 1e9 / (double)run.t_ns);
	} else {
		fprintf(stderr, "%s: no iteration completed in %u s\n", cfg->tool->prog,
			cfg->duration);
		return -ETIMEDOUT;
	}
	return 0;
}

static int pt_run_lat(pt_ep_t *ep)
{
	const pt_cfg_t *cfg = ep->cfg;
	pt_msg_t m = { .type = PT_MSG_DONE };
	uint64_t *stamps = NULL;
	int ret = 0;

	/* perftest's read_lat server prints no table */
	if (cfg->tool->verb == PT_READ && !cfg->host) {
		if ((ret = pt_ctrl_wait(ep, PT_MSG_DONE, true, &m)))
			return ret;
		pt_report_line(cfg);
		return 0;
	}
	if (!cfg->duration && !(stamps = calloc(cfg->iters, sizeof(*stamps)))) {
		fprintf(stderr, "%s: out of memory for %lu time stamps\n", cfg->tool->prog,
			(unsigned long)cfg->iters);
		return -ENOMEM;
	}
	pt_report_table_head(cfg);
	for (unsigned i = 0; i < pt_nsizes(cfg) && !ret; i++)
		ret = pt_lat_size(ep, pt_size_at(cfg, i), i, stamps);
	if (!ret)
		ret = cfg->host ? pt_ctrl_send(ep, &m) : pt_ctrl_wait(ep, PT_MSG_DONE, true, &m);
	free(stamps);
	if (!ret)
		pt_report_line(cfg);
	return ret;
}

/* ---- the program ------------------------------------------------------- */

int pt_main(const pt_tool_t *tool, int argc, char **argv)
{
	pt_cfg_t cfg;
	pt_ep_t ep = { 0 };
	int ret;

	if (pt_cfg_init(&cfg, tool))
		return RPS_EXIT_USAGE;
	ret = pt_opts_parse(&cfg, argc, argv);
	if (ret <= 0)
		return ret ? RPS_EXIT_USAGE : 0;
	if (cfg.host)
		ret = pt_ep_connect(&ep, &cfg);
	else if (!(ret = pt_ep_listen(&ep, &cfg)))
		ret = pt_ep_accept(&ep);
	if (!ret) {
		pt_report_header(&ep);
		ret = tool->test == PT_BW ? pt_run_bw(&ep) : pt_run_lat(&ep);
	}
	fflush(stdout);
	pt_ep_close(&ep);
	return ret ? PT_EXIT_FAIL : 0;
}
