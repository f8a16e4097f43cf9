/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps parameter server: the server (memory layout, busy-polling engine
 * threads) and the worker client (one-sided push and pull).  See
 * librdmaps(3) and rdmaps(7).
 *
 * One step of worker m:  write the gradient into the worker's buffer
 * (rps_worker_grad), rps_push() (RDMA WRITEs into the server's slot G[m],
 * applied chunk by chunk by the engine threads as they land), then
 * rps_pull() (RDMA READs of the snapshot B[m] into rps_worker_weights).
 */
#ifndef RDMAPS_PS_H
#define RDMAPS_PS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/algo.h>
#include <rdmaps/auth.h>
#include <rdmaps/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rps_server rps_server_t;

typedef struct rps_server_config {
	/* the struct's size as the caller was compiled, so that it can grow:
	 * rps_server_config_init() sets it; 0 = the librdmaps 1.0 layout
	 * (see "Extensible structs" in librdmaps(3)) */
	size_t size;
	rps_algo_t algo;
	rps_hparams_t hp;
	uint32_t num_workers;	   /* M: slots to lay out (ids 0..M-1) */
	uint64_t num_params;	   /* n: floats this server holds (its shard) */
	const float *init_weights; /* n floats, copied; NULL = zeros */
	/* index of this server's first parameter in the whole model when the
	 * model is sharded over several servers (see rps_shard_range); told
	 * to workers so they can check they talk to the right shard */
	uint64_t shard_offset;
	uint32_t chunk_bytes; /* push/pull unit; 0 = 256 KiB */
	uint32_t threads;     /* engine threads; 0 = 1 */
	/* placement (rps_topology(7)): engine threads go one per core next
	 * to the NIC and buffers on its NUMA node, unless cpus (hwloc list
	 * syntax, "0-3,8"), numa_node (-1 = automatic, as
	 * rps_server_config_init sets it) or no_pin say otherwise */
	const char *cpus;
	int numa_node;
	bool no_pin;
	uint32_t max_staleness; /* SSP bound on push counts; 0 = none */
	/* ssgd: how long a round waits for the workers expected in it (the
	 * connected ones and those that never joined), from the round's
	 * start (the first round: from rps_server_start); then the step
	 * is taken with the gradients that arrived, and a late worker's
	 * chunks of that round are dropped.  0 = wait as long as it takes. */
	uint32_t ssgd_timeout_ms;
	const char *addr; /* listen address; NULL = any */
	uint16_t port;	  /* 0 = ephemeral (see rps_server_port) */
	/* transport attributes; NULL = rps_transport_attr_init() defaults */
	const rps_transport_attr_t *transport;
	/* shared secret (1..RPS_AUTH_MAX_TOKEN bytes, copied): workers must
	 * present the same one (their HELLO carries a digest, never the
	 * token) or are refused before anything is set up for them; NULL =
	 * no check.  See rdmaps(7) for what this does not protect. */
	const void *auth_token;
	size_t auth_token_len;
	/* a checkpoint (rps_server_checkpoint) to start from instead of
	 * init_weights: it must have been written for the same algorithm,
	 * shard and number of workers; NULL = a fresh start */
	const char *resume_path;
} rps_server_config_t;

/* Fills the first size bytes of cfg (its size member = size) with the
 * defaults (algo dc-asgd-a with its paper hyper-parameters, 256 KiB
 * chunks, one thread, numa_node -1).  Call it through
 * rps_server_config_init(), which passes the size you compiled with. */
void rps_server_config_init_size(rps_server_config_t *cfg, size_t size);
static inline void rps_server_config_init(rps_server_config_t *cfg)
{
	rps_server_config_init_size(cfg, sizeof(*cfg));
}

/* Validates cfg, opens the transport, allocates and registers the layout
 * (W, and per worker G[m] x2 and B[m]) and listens.  Errors are logged
 * with the reason (e.g. the footprint that did not fit); -E2BIG when cfg
 * sets a field (or a reserved hyper-parameter) this librdmaps does not
 * know.  A cfg smaller than this library's is read up to its size: it
 * must reach num_params. */
int rps_server_create(const rps_server_config_t *cfg, rps_server_t **srv_p);
/* The port listened on. */
uint16_t rps_server_port(const rps_server_t *srv);
/* Bytes of memory the layout takes (what create printed). */
uint64_t rps_server_footprint(const rps_server_t *srv);
/* Where the engine threads run and the buffers live ("nic=... numa=...
 * cpus=... spilled=... oversubscribed=...") and why (one line). */
