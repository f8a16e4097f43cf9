/* SPDX-License-Identifier: BSD-2-Clause */
/* rdmaps: RDMA parameter-server runtime.  Umbrella header; see librdmaps(3). */
#ifndef RDMAPS_RDMAPS_H
#define RDMAPS_RDMAPS_H

#include <rdmaps/errno.h>
#include <rdmaps/log.h>
#include <rdmaps/ps.h>
#include <rdmaps/ring.h>
#include <rdmaps/transport.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
const char *rps_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_RDMAPS_H */
