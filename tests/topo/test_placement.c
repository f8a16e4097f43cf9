/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Placement of engine threads and buffers (src/topo) on synthetic and XML
 * topologies, so the rules are checked without the hardware: 1 and 2
 * sockets, SMT on and off, spilling, an unknown device, --cpus, --numa,
 * --no-pin, errors; the NIC lookup on a hand-written XML machine with an
 * InfiniBand card under package 1; and the binding helpers on this machine.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <rdmaps/log.h>

#include "topo/topo.h"

/* Two packages, one NUMA node each, two cores of two PUs each, numbered
 * as Linux numbers them (SMT siblings n and n+4), and a ConnectX card
 * (netdev ib0, verbs device mlx5_0) on package 1's PCI root. */
static const char two_socket_ib_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
	"<topology version=\"2.0\">\n"
	" <object type=\"Machine\" os_index=\"0\" cpuset=\"0xff\" complete_cpuset=\"0xff\""
	"  allowed_cpuset=\"0xff\" nodeset=\"0x3\" complete_nodeset=\"0x3\""
	"  allowed_nodeset=\"0x3\" gp_index=\"1\">\n"
	"  <object type=\"Package\" os_index=\"0\" cpuset=\"0x33\" complete_cpuset=\"0x33\""
	"   nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"2\">\n"
	"   <object type=\"NUMANode\" os_index=\"0\" cpuset=\"0x33\" complete_cpuset=\"0x33\""
	"    nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"3\" "
	"local_memory=\"17179869184\"/>\n"
	"   <object type=\"Core\" os_index=\"0\" cpuset=\"0x11\" complete_cpuset=\"0x11\""
	"    nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"4\">\n"
	"    <object type=\"PU\" os_index=\"0\" cpuset=\"0x01\" complete_cpuset=\"0x01\""
	"     nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"5\"/>\n"
	"    <object type=\"PU\" os_index=\"4\" cpuset=\"0x10\" complete_cpuset=\"0x10\""
	"     nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"6\"/>\n"
	"   </object>\n"
	"   <object type=\"Core\" os_index=\"1\" cpuset=\"0x22\" complete_cpuset=\"0x22\""
	"    nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"7\">\n"
	"    <object type=\"PU\" os_index=\"1\" cpuset=\"0x02\" complete_cpuset=\"0x02\""
	"     nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"8\"/>\n"
	"    <object type=\"PU\" os_index=\"5\" cpuset=\"0x20\" complete_cpuset=\"0x20\""
	"     nodeset=\"0x1\" complete_nodeset=\"0x1\" gp_index=\"9\"/>\n"
	"   </object>\n"
	"  </object>\n"
	"  <object type=\"Package\" os_index=\"1\" cpuset=\"0xcc\" complete_cpuset=\"0xcc\""
	"   nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"10\">\n"
	"   <object type=\"NUMANode\" os_index=\"1\" cpuset=\"0xcc\" complete_cpuset=\"0xcc\""
	"    nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"11\" "
	"local_memory=\"17179869184\"/>\n"
	"   <object type=\"Core\" os_index=\"2\" cpuset=\"0x44\" complete_cpuset=\"0x44\""
	"    nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"12\">\n"
	"    <object type=\"PU\" os_index=\"2\" cpuset=\"0x04\" complete_cpuset=\"0x04\""
	"     nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"13\"/>\n"
	"    <object type=\"PU\" os_index=\"6\" cpuset=\"0x40\" complete_cpuset=\"0x40\""
	"     nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"14\"/>\n"
	"   </object>\n"
	"   <object type=\"Core\" os_index=\"3\" cpuset=\"0x88\" complete_cpuset=\"0x88\""
	"    nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"15\">\n"
	"    <object type=\"PU\" os_index=\"3\" cpuset=\"0x08\" complete_cpuset=\"0x08\""
	"     nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"16\"/>\n"
	"    <object type=\"PU\" os_index=\"7\" cpuset=\"0x80\" complete_cpuset=\"0x80\""
	"     nodeset=\"0x2\" complete_nodeset=\"0x2\" gp_index=\"17\"/>\n"
	"   </object>\n"
	"   <object type=\"Bridge\" gp_index=\"18\" bridge_type=\"0-1\" depth=\"0\""
	"    bridge_pci=\"0000:[81-81]\">\n"
	"    <object type=\"PCIDev\" gp_index=\"19\" pci_busid=\"0000:81:00.0\""
	"     pci_type=\"0207 [15b3:1017] [15b3:0020] 00\" pci_link_speed=\"15.753846\">\n"
	"     <object type=\"OSDev\" gp_index=\"20\" name=\"ib0\" osdev_type=\"2\"/>\n"
	"     <object type=\"OSDev\" gp_index=\"21\" name=\"mlx5_0\" osdev_type=\"3\"/>\n"
	"    </object>\n"
	"   </object>\n"
	"  </object>\n"
	" </object>\n"
	"</topology>\n";

