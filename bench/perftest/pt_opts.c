/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The options of the four tools: perftest's spellings and defaults, one
 * table, one handler per option, --help generated from the table.  An
 * entry names the tests (bandwidth, latency) whose tools take it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perftest.h"
#include "util/opt.h"

#define BW  (1u << PT_BW)
#define LAT (1u << PT_LAT)

typedef struct pt_opt {
	rps_opt_t opt;
	unsigned tests;
} pt_opt_t;

static pt_cfg_t *cfg_of(void *c)
{
	return c;
}

static const char *prog_of(void *c)
{
	return cfg_of(c)->tool->prog;
}

/* u64 in [min, max] into *v32 */
static int opt_u32(void *c, const char *name, const char *a, uint64_t min, uint64_t max,
		   uint32_t *v32)
{
	uint64_t v;
	int ret = rps_opt_u64(prog_of(c), name, a, min, max, &v);

	if (!ret)
		*v32 = (uint32_t)v;
	return ret;
}

static int opt_all(void *c, const char *a)
{
	(void)a;
	cfg_of(c)->all = true;
	return 0;
}

static int opt_bidir(void *c, const char *a)
{
	(void)a;
	cfg_of(c)->bidir = true;
	return 0;
}

static int opt_connection(void *c, const char *a)
{
	if (strcmp(a, "RC")) {
		fprintf(stderr, "%s: --connection: '%s' is not supported: only RC\n", prog_of(c),
			a);
		return -EINVAL;
	}
	return 0;
}

static int opt_device(void *c, const char *a)
{
	cfg_of(c)->attr.device = a;
	return 0;
}

static int opt_duration(void *c, const char *a)
{
	return opt_u32(c, "duration", a, 1, 86400, &cfg_of(c)->duration);
}

static int opt_ignored(void *c, const char *a)
{
	(void)c;
	(void)a;
	return 0;
}

static int opt_ib_port(void *c, const char *a)
{
	uint32_t v;
	int ret = opt_u32(c, "ib-port", a, 1, 255, &v);

	if (!ret)
		cfg_of(c)->attr.port = (uint8_t)v;
	return ret;
}

static int opt_inline(void *c, const char *a)
{
	uint32_t v;
	int ret = opt_u32(c, "inline_size", a, 0, PT_MAX_INLINE, &v);

	if (!ret)
		cfg_of(c)->inline_size = (int)v;
	return ret;
}

static int opt_iters(void *c, const char *a)
{
	return rps_opt_u64(prog_of(c), "iters", a, PT_MIN_ITERS, PT_MAX_ITERS, &cfg_of(c)->iters);
}

static int opt_no_peak(void *c, const char *a)
{
	(void)a;
	cfg_of(c)->no_peak = true;
	return 0;
}

static int opt_port(void *c, const char *a)
{
	uint32_t v;
	int ret = opt_u32(c, "port", a, 0, 65535, &v);

	if (!ret)
		cfg_of(c)->port = (uint16_t)v;
	return ret;
}

static int opt_qp(void *c, const char *a)
{
	return opt_u32(c, "qp", a, 1, PT_MAX_QPS, &cfg_of(c)->nqps);
}

static int opt_size(void *c, const char *a)
{
	return rps_opt_size(prog_of(c), "size", a, 1, PT_MAX_SIZE, &cfg_of(c)->size);
}

static int opt_tx_depth(void *c, const char *a)
{
	return opt_u32(c, "tx-depth", a, 1, PT_MAX_TX, &cfg_of(c)->tx_depth);
}

static int opt_version(void *c, const char *a)
{
	(void)a;
	cfg_of(c)->version = true;
	return 0;
}

static int opt_gid_index(void *c, const char *a)
{
	uint32_t v;
	int ret = opt_u32(c, "gid-index", a, 0, 255, &v);

	if (!ret)
		cfg_of(c)->attr.gid_index = (int)v;
	return ret;
}

