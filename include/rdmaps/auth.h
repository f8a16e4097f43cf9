/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps shared-secret authentication: the limit on a token.  Servers
 * (rps_server_config_t) and workers (rps_worker_config_t) take the token;
 * the wire format carries only its digest.  Included by <rdmaps/ps.h>.
 * See rdmaps(7) for what this does and does not protect.
 */
#ifndef RDMAPS_AUTH_H
#define RDMAPS_AUTH_H

#define RPS_AUTH_MAX_TOKEN 4096 /* bytes of a shared auth token */

#endif /* RDMAPS_AUTH_H */
