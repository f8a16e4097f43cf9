/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Placement: a pure function of (topology, NIC locality, threads, options)
 * -> (a PU per thread, the NUMA node for buffers, why).  rps_topology(7)
 * states the rules; tests/topo/test_placement.c pins them.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/topo.h"
#include "util/compiler.h"
#include "util/log.h"

enum place_mode {
	MODE_NIC,     /* the NIC's locality, spilling to the nearest nodes */
	MODE_MACHINE, /* NIC unknown: the whole machine */
	MODE_CPUS,    /* --cpus */
	MODE_NUMA,    /* --numa */
};

/* A placement under construction. */
struct placer {
	hwloc_topology_t topo;
	rps_topo_place_t *pl;
	hwloc_bitmap_t home; /* where threads go first */
	hwloc_bitmap_t used; /* PUs taken so far */
	hwloc_bitmap_t tmp;
	unsigned want; /* threads */
	unsigned n;    /* distinct PUs taken */
	size_t why_len;
};

static void why_add(struct placer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct placer *p, const char *fmt, ...)
{
	size_t cap = sizeof(p->pl->why);
	va_list ap;
	int n;

	if (p->why_len + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->pl->why + p->why_len, cap - p->why_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->why_len = p->why_len + (size_t)n < cap ? p->why_len + (size_t)n : cap - 1;
}

/* Cores, or PUs on a machine whose topology has no cores (some VMs). */
static hwloc_obj_type_t core_type(hwloc_topology_t topo)
{
	return hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

static unsigned cores_in(hwloc_topology_t topo, hwloc_const_cpuset_t set)
{
	hwloc_obj_type_t type = core_type(topo);
	hwloc_obj_t core = NULL;
	unsigned n = 0;

	while ((core = hwloc_get_next_obj_by_type(topo, type, core)))
		n += hwloc_bitmap_intersects(core->cpuset, set);
	return n;
}

/* Takes free PUs of set in rounds until enough: in each round, one from
 * every core that still has one, cores in topology order.  So every core
 * gets a thread before any SMT sibling does.  Returns how many. */
static unsigned take_from(struct placer *p, hwloc_const_cpuset_t set)
{
	hwloc_obj_type_t type = core_type(p->topo);
	unsigned before = p->n;
	bool progress = true;

	while (p->n < p->want && progress) {
		hwloc_obj_t core = NULL;

		progress = false;
		while (p->n < p->want && (core = hwloc_get_next_obj_by_type(p->topo, type, core))) {
			int pu;

			hwloc_bitmap_and(p->tmp, core->cpuset, set);
			hwloc_bitmap_andnot(p->tmp, p->tmp, p->used);
			if ((pu = hwloc_bitmap_first(p->tmp)) < 0)
				continue;
			hwloc_bitmap_set(p->used, (unsigned)pu);
			p->pl->cpus[p->n++] = (unsigned)pu;
			progress = true;
		}
	}
	return p->n - before;
}

static hwloc_obj_t numa_node(hwloc_topology_t topo, unsigned os_index)
{
	hwloc_obj_t node = NULL;

	while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node)))
		if (node->os_index == os_index)
			return node;
	return NULL;
}

struct node_rank {
	hwloc_obj_t node;
	uint64_t key; /* smaller is nearer */
};

static int rank_cmp(const void *a, const void *b)
{
	const struct node_rank *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->node->logical_index < y->node->logical_index ? -1 : 1;
}

static int dist_index(const struct hwloc_distances_s *d, hwloc_obj_t obj)
{
	for (unsigned i = 0; i < d->nbobjs; i++)
		if (d->objs[i] == obj)
			return (int)i;
	return -1;
}

/* Smallest latency from a home node to node, or -1 when the matrix does
 * not cover them. */
static int64_t dist_from_home(const struct hwloc_distances_s *d, hwloc_const_nodeset_t home,
			      hwloc_obj_t node)
{
	int j = dist_index(d, node);
	int64_t best = -1;

	if (j < 0)
		return -1;
	for (unsigned i = 0; i < d->nbobjs; i++) {
		uint64_t v = d->values[i * d->nbobjs + (unsigned)j];

		if (!hwloc_bitmap_isset(home, d->objs[i]->os_index))
			continue;
		if (best < 0 || v < (uint64_t)best)
			best = (int64_t)(v > INT64_MAX ? INT64_MAX : v);
	}
	return best;
}