/* ---- helpers ------------------------------------------------------------ */

/* What the code under test logged. */
static struct {
	int errors, warnings;
	char last[512];
} logged;

static void capture(rps_log_level_t level, const char *msg, void *arg)
{
	(void)arg;
	if (level == RPS_LOG_ERROR)
		logged.errors++;
	else if (level == RPS_LOG_WARN)
		logged.warnings++;
	else
		return;
	snprintf(logged.last, sizeof(logged.last), "%s", msg);
}

static int setup(void **state)
{
	(void)state;
	memset(&logged, 0, sizeof(logged));
	rps_log_set_handler(capture, NULL);
	return 0;
}

static int teardown(void **state)
{
	hwloc_topology_t topo = *state;

	rps_topo_unload(topo);
	rps_log_set_handler(NULL, NULL);
	return 0;
}

/* A synthetic topology ("pack:2 [numa] core:4 pu:2"), kept in *state so
 * the teardown frees it even when an assertion fails. */
static hwloc_topology_t synthetic(void **state, const char *desc)
{
	hwloc_topology_t topo;

	assert_int_equal(hwloc_topology_init(&topo), 0);
	assert_int_equal(hwloc_topology_set_synthetic(topo, desc), 0);
	assert_int_equal(hwloc_topology_load(topo), 0);
	*state = topo;
	return topo;
}

static hwloc_topology_t xml_machine(void **state)
{
	hwloc_topology_t topo;

	assert_int_equal(hwloc_topology_init(&topo), 0);
	/* as rps_topo_load(): without I/O objects the NIC is not there */
	assert_int_equal(hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT),
			 0);
	assert_int_equal(hwloc_topology_set_xmlbuffer(topo, two_socket_ib_xml,
						      (int)sizeof(two_socket_ib_xml)),
			 0);
	assert_int_equal(hwloc_topology_load(topo), 0);
	*state = topo;
	return topo;
}

static hwloc_const_cpuset_t package_cpuset(hwloc_topology_t topo, unsigned idx)
{
	hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, idx);

	assert_non_null(pkg);
	return pkg->cpuset;
}

static void assert_cpus(const rps_topo_place_t *pl, const unsigned *want, unsigned n)
{
	assert_int_equal(pl->nr_cpus, n);
	for (unsigned t = 0; t < n; t++) {
		if (pl->cpus[t] != want[t])
			fail_msg("thread %u on PU %u, expected PU %u (why: %s)", t, pl->cpus[t],
				 want[t], pl->why);
	}
}

#define ASSERT_CPUS(pl, ...)                                                                       \
	do {                                                                                       \
		static const unsigned want_[] = { __VA_ARGS__ };                                   \
		assert_cpus((pl), want_, sizeof(want_) / sizeof(want_[0]));                        \
	} while (0)

