/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Topology: where engine threads and registered buffers go (DESIGN.md
 * "Placement (hwloc)", rps_topology(7)).  Not installed.
 *
 * The placement is a pure function of (topology, NIC locality, threads,
 * options), so it is tested on synthetic and XML topologies without the
 * hardware; everything else here is a thin wrapper over hwloc.
 *
 * Numbering: PUs and NUMA nodes are OS indexes (what taskset(1),
 * numactl(8) and --cpus/--numa use); packages and cores are hwloc logical
 * indexes (what hwloc-ls prints as L#).
 *
 * A loaded topology is read-only here: engine threads may call the bind and
 * alloc helpers on one topology concurrently.
 *
 * The programs (rdma-ps, rdma-worker, rps_engine_bench) call the functions
 * marked RPS_EXPORT_PRIVATE in librdmaps.so, under the RDMAPS_PRIVATE_1
 * node of src/librdmaps.map: a change to one of them or to the types
 * they take is a change of that node.
 */
#ifndef RPS_TOPO_TOPO_H
#define RPS_TOPO_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <hwloc.h>

/* rdma-ps --threads accepts up to 256 */
#define RPS_TOPO_MAX_THREADS 256
#define RPS_TOPO_WHY_LEN     512
#define RPS_TOPO_NIC_LEN     64

/* What the user asked for: --cpus LIST, --numa N, --no-pin. */
typedef struct rps_topo_opts {
	const char *cpus; /* hwloc list syntax ("0-3,8"); NULL = automatic */
	int numa;	  /* NUMA node OS index; -1 = automatic */
	bool no_pin;	  /* leave threads to the scheduler */
} rps_topo_opts_t;

/* clang-format off */
#define RPS_TOPO_OPTS_INIT {.cpus = NULL, .numa = -1, .no_pin = false}
/* clang-format on */

/* Where the threads and the buffers go, and why. */
typedef struct rps_topo_place {
	unsigned nr_threads;
	unsigned nr_cpus;		     /* nr_threads, or 0 with --no-pin */
	unsigned cpus[RPS_TOPO_MAX_THREADS]; /* thread t runs on PU cpus[t] */
	int numa;			     /* NUMA node for buffers, -1 = not bound */
	bool spilled;			     /* some threads outside the NIC-local PUs */
	bool oversubscribed;		     /* more threads than usable PUs: some share */
	char nic[RPS_TOPO_NIC_LEN];	     /* device name, "" when none was given */
	char why[RPS_TOPO_WHY_LEN];	     /* one line, for humans */
} rps_topo_place_t;

/* ---- topology and NIC locality (topo.c) ---------------------------------- */

/* Loads this machine's topology with PCI and OS devices (the NIC lookup
 * needs them) into *topo_p; HWLOC_XMLFILE in the environment substitutes
 * another machine's (binding then does nothing).  Logs and returns
 * -errno on failure. */
int rps_topo_load(hwloc_topology_t *topo_p);

/* Destroys a topology from rps_topo_load(); NULL is fine. */
void rps_topo_unload(hwloc_topology_t topo);

/* The OS device named name ("mlx5_0", "ib0", "eth0"; "tcp/eth0", as the
 * ofi provider names its device, is taken as "eth0"), or NULL: needs a
 * topology loaded with I/O objects. */
hwloc_obj_t rps_topo_nic_osdev(hwloc_topology_t topo, const char *name);

/* The NIC-local cpuset of device name (named as for rps_topo_nic_osdev(),
 * so rps_transport_device() can be passed as is): the cpuset of the first
 * non-I/O ancestor of its OS device (the whole machine's, if that is where
 * it hangs), else, in verbs builds, what hwloc reads from sysfs for the
 * verbs device of that name.  NULL when unknown (sysfs saying "the whole
 * machine" counts as unknown): place on the whole machine then.  The
 * caller frees it with hwloc_bitmap_free(). */
hwloc_cpuset_t rps_topo_nic_cpuset(hwloc_topology_t topo, const char *name);

/* The locality of a transport's device, as rps_transport_provider() and
 * rps_transport_device() name them: verbs devices through sysfs, netdevs
 * (ofi's "tcp/eth0") through hwloc's OS devices.  NULL when unknown, as
 * for rps_topo_nic_cpuset(). */
hwloc_cpuset_t rps_topo_device_cpuset(hwloc_topology_t topo, const char *provider,
				      const char *device);

#ifdef RPS_HAVE_VERBS
struct ibv_device;
/* hwloc_ibv_get_device_cpuset() for dev; NULL as for rps_topo_nic_cpuset()
 * (also for a topology not of this machine).  topo_verbs.c, verbs builds. */
hwloc_cpuset_t rps_topo_ibv_cpuset(hwloc_topology_t topo, struct ibv_device *dev);
/* The same for the verbs device named name. */
hwloc_cpuset_t rps_topo_ibv_cpuset_by_name(hwloc_topology_t topo, const char *name);
#endif

/* ---- placement (placement.c) -------------------------------------------- */

/* Places threads next to the NIC: PUs of nic_set (NULL = unknown: the
 * whole machine), one per core first, then SMT siblings; past those, the
 * nearest NUMA nodes' PUs (by hwloc distance, else topology order) with
 * spilled set; past every usable PU, threads share PUs (oversubscribed).
 * opts->cpus or opts->numa replace nic_set and are never spilled out of;
 * opts->no_pin places no thread.  nic_name (may be NULL) only names the
 * device in why.  Sets *place_p and returns 0, or logs one line and
 * returns -EINVAL (no thread, too many, bad list, PU or node not on this
 * machine, --numa node without PUs, --no-pin with --cpus) or -ENOMEM. */
int rps_topo_place(hwloc_topology_t topo, hwloc_const_cpuset_t nic_set, const char *nic_name,
		   unsigned threads, const rps_topo_opts_t *opts, rps_topo_place_t *place_p);

/* --cpus / --numa / --no-pin for threads threads against this machine,
 * before anything is started, so a bad value is a usage error: 0, or
 * -EINVAL after one logged line naming the option (as rps_topo_place). */
int rps_topo_check_opts(const rps_topo_opts_t *opts, unsigned threads);

/* ---- reporting (describe.c) ---------------------------------------------- */

/* One line "nic=mlx5_0 numa=1 cpus=4,5,6,7 spilled=no oversubscribed=no"
 * for the startup banner and --show-topology; cpus lists thread
 * 0's PU first ("none" with --no-pin), numa is -1 when unbound.  Returns
 * what snprintf() returns. */
int rps_topo_place_format(const rps_topo_place_t *place, char *buf, size_t len);

/* The same as CSV fields under the header RPS_TOPO_CSV_COLUMNS, for the
 * end of each metrics row ("mlx5_0,1,4;5;6;7,no,no": cpus separated by
 * semicolons, so awk -F, and cut still work).  Returns as snprintf(). */
#define RPS_TOPO_CSV_COLUMNS "nic,numa,cpus,spilled,oversubscribed"
int rps_topo_place_csv(const rps_topo_place_t *place, char *buf, size_t len);

/* Prints what rdma-ps --show-topology shows: the machine in one line, the
 * NIC (PCI address, OS devices) and its locality, then like a hwloc-ls
 * focused on the NIC, the packages holding the NIC or a thread in full
 * (NUMA nodes, cores, PUs marked with their thread numbers) and the
 * others in one line each, then the placement and why. */
void rps_topo_describe(FILE *out, hwloc_topology_t topo, hwloc_const_cpuset_t nic_set,
		       const rps_topo_place_t *place);

/* ---- binding (bind.c) ------------------------------------------------------ */

/* Pins the calling thread to PU pu.  Logs a warning and returns -errno
 * when refused (the thread keeps running unpinned). */
int rps_topo_bind_thread(hwloc_topology_t topo, unsigned pu);

/* Pins the calling thread where place puts thread t: nothing with
 * --no-pin.  Returns as rps_topo_bind_thread(). */
int rps_topo_place_bind(hwloc_topology_t topo, const rps_topo_place_t *place, unsigned t);

/* Binds the memory the calling thread allocates from now on to NUMA node
 * numa (nothing for -1), for a thread whose buffers come from elsewhere
 * (rdma-worker's: the library's registered buffers, the model, the data).  Logs a warning and
 * returns -errno when refused; allocations are then unbound. */
int rps_topo_membind(hwloc_topology_t topo, int numa);

/* Allocates len bytes, page aligned, bound to NUMA node numa (-1: not
 * bound), into *addr_p.  When the system refuses the binding it warns
 * (once per process, later ones at debug level) and allocates unbound.
 * Returns 0 or -ENOMEM (logged).  Free with rps_topo_free() on the same
 * topology and len. */
int rps_topo_alloc(hwloc_topology_t topo, size_t len, int numa, void **addr_p);

/* Frees what rps_topo_alloc() returned; NULL is fine. */
void rps_topo_free(hwloc_topology_t topo, void *addr, size_t len);

#endif /* RPS_TOPO_TOPO_H */
