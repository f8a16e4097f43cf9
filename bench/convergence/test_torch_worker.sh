#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Self-check of bench/convergence/torch_worker.py: bad options exit 2 with
# one line; --save-init feeds rdma-ps --init-weights, and two workers train
# against it (metrics CSV, final line, staleness as rdma-ps counts it); two
# dc-s3gd runs without a server (lambda 0, adaptive); SIGTERM ends a worker
# at once.  All over ofi on 127.0.0.1 on synthetic data.
#   test_torch_worker.sh [BINDIR]
# BINDIR (or $BINDIR): the directory with rdma-ps (and .libs/librdmaps.so.1);
# without it the current directory, then PATH.  The interpreter: $RPS_PYTHON,
# else /usr/bin/python3.  Exit 0 pass, 1 fail, 77 skip (it cannot import
# torch, or no rdma-ps was found when none was named).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
worker=$here/torch_worker.py
# shellcheck source=../../tests/cmd/ps-lib.sh
. "$srcdir/tests/cmd/ps-lib.sh"

py=${RPS_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import numpy, torch' 2>/dev/null; then
	echo "SKIP: $py cannot import numpy and torch (install python3-torch, or set RPS_PYTHON)"
	exit 77
fi
bindir=${1:-${BINDIR:-}}
if [ -n "$bindir" ]; then
	# named explicitly: a wrong one is a failure, not a skip
	[ -x "$bindir/rdma-ps" ] || fail "no executable rdma-ps in $bindir"
elif [ -x ./rdma-ps ]; then
	bindir=.
elif command -v rdma-ps >/dev/null; then
	bindir=$(dirname "$(command -v rdma-ps)")
else
	echo "SKIP: rdma-ps not found (run from the build directory or give BINDIR)"
	exit 77
fi
bindir=$(cd "$bindir" && pwd)
export PYTHONPATH=$srcdir/python${PYTHONPATH:+:$PYTHONPATH}
[ -e "$bindir/.libs/librdmaps.so.1" ] && export RDMAPS_LIBRARY=$bindir/.libs/librdmaps.so.1
# a sanitizer build's library needs the ASan runtime loaded first, which
# python is not built with: preload it, leak checks off (the interpreter's
# allocations at exit are not ours), as tests/python/run-py does
if ${OBJDUMP:-objdump} -p "${RDMAPS_LIBRARY:-/nonexistent}" 2>/dev/null | grep -q 'NEEDED.*libasan'; then
	LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)${LD_PRELOAD:+ $LD_PRELOAD}"
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export LD_PRELOAD ASAN_OPTIONS
fi
export PYTHONDONTWRITEBYTECODE=1
run_setup
t_start=$SECONDS

# tw ARGS...: one worker in the foreground (killed after 60 s); sets $rc
tw() {
	"$py" "$worker" "$@" &
	pids+=("$!")
	wait_exit $! 60
}

# pair NAME ARGS...: ranks 0 and 1 of a world of 2 with ARGS, their output
# in $tmp/NAME{0,1}.log and metrics in $tmp/NAME{0,1}.csv; both must exit 0
pair() {
	local name=$1 r
	local -a wp=()
	shift
	for r in 0 1; do
		"$py" "$worker" -P ofi -r "$r" -w 2 -D synthetic:2000,784,4 --steps 60 \
			--metrics "$tmp/$name$r.csv" "$@" > "$tmp/$name$r.log" 2>&1 &
		wp[r]=$!
		pids+=("$!")
	done
	for r in 0 1; do
		wait_exit "${wp[r]}" 60
		[ "$rc" = 0 ] || fail "$name: worker $r ($*) exited $rc: $(cat "$tmp/$name$r.log")"
		check_final "$tmp/$name$r.log" "$r"
	done
}

