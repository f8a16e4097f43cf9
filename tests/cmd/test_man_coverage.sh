#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The man pages keep up with the code: every long option a program's
# --help lists is mentioned in that program's man page, and every function
# declared in include/rdmaps/*.h is mentioned in librdmaps(3) or a
# man/rps_*.3 page.  Prints one
# "MISSING: man/PAGE: ITEM" line per gap and fails if there is any.
#
# Run from the build directory (make check does); the programs default to
# the ones built there and can be named by RDMA_PS, RDMA_WORKER, RPS_SMOKE,
# RPS_ENGINE_BENCH and RPS_PUSHPULL_BENCH; the perftest-style tools are
# taken from bench/.  $srcdir defaults to two levels
# above this script.
# Exit 0 pass, 1 fail, 77 skip (none of the programs is built).
set -uo pipefail

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
RDMA_PS=${RDMA_PS:-./rdma-ps}
RDMA_WORKER=${RDMA_WORKER:-./rdma-worker}
RPS_SMOKE=${RPS_SMOKE:-bench/rps_smoke}
RPS_ENGINE_BENCH=${RPS_ENGINE_BENCH:-bench/rps_engine_bench}
RPS_PUSHPULL_BENCH=${RPS_PUSHPULL_BENCH:-bench/rps_pushpull_bench}

missing=0
checked=0

miss() { # PAGE ITEM
	echo "MISSING: $1: $2"
	missing=$((missing + 1))
}

# The text of a roff page with the escapes that split words removed:
# font changes (\fB, \fI, \fR, \fP, \f(XX, \f[NAME]), \& and \%, then
# every other backslash, so \fB\-\-name\fR reads --name.
page_text() {
	sed -E 's/\\f(\[[^]]*\]|\(..|.)//g; s/\\[&%]//g; s/\\//g' "$1"
}

# grep -E for WORD as a whole option or identifier (--lr is not --lr-x)
mentions() { # TEXT WORD
	grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|$)" <<<"$1"
}

# ---- options: PROG --help against its page --------------------------------
check_prog() { # PROG PAGE
	local prog=$1 page=$2 help text opt n=0

	if [ ! -x "$prog" ]; then
		echo "skip: $prog is not built"
		return 0
	fi
	checked=$((checked + 1))
	if ! help=$("$prog" --help 2>&1); then
		echo "FAIL: $prog --help exited non-zero"
		missing=$((missing + 1))
		return 0
	fi
	if [ ! -r "$srcdir/$page" ]; then
		miss "$page" "the page itself (for $prog)"
		return 0
	fi
	text=$(page_text "$srcdir/$page")
	# an option line of --help: "  -x, --name=ARG  ..." or "      --name ..."
	while read -r opt; do
		[ -n "$opt" ] || continue
		n=$((n + 1))
		mentions "$text" "$opt" || miss "$page" "$opt"
	done < <(sed -nE 's/^[[:space:]]+(-[A-Za-z0-9], )?(--[A-Za-z0-9][-A-Za-z0-9_]*).*/\2/p' \
		<<<"$help" | sort -u)
	if [ "$n" = 0 ]; then
		echo "FAIL: $prog --help lists no long option"
		missing=$((missing + 1))
	fi
	echo "checked: $prog: $n options against $page"
}

check_prog "$RDMA_PS" man/rdma-ps.8
check_prog "$RDMA_WORKER" man/rdma-worker.1
check_prog "$RPS_SMOKE" man/rps_smoke.1
check_prog "$RPS_ENGINE_BENCH" man/rps_engine_bench.1
check_prog "$RPS_PUSHPULL_BENCH" man/rps_pushpull_bench.1
check_prog "${RPS_ALLREDUCE_BENCH:-bench/rps_allreduce_bench}" man/rps_allreduce_bench.1
for tool in rps_write_bw rps_write_lat rps_read_bw rps_read_lat; do
	check_prog "bench/$tool" man/rps_perftest.1
done
# the comparison script of the source tree, in rps_perftest(1)
check_prog "$srcdir/bench/vs-perftest" man/rps_perftest.1

# ---- functions: the public headers against librdmaps(3) -------------------
# Declarations only: comments are stripped, then identifiers rps_* directly
# followed by "(" on lines that start in column 0 (function bodies of
# static inline functions are indented; preprocessor lines are skipped).
strip_comments() {
	awk '{
		out = ""; line = $0
		while (length(line)) {
			if (incomment) {
				i = index(line, "*/")
				if (!i) { line = ""; break }
				line = substr(line, i + 2); incomment = 0
			} else {
				i = index(line, "/*"); j = index(line, "//")
				if (j && (!i || j < i)) { out = out substr(line, 1, j - 1); line = ""; break }
				if (!i) { out = out line; line = ""; break }
				out = out substr(line, 1, i - 1); line = substr(line, i + 2)
				incomment = 1
			}
		}
		print out
	}' "$@"
}

headers=("$srcdir"/include/rdmaps/*.h)
if [ ! -r "${headers[0]}" ]; then
	echo "FAIL: no headers in $srcdir/include/rdmaps"
	exit 1
fi
# librdmaps(3) and the section-3 pages beside it (man/rps_*.3) that
# describe one part of the API in depth
lib_page=man/librdmaps.3
if [ -r "$srcdir/$lib_page" ]; then
	text=$(for p in "$srcdir/$lib_page" "$srcdir"/man/rps_*.3; do
		[ -r "$p" ] && page_text "$p"
	done)
	nfn=0
	while read -r fn; do
		[ -n "$fn" ] || continue
		nfn=$((nfn + 1))
		mentions "$text" "$fn" || miss "$lib_page" "$fn()"
	done < <(strip_comments "${headers[@]}" | grep -E '^[^[:space:]#]' |
		grep -oE '\brps_[a-z0-9_]*[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
	echo "checked: $nfn functions of include/rdmaps/*.h against $lib_page and man/rps_*.3"
	[ "$nfn" -gt 0 ] || { echo "FAIL: no function found in the headers"; missing=$((missing + 1)); }
else
	miss "$lib_page" "the page itself"
fi

if [ "$missing" -gt 0 ]; then
	echo "FAIL: $missing item(s) missing from the man pages"
	exit 1
fi
if [ "$checked" = 0 ]; then
	echo "SKIP: none of the programs is built (run from the build directory)"
	exit 77
fi
echo PASS
exit 0
