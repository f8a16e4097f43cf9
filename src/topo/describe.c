/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reporting a placement: one line for the banner and the metrics header,
 * and rdma-ps --show-topology, a hwloc-ls focused on the NIC.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topo/topo.h"
#include "util/compiler.h"

/* snprintf that appends at *off and keeps counting past len, so the
 * caller learns the length it would have needed, as from snprintf. */
static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*off < len ? buf + *off : NULL, *off < len ? len - *off : 0, fmt, ap);
	va_end(ap);
	*off += n > 0 ? (size_t)n : 0;
}

/* thread 0's PU first, sep between; "none" with --no-pin */
static void append_cpus(const rps_topo_place_t *place, char sep, char *buf, size_t len, size_t *off)
{
	if (place->nr_cpus == 0)
		append(buf, len, off, "none");
	for (unsigned t = 0; t < place->nr_cpus; t++) {
		if (t)
			append(buf, len, off, "%c", sep);
		append(buf, len, off, "%u", place->cpus[t]);
	}
}

RPS_EXPORT_PRIVATE int rps_topo_place_format(const rps_topo_place_t *place, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	append(buf, len, &off, "nic=%s numa=%d cpus=", place->nic[0] ? place->nic : "unknown",
	       place->numa);
	append_cpus(place, ',', buf, len, &off);
	append(buf, len, &off, " spilled=%s oversubscribed=%s", place->spilled ? "yes" : "no",
	       place->oversubscribed ? "yes" : "no");
	return (int)off;
}

RPS_EXPORT_PRIVATE int rps_topo_place_csv(const rps_topo_place_t *place, char *buf, size_t len)
{
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	append(buf, len, &off, "%s,%d,", place->nic[0] ? place->nic : "unknown", place->numa);
	append_cpus(place, ';', buf, len, &off);
	append(buf, len, &off, ",%s,%s", place->spilled ? "yes" : "no",
	       place->oversubscribed ? "yes" : "no");
	return (int)off;
}

static unsigned count_in(hwloc_topology_t topo, hwloc_obj_type_t type, hwloc_const_cpuset_t set)
{
	hwloc_obj_t obj = NULL;
	unsigned n = 0;

	while ((obj = hwloc_get_next_obj_by_type(topo, type, obj)))
		n += obj->cpuset && hwloc_bitmap_intersects(obj->cpuset, set);
	return n;
}

/* "0000:81:00.0", or "" when dev is not a PCI device. */
static void pci_text(hwloc_obj_t dev, char *buf, size_t len)
{
	buf[0] = '\0';
	if (dev && dev->type == HWLOC_OBJ_PCI_DEVICE)
		snprintf(buf, len, "%04x:%02x:%02x.%01x", dev->attr->pcidev.domain,
			 dev->attr->pcidev.bus, dev->attr->pcidev.dev, dev->attr->pcidev.func);
}

static void print_nic(FILE *out, hwloc_topology_t topo, hwloc_const_cpuset_t nic_set,
		      const rps_topo_place_t *place, hwloc_obj_t osdev)
{
	char pci[32], pus[96], nodes[64];
	hwloc_nodeset_t ns;

	if (!place->nic[0]) {
		fprintf(out, "NIC:       none given: placing on the whole machine\n");
		return;
	}
	fprintf(out, "NIC:       %s", place->nic);
	pci_text(osdev ? osdev->parent : NULL, pci, sizeof(pci));
	if (pci[0]) {
		fprintf(out, " (PCI %s", pci);
		for (hwloc_obj_t o = osdev->parent->io_first_child; o; o = o->next_sibling)
			if (o != osdev && o->type == HWLOC_OBJ_OS_DEVICE && o->name)
				fprintf(out, ", %s", o->name);
		fprintf(out, ")");
	}
	if (!nic_set) {
		fprintf(out, ": hwloc knows no locality for it\n");
		return;
	}
	ns = hwloc_bitmap_alloc();
	hwloc_bitmap_list_snprintf(pus, sizeof(pus), nic_set);
	if (ns)
		hwloc_cpuset_to_nodeset(topo, nic_set, ns);
	hwloc_bitmap_list_snprintf(nodes, sizeof(nodes), ns);
	fprintf(out, ": local to PUs %s, NUMA node%s %s\n", pus,
		ns && hwloc_bitmap_weight(ns) == 1 ? "" : "s", nodes);
	hwloc_bitmap_free(ns);
}

/* " [thread 0]", " [threads 0,4]" or "" for PU pu. */
static void thread_marks(const rps_topo_place_t *place, unsigned pu, char *buf, size_t len)
{
	unsigned found = 0;
	size_t off;
	int n;

	buf[0] = '\0';
	for (unsigned t = 0; t < place->nr_cpus; t++)
		found += place->cpus[t] == pu;
	if (!found)
		return;
	n = snprintf(buf, len, " [thread%s", found > 1 ? "s" : "");
	off = n > 0 ? (size_t)n : 0;
	for (unsigned t = 0, k = 0; t < place->nr_cpus && off < len; t++) {
		if (place->cpus[t] != pu)
			continue;
		n = snprintf(buf + off, len - off, "%s%u", k++ ? "," : " ", t);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < len)
		snprintf(buf + off, len - off, "]");
}