/* Depth of the deepest common ancestor of node and a home node: the
 * same package is nearer than another package. */
static int depth_from_home(hwloc_topology_t topo, hwloc_const_nodeset_t home, hwloc_obj_t node)
{
	hwloc_obj_t h = NULL;
	int best = 0;

	while ((h = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, h))) {
		hwloc_obj_t anc;

		if (!hwloc_bitmap_isset(home, h->os_index))
			continue;
		/* NUMA nodes hang off a normal object: compare those */
		anc = hwloc_get_common_ancestor_obj(topo, h->parent, node->parent);
		if (anc && anc->depth > best)
			best = anc->depth;
	}
	return best;
}

/* The NUMA nodes outside home, nearest first: by hwloc's latency matrix
 * when it covers them all, else by topology (same package first), ties in
 * topology order.  Sets *ranks_p (caller frees), *nr_p, *by_distance_p. */
static int spill_order(hwloc_topology_t topo, hwloc_const_nodeset_t home,
		       struct node_rank **ranks_p, unsigned *nr_p, bool *by_distance_p)
{
	int total = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	struct hwloc_distances_s *d = NULL;
	struct node_rank *ranks;
	hwloc_obj_t node = NULL;
	unsigned nr = 0, nd = 1;
	bool by_distance;

	ranks = calloc(total > 0 ? (size_t)total : 1, sizeof(*ranks));
	if (!ranks)
		return -ENOMEM;
	if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nd, &d,
					HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) ||
	    nd == 0)
		d = NULL;
	by_distance = d != NULL;
	while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node))) {
		if (hwloc_bitmap_isset(home, node->os_index))
			continue;
		ranks[nr].node = node;
		if (by_distance) {
			int64_t v = dist_from_home(d, home, node);

			if (v < 0)
				by_distance = false;
			ranks[nr].key = (uint64_t)v;
		}
		nr++;
	}
	if (!by_distance)
		for (unsigned i = 0; i < nr; i++)
			ranks[i].key =
				(uint64_t)(INT_MAX - depth_from_home(topo, home, ranks[i].node));
	if (d)
		hwloc_distances_release(topo, d);
	qsort(ranks, nr, sizeof(*ranks), rank_cmp);
	*ranks_p = ranks;
	*nr_p = nr;
	*by_distance_p = by_distance;
	return 0;
}

/* Past the NIC-local PUs: first the rest of the NIC's NUMA node(s), when
 * the NIC hangs from something smaller (an L3, a die), then the nearest
 * other nodes' PUs, one per core first within each node.  Tells why where
 * the threads went. */
static int spill(struct placer *p, hwloc_const_nodeset_t home_nodes)
{
	hwloc_cpuset_t rest = hwloc_bitmap_alloc();
	struct node_rank *ranks;
	unsigned nr, before = p->n;
	char nodes[128] = "";
	size_t off = 0;
	bool by_distance;
	int ret;

	if (!rest)
		return -ENOMEM;
	hwloc_cpuset_from_nodeset(p->topo, rest, home_nodes);
	if (take_from(p, rest) > 0) {
		hwloc_bitmap_list_snprintf(nodes, sizeof(nodes), home_nodes);
		why_add(p, "; %u more on the rest of NUMA node %s", p->n - before, nodes);
		p->pl->spilled = true;
		before = p->n;
		nodes[0] = '\0';
	}
	hwloc_bitmap_free(rest);
	if (p->n >= p->want)
		return 0;
	if ((ret = spill_order(p->topo, home_nodes, &ranks, &nr, &by_distance)))
		return ret;
	for (unsigned i = 0; i < nr && p->n < p->want; i++) {
		if (take_from(p, ranks[i].node->cpuset) == 0 || off >= sizeof(nodes))
			continue;
		ret = snprintf(nodes + off, sizeof(nodes) - off, "%s%u", off ? "," : "",
			       ranks[i].node->os_index);
		off += ret > 0 ? (size_t)ret : 0;
	}
	free(ranks);
	if (p->n > before) {
		why_add(p, "; %u more spilled to NUMA node %s (nearest %s)", p->n - before, nodes,
			by_distance ? "by hwloc distance" : "in topology order");
		p->pl->spilled = true;
	}
	return 0;
}

