/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_allreduce_bench: ring allreduce time and bandwidth over rdmaps, in
 * nccl-tests' all_reduce_perf table and option names.
 *
 *   --world N             fork N ranks on this host (the default, N = 2)
 *   --rank R --peers L    one rank of a multi-node run (Slurm:
 *                         SLURM_PROCID / SLURM_NTASKS stand in for them)
 *
 * Exit status: 0 done and every result right, 1 a run failed or results
 * were wrong, 2 bad usage.
 */
#define _GNU_SOURCE /* asprintf */
#include "config.h"

#include <arpa/inet.h>

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/allreduce/allreduce.h"
#include "util/opt.h"

#define CFG(c)	  ((struct ar_cfg *)(c))
#define MAX_BYTES (1ull << 34)

static int o_minbytes(void *c, const char *a)
{
	return rps_opt_size(AR_PROG, "minbytes", a, 4, MAX_BYTES, &CFG(c)->minbytes);
}

static int o_maxbytes(void *c, const char *a)
{
	return rps_opt_size(AR_PROG, "maxbytes", a, 4, MAX_BYTES, &CFG(c)->maxbytes);
}

static int o_stepfactor(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "stepfactor", a, 2, 1024, &CFG(c)->stepfactor);
}

static int o_iters(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "iters", a, 1, 1000000, &CFG(c)->iters);
}

static int o_warmup(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "warmup_iters", a, 0, 1000000, &CFG(c)->warmup);
}

static int o_check(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "check", a, 0, 1, &CFG(c)->check);
}

static int o_profile(void *c, const char *a)
{
	(void)a;
	CFG(c)->profile = true;
	return 0;
}

static int o_world(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(AR_PROG, "world", a, 1, AR_MAX_WORLD, &v);

	CFG(c)->world = (uint32_t)v;
	CFG(c)->world_set = true;
	return ret;
}

static int o_rank(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(AR_PROG, "rank", a, 0, AR_MAX_WORLD - 1, &v);

	CFG(c)->rank = (uint32_t)v;
	CFG(c)->rank_set = true;
	return ret;
}

static int o_peers(void *c, const char *a)
{
	CFG(c)->peers_arg = a; /* split and checked once all options are in */
	return 0;
}

static int o_addr(void *c, const char *a)
{
	CFG(c)->addr = a;
	return 0;
}

static int o_port(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "port", a, 1, 65535 - AR_MAX_WORLD, &CFG(c)->port);
}

static int o_provider(void *c, const char *a)
{
	return rps_opt_provider(AR_PROG, a, &CFG(c)->tattr.provider);
}

static int o_device(void *c, const char *a)
{
	CFG(c)->tattr.device = a;
	return 0;
}

static int o_chunk(void *c, const char *a)
{
	int ret = rps_opt_size(AR_PROG, "chunk", a, 4, 1u << 30, &CFG(c)->chunk);

	if (!ret && CFG(c)->chunk % 4) {
		fprintf(stderr, AR_PROG ": --chunk: '%s' is not a multiple of 4 bytes\n", a);
		return -EINVAL;
	}
	return ret;
}

static int o_window(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "window", a, 1, RPS_RING_WINDOW_MAX, &CFG(c)->window);
}

static int o_timeout(void *c, const char *a)
{
	return rps_opt_u64(AR_PROG, "timeout", a, 1, 3600000, &CFG(c)->timeout_ms);
}

