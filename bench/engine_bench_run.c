/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_engine_bench, measuring: the kernel table (update kernels and the
 * reference loops), the worker threads, and the timing of passes.
 *
 * One point is a model size and a thread count.  Its arrays are
 * allocated once and first-touched by the workers that own them; each
 * worker owns a contiguous run of chunks and applies the kernel chunk by
 * chunk, as an engine thread does.  A pass is `reps` sweeps of every
 * worker over its slice between two barriers; its time runs from the
 * earliest start to the latest end, so a late or idle thread counts.
 * The passes of all kernels and references at a point are interleaved.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine_bench.h"
#include "optim/fused.h" /* RPS_OPTIM_CLONES */
#include "optim/kernels.h"
#include "util/clock.h"

#define PASS_NS	   5000000ull	/* aim: one timed pass lasts 5 ms */
#define MEASURE_NS 200000000ull /* default: ~0.2 s of timed passes */
#define MIN_PASSES 3
#define MAX_REPS   (1ull << 30)

/* ---- reference loops ---------------------------------------------------
 * Plain C, vectorized by the compiler like the kernels.  noinline and
 * stores through escaped pointers keep the compiler from eliding them;
 * the loop-pattern rewrite is off so copy stays a load/store loop (a
 * memcpy() call would switch to non-temporal stores on large sizes and
 * stop being the STREAM copy). */
#if defined(__clang__)
#define EB_PLAIN_LOOP __attribute__((noinline, no_builtin("memcpy")))
#elif defined(__GNUC__)
#define EB_PLAIN_LOOP __attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
#else
#define EB_PLAIN_LOOP
#endif
/* The references get the same ISA clones as the kernels (AVX2 where the
 * CPU has it), so a ratio compares memory traffic, not instruction sets. */
#define EB_REF_LOOP EB_PLAIN_LOOP RPS_OPTIM_CLONES

/* runtime scalar: the compiler cannot fold it */
static volatile float eb_scalar = 1e-6f;

/* STREAM copy: read b, write a (STREAM counts 8 B; the write-allocate
 * read of a is real DRAM traffic it does not count) */
EB_REF_LOOP static void ref_copy_loop(float *restrict a, const float *restrict b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = b[i];
}

/* 3 streams in place, the shape of sgd: read a, b; write a */
EB_REF_LOOP static void ref_3s_loop(float *restrict a, const float *restrict b, float s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a[i] = a[i] + s * b[i];
}

/* 5 streams in place, the shape of dc-asgd: read a, b, c; write a, c.
 * Writing arrays it also reads (as w and b are) means no write-allocate
 * traffic that the 20 B would not count. */
EB_REF_LOOP static void ref_5s_loop(float *restrict a, const float *restrict b, float *restrict c,
				    float s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = a[i] + s * b[i] * c[i];

		a[i] = x;
		c[i] = x;
	}
}

/* 7 streams in place, the shape of dc-asgd-a: read a, b, c, d; write a,
 * c, d (b is read only, as g is) */
EB_REF_LOOP static void ref_7s_loop(float *restrict a, const float *restrict b, float *restrict c,
				    float *restrict d, float s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float x = a[i] + s * b[i] * c[i], y = d[i] + s * b[i];

		a[i] = x;
		c[i] = x;
		d[i] = y;
	}
}

/* 8 streams in place, the shape of dude-asgd: read a, b, c, d, e; write
 * a, c, e (b and d are read only, as g_new and g_old are) */
EB_REF_LOOP static void ref_8s_loop(float *restrict a, const float *restrict b, float *restrict c,
				    const float *restrict d, float *restrict e, float s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		float y = c[i] + s * (b[i] - d[i]), x = a[i] + s * (y + e[i]);

		a[i] = x;
		c[i] = y;
		e[i] = x;
	}
}

/* ---- the kernel table --------------------------------------------------
 * Arrays: a[0] = w, a[1] = g (g_new), a[2] = b (s for dude),
 * a[3] = ms (g_old for dude), a[4] = dude's snapshot b. */

static int apply_copy(float *const *a, size_t off, size_t len)
{
	ref_copy_loop(a[0] + off, a[1] + off, len);
	return 0;
}

static int apply_3s(float *const *a, size_t off, size_t len)
{
	ref_3s_loop(a[0] + off, a[1] + off, eb_scalar, len);
	return 0;
}

static int apply_5s(float *const *a, size_t off, size_t len)
{
	ref_5s_loop(a[0] + off, a[1] + off, a[2] + off, eb_scalar, len);
	return 0;
}

