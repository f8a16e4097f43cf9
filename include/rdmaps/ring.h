/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps ring allreduce: the collective of decentralised data-parallel
 * training (DC-S3GD).  world ranks, each with `count` floats, end with the
 * elementwise SUM of all ranks' floats; the result is bitwise identical on
 * every rank.  Reduce-scatter then allgather around a ring, over RDMA
 * WRITE_WITH_IMM into the right neighbour's registered memory, pipelined
 * in chunks and flow-controlled by credits.  See rps_ring(3).
 *
 * The operation is split so that computation overlaps it:
 *
 *   fill rps_ring_buffer(ring);  rps_ring_allreduce_start(ring);
 *   ... compute, calling rps_ring_progress(ring) now and then ...
 *   rps_ring_allreduce_wait(ring, timeout_ms);   the buffer holds the sum
 *
 * Threading: one thread calls the ring functions; with
 * attr.progress_thread the ring runs its own thread that polls the
 * transport, and start/progress/wait only hand work to it.
 */
#ifndef RDMAPS_RING_H
#define RDMAPS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rps_ring rps_ring_t;

/* Defaults of rps_ring_attr_init(). */
#define RPS_RING_CHUNK_DEFAULT	 (256u * 1024u) /* bytes per RDMA write */
#define RPS_RING_WINDOW_DEFAULT	 8u		/* chunks in flight per link */
#define RPS_RING_WINDOW_MAX	 256u
#define RPS_RING_TIMEOUT_DEFAULT 30000 /* ms */

typedef struct rps_ring_attr {
	/* the struct's size as the caller was compiled, so that it can grow:
	 * rps_ring_attr_init() sets it; 0 = the librdmaps 1.0 layout (see
	 * "Extensible structs" in librdmaps(3)) */
	size_t size;
	/* an opened transport the ring uses (not owned, must outlive the
	 * ring), or NULL: the ring opens its own with tp_attr */
	rps_transport_t *tp;
	/* attributes to open the ring's transport with (tp NULL only);
	 * NULL = rps_transport_attr_init() defaults */
	const rps_transport_attr_t *tp_attr;
	uint32_t rank;	/* this process, 0 <= rank < world */
	uint32_t world; /* ranks in the ring, >= 1 */
	/* world "host:port" strings: rank r listens on peers[r] (its host
	 * must be a local address of rank r); port 0 is refused */
	const char *const *peers;
	size_t count;	    /* floats per allreduce, >= 1 */
	size_t chunk_bytes; /* bytes per RDMA write, a multiple of 4 */
	uint32_t window;    /* chunks in flight per link, 1..256 */
	/* ms for rps_ring_create() to connect, and for each wait of
	 * rps_ring_allreduce(); > 0 */
	int timeout_ms;
	bool progress_thread; /* run a thread that drives the ring */
	int progress_cpu;     /* pin that thread to this CPU; -1 = no */
} rps_ring_attr_t;

/* Fills the first size bytes of attr (its size member = size) with the
 * defaults: no transport (open one with default attributes), rank 0,
 * world 1, no peers, count 0 (must be set), RPS_RING_CHUNK_DEFAULT,
 * RPS_RING_WINDOW_DEFAULT, RPS_RING_TIMEOUT_DEFAULT, polled progress,
 * progress_cpu -1.  Call it through rps_ring_attr_init(), which passes
 * the size you compiled with. */
void rps_ring_attr_init_size(rps_ring_attr_t *attr, size_t size);
static inline void rps_ring_attr_init(rps_ring_attr_t *attr)
{
	rps_ring_attr_init_size(attr, sizeof(*attr));
}

/* Listens on peers[rank], connects to rank (rank+1) % world and accepts
 * rank (rank-1) % world, retrying the connect until attr.timeout_ms (the
 * neighbours may start later).  Every rank must pass the same world,
 * count, chunk_bytes and window.  Returns 0 and sets *ring_p, or a
 * negative errno (logged, naming the peer): -EINVAL bad attr, -E2BIG
 * attr sets a field this librdmaps does not know,
 * -ETIMEDOUT a neighbour did not come, -RPS_ERR_PROTO a neighbour with
 * different parameters. */
int rps_ring_create(const rps_ring_attr_t *attr, rps_ring_t **ring_p);

/* Stops the progress thread and closes the connections; an allreduce in
 * flight is abandoned (the neighbours see an error).  NULL is a no-op. */
void rps_ring_destroy(rps_ring_t *ring);

/* The registered buffer of attr.count floats, 64-byte aligned: the
 * caller writes its input there before rps_ring_allreduce_start() and
 * reads the sum there once the allreduce completed; it must not touch it
 * in between.  Valid until rps_ring_destroy(). */
float *rps_ring_buffer(rps_ring_t *ring);

/* Starts an allreduce (SUM) of the buffer.  Returns 0, -EBUSY when one is
 * still in flight, or the error that broke the ring earlier. */
int rps_ring_allreduce_start(rps_ring_t *ring);

/* Advances the allreduce without blocking.  Returns 1 when it completed
 * (and keeps returning 1 until the next start), 0 while in flight, a
 * negative errno when it failed: the ring is then broken (destroy it).
 * Completion means every write of this rank finished and the right
 * neighbour consumed all of it, so the caller may destroy the ring or
 * start the next allreduce at once. */
int rps_ring_progress(rps_ring_t *ring);

/* Waits up to timeout_ms (-1 = forever) for the allreduce: 0 done,
 * -ETIMEDOUT still in flight (wait again or destroy), another negative
 * errno failed.  0 also when none was started. */
int rps_ring_allreduce_wait(rps_ring_t *ring, int timeout_ms);

/* start + wait(attr.timeout_ms): 0 when the buffer holds the sum. */
int rps_ring_allreduce(rps_ring_t *ring);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_RING_H */
