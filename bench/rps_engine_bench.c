/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_engine_bench: GB/s of each update kernel (src/optim) over model
 * sizes and thread counts, next to reference loops measured in the same
 * run at the same points (STREAM copy, a 3-stream and a 5-stream loop,
 * and the 7- and 8-stream loops the kernels with that many DRAM streams
 * are divided by), with each kernel / its own reference's ratio: on a
 * shared machine the absolute GB/s move with the neighbours' load, the
 * ratio much less.
 *
 * This file: options, the machine description, the loop over points.
 * engine_bench_run.c measures, engine_bench_emit.c prints.
 *
 * Exit status: 0 done, 1 memory or a thread could not be had, 2 bad usage.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#endif
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "engine_bench.h"
#include "util/opt.h"

#define KIB	  (1ull << 10)
#define MIB	  (1ull << 20)
#define GIB	  (1ull << 30)
#define SIZE_MIN  (4 * KIB)
#define SIZE_MAX_ (1 * GIB)
#define LIST_MAX  256 /* characters of one list option */

/* the default sizes, cut at --max-size */
static const uint64_t size_ladder[] = { 64 * KIB, 1 * MIB, 16 * MIB, 256 * MIB, 1 * GIB };

/* ---- options ---------------------------------------------------------- */

/* Splits a comma list into a scratch copy; calls item() per element.
 * Returns 0 or -EINVAL after a one-line error. */
