#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# End-to-end test of the perftest tools (rps_write_bw, rps_write_lat,
# rps_read_bw, rps_read_lat) over PROVIDER: for each, a server and a
# client on this host with small sizes; then -a (capped with -s), -q 2,
# -b and -D.  Checks exit codes, the table header and the data rows
# (#bytes, #iterations, positive numbers); no timing assertions.
# Exit 77 (SKIP) for verbs when there is no soft-RoCE/RDMA address.
#   perftest-run.sh PROVIDER      (run from the build directory)
set -uo pipefail
provider=$1
addr=${RPS_TEST_ADDR:-127.0.0.1}
bin=./bench
tmo=300
srv_wait=600
dev=()
. "$(dirname "$0")/perftest-lib.sh"

if [ "$provider" = verbs ]; then
	if [ -z "${RPS_TEST_ADDR:-}" ]; then
		echo "SKIP: no soft-RoCE/RDMA address (RPS_TEST_ADDR) for verbs"
		exit 77
	fi
	[ -n "${RPS_SOFTROCE_DEV:-}" ] && dev=(-d "$RPS_SOFTROCE_DEV")
fi
pt_setup perftest-run

# pair TOOL ARGS...: pt_pair (perftest-lib.sh), then the header names
# $provider; returns 1 on failure
pair() {
	pt_pair "$@" || return 1
	local tool=$1
	shift
	case " $* " in
	*" --output="*) ;; # a number only: no header to check
	*) grep -q "Provider        : $provider" "$work/cli" || fail "$tool $*: not over $provider" ;;
	esac
	return 0
}

# rows FILE BYTES ITERS: the data rows with these sizes and iteration
# counts whose rate (bw: MsgRate[Mpps]) or latencies (lat: t_typical and
# t_avg) are positive; MB/sec of a tiny size may print as 0.00, and the
# peak is 0 when not computed, as in perftest
rows() {
	awk -v b="$2" -v n="$3" '
		$1 == b && $2 == n && NF == 5 && $5 > 0 { c++ }
		$1 == b && $2 == n && NF == 9 && $5 > 0 && $6 > 0 { c++ }
		END { print c + 0 }' "$1"
}

expect_rows() { # FILE BYTES ITERS COUNT WHAT
	local got
	got=$(rows "$1" "$2" "$3")
	[ "$got" = "$4" ] || fail "$5: $got row(s) of $2 bytes x $3, expected $4"
}

bw_head=' #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]'
lat_head=' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] '

# ---- each tool, one size ------------------------------------------------
for tool in rps_write_bw rps_read_bw; do
	if pair "$tool" -s 4096 -n 100; then
		grep -qxF -- "$bw_head" "$work/cli" || fail "$tool: no perftest table header"
		expect_rows "$work/cli" 4096 100 1 "$tool client"
		expect_rows "$work/srv" 4096 100 1 "$tool server (the client's row)"
	fi
done
for tool in rps_write_lat rps_read_lat; do
	if pair "$tool" -s 64 -n 100; then
		grep -qxF -- "$lat_head" "$work/cli" || fail "$tool: no perftest table header"
		expect_rows "$work/cli" 64 100 1 "$tool client"
		if [ "$tool" = rps_write_lat ]; then
			expect_rows "$work/srv" 64 100 1 "$tool server (its own row)"
		fi
	fi
done

# ---- -a, capped at 4 KiB: sizes 2 .. 4096 (12 rows) ---------------------
for tool in rps_write_bw rps_read_bw rps_write_lat rps_read_lat; do
	if pair "$tool" -a -s 4K -n 10; then
		for ((s = 2; s <= 4096; s *= 2)); do
			expect_rows "$work/cli" "$s" 10 1 "$tool -a"
		done
	fi
done

# ---- -q 2 (2 QPs x 50 = 100 operations) and -b -------------------------
for tool in rps_write_bw rps_read_bw; do
	if pair "$tool" -q 2 -s 4096 -n 50; then
		grep -q 'Number of qps   : 2' "$work/cli" || fail "$tool -q 2: header does not say 2 QPs"
		expect_rows "$work/cli" 4096 100 1 "$tool -q 2"
	fi
	if pair "$tool" -b -s 4096 -n 50; then
		grep -q 'Bidirectional BW Test' "$work/cli" || fail "$tool -b: not bidirectional"
		expect_rows "$work/cli" 4096 50 1 "$tool -b client"
		expect_rows "$work/srv" 4096 50 1 "$tool -b server"
	fi
done
if pair rps_write_bw -b -q 2 -a -s 256 -n 20; then
	expect_rows "$work/cli" 256 40 1 "rps_write_bw -b -q 2 -a"
fi

# ---- -D: time-based runs ------------------------------------------------
if pair rps_write_bw -D 1 -s 4096; then
	grep -qE '^ 4096 +[0-9]+ ' "$work/cli" || fail "rps_write_bw -D 1: no row"
fi
if pair rps_write_lat -D 1; then
	grep -qxF ' #bytes        #iterations       t_avg[usec]    tps average' "$work/cli" ||
		fail "rps_write_lat -D 1: no duration table header"
	awk '$1 == 2 && $2 > 0 && $3 > 0 && $4 > 0 { ok = 1 } END { exit !ok }' "$work/cli" ||
		fail "rps_write_lat -D 1: no row"
fi

# ---- --output: one number ----------------------------------------------
if pair rps_read_lat -s 8 -n 50 --output=latency; then
	grep -qxE '[0-9]+\.[0-9]+' "$work/cli" && [ "$(wc -l <"$work/cli")" = 1 ] ||
		fail "rps_read_lat --output=latency: not one number"
fi

if [ "$fails" -gt 0 ]; then
	echo "FAIL: $fails check(s) failed over $provider"
	exit 1
fi
echo "PASS"
