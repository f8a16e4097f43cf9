#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rps_allreduce_bench over ofi on 127.0.0.1: three forked ranks print the
# nccl-tests header and one row per size with #wrong 0 and a right busbw
# factor; bad options exit 2 with one line.  No timing assertions: this
# runs on shared machines.  Run from the build directory.
set -euo pipefail
bench=${RPS_ALLREDUCE_BENCH:-./bench/rps_allreduce_bench}

fail() {
	echo "FAIL: $*"
	exit 1
}

rc=0
out=$(timeout 300 "$bench" --world 3 -b 4 -e 64K -c 1 -n 3 -w 1 --provider ofi 2>&1) || rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "rps_allreduce_bench --world 3 exited $rc"
grep -qE '^#  +size +count +type +redop +time +algbw +busbw +#wrong$' <<<"$out" ||
	fail "no nccl-tests column header"
grep -qE '^#  +\(B\) +\(elements\) +\(us\) +\(GB/s\) +\(GB/s\)' <<<"$out" ||
	fail "no units line"
grep -q '^# Out of bounds values : 0 OK$' <<<"$out" || fail "no 'Out of bounds values : 0 OK'"
# sizes 4, 8, ..., 64K: 15 rows of float sum, count = size / 4, #wrong 0,
# busbw = algbw * 2 (n-1) / n = algbw * 4/3 (to the printed precision)
awk '/^ / {
	rows++
	want = 4 * 2 ^ (rows - 1)
	if ($1 != want || $2 != $1 / 4 || $3 != "float" || $4 != "sum" || $8 != "0") {
		print "bad row: " $0; bad = 1
	}
	if ($5 <= 0) { print "non-positive time: " $0; bad = 1 }
	d = $7 - $6 * 4 / 3; if (d < 0) d = -d
	if (d > 0.011) { print "busbw is not algbw x 4/3: " $0; bad = 1 }
     }
     END { if (rows != 15) { print rows " rows, expected 15"; bad = 1 } exit bad }' <<<"$out" ||
	fail "table rows"

# ---- --profile: a breakdown after each row, its parts within the round --
rc=0
out=$(timeout 300 "$bench" --world 2 -b 64K -e 256K -f 4 -n 5 -w 1 --provider ofi --profile 2>&1) ||
	rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "--profile exited $rc"
# two rows, each followed by its profile line; the parts are shares of
# the rounds' time, so they cannot add up to more than it
awk '/^ / { rows++; want = $1 }
     /^#  profile / {
	profs++
	if ($3 != want "") { print "profile of " $3 " after the row of " want; bad = 1 }
	if ($5 != 5) { print "not 5 rounds: " $0; bad = 1 }
	s = $NF; gsub(/[%)]/, "", s)
	if (s + 0 <= 0 || s + 0 > 100.5) { print "parts sum to " s "%: " $0; bad = 1 }
     }
     END { if (rows != 2 || profs != 2) { print rows " rows, " profs " profiles"; bad = 1 } exit bad }' \
	<<<"$out" || fail "--profile lines"

# ---- usage errors: exit 2, one line on stderr, nothing on stdout --------
usage() {
	local rc=0 out err
	err=$("$bench" "$@" 2>&1 >/dev/null) || rc=$?
	out=$("$bench" "$@" 2>/dev/null) || true
	[ "$rc" = 2 ] || fail "$* exited $rc, expected 2"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "$*: expected one line, got: $err"
	[ -z "$out" ] || fail "$*: printed on stdout: $out"
	echo "ok: $* -> $err"
}
usage --bogus
usage -b 64 -e 4
usage -f 1
usage --chunk 6
usage --rank 1
usage --peers 127.0.0.1:1,127.0.0.1:0 --rank 0
usage --peers 127.0.0.1:1,127.0.0.1:2 --rank 2
usage --world 0
usage --provider nope
usage --profile=1
usage extra-operand
echo "PASS"