# check_final LOG R: the final line of rank R, with a test accuracy > 0.5
check_final() {
	local line re='^torch_worker [0-9]+/2: done: 60 steps in [0-9.]+ s \(steps done\), test accuracy ([0-9.]+), test loss [0-9.]+$'
	line=$(grep "^torch_worker $2/2: done: " "$1" | tail -1)
	[[ $line =~ $re ]] || fail "$1: no final line: $(cat "$1")"
	awk -v a="${BASH_REMATCH[1]}" 'BEGIN { exit !(a > 0.5) }' ||
		fail "$1: final test accuracy ${BASH_REMATCH[1]} is not above 0.5"
}

# ---- (a) usage errors: exit 2, one line on stderr -------------------------------
# full command lines, all started at once (python's start is slow on a busy
# machine); the last one must also name the Debian package
ok=(-s 127.0.0.1:1 --steps 5 -D "synthetic:400,784,4")
bad=(
	"${ok[*]} --partition label-skew:0"
	"${ok[*]} --steps 0"
	"${ok[*]} -r 2 -w 2"
	"${ok[*]} --model mlp"
	"${ok[*]} -D synthetic:400,16,4"
	"${ok[*]} --lr 0.1"
	"${ok[*]} --algo dc-s3gd"
	"${ok[*]} --lr-schedule step:0,0.5"
	"${ok[*]} -s 127.0.0.1:1:2"
	"--steps 5"
	"--algo dc-s3gd -w 2 --steps 5"
	"--algo dc-s3gd -w 2 --peers 127.0.0.1:1 --steps 5"
	"${ok[*]} -D fashion-mnist:$tmp/no-such-dir"
)
bad_pids=()
for i in "${!bad[@]}"; do
	# shellcheck disable=SC2086 # the words of one case
	"$py" "$worker" ${bad[i]} > "$tmp/out$i" 2> "$tmp/err$i" &
	bad_pids[i]=$!
	pids+=("$!")
done
for i in "${!bad[@]}"; do
	wait_exit "${bad_pids[i]}" 60
	[ "$rc" = 2 ] || fail "'${bad[i]}': exit $rc, expected 2: $(cat "$tmp/err$i")"
	[ "$(wc -l < "$tmp/err$i")" = 1 ] && grep -q '^torch_worker: ' "$tmp/err$i" ||
		fail "'${bad[i]}': not one line on stderr: $(cat "$tmp/err$i")"
done
grep -q 'Debian package dataset-fashion-mnist' "$tmp/err$i" ||
	fail "a missing dataset does not name its package: $(cat "$tmp/err$i")"
echo "ok: ${#bad[@]} bad command lines exit 2 with one line ($((SECONDS - t_start)) s)"

# ---- (b) --save-init, rdma-ps and two workers -----------------------------------
t0=$SECONDS
tw --save-init "$tmp/init.weights" > "$tmp/save.log" 2>&1
[ "$rc" = 0 ] && [ -s "$tmp/init.weights" ] || fail "--save-init: exit $rc: $(cat "$tmp/save.log")"
"$bindir/rdma-ps" -P ofi -p 0 --once -w 2 --init-weights "$tmp/init.weights" --algo asgd \
	--lr 0.05 --status-interval 0 --metrics "$tmp/ps.csv" > "$tmp/ps.log" 2>&1 &
ps_pid=$!
pids+=("$ps_pid")
wait_port "$tmp/ps.log" "$ps_pid"
pair w -s "127.0.0.1:$port" --eval-interval 20
wait_exit "$ps_pid" 30
[ "$rc" = 0 ] || fail "rdma-ps exited $rc: $(cat "$tmp/ps.log")"

