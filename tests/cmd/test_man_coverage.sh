#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The man pages keep up with the code:
#  - every long option a program's --help lists is mentioned in that
#    program's man page;
#  - every public function has a page of its own that man(1) finds, as
#    rdma-core's libibverbs pages do: `man 3 rps_mr_dereg` opens
#    rps_mr_reg(3), which lists rps_mr_dereg in its NAME section.  The
#    functions are those declared in include/rdmaps/*.h and those that the
#    built library exports in its public version nodes (every node but
#    RDMAPS_PRIVATE*).
# Prints one "MISSING: ..." line per gap and fails if there is any.
#
# Run from the build directory (make check does); the programs default to
# the ones built there and can be named by RDMA_PS, RDMA_WORKER, RPS_SMOKE,
# RPS_ENGINE_BENCH and RPS_PUSHPULL_BENCH; the perftest-style tools are
# taken from bench/, and the library is .libs/librdmaps.so (LIBRDMAPS_SO).
# $srcdir defaults to two levels above this script.
# Exit 0 pass, 1 fail, 77 skip (man is not installed, or nothing is built).
set -uo pipefail

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
RDMA_PS=${RDMA_PS:-./rdma-ps}
RDMA_WORKER=${RDMA_WORKER:-./rdma-worker}
RPS_SMOKE=${RPS_SMOKE:-bench/rps_smoke}
RPS_ENGINE_BENCH=${RPS_ENGINE_BENCH:-bench/rps_engine_bench}
RPS_PUSHPULL_BENCH=${RPS_PUSHPULL_BENCH:-bench/rps_pushpull_bench}

missing=0
checked=0

if ! command -v man >/dev/null 2>&1; then
	echo "SKIP: man is not installed"
	exit 77
fi

miss() { # PAGE ITEM
	echo "MISSING: $1: $2"
	missing=$((missing + 1))
}

