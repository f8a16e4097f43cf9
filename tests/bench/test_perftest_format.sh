#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The perftest tools speak perftest: golden test of the table header lines
# (the strings below are perftest's RESULT_FMT, RESULT_FMT_G,
# RESULT_FMT_LAT and RESULT_LINE, from perftest_parameters.h), of the
# options (every bad value exits 2 with one line naming the option;
# --help lists every option), and of one tiny run per tool over ofi
# (-s 64 -n 50, both ends on 127.0.0.1, the server on a free port): one
# data row with the right #bytes and #iterations and positive numbers.
# No timing assertions.  Run from the build directory.
set -uo pipefail
bin=./bench
tmo=120
. "$(dirname "$0")/perftest-lib.sh"
pt_setup perftest-format

# ---- perftest's strings ---------------------------------------------------
result_line='---------------------------------------------------------------------------------------'
bw_head=' #bytes     #iterations    BW peak[MB/sec]    BW average[MB/sec]   MsgRate[Mpps]'
bw_head_g=' #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   MsgRate[Mpps]'
lat_head=' #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec] '
declare -A test_name=(
	[rps_write_bw]='                    RDMA_Write BW Test'
	[rps_read_bw]='                    RDMA_Read BW Test'
	[rps_write_lat]='                    RDMA_Write Latency Test'
	[rps_read_lat]='                    RDMA_Read Latency Test'
)
tools="rps_write_bw rps_write_lat rps_read_bw rps_read_lat"

# ---- options ------------------------------------------------------------
common_opts="--all --connection --ib-dev --duration --CPU-freq --ib-port --inline_size
	--iters --port --qp --rdma_cm --size --tx-depth --version --gid-index --output
	--provider --ofi-provider --help"
bw_opts="--bidirectional --noPeak --report_gbits"

for tool in $tools; do
	[ -x "$bin/$tool" ] || { echo "FAIL: $bin/$tool is not built"; exit 1; }
	help=$("$bin/$tool" --help 2>&1) || fail "$tool --help exited non-zero"
	want=$common_opts
	case $tool in *_bw) want="$want $bw_opts" ;; esac
	for o in $want; do
		grep -qE -- "(^|[ ,])$o([=[:space:]]|$)" <<<"$help" || fail "$tool --help does not list $o"
	done
	case $tool in *_lat)
		for o in $bw_opts; do
			grep -q -- "$o" <<<"$help" && fail "$tool --help lists the bw option $o"
		done ;;
	esac
	"$bin/$tool" -V | grep -q "^$tool (rdmaps) " || fail "$tool -V: no version line"
done

# bad ARGS and the option the one-line error must name, '|'-separated
bad_common=(
	"-s 0|--size" "--size=2G|--size" "-s 12Q|--size" "-n 4|--iters" "-n x|--iters"
	"-q 0|--qp" "-q 1000|--qp" "-t 0|--tx-depth" "-t 20000|--tx-depth"
	"-p 65536|--port" "-D 0|--duration" "-x -1|--gid-index" "-i 0|--ib-port"
	"-I 1000|--inline_size" "-c UD|--connection" "--output=foo|--output"
	"--provider=foo|--provider" "-D 1 -n 10|--duration" "-a -D 1|--duration"
	"-a -s 1|--size" "-p 0 host1|--port" "--bogus|--bogus" "-s|-s"
	"host1 host2|host2"
)
check_bad() { # TOOL ARGS NAME
	local err rc
	# shellcheck disable=SC2086
	err=$(timeout 10 "$bin/$1" $2 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" != 2 ] || [ "$(wc -l <<<"$err")" != 1 ] || ! grep -q -- "$3" <<<"$err"; then
		fail "$1 $2: exit $rc, expected 2 and one line naming $3: $err"
	fi
}
for tool in $tools; do
	for c in "${bad_common[@]}"; do
		check_bad "$tool" "${c%|*}" "${c#*|}"
	done
	case $tool in
	*_bw) check_bad "$tool" "--output=latency" "--output" ;;
	*_lat)
		check_bad "$tool" "--output=bandwidth" "--output"
		check_bad "$tool" "-b" "-b"
		check_bad "$tool" "--report_gbits" "--report_gbits" ;;
	esac
done

# ---- a tiny run per tool over ofi ------------------------------------------
# run TOOL ARGS...: pt_pair (perftest-lib.sh) over ofi on 127.0.0.1
provider=ofi addr=127.0.0.1 srv_wait=300 dev=()
run() { pt_pair "$@"; }

# the table header: the line after the dashed line that follows the
# header block, compared whole (trailing blanks included)
table_head() {
	awk -v l="$result_line" 'prev == l && /#bytes/ { print; exit } { prev = $0 }' "$1"
}

for tool in $tools; do
	run "$tool" -s 64 -n 50 || continue
	case $tool in *_bw) want=$bw_head ;; *) want=$lat_head ;; esac
	got=$(table_head "$work/cli")
	[ "$got" = "$want" ] || fail "$tool: table header is
'$got', perftest's is
'$want'"
	grep -qxF -- "${test_name[$tool]}" "$work/cli" || fail "$tool: no '${test_name[$tool]}' line"
	[ "$(grep -cxF -- "$result_line" "$work/cli")" -ge 3 ] || fail "$tool: perftest's dashed lines missing"
	# bw: size, iters, peak, average, MsgRate; lat: size, iters, 7 latencies
	case $tool in
	*_bw) awk '$1 == 64 && $2 == 50 && NF == 5 && $3 > 0 && $4 > 0 && $5 > 0 { ok = 1 }
		   END { exit !ok }' "$work/cli" || fail "$tool: no row '64 50' with positive numbers" ;;
	*) awk '$1 == 64 && $2 == 50 && NF == 9 { ok = 1; for (i = 3; i <= 9; i++) if (!($i > 0)) ok = 0 }
		END { exit !ok }' "$work/cli" || fail "$tool: no row '64 50' with positive numbers" ;;
	esac
done
if run rps_write_bw -s 64 -n 50 --report_gbits; then
	got=$(table_head "$work/cli")
	[ "$got" = "$bw_head_g" ] || fail "rps_write_bw --report_gbits: table header is '$got'"
fi

if [ "$fails" -gt 0 ]; then
	echo "FAIL: $fails check(s) failed"
	exit 1
fi
echo PASS
