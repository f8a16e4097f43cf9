/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parameter-server internals.  Not installed.
 *
 * Ownership, which replaces locking on the data path:
 *   - chunk c (of W, of every G[m]/B[m], of the optimizer state) belongs
 *     to engine thread c % T: only that thread reads or writes it;
 *   - worker m keeps one connection ("lane") per engine thread, bound to
 *     that thread's CQ; chunk c travels on lane c % T, so the completion
 *     that announces it reaches the owning thread;
 *   - a lane's connection is created by the control thread, published with
 *     a release store of its state, then used (posted on, polled, closed)
 *     only by its engine thread;
 *   - per-worker counters shared between threads are atomics; statistics
 *     are not shared: each engine thread keeps its own (ps_stats_t), and
 *     readers sum them;
 *   - what differs between algorithms sits behind srv->ops (ps_algo_ops_t),
 *     chosen once at rps_server_create: the data path never switches on
 *     the algorithm.
 */
#ifndef RPS_PS_SERVER_H
#define RPS_PS_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/ps.h>

#include "proto/wire.h"
#include "ps/ps_private.h"
#include "topo/topo.h"

enum lane_state {
	LANE_EMPTY = 0, /* no connection */
	LANE_NEW,	/* accepted by the control thread, not yet adopted */
	LANE_UP,	/* adopted: the engine thread owns conn */
};

typedef struct ps_lane {
	rps_conn_t *conn;
	_Atomic int state;
	uint64_t *notify_src; /* 8-byte source of notifications, in the
			       * slot's notify_mr */
} ps_lane_t;

/* Isolation (DESIGN.md "server memory"): each slot has a protection
 * domain of its own holding G[m], B[m], m's notification sources and
 * every lane connection of worker m, so on verbs a peer connected as
 * worker j cannot reach m's regions even with m's keys.  The PD lives as
 * long as the slot: a worker that rejoins comes back into the same one,
 * with the same keys. */
typedef struct ps_slot {
	uint32_t id;
	float *grad;	     /* G[m]: 2 x n floats (parity 0, parity 1) */
	float *snap;	     /* B[m]: n floats, what m reads next */
	rps_pd_t *pd;	     /* m's regions and lanes, and nothing else */
	rps_mr_t *grad_mr;   /* REMOTE_WRITE, handed to m only */
	rps_mr_t *snap_mr;   /* REMOTE_READ, handed to m only */
	rps_mr_t *notify_mr; /* local: m's slice of notify_buf, posted on
			      * m's lanes, so it must be in m's PD */
	uint64_t doorbell_addr, doorbell_key;

	_Atomic uint32_t lanes_up;
	_Atomic bool connected;
	_Atomic bool ever_joined;      /* ssgd: a worker not yet seen is waited for */
	_Atomic uint32_t chunks_done;  /* of the current push */
	_Atomic uint32_t chunks_bad;   /* rejected in the current push */
	_Atomic uint64_t pushes;       /* completed pushes */
	_Atomic uint64_t pull_version; /* version at its last notify */
	_Atomic bool held;	       /* SSP: notification withheld */
	_Atomic bool last_bad;	       /* last push had rejected chunks */
	_Atomic bool chunk_notices;    /* m asked for them (RPS_OPT_CHUNK_NOTICES) */

	/* per chunk, owned by the chunk's thread: pushes applied to chunk c
	 * (exactly-once check; also read by other threads' SSGD round checks
	 * and written by the control thread at a rejoin, hence accessed with
	 * relaxed atomics) and, for dude, the parity of the latest gradient
	 * in the running sum (-1: none) */
	uint64_t *chunk_push;
	int8_t *chunk_parity;

	uint64_t pushes_restored; /* pushes counted before a resume */
	_Atomic bool delivered;	  /* to the current round */

	ps_lane_t *lanes; /* [threads] */
} ps_slot_t;

/* One engine thread's statistics of one worker.  Only that thread writes
 * them (ps_stat_add, ps_stat_max), so the data path does no atomic
 * read-modify-write on a line other threads write too; any thread reads
 * them with ps_stat_read, and rps_server_worker_stats() sums them over
 * the engines (tau_max: the largest). */
typedef struct ps_stats {
	uint64_t chunks;   /* chunks applied (ssgd: summed into the round) */
	uint64_t rejected; /* chunks refused (NaN/Inf) */
	uint64_t proto;	   /* unexpected chunk notices or immediates */
	uint64_t tau_sum;  /* staleness of the pushes this thread completed */
	uint64_t tau_max;
	uint64_t apply_ns; /* in the update kernel on the worker's chunks */
	/* ssgd: rounds closed by this thread that the worker delivered to
	 * (the slot's pushes counts every round, present or not, to keep
	 * the numbering in step) */
	uint64_t rounds;
} ps_stats_t;

/* The owner's own counter: a plain read (nobody else writes it) and a
 * relaxed store, so a concurrent ps_stat_read is race-free.  Returns the
 * value before. */