/* "package 1 / NUMA node 1": where a NIC-local set lies, for why. */
static void locality_text(hwloc_topology_t topo, hwloc_const_cpuset_t set,
			  hwloc_const_nodeset_t nodes, char *buf, size_t len)
{
	hwloc_obj_t obj = hwloc_get_obj_covering_cpuset(topo, set);
	int n;

	while (obj && obj->type != HWLOC_OBJ_PACKAGE)
		obj = obj->parent;
	if (hwloc_bitmap_isincluded(hwloc_topology_get_topology_cpuset(topo), set))
		n = snprintf(buf, len, "the whole machine");
	else if (obj)
		n = snprintf(buf, len, "package %u", obj->logical_index);
	else
		n = snprintf(buf, len, "part of the machine");
	if (n > 0 && (size_t)n < len && hwloc_bitmap_weight(nodes) == 1)
		snprintf(buf + n, len - (size_t)n, " / NUMA node %d", hwloc_bitmap_first(nodes));
}

/* "NIC mlx5_0 is local to package 1 / NUMA node 1 (PUs 4-7)": the first
 * half of why, naming where the home set came from. */
static void why_home(struct placer *p, enum place_mode mode, const char *nic_name,
		     hwloc_const_cpuset_t nic_set, hwloc_const_nodeset_t home_nodes,
		     const rps_topo_opts_t *opts)
{
	char pus[96], where[96];

	hwloc_bitmap_list_snprintf(pus, sizeof(pus), p->home);
	switch (mode) {
	case MODE_NIC:
		locality_text(p->topo, p->home, home_nodes, where, sizeof(where));
		if (nic_name)
			why_add(p, "NIC %s is local to %s (PUs %s)", nic_name, where, pus);
		else
			why_add(p, "the NIC is local to %s (PUs %s)", where, pus);
		break;
	case MODE_MACHINE:
		if (nic_name && nic_set)
			why_add(p, "NIC %s is local to PUs this process may not use: ", nic_name);
		else if (nic_name)
			why_add(p, "NIC %s has no locality hwloc knows: ", nic_name);
		else
			why_add(p, "no NIC given: ");
		why_add(p, "whole machine (PUs %s)", pus);
		break;
	case MODE_CPUS:
		why_add(p, "--cpus %s (PUs %s)", opts->cpus, pus);
		break;
	case MODE_NUMA:
		why_add(p, "--numa %d (PUs %s)", opts->numa, pus);
		break;
	}
}

/* ": 4 cores there, one thread per core, SMT siblings skipped" */
static void why_spread(struct placer *p)
{
	unsigned cores = cores_in(p->topo, p->home);
	unsigned pus = (unsigned)hwloc_bitmap_weight(p->home);

	if (p->want <= cores)
		why_add(p, ": %u core%s there, one thread per core%s", cores, cores == 1 ? "" : "s",
			pus > cores ? ", SMT siblings skipped" : "");
	else if (p->want <= pus)
		why_add(p, ": %u cores there, one thread per core, then %u on SMT siblings", cores,
			p->want - cores);
	else if (pus > cores)
		why_add(p, ": %u cores / %u PUs there, all taken", cores, pus);
	else
		why_add(p, ": %u core%s there, all taken", cores, cores == 1 ? "" : "s");
}

/* The NUMA node buffers go to: --numa, else the one node the PUs of set
 * are on (-1 when they span several).  Tells why. */
static int buffer_node(struct placer *p, const rps_topo_opts_t *opts, hwloc_const_cpuset_t set)
{
	hwloc_nodeset_t nodes = hwloc_bitmap_alloc();
	char list[64];
	int node = opts->numa;

	if (!nodes)
		return -ENOMEM;
	if (node < 0) {
		hwloc_cpuset_to_nodeset(p->topo, set, nodes);
		if (hwloc_bitmap_weight(nodes) == 1)
			node = hwloc_bitmap_first(nodes);
	}
	if (node >= 0) {
		why_add(p, "; buffers on NUMA node %d", node);
	} else if (hwloc_bitmap_iszero(set)) {
		why_add(p, "; buffers not bound");
	} else {
		hwloc_bitmap_list_snprintf(list, sizeof(list), nodes);
		why_add(p, "; buffers not bound (the PUs span NUMA nodes %s)", list);
	}
	hwloc_bitmap_free(nodes);
	p->pl->numa = node;
	return 0;
}

