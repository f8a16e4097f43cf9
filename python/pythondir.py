# SPDX-License-Identifier: BSD-2-Clause
"""configure's choice of where to install the package: prints the
directory under PREFIX (argv[1]) that this interpreter reads, with
PREFIX written as ${prefix}.  automake's own choice, the posix_prefix
scheme's site-packages, is never read by Debian's python3, which reads
PREFIX/lib/python3.X/dist-packages (/usr/local) and
/usr/lib/python3/dist-packages (/usr)."""
import sys
import sysconfig

prefix = sys.argv[1].rstrip("/") or "/"
v = "%d.%d" % sys.version_info[:2]
cands = [sysconfig.get_path("purelib", "posix_prefix", vars={"base": prefix}),
         prefix + "/lib/python" + v + "/dist-packages",
         prefix + "/lib/python3/dist-packages"]
path = [p.rstrip("/") for p in sys.path]
best = next((c for c in cands if c in path), cands[0])
print("${prefix}" + best[len(prefix):] if best.startswith(prefix + "/") else best)
