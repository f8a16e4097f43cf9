# SPDX-License-Identifier: BSD-2-Clause
"""rdmaps.Ring over ofi on 127.0.0.1: three ranks (threads: the ring's C
calls release the GIL) sum numpy arrays, in place in the registered
buffer and through a copy, blocking and overlapped; bad arguments raise
rdmaps.Error."""

import errno
import threading
import unittest

import numpy as np

import rdmaps
import rpstest


def run_ranks(world, body, **kw):
    """Runs body(rank, ring) on `world` threads, one Ring each; returns
    their results in rank order, re-raising the first failure."""
    ports = [rpstest.free_port() for _ in range(world)]
    peers = ["127.0.0.1:%d" % p for p in ports]
    out, errs = [None] * world, []

    def one(rank):
        try:
            with rdmaps.Ring(peers, rank, world, provider="ofi", timeout=20, **kw) as r:
                out[rank] = body(rank, r)
        except BaseException as e:  # noqa: B902 - reported below
            errs.append(e)
    ts = [threading.Thread(target=one, args=(r,)) for r in range(world)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
    return out


def data(rank, n):
    return np.random.default_rng(rank).standard_normal(n).astype(np.float32)


class RingSum(unittest.TestCase):
    N = 100003  # several chunks, a short last one

    def expected(self, world):
        # the ring's sum is the same bits on every rank, but its order of
        # additions is the ring's: compare to float64's sum with a bound
        return sum(data(r, self.N).astype(np.float64) for r in range(world))

    def test_in_place_and_copied(self):
        def body(rank, r):
            self.assertEqual(r.buffer.shape, (self.N,))
            r.buffer[:] = data(rank, self.N)
            a = r.allreduce().copy()  # in the registered buffer
            mine = data(rank, self.N)
            b = r.allreduce(mine)  # copied in and back
            self.assertIs(b, mine)
            return a, b
        out = run_ranks(3, body, count=self.N)
        want = self.expected(3)
        for a, b in out:
            np.testing.assert_allclose(a, want, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(a, out[0][0])  # identical on every rank
            np.testing.assert_array_equal(b, out[0][0])

    def test_overlapped_with_progress_thread(self):
        def body(rank, r):
            r.allreduce_start(data(rank, self.N).copy())
            while not r.progress():
                pass
            r.buffer[:] = 1.0
            r.allreduce_start()
            self.assertTrue(r.allreduce_wait(timeout=20))
            return r.buffer.copy()
        for got in run_ranks(3, body, count=self.N, progress_thread=True):
            self.assertTrue(np.all(got == 3.0))

    def test_bad_arguments(self):
        peers = ["127.0.0.1:%d" % rpstest.free_port()]
        for kw in (dict(peers=peers * 2), dict(rank=1), dict(count=0), dict(peers=5),
                   dict(provider="x"), dict(timeout=0), dict(window=300)):
            args = dict(peers=peers, rank=0, world=1, count=4, provider="ofi")
            args.update(kw)
            with self.assertRaises(rdmaps.Error, msg=kw) as e:
                rdmaps.Ring(**args)
            self.assertEqual(e.exception.code, -errno.EINVAL, kw)
        with rdmaps.Ring(peers, 0, 1, 4, provider="ofi") as r:
            for arr in (np.zeros(5, np.float32), np.zeros(4, np.float64), [0, 0, 0, 0]):
                with self.assertRaises(rdmaps.Error):
                    r.allreduce(arr)
            x = np.arange(4, dtype=np.float32)
            np.testing.assert_array_equal(r.allreduce(x), np.arange(4))  # world 1
        with self.assertRaises(rdmaps.Error) as e:
            r.allreduce()
        self.assertEqual(e.exception.code, -errno.ENOTCONN)


if __name__ == "__main__":
    unittest.main()
