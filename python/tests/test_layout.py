# SPDX-License-Identifier: BSD-2-Clause
"""The ctypes structs of python/rdmaps/_lib.py against the C compiler's
layout (tests/python/struct_layout prints it): same size, and every
member at the same offset with the same size, in the same order.  A
member added to a C struct and not to its mirror fails here."""

import ctypes
import os
import subprocess
import unittest

import rpstest
from rdmaps import _lib


class Layout(unittest.TestCase):
    def test_structs_match_c(self):
        prog = os.path.join(rpstest.BUILDDIR, "tests", "python", "struct_layout")
        out = subprocess.run([prog], check=True, capture_output=True, text=True).stdout
        c = {}
        for line in out.splitlines():
            name, member, off, size = line.split()
            c.setdefault(name, []).append((member, int(off), int(size)))
        self.assertEqual(set(c), set(_lib.STRUCTS))
        for name, cls in _lib.STRUCTS.items():
            (_, _, csize), members = c[name][0], c[name][1:]
            self.assertEqual(ctypes.sizeof(cls), csize, name)
            py = [(f[0], getattr(cls, f[0]).offset, getattr(cls, f[0]).size)
                  for f in cls._fields_]
            self.assertEqual(py, members, name)


if __name__ == "__main__":
    unittest.main()
