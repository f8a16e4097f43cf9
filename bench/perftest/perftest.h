/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_write_bw, rps_write_lat, rps_read_bw, rps_read_lat: perftest's
 * micro benchmarks (ib_write_bw, ...) over the rdmaps transport.  Private
 * to bench/perftest; see rps_perftest(1).
 *
 * One runner (pt_main) serves the four tools: the tool picks the verb
 * (WRITE or READ) and the test (bandwidth or latency).  A file per job:
 *   pt_opts.c    the option table, its handlers, --help
 *   pt_wire.c    the wire messages (connect/accept private data, control
 *                SENDs): fixed-size, little-endian, one parser each
 *   pt_ep.c      the endpoint: transport, buffers, MRs, the N connections
 *   pt_ctrl.c    control messages: barrier, reports, end of test
 *   pt_bw.c      the bandwidth loop (tx-depth in flight per QP)
 *   pt_lat.c     the latency loops (WRITE ping-pong, one READ at a time)
 *   pt_stats.c   the numbers: BW peak/average, latency percentiles
 *   pt_report.c  perftest's header block, table and --output
 *   pt_run.c     the runner: roles, sizes, who prints what
 */
#ifndef RPS_BENCH_PERFTEST_H
#define RPS_BENCH_PERFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <rdmaps/rdmaps.h>

#define PT_EXIT_FAIL 1

#define PT_DEF_PORT		18515
#define PT_DEF_SIZE_BW		65536
#define PT_DEF_SIZE_LAT		2
#define PT_DEF_ITERS_BW		5000
#define PT_DEF_ITERS_LAT	1000
#define PT_DEF_TX_BW		128
#define PT_DEF_TX_LAT		1
#define PT_DEF_INLINE_WRITE_LAT 220 /* perftest's DEF_INLINE_WRITE */
#define PT_ALL_MIN_LOG		1   /* -a: 2 bytes ... */
#define PT_ALL_MAX_LOG		23  /* ... to 8 MiB, as perftest */
#define PT_MAX_SIZE		(1ull << 30)
#define PT_MAX_SIZE_LOG		30
#define PT_MIN_ITERS		5 /* perftest's MIN_ITER */
#define PT_MAX_ITERS		100000000ull
#define PT_MAX_QPS		256
#define PT_MAX_TX		16384
#define PT_MAX_INLINE		912   /* perftest's MAX_INLINE */
#define PT_PEAK_MAX_ITERS	20000 /* perftest: peak only up to this many */

typedef enum pt_verb { PT_WRITE, PT_READ } pt_verb_t;
typedef enum pt_test { PT_BW, PT_LAT } pt_test_t;

/* --output: the whole report, or one number per size for scripts */
typedef enum pt_output {
	PT_OUT_FULL = 0,
	PT_OUT_BANDWIDTH,
	PT_OUT_MSG_RATE,
	PT_OUT_LATENCY,
} pt_output_t;

/* One of the four programs. */
typedef struct pt_tool {
	const char *prog;      /* "rps_write_bw" */
	const char *verb_name; /* perftest's name of the verb: "RDMA_Write" */
	pt_verb_t verb;
	pt_test_t test;
} pt_tool_t;

typedef struct pt_cfg {
	const pt_tool_t *tool;
	rps_transport_attr_t attr;
	const char *host; /* NULL: server */
	uint16_t port;	  /* 0 on the server: any free port (printed) */
	uint64_t size;	  /* with -a: the largest size (2^23 unless --size) */
	bool all;	  /* -a: sizes 2, 4, ... size */
	uint64_t iters;
	uint32_t duration; /* -D seconds; 0: --iters */
	uint32_t nqps;
	uint32_t tx_depth;
	int inline_size; /* -1: the tool's default */
	bool bidir;
	bool gbits;
	bool no_peak;
	bool version; /* -V seen: print the version, run nothing */
	pt_output_t output;
} pt_cfg_t;

/* ---- pt_opts.c -------------------------------------------------------- */

/* Defaults for tool (perftest's), then the RPS_* environment.  Returns 0
 * or -EINVAL when the environment holds a bad value (logged). */
