#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/node-sweep: its option errors (exit 2, one line on stderr naming
# the option or the missing program), then a --quick run of every part
# this host can run (gloo only where an interpreter imports torch): exit 0,
# each part's table with rows of positive figures, the raw outputs and
# summary.md under --out.  No timing assertions.  Run from the build
# directory.
set -uo pipefail
script=$(cd "$(dirname "$0")/../.." && pwd)/bench/node-sweep
. "$(dirname "$0")/perftest-lib.sh"
pt_setup node-sweep-test

pt_cmd=("$script")
pt_name=node-sweep
ncpu=$(nproc)

pt_usage_error --frobnicate --frobnicate
pt_usage_error --parts --parts gloo,ring
pt_usage_error --rounds --rounds 0
pt_usage_error --rounds --rounds x
pt_usage_error --time-limit --time-limit -1
pt_usage_error --worlds --worlds 1
pt_usage_error --worlds --worlds 2,x
pt_usage_error --worlds --worlds $((ncpu + 1))
pt_usage_error --threads --threads $((ncpu + 1))
pt_usage_error --engine-threads --engine-threads 0
pt_usage_error --engine-threads --engine-threads $((ncpu + 1))
pt_usage_error --out --out
pt_usage_error rdma-ps --bindir "$work/nothing"
: >"$work/file"
pt_usage_error --out --parts engine --out "$work/file/sub"

"$script" --help >"$work/out" 2>&1 || fail "node-sweep --help: exit $?"
for opt in --out --parts --worlds --threads --engine-threads --rounds --time-limit --quick \
	--bindir --python --help; do
	grep -qE -- "^ +(-h, )?$opt( |$)" "$work/out" || fail "--help does not list $opt"
done
[ "$fails" = 0 ] || exit 1

# ---- a quick real run ----------------------------------------------------
have_torch() {
	local py
	for py in ${RPS_PYTHON:-} /usr/bin/python3 python3; do
		"$py" -c 'import torch.distributed as d; assert d.is_gloo_available()' 2>/dev/null &&
			return 0
	done
	return 1
}
parts=pushpull,engine
if [ "$ncpu" -ge 2 ] && have_torch; then
	parts=gloo,$parts
else
	echo "node-sweep: the gloo part is left out (needs 2 CPUs and torch with gloo)"
fi
timeout 600 "$script" --quick --rounds 2 --parts $parts --out "$work/o" >"$work/out" 2>"$work/err"
rc=$?
cat "$work/out"
[ "$rc" = 0 ] || { fail "node-sweep --quick: exit $rc"; cat "$work/err"; }
[ -s "$work/o/summary.md" ] || fail "no summary.md under --out"
# a table's rows after its title: "| a | b | ... |", figures > 0
rows() { # TITLE-PATTERN MIN-FIELDS
	awk -v pat="$1" -v nf="$2" '
		/^## / { on = ($0 ~ pat); next }
		on && /^\| [0-9a-z]/ && $0 !~ /---/ {
			n = split($0, f, " [|] ")
			if (n - 1 >= nf) ok++
		}
		END { print ok + 0 }' "$work/o/summary.md"
}
[ "$(rows "in one process" 7)" -ge 1 ] || fail "no row in the in-process push/pull table"
[ "$(rows 'between processes' 5)" -ge 2 ] || fail "not a row each for shm and tcp between processes"
grep -qE '^\| shm \| 65536 \| 1 \| [0-9.]+ \| [0-9.]+ \| 2 \|$' "$work/o/summary.md" ||
	fail "no shm row with 2 rounds of two efficiencies"
[ "$(rows 'update kernels' 5)" -ge 1 ] || fail "no row in the kernels table"
grep -qE '^\| sgd \| 65536 \| 1 \| 5-stream \| 0\.[0-9]+|^\| sgd \| 65536 \| 1 \| 5-stream \| [1-9]' \
	"$work/o/summary.md" || fail "no sgd ratio to its 5-stream reference"
if [[ $parts == gloo,* ]]; then
	grep -qE '^\| 262144 \| 2 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' \
		"$work/o/summary.md" || fail "no ring/gloo row for 256K at world 2"
fi
for f in engine-r1.csv engine-r2.csv raw-shm-64K-r1.txt pushpull-tcp-64K-t1-r2.csv; do
	[ -s "$work/o/$f" ] || fail "no raw output $f"
done
grep -q '^# [0-9]* s$' "$work/out" || fail "the last line is not the run's seconds alone"

# --time-limit: past it no run starts, the last line names what was
# skipped, and the run exits 0 with what it measured.  A stand-in
# rps_engine_bench that takes 2 s makes "past 1 s" certain after one run.
mkdir "$work/bin"
for p in rdma-ps rps_pushpull_bench rps_allreduce_bench rps_smoke; do
	printf '#!/bin/sh\nexit 1\n' >"$work/bin/$p"
done
printf '#!/bin/sh\nsleep 2\necho kernel,size,threads,ref,ratio\n' >"$work/bin/rps_engine_bench"
chmod +x "$work/bin"/*
"$script" --quick --rounds 3 --parts engine --time-limit 1 --bindir "$work/bin" \
	--out "$work/q" >"$work/out" 2>&1
rc=$?
[ "$rc" = 0 ] || fail "--time-limit 1: exit $rc"
grep -q '^# [0-9]* s; skipped: .*engine round 3$' "$work/out" ||
	fail "--time-limit 1: the last line does not name engine round 3 as skipped: $(tail -1 "$work/out")"
grep -q 'skipped: .*engine round 3$' "$work/q/summary.md" ||
	fail "--time-limit 1: summary.md does not say what was skipped"
[ -e "$work/q/engine-r3.csv" ] && fail "--time-limit 1: round 3 ran past the limit"
# and a failed run is exit 1, named in the last line
"$script" --quick --rounds 1 --parts pushpull --bindir "$work/bin" --out "$work/r" \
	>"$work/out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "a failing run: exit $rc, expected 1"
grep -q 'a run FAILED' "$work/out" || fail "a failing run: the last line does not say so"

[ "$fails" = 0 ] || exit 1
echo "node-sweep: ok"