# The text of a roff page with the escapes that split words removed:
# font changes (\fB, \fI, \fR, \fP, \f(XX, \f[NAME]), \& and \%, then
# every other backslash, so \fB\-\-name\fR reads --name.
page_text() { # [FILE...]
	sed -E 's/\\f(\[[^]]*\]|\(..|.)//g; s/\\[&%]//g; s/\\//g' "$@"
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
check_prog "$srcdir/bench/vs-gloo" man/rps_allreduce_bench.1
check_prog "$srcdir/bench/node-sweep" man/rps_pushpull_bench.1

# ---- functions: every public function has a page that man finds --------
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

# "VERSION NAME" for each function that SO defines and exports (VERSION
# is "-" for an unversioned symbol).  objdump -T marks a function F in
# the last flag column and an IFUNC i in the fifth; nm -D types them T, W
# or i.  Returns 1 when neither tool is there.
exported_functions() { # SO
	if command -v objdump >/dev/null 2>&1; then
		objdump -T "$1" | awk '
			/^[0-9a-fA-F]+ / {
				rest = substr($0, length($1) + 2)
				flags = substr(rest, 1, 7)
				n = split(substr(rest, 9), f, /[ \t]+/)
				if (n < 3 || f[1] == "*UND*")
					next
				if (substr(flags, 7, 1) != "F" && substr(flags, 5, 1) != "i")
					next
				ver = n >= 4 ? f[n - 1] : ""
				gsub(/[()]/, "", ver)
				if (ver == "" || ver == "Base")
					ver = "-"
				print ver, f[n]
			}'
	elif command -v nm >/dev/null 2>&1; then
		nm -D --defined-only "$1" | awk '
			$2 ~ /^[TWi]$/ {
				name = $3; ver = "-"
				if ((k = index(name, "@")) > 0) {
					ver = substr(name, k); sub(/^@+/, "", ver)
					name = substr(name, 1, k - 1)
				}
				print ver, name
			}'
	else
		return 1
	fi
}

headers=("$srcdir"/include/rdmaps/*.h)
if [ ! -r "${headers[0]}" ]; then
	echo "FAIL: no headers in $srcdir/include/rdmaps"
	exit 1
fi
declared=$(strip_comments "${headers[@]}" | grep -E '^[^[:space:]#]' |
	grep -oE '\brps_[a-z0-9_]*[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
ndecl=$(grep -c . <<<"$declared")
[ "$ndecl" -gt 0 ] || { echo "FAIL: no function found in the headers"; missing=$((missing + 1)); }

# exported: "NAME VERSION" per public function of the built library
lib=${LIBRDMAPS_SO:-.libs/librdmaps.so}
exported=
nexp=0
if [ -r "$lib" ]; then
	if syms=$(exported_functions "$lib"); then
		checked=$((checked + 1))
		# a name that is no C identifier (GCC's "f.resolver" of an IFUNC)
		# cannot be called, declared or looked up in man: noted, not checked
		odd=$(awk '$2 !~ /^[A-Za-z_][A-Za-z0-9_]*$/ { print $2 }' <<<"$syms" | sort -u)
		[ -z "$odd" ] || echo "note: not C identifiers, not checked: ${odd//$'\n'/ }"
		exported=$(awk '$1 !~ /^RDMAPS_PRIVATE/ && $2 ~ /^[A-Za-z_][A-Za-z0-9_]*$/ {
			print $2, ($1 == "-" ? "no version node" : $1) }' <<<"$syms" | sort -u)
		nexp=$(grep -c . <<<"$exported")
		[ "$nexp" -gt 0 ] || { echo "FAIL: $lib exports no public function"; missing=$((missing + 1)); }
	else
		echo "skip: neither objdump nor nm: the exports of $lib are not checked"
	fi
else
	echo "skip: $lib is not built: its exports are not checked"
fi

# a throw-away manpath: man3/ holds a copy of every section-3 page
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/man3"
cp "$srcdir"/man/*.3 "$tmp/man3/"

# The page a found file stands for: a link page ".so man3/X.3" (the whole
# page, as rdma-core writes them) is followed to X, up to 8 times.
resolve_page() { # FILE
	local f=$1 so n=0

	while so=$(sed -n '1s/^\.so[[:space:]]\{1,\}//p' "$f") && [ -n "$so" ]; do
		n=$((n + 1))
		f=$tmp/$so
		[ "$n" -le 8 ] && [ -r "$f" ] || return 1
	done
	printf '%s\n' "$f"
}

# the NAME section of a page, as text
name_section() { # FILE
	awk '/^\.SH[[:space:]]+"?NAME"?[[:space:]]*$/ { on = 1; next }
		on && /^\.SH/ { exit }
		on' "$1" | page_text
}

nfn=0
while read -r fn; do
	[ -n "$fn" ] || continue
	nfn=$((nfn + 1))
	why=
	if ! grep -qx -- "$fn" <<<"$declared"; then
		why="exported in $(awk -v f="$fn" '$1 == f { sub(/^[^ ]+ /, ""); print }' <<<"$exported"), declared in no include/rdmaps header; "
	fi
	if ! found=$(man -M "$tmp" -w 3 "$fn" 2>/dev/null) || [ -z "$found" ]; then
		echo "MISSING: $fn (${why}man -w 3 $fn finds no page)"
		missing=$((missing + 1))
		continue
	fi
	found=${found%%$'\n'*}
	if ! page=$(resolve_page "$found"); then
		echo "MISSING: $fn (${why}${found#"$tmp"/} is a link to no page)"
		missing=$((missing + 1))
		continue
	fi
	if ! mentions "$(name_section "$page")" "$fn"; then
		echo "MISSING: $fn (${why}${page#"$tmp"/}, which man 3 $fn opens, does not name it under NAME)"
		missing=$((missing + 1))
	fi
done < <({ printf '%s\n' "$declared"; awk '{ print $1 }' <<<"$exported"; } | sort -u)
echo "checked: $nfn functions ($ndecl declared in include/rdmaps/*.h, $nexp exported by $lib) against man -M <copy of man/*.3>"

if [ "$missing" -gt 0 ]; then
	echo "FAIL: $missing item(s) missing from the man pages"
	exit 1
fi
if [ "$checked" = 0 ]; then
	echo "SKIP: neither the programs nor the library is built (run from the build directory)"
	exit 77
fi
echo PASS
exit 0