int pt_cfg_init(pt_cfg_t *cfg, const pt_tool_t *tool);
/* Parses argv into cfg.  Returns 1 to run, 0 when --help or --version was
 * printed (exit 0), or -EINVAL after a one-line error (exit 2). */
int pt_opts_parse(pt_cfg_t *cfg, int argc, char **argv);

/* ---- pt_wire.c: the messages ------------------------------------------- */

#define PT_WIRE_VERSION 1

/* connect private data: the client's run parameters and where its
 * buffer is (the server WRITEs there in write_lat and with -b) */
typedef struct pt_hello {
	uint8_t verb, test; /* pt_verb_t, pt_test_t of the client's tool */
	bool bidir, all;
	uint16_t qp_index, nqps;
	uint32_t session; /* ties the nqps connections of one run together */
	uint32_t duration;
	uint32_t size;
	uint32_t iters;
	uint64_t addr, key; /* the client's whole buffer (rps_mr_remote) */
} pt_hello_t;

/* accept private data: where the server's buffers are */
typedef struct pt_welcome {
	uint64_t slot; /* bytes of one area: a QP has a send and a recv area */
	rps_remote_t remote;
} pt_welcome_t;

typedef enum pt_msg_type {
	PT_MSG_SYNC = 1, /* barrier: "ready for the next size" */
	PT_MSG_REPORT,	 /* one size's bandwidth result */
	PT_MSG_DONE,	 /* end of test */
	PT_MSG_STOP,	 /* -D write_lat: the client ends the ping-pong */
	PT_MSG_TYPE_MAX_,
} pt_msg_type_t;

/* a bandwidth result, as the side that measured it computed it */
typedef struct pt_bw_result {
	uint64_t size;
	uint64_t iters;	 /* operations measured (all QPs) */
	double peak_bps; /* bytes/s peak over whole signaling windows; 0: none */
	double avg_bps;	 /* bytes/s over the whole run */
	double msg_rate; /* operations/s */
} pt_bw_result_t;

typedef struct pt_msg {
	pt_msg_type_t type;
	uint32_t seq;	       /* SYNC: size index */
	pt_bw_result_t report; /* REPORT */
} pt_msg_t;

#define PT_HELLO_LEN   48
#define PT_WELCOME_LEN 40
#define PT_MSG_LEN     56

/* The packers fill out and return its length; the parsers return 0, or
 * -RPS_ERR_PROTO (and leave *x_p alone) when raw is not a valid message
 * of this version. */
size_t pt_hello_pack(const pt_hello_t *h, uint8_t out[PT_HELLO_LEN]);
int pt_hello_parse(const void *raw, size_t len, pt_hello_t *h_p);
size_t pt_welcome_pack(const pt_welcome_t *w, uint8_t out[PT_WELCOME_LEN]);
int pt_welcome_parse(const void *raw, size_t len, pt_welcome_t *w_p);
size_t pt_msg_pack(const pt_msg_t *m, uint8_t out[PT_MSG_LEN]);
int pt_msg_parse(const void *raw, size_t len, pt_msg_t *m_p);

/* ---- pt_ep.c: the endpoint -------------------------------------------- */

/* Control messages parsed but not yet waited for.  The client of a
 * one-way bandwidth test sends a REPORT per size without waiting for an
 * answer, and a server slower than it (seen in the emulated soft-RoCE VM:
 * 9 REPORTs of rps_write_bw -a -n 10 taken in one poll) may find them all
 * at once: room for one per size of -a up to PT_MAX_SIZE (2^1..2^30),
 * DONE and a STOP. */
#define PT_INBOX      32
#define PT_POLL_BATCH 16
_Static_assert(PT_INBOX >= PT_MAX_SIZE_LOG + 2, "a REPORT per size, DONE and STOP fit");

/* One connection (one QP) and its share of the buffers. */
typedef struct pt_qp {
	rps_conn_t *conn;
	uint8_t *send_area; /* local: source of WRITEs, what the peer READs */
	uint8_t *recv_area; /* local: the peer WRITEs here, our READs land here */
	uint64_t peer_send; /* the peer's send area, for post calls */
	uint64_t peer_recv; /* the peer's recv area */
	uint64_t rkey;
	uint64_t posted, done; /* operations of the current loop */
	uint64_t signaled;     /* posted when the last signaled one was */
} pt_qp_t;