/* Highest PU number --cpus may name: keeps "0-4000000000" from allocating
 * a huge bitmap before it is found not to be on the machine. */
#define CPUS_MAX_PU (1u << 20)

/* "0-3,8" into set: numbers and ranges separated by commas, nothing else
 * (hwloc_bitmap_list_sscanf() takes "0x3" for 3 and ignores trailing
 * garbage, and a mask given where a list is expected must not pass). */
static int parse_cpus(const char *s, hwloc_bitmap_t set)
{
	hwloc_bitmap_zero(set);
	for (;;) {
		unsigned long lo, hi;
		char *end;

		if (!isdigit((unsigned char)*s))
			return -1;
		lo = hi = strtoul(s, &end, 10);
		s = end;
		if (*s == '-') {
			if (!isdigit((unsigned char)*++s))
				return -1;
			hi = strtoul(s, &end, 10);
			s = end;
		}
		if (lo > hi || hi >= CPUS_MAX_PU)
			return -1;
		hwloc_bitmap_set_range(set, (unsigned)lo, (int)hi);
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			return -1;
	}
}

/* Checks the options against the machine; logs one line on error. */
static int check_opts(hwloc_topology_t topo, unsigned threads, const rps_topo_opts_t *opts,
		      hwloc_bitmap_t cpus)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
	char have[96];

	if (threads == 0 || threads > RPS_TOPO_MAX_THREADS) {
		rps_err("placement: %u threads requested: between 1 and %u please", threads,
			RPS_TOPO_MAX_THREADS);
		return -EINVAL;
	}
	if (opts->no_pin && opts->cpus) {
		rps_err("placement: --no-pin and --cpus %s contradict each other", opts->cpus);
		return -EINVAL;
	}
	if (opts->numa < -1 || (opts->numa >= 0 && !numa_node(topo, (unsigned)opts->numa))) {
		hwloc_bitmap_list_snprintf(have, sizeof(have),
					   hwloc_topology_get_topology_nodeset(topo));
		rps_err("placement: --numa %d: no such NUMA node (this machine has %s)", opts->numa,
			have);
		return -EINVAL;
	}
	if (!opts->cpus)
		return 0;
	hwloc_bitmap_list_snprintf(have, sizeof(have), all);
	if (parse_cpus(opts->cpus, cpus)) {
		rps_err("placement: --cpus '%s': not a list of PUs like 0-3,8 (PUs here: %s)",
			opts->cpus, have);
		return -EINVAL;
	}
	if (!hwloc_bitmap_isincluded(cpus, all)) {
		hwloc_bitmap_andnot(cpus, cpus, all);
		rps_err("placement: --cpus %s: PU %d is not on this machine or not allowed to "
			"this process (usable PUs: %s)",
			opts->cpus, hwloc_bitmap_first(cpus), have);
		return -EINVAL;
	}
	return 0;
}

/* The home set: --cpus, --numa, the usable part of the NIC's locality, or
 * the whole machine. */
static int choose_home(struct placer *p, hwloc_const_cpuset_t nic_set, const rps_topo_opts_t *opts,
		       hwloc_const_cpuset_t cpus, enum place_mode *mode_p)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(p->topo);

	if (opts->cpus) {
		hwloc_bitmap_copy(p->home, cpus);
		*mode_p = MODE_CPUS;
	} else if (opts->numa >= 0) {
		hwloc_bitmap_and(p->home, numa_node(p->topo, (unsigned)opts->numa)->cpuset, all);
		if (hwloc_bitmap_iszero(p->home)) {
			rps_err("placement: --numa %d: that node has no usable PUs: add --cpus",
				opts->numa);
			return -EINVAL;
		}
		*mode_p = MODE_NUMA;
	} else if (nic_set && hwloc_bitmap_intersects(nic_set, all)) {
		hwloc_bitmap_and(p->home, nic_set, all);
		*mode_p = MODE_NIC;
	} else {
		hwloc_bitmap_copy(p->home, all);
		*mode_p = MODE_MACHINE;
	}
	return 0;
}

