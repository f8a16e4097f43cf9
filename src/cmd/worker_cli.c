/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker command line: one option table (the transport, report and
 * config options are shared with rdma-ps), --help generated from it, and
 * every option also settable in a key=value config file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/worker_cli.h"
#include "ml/dataset.h"

#define PROG   "rdma-worker"
#define CLI(c) ((struct worker_cli *)(c))

/* "HOST[:PORT]" into s; an IPv6 literal goes in brackets: [fe80::1]:18515 */
static int parse_server(const char *item, size_t len, struct worker_server *s)
{
	const char *colon, *host = item;
	size_t hlen = len;
	uint64_t port = 0;

	if (len && item[0] == '[') {
		const char *close = memchr(item, ']', len);

		if (!close)
			return -EINVAL;
		host = item + 1;
		hlen = (size_t)(close - host);
		colon = close + 1 < item + len ? close + 1 : NULL;
		if (colon && *colon != ':')
			return -EINVAL;
	} else {
		colon = memchr(item, ':', len);
		if (colon)
			hlen = (size_t)(colon - item);
	}
	if (!hlen || hlen >= sizeof(s->host))
		return -EINVAL;
	if (colon) {
		const char *p = colon + 1;

		if (p == item + len)
			return -EINVAL;
		for (; p < item + len; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			port = port * 10 + (uint64_t)(*p - '0');
			if (port > 65535)
				return -EINVAL;
		}
		if (!port)
			return -EINVAL;
	}
	memcpy(s->host, host, hlen);
	s->host[hlen] = '\0';
	s->port = (uint16_t)port;
	return 0;
}

/* a comma-separated list; several servers hold the model's shards in order */
static int o_server(void *c, const char *a)
{
	struct worker_cli *cli = CLI(c);
	const char *p = a;

	cli->nservers = 0;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (cli->nservers == WORKER_MAX_SERVERS) {
			fprintf(stderr, PROG ": --server: more than %u servers\n",
				WORKER_MAX_SERVERS);
			return -EINVAL;
		}
		if (parse_server(p, len, &cli->servers[cli->nservers])) {
			fprintf(stderr,
				PROG ": --server: '%.*s' is not HOST[:PORT] (port 1..65535)\n",
				(int)len, p);
			return -EINVAL;
		}
		cli->nservers++;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int worker_cli_peer(const struct worker_cli *cli, uint32_t i, struct worker_server *peer)
{
	const char *p = cli->peers;
	size_t len;

	if (!p)
		return -EINVAL;
	for (; i; i--) {
		p += strcspn(p, ",");
		if (!*p)
			return -EINVAL;
		p++;
	}
	len = strcspn(p, ",");
	if (parse_server(p, len, peer))
		return -EINVAL;
	if (!peer->port)
		peer->port = cli->port;
	return 0;
}

static int o_algo(void *c, const char *a)
{
	if (!strcmp(a, "dc-s3gd")) {
		CLI(c)->s3gd = true;
		CLI(c)->pcasgd = false;
	} else if (!strcmp(a, "pc-asgd")) {
		CLI(c)->pcasgd = true;
		CLI(c)->s3gd = false;
	} else {
		fprintf(stderr,
			PROG ": --algo: '%s': the worker runs dc-s3gd or pc-asgd without a "
			     "server (the other algorithms, and pc-asgd's server form, are "
			     "rdma-ps --algo)\n",
			a);
		return -EINVAL;
	}
	return 0;
}

static int o_peers(void *c, const char *a)
{
	CLI(c)->peers = a; /* checked against --world after parsing */
	CLI(c)->peer_opt_given = true;
	return 0;
}

static int o_staleness(void *c, const char *a)
{
	int ret = rps_opt_u32(PROG, "staleness", a, 1, WORKER_MAX_STALENESS, &CLI(c)->staleness);

	CLI(c)->s3gd_opt_given = true;
	return ret;
}

static int o_lr(void *c, const char *a)
{
	CLI(c)->peer_opt_given = true;
	return cmd_parse_float(PROG, "lr", a, 1e-12f, 1e6f, &CLI(c)->lr);
}

/* rdma-ps's --lr-schedule, counted in this worker's steps */
static int o_lr_schedule(void *c, const char *a)
{
	CLI(c)->peer_opt_given = true;
	CLI(c)->lr_schedule_set = true;
	return cmd_parse_lr_schedule(PROG, a, &CLI(c)->lr_decay_every, &CLI(c)->lr_decay);
}

static int o_lambda(void *c, const char *a)
{
	CLI(c)->s3gd_opt_given = true;
	CLI(c)->lambda_set = true;
	return cmd_parse_float(PROG, "lambda", a, 0, 1e6f, &CLI(c)->lambda);
}

static int o_lambda0(void *c, const char *a)
{
	CLI(c)->s3gd_opt_given = true;
	CLI(c)->lambda_set = false;
	return cmd_parse_float(PROG, "lambda0", a, 0, 1e6f, &CLI(c)->lambda0);
}

static int o_topology(void *c, const char *a)
{
	CLI(c)->pc_opt_given = true;
	if (!strcmp(a, "ring"))
		CLI(c)->topology = WORKER_TOPO_RING;
	else if (!strcmp(a, "full"))
		CLI(c)->topology = WORKER_TOPO_FULL;
	else {
		fprintf(stderr, PROG ": --topology: '%s': expected ring or full\n", a);
		return -EINVAL;
	}
	return 0;
}

static int o_theta(void *c, const char *a)
{
	CLI(c)->pc_opt_given = true;
	CLI(c)->theta_auto = !strcmp(a, "auto");
	if (CLI(c)->theta_auto)
		return 0;
	return cmd_parse_float(PROG, "theta", a, 0, 1, &CLI(c)->theta);
}

static int o_delay_bound(void *c, const char *a)
{
	CLI(c)->pc_opt_given = true;
	return rps_opt_u64(PROG, "delay-bound", a, 0, 1000000, &CLI(c)->delay_bound);
}

static int o_momentum(void *c, const char *a)
{
	CLI(c)->pc_opt_given = true;
	/* 1 would never forget a step: the buffer grows without bound */
	return cmd_parse_float(PROG, "momentum", a, 0, 0.999f, &CLI(c)->momentum);
}

static int o_init_seed(void *c, const char *a)
{
	CLI(c)->pc_opt_given = true;
	CLI(c)->init_seed_set = true;
	return rps_opt_u64(PROG, "init-seed", a, 0, UINT64_MAX, &CLI(c)->init_seed);
}

static int o_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "port", a, 1, 65535, &v);

	CLI(c)->port = (uint16_t)v;
	return ret;
}