const char *rps_server_placement(const rps_server_t *srv);
const char *rps_server_placement_why(const rps_server_t *srv);
/* The transport in use: "verbs" or "ofi", and its device name. */
const char *rps_server_provider(const rps_server_t *srv);
const char *rps_server_device(const rps_server_t *srv);
/* Starts the engine threads and the control thread (accepts workers). */
int rps_server_start(rps_server_t *srv);
/* Stops the threads after the chunk notices that already arrived are
 * applied (and their workers notified). */
void rps_server_stop(rps_server_t *srv);
/* Stops if running, disconnects everyone, frees everything. */
void rps_server_destroy(rps_server_t *srv);

typedef struct rps_server_worker_stats {
	size_t size; /* bytes the library filled (the caller's sizeof) */
	bool connected;
	bool joined;		  /* has connected at least once */
	uint64_t pushes;	  /* pushes fully applied by this server
				   * (not before a resume; ssgd: rounds it
				   * delivered a gradient to) */
	uint64_t chunks_applied;  /* chunks applied */
	uint64_t chunks_rejected; /* chunks refused (NaN/Inf) */
	uint64_t protocol_errors; /* malformed or unexpected chunk notices */
	uint64_t staleness_sum;	  /* sum of tau over pushes */
	uint64_t staleness_max;
	uint64_t apply_ns; /* engine time in the update kernel on this
			    * worker's chunks, all engine threads (since
			    * librdmaps 1.2) */
} rps_server_worker_stats_t;

/* Copies the counters of worker id (< num_workers) into the first size
 * bytes of *stats_p (the struct may grow: see librdmaps(3)).  Call it
 * through rps_server_worker_stats(), which passes the size you compiled
 * with. */
int rps_server_worker_stats_size(const rps_server_t *srv, uint32_t id,
				 rps_server_worker_stats_t *stats_p, size_t size);
static inline int rps_server_worker_stats(const rps_server_t *srv, uint32_t id,
					  rps_server_worker_stats_t *stats_p)
{
	return rps_server_worker_stats_size(srv, id, stats_p, sizeof(*stats_p));
}
/* Writes the server's state (weights, optimizer state, update and push
 * counts) to path atomically (path.tmp, fsync, rename, fsync of the
 * directory).  A running server's engines pause only while the state is
 * copied in memory (the copy takes as much memory again); an SSGD round
 * in progress is not included.  0 or a negative errno (logged). */
int rps_server_checkpoint(rps_server_t *srv, const char *path);
/* Server updates (fully applied pushes, or SSGD steps) so far. */
uint64_t rps_server_version(const rps_server_t *srv);
/* Copies the current weights (n floats).  Consistent only while no push
 * is being applied (e.g. after rps_server_stop). */
void rps_server_read_weights(const rps_server_t *srv, float *out);

/* Sharding: the model's n parameters split over k servers in order,
 * shard i holding *count_p parameters from *offset_p (the first n % k
 * shards one more than the rest).  -EINVAL when k == 0, i >= k or k > n. */
int rps_shard_range(uint64_t n, uint32_t k, uint32_t i, uint64_t *offset_p, uint64_t *count_p);

/* ---- worker ---------------------------------------------------------- */

typedef struct rps_worker rps_worker_t;

