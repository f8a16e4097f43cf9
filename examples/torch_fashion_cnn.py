#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A small CNN on Fashion-MNIST, trained by M PyTorch worker processes
against one rdma-ps, then by sequential SGD in plain PyTorch on the same
data from the same initial weights, and the two final test accuracies
side by side: make demo with PyTorch (make demo-torch).

The script starts rdma-ps itself (from --build-dir, else PATH), with
--init-weights written by rdmaps.torch.save_init, so the server and the
sequential run start from the same weights.  Each worker trains on its
share of the training images (rank, rank + M, ...), the same number of
steps as every other worker; the sequential run sees as many samples
(epochs over the whole training set, the same batch).  The accuracy of
the distributed run is rank 0's model after its last step, as make demo
reports it.

The images come from the Debian package dataset-fashion-mnist (IDX
files, gzipped or not, in /usr/share/datasets/fashion-mnist); nothing is
downloaded.

Exit status: 0 done, 1 a run failed (the reason on standard error), 2
bad usage or a missing dataset, rdma-ps or module.
"""

import argparse
import gzip
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

PROG = "torch_fashion_cnn"
HERE = os.path.dirname(os.path.abspath(__file__))
DATASET_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
         "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}
ALGOS = {"sgd": "SGD on the server", "asgd": "ASGD", "ssgd": "SSGD", "dc-asgd-c": "DC-ASGD-c",
         "dc-asgd-a": "DC-ASGD-a", "pc-asgd": "PC-ASGD", "dude-asgd": "DuDe-ASGD"}


class Failed(Exception):
    """A run that failed: the message is the reason (exit status 1)."""


class Usage(Exception):
    """A usage problem or a missing prerequisite (exit status 2)."""


def die(message, status):
    print("%s: %s" % (PROG, message), file=sys.stderr)
    sys.exit(status)


def parse_args(argv):
    """The command line; argparse exits 2 on a bad option."""
    ap = argparse.ArgumentParser(
        prog="torch_fashion_cnn.py",
        description="Train a small CNN (2 convolutions, 2 linear layers) on Fashion-MNIST with "
        "M PyTorch workers against one rdma-ps, then with sequential SGD in plain PyTorch from "
        "the same initial weights on the same data, and print both final test accuracies.",
        epilog="Exit status: 0 done, 1 a run failed, 2 bad usage or a missing dataset, rdma-ps "
        "or module.  Environment: RDMAPS_LIBRARY (the librdmaps.so.1 to load), RPS_PROVIDER, "
        "RPS_LOG_LEVEL as for rdma-ps(8).")
    ap.add_argument("-w", "--workers", type=int, default=4, metavar="M",
                    help="worker processes (default 4; --algo sgd takes exactly 1)")
    ap.add_argument("-a", "--algo", default="dc-asgd-a", choices=sorted(ALGOS),
                    help="rdma-ps's update rule (default dc-asgd-a)")
    ap.add_argument("--lr", type=float, default=0.05, help="learning rate of both runs (default 0.05)")
    ap.add_argument("-e", "--epochs", type=int, default=2,
                    help="passes over the training set, in samples seen (default 2)")
    ap.add_argument("-n", "--steps", type=int, default=None,
                    help="steps per worker instead of --epochs (the sequential run takes M times "
                    "as many)")
    ap.add_argument("-b", "--batch", type=int, default=32, help="mini-batch size (default 32)")
    ap.add_argument("--train-size", type=int, default=60000,
                    help="the first N training images (default all 60000)")
    ap.add_argument("--test-size", type=int, default=10000,
                    help="the first N test images (default all 10000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the initial weights and the "
                    "shuffling (default 1)")
    ap.add_argument("-P", "--provider", default="auto", choices=("auto", "ofi", "verbs"),
                    help="transport of rdma-ps and the workers (default auto)")
    ap.add_argument("--addr", default="127.0.0.1",
                    help="address rdma-ps listens on and the workers connect to (default "
                    "127.0.0.1; with verbs, the RDMA interface's)")
    ap.add_argument("--build-dir", default=None,
                    help="the build tree holding rdma-ps and .libs/librdmaps.so.1 (default: "
                    "this source tree if it was built in place, else rdma-ps from PATH)")
    ap.add_argument("--dataset-dir", default=DATASET_DIR,
                    help="the Fashion-MNIST IDX files (default %s)" % DATASET_DIR)
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds the distributed run may take before it is stopped "
                    "(default 600)")
    a = ap.parse_args(argv)
    checks = (("--workers", a.workers, 1, 64), ("--epochs", a.epochs, 1, 1000),
              ("--batch", a.batch, 1, 60000), ("--train-size", a.train_size, 1, 60000),
              ("--test-size", a.test_size, 1, 10000))
    for name, v, lo, hi in checks:
        if not lo <= v <= hi:
            ap.error("%s %d: must be %d to %d" % (name, v, lo, hi))
    if a.steps is not None and not 1 <= a.steps <= 10 ** 7:
        ap.error("--steps %d: must be 1 to 10000000" % a.steps)
    if not (a.lr > 0 and math.isfinite(a.lr)):
        ap.error("--lr %g: must be a positive number" % a.lr)
    if a.algo == "sgd" and a.workers != 1:
        ap.error("--algo sgd takes exactly one worker (--workers 1)")
    if a.train_size < a.workers:
        ap.error("--train-size %d: fewer images than workers" % a.train_size)
    return a


# ---- data --------------------------------------------------------------

def read_idx(path, np):
    """An IDX file (gzipped when it ends in .gz) as a numpy uint8 array of
    its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] or data[1] or data[2] != 0x08:
        raise Usage("%s: not an unsigned-byte IDX file" % path)
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise Usage("%s: %d bytes of data for shape %s" % (path, body.size, shape))
    return body.reshape(shape)