static int o_rank(void *c, const char *a)
{
	int ret = rps_opt_u32(PROG, "rank", a, 0, 4095, &CLI(c)->rank);

	CLI(c)->rank_set = true;
	return ret;
}

static int o_world(void *c, const char *a)
{
	int ret = rps_opt_u32(PROG, "world", a, 1, 4096, &CLI(c)->world);

	CLI(c)->world_set = true;
	return ret;
}

static int o_model(void *c, const char *a)
{
	CLI(c)->model_spec = a;
	return cmd_check_model_spec(PROG, a);
}

/* only the form is checked here; the files are opened after parsing */
static int o_dataset(void *c, const char *a)
{
	unsigned long long n;
	unsigned d, k;
	int end = 0;

	CLI(c)->dataset = a;
	if (!strcmp(a, "fashion-mnist") || (!strncmp(a, "fashion-mnist:", 14) && a[14]))
		return 0;
	if (!strncmp(a, "synthetic:", 10) &&
	    !strpbrk(a + 10, "-+ ") && /* %u would take -1 as 4294967295 */
	    sscanf(a + 10, "%llu,%u,%u%n", &n, &d, &k, &end) == 3 && !a[10 + end] && n >= 2 &&
	    d >= 1 && k >= 2)
		return 0;
	fprintf(stderr,
		PROG ": --dataset: '%s' is not fashion-mnist[:DIR] or synthetic:N,D,C "
		     "(N >= 2, D >= 1, C >= 2)\n",
		a);
	return -EINVAL;
}