static const rps_opt_t opts[] = {
	{ "minbytes", 'b', "SIZE", "smallest size, K/M/G suffixes (default 4)", o_minbytes },
	{ "maxbytes", 'e', "SIZE", "largest size (default 32M)", o_maxbytes },
	{ "stepfactor", 'f', "N", "multiply the size by N each row (default 2)", o_stepfactor },
	{ "iters", 'n', "N", "timed allreduces per size (default 20)", o_iters },
	{ "warmup_iters", 'w', "N", "untimed allreduces first (default 5)", o_warmup },
	{ "check", 'c', "0|1", "check the results, count them in #wrong (default 1)", o_check },
	{ "profile", 0, NULL, "after each row, where rank 0's ring spent the timed iterations",
	  o_profile },
	{ "world", 0, "N", "ranks: fork N on this host (default 2; $SLURM_NTASKS with --peers)",
	  o_world },
	{ "rank", 0, "R", "run only rank R of a multi-node ring (default $SLURM_PROCID)", o_rank },
	{ "peers", 0, "LIST", "host:port of every rank in rank order, comma-separated", o_peers },
	{ "addr", 'a', "ADDR", "address of the forked ranks (default 127.0.0.1)", o_addr },
	{ "port", 'p', "PORT", "forked rank r listens on PORT+r (default: free ports)", o_port },
	{ "provider", 'P', "NAME", "transport: auto (default), verbs or ofi", o_provider },
	{ "device", 0, "DEV", "verbs device (mlx5_0, rxe0) or ofi domain", o_device },
	{ "chunk", 0, "SIZE", "bytes per RDMA write (default 256K)", o_chunk },
	{ "window", 0, "N", "chunks in flight per link (default 8)", o_window },
	{ "timeout", 0, "MS", "ring setup and per-allreduce timeout (default 30000)", o_timeout },
};

static const rps_opt_cmd_t cmd = {
	.prog = AR_PROG,
	.synopsis = "[OPTIONS]",
	.summary = "Ring allreduce (float sum) time and bus bandwidth, nccl-tests style.\n"
		   "Without --peers: forks --world ranks on this host.",
	.opts = opts,
	.nopts = sizeof(opts) / sizeof(opts[0]),
};

/* "host:port" with port 1..65535 */
static bool peer_ok(const char *p)
{
	const char *colon = strrchr(p, ':');
	char *end;
	long port;

	if (!colon || colon == p)
		return false;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return !errno && end != colon + 1 && !*end && port >= 1 && port <= 65535;
}

static int split_peers(struct ar_cfg *cfg)
{
	char *list = cfg->peers_buf = strdup(cfg->peers_arg), *save = NULL, *tok;
	uint32_t n = 0;

	cfg->peers = calloc(AR_MAX_WORLD, sizeof(char *));
	if (!list || !cfg->peers)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == AR_MAX_WORLD || !peer_ok(tok)) {
			fprintf(stderr,
				AR_PROG ": --peers: '%s' is not host:port (port 1..65535)"
					"%s\n",
				tok, n == AR_MAX_WORLD ? ", or too many peers" : "");
			return -EINVAL;
		}
		cfg->peers[n++] = tok;
	}
	if (cfg->world_set && cfg->world != n) {
		fprintf(stderr, AR_PROG ": --peers lists %u ranks, the world is %u\n", n,
			cfg->world);
		return -EINVAL;
	}
	cfg->world = n;
	if (!cfg->rank_set || cfg->rank >= n) {
		fprintf(stderr, AR_PROG ": --peers: %s\n",
			cfg->rank_set ? "--rank is not below the number of peers"
				      : "give --rank (or run under srun, which sets SLURM_PROCID)");
		return -EINVAL;
	}
	return 0;
}

/* Checks what the options mean together: 0 or -EINVAL after one line. */
static int resolve(struct ar_cfg *cfg)
{
	if (cfg->maxbytes < cfg->minbytes) {
		fprintf(stderr, AR_PROG ": --maxbytes %llu is below --minbytes %llu\n",
			(unsigned long long)cfg->maxbytes, (unsigned long long)cfg->minbytes);
		return -EINVAL;
	}
	if (cfg->peers_arg) {
		if ((!cfg->rank_set && rps_opt_env_u32(AR_PROG, "SLURM_PROCID", 0, AR_MAX_WORLD - 1,
						       &cfg->rank, &cfg->rank_set)) ||
		    (!cfg->world_set && rps_opt_env_u32(AR_PROG, "SLURM_NTASKS", 0, AR_MAX_WORLD,
							&cfg->world, &cfg->world_set)))
			return -EINVAL;
		return split_peers(cfg);
	}
	if (cfg->rank_set) {
		fprintf(stderr, AR_PROG ": --rank needs --peers (the address of every rank)\n");
		return -EINVAL;
	}
	return 0;
}

/* Local mode: world ports on addr, PORT+r or free ones (bound together
 * so they differ, then released for the ranks' listeners). */
