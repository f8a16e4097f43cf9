/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * --cpus / --numa / --no-pin for the daemons (cmd_place.c): checked
 * against this machine while parsing, and, for rdma-worker, applied to
 * the calling thread and the process's memory (rps_topology(7)).
 * Private to src/cmd.
 */
#ifndef RPS_CMD_PLACE_H
#define RPS_CMD_PLACE_H

#include <stdbool.h>
#include <stddef.h>

#include <rdmaps/rdmaps.h>

/* What --cpus / --numa / --no-pin asked for. */
struct cmd_place_opts {
	const char *cpus; /* NULL = next to the NIC */
	int numa;	  /* -1 = the NIC's */
	bool no_pin;
};

#define CMD_PLACE_OPTS_INIT                                                                        \
	{                                                                                          \
		.cpus = NULL, .numa = -1, .no_pin = false                                          \
	}

/* The placement of one thread and the memory, as applied. */
struct cmd_placement {
	char line[256]; /* "nic=rxe0 numa=0 cpus=1 spilled=no oversubscribed=no" */
	char csv[256];	/* the same under RPS_TOPO_CSV_COLUMNS */
	char why[512];
	int extra_cpu[3]; /* the process's threads 1..k-1: their CPU, -1 unpinned */
};

/* --cpus / --numa valid on this machine for threads threads: 0, or
 * -EINVAL after one line naming the option (a usage error, exit 2). */
int cmd_place_check(const char *prog, const struct cmd_place_opts *o, unsigned threads);

/*
 * Places the calling thread and the memory it allocates from now on
 * next to the transport's device (attr: opened briefly to learn which
 * device "auto" picks), or where o says.  A process of local rank L with
 * k threads takes threads L*k .. L*k+k-1 of a placement of (L+1)*k
 * threads, so the processes of one node take their own cores, as MPI and
 * Slurm bind ranks: the calling thread is pinned to the first of its k
 * CPUs, the others are given in pl->extra_cpu for the threads the
 * process starts later (a communication thread).  Memory is bound to the
 * placement's NUMA node.  A refused binding is a warning, not an error.
 * Fills *pl; returns 0 or -errno after one line.
 */
int cmd_place_self(const char *prog, const rps_transport_attr_t *attr,
		   const struct cmd_place_opts *o, unsigned local_rank, unsigned k,
		   struct cmd_placement *pl);

#endif /* RPS_CMD_PLACE_H */
