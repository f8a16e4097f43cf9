# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.Worker against the build tree's rdma-ps over ofi: the arrays
are the registered buffers (sgd with lr 1 gives exactly w - g), the
non-blocking calls, a model sharded over two servers, and every error
path raising rdmaps.Error with the library's message."""

import ctypes
import errno
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np

import rdmaps
import rpstest

OFI = dict(provider="ofi", timeout=20)


def fds():
    return sorted(os.listdir("/proc/self/fd"))


def threads():
    return len(os.listdir("/proc/self/task"))


class Buffers(unittest.TestCase):
    def test_arrays_are_the_registered_buffers(self):
        n = 10000
        with rpstest.rdma_ps(params=n, algo="sgd", lr=1.0) as srv, \
                rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
            self.assertEqual(w.num_params, n)
            self.assertEqual(w.algo, "sgd")
            # the library's buffers are the numpy arrays' memory
            h = w._shards[0].handle
            lib = w._lib
            self.assertEqual(ctypes.addressof(lib.rps_worker_grad(h).contents),
                             w.grad.ctypes.data)
            self.assertEqual(ctypes.addressof(lib.rps_worker_weights(h).contents),
                             w.weights.ctypes.data)
            self.assertEqual(w.grad.dtype, np.float32)
            self.assertEqual(w.weights.shape, (n,))
            self.assertTrue(np.all(w.weights == 0))  # rdma-ps --params: zeros
            rng = np.random.default_rng(1)
            expect = np.zeros(n, np.float32)
            for step in range(3):
                g = rng.standard_normal(n).astype(np.float32)
                view = w.grad  # writing a view is writing the RDMA buffer
                view[:] = g
                w.push()
                w.pull()
                expect = expect - g  # sgd: w - lr * g with lr 1, in float32
                np.testing.assert_array_equal(w.weights, expect)
            self.assertEqual(w.server_version, 3)
        # numpy owns the memory: still readable after close
        np.testing.assert_array_equal(w.weights, expect)

    def test_nonblocking_push_and_chunked_pull(self):
        n = 10000  # 4 KiB chunks: 10 of them
        with rpstest.rdma_ps(params=n, algo="sgd", lr=1.0, extra=["--chunk", "4K"]) as srv, \
                rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
            self.assertEqual(w.num_chunks, 10)
            self.assertEqual(w.chunk_range(0), (0, 1024))
            self.assertEqual(w.chunk_range(9), (9216, n))
            w.grad[:] = 2.0
            w.push_start()
            while not w.push_wait(timeout=0):
                pass
            w.pull_start()
            for c in range(w.num_chunks):
                self.assertTrue(w.pull_wait_chunk(c))
                a, b = w.chunk_range(c)
                self.assertTrue(np.all(w.weights[a:b] == -2.0), c)
            with self.assertRaises(rdmaps.Error) as e:
                w.pull_wait_chunk(10)
            self.assertEqual(e.exception.code, -errno.EINVAL)

    def test_step_is_push_then_pull(self):
        n = 10000  # 4 KiB chunks: 10 of them, read as each is applied
        with rpstest.rdma_ps(params=n, algo="sgd", lr=1.0, extra=["--chunk", "4K"]) as srv, \
                rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
            expect = np.zeros(n, np.float32)
            for k in range(3):
                g = np.arange(n, dtype=np.float32) * (k + 1)
                w.grad[:] = g
                w.step()
                expect = expect - g
                np.testing.assert_array_equal(w.weights, expect)
            self.assertEqual(w.server_version, 3)
            w.grad[:] = 1.0
            w.grad[n - 1] = np.nan  # in the last chunk
            with self.assertRaises(rdmaps.Error) as e:
                w.step()
            self.assertEqual(e.exception.code, -errno.EDOM)
            np.testing.assert_array_equal(w.weights[:9216], expect[:9216] - 1.0)
            np.testing.assert_array_equal(w.weights[9216:], expect[9216:])

    def test_sharded_over_two_servers(self):
        n = 1001
        with rpstest.rdma_ps(params=n, algo="sgd", lr=1.0, extra=["--shard", "0/2"]) as a, \
                rpstest.rdma_ps(params=n, algo="sgd", lr=1.0, extra=["--shard", "1/2"]) as b:
            with rdmaps.Worker([a.address, b.address], 0, 1, num_params=n, **OFI) as w:
                self.assertEqual(w.num_params, n)
                g = np.arange(n, dtype=np.float32)
                w.grad[:] = g
                w.push()
                w.pull()
                np.testing.assert_array_equal(w.weights, -g)
                starts = [w.chunk_range(c)[0] for c in range(w.num_chunks)]
                self.assertIn(501, starts)  # shard 1's first chunk
            # the wrong order: the shard offset names the problem
            with self.assertRaises(rdmaps.Error) as e:
                rdmaps.Worker("%s,%s" % (b.address, a.address), 0, 1, num_params=n, **OFI)
            self.assertIn("--shard", str(e.exception))

    def test_size_from_the_server_one_connection(self):
        # without num_params the arrays are made when the server told the
        # size (buf_alloc), on the one connection: rdma-ps --once sees one
        # worker join and leave, and exits 0 after it
        with rpstest.rdma_ps(params=300, algo="sgd", lr=1.0, extra=["--once"]) as srv:
            with rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
                self.assertEqual(w.num_params, 300)
                w.grad[:] = 3.0
                w.push()
                w.pull()
                self.assertTrue(np.all(w.weights == -3.0))
            self.assertEqual(srv.proc.wait(20), 0)
            self.assertIn("worker 0: pushes 1 ", srv.output())

    def test_nan_gradient_rejected_weights_kept(self):
        with rpstest.rdma_ps(params=100, algo="sgd", lr=1.0) as srv, \
                rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
            w.grad[:] = 1.0
            w.grad[7] = np.nan
            with self.assertRaises(rdmaps.Error) as e:
                w.push()
            self.assertEqual(e.exception.code, -errno.EDOM)
            self.assertIn("NaN", str(e.exception))
            w.pull()
            self.assertTrue(np.all(w.weights == 0))

    def test_no_leaked_connections(self):
        with rpstest.rdma_ps(params=100) as srv:
            with rdmaps.Worker(srv.address, 0, 1, **OFI):
                pass  # the first one loads libfabric's provider
            before_fds, before_threads = fds(), threads()
            for _ in range(3):
                with rdmaps.Worker(srv.address, 0, 1, **OFI) as w:
                    w.pull()
                self.assertTrue(w.closed)
                # the same rank may connect again at once: the server saw
                # the previous one leave
            self.assertEqual(fds(), before_fds)
            self.assertEqual(threads(), before_threads)
            w.close()  # idempotent
            with self.assertRaises(rdmaps.Error) as e:
                w.push()
            self.assertEqual(e.exception.code, -errno.ENOTCONN)


