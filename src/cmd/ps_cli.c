/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-ps command line: one option table, one handler per option, --help
 * generated from the table, and every option also settable in a key=value
 * config file (--config; the command line wins).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/ps_cli.h"
#include "util/log.h"

#define PROG "rdma-ps"

static int parse_float(const char *name, const char *arg, float lo, float hi, float *v_p)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, PROG ": --%s: '%s' is not a number in [%g, %g]\n", name, arg,
			(double)lo, (double)hi);
		return -EINVAL;
	}
	*v_p = (float)v;
	return 0;
}

#define CLI(c) ((struct ps_cli *)(c))

static int o_listen(void *c, const char *a) { CLI(c)->srv.addr = a; return 0; }

static int o_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "port", a, 0, 65535, &v);

	CLI(c)->srv.port = (uint16_t)v;
	return ret;
}

static int o_provider(void *c, const char *a)
{
	return rps_opt_provider(PROG, a, &CLI(c)->attr.provider);
}

static int o_device(void *c, const char *a) { CLI(c)->attr.device = a; return 0; }

static int o_ib_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "ib-port", a, 1, 255, &v);

	CLI(c)->attr.port = (uint8_t)v;
	return ret;
}

static int o_gid_index(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "gid-index", a, 0, 65535, &v);

	CLI(c)->attr.gid_index = (int)v;
	return ret;
}

static int o_workers(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "workers", a, 1, RPS_MAX_WORKERS_CLI, &v);

	CLI(c)->srv.num_workers = (uint32_t)v;
	return ret;
}

static int o_params(void *c, const char *a)
{
	return rps_opt_u64(PROG, "params", a, 1, 1ull << 36, &CLI(c)->srv.num_params);
}

static int o_algo(void *c, const char *a)
{
	rps_algo_t algo;

	if (rps_algo_parse(a, &algo)) {
		fprintf(stderr, PROG ": --algo: '%s' is not sgd, asgd, ssgd, dc-asgd-c, "
			"dc-asgd-a, pc-asgd or dude-asgd\n", a);
		return -EINVAL;
	}
	CLI(c)->srv.algo = algo;
	CLI(c)->algo_set = true;
	return 0;
}

/* hyper-parameters are recorded as "given" so that the algorithm's
 * defaults, applied after parsing, never overwrite them */
static int o_lr(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_LR;
	return parse_float("lr", a, 1e-12f, 1e6f, &CLI(c)->hp.lr);
}

static int o_lambda(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_LAMBDA;
	return parse_float("lambda", a, 0, 1e6f, &CLI(c)->hp.lambda);
}

static int o_ms_decay(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_MS_DECAY;
	return parse_float("ms-decay", a, 0, 0.999999f, &CLI(c)->hp.ms_decay);
}

static int o_momentum(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_MOMENTUM;
	return parse_float("momentum", a, 0, 0.999999f, &CLI(c)->hp.momentum);
}

static int o_weight_decay(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_WEIGHT_DECAY;
	return parse_float("weight-decay", a, 0, 1e6f, &CLI(c)->hp.weight_decay);
}

static int o_theta(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_THETA;
	return parse_float("theta", a, 0, 1, &CLI(c)->hp.theta);
}

static int o_max_staleness(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "max-staleness", a, 0, 1u << 30, &v);

	CLI(c)->srv.max_staleness = (uint32_t)v;
	return ret;
}

static int o_threads(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "threads", a, 1, 256, &v);

	CLI(c)->srv.threads = (uint32_t)v;
	return ret;
}

static int o_chunk(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_size(PROG, "chunk", a, 4096, 64u << 20, &v);

	if (!ret && v % 64) {
		fprintf(stderr, PROG ": --chunk: '%s' is not a multiple of 64 bytes\n", a);
		return -EINVAL;
	}
	CLI(c)->srv.chunk_bytes = (uint32_t)v;
	return ret;
}

static int o_status_interval(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "status-interval", a, 0, 86400, &v);

	CLI(c)->status_interval = (unsigned)v;
	return ret;
}

static int o_metrics(void *c, const char *a) { CLI(c)->metrics_path = a; return 0; }

static int o_log_level(void *c, const char *a)
{
	if (rps_log_level_parse(a, &CLI(c)->log_level)) {
		fprintf(stderr, PROG ": --log-level: '%s' is not error, warn, info or debug\n", a);
		return -EINVAL;
	}
	return 0;
}

/* remembered by the first pass; the file is applied before the second */
static int o_config(void *c, const char *a)
{
	CLI(c)->config_path = a;
	return 0;
}

static int o_version(void *c, const char *a)
{
	(void)a;
	CLI(c)->show_version = true;
	return 0;
}

