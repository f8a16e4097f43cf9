#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.dcs3gd: the step of one tensor against a plain computation of
rdma-worker(1)'s DC-S3GD equations, and 3 worker processes over ofi on
127.0.0.1 that train a small MLP and end with the same weights, bit for
bit, close to a float64 simulation of the same run.

Run by make check through tests/python/run-py; alone:
    PYTHONPATH=python RDMAPS_LIBRARY=.libs/librdmaps.so.1 \\
        /usr/bin/python3 python/tests/test_dcs3gd.py
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

try:
    import torch
except ImportError as e:
    print("SKIP: torch is not importable by %s (%s)" % (sys.executable, e))
    sys.exit(77)
import numpy as np

import rdmaps
import rdmaps.dcs3gd as dcs3gd

WORLD = 3
STALENESS = 2
STEPS = 40
BATCH = 16
LR = 0.1
LAMBDA0 = 0.2
FEATURES, HIDDEN, CLASSES = 8, 16, 3


def make_model(seed):
    """The MLP every rank trains; seed draws its initial weights."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
                               torch.nn.Linear(HIDDEN, CLASSES))


def batch(rank, step):
    """Rank's mini-batch of step: a fixed synthetic problem (the class is
    the argmax of a fixed linear map), a different sample per rank."""
    rs = np.random.RandomState(1000 * rank + step)
    x = rs.standard_normal((BATCH, FEATURES)).astype(np.float32)
    proj = np.random.RandomState(7).standard_normal((FEATURES, CLASSES))
    y = np.argmax(x @ proj, axis=1)
    return torch.from_numpy(x), torch.from_numpy(y)


def loss_grad(model, rank, step):
    """Loss and backward of rank's batch at step (gradients left in model)."""
    x, y = batch(rank, step)
    for p in model.parameters():
        p.grad = None
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return float(loss)


def free_port_runs(count, span):
    """count base ports p, each with p .. p+span-1 free on 127.0.0.1 now."""
    found, held = [], []
    try:
        while len(found) < count:
            s0 = socket.socket()
            s0.bind(("127.0.0.1", 0))
            base = s0.getsockname()[1]
            run = [s0]
            for k in range(1, span):
                s = socket.socket()
                try:
                    s.bind(("127.0.0.1", base + k))
                except OSError:
                    s.close()
                    break
                run.append(s)
            held += run
            if len(run) == span:
                found.append(base)
    finally:
        for s in held:
            s.close()
    return found


def child(rank, peers, out):
    """One worker process: train STEPS steps, save wbar, the model and the
    statistics under out."""
    torch.set_num_threads(1)
    # a different seed per rank: sync_init must make rank 0's weights win
    model = make_model(100 + rank)
    losses = []
    with dcs3gd.Worker(model, peers, rank, WORLD, lr=LR, staleness=STALENESS, lambda0=LAMBDA0,
                       provider="ofi", timeout=60) as opt:
        for t in range(STEPS):
            losses.append(loss_grad(model, rank, t))
            opt.step()
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    np.save(os.path.join(out, "wbar%d.npy" % rank), opt.wbar)
    np.save(os.path.join(out, "model%d.npy" % rank), flat)
    with open(os.path.join(out, "stats%d.json" % rank), "w") as f:
        json.dump({"losses": losses, "rejected": opt.rejected, "started": opt.started,
                   "applied": opt.applied, "overlap": opt.overlap}, f)