static int apply_7s(float *const *a, size_t off, size_t len)
{
	ref_7s_loop(a[0] + off, a[1] + off, a[2] + off, a[3] + off, eb_scalar, len);
	return 0;
}

static int apply_8s(float *const *a, size_t off, size_t len)
{
	ref_8s_loop(a[0] + off, a[1] + off, a[2] + off, a[3] + off, a[4] + off, eb_scalar, len);
	return 0;
}

/* The kernels' undo scratch, per bench thread as per engine thread; sized
 * on the first (warm-up) pass, so timed passes never allocate. */
static __thread float *eb_undo;
static __thread size_t eb_undo_len;

static float *undo_for(size_t len)
{
	if (len > eb_undo_len) {
		free(eb_undo);
		eb_undo = NULL;
		if (posix_memalign((void **)&eb_undo, 4096,
				   RPS_OPTIM_UNDO_ARRAYS * len * sizeof(float)))
			return NULL; /* the kernel then takes its two-pass path */
		eb_undo_len = len;
	}
	return eb_undo;
}

/* frees this thread's undo scratch (at the end of a worker thread) */
static void undo_release(void)
{
	free(eb_undo);
	eb_undo = NULL;
	eb_undo_len = 0;
}

/* asgd as the engine runs it: the worker's snapshot b written in the
 * same pass */
static int apply_sgd(float *const *a, size_t off, size_t len)
{
	static const rps_sgd_params_t p = { .lr = 1e-3f };

	return rps_optim_sgd(a[0] + off, NULL, a[2] + off, a[1] + off, len, &p, undo_for(len));
}

static int apply_dcasgd(float *const *a, size_t off, size_t len)
{
	static const rps_dcasgd_params_t p = { .lr = 1e-3f, .lambda = 0.04f };

	return rps_optim_dcasgd(a[0] + off, a[2] + off, a[1] + off, len, &p, undo_for(len));
}

static int apply_dcasgd_a(float *const *a, size_t off, size_t len)
{
	static const rps_dcasgd_a_params_t p = {
		.lr = 1e-3f, .lambda0 = 2.0f, .ms_decay = 0.95f, .eps = 1e-7f
	};

	return rps_optim_dcasgd_a(a[0] + off, a[2] + off, a[3] + off, a[1] + off, len, &p,
				  undo_for(len));
}

static int apply_pcasgd(float *const *a, size_t off, size_t len)
{
	static const rps_pcasgd_params_t p = {
		.lr = 1e-3f, .lambda = 0.04f, .theta = 0.5f, .fresh = true
	};

	return rps_optim_pcasgd(a[0] + off, a[2] + off, a[1] + off, len, &p, undo_for(len));
}

static int apply_dude(float *const *a, size_t off, size_t len)
{
	static const rps_dude_params_t p = { .lr = 1e-3f, .inv_m = 0.25f };

	return rps_optim_dude(a[0] + off, a[2] + off, a[4] + off, a[1] + off, a[3] + off, len, &p,
			      undo_for(len));
}

/*
 * All kernels of a point share its arrays, starting from w = 1, g = 0.01,
 * b = 0.99, ms = 1e-4.  Nothing writes g, so no kernel ever sees a NaN;
 * the others drift (copy resets w to g, dude grows s by g - ms per sweep)
 * but stay finite and far from denormals for far more sweeps than a run
 * makes: the timing is that of normal floats.
 */
static const float start_value[EB_MAX_ARRAYS] = { 1.0f, 0.01f, 0.99f, 1e-4f, 0.99f };

/*
 * references first, so that the table lists them before the kernels
 * divided by them.  Each kernel is divided by the reference with its own
 * DRAM streams, counted per parameter from its fused one-pass path (the
 * one the engine and this program call: undo scratch given, b not NULL,
 * dude with g_old).  The undo scratch it also writes is not counted: it is
 * RPS_OPTIM_UNDO_ARRAYS x chunk floats per thread (768 KiB at the default
 * 256 KiB chunk), written and never read back unless a chunk is refused,
 * so it stays in the core's cache and never reaches DRAM.
 *   sgd (momentum 0, snapshot b)  read g, w, b; write w, b     5 = 20 B
 *     (b is read to save it for the undo; without that read its write
 *     would read it anyway: write-allocate)
 *   dc-asgd-c, pc-asgd            read g, w, b; write w, b     5 = 20 B
 *   dc-asgd-a                     read g, w, b, ms; write w, b, ms
 *                                                              7 = 28 B
 *   dude-asgd                     read g_new, g_old, s, w, b; write s, w, b
 *                                                              8 = 32 B
 */