typedef struct pt_ep {
	pt_cfg_t *cfg;
	rps_transport_t *tp;
	rps_cq_t *cq;
	rps_listener_t *listener;
	uint8_t *buf; /* nqps x (send area, recv area) */
	size_t buf_len, slot;
	rps_mr_t *mr;
	uint8_t *ctrl_buf; /* control SENDs are staged here */
	rps_mr_t *ctrl_mr;
	pt_qp_t *qps;
	uint32_t nqps;
	/* ofi: one-sided data moves only while the target polls its CQ, so
	 * a waiting side must spin; verbs may sleep while it waits */
	bool needs_progress;
	pt_msg_t inbox[PT_INBOX];
	unsigned inbox_len;
	rps_completion_t comps[PT_POLL_BATCH];
} pt_ep_t;

/* Server: opens the transport and listens; prints the "waiting" banner. */
int pt_ep_listen(pt_ep_t *ep, pt_cfg_t *cfg);
/* Server: accepts the client's connections, taking the run parameters
 * (size, iters, -a, -D, -q, -b) from its hello; -t and -I stay its own. */
int pt_ep_accept(pt_ep_t *ep);
/* Client: opens the transport and makes cfg->nqps connections to host. */
int pt_ep_connect(pt_ep_t *ep, pt_cfg_t *cfg);
/* Closes whatever was opened, in reverse order; ep may be half made. */
void pt_ep_close(pt_ep_t *ep);

/* ---- pt_ctrl.c: control messages over SEND on the first connection ---- */

/* Sends m and waits for its local completion. */
int pt_ctrl_send(pt_ep_t *ep, const pt_msg_t *m);
/* Waits for a message of type.  Messages of other types that arrive
 * meanwhile are kept for later calls.  passive: this side moves no data
 * of its own meanwhile, so on verbs it may sleep between polls. */
int pt_ctrl_wait(pt_ep_t *ep, pt_msg_type_t type, bool passive, pt_msg_t *m_p);
/* Both sides: send SYNC seq, wait for the peer's. */
int pt_ctrl_barrier(pt_ep_t *ep, uint32_t seq);
/* Polls the CQ once into ep->comps: how many, or a negative errno
 * (logged). */
int pt_poll(pt_ep_t *ep);
/* For the data loops: takes one completion that is not theirs (a RECV is
 * parsed into the inbox), or a failed one (logged with its operation and
 * peer).  Returns 0 or a negative errno. */
int pt_ctrl_take(pt_ep_t *ep, const rps_completion_t *c);
/* A completion's failure, logged once with the peer's name. */
int pt_comp_failed(pt_ep_t *ep, const rps_completion_t *c, const char *what);

/* ---- pt_bw.c / pt_lat.c: the loops ------------------------------------ */

/* Time marks of one bandwidth loop, for the peak: the time of every
 * cq_mod-th post (with the number of posts before it), and of every
 * signaled completion (with the number of operations done by then). */
typedef struct pt_mark {
	uint64_t ops;
	uint64_t t_ns;
} pt_mark_t;

typedef struct pt_bw_marks {
	pt_mark_t *post, *comp;
	size_t npost, ncomp, cap;
} pt_bw_marks_t;

typedef struct pt_bw_run {
	uint64_t size;
	uint64_t iters;	      /* per QP; ignored when duration_ns */
	uint64_t duration_ns; /* 0: run iters */
	uint32_t depth, cq_mod;
	pt_bw_marks_t *marks; /* NULL: no peak (warm-up, duration, -N) */
	/* out */
	uint64_t ops;  /* operations measured */
	uint64_t t_ns; /* first post to last completion */
} pt_bw_run_t;

/* Runs one bandwidth loop of WRITEs or READs on all QPs. */
int pt_bw_loop(pt_ep_t *ep, pt_verb_t verb, pt_bw_run_t *run);

