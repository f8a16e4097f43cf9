/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Table-driven command-line options: one table of rps_opt_t per program,
 * one handler per option, and --help generated from the same table (no
 * giant switch, no help text that drifts from the parser).
 */
#ifndef RPS_UTIL_OPT_H
#define RPS_UTIL_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* exit status for a usage error, as getopt-based tools use */
#define RPS_EXIT_USAGE 2

typedef struct rps_opt {
	const char *name; /* long name, without "--" */
	int short_name;	  /* 0 when none */
	const char *arg;  /* argument name shown in --help; NULL = flag */
	const char *help; /* one line */
	/* Stores the value in cfg.  Returns 0, or -EINVAL after printing a
	 * one-line error that names the option and the bad value. */
	int (*handler)(void *cfg, const char *arg);
} rps_opt_t;

typedef struct rps_opt_cmd {
	const char *prog;     /* program name for messages */
	const char *synopsis; /* e.g. "[OPTIONS] [HOST]" */
	const char *summary;  /* one line under the usage line */
	const rps_opt_t *opts;
	size_t nopts;
} rps_opt_cmd_t;

/* Parses argv against cmd->opts (plus built-in --help/-h).  Returns the
 * index of the first operand (>= 1), 0 when --help was printed (the
 * caller exits 0), or -EINVAL after a one-line error on stderr (the
 * caller exits RPS_EXIT_USAGE). */
int rps_opt_parse(const rps_opt_cmd_t *cmd, void *cfg, int argc, char **argv);
void rps_opt_print_help(const rps_opt_cmd_t *cmd, FILE *out);

/* Value parsers for handlers: each prints "PROG: --NAME: ..." and returns
 * -EINVAL on a bad value.  Sizes accept K, M, G suffixes (powers of 2). */
int rps_opt_u64(const char *prog, const char *name, const char *arg, uint64_t min, uint64_t max,
		uint64_t *v_p);
int rps_opt_size(const char *prog, const char *name, const char *arg, uint64_t min, uint64_t max,
		 uint64_t *v_p);
/* rps_opt_u64 into a uint32_t field; max must fit one.  *v_p is set only
 * when the value is good. */
int rps_opt_u32(const char *prog, const char *name, const char *arg, uint32_t min, uint32_t max,
		uint32_t *v_p);
/* An environment variable as the default of an option (SLURM_PROCID,
 * SLURM_NTASKS): unset or empty leaves *v_p and *set_p alone; else a
 * number in [min, max] sets both, and anything else prints "PROG: NAME:
 * 'VALUE' is not a number in [MIN, MAX]" and returns -EINVAL. */
int rps_opt_env_u32(const char *prog, const char *name, uint32_t min, uint32_t max, uint32_t *v_p,
		    bool *set_p);
/* --provider: auto, verbs or ofi (what rps_transport_open accepts). */
int rps_opt_provider(const char *prog, const char *arg, const char **provider_p);

/*
 * Configuration files: "key = value" lines, '#' starts a comment, keys are
 * the long option names, flags take true/false.  Every value goes through
 * the option's own handler, so a file accepts exactly what the command
 * line accepts.  Apply the file first and argv second: the command line
 * wins (rdma-ps finds --config with a first getopt pass, so every
 * spelling of it works).  Returns 0, or a negative errno after a one-line error naming
 * the file and line.
 */
int rps_opt_load_file(const rps_opt_cmd_t *cmd, void *cfg, const char *path);
/* Frees the copies of file values that handlers may still point to: call
 * only when the configuration is no longer used. */
void rps_opt_release_values(void);

#endif /* RPS_UTIL_OPT_H */
