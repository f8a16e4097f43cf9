#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""One rank of the gloo side of bench/vs-gloo.

bench/vs-gloo starts --world of these, one process per rank as
rps_allreduce_bench forks its ranks, under an interpreter that imports
torch.  Each times every size of --sizes, in order, in one process group
(torch's import and the group's setup take seconds, more than the timed
allreduces of a small size), the way bench/allreduce/run.c times a size:
--warmup untimed allreduces (float32 sum, in place: the sums just grow),
then --iters timed ones; the time per allreduce is averaged over the ranks
and rank 0 prints it as "time_us BYTES T".  bench/vs-gloo turns it into
busbw.
"""

import argparse
import datetime
import sys
import time

import torch
import torch.distributed as dist


def sizes(s):
    v = [int(x) for x in s.split(",")]
    if not v or any(n < 4 or n % 4 for n in v):
        raise argparse.ArgumentTypeError("sizes must be multiples of 4 bytes, at least 4")
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--init", required=True, help="init_method, tcp://ADDR:PORT")
    ap.add_argument("--sizes", type=sizes, required=True,
                    help="bytes per rank, comma-separated, multiples of 4")
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--warmup", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=300, help="seconds for setup and each op")
    a = ap.parse_args()

    # one compute thread, as each rdmaps rank: torch's intra-op pool would
    # otherwise take cores from the other ranks on a small host
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=a.init, rank=a.rank, world_size=a.world,
                            timeout=datetime.timedelta(seconds=a.timeout))
    for nbytes in a.sizes:
        buf = torch.ones(nbytes // 4, dtype=torch.float32)
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
            print("time_us %d %.4f" % (nbytes, t.item() / a.world), flush=True)
        del buf
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