static int local_peers(struct ar_cfg *cfg)
{
	int fds[AR_MAX_WORLD];
	uint32_t r, n = 0;
	int ret = 0;

	cfg->peers = calloc(cfg->world, sizeof(char *));
	if (!cfg->peers)
		return -ENOMEM;
	for (r = 0; r < cfg->world && !ret; r++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		uint16_t port = (uint16_t)(cfg->port ? cfg->port + r : 0);

		if (!cfg->port) {
			if (inet_pton(AF_INET, cfg->addr, &sa.sin_addr) != 1) {
				fprintf(stderr,
					AR_PROG ": --addr '%s' is not an IPv4 address (give "
						"--port to use a name)\n",
					cfg->addr);
				ret = -EINVAL;
				break;
			}
			fds[n] = socket(AF_INET, SOCK_STREAM, 0);
			if (fds[n] < 0 || bind(fds[n], (struct sockaddr *)&sa, sizeof(sa)) ||
			    getsockname(fds[n], (struct sockaddr *)&sa, &len)) {
				fprintf(stderr, AR_PROG ": no free port on %s: %s\n", cfg->addr,
					strerror(errno));
				ret = -errno;
				if (fds[n] >= 0)
					close(fds[n]);
				break;
			}
			n++;
			port = ntohs(sa.sin_port);
		}
		if (asprintf(&cfg->peers[r], "%s:%u", cfg->addr, port) < 0)
			ret = -ENOMEM;
	}
	while (n)
		close(fds[--n]);
	return ret;
}

/* Forks a process per rank; rank 0 prints.  1 when any rank failed. */
static int run_local(struct ar_cfg *cfg)
{
	pid_t pids[AR_MAX_WORLD];
	uint32_t started = cfg->world;
	int failed = 0, status = 0;

	if (local_peers(cfg))
		return 1;
	fflush(stdout);
	for (uint32_t r = 0; r < cfg->world; r++) {
		pids[r] = fork();
		if (pids[r] < 0) {
			fprintf(stderr, AR_PROG ": fork rank %u: %s\n", r, strerror(errno));
			failed = 1;
			/* the ranks already running would only time out on it */
			for (uint32_t q = 0; q < r; q++)
				kill(pids[q], SIGTERM);
			started = r;
			break;
		}
		if (pids[r] == 0) {
			cfg->rank = r;
			fflush(stdout);
			_exit(ar_run(cfg));
		}
	}
	for (uint32_t r = 0; r < started; r++) {
		if (waitpid(pids[r], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			if (WIFSIGNALED(status))
				fprintf(stderr, AR_PROG ": rank %u died of signal %d\n", r,
					WTERMSIG(status));
			failed = 1;
		}
	}
	return failed;
}

static void free_peers(struct ar_cfg *cfg)
{
	if (cfg->peers && !cfg->peers_buf)
		for (uint32_t r = 0; r < cfg->world; r++)
			free(cfg->peers[r]);
	free(cfg->peers);
	free(cfg->peers_buf);
}

int main(int argc, char **argv)
{
	struct ar_cfg cfg = {
		.minbytes = 4,
		.maxbytes = 32u << 20,
		.stepfactor = 2,
		.iters = 20,
		.warmup = 5,
		.check = 1,
		.chunk = RPS_RING_CHUNK_DEFAULT,
		.window = RPS_RING_WINDOW_DEFAULT,
		.timeout_ms = RPS_RING_TIMEOUT_DEFAULT,
		.world = 2,
		.addr = "127.0.0.1",
	};
	int first, ret;

	if (rps_transport_attr_init(&cfg.tattr))
		return RPS_EXIT_USAGE;
	first = rps_opt_parse(&cmd, &cfg, argc, argv);
	if (first <= 0)
		return first ? RPS_EXIT_USAGE : 0;
	if (first < argc) {
		fprintf(stderr, AR_PROG ": unexpected argument '%s' (try --help)\n", argv[first]);
		return RPS_EXIT_USAGE;
	}
	if (resolve(&cfg)) {
		free_peers(&cfg);
		return RPS_EXIT_USAGE;
	}
	ret = cfg.peers_arg ? ar_run(&cfg) : run_local(&cfg);
	free_peers(&cfg);
	return ret;
}
