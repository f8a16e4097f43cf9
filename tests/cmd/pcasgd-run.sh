#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-worker --algo pc-asgd end to end over PROVIDER, no server:
#  1. 4 agents on a ring, started from different weights (--init-seed)
#     on label-skewed data: all end, every agent's distance to its
#     neighbours ("spread") shrinks by 3x and ends below 0.1, the loss
#     goes down, and the neighbours' copies were mixed in;
#  2. one agent slowed by --delay-ms: with theta 1, 0, 0.5 and auto the
#     others see its copies delayed and take the predicted, clipped,
#     mixed or chosen step (the counters say so; accuracies printed);
#  3. SIGTERM on one agent of a full graph of 3: it says goodbye (exit 3)
#     and the others train on;
#  4. SIGKILL on one agent: the others stop with exit 1 and a line naming
#     the lost neighbour within --timeout, no hang.
#  (and 3b: an agent started before its neighbour retries without printing
#  the refusals it expects)
#   pcasgd-run.sh PROVIDER      (run from the build directory)
set -uo pipefail
provider=$1
addr=${RPS_TEST_ADDR:-127.0.0.1}

. "$(dirname "$0")/ps-lib.sh"
run_setup "$provider"

# start NAME M DELAYS EXTRA...: M agents in the background, agent r with
# --delay-ms from the comma list DELAYS (the last entry repeats); with
# APART=1 each starts from its own weights (--init-seed 100+r)
start() {
	local name=$1 m=$2 delays=$3 base=$((20000 + RANDOM % 20000)) list= r d seed
	shift 3
	IFS=, read -ra dl <<< "$delays"
	for ((r = 0; r < m; r++)); do list+="${list:+,}$addr:$((base + r))"; done
	wp=()
	for ((r = 0; r < m; r++)); do
		d=${dl[r]:-${dl[-1]}}
		seed=()
		[ "${APART:-0}" = 1 ] && seed=(--init-seed $((100 + r)))
		./rdma-worker --provider "$provider" --algo pc-asgd --peers "$list" \
			--rank $r --world "$m" --dataset synthetic:4000,32,4 --model mlp:32 \
			--delay-ms "$d" --timeout 20 "${seed[@]}" "$@" > "$tmp/$name.$r.log" 2>&1 &
		wp[r]=$!
		pids+=("${wp[r]}")
	done
}

# wait_all NAME M RC: every agent exits RC within 120 s
wait_all() {
	local name=$1 m=$2 want=$3 r
	for ((r = 0; r < m; r++)); do
		wait_exit "${wp[r]}" 120
		[ "$rc" = "$want" ] ||
			{ cat "$tmp/$name.$r.log"; fail "$name: agent $r exited $rc, expected $want"; }
	done
}

# field NAME R SED-REGEX: group 1 of the last matching line of agent R's log
field() { sed -n "s/$3/\1/p" "$tmp/$1.$2.log" | tail -n 1; }
# gt A B: A > B as numbers
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

summary_re='.*pc-asgd: \([0-9]*\) neighbour copies mixed, \([0-9.]*\)% of them delayed.*'
choice_re='.*tensor steps: \([0-9]*\) predicted, \([0-9]*\) clipped, \([0-9]*\) mixed.*'

# ---- 1. consensus from different starting points ---------------------------
APART=1 start cons 4 1 --partition label-skew:0.5 --epochs 4 --eval-interval 10 \
	--status-interval 0
wait_all cons 4 0
cat "$tmp/cons.0.log"
for r in 0 1 2 3; do
	first=$(sed -n 's/.* spread \([0-9.]*\).*/\1/p' "$tmp/cons.$r.log" | head -n 1)
	last=$(field cons $r '.*spread at the end \([0-9.]*\).*')
	mixed=$(field cons $r "$summary_re")
	[ -n "$first" ] && [ -n "$last" ] || { cat "$tmp/cons.$r.log"; fail "agent $r printed no spread"; }
	gt "$mixed" 0 || fail "agent $r mixed no neighbour copy"
	gt 0.1 "$last" || fail "agent $r: spread at the end $last, not below 0.1"
	gt "$first" "$(awk -v l="$last" 'BEGIN { print 3 * l }')" ||
		fail "agent $r: spread $first at step 10, $last at the end: did not shrink 3x"
	lfirst=$(sed -n 's/.* loss \([0-9.]*\) .*/\1/p' "$tmp/cons.$r.log" | head -n 1)
	llast=$(sed -n 's/.* loss \([0-9.]*\) .*/\1/p' "$tmp/cons.$r.log" | tail -n 1)
	gt "$lfirst" "$llast" || fail "agent $r: loss $lfirst -> $llast did not go down"
	echo "ok: agent $r: spread $first at step 10 -> $last at the end, loss $lfirst -> $llast"