def load_dataset(directory, train_size, test_size, np):
    """{train_x, train_y, test_x, test_y}: uint8 arrays, the first
    train_size / test_size images."""
    out = {}
    for key, name in FILES.items():
        for path in (os.path.join(directory, name + ".gz"), os.path.join(directory, name)):
            if os.path.exists(path):
                out[key] = read_idx(path, np)
                break
        else:
            raise Usage("Fashion-MNIST is not in %s (%s missing): install the Debian package "
                        "dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist) or "
                        "give --dataset-dir" % (directory, name))
    n = {"train": train_size, "test": test_size}
    for key in out:
        out[key] = out[key][:n[key.split("_")[0]]]
    return out


def as_tensors(x, y, torch, np):
    """uint8 images and labels as float (N, 1, 28, 28) in [0, 1] and long."""
    return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32) / np.float32(255))
            .unsqueeze(1), torch.from_numpy(np.asarray(y, dtype=np.int64)))


# ---- model -------------------------------------------------------------

def build_model(seed, torch):
    """The CNN: conv 5x5 1->8, ReLU, max-pool 2; conv 5x5 8->16, ReLU,
    max-pool 2; linear 256->64, ReLU; linear 64->10.  seed: its weights."""
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 10))


def evaluate(model, x, y, torch):
    """(accuracy, mean cross-entropy) of model on x, y."""
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            out = model(x[i:i + 1000])
            loss += float(torch.nn.functional.cross_entropy(out, y[i:i + 1000], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + 1000]).sum())
    return correct / len(y), loss / len(y)


def batches(n_share, steps, batch, seed, np):
    """steps index arrays of batch positions in a share of n_share
    samples: reshuffled on every pass, wrapping around."""
    rs = np.random.RandomState(seed)
    order, pos = rs.permutation(n_share), 0
    for _ in range(steps):
        idx = []
        while len(idx) < batch:
            take = order[pos:pos + batch - len(idx)]
            idx.extend(take)
            pos += len(take)
            if pos == n_share:
                order, pos = rs.permutation(n_share), 0
        yield np.asarray(idx)


