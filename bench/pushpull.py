#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench/pushpull.py: what a push, a pull and a step cost from Python
(rdmaps.Worker over ctypes) next to C (rps_pushpull_bench), in one run,
against the same server.

For each model size and round, one rdma-ps is started (--params SIZE/4
--algo ALGO --lr 0.001 --threads T --chunk C --workers 1, zero weights),
and two workers take turns on it as rank 0: the C one
(rps_pushpull_bench --server, rps_push()/rps_pull() in a C loop) and
one rdmaps.Worker in this process, whose gradient is 1e-6 everywhere as
the C one's; which goes first alternates from round to round.  Each
does 2 untimed warm-up steps, then --steps timed ones, each a push()
(timed until the server's notification that it is applied) then a
pull() (the weights read back).  Times are medians in microseconds over
the steps; with several --rounds, the median over the rounds of each
median.  ratio = Python step / C step.

Both sides move the same bytes in the same chunks over the same
transport to the same server process, so the ratio is what the Python
loop and the ctypes calls around rps_push()/rps_pull() add.  Both are
placed alike: the engine threads on --cpus (default: the first PU this
process may use), the workers on the other PUs; --no-pin leaves
everything to the scheduler, and then a worker that shares the
busy-polling engine's core can take 5x longer at small sizes, on either
side, from run to run.

Exit status: 0 every point measured, 1 a point failed (the reason on
standard error), 2 bad usage or a missing program.
"""

import argparse
import csv
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

PROG = "pushpull.py"
HERE = os.path.dirname(os.path.abspath(__file__))
WARMUP_STEPS = 2
COLUMNS = ("bytes", "chunk", "c_push_us", "c_pull_us", "c_step_us", "py_push_us", "py_pull_us",
           "py_step_us", "ratio")


class Failed(Exception):
    """A point that could not be measured (exit status 1)."""


class Usage(Exception):
    """Bad usage or a missing program (exit status 2)."""


def parse_size(text):
    """Bytes of "4096", "64K", "1M", "2GB" (powers of 2), a multiple of 4."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("'%s' is not a size (N with an optional K, M or G)" % text)
    n = int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
    if n < 4 or n % 4:
        raise argparse.ArgumentTypeError("'%s' is not a positive multiple of 4 bytes" % text)
    return n


def size_list(text):
    sizes = [parse_size(s) for s in text.split(",")]
    if len(sizes) > 32:
        raise argparse.ArgumentTypeError("more than 32 sizes")
    return sizes


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Time push, pull and step (push + pull) from Python (rdmaps.Worker) and "
        "from C (rps_pushpull_bench) at the same model sizes, against servers set up the same "
        "way, and print both with their ratio.",
        epilog="Output: a comment line, a header line (with #) and one row per size: bytes, "
        "chunk, the C bench's push, pull and step medians, the Python ones, and ratio = Python "
        "step / C step.  With --csv, a header line and rows of the same columns.  Exit status: "
        "0 done, 1 a point failed, 2 bad usage or a missing program.")
    ap.add_argument("-s", "--sizes", type=size_list, default=size_list("1M,16M"),
                    help="model sizes in bytes, comma-separated (K/M/G suffixes; default 1M,16M)")
    ap.add_argument("-c", "--chunk", type=parse_size, default=256 << 10,
                    help="push and pull unit, as rdma-ps --chunk (default 256K)")
    ap.add_argument("-n", "--steps", type=int, default=20,
                    help="timed steps per size and round (default 20; 2 warm-up steps more)")
    ap.add_argument("-r", "--rounds", type=int, default=3,
                    help="rounds (C and Python in turn, the first alternating); each figure is the median over the rounds "
                    "(default 3)")
    ap.add_argument("-t", "--threads", type=int, default=1,
                    help="the server's engine threads (default 1)")
    ap.add_argument("--algo", default="asgd",
                    choices=("asgd", "ssgd", "dc-asgd-c", "dc-asgd-a", "pc-asgd", "dude-asgd"),
                    help="the server's update rule (default asgd)")
    ap.add_argument("-P", "--provider", default="auto", choices=("auto", "ofi", "verbs"),
                    help="the transport (default auto)")
    ap.add_argument("-a", "--addr", default="127.0.0.1",
                    help="the address the servers listen on (default 127.0.0.1)")
    ap.add_argument("--build-dir", default=None,
                    help="the build tree with rdma-ps, bench/rps_pushpull_bench and "
                    ".libs/librdmaps.so.1 (default: this source tree if built in place, else "
                    "PATH and the installed library)")
    ap.add_argument("--cpus", default=None, metavar="LIST",
                    help="the PUs of the servers' engine threads (rdma-ps --cpus; default: the "
                    "first PU this process may use); the workers, C and Python, run on the "
                    "others")
    ap.add_argument("--no-pin", action="store_true",
                    help="pin nothing: engines and workers left to the scheduler (each "
                    "program's default placement)")
    ap.add_argument("--csv", action="store_true", help="print CSV instead of the table")
    a = ap.parse_args(argv)
    if not 1 <= a.steps <= 100000:
        ap.error("--steps %d: must be 1 to 100000" % a.steps)
    if not 1 <= a.rounds <= 100:
        ap.error("--rounds %d: must be 1 to 100" % a.rounds)
    if not 1 <= a.threads <= 64:
        ap.error("--threads %d: must be 1 to 64" % a.threads)
    if not (4096 <= a.chunk <= 64 << 20) or a.chunk % 64:
        ap.error("--chunk %d: must be 4K to 64M and a multiple of 64 bytes" % a.chunk)
    return a