static void assert_why(const rps_topo_place_t *pl, const char *part)
{
	if (!strstr(pl->why, part))
		fail_msg("why lacks \"%s\": %s", part, pl->why);
}

/* ---- the placement rules ---------------------------------------------------- */

/* One socket, SMT on (synthetic PUs: core c has PUs 2c and 2c+1): one
 * thread per core first, siblings after, buffers on the only node. */
static void test_one_socket(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:1 core:4 pu:2");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 0), "mlx5_0", 4, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 0, 2, 4, 6);
	assert_int_equal(pl.numa, 0);
	assert_false(pl.spilled);
	assert_false(pl.oversubscribed);
	assert_string_equal(pl.nic, "mlx5_0");
	assert_why(&pl, "NIC mlx5_0 is local to the whole machine / NUMA node 0 (PUs 0-7): 4 cores "
			"there, one thread per core, SMT siblings skipped");
	assert_int_equal(logged.errors + logged.warnings, 0);
}

/* Two sockets, the NIC on socket 1: every thread there, buffers on its
 * node; the example line of the design. */
static void test_two_sockets_nic_on_1(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:2");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 4, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 8, 10, 12, 14);
	assert_int_equal(pl.numa, 1);
	assert_false(pl.spilled);
	assert_why(&pl, "NIC mlx5_0 is local to package 1 / NUMA node 1 (PUs 8-15): 4 cores there, "
			"one thread per core, SMT siblings skipped; buffers on NUMA node 1");
}

/* SMT on: siblings only once every local core has a thread, and before
 * leaving the NIC's socket. */
static void test_smt_on_siblings_after_cores(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:2");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 6, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 8, 10, 12, 14, 9, 11);
	assert_false(pl.spilled);
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "4 cores there, one thread per core, then 2 on SMT siblings");
}

/* SMT off: one PU per core, nothing to skip. */
static void test_smt_off(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 3, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 4, 5, 6);
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "4 cores there, one thread per core; buffers");
	assert_null(strstr(pl.why, "SMT"));
}

/* More threads than local cores (SMT off): the rest spill to the other
 * socket, flagged; buffers stay on the NIC's node. */
static void test_spill_smt_off(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 6, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 4, 5, 6, 7, 0, 1);
	assert_true(pl.spilled);
	assert_false(pl.oversubscribed);
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "4 cores there, all taken; 2 more spilled to NUMA node 0 (nearest in "
			"topology order)");
}

/* SMT on: the NIC's socket fills (cores, then siblings) before spilling,
 * and on the other socket it is cores first again. */
static void test_spill_smt_on(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:2");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 10, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 8, 10, 12, 14, 9, 11, 13, 15, 0, 2);
	assert_true(pl.spilled);
	assert_why(&pl, "4 cores / 8 PUs there, all taken; 2 more spilled to NUMA node 0");
}

/* A NIC that hangs from an L3 smaller than its NUMA node: the rest of
 * that node comes before any other node. */
static void test_spill_rest_of_node(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] l3:2 core:2 pu:1");
	hwloc_obj_t l3 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_L3CACHE, 3);
	rps_topo_place_t pl;

	assert_non_null(l3);
	assert_int_equal(rps_topo_place(topo, l3->cpuset, NULL, 4, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 6, 7, 4, 5);
	assert_true(pl.spilled);
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "the NIC is local to package 1 / NUMA node 1 (PUs 6-7): 2 cores there, "
			"all taken; 2 more on the rest of NUMA node 1; buffers on NUMA node 1");

	assert_int_equal(rps_topo_place(topo, l3->cpuset, NULL, 5, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 6, 7, 4, 5, 0);
	assert_why(&pl, "; 2 more on the rest of NUMA node 1; 1 more spilled to NUMA node 0");
}

/* Without distances, nearest means topology: the other node of the same
 * package comes before the other package's nodes (node 2 before 0, 1). */
