#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""torch_worker: one worker of the convergence sweep that trains a small
PyTorch CNN, as rdma-worker trains its built-in models: against rdma-ps
(--server, rdmaps.torch.Worker) or, without a server, DC-S3GD among its
peers (--algo dc-s3gd, rdmaps.dcs3gd.Worker).

bench/convergence/run starts M of these per run exactly as it starts M
rdma-worker processes, and reads the --metrics CSV (rdma-worker's first
13 columns) and the last line on standard output.

The model, the IDX reader, the batches and the evaluation are those of
examples/torch_fashion_cnn.py, imported from there.

Exit status: 0 done, 1 a runtime failure (the reason on standard error),
2 bad usage, or a missing dataset or module.
"""

import argparse
import errno
import math
import os
import sys
import time

PROG = "torch_worker"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples"))
import torch_fashion_cnn as tfc  # noqa: E402  (the shared model, data and evaluation)

Usage, Failed = tfc.Usage, tfc.Failed

METRICS_HEADER = ("time_s,rank,world,epoch,step,loss,train_acc,test_acc,test_loss,"
                  "steps_per_s,staleness_mean,staleness_max,rejected\n")
IMAGE_SIDE = 28
IMAGE_DIM = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10  # the CNN's outputs
# synthetic:N,D,C: the same data on every worker and every run, whatever
# --seed says (it only partitions and shuffles), as rdma-worker's
SYNTHETIC_SEED = 0x5eed
PARTITION_MAX_DRAWS = 64  # Dirichlet redraws before label-skew gives up
MAX_WORLD = 4096


# ---- the command line ----------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as rdma-worker's."""

    def error(self, message):
        print("%s: %s (try --help)" % (PROG, message), file=sys.stderr)
        sys.exit(2)


def integer(lo, hi):
    """An argparse type: an integer in [lo, hi]."""
    def parse(s):
        try:
            v = int(s, 10)
        except ValueError:
            raise argparse.ArgumentTypeError("'%s' is not an integer" % s) from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError("%d: must be %d to %d" % (v, lo, hi))
        return v
    return parse


