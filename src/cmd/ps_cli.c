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
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd_place.h"
#include "cmd/ps_cli.h"
#include "cmd/weights_file.h"
#include "ml/model.h"
#include "topo/topo.h"
#include "util/log.h"

#define PROG "rdma-ps"

#define CLI(c) ((struct ps_cli *)(c))

static int o_listen(void *c, const char *a)
{
	CLI(c)->srv.addr = a;
	return 0;
}

static int o_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "port", a, 0, 65535, &v);

	CLI(c)->srv.port = (uint16_t)v;
	return ret;
}

static int o_workers(void *c, const char *a)
{
	return rps_opt_u32(PROG, "workers", a, 1, RPS_MAX_WORKERS_CLI, &CLI(c)->srv.num_workers);
}

static int o_params(void *c, const char *a)
{
	return rps_opt_u64(PROG, "params", a, 1, 1ull << 36, &CLI(c)->model_params);
}

static int o_model(void *c, const char *a)
{
	CLI(c)->model_spec = a;
	return cmd_check_model_spec(PROG, a);
}

/* read after parsing (ps_cli_parse): a --config file may name it too */
static int o_init_weights(void *c, const char *a)
{
	if (!*a) {
		fprintf(stderr, PROG ": --init-weights: empty path\n");
		return -EINVAL;
	}
	CLI(c)->init_weights_path = a;
	return 0;
}

static int o_features(void *c, const char *a)
{
	return rps_opt_u32(PROG, "features", a, 1, RPS_MODEL_MAX_WIDTH, &CLI(c)->features);
}

static int o_classes(void *c, const char *a)
{
	return rps_opt_u32(PROG, "classes", a, 2, RPS_MODEL_MAX_WIDTH, &CLI(c)->classes);
}

static int o_seed(void *c, const char *a)
{
	return rps_opt_u64(PROG, "seed", a, 0, UINT64_MAX, &CLI(c)->seed);
}

/* I/K: this server holds shard I (from 0) of K */
static int o_shard(void *c, const char *a)
{
	unsigned long i, k;
	int end = 0;

	if (sscanf(a, "%lu/%lu%n", &i, &k, &end) != 2 || a[end] || !k || i >= k ||
	    k > RPS_MAX_WORKERS_CLI || a[0] == '-') {
		fprintf(stderr, PROG ": --shard: '%s' is not I/K with 0 <= I < K <= %u\n", a,
			RPS_MAX_WORKERS_CLI);
		return -EINVAL;
	}
	CLI(c)->shard_index = (uint32_t)i;
	CLI(c)->shard_count = (uint32_t)k;
	return 0;
}

static int o_checkpoint_dir(void *c, const char *a)
{
	if (!*a) {
		fprintf(stderr, PROG ": --checkpoint-dir: empty path\n");
		return -EINVAL;
	}
	CLI(c)->checkpoint_dir = a;
	return 0;
}

static int o_checkpoint_interval(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "checkpoint-interval", a, 0, 30 * 86400, &v);

	CLI(c)->checkpoint_interval = (unsigned)v;
	return ret;
}

static int o_resume(void *c, const char *a)
{
	(void)a;
	CLI(c)->resume = true;
	return 0;
}

static int o_resume_auto(void *c, const char *a)
{
	(void)a;
	CLI(c)->resume_auto = true;
	return 0;
}

static int o_cpus(void *c, const char *a)
{
	CLI(c)->srv.cpus = a; /* checked by the placement, at start */
	return 0;
}

static int o_numa(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "numa", a, 0, 4095, &v);

	CLI(c)->srv.numa_node = (int)v;
	return ret;
}

static int o_no_pin(void *c, const char *a)
{
	(void)a;
	CLI(c)->srv.no_pin = true;
	return 0;
}

static int o_show_topology(void *c, const char *a)
{
	(void)a;
	CLI(c)->show_topology = true;
	return 0;
}

static int o_once(void *c, const char *a)
{
	(void)a;
	CLI(c)->once = true;
	return 0;
}

