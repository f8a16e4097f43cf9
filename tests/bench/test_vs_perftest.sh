#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/vs-perftest: its option errors (exit 2, one line naming the
# option), then -- only where an rxe device is active (the soft-RoCE tier)
# and perftest is installed -- one tiny real comparison: exit 0, a table
# row per test with a numeric ratio, and every run listed (best-of 2:
# two numbers per tool).  No timing assertions.  Run from the build
# directory.
set -uo pipefail
script=$(cd "$(dirname "$0")/../.." && pwd)/bench/vs-perftest
. "$(dirname "$0")/perftest-lib.sh"
pt_setup vs-perftest-test

pt_cmd=(bash "$script")
pt_name=vs-perftest

pt_usage_error --rounds --rounds 0
pt_usage_error --best-of --best-of 0
pt_usage_error --best-of --best-of x
pt_usage_error --best-of --best-of
pt_usage_error --lat-best-of --lat-best-of -1
pt_usage_error --tests --tests write_bw,bogus
pt_usage_error --sizes --sizes 4k
pt_usage_error --frobnicate --frobnicate
bash "$script" --help >"$work/out" 2>&1 || fail "vs-perftest --help: exit $?"
grep -q -- '--best-of K' "$work/out" || fail "--help does not list --best-of"
grep -q -- '--lat-best-of K' "$work/out" || fail "--help does not list --lat-best-of"

# ---- a real run, where there is an active rxe device ---------------------
have_rxe() {
	rdma link show 2>/dev/null | awk '$2 ~ /^rxe/ && /state ACTIVE/ { f = 1 } END { exit !f }'
}
if [ -z "${RPS_TEST_ADDR:-}" ] || ! have_rxe; then
	echo "vs-perftest real run skipped: no active rxe device here (the soft-RoCE tier runs it)"
elif ! command -v ib_read_lat >/dev/null; then
	echo "vs-perftest real run skipped: perftest is not installed"
else
	bash "$script" --rounds 1 --best-of 2 --lat-best-of 2 --tests read_lat,write_bw --sizes 65536 \
		--lat-iters 100 --bw-bytes 2097152 >"$work/out" 2>"$work/err"
	rc=$?
	cat "$work/out"
	[ "$rc" = 0 ] || { fail "vs-perftest tiny run: exit $rc"; cat "$work/err"; }
	for row in "read_lat 2" "write_bw 65536"; do
		awk -v t="${row% *}" -v s="${row#* }" '
			$1 == t && $2 == s && $3 > 0 && $4 > 0 && $5 ~ /^[0-9]+\.[0-9]+$/ { f = 1 }
			END { exit !f }' "$work/out" || fail "no table row with a ratio for $row"
	done
	# the "every run" section: two runs per tool and test
	n=$(awk '/^every run/ { on = 1; next } on && /perftest:|rdmaps:/ {
			sub(/.*(perftest|rdmaps): */, ""); if (split($0, v, " ") == 2) c++ }
		END { print c + 0 }' "$work/out")
	[ "$n" = 4 ] || fail "every-run section: $n tool lines with 2 runs each, expected 4"
fi

[ "$fails" = 0 ] || exit 1
echo "vs-perftest: ok"