static void test_spill_topology_order(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 l3:2 [numa] core:1 pu:1");
	hwloc_obj_t node3 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, 3);
	rps_topo_place_t pl;

	assert_non_null(node3);
	assert_int_equal(rps_topo_place(topo, node3->cpuset, "mlx5_0", 3, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 3, 2, 0);
	assert_true(pl.spilled);
	assert_int_equal(pl.numa, 3);
	assert_why(&pl, "2 more spilled to NUMA node 2,0 (nearest in topology order)");
}

/* With a latency matrix, nearest means smallest latency from the NIC's
 * node, whatever the topology order. */
static void test_spill_by_distance(void **state)
{
#if HWLOC_API_VERSION >= 0x00020500
	hwloc_topology_t topo = synthetic(state, "pack:4 [numa] core:1 pu:1");
	hwloc_obj_t nodes[4];
	/* from node 0: node 3 at 12, node 2 at 15, node 1 at 30 */
	/* clang-format off */
	hwloc_uint64_t lat[16] = {
		10, 30, 15, 12,
		30, 10, 20, 20,
		15, 20, 10, 20,
		12, 20, 20, 10,
	};
	/* clang-format on */
	hwloc_distances_add_handle_t h;
	rps_topo_place_t pl;

	for (unsigned i = 0; i < 4; i++)
		assert_non_null(nodes[i] = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i));
	h = hwloc_distances_add_create(
		topo, "test latency",
		HWLOC_DISTANCES_KIND_FROM_USER | HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0);
	assert_non_null(h);
	assert_int_equal(hwloc_distances_add_values(topo, h, 4, nodes, lat, 0), 0);
	assert_int_equal(hwloc_distances_add_commit(topo, h, 0), 0);

	assert_int_equal(rps_topo_place(topo, nodes[0]->cpuset, "mlx5_0", 3, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 0, 3, 2);
	assert_true(pl.spilled);
	assert_why(&pl, "2 more spilled to NUMA node 3,2 (nearest by hwloc distance)");
#else
	(void)state;
	skip();
#endif
}

/* More threads than PUs on the whole machine: they share PUs, the NIC's
 * first, and both flags say so. */
static void test_oversubscribed(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:2 pu:1");
	rps_topo_place_t pl;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 6, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 2, 3, 0, 1, 2, 3);
	assert_true(pl.spilled);
	assert_true(pl.oversubscribed);
	assert_why(&pl, "2 share a PU: more threads than the 4 usable PUs");
}

/* A device hwloc does not know: the whole machine, buffers not bound
 * when it has several nodes. */
static void test_unknown_device(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_place_t pl;

	assert_null(rps_topo_nic_cpuset(topo, "rxe7"));
	assert_int_equal(rps_topo_place(topo, NULL, "rxe7", 6, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 0, 1, 2, 3, 4, 5);
	assert_false(pl.spilled);
	assert_int_equal(pl.numa, -1);
	assert_why(&pl,
		   "NIC rxe7 has no locality hwloc knows: whole machine (PUs 0-7): 8 cores "
		   "there, one thread per core; buffers not bound (the PUs span NUMA nodes 0-1)");

	/* and with no device at all */
	assert_int_equal(rps_topo_place(topo, NULL, NULL, 1, NULL, &pl), 0);
	ASSERT_CPUS(&pl, 0);
	assert_string_equal(pl.nic, "");
	assert_why(&pl, "no NIC given: whole machine");
}

/* --cpus wins over the NIC: only those PUs, one per core first, never
 * spilled out of; buffers follow the threads. */
static void test_cpus_override(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:2");
	rps_topo_opts_t opts = RPS_TOPO_OPTS_INIT;
	rps_topo_place_t pl;

	opts.cpus = "0-3,8";
	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 3, &opts, &pl), 0);
	ASSERT_CPUS(&pl, 0, 2, 8); /* 0,1 and 2,3 are siblings */
	assert_false(pl.spilled);
	assert_int_equal(pl.numa, -1); /* the PUs span both nodes */
	assert_why(&pl, "--cpus 0-3,8 (PUs 0-3,8): 3 cores there, one thread per core, SMT "
			"siblings skipped; buffers not bound (the PUs span NUMA nodes 0-1)");

	opts.cpus = "4-5";
	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 3, &opts, &pl), 0);
	ASSERT_CPUS(&pl, 4, 5, 4);
	assert_false(pl.spilled);
	assert_true(pl.oversubscribed);
	assert_int_equal(pl.numa, 0);
}

