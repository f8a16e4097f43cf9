/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the topology and finding a NIC's locality in it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "topo/topo.h"
#include "util/compiler.h"
#include "util/log.h"

RPS_EXPORT_PRIVATE int rps_topo_load(hwloc_topology_t *topo_p)
{
	hwloc_topology_t topo;
	int err;

	if (hwloc_topology_init(&topo)) {
		err = errno ? errno : ENOMEM;
		rps_err("topology: hwloc_topology_init: %s", strerror(err));
		return -err;
	}
#if HWLOC_API_VERSION >= 0x00020100
	/* Linux's own component finds PCI devices, their OS devices and their
	 * locality in sysfs, which is all we need.  The pci component
	 * (libpciaccess) would add vendor names, for a config-space scan and
	 * pci.ids strings it never frees (LeakSanitizer reports them in
	 * --enable-sanitizers runs); the GPU ones cost up to seconds (gl
	 * probes X displays) and cuda/nvml/rsmi/levelzero would initialise
	 * GPU drivers in a network daemon. */
	static const char *const skip[] = { "pci",  "gl",   "opencl",	"cuda",
					    "nvml", "rsmi", "levelzero" };

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST,
					      skip[i]); /* unknown names are fine */
#endif
	/* PCI devices and their OS devices (ib0, mlx5_0, eth0) are what tell
	 * us where a NIC is; bridges and unimportant devices stay out */
	if (hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) ||
	    hwloc_topology_load(topo)) {
		err = errno ? errno : EINVAL;
		rps_err("topology: hwloc cannot load this machine's topology: %s", strerror(err));
		goto err_destroy;
	}
	*topo_p = topo;
	return 0;

err_destroy:
	hwloc_topology_destroy(topo);
	return -err;
}

RPS_EXPORT_PRIVATE void rps_topo_unload(hwloc_topology_t topo)
{
	if (topo)
		hwloc_topology_destroy(topo);
}

/* "tcp/eth0" -> "eth0": the ofi provider names its device after the
 * libfabric provider and domain (rps_transport_device()), and device
 * names never contain a slash. */
static const char *device_part(const char *name)
{
	const char *slash = name ? strrchr(name, '/') : NULL;

	return slash ? slash + 1 : name;
}

hwloc_obj_t rps_topo_nic_osdev(hwloc_topology_t topo, const char *name)
{
	hwloc_obj_t osdev = NULL;

	name = device_part(name);
	if (!name || !*name)
		return NULL;
	while ((osdev = hwloc_get_next_osdev(topo, osdev)))
		if (osdev->name && strcmp(osdev->name, name) == 0)
			return osdev;
	return NULL;
}

hwloc_cpuset_t rps_topo_nic_cpuset(hwloc_topology_t topo, const char *name)
{
	hwloc_obj_t osdev = rps_topo_nic_osdev(topo, name);

	if (osdev) {
		hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, osdev);

		/* the whole machine is an answer here: the device is on a
		 * bus every package reaches alike (or there is one package) */
		return anc && anc->cpuset ? hwloc_bitmap_dup(anc->cpuset) : NULL;
	}
#ifdef RPS_HAVE_VERBS
	/* a verbs device hwloc lists no OS device for (I/O discovery off,
	 * or not a PCI function): sysfs may still know its local_cpus */
	name = device_part(name);
	if (name && *name)
		return rps_topo_ibv_cpuset_by_name(topo, name);
#endif
	return NULL;
}

RPS_EXPORT_PRIVATE hwloc_cpuset_t rps_topo_device_cpuset(hwloc_topology_t topo,
							 const char *provider, const char *device)
{
#ifdef RPS_HAVE_VERBS
	/* a verbs device's own locality first: sysfs knows it even when
	 * hwloc lists no OS device for it */
	if (provider && !strcmp(provider, "verbs"))
		return rps_topo_ibv_cpuset_by_name(topo, device);
#else
	(void)provider;
#endif
	return rps_topo_nic_cpuset(topo, device);
}