static int o_partition(void *c, const char *a)
{
	rps_partition_spec_t spec;
	char why[CMD_WHY_LEN];
	int ret;

	cmd_log_capture(why);
	ret = rps_partition_parse(a, &spec);
	cmd_log_release();
	if (ret) {
		fprintf(stderr, PROG ": --partition: %s\n",
			why[0] ? why : "expected iid or label-skew:ALPHA (ALPHA > 0)");
		return -EINVAL;
	}
	CLI(c)->partition = a;
	return 0;
}

static int o_batch(void *c, const char *a)
{
	return rps_opt_u32(PROG, "batch", a, 1, 65536, &CLI(c)->batch);
}

static int o_epochs(void *c, const char *a)
{
	int ret = rps_opt_u32(PROG, "epochs", a, 1, 1000000, &CLI(c)->epochs);

	CLI(c)->epochs_set = true;
	return ret;
}

static int o_delay_ms(void *c, const char *a)
{
	return rps_opt_u32(PROG, "delay-ms", a, 0, 600000, &CLI(c)->delay_ms);
}

static int o_steps(void *c, const char *a)
{
	return rps_opt_u64(PROG, "steps", a, 0, UINT64_MAX, &CLI(c)->max_steps);
}

static int o_train_samples(void *c, const char *a)
{
	return rps_opt_u64(PROG, "train-samples", a, 0, UINT64_MAX, &CLI(c)->train_samples);
}

static int o_seed(void *c, const char *a)
{
	return rps_opt_u64(PROG, "seed", a, 0, UINT64_MAX, &CLI(c)->seed);
}

static int o_eval_interval(void *c, const char *a)
{
	return rps_opt_u64(PROG, "eval-interval", a, 0, UINT64_MAX, &CLI(c)->eval_interval);
}

static int o_eval_samples(void *c, const char *a)
{
	return rps_opt_u64(PROG, "eval-samples", a, 0, UINT64_MAX, &CLI(c)->eval_samples);
}

static int o_timeout(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "timeout", a, 1, 86400, &v);

	CLI(c)->timeout_s = (unsigned)v;
	return ret;
}

static int o_retry(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "retry", a, 0, 7 * 86400, &v);

	CLI(c)->retry_s = (unsigned)v;
	return ret;
}

static int o_cpus(void *c, const char *a)
{
	CLI(c)->place.cpus = a; /* checked against the machine after parsing */
	return 0;
}

static int o_numa(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "numa", a, 0, 4095, &v);

	CLI(c)->place.numa = (int)v;
	return ret;
}

static int o_no_pin(void *c, const char *a)
{
	(void)a;
	CLI(c)->place.no_pin = true;
	return 0;
}

