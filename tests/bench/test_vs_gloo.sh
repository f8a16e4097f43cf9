#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# bench/vs-gloo: its option errors (exit 2, one line on stderr naming the
# option or what to install), then -- only where an interpreter imports
# torch with gloo and this host has 2 CPUs -- one tiny real comparison:
# exit 0 and a table row for 256K with two positive busbw numbers and a
# ratio.  No timing assertions.  Run from the build directory.
set -uo pipefail
script=$(cd "$(dirname "$0")/../.." && pwd)/bench/vs-gloo
. "$(dirname "$0")/perftest-lib.sh"
pt_setup vs-gloo-test

pt_cmd=("$script")
pt_name=vs-gloo

# a bindir with a stand-in rps_allreduce_bench, and an interpreter without
# torch: these errors need neither a build nor torch
mkdir "$work/bin"
printf '#!/bin/sh\nexit 1\n' >"$work/bin/rps_allreduce_bench"
printf '#!/bin/sh\nexit 1\n' >"$work/notorch"
chmod +x "$work/bin/rps_allreduce_bench" "$work/notorch"

pt_usage_error --frobnicate --frobnicate
pt_usage_error --sizes --sizes 4k
pt_usage_error --sizes --sizes 256K,6
pt_usage_error --sizes --sizes 256K,
pt_usage_error --world --world 0
pt_usage_error --world --world x
pt_usage_error --world --world
pt_usage_error --rounds --rounds 0
pt_usage_error --iters --iters 0
pt_usage_error --warmup --warmup -1
pt_usage_error --provider --provider tcp
pt_usage_error --shm --shm maybe
pt_usage_error --shm --shm off --provider verbs
pt_usage_error --addr --addr nohost
pt_usage_error --port-base --port-base 65535
pt_usage_error oversubscription --world 100000
pt_usage_error rps_allreduce_bench --bindir "$work/nothing"
pt_usage_error python3-torch --bindir "$work/bin" --python "$work/notorch"
pt_usage_error python3-torch --bindir "$work/bin" --python "$work/no-such-python"

"$script" --help >"$work/out" 2>&1 || fail "vs-gloo --help: exit $?"
for opt in --world --oversubscribe --sizes --rounds --iters --warmup --provider --shm --bindir \
	--python --addr --port-base --help; do
	grep -qE -- "^ +(-h, )?$opt( |$)" "$work/out" || fail "--help does not list $opt"
done

# ---- a real run, where torch with gloo is there ------------------------
have_torch() {
	local py
	for py in ${RPS_PYTHON:-} /usr/bin/python3 python3; do
		"$py" -c 'import torch.distributed as d; assert d.is_gloo_available()' 2>/dev/null &&
			return 0
	done
	return 1
}
[ "$fails" = 0 ] || exit 1
if ! have_torch; then
	echo "vs-gloo real run skipped: no interpreter imports torch with gloo (python3-torch)"
	exit 77
fi
if [ "$(nproc)" -lt 2 ]; then
	echo "vs-gloo real run skipped: one CPU here, and the run needs one per rank"
	exit 77
fi
timeout 600 "$script" --world 2 --sizes 256K --rounds 1 --iters 3 --warmup 1 \
	--bindir bench >"$work/out" 2>"$work/err"
rc=$?
cat "$work/out"
[ "$rc" = 0 ] || { fail "vs-gloo tiny run: exit $rc"; cat "$work/err"; }
grep -q '^# vs-gloo: world 2, python .*torch .*provider ofi, [0-9]* CPUs' "$work/out" ||
	fail "no header line naming world, interpreter, torch, provider and CPUs"
awk '$1 == 262144 && NF == 4 && $2 > 0 && $3 > 0 && $4 ~ /^[0-9]+\.[0-9]+$/ && $4 > 0 { f = 1 }
	END { exit !f }' "$work/out" || fail "no table row with two busbw numbers and a ratio for 262144"

# --shm both: rdmaps each way in the same rounds, two sizes in gloo's one
# start per round: a row per size with three busbw numbers and two ratios
timeout 600 "$script" --world 2 --sizes 256K,1M --rounds 1 --iters 3 --warmup 1 --shm both \
	--bindir bench >"$work/out" 2>"$work/err"
rc=$?
cat "$work/out"
[ "$rc" = 0 ] || { fail "vs-gloo --shm both: exit $rc"; cat "$work/err"; }
grep -q '^# vs-gloo: .*, shm both$' "$work/out" || fail "--shm both: the header does not say it"
grep -q 'rdmaps-tcp/gloo' "$work/out" || fail "--shm both: no rdmaps-tcp/gloo column"
for n in 262144 1048576; do
	awk -v n=$n '$1 == n && NF == 6 && $2 > 0 && $3 > 0 && $4 > 0 && $5 > 0 && $6 > 0 { f = 1 }
		END { exit !f }' "$work/out" || fail "--shm both: no row of 3 busbw and 2 ratios for $n"
done

[ "$fails" = 0 ] || exit 1
echo "vs-gloo: ok"
