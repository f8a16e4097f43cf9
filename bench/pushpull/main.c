/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_pushpull_bench: what one training step costs on the wire.  For each
 * model size, chunk size and number of workers it runs a real rdma-ps
 * engine and worker threads in this process and prints the median time
 * of a push (WRITEs until applied), a pull (READs of the weights) and a
 * step, next to the bare transport moving the same bytes in the same run,
 * and the pipelining efficiency
 *     workers x (raw write + raw read) / step time
 * (1 = a step costs no more than moving its bytes; the apply is hidden).
 *
 * Exit status: 0 done, 1 a run failed, 2 bad usage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/pushpull/pushpull.h"
#include "topo/topo.h"
#include "util/opt.h"

#define PROG   "rps_pushpull_bench"
#define CFG(c) ((struct pp_cfg *)(c))

double pp_median(double *v, uint32_t n)
{
	/* insertion sort: n is a few dozen */
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* "A,B,C" of sizes (K/M/G suffixes) in [min, max], multiples of `align` */
static int size_list(const char *name, const char *arg, uint64_t min, uint64_t max, uint64_t align,
		     uint64_t *out, uint32_t *n_p)
{
	char buf[512], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf)) {
		fprintf(stderr, PROG ": --%s: list too long\n", name);
		return -EINVAL;
	}
	strcpy(buf, arg);
	*n_p = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n_p == PP_MAX_LIST) {
			fprintf(stderr, PROG ": --%s: more than %u values\n", name, PP_MAX_LIST);
			return -EINVAL;
		}
		if (rps_opt_size(PROG, name, tok, min, max, &out[*n_p]))
			return -EINVAL;
		if (out[*n_p] % align) {
			fprintf(stderr, PROG ": --%s: '%s' is not a multiple of %llu bytes\n", name,
				tok, (unsigned long long)align);
			return -EINVAL;
		}
		(*n_p)++;
	}
	if (!*n_p) {
		fprintf(stderr, PROG ": --%s: empty list\n", name);
		return -EINVAL;
	}
	return 0;
}

static int o_provider(void *c, const char *a)
{
	return rps_opt_provider(PROG, a, &CFG(c)->attr.provider);
}
static int o_device(void *c, const char *a)
{
	CFG(c)->attr.device = a;
	return 0;
}
static int o_addr(void *c, const char *a)
{
	CFG(c)->addr = a;
	return 0;
}

static int o_sizes(void *c, const char *a)
{
	return size_list("sizes", a, 4, 1ull << 32, 4, CFG(c)->sizes, &CFG(c)->nsizes);
}

static int o_chunks(void *c, const char *a)
{
	return size_list("chunks", a, 4096, 64u << 20, 64, CFG(c)->chunks, &CFG(c)->nchunks);
}

static int o_workers(void *c, const char *a)
{
	uint64_t v[PP_MAX_LIST];
	uint32_t n;

	/* a plain list of counts: no suffixes wanted, but the same parser */
	if (size_list("workers", a, 1, PP_MAX_WORKERS, 1, v, &n))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		CFG(c)->workers[i] = (uint32_t)v[i];
	CFG(c)->nworkers = n;
	return 0;
}

static int o_steps(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "steps", a, 1, 100000, &v);

	CFG(c)->steps = (uint32_t)v;
	return ret;
}

static int o_threads(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "threads", a, 1, 64, &v);

	CFG(c)->threads = (uint32_t)v;
	return ret;
}

static int o_algo(void *c, const char *a)
{
	if (rps_algo_parse(a, &CFG(c)->algo) || CFG(c)->algo == RPS_ALGO_SGD) {
		fprintf(stderr,
			PROG ": --algo: '%s' is not asgd, ssgd, dc-asgd-c, dc-asgd-a, "
			     "pc-asgd or dude-asgd\n",
			a);
		return -EINVAL;
	}
	return 0;
}

static int o_cpus(void *c, const char *a)
{
	CFG(c)->cpus = a; /* checked against the machine before the first point */
	return 0;
}

static int o_numa(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "numa", a, 0, 4095, &v);

	CFG(c)->numa = (int)v;
	return ret;
}

static int o_step(void *c, const char *a)
{
	(void)a;
	CFG(c)->step = true;
	return 0;
}

static int o_no_pin(void *c, const char *a)
{
	(void)a;
	CFG(c)->no_pin = true;
	return 0;
}