def plan(a):
    """(steps per worker, steps of the sequential run, epoch length in
    worker steps): equal numbers of samples seen."""
    if a.steps is not None:
        return a.steps, a.steps * a.workers, max(1, math.ceil(a.train_size / a.workers / a.batch))
    per_epoch = math.ceil(a.train_size / a.workers / a.batch)
    return a.epochs * per_epoch, a.epochs * per_epoch * a.workers, per_epoch


def progress(who, t0, epoch, step, loss, acc, extra=""):
    print("  %s %7.1f s  epoch %d  step %d  loss %.4f  test-acc %.4f%s" %
          (who, time.monotonic() - t0, epoch, step, loss, acc, extra), flush=True)


# ---- the distributed run -----------------------------------------------

def worker_main(rank, a, address, datafile, results):
    """One worker process: rdmaps.torch.Worker against rdma-ps, its share
    of the training set; puts ("ok", rank, stats) or ("error", rank,
    message) on results."""
    try:
        import numpy as np
        import torch

        import rdmaps
        import rdmaps.torch

        torch.set_num_threads(1)
        data = np.load(datafile)
        share = slice(rank, None, a.workers)
        x, y = as_tensors(data["train_x"][share], data["train_y"][share], torch, np)
        if rank == 0:
            tx, ty = as_tensors(data["test_x"], data["test_y"], torch, np)
        steps, _, per_epoch = plan(a)
        model = build_model(a.seed, torch)  # overwritten by the first pull
        lossf = torch.nn.functional.cross_entropy
        compute = comm = 0.0
        t0 = time.monotonic()
        with rdmaps.torch.Worker(model, address, rank, a.workers, provider=a.provider) as w:
            for s, idx in enumerate(batches(len(y), steps, a.batch, a.seed * 1000 + rank, np)):
                t1 = time.perf_counter()
                w.zero_grad()
                loss = lossf(model(x[idx]), y[idx])
                loss.backward()
                t2 = time.perf_counter()
                w.step()
                t3 = time.perf_counter()
                compute += t2 - t1
                comm += t3 - t2
                if rank == 0 and ((s + 1) % per_epoch == 0 or s + 1 == steps):
                    acc, _ = evaluate(model, tx, ty, torch)
                    progress("worker 0/%d:" % a.workers, t0, math.ceil((s + 1) / per_epoch),
                             s + 1, float(loss), acc,
                             "  %.0f steps/s" % ((s + 1) / (time.monotonic() - t0)))
            wall = time.monotonic() - t0
        stats = {"steps": steps, "wall": wall, "compute": compute, "comm": comm}
        if rank == 0:
            stats["acc"], stats["loss"] = evaluate(model, tx, ty, torch)
        results.put(("ok", rank, stats))
    except Exception as e:  # reported by the parent, which exits 1
        detail = "" if "rdmaps" in type(e).__module__ else "\n" + traceback.format_exc()
        results.put(("error", rank, "%s%s" % (e, detail)))


def find_rdma_ps(build_dir):
    """The rdma-ps to run: build_dir's, or PATH's (/usr/sbin included)."""
    if build_dir:
        path = os.path.join(build_dir, "rdma-ps")
        if not os.access(path, os.X_OK):
            raise Usage("%s is not built (run make in %s)" % (path, build_dir))
        return path
    path = shutil.which("rdma-ps", path=os.environ.get("PATH", "") + ":/usr/local/sbin:/usr/sbin")
    if not path:
        raise Usage("rdma-ps is neither in --build-dir nor on PATH: build rdmaps (make) and give "
                    "--build-dir, or install it")
    return path