def find_program(build_dir, rel, name):
    """build_dir/rel, else name on PATH (sbin directories included)."""
    if build_dir:
        path = os.path.join(build_dir, rel)
        if not os.access(path, os.X_OK):
            raise Usage("%s is not built (run make in %s)" % (path, build_dir))
        return path
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin")
    if not path:
        raise Usage("%s is neither in --build-dir nor on PATH" % name)
    return path


def c_point(a, prog, port):
    """(push, pull, step) medians of rps_pushpull_bench --server, one C
    worker of rank 0 against the rdma-ps at port."""
    host = "[%s]" % a.addr if ":" in a.addr else a.addr
    cmd = [prog, "-P", a.provider, "--server", "%s:%d" % (host, port), "-n", str(a.steps),
           "--csv"]
    workers = a.placement[1]
    pin = (lambda: os.sched_setaffinity(0, workers)) if workers else None
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600, preexec_fn=pin)
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    if p.returncode or len(rows) != 1:
        raise Failed("rps_pushpull_bench --server exited with status %d: %s"
                     % (p.returncode, p.stderr.strip() or "no row"))
    r = rows[0]
    return float(r["push_us"]), float(r["pull_us"]), float(r["step_us"])


def cpu_list(text):
    """The set of CPUs of an hwloc list such as "0-3,8"."""
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def placement(a):
    """(engine CPU list for --cpus, the set of CPUs of the workers), or
    (None, None) with --no-pin or on a single CPU.

    The two sides must be placed alike for the ratio to mean anything:
    the C bench's worker threads share a process with the busy-polling
    engine thread, the Python worker is a process of its own, and a
    worker that the scheduler puts on the engine's core waits for the
    engine to yield at every push and pull (about 170 us on a 2-CPU
    machine, where the transfer of 64K takes 30).  So the engine threads
    get --cpus and every worker the other CPUs, on both sides."""
    if a.no_pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    mine = os.sched_getaffinity(0)
    engine = a.cpus if a.cpus is not None else str(min(mine))
    try:
        others = mine - cpu_list(engine)
    except ValueError:
        raise Usage("--cpus %s: not a list of PUs such as 0-3,8" % engine)
    if not others:
        return (engine, None) if a.cpus is not None else (None, None)
    return engine, others


