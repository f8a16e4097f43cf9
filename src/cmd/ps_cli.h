/* SPDX-License-Identifier: BSD-2-Clause */
/* rdma-ps command line (ps_cli.c).  Private to src/cmd. */
#ifndef RPS_CMD_PS_CLI_H
#define RPS_CMD_PS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <rdmaps/rdmaps.h>

#include "cmd/cmd_common.h"

#define RPS_MAX_WORKERS_CLI 4096

enum ps_hp_given {
	PS_HP_LR = 1 << 0,
	PS_HP_LAMBDA = 1 << 1,
	PS_HP_MS_DECAY = 1 << 2,
	PS_HP_MOMENTUM = 1 << 3,
	PS_HP_WEIGHT_DECAY = 1 << 4,
	PS_HP_THETA = 1 << 5,
	PS_HP_LR_SCHEDULE = 1 << 6,
};

struct ps_cli {
	struct cmd_common common; /* first: the shared option handlers */
	rps_server_config_t srv;
	rps_hparams_t hp; /* values given on the command line / file */
	unsigned given;	  /* enum ps_hp_given */
	bool algo_set;
	const char *model_spec;	       /* --model: size and initial weights */
	const char *init_weights_path; /* --init-weights: size and weights */
	/* the whole model's weights read from init_weights_path (malloc'ed;
	 * run() frees them once the server has its copy) */
	float *init_weights;
	uint32_t features, classes;
	uint64_t seed;
	uint64_t model_params; /* whole model (--params, --model or --init-weights) */
	uint32_t shard_index, shard_count;
	bool once; /* exit when every worker joined and left */
	const char *checkpoint_dir;
	unsigned checkpoint_interval; /* seconds, 0 = only at exit */
	bool resume;
	bool resume_auto; /* --resume if the checkpoint exists */
	bool show_topology;
	char checkpoint_path[4096]; /* DIR/rdma-ps[-shard-I-of-K].ckpt */
};

extern const rps_opt_cmd_t ps_cli_cmd;

/* Defaults: port 18515, dc-asgd-a, status every 5 s, a 784x10 model
 * seeded with 1, then the RPS_*
 * environment.  Returns 0 or -EINVAL (logged) for a bad RPS_* value. */
int ps_cli_init(struct ps_cli *cli);
/* Applies --config FILE (if any), then argv, reads --init-weights FILE
 * (into cli->init_weights: free it), then works out the shard.  Returns 1
 * to go on, 0 when --help was printed, or -EINVAL after a one-line error
 * (exit 2; a refused weights file too). */
int ps_cli_parse(struct ps_cli *cli, int argc, char **argv);

#endif /* RPS_CMD_PS_CLI_H */
