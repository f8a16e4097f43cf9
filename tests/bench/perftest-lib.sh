# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the perftest-tool tests (perftest-run.sh,
# test_perftest_format.sh, test_vs_perftest.sh): the scratch directory
# and failure count of a test, and one server/client pair of a tool.

# pt_setup NAME: $work, a directory removed at exit, and fails=0 for fail()
pt_setup() {
	work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	fails=0
}

# fail MESSAGE: prints it and counts it; the test exits 1 when fails > 0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# pt_usage_error WANT-IN-MESSAGE ARGS...: ${pt_cmd[@]} ARGS exits 2 with
# one line on stderr that names WANT, and nothing on stdout
pt_usage_error() {
	local want=$1 rc lines
	shift
	"${pt_cmd[@]}" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	lines=$(wc -l <"$work/err")
	[ "$rc" = 2 ] || fail "$pt_name $*: exit $rc, expected 2"
	[ "$lines" = 1 ] || fail "$pt_name $*: $lines lines on stderr, expected 1"
	[ -s "$work/out" ] && fail "$pt_name $*: wrote to stdout: $(cat "$work/out")"
	grep -qF -- "$want" "$work/err" || fail "$pt_name $*: stderr does not name '$want': $(cat "$work/err")"
}

# pt_pair TOOL ARGS...: a TOOL server on a free port and a client of it
# at $addr, both with --provider $provider, the options in ${dev[@]} and
# ARGS, each under `timeout $tmo`; the server must print its port within
# $srv_wait tenths of a second.  Output in $work/srv and $work/cli, both
# printed.  Returns 1 after `fail` when the server did not
# start or either side exited non-zero.
pt_pair() {
	local tool=$1 port="" spid rc src=0
	shift
	: >"$work/srv"
	timeout "$tmo" "$bin/$tool" --provider "$provider" "${dev[@]}" -p 0 "$@" \
		>"$work/srv" 2>&1 &
	spid=$!
	for _ in $(seq "$srv_wait"); do
		port=$(sed -n 's/^ Listening on port //p' "$work/srv")
		[ -n "$port" ] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		wait "$spid"
		cat "$work/srv"
		fail "$tool $*: the server did not start"
		return 1
	fi
	timeout "$tmo" "$bin/$tool" --provider "$provider" "${dev[@]}" -p "$port" "$@" "$addr" \
		>"$work/cli" 2>&1
	rc=$?
	wait "$spid" || src=$?
	echo "---- $tool $* (client exit $rc, server exit $src)"
	cat "$work/cli"
	echo "---- server"
	cat "$work/srv"
	if [ "$rc" != 0 ] || [ "$src" != 0 ]; then
		fail "$tool $*: client exited $rc, server $src"
		return 1
	fi
	return 0
}