typedef struct rps_worker_config {
	/* the struct's size as the caller was compiled, so that it can grow:
	 * rps_worker_config_init() sets it; 0 = the librdmaps 1.0 layout
	 * (see "Extensible structs" in librdmaps(3)) */
	size_t size;
	const char *server; /* address of the server */
	uint16_t port;
	uint32_t worker_id;		       /* rank: which slot */
	uint32_t num_workers;		       /* world size, 0 = unknown */
	uint64_t num_params;		       /* model size, 0 = take the server's */
	const rps_transport_attr_t *transport; /* NULL = defaults */
	int timeout_ms;			       /* connect and each wait; 0 = 60000 */
	const void *auth_token;		       /* the server's shared secret, NULL = none */
	size_t auth_token_len;
	/* librdmaps 1.1: the caller's memory for the gradient and the weights
	 * buffers (num_params floats each, which must then be set), used and
	 * registered instead of buffers the library allocates, so that a
	 * model's own arrays (a framework's tensors, one flat array over
	 * several sharded servers) are what RDMA reads and writes.  They must
	 * stay valid until rps_worker_close(), which does not free them.
	 * NULL = the library allocates (page-aligned, zeroed). */
	float *grad_buf;
	float *weights_buf;
	/* librdmaps 1.1: for a buffer not given above, the caller's allocator:
	 * called once the server told the model size (so num_params may be
	 * 0), for the gradient (which 0) then the weights (which 1), it
	 * returns n floats aligned for float that stay valid until
	 * rps_worker_close(), which does not free them; NULL fails the
	 * connect with -ENOMEM.  A language binding's arrays are made this
	 * way.  NULL = the library allocates. */
	float *(*buf_alloc)(uint64_t n, int which, void *arg);
	void *buf_alloc_arg;
} rps_worker_config_t;

/* Fills the first size bytes of cfg (its size member = size) with the
 * defaults: no server, port 0 (both must be set), worker 0 of an unknown
 * world, the server's model size, default transport, timeout 60 s, no
 * token.  Call it through rps_worker_config_init(), which passes the size
 * you compiled with. */
void rps_worker_config_init_size(rps_worker_config_t *cfg, size_t size);
static inline void rps_worker_config_init(rps_worker_config_t *cfg)
{
	rps_worker_config_init_size(cfg, sizeof(*cfg));
}

/* Connects every lane (one per engine thread) and checks the layout the
 * server sent.  The initial weights are pulled before it returns.  A cfg
 * smaller than this library's is read up to its size (it must reach
 * port); -E2BIG when it sets a field this librdmaps does not know. */
int rps_worker_connect(const rps_worker_config_t *cfg, rps_worker_t **w_p);
/* Sends BYE, disconnects, frees. */
void rps_worker_close(rps_worker_t *w);
/* Registered buffers of num_params floats: write the gradient into the
 * first, read the weights from the second (cfg.grad_buf and
 * cfg.weights_buf when the caller gave them). */
float *rps_worker_grad(rps_worker_t *w);
float *rps_worker_weights(rps_worker_t *w);
uint64_t rps_worker_num_params(const rps_worker_t *w);
rps_algo_t rps_worker_algo(const rps_worker_t *w);

/* Pushes the gradient and waits until the server applied it.  Returns 0,
 * -EDOM when the server rejected part of it (NaN/Inf: those chunks were
 * not applied), or a negative errno. */
int rps_push(rps_worker_t *w);
/* Non-blocking push: start, then rps_push_wait (or poll with timeout 0:
 * -EAGAIN while in flight). */
int rps_push_start(rps_worker_t *w);
int rps_push_wait(rps_worker_t *w, int timeout_ms);
/* Reads the snapshot B[m] into the weights buffer and waits for all of it. */
int rps_pull(rps_worker_t *w);
/* Non-blocking pull: start the READs of every chunk, then wait for chunk
 * by chunk (in order) so compute can overlap the rest.  A wait with
 * timeout 0 polls: -EAGAIN while the chunk is in flight. */
int rps_pull_start(rps_worker_t *w);
int rps_pull_wait_chunk(rps_worker_t *w, uint32_t chunk, int timeout_ms);
/* A push and the pull after it, overlapped: each chunk of B[m] is read as
 * soon as the server says it is applied, while the rest of the push is
 * still applied.  The weights are what rps_push() then rps_pull() would
 * give; the return is rps_push()'s.  rps_step_start, then rps_step_wait
 * (timeout 0 polls: -EAGAIN while in flight), or rps_pull_wait_chunk
 * chunk by chunk.  Since librdmaps 1.2. */
int rps_step(rps_worker_t *w);
int rps_step_start(rps_worker_t *w);
int rps_step_wait(rps_worker_t *w, int timeout_ms);
uint32_t rps_worker_num_chunks(const rps_worker_t *w);
/* Floats per chunk (the last chunk may be shorter). */
uint64_t rps_worker_chunk_params(const rps_worker_t *w);
/* The shard_offset the server was configured with (0 when not sharded). */
uint64_t rps_worker_shard_offset(const rps_worker_t *w);
/* The server version seen at the last notification (staleness reports). */
uint64_t rps_worker_server_version(const rps_worker_t *w);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_PS_H */
