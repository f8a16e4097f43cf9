/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The agents' graph of rdma-worker --algo pc-asgd (no server): each agent
 * is connected to its neighbours (ring or full), and after each step it
 * RDMA-WRITEs its weights and its last gradient, stamped with its step
 * count, into a slot each neighbour registered for it.  Nobody ever waits
 * for a neighbour: a step reads whatever copy of each neighbour has
 * landed last, and a copy is sent only when the neighbour has room for
 * it.  Private to rdma-worker; the protocol is in worker_mesh_priv.h.
 */
#ifndef RPS_CMD_WORKER_MESH_H
#define RPS_CMD_WORKER_MESH_H

#include <stdbool.h>
#include <stdint.h>

#include <rdmaps/transport.h>

#include "cmd/worker_cli.h"

/* Neighbours of rank in the graph, ascending, into nb (room for world-1):
 * their number (2 on a ring of 3 or more, 1 with 2 agents, 0 alone). */
uint32_t worker_mesh_neighbours(uint32_t rank, uint32_t world, enum worker_topology topo,
				uint32_t *nb);

struct worker_mesh_attr {
	const rps_transport_attr_t *tp_attr;
	uint32_t rank, world;
	const struct worker_server *peers; /* [world]: where each rank listens */
	enum worker_topology topology;
	uint64_t n;	  /* floats of the weights (and of the gradient) */
	int timeout_ms;	  /* setup, a silent neighbour, the goodbye */
	int progress_cpu; /* the progress thread's CPU, -1 = unpinned */
};

/* One neighbour's latest copy, as a step reads it. */
struct worker_mesh_view {
	uint32_t rank;
	const float *x, *g; /* NULL until its first copy landed */
	uint64_t version;   /* its step count when it sent the copy */
	bool fresh;	    /* landed since the previous acquire */
};

struct worker_mesh_stats {
	uint64_t skipped;  /* steps whose copy was not published (staging busy) */
	uint64_t sent;	   /* copies written to a neighbour */
	uint64_t received; /* copies landed from the neighbours */
};

struct worker_mesh;

/* Listens on our --peers entry, connects to the lower-ranked neighbours,
 * accepts the higher-ranked ones (retrying until the timeout), then
 * starts the progress thread.  0, or a negative errno after one line. */
int worker_mesh_create(const struct worker_mesh_attr *a, struct worker_mesh **m_p);
/* Its number of neighbours; 0 for NULL (an agent alone has no mesh). */
uint32_t worker_mesh_degree(const struct worker_mesh *m);
/* Moves every view to its neighbour's latest landed copy, releasing the
 * previous one to the sender; the copies stay valid and unchanged until
 * the next acquire.  0, or a negative errno after one line naming a lost
 * neighbour (disconnected, failed, or silent for the timeout). */
int worker_mesh_acquire(struct worker_mesh *m, struct worker_mesh_view *views);
/* Copies x and g (n floats each) with version into a staging buffer that
 * the progress thread sends to each neighbour as soon as it has room.
 * 0 when published, 1 when skipped (both staging buffers still being
 * sent: the neighbours get the next step's copy instead). */
int worker_mesh_publish(struct worker_mesh *m, const float *x, const float *g, uint64_t version);
/* Goodbye: the final x and g go to every neighbour still training, then
 * each is told we are done and answers (within the timeout).  The views
 * of the last acquire stay valid.  0, or a negative errno after one line
 * naming the neighbour that did not answer. */
int worker_mesh_finish(struct worker_mesh *m, const float *x, const float *g, uint64_t version);
void worker_mesh_stats(struct worker_mesh *m, struct worker_mesh_stats *st);
/* Stops the thread and closes everything; NULL is fine. */
void worker_mesh_destroy(struct worker_mesh *m);

#endif /* RPS_CMD_WORKER_MESH_H */
