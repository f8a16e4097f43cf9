#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Self-check of bench/convergence/run: the --quick preset (synthetic
# blobs, an MLP, every algorithm, M=1 and 2, iid and label skew, 2 seeds),
# then a straggler part, a third seed and a rerun merged into the same
# --out, and (with PyTorch) two CNN runs; assertions on results.csv,
# curves.csv, results.md and the plots; bad usage exits 2.
#   test_run.sh [BINDIR]
# BINDIR (or $BINDIR): the directory with rdma-ps and rdma-worker; without
# it the current directory, then PATH.  Exit 0 pass, 1 fail, 77 skip (no
# rdma-ps found when none was named, or no python3).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=$here/run

fail() { echo "FAIL: $*"; exit 1; }

command -v python3 >/dev/null || { echo "SKIP: no python3 for bench/convergence/run"; exit 77; }
bindir=${1:-${BINDIR:-}}
bindir_args=()
if [ -n "$bindir" ]; then
	# named explicitly: a wrong one is a failure, not a skip
	bindir_args=(--bindir "$bindir")
elif [ -x ./rdma-ps ] && [ -x ./rdma-worker ]; then
	bindir=$PWD
	bindir_args=(--bindir "$PWD")
elif ! command -v rdma-ps >/dev/null || ! command -v rdma-worker >/dev/null; then
	echo "SKIP: rdma-ps/rdma-worker not found (run from the build directory or give BINDIR)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
res=$out/results.csv
cur=$out/curves.csv
md=$out/results.md

# rows MODEL ALGO M PARTITION DELAY: the results.csv rows of a cell
rows() {
	python3 - "$res" "$@" <<-'EOF'
	import csv, sys
	path, model, algo, m, part, delay = sys.argv[1:]
	for r in csv.DictReader(open(path)):
	    if (r["model"], r["algo"], r["workers"], r["partition"], r["delay"]) == (model, algo, m, part, delay):
	        print(r["seed"], r["status"], r["final_test_acc"], r["staleness_mean"], r["staleness_max"],
	              r["steps_total"], r["overlap_pct"] or "-")
	EOF
}

# ---- the statistics behind the verdicts ----
python3 - "$here" <<-'EOF' || fail "sweep_stats"
	import sys
	sys.dont_write_bytecode = True
	sys.path.insert(0, sys.argv[1])
	from sweep_stats import diff_ci, mean_std, verdict_beats, verdict_within
	m, s, n = mean_std([1, 2, 3])
	assert (m, s, n) == (2.0, 1.0, 3), (m, s, n)
	# Welch: var 1/3 and 0, 2 degrees of freedom, t = 4.303
	lo, hi = diff_ci([1, 2, 3], [0, 0, 0])
	assert abs(lo - (2 - 4.303 * 3 ** -0.5)) < 1e-9 and abs(hi - (2 + 4.303 * 3 ** -0.5)) < 1e-9, (lo, hi)
	a, b = [0.90, 0.91, 0.905], [0.80, 0.81, 0.805]
	assert verdict_beats(a, b) == "agrees"
	assert verdict_beats(b, a) == "does not"
	assert verdict_beats([0.8, 0.8001, 0.8002], [0.8001, 0.8, 0.8002]).startswith("does not (equal")
	assert verdict_beats([0.7, 0.9, 0.8], [0.75, 0.85, 0.8]) == "cannot tell at K=3"
	assert verdict_beats([0.9], [0.8]).startswith("cannot tell (needs 2+")
	assert verdict_within([0.878, 0.879, 0.8785], [0.880, 0.881, 0.8805]) == "agrees"
	assert verdict_within([0.86, 0.861, 0.8605], [0.88, 0.881, 0.8805]) == "does not"
	assert verdict_within([0.87, 0.88, 0.89], [0.88, 0.881, 0.8805]).startswith("cannot tell")
	# paired by seed: the seed's spread (0.70..0.90) cancels, a +1 pt
	# difference every seed is clear; unpaired it is not
	a, b = {1: 0.71, 2: 0.81, 3: 0.91}, {1: 0.70, 2: 0.80, 3: 0.90}
	lo, hi = diff_ci(a, b)
	assert abs(lo - 0.01) < 1e-9 and abs(hi - 0.01) < 1e-9, (lo, hi)
	a[3] = 0.915
	assert verdict_beats(a, b) == "agrees", verdict_beats(a, b)
	assert verdict_beats(list(a.values()), list(b.values())) == "cannot tell at K=3"
	# only the seeds both have are paired; fewer than 2 -> Welch
	assert diff_ci({1: 0.9, 2: 0.8}, {2: 0.7, 3: 0.6}) == diff_ci([0.9, 0.8], [0.7, 0.6])
	print("sweep_stats: ok")
	EOF

