#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end test of rps_smoke (the README's main job): both ends on this
# host over PROVIDER, small sizes, data verified.  Exit 77 (SKIP) when the
# provider has no device here.
#   smoke-run.sh PROVIDER      (run from the build directory)
set -euo pipefail
provider=$1
addr=${RPS_TEST_ADDR:-127.0.0.1}
smoke=./bench/rps_smoke

if [ "$provider" = verbs ] && [ -z "${RPS_TEST_ADDR:-}" ]; then
	echo "SKIP: no soft-RoCE/RDMA address (RPS_TEST_ADDR) for verbs"
	exit 77
fi
out=$("$smoke" --provider "$provider" --addr "$addr" --size 64K --iters 50 --tx-depth 4 2>&1) || {
	rc=$?; echo "$out"; echo "FAIL: rps_smoke exited $rc"; exit 1; }
echo "$out"
# the run must name the provider asked for, print both rows, and verify
grep -q "provider $provider," <<<"$out" || { echo "FAIL: wrong provider"; exit 1; }
grep -qE '^ write +65536 +50 ' <<<"$out" || { echo "FAIL: no write row"; exit 1; }
grep -qE '^ read +65536 +50 ' <<<"$out" || { echo "FAIL: no read row"; exit 1; }
grep -q "write data verified, read data verified" <<<"$out" || { echo "FAIL: data not verified"; exit 1; }

# bad usage is exit 2 with a one-line error naming the option
set +e
err=$("$smoke" --size 0 2>&1); rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- "--size" <<<"$err" || { echo "FAIL: bad --size gave rc=$rc: $err"; exit 1; }
echo "PASS"
