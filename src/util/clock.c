/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "util/clock.h"
#include "util/compiler.h"

#define RPS_FOREVER UINT64_MAX

RPS_EXPORT_PRIVATE uint64_t rps_deadline_ns(int timeout_ms)
{
	if (timeout_ms < 0)
		return RPS_FOREVER;
	return rps_now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

RPS_EXPORT_PRIVATE int rps_ms_left(uint64_t deadline_ns)
{
	uint64_t now;

	if (deadline_ns == RPS_FOREVER)
		return -1;
	now = rps_now_ns();
	if (now >= deadline_ns)
		return 0;
	/* round up so a caller never busy-loops on a 0 ms wait */
	return (int)((deadline_ns - now + 999999) / 1000000);
}