static int o_csv(void *c, const char *a)
{
	(void)a;
	CFG(c)->csv = true;
	return 0;
}

/* HOST:PORT or [V6]:PORT */
static int o_server(void *c, const char *a)
{
	const char *colon = strrchr(a, ':'), *host = a;
	size_t len = colon ? (size_t)(colon - a) : 0;
	uint64_t port;

	if (len >= 2 && a[0] == '[' && a[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (!colon || !len || len >= sizeof(CFG(c)->server_host)) {
		fprintf(stderr, PROG ": --server: '%s' is not HOST:PORT\n", a);
		return -EINVAL;
	}
	if (rps_opt_u64(PROG, "server", colon + 1, 1, 65535, &port))
		return -EINVAL;
	memcpy(CFG(c)->server_host, host, len);
	CFG(c)->server_host[len] = '\0';
	CFG(c)->server_port = (uint16_t)port;
	return 0;
}

static int o_rank(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "rank", a, 0, 4095, &v);

	CFG(c)->rank = (uint32_t)v;
	return ret;
}

static const rps_opt_t opts[] = {
	{ "provider", 'P', "NAME", "transport: auto (default), verbs or ofi", o_provider },
	{ "device", 'd', "DEV", "verbs device or ofi domain", o_device },
	{ "addr", 'a', "ADDR", "local address for both ends (default 127.0.0.1)", o_addr },
	{ "sizes", 's', "LIST", "model sizes in bytes (default 1K,16K,256K,4M,64M,256M)", o_sizes },
	{ "chunks", 'c', "LIST", "chunk sizes, >= 4K (default 256K)", o_chunks },
	{ "workers", 'w', "LIST", "numbers of workers (default 1)", o_workers },
	{ "steps", 'n', "N", "measured steps per worker (default 20; 2 more warm up)", o_steps },
	{ "threads", 't', "N", "engine threads (default 1)", o_threads },
	{ "algo", 0, "NAME", "update rule applied (default asgd)", o_algo },
	{ "cpus", 0, "LIST", "engine threads on these CPUs (default: next to the NIC)", o_cpus },
	{ "numa", 0, "N", "engine threads and server buffers on NUMA node N", o_numa },
	{ "no-pin", 0, NULL, "do not pin engine threads nor bind server buffers", o_no_pin },
	{ "csv", 0, NULL, "print CSV instead of the table", o_csv },
	{ "step", 0, NULL, "time a step as rps_step (push and pull overlapped), not push + pull",
	  o_step },
	{ "server", 0, "HOST:PORT",
	  "time one worker against this running rdma-ps (its size, algorithm, placement)",
	  o_server },
	{ "rank", 0, "N", "--server: the worker's rank (default 0)", o_rank },
};

static const rps_opt_cmd_t cmd = {
	.prog = PROG,
	.synopsis = "[OPTIONS]",
	.summary = "Time of a push, a pull and a step of rdma-ps next to the bare transport\n"
		   "moving the same bytes in the same run (pipelining efficiency).",
	.opts = opts,
	.nopts = sizeof(opts) / sizeof(opts[0]),
};

static void print_row(const struct pp_cfg *cfg, uint64_t size, uint64_t chunk, uint32_t m,
		      const struct pp_result *r)
{
	double eff = r->step_us > 0 ? m * (r->raw_write_us + r->raw_read_us) / r->step_us : 0;

	if (cfg->csv)
		printf("%llu,%llu,%u,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f\n",
		       (unsigned long long)size, (unsigned long long)chunk, m, r->push_us,
		       r->apply_us, r->pull_us, r->step_us, r->raw_write_us, r->raw_read_us, eff);
	else
		printf(" %-11llu %-9llu %-8u %11.1f %11.1f %11.1f %11.1f %14.1f %13.1f %11.3f\n",
		       (unsigned long long)size, (unsigned long long)chunk, m, r->push_us,
		       r->apply_us, r->pull_us, r->step_us, r->raw_write_us, r->raw_read_us, eff);
	fflush(stdout);
}

/* --server: one row, the push, pull and step of one worker against a
 * running rdma-ps (no bare-transport reference: its other end would have
 * to be that server's) */
static int run_remote(const struct pp_cfg *cfg)
{
	struct pp_result r = { 0 };
	uint64_t bytes = 0;

	if (cfg->nsizes || cfg->nchunks || cfg->nworkers) {
		fprintf(stderr, PROG ": --server: the model size, chunk and workers are the "
				     "server's (drop --sizes, --chunks and --workers)\n");
		return RPS_EXIT_USAGE;
	}
	if (pp_ps_time_remote(cfg, &bytes, &r))
		return 1;
	if (cfg->csv)
		printf("bytes,chunk,workers,push_us,apply_us,pull_us,step_us,raw_write_us,"
		       "raw_read_us,efficiency\n%llu,,1,%.1f,,%.1f,%.1f,,,\n",
		       (unsigned long long)bytes, r.push_us, r.pull_us, r.step_us);
	else
		printf("# %s, one worker (rank %u) against rdma-ps at %s:%u, medians of %u steps\n"
		       " #bytes      push[us]    pull[us]    step[us]\n"
		       " %-11llu %8.1f %11.1f %11.1f\n",
		       cfg->attr.provider ? cfg->attr.provider : "auto", cfg->rank,
		       cfg->server_host, cfg->server_port, cfg->steps, (unsigned long long)bytes,
		       r.push_us, r.pull_us, r.step_us);
	return 0;
}

int main(int argc, char **argv)
{
	static const uint64_t def_sizes[] = { 1 << 10, 16 << 10, 256 << 10,
					      4 << 20, 64 << 20, 256 << 20 };
	struct pp_cfg cfg = {
		.addr = "127.0.0.1", .steps = 20, .threads = 1, .algo = RPS_ALGO_ASGD, .numa = -1
	};
	int first, failed = 0;

	if (rps_transport_attr_init(&cfg.attr))
		return RPS_EXIT_USAGE;
	first = rps_opt_parse(&cmd, &cfg, argc, argv);
	if (first <= 0)
		return first ? RPS_EXIT_USAGE : 0;
	if (first < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (try --help)\n", argv[first]);
		return RPS_EXIT_USAGE;
	}
	/* a bad --cpus / --numa is a usage error, before any point runs */
	if (rps_topo_check_opts(&(rps_topo_opts_t){ cfg.cpus, cfg.numa, cfg.no_pin }, cfg.threads))
		return RPS_EXIT_USAGE;
	if (cfg.server_port)
		return run_remote(&cfg);
	if (!cfg.nsizes) {
		memcpy(cfg.sizes, def_sizes, sizeof(def_sizes));
		cfg.nsizes = sizeof(def_sizes) / sizeof(def_sizes[0]);
	}
	if (!cfg.nchunks)
		cfg.chunks[cfg.nchunks++] = 256 << 10;
	/* where the engines go, so this process's own threads go elsewhere */
	if ((failed = pp_engine_cpus(&cfg))) {
		fprintf(stderr, PROG ": a server with these options: %s\n", rps_strerror(failed));
		return 1;
	}
	if (!cfg.nworkers)
		cfg.workers[cfg.nworkers++] = 1;
	if (cfg.csv)
		printf("bytes,chunk,workers,push_us,apply_us,pull_us,step_us,raw_write_us,"
		       "raw_read_us,efficiency\n");
	else
		printf("# %s, %u engine thread(s), algorithm %s, medians of %u steps; "
		       "efficiency = workers x (raw write + raw read) / step\n"
		       " #bytes      chunk     workers     push[us]   apply[us]    pull[us]"
		       "    step[us]  raw_write[us]  raw_read[us]  efficiency\n",
		       cfg.attr.provider ? cfg.attr.provider : "auto", cfg.threads,
		       rps_algo_name(cfg.algo), cfg.steps);
	for (uint32_t i = 0; i < cfg.nsizes; i++) {
		for (uint32_t j = 0; j < cfg.nchunks; j++) {
			struct pp_result r = { 0 };
			uint64_t size = cfg.sizes[i], chunk = cfg.chunks[j];

			if (pp_raw_time(&cfg, size, chunk, 5, &r.raw_write_us, &r.raw_read_us)) {
				failed = 1;
				continue;
			}
			for (uint32_t k = 0; k < cfg.nworkers; k++) {
				if (pp_ps_time(&cfg, size, chunk, cfg.workers[k], &r)) {
					failed = 1;
					continue;
				}
				print_row(&cfg, size, chunk, cfg.workers[k], &r);
			}
		}
	}
	return failed;
}
