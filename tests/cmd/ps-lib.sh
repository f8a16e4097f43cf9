# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the rdma-ps/rdma-worker test scripts (tests/cmd): the one
# way they set up, report a failure and wait for a backgrounded rdma-ps.

fail() { echo "FAIL: $*"; exit 1; }

# run_setup [PROVIDER]: skips (exit 77) a verbs run without a soft-RoCE
# address; makes the scratch directory $tmp and an EXIT trap that kills
# every process in $pids and removes $tmp
run_setup() {
	if [ "${1:-}" = verbs ] && [ -z "${RPS_TEST_ADDR:-}" ]; then
		echo "SKIP: no soft-RoCE/RDMA address (RPS_TEST_ADDR) for verbs"
		exit 77
	fi
	export OPENBLAS_NUM_THREADS=1
	tmp=$(mktemp -d)
	pids=()
	trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
}

# wait_port LOG PID: waits (up to 20 s) for rdma-ps PID's banner in LOG and
# sets $port; fails with the log if the server dies or prints no port.
# The first match: with --log-level info the library logs the port too.
wait_port() {
	local log=$1 pid=$2
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log" | head -n 1)
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "rdma-ps died at start"; }
		sleep 0.1
	done
	cat "$log"
	fail "rdma-ps printed no port"
}

# wait_log FILE REGEX SEC: 0 once FILE has a line matching REGEX (grep -E),
# 1 after SEC seconds without one
wait_log() {
	local file=$1 re=$2 n=$(($3 * 10))
	while [ "$n" -gt 0 ]; do
		grep -Eq -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.1
		n=$((n - 1))
	done
	grep -Eq -- "$re" "$file" 2>/dev/null
}

# wait_exit PID SEC: waits up to SEC seconds for the background child PID
# and sets $rc to its exit status; on timeout kills it with SIGKILL and
# sets rc=124 (as timeout(1) does), so a hung program fails, never hangs
wait_exit() {
	local pid=$1 n=$(($2 * 10))
	while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rc=124
		return
	fi
	rc=0
	wait "$pid" || rc=$?
}
