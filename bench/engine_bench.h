/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_engine_bench, private: the configuration the options fill, the one
 * result struct every measurement fills, the kernel table, and the
 * emitters (table, CSV, JSON) that print results.
 */
#ifndef RPS_BENCH_ENGINE_BENCH_H
#define RPS_BENCH_ENGINE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EB_PROG	       "rps_engine_bench"
#define EB_MAX_SIZES   32
#define EB_MAX_THREADS 256 /* entries in --threads and threads per point */
#define EB_MAX_ARRAYS  5   /* float arrays any kernel or reference uses */
#define EB_MAX_KERNELS 16  /* entries of eb_kernels, bits of kernel_mask */
#define EB_MAX_PASSES  1000
#define EB_EXIT_FAIL   1

typedef enum eb_output { EB_OUT_TABLE, EB_OUT_CSV, EB_OUT_JSON } eb_output_t;

typedef struct eb_cfg {
	uint64_t sizes[EB_MAX_SIZES]; /* bytes of w; nsizes == 0: default ladder */
	size_t nsizes;
	uint64_t max_size;		  /* caps the default ladder */
	unsigned threads[EB_MAX_THREADS]; /* nthreads == 0: 1..nproc */
	size_t nthreads;
	uint32_t kernel_mask; /* bit i = eb_kernels[i]; references always run */
	uint64_t chunk;	      /* bytes */
	uint64_t iters;	      /* timed passes; 0 = ~0.2 s per measurement */
	eb_output_t output;
	bool no_pin;
	const char *cpus; /* --cpus: thread t on the t-th PU of the list */
	int numa;	  /* --numa: memory (and, without --cpus, threads) there; -1 */
} eb_cfg_t;

/* One measurement: a kernel or reference at one size and thread count. */
typedef struct eb_result {
	const char *kernel;
	const char *ref;	 /* reference the ratio divides by; NULL in a reference row */
	uint64_t size;		 /* bytes of one array (w) */
	unsigned threads;	 /* threads started */
	unsigned active;	 /* threads that own at least one chunk */
	unsigned bytes_per_elem; /* DRAM bytes counted per element */
	uint64_t reps;		 /* sweeps over the model in one timed pass */
	uint64_t passes;	 /* timed passes */
	double gbs_median;	 /* 1e9 bytes/s of the median pass */
	double gbs_best;	 /* ... of the fastest pass */
	double ref_gbs;		 /* median GB/s of ref at the same point; 0 in a reference row */
	double ratio;		 /* gbs_median / ref_gbs; 0 in a reference row */
} eb_result_t;

/*
 * A kernel under test or a reference loop.  a[] are the point's n-element
 * arrays (a[0] = w, a[1] = g, a[2] = b or s, a[3] = ms or g_old, a[4] =
 * dude's snapshot b); apply
 * runs one chunk [off, off + len) and returns 0 or the kernel's negative
 * errno.
 */
typedef struct eb_kernel {
	const char *name;
	bool is_ref;
	unsigned narrays;
	unsigned bytes_per_elem;
	const char *ref; /* name of the reference its ratio uses; NULL for a reference */
	int (*apply)(float *const *a, size_t off, size_t len);
} eb_kernel_t;

extern const eb_kernel_t eb_kernels[];
extern const size_t eb_nkernels;

/*
 * Where the threads and the arrays go (engine_bench_place.c): fills
 * cpus[0..n-1] (thread t runs on cpus[t % n]) from --cpus, else from the
 * PUs of --numa's node, else from the CPUs this process may use; with
 * --numa, binds the memory the calling thread and the threads it starts
 * allocate to that node.  --numa with --cpus of another node is how the
 * cost of a wrong placement is measured.  Writes one line describing it
 * into desc.  Returns n >= 1, or -EINVAL after one line (bad usage).
 */
int eb_place(const eb_cfg_t *cfg, int *cpus, unsigned max, char *desc, size_t len);

/* index in eb_kernels of name, or -1 */
int eb_kernel_find(const char *name);

/* What the header line of every format states. */
typedef struct eb_header {
	const char *cpu;
	unsigned nproc;
	uint64_t chunk;
	bool pinned;
	const char *placement; /* "cpus 0-3, memory on NUMA node 1" */
} eb_header_t;

/* An emitter prints results as they are measured: begin once, row for
 * each result (index counts rows from 0, for separators), end once.
 * Emitters only format: every figure is already in the result. */
typedef struct eb_emitter_ops {
	void (*begin)(FILE *out, const eb_header_t *h);
	void (*row)(FILE *out, const eb_result_t *r, unsigned index);
	void (*end)(FILE *out, unsigned nrows);
} eb_emitter_ops_t;

const eb_emitter_ops_t *eb_emitter(eb_output_t output);

/* v bytes as "64K", "1G", or plain digits when not a whole K; returns buf */
const char *eb_size_str(uint64_t v, char *buf, size_t len);

/*
 * Measures every reference and every kernel in cfg->kernel_mask at one
 * size and thread count; cpus[0..ncpus-1] are the CPUs to pin to (NULL:
 * no pinning).  Fills res[0..*nres_p-1] in eb_kernels order, with ratios.
 * Returns 0, -ENOMEM after printing a message naming the size, or
 * another negative errno after printing what failed.
 */
int eb_run_point(const eb_cfg_t *cfg, uint64_t size, unsigned threads, const int *cpus,
		 unsigned ncpus, eb_result_t *res, size_t *nres_p);

#endif /* RPS_BENCH_ENGINE_BENCH_H */
