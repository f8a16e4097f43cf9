/* SPDX-License-Identifier: BSD-2-Clause */
/* rdmaps library version.  Included by <rdmaps/rdmaps.h>. */
#ifndef RDMAPS_VERSION_H
#define RDMAPS_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
const char *rps_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_VERSION_H */
