#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench/pushpull.py's output format (not its timing): tiny sizes, two
steps, one round, over ofi on 127.0.0.1; the table and the CSV have
their header and a row per size whose ratio is Python step / C step;
bad usage exits 2.

Run by make check through tests/python/run-py (RPS_SRCDIR, RPS_BUILDDIR).
"""

import os
import subprocess
import sys
import unittest

from rpstest import BUILDDIR, SRCDIR

SCRIPT = os.path.join(SRCDIR, "bench", "pushpull.py")
SIZES = (4096, 65536)


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, "--build-dir", BUILDDIR, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)


class TestPushPullPy(unittest.TestCase):
    def check_row(self, size, vals):
        self.assertEqual(int(vals[0]), size)
        self.assertEqual(int(vals[1]), 4096)
        times = [float(v) for v in vals[2:8]]
        self.assertTrue(all(t > 0 for t in times), vals)
        # ratio = Python step / C step, to the printed precision
        self.assertAlmostEqual(float(vals[8]), times[5] / times[2], delta=0.002 + 0.06 / times[2])

    def test_table(self):
        p = run("-P", "ofi", "-s", "4K,64K", "-c", "4K", "-n", "2", "-r", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2 + len(SIZES), p.stdout)
        self.assertRegex(lines[0], r"^# ofi, 1 engine thread\(s\), algorithm asgd, one worker, "
                         r"medians of 2 steps, median of 1 round\(s\), (unpinned|engine on PU\(s\) [0-9,-]+"
                         r"(, workers on [0-9,]+)?), C and Python against the same rdma-ps; "
                         r"ratio = Python step / C step$")
        self.assertEqual(lines[1].split(), ["#bytes", "chunk", "C", "push[us]", "C", "pull[us]",
                                            "C", "step[us]", "Py", "push[us]", "Py", "pull[us]",
                                            "Py", "step[us]", "ratio"])
        for size, line in zip(SIZES, lines[2:]):
            self.assertRegex(line, r"^ \d+ +\d+( +\d+\.\d){6} +\d+\.\d{3}$")
            self.check_row(size, line.split())

    def test_csv(self):
        p = run("-P", "ofi", "-s", "4K,64K", "-c", "4K", "-n", "2", "-r", "1", "--csv")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "bytes,chunk,c_push_us,c_pull_us,c_step_us,py_push_us,"
                         "py_pull_us,py_step_us,ratio")
        self.assertEqual(len(lines), 1 + len(SIZES), p.stdout)
        for size, line in zip(SIZES, lines[1:]):
            self.check_row(size, line.split(","))

    def test_unpinned(self):
        p = run("-P", "ofi", "-s", "4K", "-c", "4K", "-n", "2", "-r", "1", "--no-pin")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(", unpinned, C and Python", p.stdout.splitlines()[0])
        self.assertEqual(len(p.stdout.splitlines()), 3, p.stdout)

    def test_c_server_mode_usage(self):
        # the C side's --server mode takes the server's size: --sizes with
        # it is a usage error, as is a malformed address
        prog = os.path.join(BUILDDIR, "bench", "rps_pushpull_bench")
        for args in (["--server", "127.0.0.1:1", "--sizes", "4K"], ["--server", "nohost"],
                     ["--server", "127.0.0.1:0"]):
            p = subprocess.run([prog] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("--server", p.stderr, args)
        # nobody there: a run failure (1), saying so
        p = subprocess.run([prog, "-P", "ofi", "--server", "127.0.0.1:1"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("127.0.0.1:1", p.stderr)

    def test_usage(self):
        for args in (["-s", "3"], ["-n", "0"], ["--bogus"], ["-c", "100"], ["--cpus", "x"]):
            p = run(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertTrue(p.stderr.strip(), args)
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("ratio", p.stdout)


if __name__ == "__main__":
    unittest.main()
