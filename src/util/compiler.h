/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RPS_UTIL_COMPILER_H
#define RPS_UTIL_COMPILER_H

/* Marks a function of the public API: everything else is hidden
 * (-fvisibility=hidden), see src/librdmaps.map. */
#define RPS_EXPORT __attribute__((visibility("default")))

#define RPS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define rps_likely(x)	__builtin_expect(!!(x), 1)
#define rps_unlikely(x) __builtin_expect(!!(x), 0)

#endif /* RPS_UTIL_COMPILER_H */
