#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""One rank of the gloo side of bench/vs-gloo.

bench/vs-gloo starts --world of these, one process per rank as
rps_allreduce_bench forks its ranks, under an interpreter that imports
torch.  Each times one size the way bench/allreduce/run.c does: --warmup
untimed allreduces (float32 sum, in place: the sums just grow), then
--iters timed ones; the time per allreduce is averaged over the ranks and
rank 0 prints it as "time_us T".  bench/vs-gloo turns it into busbw.
"""

import argparse
import datetime
import sys
import time

import torch
import torch.distributed as dist


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--init", required=True, help="init_method, tcp://ADDR:PORT")
    ap.add_argument("--bytes", type=int, required=True, help="bytes per rank, a multiple of 4")
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--warmup", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300, help="seconds for setup and each op")
    a = ap.parse_args()

    # one compute thread, as each rdmaps rank: torch's intra-op pool would
    # otherwise take cores from the other ranks on a small host
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=a.init, rank=a.rank, world_size=a.world,
                            timeout=datetime.timedelta(seconds=a.timeout))
    buf = torch.ones(a.bytes // 4, dtype=torch.float32)
    for _ in range(a.warmup):
        dist.all_reduce(buf)
    t0 = time.perf_counter_ns()
    for _ in range(a.iters):
        dist.all_reduce(buf)
    us = (time.perf_counter_ns() - t0) / 1e3 / a.iters
    # the mean over the ranks, as rps_allreduce_bench (and nccl-tests)
    t = torch.tensor([us], dtype=torch.float64)
    dist.all_reduce(t)
    if a.rank == 0:
        print("time_us %.4f" % (t.item() / a.world), flush=True)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
