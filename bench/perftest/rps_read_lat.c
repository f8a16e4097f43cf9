/* SPDX-License-Identifier: BSD-2-Clause */
/* rps_read_lat: perftest's ib_read_lat over the rdmaps transport (RDMA READ
 * latency).  See rps_perftest(1); the work is done by pt_main (pt_run.c). */
#include "config.h"

#include "perftest.h"

int main(int argc, char **argv)
{
	static const pt_tool_t tool = { "rps_read_lat", "RDMA_Read", PT_READ, PT_LAT };

	return pt_main(&tool, argc, argv);
}