def start_ps(rdma_ps, a, init_file, log):
    """Start rdma-ps; returns (Popen, port) once it listens."""
    cmd = [rdma_ps, "--provider", a.provider, "--listen", a.addr, "--port", "0", "--once",
           "--status-interval", "0", "--workers", str(a.workers), "--algo", a.algo,
           "--lr", repr(a.lr), "--init-weights", init_file]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log.name) as f:
            m = re.search(r"listening on port (\d+)", f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    with open(log.name) as f:
        sys.stderr.write(f.read())
    raise Failed("rdma-ps did not start (its output is above): %s" % " ".join(cmd))


def distributed(a, rdma_ps, tmp, datafile, init_file):
    """M worker processes against one rdma-ps; returns rank 0's stats
    with the workers' mean compute and communication times."""
    import multiprocessing as mp

    log = open(os.path.join(tmp, "rdma-ps.log"), "w")
    ps, port = start_ps(rdma_ps, a, init_file, log)
    with open(log.name) as f:
        print("  " + f.readline().rstrip(), flush=True)
    address = "%s:%d" % (a.addr if ":" not in a.addr else "[%s]" % a.addr, port)
    ctx = mp.get_context("spawn")  # no fork of a process that runs torch threads
    results = ctx.Queue()
    procs = [ctx.Process(target=worker_main, args=(r, a, address, datafile, results))
             for r in range(a.workers)]
    try:
        for p in procs:
            p.start()
        stats, deadline = {}, time.monotonic() + a.timeout
        while len(stats) < a.workers:
            try:
                kind, rank, value = results.get(timeout=1)
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise Failed("the workers did not finish within --timeout %g s" % a.timeout)
                dead = [r for r, p in enumerate(procs) if p.exitcode not in (None, 0)]
                if dead:
                    raise Failed("worker %d exited with status %d" % (dead[0], procs[dead[0]].exitcode))
                continue
            if kind == "error":
                raise Failed("worker %d/%d: %s" % (rank, a.workers, value))
            stats[rank] = value
        for p in procs:
            p.join(30)
        try:
            ps.wait(30)
        except subprocess.TimeoutExpired:
            raise Failed("rdma-ps did not exit after the last worker left")
        if ps.returncode:
            with open(log.name) as f:
                sys.stderr.write(f.read())
            raise Failed("rdma-ps exited with status %d (its output is above)" % ps.returncode)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        if ps.poll() is None:
            ps.kill()
            ps.wait()
        log.close()
    out = dict(stats[0])
    out["compute"] = sum(s["compute"] for s in stats.values()) / a.workers
    out["comm"] = sum(s["comm"] for s in stats.values()) / a.workers
    return out


# ---- the sequential reference ------------------------------------------

def sequential(a, data, torch, np):
    """Plain torch SGD, one process, from the same initial weights: the
    reference.  Returns its stats."""
    x, y = as_tensors(data["train_x"], data["train_y"], torch, np)
    tx, ty = as_tensors(data["test_x"], data["test_y"], torch, np)
    _, steps, per_epoch = plan(a)
    per_epoch *= a.workers  # an epoch in samples seen, as the workers count it
    model = build_model(a.seed, torch)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    lossf = torch.nn.functional.cross_entropy
    compute, t0 = 0.0, time.monotonic()
    for s, idx in enumerate(batches(len(y), steps, a.batch, a.seed * 1000 + 999, np)):
        t1 = time.perf_counter()
        opt.zero_grad()
        loss = lossf(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        compute += time.perf_counter() - t1
        if (s + 1) % per_epoch == 0 or s + 1 == steps:
            acc, _ = evaluate(model, tx, ty, torch)
            progress("sequential: ", t0, math.ceil((s + 1) / per_epoch), s + 1, float(loss), acc,
                     "  %.0f steps/s" % ((s + 1) / (time.monotonic() - t0)))
    wall = time.monotonic() - t0
    acc, loss = evaluate(model, tx, ty, torch)
    return {"steps": steps, "wall": wall, "compute": compute, "comm": 0.0, "acc": acc,
            "loss": loss}


# ---- main --------------------------------------------------------------

def setup_imports(build_dir):
    """Make rdmaps importable from this source tree and load the build
    tree's library, unless the environment already says otherwise
    (PYTHONPATH, RDMAPS_LIBRARY)."""
    src_python = os.path.join(os.path.dirname(HERE), "python")
    if not os.environ.get("PYTHONPATH") and os.path.isdir(os.path.join(src_python, "rdmaps")):
        sys.path.insert(0, src_python)
    if build_dir and "RDMAPS_LIBRARY" not in os.environ:
        lib = os.path.join(build_dir, ".libs", "librdmaps.so.1")
        if os.path.exists(lib):
            os.environ["RDMAPS_LIBRARY"] = lib


def main(argv):
    a = parse_args(argv)
    if a.build_dir is None and os.access(os.path.join(os.path.dirname(HERE), "rdma-ps"), os.X_OK):
        a.build_dir = os.path.dirname(HERE)
    if a.build_dir:
        a.build_dir = os.path.abspath(a.build_dir)
    setup_imports(a.build_dir)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        raise Usage("%s cannot import %s: this example needs numpy and PyTorch (Debian: "
                    "python3-numpy, python3-torch)" % (sys.executable, e.name))
    try:
        import rdmaps.torch
    except ImportError as e:
        raise Usage("cannot import rdmaps.torch (%s): run from the source tree or set "
                    "PYTHONPATH to its python/ directory" % e)
    torch.set_num_threads(1)
    rdma_ps = find_rdma_ps(a.build_dir)
    t_load = time.monotonic()
    data = load_dataset(a.dataset_dir, a.train_size, a.test_size, np)
    t_load = time.monotonic() - t_load
    model = build_model(a.seed, torch)
    nparams = sum(p.numel() for p in model.parameters())
    w_steps, s_steps, _ = plan(a)
    span = ("%d epoch%s" % (a.epochs, "s" if a.epochs > 1 else "")) if a.steps is None else (
        "%d steps per worker" % a.steps)
    print("rdmaps torch demo: a CNN (2 convolutions, 2 linear layers, %d parameters) on "
          "Fashion-MNIST (%d training, %d test images), %s, batch %d, lr %g"
          % (nparams, a.train_size, a.test_size, span, a.batch, a.lr), flush=True)
    with tempfile.TemporaryDirectory(prefix="rdmaps-torch-demo.") as tmp:
        init_file = os.path.join(tmp, "init.weights")
        rdmaps.torch.save_init(model, init_file)
        datafile = os.path.join(tmp, "data.npz")
        np.savez(datafile, **data)
        print()
        print("%s, %d worker%s and one rdma-ps:" % (ALGOS[a.algo], a.workers,
                                                      "s" if a.workers > 1 else ""), flush=True)
        dist = distributed(a, rdma_ps, tmp, datafile, init_file)
    print()
    print("sequential SGD, one process (plain PyTorch, the reference):", flush=True)
    seq = sequential(a, data, torch, np)
    print()
    title = "final test accuracy after %s" % span
    print("%-40s %10s %12s %9s" % (title, "accuracy", "steps", "time"))
    print("%-40s %10.4f %12s %7.1f s" % ("%s, %d workers" % (ALGOS[a.algo], a.workers),
                                         dist["acc"], "%d x %d" % (a.workers, w_steps),
                                         dist["wall"]))
    print("%-40s %10.4f %12d %7.1f s" % ("sequential SGD, 1 process", seq["acc"], s_steps,
                                         seq["wall"]))
    print("difference: %+.2f percentage points" % ((dist["acc"] - seq["acc"]) * 100))
    print("per step: workers %.2f ms compute + %.2f ms push/pull; sequential %.2f ms; "
          "dataset read in %.1f s"
          % (dist["compute"] / w_steps * 1e3, dist["comm"] / w_steps * 1e3,
             seq["compute"] / s_steps * 1e3, t_load))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Usage as e:
        die(str(e), 2)
    except Failed as e:
        die(str(e), 1)
    except KeyboardInterrupt:
        die("interrupted", 1)
