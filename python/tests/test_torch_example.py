#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""examples/torch_fashion_cnn.py (make demo-torch) runs end to end, small:
2 workers against the build tree's rdma-ps over ofi, a few steps on a
few hundred images, then the sequential run; its summary has both
accuracies, the difference and the per-step times; bad usage exits 2.

Run by make check through tests/python/run-py (RPS_SRCDIR, RPS_BUILDDIR).
"""

import os
import subprocess
import sys
import unittest

import rpstest

rpstest.need_torch()
if not os.path.isdir(rpstest.FASHION_MNIST):
    rpstest.skip("Fashion-MNIST is not in %s (install dataset-fashion-mnist)" % rpstest.FASHION_MNIST)

SCRIPT = os.path.join(rpstest.SRCDIR, "examples", "torch_fashion_cnn.py")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, "--build-dir", rpstest.BUILDDIR, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


class TestTorchExample(unittest.TestCase):
    def test_small_run(self):
        p = run("--workers", "2", "--algo", "dc-asgd-a", "--steps", "6", "--batch", "16",
                "--train-size", "400", "--test-size", "200", "--provider", "ofi")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = p.stdout
        self.assertRegex(out, r"(?m)^rdmaps torch demo: a CNN .* \d+ parameters\) on "
                         r"Fashion-MNIST \(400 training, 200 test images\), 6 steps per worker")
        self.assertRegex(out, r"(?m)^DC-ASGD-a, 2 workers and one rdma-ps:$")
        self.assertRegex(out, r"(?m)^  worker 0/2: +[0-9.]+ s  epoch 1  step 6  loss [0-9.]+  "
                         r"test-acc [0-9.]+")
        self.assertRegex(out, r"(?m)^  sequential: +[0-9.]+ s  epoch 1  step 12  loss")
        self.assertRegex(out, r"(?m)^DC-ASGD-a, 2 workers +0\.\d{4} +2 x 6 +[0-9.]+ s$")
        self.assertRegex(out, r"(?m)^sequential SGD, 1 process +0\.\d{4} +12 +[0-9.]+ s$")
        self.assertRegex(out, r"(?m)^difference: [+-]\d+\.\d\d percentage points$")
        self.assertRegex(out, r"(?m)^per step: workers [0-9.]+ ms compute \+ [0-9.]+ ms push/pull; "
                         r"sequential [0-9.]+ ms")

    def test_usage(self):
        for args in (["--workers", "0"], ["--algo", "sgd", "--workers", "2"], ["--bogus"],
                     ["--dataset-dir", "/nonexistent"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr.strip(), args)


if __name__ == "__main__":
    unittest.main()