static void print_package(FILE *out, hwloc_topology_t topo, hwloc_obj_t pkg,
			  hwloc_const_cpuset_t nic_set, hwloc_const_cpuset_t chosen,
			  const rps_topo_place_t *place, hwloc_obj_t osdev)
{
	hwloc_obj_type_t core_type =
		hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
	bool has_nic = nic_set && hwloc_bitmap_intersects(pkg->cpuset, nic_set);
	hwloc_obj_t obj = NULL;
	char marks[64], pci[32];

	fprintf(out, "%s L#%u", hwloc_obj_type_string(pkg->type), pkg->logical_index);
	if (!has_nic && !hwloc_bitmap_intersects(pkg->cpuset, chosen)) {
		fprintf(out, ": %u NUMA node(s), %u cores, %u PUs, no thread here\n",
			count_in(topo, HWLOC_OBJ_NUMANODE, pkg->cpuset),
			count_in(topo, core_type, pkg->cpuset),
			count_in(topo, HWLOC_OBJ_PU, pkg->cpuset));
		return;
	}
	fprintf(out, "%s\n", has_nic ? "  <- NIC" : "");
	while ((obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj))) {
		uint64_t mem = obj->attr->numanode.local_memory;

		if (!hwloc_bitmap_isincluded(obj->cpuset, pkg->cpuset) ||
		    hwloc_bitmap_iszero(obj->cpuset))
			continue;
		fprintf(out, "  NUMANode P#%u", obj->os_index);
		if (mem)
			fprintf(out, " (%.1f GiB)", (double)mem / (1ull << 30));
		fprintf(out, "%s\n", (int)obj->os_index == place->numa ? "  <- buffers" : "");
	}
	if (osdev && hwloc_bitmap_isincluded(hwloc_get_non_io_ancestor_obj(topo, osdev)->cpuset,
					     pkg->cpuset)) {
		bool first = true;

		pci_text(osdev->parent, pci, sizeof(pci));
		fprintf(out, "  %s%s", pci[0] ? "PCI " : "", pci[0] ? pci : "");
		/* every OS device of the NIC's PCI function: ib0, mlx5_0 */
		for (hwloc_obj_t o = pci[0] ? osdev->parent->io_first_child : osdev; o;
		     o = pci[0] ? o->next_sibling : NULL) {
			if (o->type != HWLOC_OBJ_OS_DEVICE || !o->name)
				continue;
			fprintf(out, "%s%s", first ? (pci[0] ? ": " : "") : ", ", o->name);
			first = false;
		}
		fprintf(out, "  <- NIC\n");
	}
	while ((obj = hwloc_get_next_obj_inside_cpuset_by_type(topo, pkg->cpuset, core_type,
							       obj))) {
		hwloc_obj_t pu = NULL;

		fprintf(out, "  %s L#%u:", hwloc_obj_type_string(core_type), obj->logical_index);
		while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, obj->cpuset,
								      HWLOC_OBJ_PU, pu))) {
			thread_marks(place, pu->os_index, marks, sizeof(marks));
			fprintf(out, "  PU P#%u%s", pu->os_index, marks);
		}
		fprintf(out, "\n");
	}
}

void rps_topo_describe(FILE *out, hwloc_topology_t topo, hwloc_const_cpuset_t nic_set,
		       const rps_topo_place_t *place)
{
	hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
	hwloc_obj_t osdev = rps_topo_nic_osdev(topo, place->nic);
	hwloc_cpuset_t chosen = hwloc_bitmap_alloc();
	hwloc_obj_t pkg = NULL;
	char line[RPS_TOPO_WHY_LEN * 2];

	if (!chosen)
		return;
	for (unsigned t = 0; t < place->nr_cpus; t++)
		hwloc_bitmap_set(chosen, place->cpus[t]);
	fprintf(out, "machine:   %u package(s), %u NUMA node(s), %u cores, %u PUs\n",
		count_in(topo, HWLOC_OBJ_PACKAGE, all), count_in(topo, HWLOC_OBJ_NUMANODE, all),
		count_in(topo, HWLOC_OBJ_CORE, all), count_in(topo, HWLOC_OBJ_PU, all));
	print_nic(out, topo, nic_set, place, osdev);
	if (hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE) == 0)
		print_package(out, topo, hwloc_get_root_obj(topo), nic_set, chosen, place, osdev);
	while ((pkg = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_PACKAGE, pkg)))
		print_package(out, topo, pkg, nic_set, chosen, place, osdev);
	rps_topo_place_format(place, line, sizeof(line));
	fprintf(out, "placement: %u thread(s): %s\n", place->nr_threads, line);
	fprintf(out, "why:       %s\n", place->why);
	hwloc_bitmap_free(chosen);
}