const eb_kernel_t eb_kernels[] = {
	{ "copy", true, 2, 8, NULL, apply_copy },
	{ "3-stream", true, 2, 12, NULL, apply_3s },
	{ "5-stream", true, 3, 20, NULL, apply_5s },
	{ "7-stream", true, 4, 28, NULL, apply_7s },
	{ "8-stream", true, 5, 32, NULL, apply_8s },
	{ "sgd", false, 3, 20, "5-stream", apply_sgd },
	{ "dc-asgd-c", false, 3, 20, "5-stream", apply_dcasgd },
	{ "dc-asgd-a", false, 4, 28, "7-stream", apply_dcasgd_a },
	{ "pc-asgd", false, 3, 20, "5-stream", apply_pcasgd },
	{ "dude-asgd", false, 5, 32, "8-stream", apply_dude },
};
const size_t eb_nkernels = sizeof(eb_kernels) / sizeof(eb_kernels[0]);
_Static_assert(sizeof(eb_kernels) / sizeof(eb_kernels[0]) <= EB_MAX_KERNELS,
	       "kernel_mask and the result arrays hold EB_MAX_KERNELS");

int eb_kernel_find(const char *name)
{
	for (size_t i = 0; i < eb_nkernels; i++)
		if (!strcmp(eb_kernels[i].name, name))
			return (int)i;
	return -1;
}

/* ---- one point: workers, passes ---------------------------------------- */

struct eb_slot {
	_Alignas(64) uint64_t start, end; /* a cache line each: no false sharing */
};

struct eb_point {
	const eb_cfg_t *cfg;
	float *arr[EB_MAX_ARRAYS];
	unsigned narrays;
	size_t n;     /* elements per array */
	size_t chunk; /* elements per chunk */
	size_t nchunks;
	unsigned threads;
	const int *cpus; /* NULL: no pinning */
	unsigned ncpus;
	pthread_barrier_t bar;
	struct eb_slot *slot;
	uint64_t pass_ns[EB_MAX_KERNELS][EB_MAX_PASSES]; /* written by worker 0 */
	eb_result_t *res;				 /* one per kernel, eb_kernels order */
	atomic_int err;
};

struct eb_worker {
	struct eb_point *pt;
	unsigned id;
	pthread_t tid;
	size_t lo, hi; /* elements [lo, hi): chunks lo/chunk .. hi/chunk */
};

/* The first EB_BASE_REFS references (copy, 3- and 5-stream) always run;
 * the others when a selected kernel divides by them. */
#define EB_BASE_REFS 3

static bool selected(const eb_cfg_t *cfg, size_t k)
{
	if (!eb_kernels[k].is_ref)
		return cfg->kernel_mask & (1u << k);
	if (k < EB_BASE_REFS)
		return true;
	for (size_t j = 0; j < eb_nkernels; j++)
		if ((cfg->kernel_mask & (1u << j)) && eb_kernels[j].ref &&
		    !strcmp(eb_kernels[j].ref, eb_kernels[k].name))
			return true;
	return false;
}

/* One pass: every worker sweeps its slice reps times.  Returns the pass
 * time, the same value in every worker (all read the same slots after
 * the barrier, and none rewrites its slot before all have passed the
 * next pass's first barrier). */