/* --numa restricts threads and buffers to that node, even away from the
 * NIC; more threads than its PUs share them rather than leave it. */
static void test_numa_option(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_opts_t opts = RPS_TOPO_OPTS_INIT;
	rps_topo_place_t pl;

	opts.numa = 0;
	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 2, &opts, &pl), 0);
	ASSERT_CPUS(&pl, 0, 1);
	assert_int_equal(pl.numa, 0);
	assert_why(&pl, "--numa 0 (PUs 0-3): 4 cores there");

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 6, &opts, &pl), 0);
	ASSERT_CPUS(&pl, 0, 1, 2, 3, 0, 1);
	assert_false(pl.spilled);
	assert_true(pl.oversubscribed);
	assert_int_equal(pl.numa, 0);
}

/* --no-pin: no PU for anyone; buffers bound only if --numa says so. */
static void test_no_pin(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_opts_t opts = RPS_TOPO_OPTS_INIT;
	rps_topo_place_t pl;
	char line[256];

	opts.no_pin = true;
	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 4, &opts, &pl), 0);
	assert_int_equal(pl.nr_cpus, 0);
	assert_int_equal(pl.nr_threads, 4);
	assert_int_equal(pl.numa, -1);
	assert_int_equal(rps_topo_place_bind(topo, &pl, 0), 0); /* a no-op */
	rps_topo_place_format(&pl, line, sizeof(line));
	assert_string_equal(line, "nic=mlx5_0 numa=-1 cpus=none spilled=no oversubscribed=no");
	rps_topo_place_csv(&pl, line, sizeof(line));
	assert_string_equal(line, "mlx5_0,-1,none,no,no");

	opts.numa = 1;
	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 4, &opts, &pl), 0);
	assert_int_equal(pl.nr_cpus, 0);
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "--no-pin: threads left to the scheduler; buffers on NUMA node 1");
}

/* Each bad request: -EINVAL, one error line naming the problem, and the
 * out-parameter untouched. */
static void expect_error(hwloc_topology_t topo, unsigned threads, const rps_topo_opts_t *opts,
			 const char *message)
{
	rps_topo_place_t pl;

	memset(&pl, 0xa5, sizeof(pl));
	logged.errors = 0;
	logged.last[0] = '\0';
	assert_int_equal(rps_topo_place(topo, NULL, "mlx5_0", threads, opts, &pl), -EINVAL);
	assert_int_equal(logged.errors, 1);
	if (!strstr(logged.last, message))
		fail_msg("error \"%s\" lacks \"%s\"", logged.last, message);
	assert_int_equal(pl.nr_threads, 0xa5a5a5a5u);
}