static int for_each_item(const char *opt, const char *arg, void *cfg,
			 int (*item)(void *cfg, const char *opt, const char *s))
{
	char buf[LIST_MAX], *save = NULL, *s;
	size_t len = strlen(arg);

	if (len == 0 || len >= sizeof(buf) || arg[0] == ',' || arg[len - 1] == ',' ||
	    strstr(arg, ",,")) {
		fprintf(stderr, EB_PROG ": --%s: '%s' is not a comma-separated list\n", opt, arg);
		return -EINVAL;
	}
	memcpy(buf, arg, len + 1);
	for (s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
		if (item(cfg, opt, s))
			return -EINVAL;
	return 0;
}

static int size_item(void *c, const char *opt, const char *s)
{
	eb_cfg_t *cfg = c;
	uint64_t v;

	if (rps_opt_size(EB_PROG, opt, s, SIZE_MIN, SIZE_MAX_, &v))
		return -EINVAL;
	if (v % sizeof(float)) {
		fprintf(stderr, EB_PROG ": --%s: '%s' is not a whole number of floats\n", opt, s);
		return -EINVAL;
	}
	if (cfg->nsizes == EB_MAX_SIZES) {
		fprintf(stderr, EB_PROG ": --%s: more than %d sizes\n", opt, EB_MAX_SIZES);
		return -EINVAL;
	}
	cfg->sizes[cfg->nsizes++] = v;
	return 0;
}

static int opt_sizes(void *c, const char *a)
{
	((eb_cfg_t *)c)->nsizes = 0; /* the last --sizes wins */
	return for_each_item("sizes", a, c, size_item);
}

static int opt_max_size(void *c, const char *a)
{
	return rps_opt_size(EB_PROG, "max-size", a, 64 * KIB, SIZE_MAX_,
			    &((eb_cfg_t *)c)->max_size);
}

/* N or A-B */
static int threads_item(void *c, const char *opt, const char *s)
{
	eb_cfg_t *cfg = c;
	char lo[32];
	const char *dash = strchr(s, '-');
	uint64_t a, b;

	if (dash && dash != s && (size_t)(dash - s) < sizeof(lo)) {
		memcpy(lo, s, (size_t)(dash - s));
		lo[dash - s] = '\0';
		if (rps_opt_u64(EB_PROG, opt, lo, 1, EB_MAX_THREADS, &a) ||
		    rps_opt_u64(EB_PROG, opt, dash + 1, 1, EB_MAX_THREADS, &b))
			return -EINVAL;
		if (b < a) {
			fprintf(stderr, EB_PROG ": --%s: '%s' is not a range N-M with N <= M\n",
				opt, s);
			return -EINVAL;
		}
	} else {
		if (rps_opt_u64(EB_PROG, opt, s, 1, EB_MAX_THREADS, &a))
			return -EINVAL;
		b = a;
	}
	for (uint64_t t = a; t <= b; t++) {
		if (cfg->nthreads == EB_MAX_THREADS) {
			fprintf(stderr, EB_PROG ": --%s: more than %d thread counts\n", opt,
				EB_MAX_THREADS);
			return -EINVAL;
		}
		cfg->threads[cfg->nthreads++] = (unsigned)t;
	}
	return 0;
}

static int opt_threads(void *c, const char *a)
{
	((eb_cfg_t *)c)->nthreads = 0;
	return for_each_item("threads", a, c, threads_item);
}

static int kernel_item(void *c, const char *opt, const char *s)
{
	eb_cfg_t *cfg = c;
	int k = eb_kernel_find(s);

	if (!strcmp(s, "all")) {
		for (size_t i = 0; i < eb_nkernels; i++)
			if (!eb_kernels[i].is_ref)
				cfg->kernel_mask |= 1u << i;
		return 0;
	}
	if (k < 0 || eb_kernels[k].is_ref) {
		fprintf(stderr, EB_PROG ": --%s: '%s' is not one of", opt, s);
		for (size_t i = 0; i < eb_nkernels; i++)
			if (!eb_kernels[i].is_ref)
				fprintf(stderr, " %s", eb_kernels[i].name);
		fprintf(stderr, " all\n");
		return -EINVAL;
	}
	cfg->kernel_mask |= 1u << k;
	return 0;
}

static int opt_kernels(void *c, const char *a)
{
	((eb_cfg_t *)c)->kernel_mask = 0;
	return for_each_item("kernels", a, c, kernel_item);
}

static int opt_chunk(void *c, const char *a)
{
	eb_cfg_t *cfg = c;

	if (rps_opt_size(EB_PROG, "chunk", a, SIZE_MIN, SIZE_MAX_, &cfg->chunk))
		return -EINVAL;
	if (cfg->chunk % 64) {
		fprintf(stderr, EB_PROG ": --chunk: '%s' is not a multiple of 64 bytes\n", a);
		return -EINVAL;
	}
	return 0;
}

static int opt_iters(void *c, const char *a)
{
	return rps_opt_u64(EB_PROG, "iters", a, 1, EB_MAX_PASSES, &((eb_cfg_t *)c)->iters);
}

static int opt_output(void *c, const char *a)
{
	static const char *const names[] = {
		[EB_OUT_TABLE] = "table", [EB_OUT_CSV] = "csv", [EB_OUT_JSON] = "json"
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(a, names[i])) {
			((eb_cfg_t *)c)->output = (eb_output_t)i;
			return 0;
		}
	fprintf(stderr, EB_PROG ": --output: '%s' is not table, csv or json\n", a);
	return -EINVAL;
}

static int opt_no_pin(void *c, const char *a)
{
	((eb_cfg_t *)c)->no_pin = true;
	return 0;
}

static int opt_cpus(void *c, const char *a)
{
	((eb_cfg_t *)c)->cpus = a; /* checked against the machine by eb_place */
	return 0;
}

static int opt_numa(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(EB_PROG, "numa", a, 0, 4095, &v);

	((eb_cfg_t *)c)->numa = (int)v;
	return ret;
}

static const rps_opt_t bench_opts[] = {
	{ "sizes", 's', "LIST",
	  "model sizes (bytes of w), K/M/G suffixes (default 64K,1M,16M,256M)", opt_sizes },
	{ "max-size", 0, "BYTES", "cut the default sizes above BYTES (default 256M, up to 1G)",
	  opt_max_size },
	{ "threads", 't', "LIST", "thread counts, e.g. 1,2 or 1-4 (default 1..nproc)",
	  opt_threads },
	{ "kernels", 'k', "LIST", "sgd,dc-asgd-c,dc-asgd-a,pc-asgd,dude-asgd or all (default all)",
	  opt_kernels },
	{ "chunk", 'c', "BYTES", "bytes per kernel call, as the engine's chunk (default 256K)",
	  opt_chunk },
	{ "iters", 'n', "N", "timed passes per measurement (default ~0.2 s worth, >= 3)",
	  opt_iters },
	{ "output", 'o', "FMT", "table (default), csv or json", opt_output },
	{ "no-pin", 0, NULL, "do not pin thread t to the t-th allowed CPU", opt_no_pin },
	{ "cpus", 0, "LIST", "pin thread t to the t-th CPU of LIST (\"0-3,8\")", opt_cpus },
	{ "numa", 0, "N", "arrays on NUMA node N (threads there too, unless --cpus)", opt_numa },
};

static const rps_opt_cmd_t bench_cmd = {
	.prog = EB_PROG,
	.synopsis = "[OPTIONS]",
	.summary = "GB/s of each update kernel next to same-run memory-bandwidth references\n"
		   "(STREAM copy, 3-, 5-, 7- and 8-stream), with each kernel / the reference\n"
		   "with its own DRAM streams.",
	.opts = bench_opts,
	.nopts = sizeof(bench_opts) / sizeof(bench_opts[0]),
};

/* ---- the machine -------------------------------------------------------- */

/* "model name" of the first CPU in /proc/cpuinfo, or "unknown" */
static void cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static eb_cfg_t cfg = { .max_size = 256 * MIB, .chunk = 256 * KIB, .numa = -1 };
	static int cpus[CPU_SETSIZE];
	eb_result_t res[EB_MAX_KERNELS];
	const eb_emitter_ops_t *emit;
	unsigned ncpus, rows = 0;
	char cpu[256], placement[512];
	int first, n, ret = 0;

	for (size_t i = 0; i < eb_nkernels; i++)
		if (!eb_kernels[i].is_ref)
			cfg.kernel_mask |= 1u << i;
	first = rps_opt_parse(&bench_cmd, &cfg, argc, argv);
	if (first == 0)
		return 0;
	if (first < 0)
		return RPS_EXIT_USAGE;
	if (first < argc) {
		fprintf(stderr, EB_PROG ": unexpected operand '%s' (try --help)\n", argv[first]);
		return RPS_EXIT_USAGE;
	}
	if (!cfg.kernel_mask) {
		fprintf(stderr, EB_PROG ": --kernels: no kernel selected\n");
		return RPS_EXIT_USAGE;
	}
	if (cfg.no_pin && cfg.cpus) {
		fprintf(stderr, EB_PROG ": --no-pin and --cpus contradict each other\n");
		return RPS_EXIT_USAGE;
	}
	if ((n = eb_place(&cfg, cpus, CPU_SETSIZE, placement, sizeof(placement))) < 0)
		return n == -EINVAL ? RPS_EXIT_USAGE : EB_EXIT_FAIL;
	ncpus = (unsigned)n;
	if (cfg.nthreads == 0)
		for (unsigned t = 1; t <= ncpus && t <= EB_MAX_THREADS; t++)
			cfg.threads[cfg.nthreads++] = t;
	if (cfg.nsizes == 0)
		for (size_t i = 0; i < sizeof(size_ladder) / sizeof(size_ladder[0]); i++)
			if (size_ladder[i] <= cfg.max_size)
				cfg.sizes[cfg.nsizes++] = size_ladder[i];

	cpu_model(cpu, sizeof(cpu));
	emit = eb_emitter(cfg.output);
	emit->begin(stdout, &(eb_header_t){ cpu, ncpus, cfg.chunk, !cfg.no_pin, placement });
	for (size_t s = 0; s < cfg.nsizes && !ret; s++)
		for (size_t t = 0; t < cfg.nthreads && !ret; t++) {
			size_t nres = 0;

			ret = eb_run_point(&cfg, cfg.sizes[s], cfg.threads[t],
					   cfg.no_pin ? NULL : cpus, ncpus, res, &nres);
			for (size_t i = 0; i < nres; i++)
				emit->row(stdout, &res[i], rows++);
		}
	emit->end(stdout, rows); /* well-formed output even after a failure */
	return ret ? EB_EXIT_FAIL : 0;
}
