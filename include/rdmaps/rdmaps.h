/* SPDX-License-Identifier: BSD-2-Clause */
/* rdmaps: RDMA parameter-server runtime.  Umbrella header; see librdmaps(3). */
#ifndef RDMAPS_RDMAPS_H
#define RDMAPS_RDMAPS_H

#include <rdmaps/algo.h>
#include <rdmaps/auth.h>
#include <rdmaps/errno.h>
#include <rdmaps/log.h>
#include <rdmaps/ps.h>
#include <rdmaps/ring.h>
#include <rdmaps/transport.h>
#include <rdmaps/version.h>

#endif /* RDMAPS_RDMAPS_H */
