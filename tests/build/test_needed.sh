#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# librdmaps links what it uses: its NEEDED entries must not include zlib
# or OpenBLAS, which only src/ml (datasets, models) needs; src/ml is
# librdmaps_ml.la, linked by the programs and tests that train.
# And the installed programs link the shared library: each needs
# librdmaps.so and holds no copy of the library's code with state (the
# log level and handler, the topology), which must exist once a process.
#
# Run from the build directory (make check does).  $OBJDUMP names the
# objdump to use (make check passes libtool's).
# Exit 0 pass, 1 fail, 77 skip (no shared library built).
set -uo pipefail

OBJDUMP=${OBJDUMP:-objdump}
fail() { echo "FAIL: $*"; exit 1; }

[ -r librdmaps.la ] || fail "no librdmaps.la here: run from the build directory"
dlname=$(sed -n "s/^dlname='\(.*\)'/\1/p" librdmaps.la)
[ -n "$dlname" ] || { echo "SKIP: librdmaps is not built as a shared library"; exit 77; }
so=.libs/$dlname
[ -r "$so" ] || fail "$so is missing"
command -v "$OBJDUMP" >/dev/null || fail "no $OBJDUMP (binutils) to read $so"

needed=$("$OBJDUMP" -p "$so" | awk '$1 == "NEEDED" { print $2 }')
[ -n "$needed" ] || fail "$OBJDUMP -p $so lists no NEEDED entry"
echo "$so NEEDED:" $needed
bad=$(grep -E '^lib(z|openblas|blas|cblas)\.so' <<<"$needed")
[ -z "$bad" ] || fail "$so links" $bad "(only src/ml needs them: link librdmaps_ml.la instead)"

# A program linked with an uninstalled libtool library is DIR/.libs/NAME
# (DIR/NAME is libtool's wrapper script).
for prog in rdma-ps rdma-worker bench/rps_smoke bench/rps_engine_bench \
	bench/rps_pushpull_bench bench/rps_allreduce_bench bench/rps_write_bw \
	bench/rps_write_lat bench/rps_read_bw bench/rps_read_lat; do
	bin=$(dirname "$prog")/.libs/$(basename "$prog")
	[ -x "$prog" ] || fail "$prog is not built"
	[ -x "$bin" ] || fail "$prog is not linked with librdmaps.la (no $bin)"
	"$OBJDUMP" -p "$bin" | awk '$1 == "NEEDED" { print $2 }' | grep -qx "$dlname" ||
		fail "$bin does not need $dlname"
	copies=$("$OBJDUMP" -t "$bin" | awk '$NF ~ /^rps_(log_msg|log_set_level|topo_load)$/ &&
		$(NF - 2) != "*UND*" { print $NF }')
	[ -z "$copies" ] || fail "$bin has its own copy of" $copies "(link librdmaps.la, not librdmaps_core.la)"
done
echo "programs: each needs $dlname and holds none of its state"
echo PASS
