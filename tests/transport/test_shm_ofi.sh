#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# libfabric's shm under the ofi provider, both ways it is used:
#   auto  shm next to tcp (the default): processes of one host that
#         connect over tcp move their data over shm (ofi_shm.c);
#   rdm   RPS_OFI_PROVIDER=shm: the RDM mode alone (ofi_rdm.c).
# For each: the transport conformance suite (auto: RPS_OFI_SHM=force,
# which takes shm between transports of one process, as the harness
# runs); a ring allreduce of 3 forked ranks, results checked; a job of
# rdma-ps and two rdma-workers that trains and ends when the workers
# leave; a worker killed mid-run.  Then RPS_OFI_SHM=0 keeps a job on tcp.
# Run from the build directory.  Exit 0 pass, 1 fail, 77 skip (no shm).
set -uo pipefail
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# ---- conformance (its harness skips when shm cannot open) ----
rc=0
RPS_OFI_PROVIDER=shm tests/transport/test_conformance_ofi > "$tmp/conf.log" 2>&1 || rc=$?
grep -q '^# provider ofi, device shm/' "$tmp/conf.log" || {
	cat "$tmp/conf.log"
	[ "$rc" = 77 ] && { echo "SKIP: libfabric has no usable shm provider here"; exit 77; }
	fail "conformance did not run on shm (exit $rc)"
}
grep -E '^\[  (PASSED|FAILED|ERROR) ' "$tmp/conf.log"
[ "$rc" = 0 ] || { cat "$tmp/conf.log"; fail "conformance on shm (RDM mode) exited $rc"; }
rc=0
RPS_OFI_SHM=force RPS_LOG_LEVEL=debug tests/transport/test_conformance_ofi > "$tmp/conf2.log" 2>&1 || rc=$?
grep -E '^\[  (PASSED|FAILED|ERROR) ' "$tmp/conf2.log"
[ "$rc" = 0 ] || { cat "$tmp/conf2.log"; fail "conformance on shm next to tcp exited $rc"; }
grep -q 'data over shm' "$tmp/conf2.log" || fail "RPS_OFI_SHM=force: no connection moved to shm"

for mode in rdm auto; do
if [ $mode = rdm ]; then
	export RPS_OFI_PROVIDER=shm
	on_shm() { grep -q 'shm/' "$1"; } # the device is shm's
else
	unset RPS_OFI_PROVIDER
	export RPS_LOG_LEVEL=debug
	on_shm() { grep -q 'data over shm' "$1"; }
fi
echo "# ---- $mode ----"
# ---- the ring across processes: every result checked (#wrong 0) ----
out=$(./bench/rps_allreduce_bench -P ofi --world 3 -b 4 -e 4M -f 32 -n 3 -w 1 -c 1 2>&1) ||
	fail "rps_allreduce_bench on shm ($mode) exited $?: $out"
echo "$out" > "$tmp/ring.log"
grep -v 'debug:' "$tmp/ring.log"
on_shm "$tmp/ring.log" || fail "rps_allreduce_bench did not run on shm ($mode)"
rows=$(grep -cE '^ +[0-9]+ +[0-9]+ +float +sum ' <<<"$out")
[ "$rows" = 5 ] || fail "expected 5 sizes, got $rows"
awk '/^ +[0-9]+ +[0-9]+ +float +sum / && $NF != 0 { exit 1 }' <<<"$out" || fail "wrong results"

# ---- a job: rdma-ps, two workers; then one killed mid-run ----
once=--once
start_ps() { # $1: log; rdma-ps $once
	./rdma-ps -P ofi -p 0 $once --status-interval 0 --log-level info -w 2 -a asgd --lr 0.05 --model mlp:16 \
		--features 784 --classes 4 --seed 1 > "$1" 2>&1 &
	ps_pid=$!
	pids+=($ps_pid)
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$1" | head -1)
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	cat "$1"; fail "rdma-ps did not listen"
}
worker() { # rank steps delay-ms log
	exec ./rdma-worker -P ofi -s "127.0.0.1:$port" -r "$1" -w 2 --model mlp:16 \
		--dataset synthetic:1200,784,4 --batch 32 --steps "$2" --seed 1 \
		--status-interval 0 --delay-ms "$3" > "$4" 2>&1
}
start_ps "$tmp/ps.log"
worker 0 150 0 "$tmp/w0.log" & w0=$!
worker 1 150 0 "$tmp/w1.log" & w1=$!
wait $w0 || { cat "$tmp/w0.log" "$tmp/ps.log"; fail "worker 0 failed"; }
wait $w1 || { cat "$tmp/w1.log" "$tmp/ps.log"; fail "worker 1 failed"; }
on_shm "$tmp/w0.log" || { cat "$tmp/w0.log"; fail "worker 0 is not on shm ($mode)"; }
acc=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$tmp/w0.log")
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' || { cat "$tmp/w0.log"; fail "trained to '$acc'"; }
echo "job on shm ($mode): test accuracy $acc"
# --once: the server ends, status 0, as the last worker leaves
for _ in $(seq 100); do kill -0 $ps_pid 2>/dev/null || break; sleep 0.1; done
wait $ps_pid || { cat "$tmp/ps.log"; fail "rdma-ps --once exited $?"; }

