/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RPS_UTIL_COMPILER_H
#define RPS_UTIL_COMPILER_H

/* Marks a function of the public API: everything else is hidden
 * (-fvisibility=hidden), see src/librdmaps.map. */
#define RPS_EXPORT	   __attribute__((visibility("default")))
/* Marks an internal function that the programs of this tree (rdma-ps,
 * rdma-worker, the benchmarks) call in librdmaps.so: exported under the
 * RDMAPS_PRIVATE_1 version node of src/librdmaps.map, declared only in
 * headers under src/ (never installed), no compatibility promise.  Every
 * such function must be listed in that node: the wildcard-free map keeps
 * anything else local. */
#define RPS_EXPORT_PRIVATE __attribute__((visibility("default")))

#define RPS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define rps_likely(x)	__builtin_expect(!!(x), 1)
#define rps_unlikely(x) __builtin_expect(!!(x), 0)

#endif /* RPS_UTIL_COMPILER_H */