static void test_errors(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:4 pu:1");
	rps_topo_opts_t opts = RPS_TOPO_OPTS_INIT;

	expect_error(topo, 0, NULL, "0 threads requested");
	expect_error(topo, RPS_TOPO_MAX_THREADS + 1, NULL, "257 threads requested");
	opts.cpus = "0-3,12";
	expect_error(topo, 2, &opts, "--cpus 0-3,12: PU 12 is not on this machine");
	opts.cpus = "zero";
	expect_error(topo, 2, &opts, "--cpus 'zero': not a list of PUs like 0-3,8");
	/* strictly a list: no open range, no mask, no trailing text */
	static const char *const not_lists[] = { "4-", "0x3", "0-3x", " 1", "1,", "3-1", "" };
	for (size_t i = 0; i < sizeof(not_lists) / sizeof(not_lists[0]); i++) {
		char want[64];

		opts.cpus = not_lists[i];
		snprintf(want, sizeof(want), "--cpus '%s': not a list", not_lists[i]);
		expect_error(topo, 2, &opts, want);
	}
	opts.cpus = "1";
	opts.no_pin = true;
	expect_error(topo, 2, &opts, "--no-pin and --cpus 1 contradict");
	opts = (rps_topo_opts_t)RPS_TOPO_OPTS_INIT;
	opts.numa = 2;
	expect_error(topo, 2, &opts, "--numa 2: no such NUMA node (this machine has 0-1)");
	opts.numa = -5;
	expect_error(topo, 2, &opts, "--numa -5: no such NUMA node");
}

/* ---- NIC lookup and reporting on the XML machine ------------------------------ */

/* The netdev and the verbs device of the card under package 1 both give
 * package 1's PUs; the placement follows. */
static void test_netdev_lookup_xml(void **state)
{
	hwloc_topology_t topo = xml_machine(state);
	hwloc_cpuset_t ib0 = rps_topo_nic_cpuset(topo, "ib0");
	hwloc_cpuset_t mlx = rps_topo_nic_cpuset(topo, "mlx5_0");
	rps_topo_place_t pl;
	bool ok_ib0, ok_mlx;

	ok_ib0 = ib0 && hwloc_bitmap_isequal(ib0, package_cpuset(topo, 1));
	ok_mlx = mlx && hwloc_bitmap_isequal(mlx, package_cpuset(topo, 1));
	hwloc_bitmap_free(mlx);
	assert_true(ok_ib0);
	assert_true(ok_mlx);
	/* as the ofi provider names its device: provider/domain */
	assert_true(rps_topo_nic_osdev(topo, "tcp/ib0") == rps_topo_nic_osdev(topo, "ib0"));
	assert_null(rps_topo_nic_cpuset(topo, "eth9"));
	assert_null(rps_topo_nic_cpuset(topo, ""));
	assert_null(rps_topo_nic_cpuset(topo, NULL));
	assert_non_null(rps_topo_nic_osdev(topo, "ib0"));

	assert_int_equal(rps_topo_place(topo, ib0, "ib0", 3, NULL, &pl), 0);
	hwloc_bitmap_free(ib0);
	ASSERT_CPUS(&pl, 2, 3, 6); /* cores 2 and 3, then 2's sibling 6 */
	assert_int_equal(pl.numa, 1);
	assert_why(&pl, "NIC ib0 is local to package 1 / NUMA node 1 (PUs 2-3,6-7)");
}

/* --show-topology: the NIC with its PCI address and other name, the
 * NIC's package in full with thread numbers, the other in one line. */
