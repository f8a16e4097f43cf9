/* SPDX-License-Identifier: BSD-2-Clause */
/* rps_write_bw: perftest's ib_write_bw over the rdmaps transport (RDMA WRITE
 * bandwidth).  See rps_perftest(1); the work is done by pt_main (pt_run.c). */
#include "config.h"

#include "perftest.h"

int main(int argc, char **argv)
{
	static const pt_tool_t tool = { "rps_write_bw", "RDMA_Write", PT_WRITE, PT_BW };

	return pt_main(&tool, argc, argv);
}
