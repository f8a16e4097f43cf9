/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Placement of a daemon's own thread and memory: the pure placement of
 * src/topo fed with the transport's device, then applied.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd_common.h"
#include "cmd/cmd_place.h"
#include "topo/topo.h"

static void topo_opts(const struct cmd_place_opts *o, rps_topo_opts_t *t)
{
	*t = (rps_topo_opts_t)RPS_TOPO_OPTS_INIT;
	t->cpus = o->cpus;
	t->numa = o->numa;
	t->no_pin = o->no_pin;
}

int cmd_place_check(const char *prog, const struct cmd_place_opts *o, unsigned threads)
{
	rps_topo_opts_t opts;
	char why[CMD_WHY_LEN];
	int ret;

	topo_opts(o, &opts);
	cmd_log_capture(why);
	ret = rps_topo_check_opts(&opts, threads);
	cmd_log_release();
	/* the placement's message names the option and the value */
	if (ret && why[0])
		fprintf(stderr, "%s: %s\n", prog, why);
	else if (ret)
		fprintf(stderr, "%s: %s: %s\n", prog, o->cpus ? "--cpus" : "--numa",
			rps_strerror(ret));
	return ret;
}

int cmd_place_self(const char *prog, const rps_transport_attr_t *attr,
		   const struct cmd_place_opts *o, unsigned local_rank, unsigned k,
		   struct cmd_placement *pl)
{
	unsigned slot;
	char device[RPS_TOPO_NIC_LEN] = "", provider[16] = "";
	hwloc_cpuset_t nic = NULL;
	rps_topo_opts_t opts;
	rps_topo_place_t place;
	hwloc_topology_t topo;
	rps_transport_t *tp;
	char why[CMD_WHY_LEN];
	int ret;

	/* the device "auto" or --device picks; a transport that does not
	 * open now fails again, with its own message, when connecting */
	cmd_log_capture(why);
	if (!o->no_pin && !rps_transport_open(attr, &tp)) {
		snprintf(device, sizeof(device), "%s", rps_transport_device(tp));
		snprintf(provider, sizeof(provider), "%s", rps_transport_provider(tp));
		rps_transport_close(tp);
	}
	ret = rps_topo_load(&topo);
	cmd_log_release();
	if (ret) {
		fprintf(stderr, "%s: topology: %s\n", prog, why[0] ? why : rps_strerror(ret));
		return ret;
	}
	if (device[0])
		nic = rps_topo_device_cpuset(topo, provider, device);
	topo_opts(o, &opts);
	cmd_log_capture(why);
	if (k < 1 || k > 4)
		k = 1;
	slot = (local_rank * k) % (RPS_TOPO_MAX_THREADS - k + 1);
	ret = rps_topo_place(topo, nic, device[0] ? device : NULL, slot + k, &opts, &place);
	cmd_log_release();
	hwloc_bitmap_free(nic);
	if (ret) {
		fprintf(stderr, "%s: placement: %s\n", prog, why[0] ? why : rps_strerror(ret));
		rps_topo_unload(topo);
		return ret;
	}
	/* warnings only: a container may forbid binding, training goes on */
	rps_topo_place_bind(topo, &place, slot);
	if (!o->no_pin)
		rps_topo_membind(topo, place.numa);
	rps_topo_unload(topo);
	/* this thread's CPU only: the others of the placement are the
	 * node's other ranks' */
	for (unsigned i = 1; i < 4; i++)
		pl->extra_cpu[i - 1] = i < k && place.nr_cpus ? (int)place.cpus[slot + i] : -1;
	if (place.nr_cpus) {
		for (unsigned i = 0; i < k; i++)
			place.cpus[i] = place.cpus[slot + i];
		place.nr_cpus = k;
	}
	place.nr_threads = k;
	rps_topo_place_format(&place, pl->line, sizeof(pl->line));
	rps_topo_place_csv(&place, pl->csv, sizeof(pl->csv));
	snprintf(pl->why, sizeof(pl->why), "%s", place.why);
	return 0;
}