# ---- a worker killed (SIGKILL) while it trains: rdma-ps sees it leave
# (the control socket's end) and stays up, the other worker finishes.
# Without --once here: the server keeps a killed worker's slot for its
# restart.  Before RDM mode's CQ lock, shm's progress crashed rdma-ps in
# this case (rps_ofi_cq.rdm_lock). ----
once=
start_ps "$tmp/ps2.log"
worker 1 100000 5 "$tmp/k1.log" & k1=$!
sleep 1
worker 0 150 0 "$tmp/k0.log" & k0=$!
sleep 0.3
kill -9 $k1
# shm cannot remove a killed process's files (pid:index:n); rdmaps
# removed each one's name once the peer had mapped it
wait $k1 2>/dev/null
left=$(ls /dev/shm/ 2>/dev/null | grep "^$k1:" || true)
[ -z "$left" ] || { rm -f /dev/shm/"$k1":*; fail "the killed worker left /dev/shm files: $left"; }
wait $k0 || { cat "$tmp/k0.log" "$tmp/ps2.log"; fail "worker 0 failed after worker 1 was killed"; }
for _ in $(seq 50); do grep -q 'worker 1 left' "$tmp/ps2.log" && break; sleep 0.1; done
grep -q 'worker 1 left' "$tmp/ps2.log" || { cat "$tmp/ps2.log"; fail "rdma-ps did not log worker 1 leaving"; }
kill -0 $ps_pid 2>/dev/null || { cat "$tmp/ps2.log"; fail "rdma-ps died after a worker was killed"; }
echo "killed worker ($mode): rdma-ps saw it leave and is still up"
kill $ps_pid; wait $ps_pid 2>/dev/null
done

# ---- RPS_OFI_SHM=0: the same job stays on tcp ----
once=--once
RPS_OFI_SHM=0 start_ps "$tmp/ps3.log"
RPS_OFI_SHM=0 worker 0 50 0 "$tmp/t0.log" & t0=$!
RPS_OFI_SHM=0 worker 1 50 0 "$tmp/t1.log" & t1=$!
wait $t0 && wait $t1 || { cat "$tmp/t0.log" "$tmp/t1.log" "$tmp/ps3.log"; fail "job with RPS_OFI_SHM=0 failed"; }
for _ in $(seq 100); do kill -0 $ps_pid 2>/dev/null || break; sleep 0.1; done
wait $ps_pid || { cat "$tmp/ps3.log"; fail "rdma-ps --once (RPS_OFI_SHM=0) exited $?"; }
! on_shm "$tmp/t0.log" || { cat "$tmp/t0.log"; fail "RPS_OFI_SHM=0: a connection moved to shm"; }
grep -q 'connected to' "$tmp/t0.log" || { cat "$tmp/t0.log"; fail "RPS_OFI_SHM=0: no debug log to judge by"; }
echo "RPS_OFI_SHM=0: on tcp"

# ---- a worker of another user: stays on tcp (each end must open the
# other's 0600 shm file; root could, the worker could not) ----
if [ "$(id -u)" = 0 ] && command -v runuser > /dev/null && id nobody > /dev/null 2>&1 &&
	runuser -u nobody -- test -x ./rdma-worker; then
	start_ps "$tmp/ps4.log"
	chmod 777 "$tmp"
	runuser -u nobody -- bash -c "$(declare -f worker); port=$port; worker 0 50 0 $tmp/u0.log" &
	u0=$!
	worker 1 50 0 "$tmp/u1.log" & u1=$!
	wait $u0 && wait $u1 || { cat "$tmp/u0.log" "$tmp/ps4.log"; fail "a worker of another user failed"; }
	! on_shm "$tmp/u0.log" || { cat "$tmp/u0.log"; fail "a worker of another user moved to shm"; }
	grep -q 'connected to' "$tmp/u0.log" || { cat "$tmp/u0.log"; fail "another user: no debug log to judge by"; }
	on_shm "$tmp/u1.log" || { cat "$tmp/u1.log"; fail "the root worker did not move to shm"; }
	for _ in $(seq 100); do kill -0 $ps_pid 2>/dev/null || break; sleep 0.1; done
	wait $ps_pid || { cat "$tmp/ps4.log"; fail "rdma-ps --once (two users) exited $?"; }
	echo "another user: on tcp, the same user's worker on shm"
else
	echo "# not root, or no runuser/nobody: the two-user case is not run"
fi
echo PASS