static uint64_t run_pass(struct eb_worker *wk, const eb_kernel_t *k, uint64_t reps)
{
	struct eb_point *pt = wk->pt;
	uint64_t t0, t1, first = UINT64_MAX, last = 0;
	int err = 0;

	pthread_barrier_wait(&pt->bar);
	t0 = rps_now_ns();
	for (uint64_t r = 0; r < reps; r++)
		for (size_t off = wk->lo; off < wk->hi; off += pt->chunk) {
			size_t len = wk->hi - off < pt->chunk ? wk->hi - off : pt->chunk;

			err |= k->apply(pt->arr, off, len);
		}
	t1 = rps_now_ns();
	if (err)
		atomic_store(&pt->err, err);
	pt->slot[wk->id].start = t0;
	pt->slot[wk->id].end = t1;
	pthread_barrier_wait(&pt->bar);
	for (unsigned t = 0; t < pt->threads; t++) {
		if (pt->slot[t].start < first)
			first = pt->slot[t].start;
		if (pt->slot[t].end > last)
			last = pt->slot[t].end;
	}
	return last > first ? last - first : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Worker 0 turns the pass times into the result of kernel ki. */
static void record(struct eb_point *pt, size_t ki, uint64_t reps, uint64_t passes)
{
	const eb_kernel_t *k = &eb_kernels[ki];
	eb_result_t *r = &pt->res[ki];
	double bytes = (double)k->bytes_per_elem * (double)pt->n * (double)reps;
	uint64_t *ns = pt->pass_ns[ki];
	double median;

	qsort(ns, passes, sizeof(ns[0]), cmp_u64);
	median = passes % 2 ? (double)ns[passes / 2]
			    : ((double)ns[passes / 2 - 1] + (double)ns[passes / 2]) / 2.0;
	*r = (eb_result_t){
		.kernel = k->name,
		.ref = k->ref,
		.size = (uint64_t)pt->n * sizeof(float),
		.threads = pt->threads,
		.active = pt->nchunks < pt->threads ? (unsigned)pt->nchunks : pt->threads,
		.bytes_per_elem = k->bytes_per_elem,
		.reps = reps,
		.passes = passes,
		.gbs_median = bytes / median,
		.gbs_best = bytes / (double)ns[0],
	};
}

/* Warms kernel ki up, then finds the reps that make a pass last about
 * PASS_NS (one sweep when a sweep takes longer).  Returns the expected
 * pass time.  Every worker takes the same decisions from the same times. */
static uint64_t calibrate(struct eb_worker *wk, size_t ki, uint64_t *reps_p)
{
	const eb_kernel_t *k = &eb_kernels[ki];
	uint64_t reps = 1, t;

	run_pass(wk, k, 1); /* warm-up: caches, TLB, branch predictors */
	for (;;) {
		t = run_pass(wk, k, reps);
		if (t >= PASS_NS / 2 || reps >= MAX_REPS)
			break;
		uint64_t grow = PASS_NS / t;
		reps *= grow < 2 ? 2 : grow > 1000 ? 1000 : grow;
	}
	if (t < PASS_NS) {
		reps = reps * PASS_NS / t;
		t = PASS_NS;
	}
	*reps_p = reps;
	return t;
}

/* Times every selected kernel and reference in rounds: one pass of each
 * per round, so that a burst of load from elsewhere on a shared machine
 * hits a kernel and the reference it is divided by alike. */
static void measure(struct eb_worker *wk)
{
	struct eb_point *pt = wk->pt;
	uint64_t reps[EB_MAX_KERNELS] = { 0 }, longest = 0, rounds = pt->cfg->iters;

	for (size_t ki = 0; ki < eb_nkernels; ki++)
		if (selected(pt->cfg, ki)) {
			uint64_t t = calibrate(wk, ki, &reps[ki]);

			longest = t > longest ? t : longest;
		}
	if (!rounds) {
		rounds = (MEASURE_NS + longest - 1) / longest;
		rounds = rounds < MIN_PASSES ? MIN_PASSES : rounds;
	}
	rounds = rounds > EB_MAX_PASSES ? EB_MAX_PASSES : rounds;
	for (uint64_t r = 0; r < rounds; r++)
		for (size_t ki = 0; ki < eb_nkernels; ki++) {
			uint64_t t;

			if (!selected(pt->cfg, ki))
				continue;
			t = run_pass(wk, &eb_kernels[ki], reps[ki]);
			if (wk->id == 0)
				pt->pass_ns[ki][r] = t;
		}
	if (wk->id == 0)
		for (size_t ki = 0; ki < eb_nkernels; ki++)
			if (selected(pt->cfg, ki))
				record(pt, ki, reps[ki], rounds);
}

static int pin(const struct eb_point *pt, unsigned id)
{
	cpu_set_t set;

	if (!pt->cpus)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(pt->cpus[id % pt->ncpus], &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *worker(void *arg)
{
	struct eb_worker *wk = arg;
	struct eb_point *pt = wk->pt;
	int ret = pin(pt, wk->id);

	if (ret) {
		fprintf(stderr, EB_PROG ": pinning thread %u to CPU %d: %s\n", wk->id,
			pt->cpus[wk->id % pt->ncpus], strerror(ret));
		atomic_store(&pt->err, -ret);
	}
	/* first touch: the pages of a slice land where its owner runs */
	for (unsigned a = 0; a < pt->narrays; a++)
		for (size_t i = wk->lo; i < wk->hi; i++)
			pt->arr[a][i] = start_value[a];
	measure(wk);
	undo_release();
	return NULL;
}

/* MemAvailable from /proc/meminfo in bytes, or 0 when unknown */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

static int alloc_arrays(struct eb_point *pt, uint64_t size)
{
	uint64_t need = (uint64_t)pt->narrays * size, avail = mem_available();
	char sz[32];

	eb_size_str(size, sz, sizeof(sz));
	if (avail && need > avail) {
		fprintf(stderr,
			EB_PROG ": size %s needs %u arrays = %.2f GiB, only %.2f GiB available\n",
			sz, pt->narrays, (double)need / (1 << 30), (double)avail / (1 << 30));
		return -ENOMEM;
	}
	for (unsigned a = 0; a < pt->narrays; a++) {
		/* page-aligned, as the server's buffers are */
		int ret = posix_memalign((void **)&pt->arr[a], 4096, size);

		if (ret) {
			pt->arr[a] = NULL;
			fprintf(stderr, EB_PROG ": size %s: cannot allocate array %u of %u: %s\n",
				sz, a + 1, pt->narrays, strerror(ret));
			return -ret;
		}
	}
	return 0;
}

/* fill ref_gbs and ratio of each kernel from its reference at this point */
static void add_ratios(const eb_cfg_t *cfg, eb_result_t *res)
{
	for (size_t ki = 0; ki < eb_nkernels; ki++) {
		int ri = eb_kernels[ki].ref ? eb_kernel_find(eb_kernels[ki].ref) : -1;

		if (ri < 0 || !selected(cfg, ki))
			continue;
		res[ki].ref_gbs = res[ri].gbs_median;
		res[ki].ratio = res[ki].gbs_median / res[ri].gbs_median;
	}
}

int eb_run_point(const eb_cfg_t *cfg, uint64_t size, unsigned threads, const int *cpus,
		 unsigned ncpus, eb_result_t *res, size_t *nres_p)
{
	struct eb_point *pt;
	struct eb_worker *wk;
	eb_result_t all[EB_MAX_KERNELS];
	unsigned started = 0;
	size_t nres = 0;
	int ret;

	pt = calloc(1, sizeof(*pt));
	wk = calloc(threads, sizeof(*wk));
	if (!pt || !wk) {
		ret = -ENOMEM;
		goto out_free;
	}
	pt->slot = aligned_alloc(64, threads * sizeof(*pt->slot));
	if (!pt->slot) {
		ret = -ENOMEM;
		goto out_free;
	}
	pt->cfg = cfg;
	pt->n = size / sizeof(float);
	pt->chunk = cfg->chunk / sizeof(float);
	pt->nchunks = (pt->n + pt->chunk - 1) / pt->chunk;
	pt->threads = threads;
	pt->cpus = cpus;
	pt->ncpus = ncpus;
	pt->res = all;
	for (size_t ki = 0; ki < eb_nkernels; ki++)
		if (selected(cfg, ki) && eb_kernels[ki].narrays > pt->narrays)
			pt->narrays = eb_kernels[ki].narrays;
	if ((ret = alloc_arrays(pt, size)))
		goto out_arrays;
	if ((ret = -pthread_barrier_init(&pt->bar, NULL, threads)))
		goto out_arrays;
	for (unsigned t = 0; t < threads; t++) {
		/* thread t owns chunks [t*C/T, (t+1)*C/T) */
		wk[t] = (struct eb_worker){ .pt = pt, .id = t };
		wk[t].lo = (size_t)((uint64_t)t * pt->nchunks / threads) * pt->chunk;
		wk[t].hi = (size_t)((uint64_t)(t + 1) * pt->nchunks / threads) * pt->chunk;
		wk[t].lo = wk[t].lo < pt->n ? wk[t].lo : pt->n;
		wk[t].hi = wk[t].hi < pt->n ? wk[t].hi : pt->n;
	}
	for (; started < threads; started++)
		if ((ret = -pthread_create(&wk[started].tid, NULL, worker, &wk[started])))
			break;
	if (ret) {
		/* the started workers would wait forever at the barrier */
		fprintf(stderr, EB_PROG ": starting thread %u of %u: %s\n", started + 1, threads,
			strerror(-ret));
		exit(EB_EXIT_FAIL);
	}
	for (unsigned t = 0; t < threads; t++)
		pthread_join(wk[t].tid, NULL);
	ret = atomic_load(&pt->err);
	if (ret) {
		char sz[32];

		fprintf(stderr, EB_PROG ": size %s, %u threads: %s\n",
			eb_size_str(size, sz, sizeof(sz)), threads, strerror(-ret));
	} else {
		add_ratios(cfg, all);
		for (size_t ki = 0; ki < eb_nkernels; ki++)
			if (selected(cfg, ki))
				res[nres++] = all[ki];
		*nres_p = nres;
	}
	pthread_barrier_destroy(&pt->bar);
out_arrays:
	for (unsigned a = 0; a < pt->narrays; a++)
		free(pt->arr[a]);
out_free:
	if (pt)
		free(pt->slot);
	free(pt);
	free(wk);
	return ret;
}
