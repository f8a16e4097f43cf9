#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Load: WORKERS rdma-worker processes against one rdma-ps over PROVIDER,
# STEPS pushes each, with an SSP bound.  Asserts every push was applied
# exactly once (the server's per-worker count equals the steps each
# worker made, nothing rejected, no protocol error), the push counts of
# the workers never spread beyond the bound in the server's status rows,
# and rdma-ps's resident memory did not grow between the first status
# row with every worker connected and the end.
#   load-run.sh PROVIDER WORKERS STEPS     (run from the build directory)
set -uo pipefail
provider=$1 M=$2 steps=$3
bound=4
addr=${RPS_TEST_ADDR:-127.0.0.1}

. "$(dirname "$0")/ps-lib.sh"
run_setup "$provider"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

./rdma-ps --provider "$provider" --listen "$addr" --port 0 --workers "$M" \
	--model softmax --features 16 --classes 4 --algo asgd --lr 0.05 \
	--max-staleness "$bound" --status-interval 1 --metrics "$tmp/ps.csv" > "$tmp/ps.log" 2>&1 &
ps_pid=$!
pids+=("$ps_pid")
wait_port "$tmp/ps.log" "$ps_pid"
for ((r = 0; r < M; r++)); do
	./rdma-worker --provider "$provider" --server "$addr:$port" --rank $r --world "$M" \
		--dataset synthetic:4000,16,4 --epochs 1000 --steps "$steps" --status-interval 0 \
		--delay-ms 5 --timeout 120 --retry 0 > "$tmp/w$r.log" 2>&1 &
	wp[r]=$!
	pids+=("${wp[r]}")
done
# resident memory once every worker is in (the layout is all allocated
# at start; connections add their buffers as they join).  Any status row
# counts, not only the log's last line: join and leave lines come between
# the rows.  The workers pause 5 ms a step (--delay-ms) so that each runs
# at least 1.5 s, whatever the transport: over shm a worker could finish
# before the last of the 32 had connected, and no row saw them all.
rss0=
for _ in $(seq 600); do
	if grep -q "workers $M/$M" "$tmp/ps.log"; then rss0=$(rss_kib "$ps_pid"); break; fi
	sleep 0.1
done
[ -n "$rss0" ] || { tail -3 "$tmp/ps.log"; fail "not all $M workers connected"; }
for ((r = 0; r < M; r++)); do
	wait "${wp[r]}" || { cat "$tmp/w$r.log"; fail "worker $r exited $?"; }
done
# still up (no --once: it must be there to be measured), then stopped
rss1=$(rss_kib "$ps_pid")
kill -TERM "$ps_pid"
wait "$ps_pid" || { cat "$tmp/ps.log"; fail "rdma-ps exited $? on SIGTERM"; }
tail -n $((M + 2)) "$tmp/ps.log"
for ((r = 0; r < M; r++)); do
	n=$(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/w$r.log")
	[ "$n" = "$steps" ] || fail "worker $r made ${n:-no} steps, expected $steps"
	grep -q "worker $r: pushes $steps .* rejected chunks 0  protocol errors 0\$" "$tmp/ps.log" ||
		fail "server: worker $r's $steps pushes not applied exactly once: $(grep "worker $r:" "$tmp/ps.log")"
done
# the SSP bound in the status rows (one a second: the runs are sized to
# last several seconds so that there are rows with every worker in): a worker that joins late starts
# behind the others by more than the bound (the bound holds workers back,
# it cannot move one forward), so the spread must first close; from then
# on, with every worker in, max - min <= bound + 1 (a row reads the
# workers one after the other, so one may move meanwhile)
awk -F, -v b="$bound" -v m="$M" '
	NR > 1 && $6 == m && $5 - $4 <= b + 1 { settled = 1 }
	NR > 1 && settled && $6 == m && $5 - $4 > b + 1 { print "row " NR ": " $0; bad = 1 }
	END { if (!settled) print "the push counts never came within the bound"; exit bad || !settled }' \
	"$tmp/ps.csv" || { cut -d, -f1-6 "$tmp/ps.csv"; fail "push counts spread beyond the bound $bound"; }
echo "rdma-ps resident memory: $rss0 KiB with $M workers in, $rss1 KiB at the end"
[ "$rss1" -le $((rss0 + rss0 / 10 + 1024)) ] || fail "rdma-ps grew from $rss0 to $rss1 KiB"
echo "PASS: $M workers x $steps pushes over $provider, every push applied once"
