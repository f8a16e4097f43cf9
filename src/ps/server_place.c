/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where rdma-ps's engine threads run and its registered buffers live:
 * next to the NIC (rps_topology(7)).  The decision is src/topo's pure
 * placement function; this file feeds it the transport's device and the
 * configuration, and keeps the result for the banner and the metrics.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ps/server.h"
#include "util/compiler.h"
#include "util/log.h"

static hwloc_cpuset_t nic_cpuset(struct rps_server *srv)
{
	return rps_topo_device_cpuset(srv->topo, rps_transport_provider(srv->tp),
				      rps_transport_device(srv->tp));
}

RPS_EXPORT_PRIVATE int rps_server_describe_placement(const rps_server_config_t *cfg, FILE *out)
{
	struct rps_server srv = { 0 };
	hwloc_cpuset_t nic;
	int ret;

	if ((ret = ps_config_in(&srv.cfg, cfg)))
		return ret;
	srv.threads = srv.cfg.threads ? srv.cfg.threads : 1;
	if ((ret = rps_transport_open(srv.cfg.transport, &srv.tp)))
		return ret;
	if (!(ret = ps_place(&srv))) {
		nic = nic_cpuset(&srv);
		rps_topo_describe(out, srv.topo, nic, &srv.place);
		hwloc_bitmap_free(nic);
	}
	rps_topo_unload(srv.topo);
	rps_transport_close(srv.tp);
	return ret;
}

int ps_place(struct rps_server *srv)
{
	rps_topo_opts_t opts = RPS_TOPO_OPTS_INIT;
	hwloc_cpuset_t nic;
	int ret;

	if ((ret = rps_topo_load(&srv->topo)))
		return ret;
	opts.cpus = srv->cfg.cpus;
	opts.numa = srv->cfg.numa_node;
	opts.no_pin = srv->cfg.no_pin;
	nic = nic_cpuset(srv);
	ret = rps_topo_place(srv->topo, nic, rps_transport_device(srv->tp), srv->threads, &opts,
			     &srv->place);
	hwloc_bitmap_free(nic);
	if (ret)
		return ret;
	rps_topo_place_format(&srv->place, srv->place_str, sizeof(srv->place_str));
	rps_topo_place_csv(&srv->place, srv->place_csv, sizeof(srv->place_csv));
	if (srv->place.spilled || srv->place.oversubscribed)
		rps_warn("placement: %s", srv->place.why);
	return 0;
}

RPS_EXPORT const char *rps_server_placement(const rps_server_t *srv)
{
	return srv->place_str;
}

RPS_EXPORT const char *rps_server_placement_why(const rps_server_t *srv)
{
	return srv->place.why;
}

RPS_EXPORT_PRIVATE const char *rps_server_placement_csv(const rps_server_t *srv)
{
	return srv->place_csv;
}

RPS_EXPORT_PRIVATE const char *rps_server_placement_csv_header(void)
{
	return RPS_TOPO_CSV_COLUMNS;
}