def start_ps(a, prog, size, log):
    """rdma-ps for one worker and a zero model of size bytes; (Popen, port)."""
    cmd = [prog, "--provider", a.provider, "--listen", a.addr, "--port", "0",
           "--status-interval", "0", "--workers", "1", "--params", str(size // 4),
           "--algo", a.algo, "--lr", "0.001", "--threads", str(a.threads),
           "--chunk", str(a.chunk)]
    if a.placement[0] is not None:
        cmd += ["--cpus", a.placement[0]]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log.name) as f:
            m = re.search(r"listening on port (\d+)", f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    with open(log.name) as f:
        raise Failed("rdma-ps did not start for %d bytes: %s" % (size, f.read().strip()))


def py_point(a, rdmaps, port, size):
    """(push, pull, step) medians of the Python loop, rank 0 against the
    rdma-ps at port."""
    host = "[%s]" % a.addr if ":" in a.addr else a.addr
    push, pull, step = [], [], []
    restore = os.sched_getaffinity(0) if a.placement[1] else None
    try:
        if restore:
            os.sched_setaffinity(0, a.placement[1])
        # (rdmaps.Worker waits while the server still reaps the C
        # worker's connection of the same rank)
        with rdmaps.Worker("%s:%d" % (host, port), 0, 1, provider=a.provider,
                           timeout=120, num_params=size // 4) as w:
            w.grad[:] = 1e-6  # the weights stay finite over any number of steps
            clock = time.perf_counter_ns
            for s in range(WARMUP_STEPS + a.steps):
                t0 = clock()
                w.push()
                t1 = clock()
                w.pull()
                t2 = clock()
                if s >= WARMUP_STEPS:
                    push.append((t1 - t0) / 1e3)
                    pull.append((t2 - t1) / 1e3)
                    step.append((t2 - t0) / 1e3)
    except rdmaps.Error as e:
        raise Failed("Python, %d bytes: %s" % (size, e))
    finally:
        if restore:
            os.sched_setaffinity(0, restore)
    return statistics.median(push), statistics.median(pull), statistics.median(step)


def one_round(a, rdmaps, c_prog, ps_prog, size, logpath, python_first):
    """((C push, pull, step), (Python push, pull, step)) at size bytes,
    both against one rdma-ps."""
    with open(logpath, "w") as log:
        ps, port = start_ps(a, ps_prog, size, log)
        try:
            if python_first:
                py = py_point(a, rdmaps, port, size)
                c = c_point(a, c_prog, port)
            else:
                c = c_point(a, c_prog, port)
                py = py_point(a, rdmaps, port, size)
        finally:
            ps.terminate()
            try:
                ps.wait(30)
            except subprocess.TimeoutExpired:
                ps.kill()
                ps.wait()
    return c, py


def placement_text(a):
    engine, workers = a.placement
    if engine is None:
        return ", unpinned"
    if not workers:
        return ", engine on PUs %s" % engine
    return ", engine on PU(s) %s, workers on %s" % (engine, ",".join(map(str, sorted(workers))))


def emit(a, rows, out=sys.stdout):
    """The table (or CSV) of rows: dicts of COLUMNS."""
    if a.csv:
        print(",".join(COLUMNS), file=out)
        for r in rows:
            print("%d,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.3f" % tuple(r[c] for c in COLUMNS),
                  file=out)
        return
    print("# %s, %d engine thread(s), algorithm %s, one worker, medians of %d steps, median of "
          "%d round(s)%s, C and Python against the same rdma-ps; ratio = Python step / C step"
          % (a.provider, a.threads, a.algo, a.steps, a.rounds,
             placement_text(a)), file=out)
    print(" #bytes      chunk      C push[us]  C pull[us]  C step[us]  Py push[us]  Py pull[us]"
          "  Py step[us]   ratio", file=out)
    for r in rows:
        print(" %-11d %-9d %11.1f %11.1f %11.1f %12.1f %12.1f %12.1f %7.3f"
              % tuple(r[c] for c in COLUMNS), file=out)


def main(argv):
    a = parse_args(argv)
    if a.build_dir is None and os.access(os.path.join(os.path.dirname(HERE), "rdma-ps"), os.X_OK):
        a.build_dir = os.path.dirname(HERE)
    if a.build_dir:
        a.build_dir = os.path.abspath(a.build_dir)
        lib = os.path.join(a.build_dir, ".libs", "librdmaps.so.1")
        if "RDMAPS_LIBRARY" not in os.environ and os.path.exists(lib):
            os.environ["RDMAPS_LIBRARY"] = lib
    src_python = os.path.join(os.path.dirname(HERE), "python")
    if os.path.isdir(os.path.join(src_python, "rdmaps")) and src_python not in sys.path:
        sys.path.insert(0, src_python)
    try:
        import rdmaps
    except ImportError as e:
        raise Usage("cannot import rdmaps (%s): run from the source tree or set PYTHONPATH to "
                    "its python/ directory" % e)
    c_prog = find_program(a.build_dir, "bench/rps_pushpull_bench", "rps_pushpull_bench")
    ps_prog = find_program(a.build_dir, "rdma-ps", "rdma-ps")
    a.placement = placement(a)
    runs = {size: ([], []) for size in a.sizes}
    logpath = os.path.join(os.environ.get("TMPDIR", "/tmp"), "pushpull-py.%d.log" % os.getpid())
    try:
        for r in range(a.rounds):
            for size in a.sizes:
                c, py = one_round(a, rdmaps, c_prog, ps_prog, size, logpath, r % 2 == 1)
                runs[size][0].append(c)
                runs[size][1].append(py)
    finally:
        if os.path.exists(logpath):
            os.unlink(logpath)
    rows = []
    for size in a.sizes:
        c = [statistics.median(run[i] for run in runs[size][0]) for i in range(3)]
        py = [statistics.median(run[i] for run in runs[size][1]) for i in range(3)]
        rows.append(dict(zip(COLUMNS, [size, a.chunk] + c + py + [py[2] / c[2]])))
    emit(a, rows)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        sys.exit(2)
    except Failed as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        sys.exit(1)