static int o_algo(void *c, const char *a)
{
	rps_algo_t algo;

	if (rps_algo_parse(a, &algo)) {
		fprintf(stderr,
			PROG ": --algo: '%s' is not sgd, asgd, ssgd, dc-asgd-c, "
			     "dc-asgd-a, pc-asgd or dude-asgd\n",
			a);
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
	return cmd_parse_float(PROG, "lr", a, 1e-12f, 1e6f, &CLI(c)->hp.lr);
}

/* constant, or step:N,GAMMA (lr *= GAMMA every N server updates) */
static int o_lr_schedule(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_LR_SCHEDULE;
	return cmd_parse_lr_schedule(PROG, a, &CLI(c)->hp.lr_decay_every, &CLI(c)->hp.lr_decay);
}

static int o_lambda(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_LAMBDA;
	return cmd_parse_float(PROG, "lambda", a, 0, 1e6f, &CLI(c)->hp.lambda);
}

static int o_ms_decay(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_MS_DECAY;
	return cmd_parse_float(PROG, "ms-decay", a, 0, 0.999999f, &CLI(c)->hp.ms_decay);
}

static int o_momentum(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_MOMENTUM;
	return cmd_parse_float(PROG, "momentum", a, 0, 0.999999f, &CLI(c)->hp.momentum);
}

static int o_weight_decay(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_WEIGHT_DECAY;
	return cmd_parse_float(PROG, "weight-decay", a, 0, 1e6f, &CLI(c)->hp.weight_decay);
}

static int o_theta(void *c, const char *a)
{
	CLI(c)->given |= PS_HP_THETA;
	return cmd_parse_float(PROG, "theta", a, 0, 1, &CLI(c)->hp.theta);
}

static int o_max_staleness(void *c, const char *a)
{
	return rps_opt_u32(PROG, "max-staleness", a, 0, 1u << 30, &CLI(c)->srv.max_staleness);
}

static int o_ssgd_timeout(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "ssgd-timeout", a, 0, 86400, &v);

	CLI(c)->srv.ssgd_timeout_ms = (uint32_t)(v * 1000);
	return ret;
}