# ---- bad usage: one line, exit 2 ----
for bad in "--models foo" "--delay-ms 0:10" "--delay-ms 1:0" "--lr-decay 0,0.5" \
	"--partitions label-skew:0" "--algos sgd,bogus" "--seeds 0" "--workers 0" \
	"--agent-momentum 1" "--models cnn --algos pc-agents-mix"; do
	rc=0
	# shellcheck disable=SC2086
	"$run" "${bindir_args[@]}" --quick $bad --out "$tmp/bad" > "$tmp/bad.log" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "run $bad exited $rc, expected 2: $(cat "$tmp/bad.log")"
	grep -q "^run: " "$tmp/bad.log" || grep -q "error:" "$tmp/bad.log" ||
		fail "run $bad: no message: $(cat "$tmp/bad.log")"
done

# ---- the quick preset ----
rc=0
"$run" "${bindir_args[@]}" --quick --out "$out" > "$tmp/run.log" 2>&1 || rc=$?
cat "$tmp/run.log"
[ "$rc" = 0 ] || fail "run --quick exited $rc"
[ -s "$res" ] && [ -s "$cur" ] && [ -s "$md" ] || fail "no results.csv, curves.csv or results.md"
[ "$(head -1 "$res")" = "model,algo,workers,partition,delay,seed,steps_per_worker,batch,lr,lr_schedule,epochs,final_test_acc,final_test_loss,wall_s,steps_total,staleness_mean,staleness_max,overlap_pct,status" ] ||
	fail "results.csv header: $(head -1 "$res")"
# 2 partitions x (sgd M=1 + 8 algorithms M=2) x 2 seeds
[ "$(($(wc -l < "$res") - 1))" = 36 ] || fail "results.csv has $(($(wc -l < "$res") - 1)) rows, expected 36"
for p in iid label-skew:0.5; do
	for a in sgd asgd dc-asgd-a pc-asgd dude-asgd ssgd dc-s3gd s3gd pc-agents-auto; do
		m=2; [ "$a" = sgd ] && m=1
		out_rows=$(rows mlp:16 "$a" "$m" "$p" none)
		[ "$(wc -l <<< "$out_rows")" = 2 ] || fail "$a M=$m $p: not 2 seeds: $out_rows"
		while read -r seed status acc _ _ steps overlap; do
			[ "$status" = ok ] || fail "$a M=$m $p seed $seed: status $status"
			awk -v x="$acc" 'BEGIN { exit !(x + 0 > 0.5 && x + 0 <= 1) }' ||
				fail "$a M=$m $p seed $seed: accuracy '$acc'"
			# 2 epochs of 1200 samples at batch 32: 75 steps in all
			[ "$steps" -ge 75 ] || fail "$a M=$m $p seed $seed: $steps steps"
			if [ "$a" = dc-s3gd ] || [ "$a" = s3gd ]; then
				[[ $overlap =~ ^[0-9]+$ ]] || fail "$a seed $seed: no overlap figure"
			fi
		done <<< "$out_rows"
	done
done
# 4 evaluations per run (--points 4), every one in curves.csv
[ "$(($(wc -l < "$cur") - 1))" -ge 144 ] || fail "curves.csv has $(($(wc -l < "$cur") - 1)) rows, expected >= 144"
grep -q '^| claim | setting | comparison |' "$md" || fail "results.md has no claims table"
for c in "1 DC-ASGD" "2 DuDe-ASGD" "3 DC-S3GD" "4 PC-ASGD (server form)" "4 PC-ASGD (agents)"; do
	grep -q "^| $c.* | \(agrees\|does not\|cannot tell\)[^|]* |\$" "$md" || fail "results.md: no verdict row for claim $c"
done
grep -q '^| dc-asgd-a | - | [01]\.[0-9]* ± 0\.[0-9]* (2)<br>τ [0-9.]*, max [0-9]* |$' "$md" ||
	fail "results.md: no dc-asgd-a row with mean ± std (2) and staleness"
grep -q 'lr schedule x0.5 every 1 epochs' "$md" || fail "results.md does not list the schedule"
if command -v gnuplot >/dev/null; then
	for png in acc-mlp16-iid-none-lr0.02-M2.png acc-mlp16-label-skew0.5-none-lr0.02-M2.png; do
		[ -s "$out/$png" ] || fail "no $png although gnuplot is installed"
	done
fi