/* Threads past the distinct PUs found go round them again, thread 0's PU
 * first: the NIC-local ones double up before the spilled ones. */
static void oversubscribe(struct placer *p)
{
	unsigned distinct = p->n;

	if (distinct >= p->want)
		return;
	for (unsigned t = distinct; t < p->want; t++)
		p->pl->cpus[t] = p->pl->cpus[t % distinct];
	p->n = p->want;
	p->pl->oversubscribed = true;
	why_add(p, "; %u share a PU: more threads than the %u usable PUs", p->want - distinct,
		distinct);
}

static int place_threads(struct placer *p, hwloc_const_cpuset_t nic_set, const char *nic_name,
			 const rps_topo_opts_t *opts, hwloc_const_cpuset_t cpus)
{
	hwloc_nodeset_t home_nodes = hwloc_bitmap_alloc();
	hwloc_cpuset_t chosen = hwloc_bitmap_alloc();
	enum place_mode mode;
	int ret = -ENOMEM;

	if (!home_nodes || !chosen)
		goto out;
	if ((ret = choose_home(p, nic_set, opts, cpus, &mode)))
		goto out;
	hwloc_cpuset_to_nodeset(p->topo, p->home, home_nodes);
	why_home(p, mode, nic_name, nic_set, home_nodes, opts);
	take_from(p, p->home);
	why_spread(p);
	if (p->n < p->want && mode == MODE_NIC && (ret = spill(p, home_nodes)))
		goto out;
	oversubscribe(p);
	p->pl->nr_cpus = p->n;
	/* with --cpus the buffers follow the threads; otherwise the home */
	for (unsigned t = 0; t < p->n; t++)
		hwloc_bitmap_set(chosen, p->pl->cpus[t]);
	ret = buffer_node(p, opts, mode == MODE_CPUS ? chosen : p->home);
out:
	hwloc_bitmap_free(chosen);
	hwloc_bitmap_free(home_nodes);
	return ret;
}

RPS_EXPORT_PRIVATE int rps_topo_place(hwloc_topology_t topo, hwloc_const_cpuset_t nic_set,
				      const char *nic_name, unsigned threads,
				      const rps_topo_opts_t *opts, rps_topo_place_t *place_p)
{
	static const rps_topo_opts_t defaults = RPS_TOPO_OPTS_INIT;
	rps_topo_place_t *pl = calloc(1, sizeof(*pl));
	struct placer p = { .topo = topo, .pl = pl, .want = threads };
	hwloc_bitmap_t cpus = hwloc_bitmap_alloc();
	int ret = -ENOMEM;

	if (!opts)
		opts = &defaults;
	p.home = hwloc_bitmap_alloc();
	p.used = hwloc_bitmap_alloc();
	p.tmp = hwloc_bitmap_alloc();
	if (!pl || !cpus || !p.home || !p.used || !p.tmp) {
		rps_err("placement: out of memory");
		goto out;
	}
	if ((ret = check_opts(topo, threads, opts, cpus)))
		goto out;
	pl->nr_threads = threads;
	pl->numa = -1;
	snprintf(pl->nic, sizeof(pl->nic), "%s", nic_name ? nic_name : "");
	if (opts->no_pin) {
		why_add(&p, "--no-pin: threads left to the scheduler");
		ret = buffer_node(&p, opts, p.home); /* home is empty */
	} else {
		ret = place_threads(&p, nic_set, nic_name, opts, cpus);
	}
	if (ret == -ENOMEM)
		rps_err("placement: out of memory");
	if (!ret)
		*place_p = *pl;
out:
	hwloc_bitmap_free(p.tmp);
	hwloc_bitmap_free(p.used);
	hwloc_bitmap_free(p.home);
	hwloc_bitmap_free(cpus);
	free(pl);
	return ret;
}

RPS_EXPORT_PRIVATE int rps_topo_check_opts(const rps_topo_opts_t *opts, unsigned threads)
{
	rps_topo_place_t place;
	hwloc_topology_t topo;
	int ret;

	if (!opts->cpus && opts->numa < 0)
		return 0; /* automatic placement cannot be wrong */
	if ((ret = rps_topo_load(&topo)))
		return ret;
	ret = rps_topo_place(topo, NULL, NULL, threads ? threads : 1, opts, &place);
	rps_topo_unload(topo);
	return ret;
}
