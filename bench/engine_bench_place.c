/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_engine_bench's placement: --cpus / --numa through hwloc, so that a
 * right placement (threads and memory on the NIC's node) and a wrong one
 * (threads on one node, memory on another) can be measured side by side.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine_bench.h"
#include "topo/topo.h"
#include "util/log.h"

/* the PUs of set in order into cpus; returns how many */
static unsigned set_to_cpus(hwloc_const_cpuset_t set, int *cpus, unsigned max)
{
	unsigned n = 0;
	int pu;

	hwloc_bitmap_foreach_begin(pu, set)
	{
		if (n < max)
			cpus[n++] = pu;
	}
	hwloc_bitmap_foreach_end();
	return n;
}

static int usage(hwloc_topology_t topo, hwloc_bitmap_t set, const char *msg, const char *arg)
{
	fprintf(stderr, EB_PROG ": %s%s\n", msg, arg);
	hwloc_bitmap_free(set);
	rps_topo_unload(topo);
	return -EINVAL;
}

int eb_place(const eb_cfg_t *cfg, int *cpus, unsigned max, char *desc, size_t len)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	hwloc_const_cpuset_t allowed;
	hwloc_topology_t topo;
	char *list = NULL;
	unsigned n;

	if (!set)
		return -ENOMEM;
	if (rps_topo_load(&topo)) {
		hwloc_bitmap_free(set);
		return -EINVAL;
	}
	allowed = hwloc_topology_get_allowed_cpuset(topo);
	if (cfg->numa >= 0 && !hwloc_get_numanode_obj_by_os_index(topo, (unsigned)cfg->numa))
		return usage(topo, set, "--numa: no such NUMA node on this machine", "");
	if (cfg->cpus) {
		if (hwloc_bitmap_list_sscanf(set, cfg->cpus) || hwloc_bitmap_iszero(set) ||
		    hwloc_bitmap_weight(set) < 0)
			return usage(topo, set,
				     "--cpus: not a list of CPUs like 0-3,8: ", cfg->cpus);
		if (!hwloc_bitmap_isincluded(set, allowed))
			return usage(
				topo, set,
				"--cpus: CPUs not on this machine or not allowed to this process: ",
				cfg->cpus);
	} else if (cfg->numa >= 0) {
		hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(topo, (unsigned)cfg->numa);

		hwloc_bitmap_and(set, node->cpuset, allowed);
		if (hwloc_bitmap_iszero(set))
			return usage(topo, set,
				     "--numa: the node has no CPU allowed to this process", "");
	} else {
		hwloc_bitmap_copy(set, allowed);
	}
	n = set_to_cpus(set, cpus, max);
	hwloc_bitmap_list_asprintf(&list, set);
	/* the threads eb_run_point starts inherit the policy, and they are
	 * the ones that first-touch the arrays */
	if (cfg->numa >= 0 && rps_topo_membind(topo, cfg->numa))
		snprintf(desc, len,
			 "threads %s CPUs %s, memory first-touched (binding to NUMA "
			 "node %d refused)",
			 cfg->no_pin ? "free on" : "on", list ? list : "?", cfg->numa);
	else if (cfg->numa >= 0)
		snprintf(desc, len, "threads %s CPUs %s, memory on NUMA node %d",
			 cfg->no_pin ? "free on" : "on", list ? list : "?", cfg->numa);
	else
		snprintf(desc, len, "threads %s CPUs %s, memory first-touched by each thread",
			 cfg->no_pin ? "free on" : "on", list ? list : "?");
	free(list);
	hwloc_bitmap_free(set);
	rps_topo_unload(topo);
	return n ? (int)n : -EINVAL;
}
