/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Binding: engine threads to PUs, registered buffers to a NUMA node.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "topo/topo.h"
#include "util/compiler.h"
#include "util/log.h"

int rps_topo_bind_thread(hwloc_topology_t topo, unsigned pu)
{
	hwloc_cpuset_t set = hwloc_bitmap_alloc();
	int err = 0;

	if (!set)
		return -ENOMEM;
	hwloc_bitmap_only(set, pu);
	if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_THREAD)) {
		err = errno ? errno : EINVAL;
		rps_warn("topology: cannot pin thread to PU %u: %s; it runs unpinned", pu,
			 strerror(err));
	}
	hwloc_bitmap_free(set);
	return -err;
}

RPS_EXPORT_PRIVATE int rps_topo_place_bind(hwloc_topology_t topo, const rps_topo_place_t *place,
					   unsigned t)
{
	if (t >= place->nr_cpus)
		return 0; /* --no-pin */
	return rps_topo_bind_thread(topo, place->cpus[t]);
}

int rps_topo_alloc(hwloc_topology_t topo, size_t len, int numa, void **addr_p)
{
	static atomic_bool warned;
	hwloc_nodeset_t nodes;
	void *addr = NULL;
	int err = 0;

	if (len == 0)
		len = 1; /* a valid, freeable pointer, as posix_memalign gives */
	if (numa >= 0 && (nodes = hwloc_bitmap_alloc())) {
		hwloc_bitmap_only(nodes, (unsigned)numa);
		/* STRICT: without it hwloc falls back silently, and we want
		 * to say so */
		addr = hwloc_alloc_membind(topo, len, nodes, HWLOC_MEMBIND_BIND,
					   HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT);
		err = addr ? 0 : errno;
		hwloc_bitmap_free(nodes);
		if (!addr) {
			if (!atomic_exchange(&warned, true))
				rps_warn(
					"topology: binding %zu bytes to NUMA node %d refused (%s): "
					"allocating unbound (further refusals at debug level)",
					len, numa, strerror(err));
			else
				rps_dbg("topology: binding %zu bytes to NUMA node %d refused (%s): "
					"allocating unbound",
					len, numa, strerror(err));
		}
	}
	/* hwloc_alloc: page aligned, and freed by hwloc_free like the bound
	 * kind, so rps_topo_free needs not know which one it got */
	if (!addr && !(addr = hwloc_alloc(topo, len))) {
		rps_err("topology: cannot allocate %zu bytes: out of memory", len);
		return -ENOMEM;
	}
	*addr_p = addr;
	return 0;
}

void rps_topo_free(hwloc_topology_t topo, void *addr, size_t len)
{
	if (addr)
		hwloc_free(topo, addr, len ? len : 1);
}

RPS_EXPORT_PRIVATE int rps_topo_membind(hwloc_topology_t topo, int numa)
{
	hwloc_nodeset_t nodes;
	int err = 0;

	if (numa < 0)
		return 0;
	if (!(nodes = hwloc_bitmap_alloc()))
		return -ENOMEM;
	hwloc_bitmap_only(nodes, (unsigned)numa);
	/* the calling thread (Linux has no process-wide policy): the worker's
	 * buffers are allocated by it, in the library and the model, not
	 * through rps_topo_alloc() */
	if (hwloc_set_membind(topo, nodes, HWLOC_MEMBIND_BIND,
			      HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET)) {
		err = errno ? errno : EINVAL;
		rps_warn("topology: cannot bind memory to NUMA node %d: %s; allocating unbound",
			 numa, strerror(err));
	}
	hwloc_bitmap_free(nodes);
	return -err;
}
