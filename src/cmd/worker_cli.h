/* SPDX-License-Identifier: BSD-2-Clause */
/* rdma-worker command line (worker_cli.c).  Private to src/cmd. */
#ifndef RPS_CMD_WORKER_CLI_H
#define RPS_CMD_WORKER_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "cmd/cmd_common.h"
#include "cmd/cmd_place.h"

#define WORKER_MAX_SERVERS   64
#define WORKER_DEFAULT_PORT  18515
#define WORKER_MAX_STALENESS 16

/* exit status when a signal stopped training before the end (after a
 * clean goodbye to the servers) */
#define WORKER_EXIT_STOPPED 3

/* pc-asgd's graph of agents (worker_mesh.h) */
enum worker_topology {
	WORKER_TOPO_RING = 0, /* ranks r-1 and r+1 (mod world) */
	WORKER_TOPO_FULL = 1, /* every other rank */
};

struct worker_server {
	char host[256];
	uint16_t port; /* 0 = --port */
};

struct worker_cli {
	struct cmd_common common; /* first: the shared option handlers */
	struct worker_server servers[WORKER_MAX_SERVERS];
	uint32_t nservers; /* > 1: the model is sharded over them, in order */
	uint16_t port;	   /* for servers given without one */
	uint32_t rank, world;
	bool rank_set, world_set;
	const char *model_spec; /* softmax | mlp:H[,H...] */
	const char *dataset;	/* fashion-mnist[:DIR] | synthetic:N,D,C */
	const char *partition;	/* iid | label-skew:ALPHA */
	uint32_t batch;
	uint32_t epochs;
	bool epochs_set;    /* --epochs given (else --steps may wrap) */
	uint64_t max_steps; /* 0 = the epochs decide */
	/* --steps without --epochs: every worker makes exactly max_steps
	 * steps, going round its share as often as that takes, so that
	 * workers with unequal shares (label skew) push until the end */
	bool steps_wrap;
	uint32_t delay_ms;	     /* sleep per step: a straggler (0 = none) */
	uint64_t train_samples;	     /* use the first N training samples, 0 = all */
	uint64_t seed;		     /* data partition and shuffling */
	uint64_t eval_interval;	     /* steps between evaluations, 0 = per epoch */
	uint64_t eval_samples;	     /* test samples evaluated, 0 = all */
	unsigned timeout_s;	     /* connect and each wait on a server */
	unsigned retry_s;	     /* keep reconnecting this long, 0 = never */
	struct cmd_place_opts place; /* --cpus, --numa, --no-pin */
	/* --algo dc-s3gd: no server, a ring allreduce among the workers;
	 * --algo pc-asgd: no server, agents mixing their neighbours' weights */
	bool s3gd, pcasgd;
	const char *peers;  /* --peers HOST[:PORT],... one per rank, in rank order */
	uint32_t staleness; /* allreduces in flight */
	float lr, lambda, lambda0;
	/* --lr-schedule step:N,GAMMA: lr * GAMMA^floor(t / N) at this
	 * worker's step t; lr_decay_every 0 = constant */
	uint64_t lr_decay_every;
	float lr_decay;
	bool lr_schedule_set; /* to name rdma-ps's when given with a server */
	bool lambda_set;      /* --lambda given: constant, else adaptive lambda0 */
	/* options given, to refuse them without their algorithm */
	bool peer_opt_given; /* --peers, --lr, --lr-schedule: dc-s3gd or pc-asgd */
	bool s3gd_opt_given; /* --staleness, --lambda, --lambda0 */
	bool pc_opt_given;   /* --topology, --theta, --delay-bound, --momentum, --init-seed */
	/* pc-asgd */
	uint32_t topology;    /* enum worker_topology */
	float theta;	      /* predicted (1) .. clipped (0) */
	bool theta_auto;      /* --theta auto: per tensor, the better candidate */
	uint64_t delay_bound; /* a copy lagging more steps than this is delayed */
	float momentum;
	uint64_t init_seed; /* initial weights, when init_seed_set (else --seed) */
	bool init_seed_set;
};

extern const rps_opt_cmd_t worker_cli_cmd;

/* dc-s3gd or pc-asgd: --peers instead of --server */
static inline bool worker_cli_serverless(const struct worker_cli *cli)
{
	return cli->s3gd || cli->pcasgd;
}

/* Entry i of --peers into *peer (the port --port when it gives none):
 * 0, or -EINVAL when there is no such entry or it is not HOST[:PORT]. */
int worker_cli_peer(const struct worker_cli *cli, uint32_t i, struct worker_server *peer);

/* Defaults (softmax on Fashion-MNIST, iid, batch 32, 1 epoch, seed 1),
 * then the RPS_* environment.  0, or -EINVAL after a one-line error. */
int worker_cli_init(struct worker_cli *cli);
/* --config FILE, then argv, then SLURM_PROCID / SLURM_NTASKS for a rank
 * or world not given, then the cross-checks.  1 to go on, 0 when
 * --help was printed, -EINVAL after a one-line error (exit 2). */
int worker_cli_parse(struct worker_cli *cli, int argc, char **argv);

#endif /* RPS_CMD_WORKER_CLI_H */