static const rps_opt_t worker_opts[] = {
	{ "server", 's', "HOST[:PORT],...", "rdma-ps to train with; several = shards in order",
	  o_server },
	{ "port", 'p', "PORT", "port of servers given without one (default 18515)", o_port },
	CMD_TRANSPORT_OPTS,
	{ "rank", 'r', "N", "this worker's rank (default $SLURM_PROCID, else 0)", o_rank },
	{ "world", 'w', "N", "number of workers (default $SLURM_NTASKS, else 1)", o_world },
	{ "model", 'm', "SPEC", "softmax (default) or mlp:H[,H...] (ReLU hidden layers)", o_model },
	{ "dataset", 'D', "SPEC", "fashion-mnist[:DIR] (default) or synthetic:N,D,C", o_dataset },
	{ "partition", 0, "SPEC", "iid (default) or label-skew:ALPHA (Dirichlet)", o_partition },
	{ "batch", 'b', "N", "mini-batch size (default 32)", o_batch },
	{ "epochs", 'e', "N", "passes over this worker's share of the data (default 1)", o_epochs },
	{ "steps", 0, "N",
	  "stop after N steps (without --epochs: exactly N, going round the share), "
	  "0 = when the epochs are done (default)",
	  o_steps },
	{ "delay-ms", 0, "MS", "sleep MS ms per step, a straggler (default 0)", o_delay_ms },
	{ "train-samples", 0, "N", "use only the first N training samples, 0 = all",
	  o_train_samples },
	{ "seed", 0, "N", "partition and shuffling seed, the same on every worker (default 1)",
	  o_seed },
	{ "eval-interval", 0, "STEPS", "steps between test evaluations, 0 = each epoch (default)",
	  o_eval_interval },
	{ "eval-samples", 0, "N", "test samples per evaluation, 0 = all (default)",
	  o_eval_samples },
	{ "algo", 0, "NAME",
	  "no server: dc-s3gd (ring allreduce) or pc-asgd (agents mixing their neighbours)",
	  o_algo },
	{ "peers", 0, "HOST[:PORT],...", "dc-s3gd, pc-asgd: every worker's address, in rank order",
	  o_peers },
	{ "lr", 0, "LR", "dc-s3gd, pc-asgd: learning rate (default 0.05)", o_lr },
	{ "lr-schedule", 0, "SPEC",
	  "dc-s3gd, pc-asgd: constant (default) or step:N,GAMMA: lr *= GAMMA every N steps",
	  o_lr_schedule },
	{ "staleness", 0, "S", "dc-s3gd: allreduces in flight (default 1)", o_staleness },
	{ "lambda", 0, "L", "dc-s3gd: constant delay-compensation lambda (0 = none)", o_lambda },
	{ "lambda0", 0, "L0", "dc-s3gd: adaptive lambda per layer, L0*|g|/|g*g*D| (default 0.2)",
	  o_lambda0 },
	{ "topology", 0, "ring|full", "pc-asgd: the agents' graph (default ring)", o_topology },
	{ "theta", 0, "T|auto",
	  "pc-asgd: predicted (1) to clipped (0) mix, or auto per tensor (default 0.5)", o_theta },
	{ "delay-bound", 0, "N",
	  "pc-asgd: a neighbour's copy lagging more than N steps is delayed (default 2)",
	  o_delay_bound },
	{ "momentum", 0, "B", "pc-asgd: heavy-ball momentum (default 0.9)", o_momentum },
	{ "init-seed", 0, "N", "pc-asgd: seed of this agent's initial weights (default --seed)",
	  o_init_seed },
	CMD_AUTH_OPT,
	{ "retry", 0, "SEC",
	  "reconnect for up to SEC when a server is not there or lost (default 60, 0 = no)",
	  o_retry },
	{ "timeout", 0, "SEC",
	  "give up on a server or a pc-asgd neighbour silent this long (default 60)", o_timeout },
	{ "cpus", 0, "LIST", "run on the first CPU of LIST (\"0-3,8\"; default: next to the NIC)",
	  o_cpus },
	{ "numa", 0, "N", "run on and allocate from NUMA node N (default: the NIC's)", o_numa },
	{ "no-pin", 0, NULL, "do not pin the worker's thread nor bind its memory", o_no_pin },
	CMD_REPORT_OPTS,
};

const rps_opt_cmd_t worker_cli_cmd = {
	.prog = PROG,
	.synopsis = "--server HOST[:PORT][,...] [OPTIONS]",
	.summary = "rdmaps worker: trains a built-in model on its share of the data, pushing\n"
		   "gradients to rdma-ps with RDMA WRITEs and pulling weights with RDMA READs.",
	.opts = worker_opts,
	.nopts = sizeof(worker_opts) / sizeof(worker_opts[0]),
};

int worker_cli_init(struct worker_cli *cli)
{
	memset(cli, 0, sizeof(*cli));
	cli->port = WORKER_DEFAULT_PORT;
	cli->world = 1;
	cli->model_spec = "softmax";
	cli->dataset = "fashion-mnist";
	cli->partition = "iid";
	cli->batch = 32;
	cli->epochs = 1;
	cli->seed = 1;
	cli->timeout_s = 60;
	cli->retry_s = 60;
	cli->place = (struct cmd_place_opts)CMD_PLACE_OPTS_INIT;
	cli->staleness = 1;
	cli->lr = 0.05f;
	cli->lr_decay = 1;
	cli->lambda0 = 0.2f;
	cli->topology = WORKER_TOPO_RING;
	cli->theta = 0.5f;
	cli->delay_bound = 2;
	cli->momentum = 0.9f;
	return cmd_common_init(&cli->common, PROG, 5);
}