class Loading(unittest.TestCase):
    def test_no_backtrace_handler(self):
        # libinfinipath's SIGTERM handler is off once the library loads,
        # unless the user chose otherwise
        code = ("import os, rdmaps; rdmaps.library_path(); "
                "print(os.environ['IPATH_NO_BACKTRACE'], os.environ['HFI_NO_BACKTRACE'])")
        env = {k: v for k, v in os.environ.items() if not k.endswith("_NO_BACKTRACE")}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        self.assertEqual(out, ["1", "1"])
        env["IPATH_NO_BACKTRACE"] = "0"
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        self.assertEqual(out, ["0", "1"])


class Errors(unittest.TestCase):
    def test_no_server_raises_within_timeout(self):
        port = rpstest.free_port()
        t = time.monotonic()
        with self.assertRaises(rdmaps.Error) as e:
            rdmaps.Worker("127.0.0.1:%d" % port, 0, 1, provider="ofi", timeout=5)
        self.assertLess(time.monotonic() - t, 5 + 2)
        self.assertEqual(e.exception.code, -errno.ECONNREFUSED)
        self.assertIn("is rdma-ps running", str(e.exception))
        # an address nobody answers at (TEST-NET-1): the timeout bounds it
        t = time.monotonic()
        with self.assertRaises(rdmaps.Error) as e:
            rdmaps.Worker("192.0.2.77:%d" % port, 0, 1, provider="ofi", timeout=2)
        self.assertLess(time.monotonic() - t, 2 + 3)
        self.assertTrue(e.exception.message)

    def test_wrong_size_names_both(self):
        with rpstest.rdma_ps(params=1000) as srv:
            with self.assertRaises(rdmaps.Error) as e:
                rdmaps.Worker(srv.address, 0, 1, num_params=999, **OFI)
            self.assertEqual(e.exception.code, -263)  # RPS_ERR_REFUSED
            self.assertIn("999", str(e.exception))
            self.assertIn("1000", str(e.exception))

    def test_tokens(self):
        d = tempfile.mkdtemp()
        right, wrong, public = (os.path.join(d, x) for x in ("right", "wrong", "public"))
        for path, text in ((right, "s3cret\n"), (wrong, "other"), (public, "s3cret")):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
        os.chmod(public, 0o644)
        with rpstest.rdma_ps(params=10, extra=["--auth-token-file", right]) as srv:
            with rdmaps.Worker(srv.address, 0, 1, auth_token_file=right, **OFI) as w:
                w.pull()
            for token in (wrong, None):
                with self.assertRaises(rdmaps.Error) as e:
                    rdmaps.Worker(srv.address, 0, 1, auth_token_file=token, **OFI)
                self.assertEqual(e.exception.code, -263)
                self.assertIn("refused by the server", str(e.exception))
            with self.assertRaises(rdmaps.Error) as e:
                rdmaps.Worker(srv.address, 0, 1, auth_token_file=public, **OFI)
            self.assertIn("readable by others", str(e.exception))
            with self.assertRaises(rdmaps.Error) as e:
                rdmaps.Worker(srv.address, 0, 1, auth_token_file=d + "/none", **OFI)
            self.assertEqual(e.exception.code, -errno.ENOENT)

    def test_bad_arguments(self):
        bad = [
            dict(servers=123), dict(servers=[]), dict(servers="host:port"),
            dict(servers="h:70000"), dict(servers=":1"), dict(servers="[::1"),
            dict(servers="h:"), dict(servers="fe80::1"), dict(rank=1, world=1),
            dict(rank=-1), dict(world=0), dict(rank="0"), dict(world=1.5),
            dict(provider="ib"), dict(device=""), dict(timeout=-1), dict(timeout="x"),
            dict(timeout=0), dict(num_params=-1), dict(num_params=2.0),
            dict(servers="a:1,b:2"),  # sharded without num_params
            dict(servers="a:1,b:2,c:3", num_params=2),
        ]
        for kw in bad:
            args = dict(servers="127.0.0.1:1", rank=0, world=1, provider="ofi")
            args.update(kw)
            with self.assertRaises(rdmaps.Error, msg=kw) as e:
                rdmaps.Worker(**args)
            self.assertEqual(e.exception.code, -errno.EINVAL, kw)
            self.assertTrue(str(e.exception), kw)

    def test_failure_in_one_thread_does_not_capture_another(self):
        # error lines are kept per thread: a failing connect in a thread
        # gets its own line, not a line logged by another thread
        errs = []

        def bad():
            try:
                rdmaps.Worker("127.0.0.1:%d" % rpstest.free_port(), 0, 1, provider="ofi")
            except rdmaps.Error as e:
                errs.append(e)
        ts = [threading.Thread(target=bad) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(len(errs), 3)
        for e in errs:
            self.assertEqual(e.code, -errno.ECONNREFUSED)
            self.assertEqual(str(e).count("connection refused"), 1, str(e))


if __name__ == "__main__":
    unittest.main()
