/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the rdmaps daemons share on their command line: the transport
 * options, --log-level, --config (two-pass: the file first, the command
 * line wins), --status-interval, --metrics, --version.  Each daemon's
 * configuration struct starts with a struct cmd_common, so these handlers
 * serve every option table.  Private to src/cmd.
 */
#ifndef RPS_CMD_COMMON_H
#define RPS_CMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rdmaps/rdmaps.h>

#include "util/opt.h"

/* exit status of a runtime failure (usage errors are RPS_EXIT_USAGE) */
#define RPS_EXIT_RUNTIME 1

struct cmd_common {
	const char *prog;
	rps_transport_attr_t attr;
	rps_log_level_t log_level;
	const char *config_path; /* --config / -C, found by a first pass */
	const char *metrics_path;
	unsigned status_interval; /* seconds, 0 = no status lines */
	bool show_version;
	/* --auth-token-file: the shared secret (trailing newlines dropped) */
	char auth_token[RPS_AUTH_MAX_TOKEN];
	size_t auth_token_len;
};

#define CMD_COMMON(c) ((struct cmd_common *)(c))

/* prog, the status interval, the log level, then the RPS_* environment:
 * 0, or -EINVAL (logged) for a bad RPS_* value */
int cmd_common_init(struct cmd_common *c, const char *prog, unsigned status_interval);

/* "PROG: --NAME: 'ARG' is not a number in [lo, hi]" on a bad value */
int cmd_parse_float(const char *prog, const char *name, const char *arg, float lo, float hi,
		    float *v_p);

/* --lr-schedule: constant (*every_p 0, *gamma_p 1) or step:N,GAMMA, the
 * learning rate times GAMMA every N updates (rps_hparams_t's
 * lr_decay_every, lr_decay; N >= 1, 0 < GAMMA <= 1): 0, or -EINVAL after
 * one line.  rdma-ps and rdma-worker take the same strings. */
int cmd_parse_lr_schedule(const char *prog, const char *arg, uint64_t *every_p, float *gamma_p);

int cmd_o_provider(void *c, const char *a);
int cmd_o_device(void *c, const char *a);
int cmd_o_ib_port(void *c, const char *a);
int cmd_o_gid_index(void *c, const char *a);
int cmd_o_status_interval(void *c, const char *a);
int cmd_o_metrics(void *c, const char *a);
int cmd_o_log_level(void *c, const char *a);
int cmd_o_config(void *c, const char *a);
int cmd_o_version(void *c, const char *a);
/* reads the token: a regular file, not readable by others, 1..4096 bytes */
int cmd_o_auth_token_file(void *c, const char *a);

/*
 * The library explains a failure in its log; a daemon wants one line that
 * names the option too.  Between these two calls the first error line is
 * kept in why (empty if none) instead of printed.
 */
#define CMD_WHY_LEN 256
void cmd_log_capture(char why[CMD_WHY_LEN]);
void cmd_log_release(void);

/* --model: softmax or mlp:H[,H...]; 0, or -EINVAL after one line */
int cmd_check_model_spec(const char *prog, const char *spec);

/* option table rows, in the order --help shows them */
#define CMD_TRANSPORT_OPTS                                                                         \
	{ "provider", 'P', "NAME", "transport: auto (default), verbs or ofi", cmd_o_provider },    \
		{ "device", 'd', "DEV", "verbs device (mlx5_0, rxe0) or ofi domain",               \
		  cmd_o_device },                                                                  \
		{ "ib-port", 'i', "N", "HCA port (verbs; default: any active)", cmd_o_ib_port },   \
	{                                                                                          \
		"gid-index", 'x', "N", "expected GID index (verbs; rdma_cm chooses)",              \
			cmd_o_gid_index                                                            \
	}

#define CMD_AUTH_OPT                                                                               \
	{                                                                                          \
		"auth-token-file", 0, "FILE",                                                      \
			"shared secret of rdma-ps and its workers (mode 0600)",                    \
			cmd_o_auth_token_file                                                      \
	}

#define CMD_REPORT_OPTS                                                                            \
	{ "status-interval", 0, "SEC", "seconds between status lines, 0 = none (default 5)",       \
	  cmd_o_status_interval },                                                                 \
		{ "metrics", 0, "FILE", "append one CSV row per status line to FILE",              \
		  cmd_o_metrics },                                                                 \
		{ "log-level", 0, "LEVEL", "error, warn (default), info or debug",                 \
		  cmd_o_log_level },                                                               \
		{ "config", 'C', "FILE", "read options from a key=value file first",               \
		  cmd_o_config },                                                                  \
	{                                                                                          \
		"version", 'V', NULL, "print the version and exit", cmd_o_version                  \
	}

/*
 * Parses argv into cli (size bytes, starting with a struct cmd_common):
 * a first pass into a scratch copy finds --config however it is spelled
 * and reports a bad option once; then the file, then argv again, so the
 * command line wins.  Operands are refused.  Returns 1 to go on, 0 when
 * --help was printed, or -EINVAL after a one-line error (exit 2).
 */
int cmd_parse(const rps_opt_cmd_t *cmd, void *cli, size_t size, int argc, char **argv);

/* Opens FILE for appending and writes header when it is empty or new;
 * NULL after a one-line error. */
FILE *cmd_metrics_open(const char *prog, const char *path, const char *header);

#endif /* RPS_CMD_COMMON_H */