def reference_run():
    """The same training simulated in float64 with the equations written
    out plainly, every rank in this process: the final wbar."""
    model = make_model(100)  # rank 0's weights, as sync_init gives
    w0 = np.concatenate([p.detach().reshape(-1).numpy() for p in model.parameters()])
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]
    wbar = w0.astype(np.float64)
    w = [wbar.copy() for _ in range(WORLD)]
    in_flight = []  # the summed dw of each started allreduce, oldest first

    def load(flat):
        off = 0
        with torch.no_grad():
            for p, shape, k in zip(model.parameters(), shapes, sizes):
                p.copy_(torch.from_numpy(flat[off:off + k].astype(np.float32)).view(shape))
                off += k

    for t in range(STEPS):
        grads = []
        for r in range(WORLD):
            load(w[r])
            loss_grad(model, r, t)
            grads.append(np.concatenate([p.grad.reshape(-1).numpy() for p in model.parameters()])
                         .astype(np.float64))
        if len(in_flight) == STALENESS:
            wbar = wbar + in_flight.pop(0) / WORLD
        total = np.zeros_like(wbar)
        for r in range(WORLD):
            off = 0
            for k in sizes:
                g, d = grads[r][off:off + k], wbar[off:off + k] - w[r][off:off + k]
                c = g * g * d
                cn = np.sqrt(np.sum(c * c))
                lam = LAMBDA0 * np.sqrt(np.sum(g * g)) / cn if cn > 0 else 0.0
                dw = -LR * (g + lam * g * g * d)
                w[r][off:off + k] = wbar[off:off + k] + dw
                total[off:off + k] += dw
                off += k
        in_flight.append(total)
    for s in in_flight:
        wbar = wbar + s / WORLD
    return wbar