static void test_describe(void **state)
{
	hwloc_topology_t topo = xml_machine(state);
	hwloc_cpuset_t nic = rps_topo_nic_cpuset(topo, "mlx5_0");
	rps_topo_place_t pl;
	FILE *f = tmpfile();
	char text[4096];
	size_t len;
	int ret;

	assert_non_null(f);
	ret = rps_topo_place(topo, nic, "mlx5_0", 3, NULL, &pl);
	if (ret == 0)
		rps_topo_describe(f, topo, nic, &pl);
	hwloc_bitmap_free(nic);
	rewind(f);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	assert_int_equal(ret, 0);
	static const char *const lines[] = {
		"machine:   2 package(s), 2 NUMA node(s), 4 cores, 8 PUs\n",
		"NIC:       mlx5_0 (PCI 0000:81:00.0, ib0): local to PUs 2-3,6-7, NUMA node 1\n",
		"Package L#0: 1 NUMA node(s), 2 cores, 4 PUs, no thread here\n",
		"Package L#1  <- NIC\n",
		"  NUMANode P#1 (16.0 GiB)  <- buffers\n",
		"  PCI 0000:81:00.0: ib0, mlx5_0  <- NIC\n",
		"  Core L#2:  PU P#2 [thread 0]  PU P#6 [thread 2]\n",
		"  Core L#3:  PU P#3 [thread 1]  PU P#7\n",
		"placement: 3 thread(s): nic=mlx5_0 numa=1 cpus=2,3,6 spilled=no "
		"oversubscribed=no\n",
		"why:       NIC mlx5_0 is local to package 1 / NUMA node 1",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (!strstr(text, lines[i]))
			fail_msg("--show-topology lacks \"%s\" in:\n%s", lines[i], text);
}

static void test_format(void **state)
{
	hwloc_topology_t topo = synthetic(state, "pack:2 [numa] core:2 pu:1");
	rps_topo_place_t pl;
	char line[256], small[16];
	int n;

	assert_int_equal(rps_topo_place(topo, package_cpuset(topo, 1), "mlx5_0", 3, NULL, &pl), 0);
	n = rps_topo_place_format(&pl, line, sizeof(line));
	assert_int_equal(n, (int)strlen(line));
	assert_string_equal(line, "nic=mlx5_0 numa=1 cpus=2,3,0 spilled=yes oversubscribed=no");
	/* truncates like snprintf, and says how long it would have been */
	assert_int_equal(rps_topo_place_format(&pl, small, sizeof(small)), (int)strlen(line));
	assert_string_equal(small, "nic=mlx5_0 numa");

	/* the metrics columns: one field each, no comma inside */
	assert_string_equal(RPS_TOPO_CSV_COLUMNS, "nic,numa,cpus,spilled,oversubscribed");
	n = rps_topo_place_csv(&pl, line, sizeof(line));
	assert_int_equal(n, (int)strlen(line));
	assert_string_equal(line, "mlx5_0,1,2;3;0,yes,no");
}

/* ---- this machine: loading, binding --------------------------------------------- */

/* rps_topo_load() gives this machine with its I/O devices: every network
 * or verbs device it lists (eth0, ib0, mlx5_0) is found by name. */
static void test_load_this_machine(void **state)
{
	hwloc_topology_t topo;
	hwloc_obj_t osdev = NULL;
	unsigned nics = 0;

	assert_int_equal(rps_topo_load(&topo), 0);
	*state = topo;
	assert_true(hwloc_topology_is_thissystem(topo));
	while ((osdev = hwloc_get_next_osdev(topo, osdev))) {
		hwloc_cpuset_t set;
		bool ok;

		if (osdev->attr->osdev.type != HWLOC_OBJ_OSDEV_NETWORK &&
		    osdev->attr->osdev.type != HWLOC_OBJ_OSDEV_OPENFABRICS)
			continue;
		set = rps_topo_nic_cpuset(topo, osdev->name);
		ok = set && !hwloc_bitmap_iszero(set) &&
		     hwloc_bitmap_isincluded(set, hwloc_topology_get_complete_cpuset(topo));
		hwloc_bitmap_free(set);
		if (!ok)
			fail_msg("%s: no usable locality", osdev->name);
		nics++;
	}
	print_message("this machine: %u network/verbs device(s) found by name\n", nics);
}

static void test_bind_thread(void **state)
{
	hwloc_topology_t topo;
	hwloc_cpuset_t before = hwloc_bitmap_alloc(), now = hwloc_bitmap_alloc();
	int pu;

	assert_int_equal(rps_topo_load(&topo), 0);
	*state = topo;
	if (!hwloc_topology_get_support(topo)->cpubind->set_thisthread_cpubind)
		skip();
	assert_int_equal(hwloc_get_cpubind(topo, before, HWLOC_CPUBIND_THREAD), 0);
	pu = hwloc_bitmap_last(hwloc_topology_get_topology_cpuset(topo));
	assert_true(pu >= 0);
	assert_int_equal(rps_topo_bind_thread(topo, (unsigned)pu), 0);
	assert_int_equal(hwloc_get_cpubind(topo, now, HWLOC_CPUBIND_THREAD), 0);
	assert_int_equal(hwloc_bitmap_weight(now), 1);
	assert_int_equal(hwloc_bitmap_first(now), pu);
	/* a PU that is not there: refused, with a warning, not fatal */
	assert_true(rps_topo_bind_thread(topo, 4000) < 0);
	assert_int_equal(logged.warnings, 1);
	assert_non_null(strstr(logged.last, "cannot pin thread to PU 4000"));
	hwloc_set_cpubind(topo, before, HWLOC_CPUBIND_THREAD);
	hwloc_bitmap_free(now);
	hwloc_bitmap_free(before);
}

/* A node the kernel does not have (255): the binding is refused, and we
 * still get usable page-aligned memory, with one warning.  The synthetic
 * topology is declared this system's so hwloc really calls mbind(2). */
static void test_alloc_fallback(void **state)
{
	hwloc_topology_t topo;
	size_t len = 3 * 4096 + 10;
	void *p = NULL;

	assert_int_equal(hwloc_topology_init(&topo), 0);
	*state = topo;
	assert_int_equal(
		hwloc_topology_set_synthetic(topo, "pack:1 [numa(indexes=255)] core:1 pu:1"), 0);
	assert_int_equal(hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM), 0);
	assert_int_equal(hwloc_topology_load(topo), 0);
	if (!hwloc_topology_get_support(topo)->membind->alloc_membind)
		skip(); /* not Linux: nothing would be refused */
	assert_int_equal(rps_topo_alloc(topo, len, 255, &p), 0);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 4096, 0);
	memset(p, 0x5a, len);
	assert_int_equal(logged.warnings, 1);
	assert_non_null(strstr(logged.last, "binding 12298 bytes to NUMA node 255 refused"));
	rps_topo_free(topo, p, len);
}

