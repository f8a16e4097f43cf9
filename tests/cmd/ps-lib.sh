# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the rdma-ps/rdma-worker test scripts (tests/cmd): the one
# way they report a failure and wait for a backgrounded rdma-ps.

fail() { echo "FAIL: $*"; exit 1; }

# wait_port LOG PID: waits (up to 20 s) for rdma-ps PID's banner in LOG and
# sets $port; fails with the log if the server dies or prints no port
wait_port() {
	local log=$1 pid=$2
	port=
	for _ in $(seq 200); do
		port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "rdma-ps died at start"; }
		sleep 0.1
	done
	cat "$log"
	fail "rdma-ps printed no port"
}
