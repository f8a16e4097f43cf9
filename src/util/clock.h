/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef RPS_UTIL_CLOCK_H
#define RPS_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC_RAW: not slewed by NTP,
 * so intervals measured in benchmarks are not stretched or shrunk). */
static inline uint64_t rps_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Deadline helpers for the control path: timeout_ms < 0 means forever.
 * The benchmarks reach both in librdmaps.so (RDMAPS_PRIVATE_1). */
uint64_t rps_deadline_ns(int timeout_ms);
/* Milliseconds left until deadline (0 when passed, -1 when forever), for
 * poll(2)-style calls. */
int rps_ms_left(uint64_t deadline_ns);

#endif /* RPS_UTIL_CLOCK_H */