static int opt_output(void *c, const char *a)
{
	pt_cfg_t *cfg = cfg_of(c);
	bool bw = cfg->tool->test == PT_BW;

	if (bw && !strcmp(a, "bandwidth"))
		cfg->output = PT_OUT_BANDWIDTH;
	else if (bw && !strcmp(a, "message_rate"))
		cfg->output = PT_OUT_MSG_RATE;
	else if (!bw && !strcmp(a, "latency"))
		cfg->output = PT_OUT_LATENCY;
	else {
		fprintf(stderr, "%s: --output: '%s' is not %s\n", prog_of(c), a,
			bw ? "bandwidth or message_rate" : "latency");
		return -EINVAL;
	}
	return 0;
}

static int opt_report_gbits(void *c, const char *a)
{
	(void)a;
	cfg_of(c)->gbits = true;
	return 0;
}

static int opt_provider(void *c, const char *a)
{
	return rps_opt_provider(prog_of(c), a, &cfg_of(c)->attr.provider);
}

static int opt_ofi_provider(void *c, const char *a)
{
	cfg_of(c)->attr.ofi_provider = a;
	return 0;
}

static const pt_opt_t pt_opts[] = {
	{ { "all", 'a', NULL, "run sizes from 2 till 2^23 (or till --size)", opt_all }, BW | LAT },
	{ { "bidirectional", 'b', NULL, "both sides send (default unidirectional)", opt_bidir },
	  BW },
	{ { "connection", 'c', "TYPE", "connection type: RC only", opt_connection }, BW | LAT },
	{ { "ib-dev", 'd', "DEV", "RDMA device (verbs) or libfabric domain (ofi)", opt_device },
	  BW | LAT },
	{ { "duration", 'D', "SEC", "run for SEC seconds instead of --iters", opt_duration },
	  BW | LAT },
	{ { "CPU-freq", 'F', NULL, "accepted, no effect (the cycle counter's rate is measured)",
	    opt_ignored },
	  BW | LAT },
	{ { "ib-port", 'i', "PORT", "port of the RDMA device (default: the first active)",
	    opt_ib_port },
	  BW | LAT },
	{ { "inline_size", 'I', "SIZE", "max size sent inline (WRITE; default 0 bw, 220 write_lat)",
	    opt_inline },
	  BW | LAT },
	{ { "iters", 'n', "N", "iterations (at least 5; default 5000 bw, 1000 lat)", opt_iters },
	  BW | LAT },
	{ { "noPeak", 'N', NULL, "do not compute the peak bandwidth", opt_no_peak }, BW },
	{ { "port", 'p', "PORT", "listen on/connect to PORT (default 18515; server: 0 = any)",
	    opt_port },
	  BW | LAT },
	{ { "qp", 'q', "N", "number of QPs (connections), traffic round robin (default 1)",
	    opt_qp },
	  BW | LAT },
	{ { "rdma_cm", 'R', NULL, "accepted: connections always use rdma_cm/libfabric CM",
	    opt_ignored },
	  BW | LAT },
	{ { "size", 's', "SIZE", "message size, K/M/G suffixes (default 65536 bw, 2 lat)",
	    opt_size },
	  BW | LAT },
	{ { "tx-depth", 't', "N", "operations in flight per QP (default 128 bw, 1 lat)",
	    opt_tx_depth },
	  BW | LAT },
	{ { "version", 'V', NULL, "print the version and exit", opt_version }, BW | LAT },
	{ { "gid-index", 'x', "INDEX", "GID index of the verbs port (default: any)",
	    opt_gid_index },
	  BW | LAT },
	{ { "output", 0, "UNITS",
	    "print only the number: bandwidth or message_rate (bw), latency (lat)", opt_output },
	  BW | LAT },
	{ { "report_gbits", 0, NULL, "report bandwidth in Gb/sec instead of MB/sec (2^20 bytes)",
	    opt_report_gbits },
	  BW },
	{ { "provider", 0, "NAME", "transport: auto (default), verbs or ofi", opt_provider },
	  BW | LAT },
	{ { "ofi-provider", 0, "NAME", "libfabric provider of the ofi transport (default tcp)",
	    opt_ofi_provider },
	  BW | LAT },
};