def number(lo, hi, lo_open=False):
    """An argparse type: a finite float in [lo, hi] ((lo, hi] when
    lo_open)."""
    def parse(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError("'%s' is not a number" % s) from None
        if not math.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
            raise argparse.ArgumentTypeError("%s: must be a number in %s%g, %g]"
                                             % (s, "(" if lo_open else "[", lo, hi))
        return v
    return parse


def dataset_spec(s):
    """-D: ("fashion-mnist", DIR) or ("synthetic", (N, C))."""
    if s == "fashion-mnist" or s.startswith("fashion-mnist:"):
        d = s[len("fashion-mnist:"):] if ":" in s else tfc.DATASET_DIR
        if not d:
            raise argparse.ArgumentTypeError("'%s': no directory after fashion-mnist:" % s)
        return ("fashion-mnist", d)
    if not s.startswith("synthetic:"):
        raise argparse.ArgumentTypeError("'%s' is not fashion-mnist[:DIR] or synthetic:N,D,C" % s)
    parts = s[len("synthetic:"):].split(",")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError("'%s' is not synthetic:N,D,C (three integers)" % s)
    n, d, c = (int(p) for p in parts)
    if d != IMAGE_DIM:
        raise argparse.ArgumentTypeError("'%s': D must be %d, the CNN's 1x%dx%d images"
                                         % (s, IMAGE_DIM, IMAGE_SIDE, IMAGE_SIDE))
    if not 2 <= c <= CLASSES:
        raise argparse.ArgumentTypeError("'%s': C must be 2 to %d, the CNN's outputs" % (s, CLASSES))
    if not 1 <= n <= 10 ** 6:
        raise argparse.ArgumentTypeError("'%s': N must be 1 to 1000000" % s)
    return ("synthetic", (n, c))


def partition_spec(s):
    """--partition: None (iid) or ALPHA (label-skew)."""
    if s == "iid":
        return None
    if not s.startswith("label-skew:"):
        raise argparse.ArgumentTypeError("'%s' is not iid or label-skew:ALPHA" % s)
    try:
        return number(0, 1e6, lo_open=True)(s[len("label-skew:"):])
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError("'%s': ALPHA must be a number in (0, 1e6]" % s) from None


def lr_schedule_spec(s):
    """--lr-schedule: None (constant) or (N, GAMMA)."""
    if s == "constant":
        return None
    try:
        n, gamma = s[len("step:"):].split(",") if s.startswith("step:") else (None, None)
        return (integer(1, 10 ** 9)(n), number(0, 1e6, lo_open=True)(gamma))
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError("'%s' is not constant or step:N,GAMMA (N >= 1 steps, "
                                         "GAMMA > 0)" % s) from None


def env_int(ap, name, lo, hi, default):
    """An integer from the environment (Slurm's), else default."""
    s = os.environ.get(name)
    if not s:
        return default
    try:
        return integer(lo, hi)(s)
    except argparse.ArgumentTypeError as e:
        ap.error("$%s: %s" % (name, e))


DESCRIPTION = """\
Train a small CNN (conv 5x5 1->8, ReLU, max-pool 2; conv 5x5 8->16, ReLU,
max-pool 2; linear 256->64, ReLU; linear 64->10) on this worker's share of
the data, against rdma-ps (--server) or with DC-S3GD among the workers
(--algo dc-s3gd): rdma-worker's role in the convergence sweep, in PyTorch."""

EPILOG = """\
output:
  a progress line per evaluation (unless --status-interval 0):
    torch_worker R/W: T s  epoch E  step S  loss L  test-acc A  X steps/s
  then the final line, and with dc-s3gd a second one:
    torch_worker R/W: done: S steps in T s (steps done), test accuracy A, test loss L
    torch_worker R/W: dc-s3gd: one allreduce alone X ms, waited Y ms per step:
      Z% of the allreduce hidden behind computation

--metrics FILE: a row per evaluation, the final one included (the header
first when FILE is new or empty), rdma-worker's first 13 columns:
  time_s          seconds since training started (after connecting)
  rank, world
  epoch           passes over this worker's share: ceil(step * batch / share)
  step            steps done
  loss, train_acc mean loss and accuracy of the training batches since the
                  previous row
  test_acc,       of the model this rank holds (dc-s3gd: the averaged weights);
  test_loss       interval rows on --eval-samples, the final one on all
  steps_per_s     since the previous row, evaluations left out
  staleness_mean, since the start; with a server, per push: the server
  staleness_max   versions after this step minus after the previous one,
                  minus 1 (the other workers' updates applied between this
                  worker's pull and its push; as rdma-ps counts them); with
                  dc-s3gd, --staleness
  rejected        steps whose gradient was not finite

exit status:
  0 done, 1 a runtime failure (server or peer lost; the reason on standard
  error), 2 bad usage, a missing dataset or a missing module (torch, numpy,
  rdmaps); SIGTERM ends it at once.

environment:
  PYTHONPATH (the rdmaps package; default this source tree's python/),
  RDMAPS_LIBRARY (the librdmaps.so.1 to load), SLURM_PROCID and SLURM_NTASKS
  (the default rank and world), RPS_LOG_LEVEL (the library's log level)."""


def build_parser():
    ap = Parser(prog="torch_worker.py", formatter_class=argparse.RawDescriptionHelpFormatter,
                description=DESCRIPTION, epilog=EPILOG)
    ap.add_argument("-s", "--server", metavar="HOST:PORT[,...]",
                    help="rdma-ps to train with (several: shards in order)")
    ap.add_argument("--algo", choices=("dc-s3gd",),
                    help="dc-s3gd: no server, ring allreduce among the --peers (the other "
                    "algorithms are rdma-ps --algo)")
    ap.add_argument("--peers", metavar="HOST:PORT,...",
                    help="dc-s3gd: every worker's address in rank order; rank r listens on "
                    "its entry's port and, with --staleness S, the S-1 ports after it")
    ap.add_argument("--staleness", type=integer(1, 16), metavar="S",
                    help="dc-s3gd: allreduces in flight, 1 to 16 (default 1)")
    ap.add_argument("--lr", type=number(0, 1e6, lo_open=True),
                    help="dc-s3gd: learning rate (default 0.05)")
    ap.add_argument("--lambda", dest="lam", type=number(0, 1e6), metavar="L",
                    help="dc-s3gd: constant delay-compensation lambda (0: no correction, "
                    "S3GD); default the adaptive lambda of --lambda0")
    ap.add_argument("--lambda0", type=number(0, 1e6), metavar="L0",
                    help="dc-s3gd: adaptive lambda per tensor, L0*|g|/|g*g*D| (default 0.2)")
    ap.add_argument("--lr-schedule", type=lr_schedule_spec, metavar="SPEC",
                    help="dc-s3gd: constant (default) or step:N,GAMMA (lr *= GAMMA every N "
                    "steps of this worker)")
    ap.add_argument("--save-init", metavar="FILE",
                    help="only write the model's initial weights (of --seed) to FILE for "
                    "rdma-ps --init-weights, and exit")
    ap.add_argument("-r", "--rank", type=integer(0, MAX_WORLD - 1),
                    help="this worker's rank (default $SLURM_PROCID, else 0)")
    ap.add_argument("-w", "--world", type=integer(1, MAX_WORLD),
                    help="number of workers (default $SLURM_NTASKS, else 1)")
    ap.add_argument("-P", "--provider", default="auto", choices=("auto", "ofi", "verbs"),
                    help="transport (default auto)")
    ap.add_argument("-m", "--model", default="cnn", choices=("cnn",),
                    help="the model: cnn, the only one (default cnn)")
    ap.add_argument("-D", "--dataset", type=dataset_spec, default=dataset_spec("fashion-mnist"),
                    metavar="SPEC",
                    help="fashion-mnist[:DIR] (default, IDX files in %s) or synthetic:N,D,C "
                    "(N samples of C Gaussian classes in D = 784 dimensions as 1x28x28 "
                    "images, the same on every worker, plus N/5 test samples)"
                    % tfc.DATASET_DIR)
    ap.add_argument("--train-samples", type=integer(0, 10 ** 7), default=0, metavar="N",
                    help="use only the first N training samples, 0 = all (default)")
    ap.add_argument("--partition", type=partition_spec, default=None, metavar="SPEC",
                    help="iid (default: a random permutation in world near-equal shares) or "
                    "label-skew:ALPHA (per class, Dirichlet(ALPHA) shares over the ranks)")
    ap.add_argument("-b", "--batch", type=integer(1, 65536), default=32, metavar="N",
                    help="mini-batch size (default 32)")
    ap.add_argument("--steps", type=integer(1, 10 ** 9), metavar="N",
                    help="exactly N steps, going round the share, reshuffled every pass "
                    "(required)")
    ap.add_argument("--delay-ms", type=integer(0, 600000), default=0, metavar="MS",
                    help="sleep MS ms per step between the gradient and the push, a "
                    "straggler (default 0)")
    ap.add_argument("--seed", type=integer(0, 2 ** 32 - 1), default=1, metavar="N",
                    help="partition, shuffling and model-initialisation seed, the same on "
                    "every worker (default 1)")
    ap.add_argument("--eval-interval", type=integer(0, 10 ** 9), default=0, metavar="STEPS",
                    help="steps between test evaluations, 0 = only at the end (default)")
    ap.add_argument("--eval-samples", type=integer(0, 10 ** 7), default=0, metavar="N",
                    help="test samples of the interval evaluations, 0 = all (default); the "
                    "final one always takes the whole test set")
    ap.add_argument("--metrics", metavar="FILE",
                    help="append a CSV row per evaluation to FILE")
    ap.add_argument("--status-interval", type=number(0, 1e9), default=5, metavar="SEC",
                    help="0: no progress lines; otherwise a progress line per evaluation "
                    "(default 5; the lines follow --eval-interval, not SEC)")
    return ap


def parse_args(argv):
    """The checked command line; exits 2 with a one-line message."""
    ap = build_parser()
    a = ap.parse_args(argv)
    if a.rank is None:
        a.rank = env_int(ap, "SLURM_PROCID", 0, MAX_WORLD - 1, 0)
    if a.world is None:
        a.world = env_int(ap, "SLURM_NTASKS", 1, MAX_WORLD, 1)
    if a.rank >= a.world:
        ap.error("rank %d is not below the world size %d (--rank/--world or "
                 "SLURM_PROCID/SLURM_NTASKS)" % (a.rank, a.world))
    if a.save_init:
        return a
    s3gd_opts = (a.peers, a.staleness, a.lr, a.lam, a.lambda0, a.lr_schedule)
    if a.algo is None and any(v is not None for v in s3gd_opts):
        ap.error("--peers, --staleness, --lr, --lambda, --lambda0 and --lr-schedule are options "
                 "of --algo dc-s3gd (with a server, rdma-ps has them)")
    if (a.server is None) == (a.algo is None):
        ap.error("give exactly one of --server and --algo dc-s3gd" if a.server else
                 "--server or --algo dc-s3gd is required")
    if a.algo and a.peers is None and a.world > 1:
        ap.error("--peers is required with --algo dc-s3gd and %d workers" % a.world)
    if a.lam is not None and a.lambda0 is not None:
        ap.error("--lambda (constant) and --lambda0 (adaptive) exclude each other")
    if a.steps is None:
        ap.error("--steps is required")
    a.staleness = a.staleness or 1
    a.lr = 0.05 if a.lr is None else a.lr
    a.lambda0 = 0.2 if a.lambda0 is None else a.lambda0
    return a


# ---- imports ---------------------------------------------------------------

def import_modules(a):
    """(numpy, torch, rdmaps) with rdmaps.torch and rdmaps.dcs3gd loaded;
    Usage naming what to install when one is missing.  Unless --save-init,
    check_setup runs before torch's import (seconds)."""
    tfc.setup_imports(None)  # this source tree's python/ unless PYTHONPATH says
    try:
        import numpy as np
        import rdmaps
        if not a.save_init:
            check_setup(a, rdmaps)
        import torch
        import rdmaps.dcs3gd
        import rdmaps.torch
    except ImportError as e:
        if e.name and e.name.split(".")[0] == "rdmaps":
            raise Usage("cannot import rdmaps (%s): set PYTHONPATH to the rdmaps source "
                        "tree's python/ directory" % e) from None
        raise Usage("%s cannot import %s: install the Debian packages python3-numpy and "
                    "python3-torch" % (sys.executable, e.name)) from None
    return np, torch, rdmaps


def check_setup(a, rdmaps):
    """Usage for a librdmaps that does not load, or a bad --server or
    --peers."""
    try:
        rdmaps.library_path()  # load it now: a missing library is a setup problem
        if a.server:
            rdmaps.worker.parse_servers(a.server)
            return
        if a.world == 1:
            return  # dc-s3gd alone: no ring
        peers = rdmaps.worker.parse_addresses(a.peers, "--peers")
    except rdmaps.Error as e:
        raise Usage(e.message) from None
    if len(peers) != a.world:
        raise Usage("--peers lists %d workers, --world is %d" % (len(peers), a.world))
    for host, port in peers:
        if port + a.staleness - 1 > 65535:
            raise Usage("--peers: %s:%d: --staleness %d takes the ports up to %d"
                        % (host, port, a.staleness, port + a.staleness - 1))


# ---- data ------------------------------------------------------------------

def synthetic(n, classes, np):
    """N training and max(1, N/5) test samples of `classes` Gaussian blobs
    in 784 dimensions, from SYNTHETIC_SEED: (x float32 (n, 784), y) twice.
    rdma-worker's distribution (not its bits): class means N(0, 1) per
    dimension, unit noise around them, uniform labels.  The CNN's
    convolutions find no spatial structure in them, so it needs means this
    far apart (with a tenth of it, 300 steps learn nothing)."""
    ntest = max(1, n // 5)
    rng = np.random.default_rng(SYNTHETIC_SEED)
    means = rng.standard_normal((classes, IMAGE_DIM), dtype=np.float32)
    y = rng.integers(0, classes, n + ntest)
    x = means[y] + rng.standard_normal((n + ntest, IMAGE_DIM), dtype=np.float32)
    return (x[:n], y[:n]), (x[n:], y[n:])


def check_dataset(a):
    """Usage when -D fashion-mnist's files are not there (before the slow
    imports)."""
    kind, directory = a.dataset
    if kind != "fashion-mnist":
        return
    missing = [name for name in tfc.FILES.values()
               if not any(os.path.exists(os.path.join(directory, name + ext))
                          for ext in (".gz", ""))]
    if missing:
        raise Usage("Fashion-MNIST is not in %s (%s missing): install the Debian package "
                    "dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist) or give "
                    "-D fashion-mnist:DIR" % (directory, missing[0]))


def fashion_mnist(directory, train_samples, np):
    """The Fashion-MNIST IDX files of directory, as uint8 arrays:
    ((train_x, train_y), (test_x, test_y))."""
    d = tfc.load_dataset(directory, train_samples or None, None, np)
    return (d["train_x"], d["train_y"]), (d["test_x"], d["test_y"])


def partition(y, a, np):
    """The sorted indices of rank a.rank's share of labels y: the same
    draw on every rank (a Generator seeded by --seed)."""
    rng = np.random.default_rng(a.seed)
    if a.partition is None:
        shares = np.array_split(rng.permutation(len(y)), a.world)
    else:
        by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
        for _ in range(PARTITION_MAX_DRAWS):
            pieces = [[] for _ in range(a.world)]
            for idx in by_class:
                idx = rng.permutation(idx)
                p = rng.dirichlet(np.full(a.world, a.partition))
                if not np.isfinite(p).all():
                    break
                cuts = np.minimum((np.cumsum(p)[:-1] * len(idx)).astype(np.int64), len(idx))
                for r, piece in enumerate(np.split(idx, cuts)):
                    pieces[r].append(piece)
            else:
                shares = [np.concatenate(p) for p in pieces]
                if all(len(s) for s in shares):
                    break
        else:
            raise Usage("--partition label-skew:%g left a rank without samples in %d draws: "
                        "raise ALPHA or --train-samples" % (a.partition, PARTITION_MAX_DRAWS))
    share = np.sort(shares[a.rank])
    if not len(share):
        raise Usage("%d training samples for %d workers: rank %d has none (raise "
                    "--train-samples)" % (len(y), a.world, a.rank))
    return share


def load_data(a, np, torch):
    """(share x, share y, test x, test y): float (N, 1, 28, 28) images and
    long labels."""
    kind, arg = a.dataset
    if kind == "fashion-mnist":
        (x, y), (tx, ty) = fashion_mnist(arg, a.train_samples, np)
    else:
        n, classes = arg
        (x, y), (tx, ty) = synthetic(n, classes, np)
        x, y = x[:a.train_samples or None], y[:a.train_samples or None]
    share = partition(y, a, np)
    return images(x[share], y[share], np, torch) + images(tx, ty, np, torch)


def images(x, y, np, torch):
    """uint8 (scaled to [0, 1]) or float samples as float (N, 1, 28, 28)
    images, and long labels."""
    if x.dtype == np.uint8:
        return tfc.as_tensors(x, y, torch, np)
    return (torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            .view(-1, 1, IMAGE_SIDE, IMAGE_SIDE), torch.from_numpy(np.asarray(y, dtype=np.int64)))


# ---- progress: the metrics rows and the lines ------------------------------

class Progress:
    """Counters since the start, and since the previous row (the window)."""

    def __init__(self, a, share, metrics):
        self.a, self.share, self.metrics = a, share, metrics
        self.step = self.rejected = 0
        self.tau_sum = self.tau_max = self.tau_n = 0
        self.t0 = self.t_window = time.monotonic()
        self._reset()

    def _reset(self):
        self.w_steps, self.w_loss, self.w_correct, self.w_seen = 0, 0.0, 0, 0
        self.w_train_s = 0.0

    def start(self):
        """Training starts now (after the connection or the rings)."""
        self.t0 = self.t_window = time.monotonic()

    def account(self, loss, correct, seen, tau):
        """One step done: its batch's loss, correct predictions and size,
        and its staleness."""
        self.step += 1
        self.w_steps += 1
        self.w_loss += loss
        self.w_correct += correct
        self.w_seen += seen
        self.tau_sum += tau
        self.tau_n += 1
        self.tau_max = max(self.tau_max, tau)
        self.w_train_s = time.monotonic() - self.t_window

    def epoch(self):
        return max(1, math.ceil(self.step * self.a.batch / self.share))

    def row(self, test_acc, test_loss):
        """A metrics row and a progress line for an evaluation; the window
        starts again.  Returns the seconds since the start."""
        a, now = self.a, time.monotonic()
        elapsed = now - self.t0
        loss = self.w_loss / self.w_steps if self.w_steps else 0.0
        acc = self.w_correct / self.w_seen if self.w_seen else 0.0
        rate = self.w_steps / self.w_train_s if self.w_train_s > 0 else 0.0
        tau = self.tau_sum / self.tau_n if self.tau_n else 0.0
        if a.status_interval:
            print("%s %d/%d: %.1f s  epoch %d  step %d  loss %.4f  test-acc %.4f  %.0f steps/s"
                  % (PROG, a.rank, a.world, elapsed, self.epoch(), self.step, loss, test_acc,
                     rate), flush=True)
        if self.metrics:
            self.metrics.write("%.2f,%d,%d,%d,%d,%.6f,%.4f,%.4f,%.6f,%.1f,%.3f,%d,%d\n"
                               % (elapsed, a.rank, a.world, self.epoch(), self.step, loss, acc,
                                  test_acc, test_loss, rate, tau, self.tau_max, self.rejected))
            self.metrics.flush()
        self._reset()
        self.t_window = time.monotonic()
        return elapsed


# ---- the two ways of stepping ------------------------------------------------

class ServerSteps:
    """Steps against rdma-ps: push the gradient, pull the weights."""

    def __init__(self, a, model, rdmaps):
        self.a, self.model, self.rdmaps = a, model, rdmaps
        self.w = rdmaps.torch.Worker(model, a.server, a.rank, a.world, provider=a.provider)
        self.version = self.w.server_version  # the weights pulled at connect

    def describe(self):
        return "on rdma-ps %s, algorithm %s" % (self.a.server, self.w.algo)

    def zero_grad(self):
        self.w.zero_grad()

    def step(self, s):
        """Returns (staleness, rejected): the updates of the other workers
        applied between this step's pull and its push."""
        rejected = False
        try:
            self.w.step()
        except self.rdmaps.Error as e:
            if e.code != -errno.EDOM:
                raise
            rejected = True  # the server refused a NaN/Inf gradient: the model is as it was
        v = self.w.server_version
        tau = max(0, v - self.version - 1)
        self.version = v
        return tau, rejected

    def evaluate(self, x, y, torch):
        return tfc.evaluate(self.model, x, y, torch)

    def finish(self):
        pass

    def close(self):
        self.w.close()


class S3gdSteps:
    """DC-S3GD steps among the peers (no server)."""

    def __init__(self, a, model, rdmaps):
        self.a, self.model = a, model
        self.w = rdmaps.dcs3gd.Worker(model, a.peers, a.rank, a.world, lr=a.lr,
                                      staleness=a.staleness, lam=a.lam, lambda0=a.lambda0,
                                      provider=a.provider)

    def describe(self):
        a = self.a
        return ("algorithm dc-s3gd (no server) with %d peer(s), staleness %d, lr %g%s, %s"
                % (a.world, a.staleness, a.lr,
                   " (x%g every %d steps)" % (a.lr_schedule[1], a.lr_schedule[0])
                   if a.lr_schedule else "",
                   "lambda constant %g" % a.lam if a.lam is not None else
                   "lambda0 %g" % a.lambda0))

    def zero_grad(self):
        self.w.zero_grad()

    def step(self, s):
        """Returns (staleness, rejected): the fixed delay --staleness."""
        a = self.a
        if a.lr_schedule:
            every, gamma = a.lr_schedule
            self.w.lr = a.lr * gamma ** (s // every)
        ok = self.w.step()
        return a.staleness, not ok

    def evaluate(self, x, y, torch):
        """The averaged weights wbar, as rdma-worker evaluates them; the
        local weights are back afterwards."""
        w = self.w
        local = w.w.copy()
        w.w[:] = w.wbar
        try:
            return tfc.evaluate(self.model, x, y, torch)
        finally:
            w.w[:] = local

    def finish(self):
        self.w.finish()

    def close(self):
        self.w.close()

    def overlap_line(self):
        w = self.w
        if w.overlap is None:
            return None
        return ("dc-s3gd: one allreduce alone %.3f ms, waited %.3f ms per step: %.0f%% of the "
                "allreduce hidden behind computation"
                % (w.alone_s * 1e3, w.wait_s / w.waits * 1e3, 100 * w.overlap))


# ---- main ------------------------------------------------------------------

def train(a, steps, prog, data, np, torch):
    """--steps steps over the share, the interval evaluations, and the
    final one; returns (test accuracy, test loss, seconds)."""
    x, y, tx, ty = data
    ex, ey = (tx[:a.eval_samples], ty[:a.eval_samples]) if a.eval_samples else (tx, ty)
    model, lossf = steps.model, torch.nn.functional.cross_entropy
    prog.start()
    for s, idx in enumerate(tfc.batches(len(y), a.steps, a.batch, [a.seed, a.rank], np)):
        steps.zero_grad()
        out = model(x[idx])
        loss = lossf(out, y[idx])
        loss.backward()
        if a.delay_ms:
            time.sleep(a.delay_ms / 1000)  # a straggler: its push comes later
        tau, rejected = steps.step(s)
        prog.rejected += rejected
        prog.account(float(loss), int((out.argmax(1) == y[idx]).sum()), len(idx), tau)
        if a.eval_interval and prog.step % a.eval_interval == 0 and prog.step < a.steps:
            prog.row(*steps.evaluate(ex, ey, torch))
    steps.finish()  # dc-s3gd: the allreduces in flight applied, wbar in the model
    acc, loss = steps.evaluate(tx, ty, torch)
    return acc, loss, prog.row(acc, loss)


def run(a):
    if not a.save_init:
        check_dataset(a)
    np, torch, rdmaps = import_modules(a)
    torch.set_num_threads(1)
    if a.save_init:
        rdmaps.torch.save_init(tfc.build_model(a.seed, torch), a.save_init)
        print("%s: the initial weights of seed %d written to %s" % (PROG, a.seed, a.save_init))
        return 0
    data = load_data(a, np, torch)
    metrics = None
    if a.metrics:
        try:
            fresh = not os.path.exists(a.metrics) or os.path.getsize(a.metrics) == 0
            metrics = open(a.metrics, "a")
            if fresh:
                metrics.write(METRICS_HEADER)
                metrics.flush()
        except OSError as e:
            raise Usage("--metrics: cannot open %s: %s" % (a.metrics, e.strerror)) from None
    model = tfc.build_model(a.seed, torch)
    nparams = sum(p.numel() for p in model.parameters())
    who = "%s %d/%d" % (PROG, a.rank, a.world)
    try:
        steps = (S3gdSteps if a.algo else ServerSteps)(a, model, rdmaps)
        try:
            print("%s: cnn, %d params, %s; %d training samples in this share (%s), batch %d, "
                  "%d steps" % (who, nparams, steps.describe(), len(data[1]),
                                "iid" if a.partition is None else "label-skew:%g" % a.partition,
                                a.batch, a.steps), flush=True)
            prog = Progress(a, len(data[1]), metrics)
            acc, loss, wall = train(a, steps, prog, data, np, torch)
            extra = steps.overlap_line() if a.algo else None
        finally:
            steps.close()
    except rdmaps.Error as e:
        raise Failed(e.message) from None
    print("%s: done: %d steps in %.1f s (steps done), test accuracy %.4f, test loss %.4f"
          % (who, prog.step, wall, acc, loss), flush=True)
    if extra:
        print("%s: %s" % (who, extra), flush=True)
    return 0


def main(argv=None):
    # (rdmaps sets IPATH_NO_BACKTRACE before it loads the library, so that
    # SIGTERM ends this process at once, as the sweep expects)
    a = parse_args(sys.argv[1:] if argv is None else argv)
    who = "%s %d/%d" % (PROG, a.rank, a.world)
    try:
        return run(a)
    except Usage as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    except Failed as e:
        print("%s: %s" % (who, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % who, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