typedef struct pt_lat_run {
	uint64_t size;
	uint64_t iters;	      /* 0 with duration_ns */
	uint64_t duration_ns; /* 0: run iters */
	bool initiator;	      /* write: this side posts first (the server) */
	bool stopper;	      /* write -D: this side ends the run (the client) */
	uint64_t *stamps;     /* iters time stamps (pt_ticks()), taken just
			       * after each post; NULL: not timed (warm-up, -D) */
	/* out */
	uint64_t done;	    /* operations posted */
	uint64_t t_ns;	    /* first post to the end */
	double ns_per_tick; /* the stamps' unit, measured over the run */
} pt_lat_run_t;

/*
 * The latency stamps come from the CPU's cycle counter, as perftest's
 * get_cycles(): one instruction, where clock_gettime() is a system call
 * plus an emulated device read in a VM whose clock source is the HPET
 * (5 to 6 us a read under qemu, measured), which would sit inside every
 * interval.  Its rate is measured against CLOCK_MONOTONIC_RAW over each
 * run (pt_lat_stamps_to_ns), so no nominal frequency is trusted.  Other
 * architectures use the clock.
 */
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t pt_ticks(void)
{
	return __rdtsc();
}
#elif defined(__aarch64__)
static inline uint64_t pt_ticks(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
	return v;
}
#else
static inline uint64_t pt_ticks(void)
{
	return rps_now_ns();
}
#endif

/* Rewrites n stamps of a run as nanoseconds from the first. */
void pt_lat_stamps_to_ns(uint64_t *stamps, uint64_t n, double ns_per_tick);

/* One WRITE ping-pong run on the first QP; both sides call it, after a
 * barrier and with their flag byte (recv_area[size - 1]) cleared. */
int pt_lat_write(pt_ep_t *ep, pt_lat_run_t *run);
/* One run of READs, one at a time, on the first QP (client only). */
int pt_lat_read(pt_ep_t *ep, pt_lat_run_t *run);

/* ---- pt_stats.c ------------------------------------------------------- */

/* Fills r from a loop's totals and marks (marks may be NULL: peak 0). */
void pt_bw_result(uint64_t size, uint64_t ops, uint64_t t_ns, const pt_bw_marks_t *marks,
		  pt_bw_result_t *r_p);

typedef struct pt_lat_result {
	uint64_t size, iters;
	double t_min, t_max, t_typical, t_avg, t_stdev, p99, p99_9; /* usec */
} pt_lat_result_t;

/* perftest's latency statistics over n stamps (n - 1 intervals, each
 * divided by rtt_factor: 2 for a WRITE ping-pong, 1 for READ).  Sorts
 * the intervals in place in stamps.  n >= PT_MIN_ITERS. */
void pt_lat_result(uint64_t size, uint64_t *stamps, uint64_t n, unsigned rtt_factor,
		   pt_lat_result_t *r_p);

/* ---- pt_report.c -------------------------------------------------------- */

/* All print to stdout; with --output only the numbers (and the port a
 * server on -p 0 got) are printed. */
/* The server's "Waiting for client" banner (and " Listening on port N"). */
void pt_report_banner(const pt_ep_t *ep);
/* The header block: test name and parameters, between dashed lines. */
void pt_report_header(const pt_ep_t *ep);
/* A dashed line and the table's header line. */
void pt_report_table_head(const pt_cfg_t *cfg);
/* perftest's dashed line. */
void pt_report_line(const pt_cfg_t *cfg);
/* One row (or --output number) per size. */
void pt_report_bw(const pt_cfg_t *cfg, const pt_bw_result_t *r);
void pt_report_lat(const pt_cfg_t *cfg, const pt_lat_result_t *r);
void pt_report_lat_duration(const pt_cfg_t *cfg, uint64_t size, uint64_t iters, double t_avg_us,
			    double tps);

/* ---- pt_run.c ------------------------------------------------------- */

/* The whole program for tool: returns the exit status. */
int pt_main(const pt_tool_t *tool, int argc, char **argv);

#endif /* RPS_BENCH_PERFTEST_H */