#define PT_NOPTS (sizeof(pt_opts) / sizeof(pt_opts[0]))

int pt_cfg_init(pt_cfg_t *cfg, const pt_tool_t *tool)
{
	bool bw = tool->test == PT_BW;

	memset(cfg, 0, sizeof(*cfg));
	cfg->tool = tool;
	cfg->port = PT_DEF_PORT;
	cfg->size = bw ? PT_DEF_SIZE_BW : PT_DEF_SIZE_LAT;
	cfg->iters = bw ? PT_DEF_ITERS_BW : PT_DEF_ITERS_LAT;
	cfg->nqps = 1;
	cfg->tx_depth = bw ? PT_DEF_TX_BW : PT_DEF_TX_LAT;
	cfg->inline_size = -1;
	return rps_transport_attr_init(&cfg->attr);
}

/* Combinations no single handler can judge: one line naming the option. */
static int pt_opts_check(pt_cfg_t *cfg, bool iters_given)
{
	const char *prog = cfg->tool->prog;

	if (cfg->all && cfg->size < 2) {
		fprintf(stderr, "%s: --size: with --all at least 2\n", prog);
		return -EINVAL;
	}
	if (cfg->duration && cfg->all) {
		fprintf(stderr, "%s: --duration: not with --all\n", prog);
		return -EINVAL;
	}
	if (cfg->duration && iters_given) {
		fprintf(stderr, "%s: --duration: give either --duration or --iters\n", prog);
		return -EINVAL;
	}
	if (cfg->host && cfg->port == 0) {
		fprintf(stderr, "%s: --port: 0 (any free port) is for the server only\n", prog);
		return -EINVAL;
	}
	return 0;
}

int pt_opts_parse(pt_cfg_t *cfg, int argc, char **argv)
{
	rps_opt_t opts[PT_NOPTS];
	size_t n = 0;
	int first;
	const char *summary =
		cfg->tool->test == PT_BW
			? "perftest-compatible RDMA bandwidth test over the rdmaps transport.\n"
			  "Without HOST: server, waits for one client; with HOST: client."
			: "perftest-compatible RDMA latency test over the rdmaps transport.\n"
			  "Without HOST: server, waits for one client; with HOST: client.";

	for (size_t i = 0; i < PT_NOPTS; i++)
		if (pt_opts[i].tests & (1u << cfg->tool->test))
			opts[n++] = pt_opts[i].opt;

	const rps_opt_cmd_t cmd = {
		.prog = cfg->tool->prog,
		.synopsis = "[OPTIONS] [HOST]",
		.summary = summary,
		.opts = opts,
		.nopts = n,
	};
	uint64_t default_iters = cfg->iters, default_size = cfg->size;

	/* sentinels tell whether --iters and --size were given */
	cfg->iters = cfg->size = 0;
	first = rps_opt_parse(&cmd, cfg, argc, argv);
	if (first <= 0)
		return first;
	bool iters_given = cfg->iters != 0;
	if (!iters_given)
		cfg->iters = default_iters;
	/* -a: sizes 2 .. 2^23, or 2 .. --size when given (an rdmaps extension) */
	if (!cfg->size)
		cfg->size = cfg->all ? 1ull << PT_ALL_MAX_LOG : default_size;
	if (cfg->version) {
		printf("%s (rdmaps) %s\n", cfg->tool->prog, rps_version());
		return 0;
	}
	if (argc - first > 1) {
		fprintf(stderr, "%s: %s: one HOST at most (try --help)\n", cfg->tool->prog,
			argv[first + 1]);
		return -EINVAL;
	}
	cfg->host = argc - first == 1 ? argv[first] : NULL;
	return pt_opts_check(cfg, iters_given) ? -EINVAL : 1;
}
