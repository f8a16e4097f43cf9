# SPDX-License-Identifier: BSD-2-Clause
"""Helpers of the Python tests: the build tree's rdma-ps over ofi on
127.0.0.1, free ports, skipping.

Run by tests/python/run-py, which sets PYTHONPATH (the package in
python/), RDMAPS_LIBRARY (the build tree's librdmaps.so.1), RPS_BUILDDIR
and RPS_SRCDIR.
"""

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.environ.get("RPS_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SRCDIR = os.environ.get("RPS_SRCDIR") or BUILDDIR
RDMA_PS = os.path.join(BUILDDIR, "rdma-ps")
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def skip(reason):
    """Reports the test as skipped (automake: exit 77), saying why."""
    print("SKIP: " + reason)
    sys.stdout.flush()
    sys.exit(77)


def need_torch():
    """Skips unless this interpreter imports torch; returns the module."""
    try:
        import torch
    except ImportError as e:
        skip("torch is not importable by %s (%s): install python3-torch"
             % (sys.executable, e))
    return torch


def free_port():
    """A TCP port nobody listens on right now (ofi runs over TCP)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running rdma-ps: .port, .address ("127.0.0.1:PORT"), .proc, .log
    (the path of its output)."""

    def __init__(self, proc, port, log):
        self.proc, self.port, self.log = proc, port, log
        self.address = "127.0.0.1:%d" % port

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM (rdma-ps checkpoints and exits), then SIGKILL; the exit
        status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@contextlib.contextmanager
def rdma_ps(workers=1, params=None, init_weights=None, algo="sgd", lr=None, extra=(),
            port=None):
    """Starts the build tree's rdma-ps over ofi on 127.0.0.1 (port 0: the
    one it picks is read from its banner) and stops it on exit."""
    if not os.access(RDMA_PS, os.X_OK):
        raise RuntimeError("%s is not built (make)" % RDMA_PS)
    argv = [RDMA_PS, "--provider", "ofi", "--listen", "127.0.0.1", "--port",
            str(port or 0), "--workers", str(workers), "--algo", algo,
            "--status-interval", "0", "--no-pin"]
    if params is not None:
        argv += ["--params", str(params)]
    if init_weights is not None:
        argv += ["--init-weights", str(init_weights)]
    if lr is not None:
        argv += ["--lr", repr(float(lr))]
    argv += list(extra)
    fd, log = tempfile.mkstemp(prefix="rdma-ps.", suffix=".log")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(argv, stdout=fd, stderr=subprocess.STDOUT, env=env)
    os.close(fd)
    srv = None
    try:
        deadline = time.monotonic() + 20
        while srv is None:
            with open(log, errors="replace") as f:
                m = re.search(r"listening on port (\d+)", f.read())
            if m:
                srv = Server(proc, int(m.group(1)), log)
            elif proc.poll() is not None or time.monotonic() > deadline:
                with open(log, errors="replace") as f:
                    raise RuntimeError("rdma-ps did not start: %s\n%s" % (
                        " ".join(argv), f.read()))
            else:
                time.sleep(0.05)
        yield srv
    finally:
        if srv is not None:
            srv.stop()
        elif proc.poll() is None:
            proc.kill()
            proc.wait()
        os.unlink(log)