/* --peers: one valid HOST[:PORT] per rank of --world */
static int peers_problem(const struct worker_cli *cli)
{
	struct worker_server peer;
	uint32_t n = 0;

	if (!cli->peers) {
		if (cli->world == 1)
			return 0; /* alone: nothing to reduce with */
		fprintf(stderr, PROG ": --peers is required with --algo %s and %u workers\n",
			cli->s3gd ? "dc-s3gd" : "pc-asgd", cli->world);
		return -EINVAL;
	}
	for (const char *p = cli->peers;; p++) {
		if (worker_cli_peer(cli, n, &peer)) {
			fprintf(stderr,
				PROG ": --peers: entry %u of '%s' is not HOST[:PORT] (port "
				     "1..65535)\n",
				n + 1, cli->peers);
			return -EINVAL;
		}
		n++;
		if (!(p = strchr(p, ',')))
			break;
	}
	if (n != cli->world) {
		fprintf(stderr, PROG ": --peers lists %u workers, --world is %u\n", n, cli->world);
		return -EINVAL;
	}
	return 0;
}

int worker_cli_parse(struct worker_cli *cli, int argc, char **argv)
{
	int ret = cmd_parse(&worker_cli_cmd, cli, sizeof(*cli), argc, argv);

	if (ret <= 0 || cli->common.show_version)
		return ret;
	if (!cli->nservers && !worker_cli_serverless(cli)) {
		fprintf(stderr, PROG ": --server is required (try --help)\n");
		return -EINVAL;
	}
	if (cli->nservers && worker_cli_serverless(cli)) {
		fprintf(stderr, PROG ": --server: %s has no server (use --peers)\n",
			cli->s3gd ? "dc-s3gd" : "pc-asgd");
		return -EINVAL;
	}
	if (cli->lr_schedule_set && !worker_cli_serverless(cli)) {
		fprintf(stderr, PROG ": --lr-schedule is an option of --algo dc-s3gd and pc-asgd "
				     "(with a server, the schedule is rdma-ps's: rdma-ps "
				     "--lr-schedule)\n");
		return -EINVAL;
	}
	if (cli->peer_opt_given && !worker_cli_serverless(cli)) {
		fprintf(stderr, PROG ": --peers and --lr are options of --algo dc-s3gd and "
				     "pc-asgd (with a server, rdma-ps has --lr)\n");
		return -EINVAL;
	}
	if (cli->s3gd_opt_given && !cli->s3gd) {
		fprintf(stderr, PROG ": --staleness, --lambda and --lambda0 are options of --algo "
				     "dc-s3gd (with a server, rdma-ps has them)\n");
		return -EINVAL;
	}
	if (cli->pc_opt_given && !cli->pcasgd) {
		fprintf(stderr, PROG ": --topology, --theta, --delay-bound, --momentum and "
				     "--init-seed are options of --algo pc-asgd (rdma-ps's "
				     "pc-asgd has its own --theta)\n");
		return -EINVAL;
	}
	/* Slurm's values only where the command line (or file) said nothing */
	if ((!cli->rank_set &&
	     rps_opt_env_u32(PROG, "SLURM_PROCID", 0, 4095, &cli->rank, &cli->rank_set)) ||
	    (!cli->world_set &&
	     rps_opt_env_u32(PROG, "SLURM_NTASKS", 1, 4096, &cli->world, &cli->world_set)))
		return -EINVAL;
	if (cli->rank >= cli->world) {
		fprintf(stderr,
			PROG ": rank %u is not below the world size %u (--rank/--world or "
			     "SLURM_PROCID/SLURM_NTASKS)\n",
			cli->rank, cli->world);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cli->nservers; i++)
		if (!cli->servers[i].port)
			cli->servers[i].port = cli->port;
	if (worker_cli_serverless(cli) && peers_problem(cli))
		return -EINVAL;
	if (cmd_place_check(PROG, &cli->place, 1))
		return -EINVAL;
	/* --steps alone: as many passes over the share as N steps take */
	if (cli->max_steps && !cli->epochs_set) {
		cli->steps_wrap = true;
		cli->epochs = UINT32_MAX;
	}
	return 1;
}