static inline uint64_t ps_stat_add(uint64_t *c, uint64_t v)
{
	uint64_t old = __atomic_load_n(c, __ATOMIC_RELAXED);

	__atomic_store_n(c, old + v, __ATOMIC_RELAXED);
	return old;
}

static inline void ps_stat_max(uint64_t *c, uint64_t v)
{
	if (v > __atomic_load_n(c, __ATOMIC_RELAXED))
		__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t ps_stat_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

typedef struct ps_engine {
	struct rps_server *srv;
	uint32_t index;
	rps_cq_t *cq;
	/* the kernels' undo scratch (RPS_OPTIM_UNDO_ARRAYS x chunk floats):
	 * lets them check and apply a chunk in one pass over memory */
	float *undo;
	ps_stats_t *stats; /* [M], written by this thread only */
	pthread_t thread;
	bool started;
	uint32_t lanes; /* lanes this thread has adopted and not reaped */
	uint64_t next_keepalive_ns;
} ps_engine_t;

/*
 * What differs between algorithms.  One table per algorithm (the async
 * ones in server_algo.c, ssgd in server_ssgd.c), chosen once when the
 * server is created (ps_algo_ops); a NULL hook has nothing to do.
 */
typedef struct ps_algo_ops {
	/* optimizer state, in floats per parameter: state_arrays fixed ones
	 * (ms, S or acc, in state_a), plus the momentum buffer v (the next
	 * free of state_a, state_b) when momentum is set and the algorithm
	 * uses it */
	uint8_t state_arrays;
	bool momentum;
	/* state_a is rebuilt, never checkpointed: ssgd's round accumulator,
	 * dude's sum of the connected workers' gradients */
	bool state_a_transient;
	/* synchronous rounds (ssgd): a worker's pushes statistic counts the
	 * rounds it delivered to */
	bool rounds;

	/* The algorithm's own per-chunk bookkeeping, created with the
	 * layout (before any thread runs; 0 or -ENOMEM) and destroyed with
	 * it (also after a create that failed half way). */
	int (*create)(struct rps_server *srv);
	void (*destroy)(struct rps_server *srv);
	/* A chunk notice that passed the checks: chunk c of s's push number
	 * push landed in gradient half parity.  On the engine thread that
	 * owns c.  Required. */
	void (*on_chunk)(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity, uint64_t push);
	/* The update of one chunk, for ps_async_chunk: 0, or -EDOM when the
	 * gradient was refused (nothing changed).  Owner thread of c. */
	int (*apply)(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity);
	/* Resets s's push bookkeeping for a worker that (re)joins: control
	 * thread, while none of s's lanes is up.  Required. */
	void (*on_join)(struct rps_server *srv, ps_slot_t *s);
	/* s's lane on e went down: e's chunks forget s, before the lane
	 * counts as gone (a rejoin waits for that). */
	void (*on_worker_left)(ps_engine_t *e, ps_slot_t *s);
	/* every few thousand polls of e, busy or idle */
	void (*housekeeping)(ps_engine_t *e);
} ps_algo_ops_t;

struct rps_server {
	rps_server_config_t cfg;  /* defaults filled in */
	const ps_algo_ops_t *ops; /* cfg.algo's, set at create */
	uint64_t n;		  /* parameters */
	uint64_t chunk_params;	  /* floats per chunk */
	uint32_t num_chunks;
	uint32_t threads;
	uint64_t footprint;

	rps_transport_t *tp;
	rps_listener_t *listener;

	float *w;	      /* W */
	float *state_a;	      /* ms (dc-asgd-a), S (dude), v (momentum), acc (ssgd) */
	float *state_b;	      /* v when ssgd also uses momentum */
	uint64_t *notify_buf; /* [M * T] notification sources; worker m's
			       * T entries are registered in m's PD */
	ps_slot_t *slots;     /* [M] */
	ps_engine_t *engines; /* [T] */

	/* ssgd (server_ssgd.c), per chunk: arrivals and accepted gradients
	 * of the step; allocated by its ops->create, NULL otherwise */
	uint32_t *ssgd_arrived;
	uint32_t *ssgd_accepted;
	uint64_t *ssgd_chunk_round; /* rounds applied per chunk */
	_Atomic uint32_t ssgd_chunks_done;
	_Atomic uint64_t ssgd_round_start; /* rps_now_ns() at the round's start */
	/* dude (server_algo.c), per chunk: pushes since the last exact
	 * recomputation; allocated by its ops->create, NULL otherwise */
	uint32_t *dude_since_refresh;
	/* dude, per chunk: workers whose latest gradient is in S (the step
	 * averages over them; a worker that leaves takes its gradient out) */
	uint32_t *dude_active;

	_Atomic uint64_t version; /* completed pushes (ssgd: steps) */

	/* rps_server_apply_log_enable: room for apply_log_len records */
	rps_apply_record_t *apply_log;
	uint64_t apply_log_len;
	_Atomic uint64_t apply_log_n;

	pthread_t control;
	bool control_started;
	_Atomic bool stop;
	/* checkpoints of a running server: engines park between chunks
	 * while pause is set (see ps_engines_pause) */
	_Atomic bool pause;
	_Atomic uint32_t parked;
	pthread_mutex_t checkpoint_lock;
	/* placement of the engine threads and the buffers */
	hwloc_topology_t topo;
	rps_topo_place_t place;
	char place_str[RPS_TOPO_WHY_LEN];
	char place_csv[RPS_TOPO_WHY_LEN];
	/* HELLO's expected auth tag when a token is configured */
	bool auth;
	uint8_t auth_tag[RPS_AUTH_TAG_LEN];
};

/* server_algo.c: algo's table, or NULL for an unknown algorithm */
const ps_algo_ops_t *ps_algo_ops(rps_algo_t algo);

/* server_ssgd.c */
extern const ps_algo_ops_t ps_ssgd_ops;

/* server_engine.c */
void *ps_engine_main(void *arg);
/* The asynchronous algorithms' on_chunk: applies the chunk (ops->apply)
 * and, when it completes s's push, notifies s (or holds it back under the
 * SSP bound). */
void ps_async_chunk(ps_engine_t *e, ps_slot_t *s, uint32_t c, unsigned parity, uint64_t push);
/* Their on_join: a push the worker's previous incarnation left half
 * applied is abandoned, and it starts at the next push number. */
void ps_async_join(struct rps_server *srv, ps_slot_t *s);
/* Tells worker s, through e's lane to it, that its push (or round) is
 * applied, or that chunks of it were refused; nothing if the lane is
 * gone.  Engine thread e only. */
void ps_notify(ps_engine_t *e, ps_slot_t *s, bool rejected);
/* Parks every running engine thread between two chunk applications (the
 * model is then consistent) and returns once they all are; resume lets
 * them go on.  Only one thread may pause at a time. */
void ps_engines_pause(struct rps_server *srv);
void ps_engines_resume(struct rps_server *srv);

/* server_checkpoint.c: loads cfg.resume_path into the fresh layout */
int ps_checkpoint_restore(struct rps_server *srv, const char *path);

/* server_control.c */
void *ps_control_main(void *arg);

/* server_place.c: loads the topology and places threads and buffers */
int ps_place(struct rps_server *srv);

/* server_layout.c: buffers on the placement's NUMA node */
float *ps_alloc_floats(struct rps_server *srv, uint64_t n);
void ps_free_floats(struct rps_server *srv, float *p, uint64_t n);
int ps_layout_create(struct rps_server *srv);
void ps_layout_destroy(struct rps_server *srv);

/* tau of s's push: updates since the snapshot it computed on */
static inline uint64_t ps_tau(const struct rps_server *srv, const ps_slot_t *s)
{
	return atomic_load(&srv->version) - atomic_load(&s->pull_version);
}

/* The scheduled learning rate now.  A decay boundary may fall inside a
 * push: its chunks applied after the boundary use the new rate. */
static inline float ps_lr_now(const struct rps_server *srv)
{
	return rps_hparams_lr_at(&srv->cfg.hp,
				 atomic_load_explicit(&srv->version, memory_order_relaxed));
}

/* chunk_push[c] with relaxed atomics (see ps_slot_t) */
static inline uint64_t ps_chunk_push(const ps_slot_t *s, uint32_t c)
{
	return __atomic_load_n(&s->chunk_push[c], __ATOMIC_RELAXED);
}

static inline void ps_set_chunk_push(ps_slot_t *s, uint32_t c, uint64_t v)
{
	__atomic_store_n(&s->chunk_push[c], v, __ATOMIC_RELAXED);
}

/* [start, end) of chunk c in floats */
static inline uint64_t ps_chunk_start(const struct rps_server *srv, uint32_t c)
{
	return (uint64_t)c * srv->chunk_params;
}

static inline uint64_t ps_chunk_len(const struct rps_server *srv, uint32_t c)
{
	uint64_t start = ps_chunk_start(srv, c);

	return srv->n - start < srv->chunk_params ? srv->n - start : srv->chunk_params;
}

/* Chunk [off, ...) of the gradient slot m wrote with the given parity:
 * G[m] holds two gradients of n floats back to back. */
static inline float *ps_grad_chunk(const struct rps_server *srv, const ps_slot_t *s,
				   unsigned parity, uint64_t off)
{
	return s->grad + (uint64_t)parity * srv->n + off;
}

/* server.c: the caller's configuration (of any size: util/ext_struct.h)
 * over the defaults; 0, -EINVAL or -E2BIG (logged). */
int ps_config_in(rps_server_config_t *dst, const rps_server_config_t *cfg);

#endif /* RPS_PS_SERVER_H */