stale=
header=time_s,rank,world,epoch,step,loss,train_acc,test_acc,test_loss,steps_per_s,staleness_mean,staleness_max,rejected
for r in 0 1; do
	csv=$tmp/w$r.csv
	[ "$(head -1 "$csv")" = "$header" ] || fail "w$r.csv header: $(head -1 "$csv")"
	[ "$(awk -F, -v r="$r" 'NR > 1 && $2 == r && $3 == 2 && NF == 13 { printf "%s ", $5 }' \
		"$csv")" = "20 40 60 " ] || fail "w$r.csv: not one row at steps 20, 40, 60: $(cat "$csv")"
	# the staleness this worker measured is the one rdma-ps counted for it
	read -r mean max < <(tail -1 "$csv" | awk -F, '{ print $11, $12 }')
	read -r ps_mean ps_max < <(sed -n "s/.*worker $r: pushes [0-9]*  staleness mean \([0-9.]*\) max \([0-9]*\).*/\1 \2/p" "$tmp/ps.log")
	awk -v a="$mean" -v b="${ps_mean:-x}" -v x="$max" -v y="${ps_max:-x}" \
		'BEGIN { d = a - b; e = x - y; exit !(b != "x" && d * d < 0.01 && e * e <= 1) }' ||
		fail "worker $r: staleness mean $mean max $max, rdma-ps says: $(grep "worker $r:" "$tmp/ps.log")"
	stale+=" worker $r mean $mean max $max (rdma-ps $ps_mean, $ps_max);"
done
awk -F, 'END { exit !($8 > 0.5) }' "$tmp/w0.csv" || fail "w0.csv: final test_acc not above 0.5"
echo "ok: --save-init, rdma-ps and 2 workers ($((SECONDS - t0)) s): staleness$stale" \
	"rank 0's last row $(tail -1 "$tmp/w0.csv")"

# ---- (c) dc-s3gd, no server ----------------------------------------------------
# rank r listens on base + 10 r and, with --staleness S, the S-1 ports after it
base=$((20000 + RANDOM % 20000))
# "S OPTIONS": S3GD (lambda 0), then the adaptive lambda (the default)
for run in "1 --lambda 0" "2 --staleness 2"; do
	t0=$SECONDS
	read -r s how <<< "$run"
	# shellcheck disable=SC2086
	pair s --algo dc-s3gd --peers "127.0.0.1:$base,127.0.0.1:$((base + 10))" $how --eval-interval 30
	for r in 0 1; do
		grep -Eq "^torch_worker $r/2: dc-s3gd: one allreduce alone [0-9.]+ ms, waited [0-9.]+ ms per step: [0-9]+% of the allreduce hidden behind computation$" \
			"$tmp/s$r.log" || fail "dc-s3gd $how: worker $r: no overlap line: $(cat "$tmp/s$r.log")"
	done
	awk -F, -v s="$s" 'NR > 1 && ($11 != s ".000" || $12 != s) { bad = 1 } END { exit bad || NR != 3 }' \
		"$tmp/s0.csv" || fail "dc-s3gd $how: not 2 rows with staleness $s: $(cat "$tmp/s0.csv")"
	echo "ok: dc-s3gd $how ($((SECONDS - t0)) s): $(grep ' done: ' "$tmp/s0.log")"
	rm -f "$tmp"/s?.csv
	base=$((base + 1))
done

# ---- SIGTERM: a worker waiting for a peer that never comes ends at once ---------
t0=$SECONDS
"$py" "$worker" -P ofi --algo dc-s3gd --peers "127.0.0.1:$base,127.0.0.1:$((base + 10))" \
	-r 0 -w 2 -D synthetic:400,784,4 --steps 5 > "$tmp/term.log" 2>&1 &
pid=$!
pids+=("$pid")
# once libfabric is loaded (and with it providers that catch signals
# unless told not to) and the ring waits for its peer
wait_log "/proc/$pid/maps" libfabric 30 || fail "the worker did not load libfabric"
sleep 0.5
kill -TERM "$pid"
wait_exit "$pid" 3
[ "$rc" = 143 ] || fail "SIGTERM: exit $rc, expected 143 (killed by it): $(cat "$tmp/term.log")"
echo "ok: SIGTERM ends a waiting worker at once ($((SECONDS - t0)) s)"

echo "PASS: torch_worker.py in $((SECONDS - t_start)) s"
exit 0