static int o_threads(void *c, const char *a)
{
	return rps_opt_u32(PROG, "threads", a, 1, 256, &CLI(c)->srv.threads);
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

static const rps_opt_t ps_opts[] = {
	{ "listen", 'l', "ADDR", "address to listen on (default: all)", o_listen },
	{ "port", 'p', "PORT", "port to listen on (default 18515; 0 = any free)", o_port },
	CMD_TRANSPORT_OPTS,
	{ "workers", 'w', "M", "number of workers (slots laid out; required)", o_workers },
	{ "model", 'm', "SPEC", "softmax or mlp:H[,H...]: size and initial weights", o_model },
	{ "features", 0, "D", "--model input dimension (default 784, Fashion-MNIST)", o_features },
	{ "classes", 0, "C", "--model classes (default 10)", o_classes },
	{ "seed", 0, "N", "--model initialisation seed (default 1)", o_seed },
	{ "params", 'n', "N", "model size in floats (zeros; or give --model)", o_params },
	{ "init-weights", 0, "FILE",
	  "initial weights and size of the whole model (WEIGHTS FILE in the man page)",
	  o_init_weights },
	{ "shard", 0, "I/K", "hold shard I (from 0) of a model split over K servers", o_shard },
	{ "algo", 'a', "NAME",
	  "sgd|asgd|ssgd|dc-asgd-c|dc-asgd-a|pc-asgd|dude-asgd (default dc-asgd-a)", o_algo },
	{ "lr", 0, "X", "learning rate (default 0.1)", o_lr },
	{ "lr-schedule", 0, "SPEC",
	  "constant (default) or step:N,GAMMA: lr *= GAMMA every N updates", o_lr_schedule },
	{ "lambda", 0, "X", "dc-asgd-c/pc-asgd lambda, dc-asgd-a lambda0 (default 0.04 / 2)",
	  o_lambda },
	{ "ms-decay", 0, "X", "dc-asgd-a mean-square decay m (default 0.95)", o_ms_decay },
	{ "momentum", 0, "X", "sgd/asgd/ssgd momentum (default 0)", o_momentum },
	{ "weight-decay", 0, "X", "sgd/asgd/ssgd weight decay (default 0)", o_weight_decay },
	{ "theta", 0, "X", "pc-asgd trade-off in [0,1] (default 0.5)", o_theta },
	{ "max-staleness", 's', "N", "SSP bound on push counts, 0 = none (default 0)",
	  o_max_staleness },
	{ "ssgd-timeout", 0, "SEC",
	  "ssgd: a round waits this long for slow or absent workers, 0 = forever (default 60)",
	  o_ssgd_timeout },
	{ "threads", 't', "N", "engine threads (default 1)", o_threads },
	{ "cpus", 0, "LIST", "engine threads on these CPUs (\"0-3,8\"; default: next to the NIC)",
	  o_cpus },
	{ "numa", 0, "N", "engine threads and buffers on NUMA node N (default: the NIC's)",
	  o_numa },
	{ "no-pin", 0, NULL, "do not pin engine threads nor bind buffers", o_no_pin },
	{ "show-topology", 0, NULL, "print the NIC, its NUMA node and the placement, then exit",
	  o_show_topology },
	{ "chunk", 'c', "BYTES", "push/pull chunk, K/M suffixes (default 256K)", o_chunk },
	{ "checkpoint-dir", 0, "DIR", "write checkpoints to DIR (periodically and at exit)",
	  o_checkpoint_dir },
	{ "checkpoint-interval", 0, "SEC",
	  "seconds between checkpoints, 0 = only at exit (default 300)", o_checkpoint_interval },
	{ "resume", 0, NULL, "start from the checkpoint in --checkpoint-dir", o_resume },
	{ "resume-auto", 0, NULL,
	  "--resume when a checkpoint is there, else start fresh (requeues)", o_resume_auto },
	CMD_AUTH_OPT,
	{ "once", 0, NULL, "exit 0 when every worker has joined and left", o_once },
	CMD_REPORT_OPTS,
};

const rps_opt_cmd_t ps_cli_cmd = {
	.prog = PROG,
	.synopsis = "--workers M (--model SPEC | --params N | --init-weights FILE) [OPTIONS]",
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
	cli->features = 784;
	cli->classes = 10;
	cli->seed = 1;
	cli->shard_count = 1;
	cli->checkpoint_interval = 300;
	cli->srv.ssgd_timeout_ms = 60000;
	return cmd_common_init(&cli->common, PROG, 5);
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
	if (cli->given & PS_HP_LR_SCHEDULE) {
		hp.lr_decay_every = cli->hp.lr_decay_every;
		hp.lr_decay = cli->hp.lr_decay;
	}
	cli->srv.hp = hp;
}

/* a writable directory, or one line saying why not */
static int checkpoint_dir_problem(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR)) ||
	    access(dir, W_OK | X_OK)) {
		fprintf(stderr, PROG ": --checkpoint-dir: %s: %s\n", dir, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* --init-weights gives the size and the weights; --params, if also
 * given, must agree with it; --model would be a second source. */
static int init_weights_size(struct ps_cli *cli)
{
	char why[CMD_WEIGHTS_WHY_LEN];
	uint64_t n = 0;

	if (cli->model_spec) {
		fprintf(stderr, PROG ": --init-weights and --model both give the initial weights: "
				     "choose one\n");
		return -EINVAL;
	}
	if (cmd_weights_read(cli->init_weights_path, &cli->init_weights, &n, why, sizeof(why))) {
		fprintf(stderr, PROG ": --init-weights: %s\n", why);
		return -EINVAL;
	}
	if (cli->model_params && cli->model_params != n) {
		fprintf(stderr,
			PROG ": --params %llu does not match --init-weights %s (%llu params)\n",
			(unsigned long long)cli->model_params, cli->init_weights_path,
			(unsigned long long)n);
		free(cli->init_weights);
		cli->init_weights = NULL;
		return -EINVAL;
	}
	cli->model_params = n;
	return 0;
}

/* --model gives the size (and later the initial weights); --params, if
 * also given, must agree with it. */
static int model_size(struct ps_cli *cli)
{
	rps_model_t *m;
	uint64_t n;
	int ret;

	if (cli->init_weights_path)
		return init_weights_size(cli);
	if (!cli->model_spec)
		return 0;
	if ((ret = rps_model_create(cli->model_spec, cli->features, cli->classes, 1, &m))) {
		fprintf(stderr, PROG ": --model %s with %u features and %u classes: %s\n",
			cli->model_spec, cli->features, cli->classes, rps_strerror(ret));
		return -EINVAL;
	}
	n = rps_model_num_params(m);
	rps_model_destroy(m);
	if (cli->model_params && cli->model_params != n) {
		fprintf(stderr, PROG ": --params %llu does not match --model %s (%llu params)\n",
			(unsigned long long)cli->model_params, cli->model_spec,
			(unsigned long long)n);
		return -EINVAL;
	}
	cli->model_params = n;
	return 0;
}

int ps_cli_parse(struct ps_cli *cli, int argc, char **argv)
{
	int ret = cmd_parse(&ps_cli_cmd, cli, sizeof(*cli), argc, argv);

	if (ret <= 0 || cli->common.show_version)
		return ret;
	if (cmd_place_check(
		    PROG,
		    &(struct cmd_place_opts){ cli->srv.cpus, cli->srv.numa_node, cli->srv.no_pin },
		    cli->srv.threads))
		return -EINVAL;
	if (cli->show_topology) {
		cli->srv.transport = &cli->common.attr;
		return 1;
	}
	if (!cli->srv.num_workers ||
	    !(cli->model_params || cli->model_spec || cli->init_weights_path)) {
		fprintf(stderr, PROG ": --workers and --model, --params or --init-weights are "
				     "required (try --help)\n");
		return -EINVAL;
	}
	if (model_size(cli))
		return -EINVAL;
	if (rps_shard_range(cli->model_params, cli->shard_count, cli->shard_index,
			    &cli->srv.shard_offset, &cli->srv.num_params)) {
		fprintf(stderr, PROG ": --shard %u/%u: the model has only %llu params\n",
			cli->shard_index, cli->shard_count, (unsigned long long)cli->model_params);
		return -EINVAL;
	}
	if ((cli->resume || cli->resume_auto) && !cli->checkpoint_dir) {
		fprintf(stderr, PROG ": --resume%s needs --checkpoint-dir\n",
			cli->resume ? "" : "-auto");
		return -EINVAL;
	}
	if (cli->checkpoint_dir && checkpoint_dir_problem(cli->checkpoint_dir))
		return -EINVAL;
	if (cli->checkpoint_dir) {
		int len = cli->shard_count > 1
				  ? snprintf(cli->checkpoint_path, sizeof(cli->checkpoint_path),
					     "%s/rdma-ps-shard-%u-of-%u.ckpt", cli->checkpoint_dir,
					     cli->shard_index, cli->shard_count)
				  : snprintf(cli->checkpoint_path, sizeof(cli->checkpoint_path),
					     "%s/rdma-ps.ckpt", cli->checkpoint_dir);

		if (len < 0 || (size_t)len >= sizeof(cli->checkpoint_path)) {
			fprintf(stderr, PROG ": --checkpoint-dir: path too long\n");
			return -EINVAL;
		}
		if (cli->resume)
			cli->srv.resume_path = cli->checkpoint_path;
	}
	apply_hparams(cli);
	cli->srv.transport = &cli->common.attr;
	if (cli->common.auth_token_len) {
		cli->srv.auth_token = cli->common.auth_token;
		cli->srv.auth_token_len = cli->common.auth_token_len;
	}
	return 1;
}
