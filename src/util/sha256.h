/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SHA-256 (FIPS 180-4), for the digest of the shared auth token.  None of
 * the project's dependencies (libc, verbs, rdma_cm, libfabric, hwloc,
 * OpenBLAS, zlib) offers a cryptographic hash, and one function does not
 * justify a crypto library.  Not for bulk data.
 */
#ifndef RPS_UTIL_SHA256_H
#define RPS_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define RPS_SHA256_LEN 32

void rps_sha256(const void *data, size_t len, uint8_t out[RPS_SHA256_LEN]);

#endif /* RPS_UTIL_SHA256_H */
