#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rps_engine_bench: every output format is well formed, names every kernel
# asked for, and reports positive numbers; bad options exit 2.  No timing
# assertions: this runs on shared machines.  Run from the build directory.
set -euo pipefail
bench=./bench/rps_engine_bench
kernels="sgd dc-asgd-c dc-asgd-a pc-asgd dude-asgd"
refs="copy 3-stream 5-stream 7-stream 8-stream"
tiny=(--sizes 64K --threads 1 --iters 3)

fail() {
	echo "FAIL: $*"
	exit 1
}

run() {
	local out rc=0
	out=$("$bench" "$@" 2>&1) || rc=$?
	[ "$rc" = 0 ] || { echo "$out"; fail "rps_engine_bench $* exited $rc"; }
	printf '%s\n' "$out"
}

# ---- table: header line, column names, one row per kernel and reference
out=$(run "${tiny[@]}")
echo "$out"
grep -q '^# rps_engine_bench: CPU .*, nproc [0-9]' <<<"$out" || fail "table: no CPU/nproc header"
for col in kernel size threads GB/s 'GB/s best' ref ratio; do
	grep -q -- "$col" <<<"$out" || fail "table: no '$col' column"
done
for k in $kernels $refs; do
	n=$(awk -v k="$k" '$1 == k' <<<"$out" | wc -l)
	[ "$n" = 1 ] || fail "table: $n rows for $k, expected 1"
done
# kernel rows: GB/s, best, ref GB/s and ratio are positive numbers
awk -v ks="$kernels" 'BEGIN { split(ks, a, " "); for (i in a) want[a[i]] = 1 }
	want[$1] { if (!($5 > 0 && $6 > 0 && $8 > 0 && $9 > 0)) { print "bad row: " $0; bad = 1 } }
	END { exit bad }' <<<"$out" || fail "table: a kernel row has a non-positive number"

# ---- CSV: comment, header, one row per kernel and reference ------------
out=$(run "${tiny[@]}" --output=csv)
echo "$out"
hdr=$(grep -v '^#' <<<"$out" | head -1)
[ "$hdr" = "kernel,size,threads,active_threads,bytes_per_elem,reps,passes,gbs_median,gbs_best,ref,ref_gbs,ratio" ] ||
	fail "csv: header is '$hdr'"
rows=$(grep -v '^#' <<<"$out" | tail -n +2)
[ "$(wc -l <<<"$rows")" = 10 ] || fail "csv: expected 10 rows (5 kernels + 5 references)"
for k in $kernels $refs; do
	[ "$(grep -c "^$k," <<<"$rows")" = 1 ] || fail "csv: no single row for $k"
done
# each kernel is divided by the reference with its own DRAM streams
for kb in sgd,20,5-stream dc-asgd-c,20,5-stream dc-asgd-a,28,7-stream pc-asgd,20,5-stream \
	dude-asgd,32,8-stream 5-stream,20, 7-stream,28, 8-stream,32,; do
	IFS=, read -r k b ref <<<"$kb"
	awk -F, -v k="$k" -v b="$b" -v ref="$ref" '$1 == k && $5 == b && $10 == ref { ok = 1 }
		END { exit !ok }' <<<"$rows" || fail "csv: $k is not $b bytes/elem divided by '$ref'"
done
awk -F, '{ if (NF != 12 || $2 != 65536 || $3 != 1 || !($8 > 0) || !($9 > 0) ||
	       ($10 != "" && !($11 > 0 && $12 > 0))) { print "bad row: " $0; bad = 1 } }
	END { exit bad }' <<<"$rows" || fail "csv: a malformed row or a non-positive number"

# ---- JSON: parses (when python3 is here), every kernel present ---------
out=$(run "${tiny[@]}" -o json --kernels dc-asgd-c,sgd)
echo "$out"
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$out" || fail "json: does not parse"
	python3 -c '
import json, sys
d = json.load(sys.stdin)
names = [r["kernel"] for r in d["results"]]
assert sorted(names) == sorted(["copy", "3-stream", "5-stream", "sgd", "dc-asgd-c"]), names
for r in d["results"]:
    assert r["gbs_median"] > 0 and r["gbs_best"] > 0, r
    assert (r["ref"] is None) == (r["ratio"] is None), r
    assert r["ratio"] is None or r["ratio"] > 0, r
assert d["nproc"] >= 1 and d["cpu"]
' <<<"$out" || fail "json: wrong content"
else
	echo "SKIP json parse check: no python3"
fi
for k in sgd dc-asgd-c copy 3-stream 5-stream; do
	grep -q "\"kernel\": \"$k\"" <<<"$out" || fail "json: no $k"
done
grep -q '"kernel": "pc-asgd"' <<<"$out" && fail "json: pc-asgd was not asked for"
# the 7- and 8-stream references run only for the kernels divided by them
grep -q '"kernel": "[78]-stream"' <<<"$out" && fail "json: 7-/8-stream run for no kernel"
out=$(run "${tiny[@]}" -o csv --kernels dude-asgd)
grep -q '^8-stream,' <<<"$out" || fail "csv: --kernels dude-asgd without its 8-stream reference"
grep -q '^7-stream,' <<<"$out" && fail "csv: --kernels dude-asgd ran the 7-stream reference"

# ---- two threads, unpinned, a chunk smaller than the slice ------------
out=$(run --sizes 64K --threads 2 --chunk 16K --iters 3 --kernels pc-asgd --no-pin -o csv)
grep -q '^pc-asgd,65536,2,2,20,' <<<"$out" || { echo "$out"; fail "2 threads: no pc-asgd row with 2 active threads"; }

# ---- placement: the header says where the threads and the arrays are
# (written from the list the threads are pinned to)
last=$(($(nproc) - 1))
out=$(run "${tiny[@]}" --kernels sgd --cpus "$last" --numa 0)
grep -q "^# placement: threads on CPUs $last, memory on NUMA node 0\$" <<<"$out" ||
	{ echo "$out"; fail "--cpus $last --numa 0: no placement line saying so"; }
grep -q '^# placement: .*first-touched by each thread' <<<"$(run "${tiny[@]}" --kernels sgd)" ||
	fail "no placement line without --numa"

# ---- bad usage: exit 2, a one-line error naming the option -------------
bad() {
	local err rc=0
	err=$("$bench" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] || fail "'$*' exited $rc, expected 2: $err"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "'$*': error is not one line: $err"
	echo "ok: $* -> $err"
}
bad --sizes 0
bad --sizes 64K,,1M
bad --sizes 2G
bad --sizes 4097
bad --max-size 10
bad --threads 0
bad --threads 3-1
bad --kernels sgd,bogus
bad --kernels copy
bad --chunk 1000
bad --iters 0
bad --output xml
bad --cpus 1-x
bad --cpus 4096
bad --numa 4000
bad --numa x
bad --cpus 0 --no-pin
bad --nonsense
bad extra-operand
"$bench" --help | grep -q -- '--kernels' || fail "--help does not list --kernels"
echo "PASS"