class TestTensorStep(unittest.TestCase):
    """The per-tensor arithmetic against the equations on one tensor."""

    def setUp(self):
        rs = np.random.RandomState(3)
        self.n = 1000
        self.w = rs.standard_normal(self.n).astype(np.float32)
        self.wbar = (self.w + 0.01 * rs.standard_normal(self.n)).astype(np.float32)
        self.g = rs.standard_normal(self.n).astype(np.float32)

    def test_step_is_the_equation(self):
        lr, lam = 0.05, 0.7
        w, dw = self.w.copy(), np.full(self.n, np.nan, dtype=np.float32)
        self.assertTrue(dcs3gd.tensor_step(w, dw, self.wbar, self.g, lr, lam))
        # element by element in float32, in the C kernel's order:
        # step = -lr * (g + lambda * g * g * (wbar - w)); w = wbar + step
        f = np.float32
        for i in range(self.n):
            gi, d = self.g[i], f(self.wbar[i] - self.w[i])
            step = f(-f(lr)) * f(gi + f(f(f(f(lam) * gi) * gi) * d))
            self.assertEqual(dw[i].tobytes(), step.tobytes(), "dw[%d]" % i)
            self.assertEqual(w[i].tobytes(), f(self.wbar[i] + step).tobytes(), "w[%d]" % i)
        # and in float64, the equations as written
        g, d = self.g.astype(np.float64), self.wbar.astype(np.float64) - self.w
        ref = -lr * (g + lam * g * g * d)
        np.testing.assert_allclose(dw, ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(w, self.wbar + ref, rtol=1e-5, atol=1e-6)

    def test_adaptive_lambda(self):
        g, d = self.g.astype(np.float64), self.wbar.astype(np.float64) - self.w
        ref = 0.2 * np.linalg.norm(g) / np.linalg.norm(g * g * d)
        lam = dcs3gd.adaptive_lambda(self.w, self.wbar, self.g, 0.2)
        self.assertEqual(lam.dtype, np.float32)
        self.assertAlmostEqual(float(lam) / ref, 1.0, places=6)
        # the correction is then lambda0 times the gradient in norm
        self.assertAlmostEqual(np.linalg.norm(float(lam) * g * g * d) / np.linalg.norm(g), 0.2,
                               places=5)
        # nothing to compensate: 0
        self.assertEqual(float(dcs3gd.adaptive_lambda(self.w, self.w, self.g, 0.2)), 0.0)
        self.assertEqual(float(dcs3gd.adaptive_lambda(self.w, self.wbar, 0 * self.g, 0.2)), 0.0)

    def test_nonfinite_gradient_writes_nothing(self):
        g = self.g.copy()
        g[17] = np.inf
        w, dw = self.w.copy(), np.zeros(self.n, dtype=np.float32)
        self.assertFalse(dcs3gd.tensor_step(w, dw, self.wbar, g, 0.1, 0.5))
        self.assertEqual(w.tobytes(), self.w.tobytes())
        self.assertFalse(dw.any())


class TestAlone(unittest.TestCase):
    """world 1: no ring; the model's parameters are the flat weights."""

    def test_one_worker(self):
        model = make_model(5)
        before = [p.detach().clone() for p in model.parameters()]
        opt = dcs3gd.Worker(model, None, 0, 1, lr=0.1, lam=0.0)
        loss_grad(model, 0, 0)
        grads = [p.grad.clone() for p in model.parameters()]
        self.assertTrue(opt.step())
        for p, b, g in zip(model.parameters(), before, grads):
            # w = wbar (D = 0): plain SGD
            self.assertTrue(torch.equal(p.detach(), b - torch.tensor(0.1, dtype=torch.float32) * g))
        self.assertEqual(opt.w.tobytes(), opt.wbar.tobytes())
        # a NaN gradient is a zero step
        for p in model.parameters():
            p.grad = torch.full_like(p, float("nan"))
        w = opt.w.copy()
        self.assertFalse(opt.step())
        self.assertEqual(opt.rejected, 1)
        self.assertEqual(opt.w.tobytes(), w.tobytes())
        opt.close()

    def test_bad_arguments(self):
        model = make_model(5)
        for kw in ({"rank": 1, "world": 1}, {"rank": 0, "world": 0}, {"staleness": 0},
                   {"staleness": 17}, {"lr": -1.0}, {"lr": float("nan")}, {"lam": "x"}):
            args = {"rank": 0, "world": 1, "lr": 0.1}
            args.update(kw)
            with self.assertRaises(rdmaps.Error) as cm:
                dcs3gd.Worker(model, None, **args)
            self.assertEqual(cm.exception.code, -22, kw)
        with self.assertRaises(rdmaps.Error):
            dcs3gd.ring_peers(["127.0.0.1:1", "127.0.0.1:2"], 3, 1)
        with self.assertRaises(rdmaps.Error):
            dcs3gd.ring_peers(["127.0.0.1:65535", "h:2"], 2, 2)
        self.assertEqual(dcs3gd.ring_peers("a:10,[::1]:20", 2, 2),
                         [["a:10", "[::1]:20"], ["a:11", "[::1]:21"]])


class TestThreeWorkers(unittest.TestCase):
    """3 processes, staleness 2, adaptive lambda, over ofi on 127.0.0.1."""

    def test_same_weights_bit_for_bit(self):
        peers = ",".join("127.0.0.1:%d" % p for p in free_port_runs(WORLD, STALENESS))
        with tempfile.TemporaryDirectory() as out:
            env = dict(os.environ, OMP_NUM_THREADS="1")
            procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child",
                                       str(r), peers, out], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                     for r in range(WORLD)]
            outs = []
            for p in procs:
                try:
                    outs.append(p.communicate(timeout=180)[0].decode(errors="replace"))
                except subprocess.TimeoutExpired:
                    for q in procs:
                        q.kill()
                    self.fail("a worker did not finish within 180 s")
            for r, (p, o) in enumerate(zip(procs, outs)):
                self.assertEqual(p.returncode, 0, "rank %d failed:\n%s" % (r, o))
            wbar = [np.load(os.path.join(out, "wbar%d.npy" % r)) for r in range(WORLD)]
            model = [np.load(os.path.join(out, "model%d.npy" % r)) for r in range(WORLD)]
            stats = []
            for r in range(WORLD):
                with open(os.path.join(out, "stats%d.json" % r)) as f:
                    stats.append(json.load(f))
        for r in range(WORLD):
            self.assertEqual(wbar[r].tobytes(), wbar[0].tobytes(), "rank %d's wbar" % r)
            self.assertEqual(model[r].tobytes(), wbar[0].tobytes(), "rank %d's model" % r)
            self.assertEqual(stats[r]["rejected"], 0)
            self.assertEqual(stats[r]["started"], STEPS)
            self.assertEqual(stats[r]["applied"], STEPS)
        # it learned: the loss of the last steps is below that of the first
        first = np.mean([s["losses"][:5] for s in stats])
        last = np.mean([s["losses"][-5:] for s in stats])
        self.assertLess(last, 0.9 * first, "loss %.4f -> %.4f" % (first, last))
        # and it is the algorithm: the float64 simulation of the same run
        ref = reference_run()
        err = np.max(np.abs(wbar[0] - ref))
        self.assertLess(err, 1e-5 * max(1.0, np.max(np.abs(ref))),
                        "wbar differs from the float64 simulation by %g" % err)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        sys.exit(0)
    unittest.main()
