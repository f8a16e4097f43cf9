#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End to end training over PROVIDER: rdma-ps + 2 rdma-worker processes on
# small synthetic data.  Asserts that the loss goes down, the model
# learns, the server saw every worker (its per-worker push counts equal
# the steps each worker made) and rdma-ps --once exits 0; then --steps
# with unequal shares and a --delay-ms straggler; then the same model
# sharded over two servers, and a wrong shard order refused.
# Exit 77 (SKIP) when the provider has no device here.
#   train-run.sh PROVIDER      (run from the build directory)
set -uo pipefail
provider=$1
addr=${RPS_TEST_ADDR:-127.0.0.1}
ps=./rdma-ps
worker=./rdma-worker

. "$(dirname "$0")/ps-lib.sh"
run_setup "$provider"
data="synthetic:2000,16,4"
common=(--provider "$provider" --dataset "$data" --model mlp:8 --status-interval 0 --timeout 30)

# start_ps LOG ARGS...: rdma-ps in the background; sets $port
start_ps() {
	local log=$1; shift
	"$ps" --provider "$provider" --listen "$addr" --port 0 --status-interval 0 \
		--model mlp:8 --features 16 --classes 4 "$@" > "$log" 2>&1 &
	pids+=($!)
	wait_port "$log" "${pids[-1]}"
}

# ---- 2 workers, dc-asgd-a, with a shared auth token --------------------------
printf 'train-run token %s\n' "$$" > "$tmp/token"
chmod 600 "$tmp/token"
start_ps "$tmp/ps.log" --once --workers 2 --algo dc-asgd-a --lr 0.05 --auth-token-file "$tmp/token"
ps_pid=${pids[-1]}
# without the token: refused, and the run below is not disturbed
err=$("$worker" "${common[@]}" --retry 0 --server "$addr:$port" --rank 0 --world 2 --epochs 1 2>&1) &&
	fail "a worker without the token was accepted"
grep -q "refused" <<<"$err" || fail "no token: $err"
grep -q "wrong or missing auth token" "$tmp/ps.log" || fail "rdma-ps did not log the refusal"
# refused workers say why, in one line, and do not retry what cannot
# change (--retry 120 would keep a mere "connection refused" going; the
# 60 s bound leaves room for a slow start on a loaded host or in the VM)
printf 'not the token\n' > "$tmp/wrong"
chmod 600 "$tmp/wrong"
refused() { # WHAT-IS-SAID WORKER-ARGS...
	local said=$1 rc=0 t0=$SECONDS; shift
	err=$("$worker" "${common[@]}" --retry 120 --server "$addr:$port" --epochs 1 "$@" 2>&1) ||
		rc=$?
	[ "$rc" = 1 ] || fail "refused worker ($*) exited $rc: $err"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "refused worker ($*) said more than one line: $err"
	grep -q "refused by the server: $said" <<<"$err" || fail "refused worker ($*): $err"
	[ $((SECONDS - t0)) -lt 60 ] || fail "refused worker ($*) kept retrying"
	echo "ok: $err"
}
refused "wrong or missing auth token" --auth-token-file "$tmp/wrong" --rank 0 --world 2
refused "the world size differs: this worker says 3, the server has 2" \
	--auth-token-file "$tmp/token" --rank 0 --world 3
refused "the model size differs" --auth-token-file "$tmp/token" --rank 1 --world 2 --model mlp:9
for r in 0 1; do
	"$worker" "${common[@]}" --auth-token-file "$tmp/token" --server "$addr:$port" \
		--rank $r --world 2 --epochs 3 \
		--metrics "$tmp/w$r.csv" > "$tmp/w$r.log" 2>&1 &
	wpid[r]=$!
done
for r in 0 1; do
	wait "${wpid[r]}" || { cat "$tmp/w$r.log"; fail "worker $r exited $?"; }
