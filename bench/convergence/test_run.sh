#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Self-check of bench/convergence/run: a tiny sweep on synthetic blobs
# (sgd with one worker, asgd and dc-asgd-a with two, iid and label skew)
# and assertions on results.csv, curves.csv and results.md.
#   test_run.sh [BINDIR]
# BINDIR (or $BINDIR): the directory with rdma-ps and rdma-worker; without
# it the current directory, then PATH.  Exit 0 pass, 1 fail, 77 skip (no
# rdma-ps found when none was named).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=$here/run

fail() { echo "FAIL: $*"; exit 1; }

bindir=${1:-${BINDIR:-}}
bindir_args=()
if [ -n "$bindir" ]; then
	# named explicitly: a wrong one is a failure, not a skip
	bindir_args=(--bindir "$bindir")
elif [ -x ./rdma-ps ] && [ -x ./rdma-worker ]; then
	bindir_args=(--bindir "$PWD")
elif ! command -v rdma-ps >/dev/null || ! command -v rdma-worker >/dev/null; then
	echo "SKIP: rdma-ps/rdma-worker not found (run from the build directory or give BINDIR)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out

rc=0
"$run" "${bindir_args[@]}" --dataset synthetic:2000,16,4 --epochs 2 --workers 1,2 \
	--algos sgd,asgd,dc-asgd-a,dc-s3gd --partitions iid,label-skew:0.5 --timeout 120 \
	--out "$out" > "$tmp/run.log" 2>&1 || rc=$?
cat "$tmp/run.log"
[ "$rc" = 0 ] || fail "run exited $rc"

res=$out/results.csv
cur=$out/curves.csv
[ -s "$res" ] || fail "no results.csv"
[ -s "$cur" ] || fail "no curves.csv"
[ "$(head -1 "$res")" = "algo,workers,partition,epochs,lr,final_test_acc,final_test_loss,wall_s,steps_total,staleness_mean,status" ] ||
	fail "results.csv header: $(head -1 "$res")"
[ "$(head -1 "$cur")" = "algo,workers,partition,epoch,test_acc,test_loss,time_s" ] ||
	fail "curves.csv header: $(head -1 "$cur")"

# sgd M=1 for both partitions + {asgd, dc-asgd-a, dc-s3gd (no server)} x
# M=2 x both partitions
expected=(
	"sgd 1 iid" "sgd 1 label-skew:0.5"
	"asgd 2 iid" "dc-asgd-a 2 iid" "asgd 2 label-skew:0.5" "dc-asgd-a 2 label-skew:0.5"
	"dc-s3gd 2 iid" "dc-s3gd 2 label-skew:0.5"
)
rows=$(($(wc -l < "$res") - 1))
[ "$rows" = ${#expected[@]} ] || fail "results.csv has $rows rows, expected ${#expected[@]}"

for e in "${expected[@]}"; do
	read -r a m p <<< "$e"
	line=$(awk -F, -v a="$a" -v m="$m" -v p="$p" '$1 == a && $2 == m && $3 == p' "$res")
	[ -n "$line" ] || fail "no results.csv row for $a M=$m $p"
	IFS=, read -r _ _ _ ep _ acc loss wall steps stale status <<< "$line"
	[ "$status" = ok ] || fail "$a M=$m $p: status '$status'"
	[ "$ep" = 2 ] || fail "$a M=$m $p: epochs '$ep'"
	awk -v x="$acc" 'BEGIN { exit !(x ~ /^[0-9]*\.?[0-9]+$/ && x + 0 > 0.5 && x + 0 <= 1) }' ||
		fail "$a M=$m $p: final_test_acc '$acc' is not a number in (0.5, 1]"
	awk -v x="$loss" 'BEGIN { exit !(x ~ /^[0-9]*\.?[0-9]+$/ && x + 0 > 0) }' ||
		fail "$a M=$m $p: final_test_loss '$loss' is not a positive number"
	[[ $steps =~ ^[0-9]+$ ]] && [ "$steps" -gt 0 ] || fail "$a M=$m $p: steps_total '$steps'"
	[[ $wall =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "$a M=$m $p: wall_s '$wall'"
	[[ $stale =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "$a M=$m $p: staleness_mean '$stale'"
	for epoch in 1 2; do
		awk -F, -v a="$a" -v m="$m" -v p="$p" -v e="$epoch" '
			$1 == a && $2 == m && $3 == p && $4 == e && $5 + 0 > 0 { n++ }
			END { exit n != 1 }' "$cur" ||
			fail "curves.csv: not exactly one epoch $epoch row for $a M=$m $p"
	done
done

md=$out/results.md
[ -s "$md" ] || fail "no results.md"
grep -q '^| algo | M=1 iid | M=1 label-skew:0.5 | M=2 iid | M=2 label-skew:0.5 |$' "$md" ||
	fail "results.md has no table header"
grep -q '^|------|' "$md" || fail "results.md has no table separator"
grep -q '^| dc-asgd-a | - | - | 0\.[0-9]* (' "$md" || fail "results.md has no dc-asgd-a row"
if command -v gnuplot >/dev/null; then
	for png in acc-M2-iid.png acc-M2-label-skew-0.5.png; do
		[ -s "$out/$png" ] || fail "no $png although gnuplot is installed"
	done
fi
echo "PASS: ${#expected[@]} runs, results.csv, curves.csv and results.md as expected"
exit 0
