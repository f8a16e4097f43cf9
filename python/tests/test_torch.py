#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.torch against the build tree's rdma-ps over ofi: zero-copy
parameter and gradient views, the pushed gradient and pulled weights bit
for bit (algo sgd), the error paths, close(), a 2-worker CNN on
Fashion-MNIST, and the CUDA path where there is a GPU."""

import copy
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import rpstest

torch = rpstest.need_torch()  # exit 77 with the reason when it is not importable

import numpy as np  # noqa: E402

import rdmaps  # noqa: E402
import rdmaps.torch as rt  # noqa: E402

DATASET = os.environ.get("RPS_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
LR = 0.0625  # a power of two: the server's float32 w - lr*g is numpy's
CHUNK = 4096  # bytes: 1024 floats, so parameters straddle pull chunks
CNN_STEPS = 1000  # per worker (measured: 0.815-0.849 in 4-7 s of training)
CNN_TARGET = 0.75  # accuracy on the first 1000 test images


def make_cnn():
    """Two convolutions, two linear layers: 20522 parameters."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(256, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def bits(a):
    """float32 data as uint32, so that comparisons are bit for bit."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def in_buffer(t, arr):
    """Whether tensor t's memory lies inside numpy array arr's."""
    base = arr.__array_interface__["data"][0]
    return base <= t.data_ptr() < base + arr.nbytes


def read_idx(name):
    """An IDX file of the dataset, gzipped or not, as a numpy array."""
    for path in (os.path.join(DATASET, name), os.path.join(DATASET, name + ".gz")):
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                b = f.read()
            nd = b[3]
            dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
            return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
    return None


def batch(rng_seed=0, n=16):
    g = torch.Generator().manual_seed(rng_seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def loss_of(model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y)


class TorchTest(unittest.TestCase):

    def setUp(self):
        torch.manual_seed(1)
        self.tmp = tempfile.TemporaryDirectory()
        self.init = os.path.join(self.tmp.name, "init.w")

    def tearDown(self):
        self.tmp.cleanup()

    def sgd_server(self, model, workers=1):
        rt.save_init(model, self.init)
        return rpstest.rdma_ps(workers=workers, init_weights=self.init, algo="sgd", lr=LR,
                               extra=["--chunk", str(CHUNK)])

    # ---- no server needed ----------------------------------------------

    def test_float64_parameter(self):
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2).double())
        with self.assertRaises(rdmaps.Error) as cm:
            rt.Worker(model, "127.0.0.1:1", 0, 1)
        self.assertIn("1.weight", str(cm.exception))
        self.assertIn("float64", str(cm.exception))
        with self.assertRaises(rdmaps.Error):
            rt.flat_parameters(model)

    def test_noncontiguous_parameter(self):
        model = torch.nn.Linear(4, 3)
        model.weight.data = model.weight.data.t().contiguous().t()
        with self.assertRaises(rdmaps.Error) as cm:
            rt.Worker(model, "127.0.0.1:1", 0, 1)
        self.assertIn("weight", str(cm.exception))
        self.assertIn("contiguous", str(cm.exception))

    def test_bad_kwarg(self):
        with self.assertRaises(rdmaps.Error) as cm:
            rt.Worker(torch.nn.Linear(2, 2), "127.0.0.1:1", 0, 1, num_params=6)
        self.assertEqual(cm.exception.code, -22)

    def test_bad_arguments(self):
        # anything that is not a module or a ring, and a bad rank: rdmaps.Error
        bn = torch.nn.BatchNorm1d(3)
        for call in (lambda: rt.Worker("model", "127.0.0.1:1", 0, 1),
                     lambda: rt.Worker(torch.nn.Linear(2, 2), "127.0.0.1:1", 1, 1),
                     lambda: rt.save_init(None, self.init),
                     lambda: rt.flat_parameters(3),
                     lambda: rt.buffer_count("x"),
                     lambda: rt.average_buffers("x", None),
                     lambda: rt.average_buffers(bn, "ring")):
            with self.assertRaises(rdmaps.Error) as cm:
                call()
            self.assertEqual(cm.exception.code, -22)
            self.assertTrue(str(cm.exception))

    def test_save_init_layout(self):
        model = make_cnn()
        flat = rt.flat_parameters(model)
        self.assertEqual(flat.dtype, np.float32)
        self.assertEqual(flat.size, 20522)
        ref = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
        np.testing.assert_array_equal(bits(flat), bits(ref))
        rt.save_init(model, self.init)
        self.assertEqual(os.path.getsize(self.init), 32 + 4 * flat.size)
        with open(self.init, "rb") as f:
            f.seek(32)
            np.testing.assert_array_equal(bits(np.frombuffer(f.read(), "<f4")), bits(flat))

    # ---- rdmaps.Ring ---------------------------------------------------

    def test_average_buffers(self):
        """BatchNorm's running statistics averaged over a 2-rank ring (two
        threads); num_batches_tracked stays local."""
        models = [torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                      torch.nn.Flatten(), torch.nn.Linear(32, 3),
                                      torch.nn.BatchNorm1d(3)) for _ in range(2)]
        for r, m in enumerate(models):
            for k in range(r + 1):
                m(torch.randn(8, 1, 6, 6) * (r + 1) + r)
        self.assertEqual(rt.buffer_count(models[0]), 2 + 2 + 3 + 3 + 1)
        names = [n for n, b in models[0].named_buffers() if b.is_floating_point()]
        bufs = [dict(m.named_buffers()) for m in models]
        expect = {n: (bits(bufs[0][n]).view(np.float32) + bits(bufs[1][n]).view(np.float32))
                  / np.float32(2) for n in names}
        peers = ["127.0.0.1:%d" % rpstest.free_port() for _ in range(2)]
        out, errors = [None, None], []

        def rank(r):
            try:
                with rdmaps.Ring(peers, r, 2, rt.buffer_count(models[r]), provider="ofi",
                                 timeout=20) as ring:
                    out[r] = rt.average_buffers(models[r], ring)
            except Exception as e:  # reported by the main thread
                errors.append(e)

        ts = [threading.Thread(target=rank, args=(r,)) for r in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(out, [2, 2])
        for b in bufs:
            for n in names:
                np.testing.assert_array_equal(bits(b[n]), bits(expect[n]), n)
        self.assertEqual(int(bufs[0]["1.num_batches_tracked"]), 1)
        self.assertEqual(int(bufs[1]["1.num_batches_tracked"]), 2)
        with rdmaps.Ring(["127.0.0.1:%d" % rpstest.free_port()], 0, 1, 4,
                         provider="ofi") as small:
            with self.assertRaises(rdmaps.Error) as cm:
                rt.average_buffers(models[0], small)
            self.assertIn("11", str(cm.exception))

    # ---- against rdma-ps -----------------------------------------------

    def test_size_mismatch(self):
        model = make_cnn()
        with rpstest.rdma_ps(workers=1, params=20523) as ps:
            with self.assertRaises(rdmaps.Error) as cm:
                rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20)
        msg = str(cm.exception)
        self.assertIn("20522", msg)
        self.assertIn("20523", msg)
        # the model was left alone
        self.assertIsNone(model[0].weight.grad)

    def test_views_and_bitwise_sgd(self):
        """Parameters and gradients are views of the worker's buffers, and
        after each step the parameters are w - lr*g bit for bit, and what a
        fresh worker pulls from the server."""
        model = make_cnn()
        w0 = rt.flat_parameters(model)
        with self.sgd_server(model) as ps:
            with rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20) as w:
                self.assertEqual(w.num_params, 20522)
                self.assertEqual(w.algo, "sgd")
                weights, grad = w.worker.weights, w.worker.grad
                np.testing.assert_array_equal(bits(weights), bits(w0))
                np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(w0))
                for p in model.parameters():
                    self.assertTrue(in_buffer(p, weights))
                    self.assertTrue(in_buffer(p.grad, grad))
                self.assertFalse(grad.any())
                expect = w0.copy()
                for s in range(5):
                    w.zero_grad()
                    loss_of(model, *batch(s)).backward()
                    g = np.concatenate([p.grad.numpy().reshape(-1) for p in model.parameters()])
                    # backward accumulated into the buffer itself
                    np.testing.assert_array_equal(bits(grad), bits(g))
                    self.assertTrue(g.any())
                    w.step()
                    expect = expect - np.float32(LR) * g
                    np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))
                    np.testing.assert_array_equal(bits(weights), bits(expect))
                self.assertEqual(w.server_version, 5)
                final = rt.flat_parameters(model)
            # closed: the parameters own copies of the final values
            for p in model.parameters():
                self.assertFalse(in_buffer(p, weights))
            np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(final))
            with rdmaps.Worker(ps.address, 0, 1, provider="ofi", timeout=20) as fresh:
                np.testing.assert_array_equal(bits(fresh.weights), bits(expect))

    def test_grad_zero_copy(self):
        """torch 1.13 accumulates into the existing .grad in place during
        backward: after zero_grad() the gradient is in the buffer with no
        copy, .grad is still the view, and it equals an independent model's
        gradient."""
        model = make_cnn()
        ref = copy.deepcopy(model)
        with self.sgd_server(model) as ps:
            with rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20) as w:
                ptrs = [p.grad.data_ptr() for p in model.parameters()]
                x, y = batch(3)
                for zero in (w.zero_grad, lambda: model.zero_grad(set_to_none=False)):
                    zero()
                    loss_of(model, x, y).backward()
                    self.assertEqual([p.grad.data_ptr() for p in model.parameters()], ptrs)
                    ref.zero_grad()
                    loss_of(ref, x, y).backward()
                    g = np.concatenate([p.grad.numpy().reshape(-1) for p in ref.parameters()])
                    np.testing.assert_array_equal(bits(w.worker.grad), bits(g))
                # accumulation over two backwards, like any torch model
                w.zero_grad()
                loss_of(model, x, y).backward()
                loss_of(model, x, y).backward()
                np.testing.assert_array_equal(bits(w.worker.grad), bits(g + g))

    def test_grad_set_to_none(self):
        """Gradients set to None before backward: backward then makes new
        tensors (not the views), step copies them in and re-points .grad;
        a parameter with no gradient at all (frozen) pushes zeros."""
        model = make_cnn()
        frozen = model[0].weight
        with self.sgd_server(model) as ps:
            with rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20) as w:
                weights, grad = w.worker.weights, w.worker.grad
                grad[:] = 7.0  # stale garbage that must not be pushed
                before = rt.flat_parameters(model)
                frozen_before = frozen.detach().clone()
                frozen.requires_grad_(False)
                model.zero_grad(set_to_none=True)
                for p in model.parameters():
                    self.assertIsNone(p.grad)
                loss_of(model, *batch(5)).backward()
                self.assertIsNone(frozen.grad)
                replaced = [p for p in model.parameters() if p.grad is not None]
                self.assertTrue(replaced)
                # this is the case torch 1.13 takes: fresh tensors
                for p in replaced:
                    self.assertFalse(in_buffer(p.grad, grad))
                g = np.concatenate([
                    np.zeros(p.numel(), np.float32) if p.grad is None
                    else p.grad.numpy().reshape(-1) for p in model.parameters()])
                w.step()
                for p in model.parameters():
                    self.assertTrue(in_buffer(p.grad, grad))
                np.testing.assert_array_equal(bits(grad), bits(g))
                np.testing.assert_array_equal(bits(rt.flat_parameters(model)),
                                              bits(before - np.float32(LR) * g))
                np.testing.assert_array_equal(bits(weights), bits(before - np.float32(LR) * g))
                np.testing.assert_array_equal(bits(frozen), bits(frozen_before))
                # next step: still views, in-place accumulation again
                frozen.requires_grad_(True)
                w.zero_grad()
                loss_of(model, *batch(6)).backward()
                self.assertTrue(in_buffer(frozen.grad, grad))
                self.assertTrue(frozen.grad.abs().sum() > 0)

    def test_close_restores(self):
        model = make_cnn()
        x, _ = batch(9)
        with self.sgd_server(model) as ps:
            w = rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20)
            weights = w.worker.weights
            w.zero_grad()
            loss_of(model, *batch(1)).backward()
            w.step()
            out = model(x).detach()
            final = rt.flat_parameters(model)
            w.close()
            w.close()  # idempotent
            for p in model.parameters():
                self.assertFalse(in_buffer(p, weights))
            del w, weights
            # the model works on its own memory after the buffers are gone
            scratch = [torch.full((1 << 16,), 3.0) for _ in range(16)]
            np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(final))
            np.testing.assert_array_equal(bits(model(x)), bits(out))
            del scratch
            # dropped without close(): __del__ restores too
            w = rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20)
            pulled = rt.flat_parameters(model)
            self.assertTrue(in_buffer(model[0].weight, w.worker.weights))
            del w
            np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(pulled))
            np.testing.assert_array_equal(bits(model(x)), bits(out))
            w = rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20)
            w.close()
            with self.assertRaises(rdmaps.Error):
                w.step()
            with self.assertRaises(rdmaps.Error):
                w.worker

    def test_cnn_two_workers(self):
        """2 worker processes train the CNN with dc-asgd-a on Fashion-MNIST
        and both reach CNN_TARGET on 1000 test images in CNN_STEPS steps."""
        if read_idx("t10k-labels-idx1-ubyte") is None:
            self.skipTest("no Fashion-MNIST under %s (Debian: dataset-fashion-mnist)" % DATASET)
        model = make_cnn()
        rt.save_init(model, self.init)
        t0 = time.monotonic()
        with rpstest.rdma_ps(workers=2, init_weights=self.init, algo="dc-asgd-a", lr=0.05) as ps:
            procs = [subprocess.Popen([sys.executable, __file__, "--cnn-worker", ps.address,
                                       str(r), "2", str(CNN_STEPS)], stdout=subprocess.PIPE)
                     for r in range(2)]
            results = []
            for p in procs:
                out, _ = p.communicate(timeout=120)
                self.assertEqual(p.returncode, 0)
                results.append(json.loads(out.decode().strip().splitlines()[-1]))
        elapsed = time.monotonic() - t0
        print("\ncnn: %s in %.1f s" % (results, elapsed), file=sys.stderr)
        for r in results:
            self.assertEqual(r["steps"], CNN_STEPS)
            self.assertGreaterEqual(r["accuracy"], CNN_TARGET, r)
        self.assertGreaterEqual(max(r["server_version"] for r in results), CNN_STEPS)

    def test_copied_path_on_cpu(self):
        """The CUDA path's logic (parameters with memory of their own, the
        gradient copied in, each pulled chunk copied back as it arrives)
        run on the CPU: bit for bit as the zero-copy path."""
        model = make_cnn()
        w0 = rt.flat_parameters(model)
        rt.Worker._COPY_CPU = True
        try:
            with self.sgd_server(model) as ps:
                with rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20) as w:
                    self.assertEqual(w.worker.num_chunks, 21)  # 20522 floats, 1024 a chunk
                    weights = w.worker.weights
                    for p in model.parameters():
                        self.assertFalse(in_buffer(p, weights))
                        self.assertIsNone(p.grad)
                    np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(w0))
                    expect = w0.copy()
                    for s in range(4):
                        w.zero_grad()
                        loss_of(model, *batch(s)).backward()
                        g = np.concatenate([p.grad.numpy().reshape(-1)
                                            for p in model.parameters()])
                        w.step()
                        np.testing.assert_array_equal(bits(w.worker.grad), bits(g))
                        expect = expect - np.float32(LR) * g
                        np.testing.assert_array_equal(bits(rt.flat_parameters(model)),
                                                      bits(expect))
                    model.zero_grad(set_to_none=True)
                    w.step()  # no gradients: zeros pushed, weights unchanged
                    self.assertFalse(w.worker.grad.any())
                    np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))
                np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))
        finally:
            rt.Worker._COPY_CPU = False

    @unittest.skipUnless(torch.cuda.is_available(),
                         "torch.cuda.is_available() is False: no CUDA device or a CPU-only torch")
    def test_cuda(self):
        """The CUDA path: gradients copied to the host buffer, chunks copied
        back as they are pulled; bit for bit as on the CPU (sgd)."""
        model = make_cnn()
        w0 = rt.flat_parameters(model)
        dev = torch.device("cuda")
        with self.sgd_server(model) as ps:
            model.to(dev)
            with rt.Worker(model, ps.address, 0, 1, provider="ofi", timeout=20) as w:
                self.assertGreater(w.worker.num_chunks, 10)
                for p in model.parameters():
                    self.assertEqual(p.device.type, "cuda")
                np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(w0))
                expect = w0.copy()
                for s in range(4):
                    w.zero_grad()
                    x, y = batch(s)
                    loss_of(model, x.to(dev), y.to(dev)).backward()
                    g = np.concatenate([p.grad.cpu().numpy().reshape(-1)
                                        for p in model.parameters()])
                    w.step()
                    np.testing.assert_array_equal(bits(w.worker.grad), bits(g))
                    expect = expect - np.float32(LR) * g
                    np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))
                model.zero_grad(set_to_none=True)
                w.step()  # no gradients: zeros pushed, weights unchanged
                np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))
            np.testing.assert_array_equal(bits(rt.flat_parameters(model)), bits(expect))


def cnn_worker(address, rank, world, steps):
    """One training process of test_cnn_two_workers: prints a JSON line."""
    torch.set_num_threads(1)
    x = read_idx("train-images-idx3-ubyte")[:12000]
    y = read_idx("train-labels-idx1-ubyte")[:12000]
    x = torch.from_numpy(x[rank::world].astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(y[rank::world].astype(np.int64))
    xt = torch.from_numpy(read_idx("t10k-images-idx3-ubyte")[:1000].astype(np.float32) / 255)
    yt = read_idx("t10k-labels-idx1-ubyte")[:1000]
    model = make_cnn()  # its weights are replaced by the server's
    bs = 32
    t0 = time.monotonic()
    with rt.Worker(model, address, rank, world, provider="ofi", timeout=30) as w:
        for s in range(steps):
            i = (s * bs) % (len(y) - bs)
            w.zero_grad()
            loss = loss_of(model, x[i:i + bs], y[i:i + bs])
            loss.backward()
            w.step()
        version = w.server_version
    train_s = time.monotonic() - t0
    with torch.no_grad():
        acc = float((model(xt.unsqueeze(1)).argmax(1).numpy() == yt).mean())
    print(json.dumps({"rank": rank, "steps": steps, "loss": round(loss.item(), 4),
                      "accuracy": acc, "server_version": version,
                      "train_s": round(train_s, 2)}))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--cnn-worker":
        cnn_worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        sys.exit(0)
    unittest.main(verbosity=2)
