#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The link under rdma-ps and two workers (verbs, soft-RoCE) goes down for
# 4 s and comes back: `ip link set v0 down; sleep 4; ip link set v0 up`.
# Root only, on an rxe device over netdev v0 (the soft-RoCE tier's VM or
# host-rxe); it never touches a real NIC.  Every wait is bounded.
#
# What rxe does (kernel 6.1, asserted below): the rxe port goes DOWN with
# the link (rdma-ps logs "<dev>: port error"); each worker's next RDMA
# READ/WRITE fails ("lost the server at step N"), and while the port is
# down a reconnect finds no ACTIVE port.  After the link is back, the rdma
# CM of that rxe device stays broken: every connect times out waiting for
# RDMA_CM_EVENT_ESTABLISHED (a fresh rdma-ps and worker pair too), so the
# workers give up after --retry with one line and exit 1.  rdma-ps keeps
# running, reports both workers gone ("worker N left": its keepalive
# WRITEs fail on the dead connections, which nothing else would show
# while the workers are idle) and stops with exit 0 on SIGTERM.
# netem (tc qdisc ... netem loss 100%) would be no fault at all: with both
# ends on one address rxe loops its packets back without the qdisc.
# At exit the rxe device is deleted and added again, which repairs the CM
# for the tests that run after this one in the same VM.
set -uo pipefail
ps=./rdma-ps
worker=./rdma-worker
export OPENBLAS_NUM_THREADS=1
netdev=${RPS_NETFAULT_NETDEV:-v0}
dev=${RPS_SOFTROCE_DEV:-}

skip() { echo "SKIP: $*"; exit 77; }
[ -n "${RPS_TEST_ADDR:-}" ] || skip "no soft-RoCE address (RPS_TEST_ADDR)"
command -v ip >/dev/null || skip "no ip(8)"
command -v rdma >/dev/null || skip "no rdma(8) to repair the rxe device afterwards"
[ "$(id -u)" = 0 ] || skip "taking $netdev down needs root"
[ -n "$dev" ] || skip "no soft-RoCE device named (RPS_SOFTROCE_DEV)"
# only an rxe device on $netdev: the test takes that link down
rdma link show "$dev/1" 2>/dev/null | grep -q "netdev $netdev\b" ||
	skip "$dev is not on netdev $netdev"
# rxe devices name their netdev in "parent"; a real HCA has none
[ "$(cat "/sys/class/infiniband/$dev/parent" 2>/dev/null)" = "$netdev" ] ||
	skip "$dev is not a soft-RoCE device"
addr=$RPS_TEST_ADDR

tmp=$(mktemp -d)
pids=()
cleanup() {
	ip link set "$netdev" up
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	# a new rxe device: the old one's CM stays broken after the flap
	if rdma link delete "$dev" && rdma link add "$dev" type rxe netdev "$netdev"; then
		for _ in $(seq 100); do
			rdma link show "$dev/1" 2>/dev/null | grep -q "state ACTIVE" && break
			sleep 0.1
		done
	fi
	rdma link show "$dev/1" 2>/dev/null | grep -q "state ACTIVE" ||
		echo "WARNING: could not restore $dev on $netdev" >&2
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/ps-lib.sh"

"$ps" --provider verbs --listen "$addr" --port 0 --workers 2 --model softmax --features 16 \
	--classes 4 --algo asgd --lr 0.05 --status-interval 2 --log-level info \
	> "$tmp/ps.log" 2>&1 &
ps_pid=$!
pids+=($ps_pid)
wait_port "$tmp/ps.log" "$ps_pid"
for r in 0 1; do
	# --steps 0 and many epochs: still training when the link goes down
	"$worker" --provider verbs --server "$addr:$port" --rank $r --world 2 \
		--dataset synthetic:120000,16,4 --epochs 1000 --status-interval 2 \
		--retry 60 --timeout 10 > "$tmp/w$r.log" 2>&1 &
	wpid[r]=$!
	pids+=($!)
done
for r in 0 1; do
	wait_log "$tmp/w$r.log" "^rdma-worker $r/2: .* step [1-9][0-9]* " 120 ||
		{ cat "$tmp/w$r.log" "$tmp/ps.log"; fail "worker $r made no progress"; }
done

# ---- the fault -----------------------------------------------------------
echo "$(date +%T) ip link set $netdev down for 4 s"
ip link set "$netdev" down || fail "ip link set $netdev down"
sleep 4
ip link set "$netdev" up || fail "ip link set $netdev up"
echo "$(date +%T) $netdev up again"

# ---- workers: lost the server, could not reconnect, one line, exit 1 -----
# (--retry 60, connects of up to --timeout 10 s each, a slow emulated VM)
for r in 0 1; do
	log=$tmp/w$r.log
	wait_exit "${wpid[r]}" 240
	grep -v "(epoch end)" "$log" | tail -n 30
	[ "$rc" = 1 ] || fail "worker $r exited $rc, expected 1 (gave up reconnecting)"
	grep -Eq "^rdma-worker $r/2: lost the server at step [0-9]+ \(.*\): reconnecting for up to 60 s\$" "$log" ||
		fail "worker $r: no 'lost the server' line"
	grep -q "timed out waiting for RDMA_CM_EVENT_ESTABLISHED" "$log" ||
		fail "worker $r: its reconnects did not time out in the CM (rxe changed?)"
	grep -Eq "reconnected|done after" "$log" && fail "worker $r reconnected: rxe's CM survived the flap; update this test"
	# the last line is the one error: the step it stopped at and why
	last=$(tail -n 1 "$log")
	grep -Eq "^rdma-worker: step [0-9]+: Connection timed out\$" <<<"$last" ||
		fail "worker $r: last line is not one clear error: $last"
	echo "ok: worker $r: $last"
done

# ---- rdma-ps: saw the port go down and the workers go, still up ----------
grep -q "error: $dev: port error" "$tmp/ps.log" || { cat "$tmp/ps.log"; fail "rdma-ps did not log the port error"; }
for r in 0 1; do
	wait_log "$tmp/ps.log" "server: worker $r left after" 60 ||
		{ cat "$tmp/ps.log"; fail "rdma-ps still counts worker $r connected"; }
done
echo "ok: $(grep -E 'server: worker [01] left after' "$tmp/ps.log" | tr '\n' ' ')"
kill -0 "$ps_pid" 2>/dev/null || { cat "$tmp/ps.log"; fail "rdma-ps died with the link"; }
kill -TERM "$ps_pid"
wait_exit "$ps_pid" 60
grep -v "  version [0-9]*  pushes" "$tmp/ps.log"
grep "  version [0-9]*  pushes" "$tmp/ps.log" | tail -n 1
[ "$rc" = 0 ] || fail "rdma-ps exited $rc after SIGTERM"
for r in 0 1; do
	grep -Eq "^rdma-ps: worker $r: pushes [1-9][0-9]* .* protocol errors 0\$" "$tmp/ps.log" ||
		fail "rdma-ps summary: worker $r has no pushes"
done
echo PASS
