#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rps_pushpull_bench over ofi with tiny sizes: the CSV has one row per
# (size, chunk, workers) with positive times (also timing rps_step with
# --step), and bad options are exit 2
# with one line naming the option.  No timing assertions.
set -uo pipefail
bench=./bench/rps_pushpull_bench
fail() { echo "FAIL: $*"; exit 1; }

out=$("$bench" --provider ofi --sizes 1K,64K --chunks 4K --workers 1,2 --steps 3 --csv) ||
	fail "exit $?: $out"
echo "$out"
[ "$(head -1 <<<"$out")" = "bytes,chunk,workers,push_us,apply_us,pull_us,step_us,raw_write_us,raw_read_us,efficiency" ] ||
	fail "CSV header"
[ "$(grep -c '^[0-9]' <<<"$out")" = 4 ] || fail "expected 4 rows"
awk -F, 'NR > 1 { for (i = 4; i <= 10; i++) if (i != 5 && !($i > 0)) exit 1 }' <<<"$out" ||
	fail "a time or the efficiency is not positive"
# apply: the engine's own time in the kernel per push (rounds to 0.0 us
# at 1K, not at 64K)
awk -F, 'NR > 1 && $1 == 65536 && !($5 > 0) { exit 1 }' <<<"$out" ||
	fail "apply_us of a 64K push is not positive: the engine's apply_ns is not read"
awk -F, 'NR > 1 && !(($1 == 1024 || $1 == 65536) && $2 == 4096 && ($3 == 1 || $3 == 2)) { exit 1 }' <<<"$out" ||
	fail "rows do not match the sizes, chunk and workers asked for"
# --step: the step column is rps_step's, over 16 chunks with notices
out=$("$bench" --provider ofi --sizes 64K --chunks 4K --steps 3 --csv --step) ||
	fail "--step: exit $?: $out"
echo "$out"
[ "$(grep -c '^65536,4096,1,' <<<"$out")" = 1 ] || fail "--step: expected one row"
awk -F, 'NR > 1 { for (i = 4; i <= 10; i++) if (i != 5 && !($i > 0)) exit 1 }' <<<"$out" ||
	fail "--step: a time or the efficiency is not positive"
out=$("$bench" --provider ofi --sizes 16K --steps 2 --cpus 0)
grep -q '^ #bytes .*efficiency$' <<<"$out" || fail "table header"
grep -q '^# engine placement: .* cpus=0 ' <<<"$out" || { echo "$out"; fail "--cpus 0: no engine placement line"; }
for bad in "--sizes 3" "--chunks 1K" "--workers 0" "--steps 0" "--algo sgd" "--bogus" \
	"--cpus 4096" "--numa 4000" "--cpus 0 --no-pin" "--numa x" "--step=1"; do
	err=$("$bench" $bad 2>&1 >/dev/null); rc=$?
	opt=${bad%% *}
	[ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q -- "$opt" <<<"$err" ||
		fail "'$bad': rc=$rc: $err"
done
echo PASS