# ---- parts accumulate: a straggler part, a third seed, a rerun ----
rc=0
"$run" "${bindir_args[@]}" --quick --algos asgd,dude-asgd --partitions label-skew:0.5 \
	--delay-ms 1:30 --out "$out" > "$tmp/run2.log" 2>&1 || rc=$?
cat "$tmp/run2.log"
[ "$rc" = 0 ] || fail "the straggler part exited $rc"
while read -r seed status acc smean smax steps _; do
	[ "$status" = ok ] || fail "straggler asgd seed $seed: $status"
	# rank 1 sleeps 30 ms a step: rank 0's pushes pile up between its own
	[ "$smax" -gt 1 ] || fail "straggler asgd seed $seed: staleness max $smax"
	# and it was stopped once rank 0 was done, before its 38 steps
	[ "$steps" -lt 76 ] || fail "straggler asgd seed $seed: $steps steps, the straggler was not stopped"
done <<< "$(rows mlp:16 asgd 2 label-skew:0.5 1:30)"
[ "$(rows mlp:16 asgd 2 label-skew:0.5 1:30 | wc -l)" = 2 ] || fail "no straggler rows"
grep -q '^### mlp:16, label-skew:0.5, stragglers 1:30, lr 0.02$' "$md" || fail "no straggler table"
grep -q '^| 2 DuDe-ASGD | mlp:16, M=2, label-skew:0.5, stragglers 1:30, lr 0.02 |' "$md" ||
	fail "no claim 2 row for the straggler part"
# the straggler table has the sequential SGD reference of its partition
sed -n '/^### mlp:16, label-skew:0.5, stragglers 1:30, lr 0.02$/,/^###/p' "$md" | grep -q '^| sgd | [01]\.' ||
	fail "the straggler table has no sgd reference"

for i in 1 2; do # seed 3 twice: the second replaces the first
	"$run" "${bindir_args[@]}" --quick --algos asgd --workers 2 --partitions iid --seeds 1 \
		--seed-base 3 --out "$out" > "$tmp/run3.log" 2>&1 || fail "seed 3 run $i: $(cat "$tmp/run3.log")"
done
[ "$(rows mlp:16 asgd 2 iid none | wc -l)" = 3 ] || fail "asgd M=2 iid: not 3 seeds after the rerun"
grep -q '^| asgd | - | [01]\.[0-9]* ± 0\.[0-9]* (3)' "$md" || fail "results.md: asgd not over 3 runs"
[ "$(($(wc -l < "$out/parts.csv") - 1))" = 4 ] || fail "parts.csv: not 4 parts"
grep -c '^| 20.*`bench/convergence/run ' "$md" | grep -qx 4 || fail "results.md does not list the 4 parts"

# ---- the report alone ----
rm "$md"
"$run" --report-only --out "$out" > "$tmp/rep.log" 2>&1 || fail "--report-only: $(cat "$tmp/rep.log")"
[ -s "$md" ] || fail "--report-only wrote no results.md"

# ---- the PyTorch CNN (torch_worker.py), server and ring ----
# make check passes configure's interpreter (empty: --without-python)
py=${RPS_PYTHON-/usr/bin/python3}
lib=${bindir:+$bindir/.libs/librdmaps.so.1}
if [ -z "$py" ] || ! "$py" -c 'import numpy, torch' 2>/dev/null; then
	echo "note: ${py:-no python} cannot import numpy and torch: the cnn part is left out"
elif ${OBJDUMP:-objdump} -p "$lib" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
	# python is not built with the ASan runtime the library needs first
	echo "note: sanitizer build: the cnn part is left out (python/tests cover rdmaps.torch)"
else
	rc=0
	# 8 epochs (80 steps a worker): at 4, asgd's accuracy swung from 0.36
	# to 1.0 between runs with the workers' interleaving (CI saw 0.36)
	"$run" "${bindir_args[@]}" --python "$py" --models cnn --algos asgd,dc-s3gd --workers 2 \
		--partitions iid --seeds 1 --epochs 8 --dataset synthetic:640,784,4 --points 2 \
		--timeout 300 --out "$out" > "$tmp/cnn.log" 2>&1 || rc=$?
	cat "$tmp/cnn.log"
	[ "$rc" = 0 ] || fail "the cnn part exited $rc"
	for a in asgd dc-s3gd; do
		read -r _ status acc _ <<< "$(rows cnn "$a" 2 iid none)"
		[ "$status" = ok ] || fail "cnn $a: status '$status'"
		awk -v x="$acc" 'BEGIN { exit !(x + 0 > 0.4 && x + 0 <= 1) }' || fail "cnn $a: accuracy '$acc'"
	done
fi
echo "PASS: bench/convergence/run: quick preset, stragglers, seeds merged, rerun replaced, report"
exit 0
