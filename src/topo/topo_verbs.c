/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NIC locality of a verbs device, from sysfs through hwloc (verbs builds).
 */
#include "config.h"

#include <string.h>

#include <infiniband/verbs.h>
#include <hwloc/openfabrics-verbs.h>

#include "topo/topo.h"

hwloc_cpuset_t rps_topo_ibv_cpuset(hwloc_topology_t topo, struct ibv_device *dev)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
	hwloc_cpuset_t set = hwloc_bitmap_alloc();

	/* fails for a topology not of this machine (XML), and answers the
	 * whole machine when sysfs has no local_cpus (soft-RoCE, virtual
	 * functions without a NUMA node): neither tells us anything */
	if (!set || hwloc_ibv_get_device_cpuset(topo, dev, set) ||
	    !hwloc_bitmap_intersects(set, all) || hwloc_bitmap_isincluded(all, set)) {
		hwloc_bitmap_free(set);
		return NULL;
	}
	return set;
}

hwloc_cpuset_t rps_topo_ibv_cpuset_by_name(hwloc_topology_t topo, const char *name)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	hwloc_cpuset_t set = NULL;

	if (!list)
		return NULL;
	for (int i = 0; list[i]; i++) {
		if (strcmp(ibv_get_device_name(list[i]), name) == 0) {
			set = rps_topo_ibv_cpuset(topo, list[i]);
			break;
		}
	}
	ibv_free_device_list(list);
	return set;
}