done
rc=0; wait "$ps_pid" || rc=$?
cat "$tmp/ps.log" "$tmp/w0.log" "$tmp/w1.log"
[ "$rc" = 0 ] || fail "rdma-ps --once exited $rc"
for r in 0 1; do
	csv=$tmp/w$r.csv
	grep -q '^time_s,rank,world,epoch,step,loss,' "$csv" || fail "worker $r: no CSV header"
	[ "$(grep -c '^[0-9]' "$csv")" = 3 ] || fail "worker $r: expected 3 epoch rows"
	# loss (column 6) of the last epoch below the first's; test-acc (8) learnt
	awk -F, 'NR == 2 { first = $6 } END { if (!($6 < first)) exit 1 }' "$csv" ||
		fail "worker $r: the loss did not go down"
	tail -1 "$csv" | awk -F, '{ if (!($8 > 0.6)) exit 1 }' ||
		fail "worker $r: test accuracy not above 0.6"
	steps=$(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/w$r.log")
	[ -n "$steps" ] && [ "$steps" -gt 0 ] || fail "worker $r: no final line"
	grep -q "worker $r: pushes $steps " "$tmp/ps.log" ||
		fail "server did not apply worker $r's $steps pushes"
done
grep -q "every worker has left" "$tmp/ps.log" || fail "rdma-ps did not stop by --once"

# ---- equal work on unequal shares, and a straggler ---------------------------
# --steps without --epochs: both workers make exactly 60 steps although
# label skew gives them shares of different sizes (they go round theirs);
# rank 1 sleeps 100 ms a step (--delay-ms), so it takes at least 6 s and
# rank 0's pushes land between its own: its staleness rises above 1 (20 ms
# was too short in the emulated soft-RoCE VM, where rank 0's start alone
# took longer than the straggler's whole run)
start_ps "$tmp/eq.log" --once --workers 2 --algo asgd --lr 0.05
eq_pid=${pids[-1]}
eq=(--server "$addr:$port" --world 2 --partition label-skew:0.1 --steps 60)
"$worker" "${common[@]}" "${eq[@]}" --rank 1 --delay-ms 100 > "$tmp/eq1.log" 2>&1 &
eq1=$!
# rank 0 once the straggler trains, so that their steps overlap
wait_log "$tmp/eq1.log" "placement" 30 || { cat "$tmp/eq1.log"; fail "straggler did not start"; }
"$worker" "${common[@]}" "${eq[@]}" --rank 0 > "$tmp/eq0.log" 2>&1 ||
	{ cat "$tmp/eq0.log"; fail "--steps worker 0 failed"; }
wait "$eq1" || { cat "$tmp/eq1.log"; fail "straggler exited $?"; }
rc=0; wait "$eq_pid" || rc=$?
cat "$tmp/eq0.log" "$tmp/eq1.log" "$tmp/eq.log"
[ "$rc" = 0 ] || fail "rdma-ps --once exited $rc"
shares=
for r in 0 1; do
	grep -q "done after 60 steps" "$tmp/eq$r.log" || fail "worker $r did not make 60 steps"
	grep -q "(steps done)" "$tmp/eq$r.log" || fail "worker $r: no final '(steps done)' line"
	grep -q "worker $r: pushes 60 " "$tmp/eq.log" || fail "server did not apply 60 pushes of $r"
	shares+=" $(sed -n 's/.*; \([0-9]*\) of [0-9]* training samples.*/\1/p' "$tmp/eq$r.log")"
done
set -- $shares
[ "$1" != "$2" ] || fail "label skew gave equal shares ($shares): the test shows nothing"
t1=$(sed -n 's/.*done after 60 steps in \([0-9.]*\) s.*/\1/p' "$tmp/eq1.log")
awk -v t="$t1" 'BEGIN { exit !(t >= 6.0) }' || fail "straggler took $t1 s, under 60 x 100 ms"
smax=$(sed -n 's/.*worker 1: pushes 60 .*max \([0-9]*\).*/\1/p' "$tmp/eq.log")
[ "${smax:-0}" -gt 1 ] || fail "straggler's staleness max is ${smax:-none}, not above 1"

# ---- one worker, the model sharded over two servers ------------------------
# (no --once: the refused attempt below also joins and leaves)
start_ps "$tmp/s0.log" --workers 1 --algo sgd --lr 0.05 --shard 0/2
p0=$port s0_pid=${pids[-1]}
start_ps "$tmp/s1.log" --workers 1 --algo sgd --lr 0.05 --shard 1/2
p1=$port s1_pid=${pids[-1]}
# the wrong order is refused before any step, naming the problem
err=$("$worker" "${common[@]}" --retry 0 --server "$addr:$p1,$addr:$p0" --epochs 1 2>&1) && fail "wrong shard order accepted"
grep -q "shard" <<<"$err" || fail "wrong shard order: $err"
"$worker" "${common[@]}" --server "$addr:$p0,$addr:$p1" --epochs 2 > "$tmp/ws.log" 2>&1 ||
	{ cat "$tmp/ws.log" "$tmp/s0.log" "$tmp/s1.log"; fail "sharded worker failed"; }
cat "$tmp/ws.log"
acc=$(sed -n 's/.*test accuracy \([0-9.]*\),.*/\1/p' "$tmp/ws.log")
awk -v a="$acc" 'BEGIN { if (!(a > 0.6)) exit 1 }' || fail "sharded run: test accuracy $acc"
steps=$(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/ws.log")
kill -TERM "$s0_pid" "$s1_pid"
for s in 0 1; do
	rc=0; if [ $s = 0 ]; then wait "$s0_pid" || rc=$?; else wait "$s1_pid" || rc=$?; fi
	[ "$rc" = 0 ] || { cat "$tmp/s$s.log"; fail "shard $s exited $rc after SIGTERM"; }
	grep -q "worker 0: pushes $steps " "$tmp/s$s.log" ||
		{ cat "$tmp/s$s.log"; fail "shard $s did not apply $steps pushes"; }
done
echo PASS
