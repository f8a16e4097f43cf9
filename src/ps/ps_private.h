/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Parameter-server functions that are not part of the public API: what
 * rdma-ps prints (placement as CSV, --show-topology) and the tests' record
 * of applied chunks.  The programs of this tree reach them in librdmaps.so
 * under the RDMAPS_PRIVATE_1 version node (src/librdmaps.map), with no
 * compatibility promise between releases.  Not installed.
 */
#ifndef RPS_PS_PS_PRIVATE_H
#define RPS_PS_PS_PRIVATE_H

#include <stdint.h>
#include <stdio.h>

#include <rdmaps/ps.h>

/* rps_server_placement() as CSV fields, under the header
 * rps_server_placement_csv_header() (rdma-ps --metrics). */
const char *rps_server_placement_csv(const rps_server_t *srv);
const char *rps_server_placement_csv_header(void);
/* Without creating a server: opens cfg's transport, works out the
 * placement cfg would get and prints the NIC, its NUMA node, the CPUs
 * chosen and why (rdma-ps --show-topology).  0 or a negative errno. */
int rps_server_describe_placement(const rps_server_config_t *cfg, FILE *out);

/* ---- record of applied chunks, for replay (tests, debugging) ----------- */

typedef struct rps_apply_record {
	uint32_t chunk;
	uint32_t worker;
	uint64_t push; /* the worker's push number, from 0 */
} rps_apply_record_t;

/* Turns the record on with room for len records (0 turns it off),
 * dropping any earlier records.  Call between rps_server_create and
 * rps_server_start (or after rps_server_stop): -EBUSY while the server
 * runs, -ENOMEM, else 0. */
int rps_server_apply_log_enable(rps_server_t *srv, uint64_t len);
/* The records of applied chunks, in the order each engine thread applied
 * them (records of one chunk are in application order).  *n_p is the
 * count; NULL when the record is off.  Read after rps_server_stop. */
const rps_apply_record_t *rps_server_apply_log(const rps_server_t *srv, uint64_t *n_p);

#endif /* RPS_PS_PS_PRIVATE_H */