done

# ---- 2. a straggler: predicted, clipped, mixed, auto ------------------------
for theta in 1 0 0.5 auto; do
	start "t$theta" 4 1,12,1 --theta "$theta" --steps 200 --status-interval 0
	wait_all "t$theta" 4 0
	delayed=$(sed -n "s/$summary_re/\2/p" "$tmp/t$theta.0.log")
	read -r pred clip mix <<< "$(sed -n "s/$choice_re/\1 \2 \3/p" "$tmp/t$theta.0.log")"
	acc=$(field "t$theta" 0 '.*done after.*test accuracy \([0-9.]*\),.*')
	gt "$delayed" 0 || { cat "$tmp/t$theta.0.log"; fail "theta $theta: agent 0 saw no delayed copy"; }
	case $theta in
	1) gt "$pred" 0 && [ "$clip" = 0 ] && [ "$mix" = 0 ] ;;
	0) gt "$clip" 0 && [ "$pred" = 0 ] && [ "$mix" = 0 ] ;;
	0.5) gt "$mix" 0 && [ "$pred" = 0 ] && [ "$clip" = 0 ] ;;
	auto) gt $((pred + clip)) 0 && [ "$mix" = 0 ] ;;
	esac || { cat "$tmp/t$theta.0.log"; fail "theta $theta: tensor steps $pred predicted, $clip clipped, $mix mixed"; }
	echo "ok: theta $theta: agent 0 saw ${delayed}% of copies delayed; $pred predicted," \
		"$clip clipped, $mix mixed tensor steps; test accuracy $acc"
done

# ---- 3. SIGTERM: a goodbye, the others go on (full graph of 3) --------------
start term 3 2 --topology full --epochs 100000 --status-interval 1
for r in 0 1 2; do
	wait_log "$tmp/term.$r.log" "epoch 1 " 120 || { cat "$tmp/term.$r.log"; fail "agent $r did not train"; }
done
kill -TERM "${wp[2]}"
wait_exit "${wp[2]}" 30
[ "$rc" = 3 ] || { cat "$tmp/term.2.log"; fail "agent 2 exited $rc after SIGTERM, expected 3"; }
sleep 2
for r in 0 1; do
	kill -0 "${wp[r]}" 2>/dev/null || { cat "$tmp/term.$r.log"; fail "agent $r stopped when agent 2 said goodbye"; }
done
kill -TERM "${wp[0]}" "${wp[1]}"
for r in 0 1; do
	wait_exit "${wp[r]}" 30
	[ "$rc" = 3 ] || { cat "$tmp/term.$r.log"; fail "agent $r exited $rc after SIGTERM, expected 3"; }
done
echo "ok: an agent stopped by SIGTERM said goodbye, the others trained on"

# ---- 3b. a late neighbour: the early agent retries, quietly -----------------
# rank 1 connects to rank 0, which starts 1.5 s later: its refused tries
# are expected, so none is printed as an error
base=$((20000 + RANDOM % 20000))
late_peers="$addr:$base,$addr:$((base + 1))"
late() {
	./rdma-worker --provider "$provider" --algo pc-asgd --peers "$late_peers" --rank "$1" \
		--world 2 --dataset synthetic:2000,8,4 --steps 30 --status-interval 0 --timeout 30 \
		> "$tmp/late.$1.log" 2>&1 &
	wp[$1]=$!
	pids+=("${wp[$1]}")
}
late 1
sleep 1.5
late 0
wait_all late 2 0
grep -i "refused" "$tmp/late.1.log" && fail "the early agent printed its expected refusals"
echo "ok: an agent started 1.5 s before its neighbour waited for it without an error line"

# ---- 4. SIGKILL: the others stop, naming it, within --timeout ---------------
start kill 4 2 --epochs 100000 --status-interval 1 --timeout 5
wait_log "$tmp/kill.1.log" "epoch 1 " 120 || { cat "$tmp/kill.1.log"; fail "agent 1 did not train"; }
kill -9 "${wp[1]}"
t0=$SECONDS
for r in 0 2 3; do
	wait_exit "${wp[r]}" 60
	[ "$rc" = 1 ] || { cat "$tmp/kill.$r.log"; fail "agent $r exited $rc after a neighbour died, expected 1"; }
done
for r in 0 2; do
	grep -q "pc-asgd: lost neighbour rank 1 " "$tmp/kill.$r.log" ||
		{ cat "$tmp/kill.$r.log"; fail "agent $r does not name the lost neighbour rank 1"; }
done
echo "ok: the others stopped $((SECONDS - t0)) s after agent 1 was killed:"
grep -h "lost neighbour" "$tmp"/kill.[023].log
echo PASS