static const rps_opt_t ps_opts[] = {
	{"listen", 'l', "ADDR", "address to listen on (default: all)", o_listen},
	{"port", 'p', "PORT", "port to listen on (default 18515; 0 = any free)", o_port},
	{"provider", 'P', "NAME", "transport: auto (default), verbs or ofi", o_provider},
	{"device", 'd', "DEV", "verbs device (mlx5_0, rxe0) or ofi domain", o_device},
	{"ib-port", 'i', "N", "HCA port (verbs; default: any active)", o_ib_port},
	{"gid-index", 'x', "N", "expected GID index (verbs; rdma_cm chooses)", o_gid_index},
	{"workers", 'w', "M", "number of workers (slots laid out; required)", o_workers},
	{"params", 'n', "N", "model size in float parameters (required)", o_params},
	{"algo", 'a', "NAME", "sgd|asgd|ssgd|dc-asgd-c|dc-asgd-a|pc-asgd|dude-asgd (default dc-asgd-a)", o_algo},
	{"lr", 0, "X", "learning rate (default 0.1)", o_lr},
	{"lambda", 0, "X", "dc-asgd-c/pc-asgd lambda, dc-asgd-a lambda0 (default 0.04 / 2)", o_lambda},
	{"ms-decay", 0, "X", "dc-asgd-a mean-square decay m (default 0.95)", o_ms_decay},
	{"momentum", 0, "X", "sgd/asgd/ssgd momentum (default 0)", o_momentum},
	{"weight-decay", 0, "X", "sgd/asgd/ssgd weight decay (default 0)", o_weight_decay},
	{"theta", 0, "X", "pc-asgd trade-off in [0,1] (default 0.5)", o_theta},
	{"max-staleness", 's', "N", "SSP bound on push counts, 0 = none (default 0)", o_max_staleness},
	{"threads", 't', "N", "engine threads (default 1)", o_threads},
	{"chunk", 'c', "BYTES", "push/pull chunk, K/M suffixes (default 256K)", o_chunk},
	{"status-interval", 0, "SEC", "seconds between status lines, 0 = none (default 5)", o_status_interval},
	{"metrics", 0, "FILE", "append one CSV row per status line to FILE", o_metrics},
	{"log-level", 0, "LEVEL", "error, warn (default), info or debug", o_log_level},
	{"config", 'C', "FILE", "read options from a key=value file first", o_config},
	{"version", 'V', NULL, "print the version and exit", o_version},
};

const rps_opt_cmd_t ps_cli_cmd = {
	.prog = PROG,
	.synopsis = "--workers M --params N [OPTIONS]",
	.summary = "rdmaps parameter server: workers push gradients with RDMA WRITEs, pull\n"
		   "weights with RDMA READs; engine threads apply the chosen algorithm.",
	.opts = ps_opts,
	.nopts = sizeof(ps_opts) / sizeof(ps_opts[0]),
};

int ps_cli_init(struct ps_cli *cli)
{
	memset(cli, 0, sizeof(*cli));
	rps_server_config_init(&cli->srv);
	cli->srv.port = 18515;
	cli->status_interval = 5;
	cli->log_level = rps_log_get_level();
	return rps_transport_attr_init(&cli->attr);
}

/* The algorithm's defaults, then the hyper-parameters the user gave. */
static void apply_hparams(struct ps_cli *cli)
{
	rps_hparams_t hp;

	rps_hparams_default(cli->srv.algo, &hp);
	if (cli->given & PS_HP_LR)
		hp.lr = cli->hp.lr;
	if (cli->given & PS_HP_LAMBDA)
		hp.lambda = cli->hp.lambda;
	if (cli->given & PS_HP_MS_DECAY)
		hp.ms_decay = cli->hp.ms_decay;
	if (cli->given & PS_HP_MOMENTUM)
		hp.momentum = cli->hp.momentum;
	if (cli->given & PS_HP_WEIGHT_DECAY)
		hp.weight_decay = cli->hp.weight_decay;
	if (cli->given & PS_HP_THETA)
		hp.theta = cli->hp.theta;
	cli->srv.hp = hp;
}

int ps_cli_parse(struct ps_cli *cli, int argc, char **argv)
{
	struct ps_cli scan = *cli;
	int first;

	/* first pass, into a scratch copy: finds --config however it is
	 * spelled (-C F, --conf=F, ...) and reports any bad option once */
	first = rps_opt_parse(&ps_cli_cmd, &scan, argc, argv);
	if (first <= 0)
		return first; /* 0: --help printed */
	/* the file first, then the command line again: the command line wins */
	if (scan.config_path && rps_opt_load_file(&ps_cli_cmd, cli, scan.config_path))
		return -EINVAL;
	first = rps_opt_parse(&ps_cli_cmd, cli, argc, argv);
	if (first <= 0)
		return first; /* 0: --help printed */
	if (first < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", argv[first]);
		return -EINVAL;
	}
	if (cli->show_version)
		return first;
	if (!cli->srv.num_workers || !cli->srv.num_params) {
		fprintf(stderr, PROG ": --workers and --params are required (try --help)\n");
		return -EINVAL;
	}
	apply_hparams(cli);
	cli->srv.transport = &cli->attr;
	return first;
}
