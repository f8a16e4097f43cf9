#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-worker --algo dc-s3gd end to end over PROVIDER: 3 workers and no
# server train on synthetic data, once with one allreduce in flight and
# once with two.  Asserts every worker made the same steps, the loss went
# down, and all of them end with the same model (their final test loss
# and accuracy lines are equal: the ring's sums are bitwise identical);
# then kills one worker mid-run and asserts the others stop with an error
# naming the allreduce within --timeout instead of hanging.
#   s3gd-run.sh PROVIDER      (run from the build directory)
set -uo pipefail
provider=$1
addr=${RPS_TEST_ADDR:-127.0.0.1}
M=3

. "$(dirname "$0")/ps-lib.sh"
run_setup "$provider"

# peers on ports base, base+10, ...: ring k of rank r listens on base+10r+k
peers() {
	local base=$1 list= r
	for ((r = 0; r < M; r++)); do list+="${list:+,}$addr:$((base + 10 * r))"; done
	echo "$list"
}

# run NAME STALENESS STEPS EXTRA...: starts the M workers in the background
start() {
	local name=$1 s=$2 base=$((20000 + RANDOM % 20000)); shift 2
	wp=()
	for ((r = 0; r < M; r++)); do
		./rdma-worker --provider "$provider" --algo dc-s3gd --peers "$(peers "$base")" \
			--rank $r --world $M --staleness "$s" --dataset synthetic:3000,16,4 \
			--status-interval 0 --timeout 20 "$@" > "$tmp/$name.$r.log" 2>&1 &
		wp[r]=$!
		pids+=("${wp[r]}")
	done
}

for s in 1 2; do
	start "s$s" "$s" --epochs 3 --lr 0.05
	for ((r = 0; r < M; r++)); do
		wait "${wp[r]}" || { cat "$tmp/s$s.$r.log"; fail "staleness $s: worker $r exited $?"; }
	done
	cat "$tmp/s$s.0.log"
	final=$(sed -n 's/.*done after \([0-9]*\) steps in [0-9.]* s: \(.*\)/\1 \2/p' "$tmp/s$s.0.log" |
		sed 's/, train accuracy.*//')
	[ -n "$final" ] || fail "staleness $s: worker 0 printed no final line"
	for ((r = 1; r < M; r++)); do
		other=$(sed -n 's/.*done after \([0-9]*\) steps in [0-9.]* s: \(.*\)/\1 \2/p' \
			"$tmp/s$s.$r.log" | sed 's/, train accuracy.*//')
		[ "$other" = "$final" ] ||
			fail "staleness $s: worker $r ended with '$other', worker 0 with '$final'"
	done
	first=$(sed -n 's/.*epoch 1 .* loss \([0-9.]*\) .*/\1/p' "$tmp/s$s.0.log")
	last=$(sed -n 's/.*epoch 3 .* loss \([0-9.]*\) .*/\1/p' "$tmp/s$s.0.log")
	awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' ||
		fail "staleness $s: loss did not go down ($first -> $last)"
	grep -q "staleness mean [0-9.]* max $s " "$tmp/s$s.0.log" ||
		fail "staleness $s: the progress lines do not show staleness $s"
	grep -q "of the allreduce hidden behind computation" "$tmp/s$s.0.log" ||
		fail "staleness $s: no overlap line"
	echo "ok: staleness $s: $M workers, the same model at the end: $final"
done

# a worker killed mid-run: the others fail (exit 1) within the timeout
# (killed once it trains: a slow VM can take more than seconds to set up
# its rings, and a kill then is a failed start, not a lost allreduce)
start kill 1 --epochs 1000 --timeout 5
wait_log "$tmp/kill.1.log" "epoch 1 " 120 || { cat "$tmp/kill.1.log"; fail "worker 1 did not train"; }
kill -9 "${wp[1]}"
t0=$SECONDS
for r in 0 2; do
	wait "${wp[r]}"
	rc=$?
	[ "$rc" = 1 ] || { cat "$tmp/kill.$r.log"; fail "worker $r exited $rc after its peer died, expected 1"; }
	grep -q "dc-s3gd: allreduce" "$tmp/kill.$r.log" ||
		{ cat "$tmp/kill.$r.log"; fail "worker $r does not name the allreduce that failed"; }
done
echo "ok: the others stopped $((SECONDS - t0)) s after a peer was killed:"
grep -h "dc-s3gd: allreduce" "$tmp/kill.0.log" "$tmp/kill.2.log"
echo PASS
