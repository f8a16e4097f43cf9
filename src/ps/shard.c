/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sharding rule shared by rdma-ps --shard and rdma-worker with several
 * servers: one function, so both ends cut the model at the same places.
 */
#include "config.h"

#include <errno.h>

#include <rdmaps/ps.h>

#include "util/compiler.h"

RPS_EXPORT int rps_shard_range(uint64_t n, uint32_t k, uint32_t i, uint64_t *offset_p,
			       uint64_t *count_p)
{
	uint64_t base, extra;

	if (!k || i >= k || k > n)
		return -EINVAL;
	base = n / k;
	extra = n % k;
	/* the first `extra` shards take one parameter more */
	*offset_p = (uint64_t)i * base + (i < extra ? i : extra);
	*count_p = base + (i < extra);
	return 0;
}