/* A node that is there: bound, when this system supports binding. */
static void test_alloc_bound(void **state)
{
	hwloc_topology_t topo;
	const struct hwloc_topology_support *sup;
	hwloc_nodeset_t where = hwloc_bitmap_alloc();
	hwloc_membind_policy_t policy;
	size_t len = 1 << 20;
	void *p = NULL;
	int node;

	assert_int_equal(rps_topo_load(&topo), 0);
	*state = topo;
	node = hwloc_bitmap_first(hwloc_topology_get_topology_nodeset(topo));
	assert_int_equal(rps_topo_alloc(topo, len, node, &p), 0);
	memset(p, 1, len);
	sup = hwloc_topology_get_support(topo);
	if (logged.warnings == 0 && sup->membind->get_area_membind) {
		assert_int_equal(hwloc_get_area_membind(topo, p, len, where, &policy,
							HWLOC_MEMBIND_BYNODESET),
				 0);
		assert_int_equal(policy, HWLOC_MEMBIND_BIND);
		assert_true(hwloc_bitmap_isset(where, (unsigned)node));
		assert_int_equal(hwloc_bitmap_weight(where), 1);
	}
	rps_topo_free(topo, p, len);
	hwloc_bitmap_free(where);
	/* unbound: plain page-aligned memory, no warning */
	assert_int_equal(rps_topo_alloc(topo, 100, -1, &p), 0);
	assert_int_equal((uintptr_t)p % 4096, 0);
	rps_topo_free(topo, p, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sockets_nic_on_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smt_on_siblings_after_cores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smt_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_smt_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_smt_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_rest_of_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_topology_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spill_by_distance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversubscribed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpus_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numa_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netdev_lookup_xml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_this_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_thread, setup, teardown),
		/* the fallback warns once per process: keep it before the
		 * other allocation test */
		cmocka_unit_test_setup_teardown(test_alloc_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_bound, setup, teardown),
	};

	return cmocka_run_group_tests_name("topo placement", tests, NULL, NULL);
}
