#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-ps end to end over ofi on 127.0.0.1: options and config file, a
# run with two test workers, status lines and metrics CSV, SIGTERM -> exit
# 0 with a summary; bad usage -> exit 2 with one line naming the option.
set -uo pipefail
ps=./rdma-ps
client=./tests/cmd/ps_client
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# ---- usage errors: exit 2, one line, naming the problem -----------------
usage_err() { # expected-word args...
	local want=$1; shift
	local err rc=0
	err=$("$ps" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] || fail "'$*' exited $rc, expected 2 ($err)"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "'$*': not one line: $err"
	grep -q -- "$want" <<<"$err" || fail "'$*': error does not name $want: $err"
}
usage_err "workers" --params 10
usage_err "--algo" --workers 1 --params 10 --algo dc-asgd
usage_err "--theta" --workers 1 --params 10 --theta 2
usage_err "--chunk" --workers 1 --params 10 --chunk 1000
usage_err "--port" --workers 1 --params 10 --port 70000
usage_err "--bogus" --bogus
usage_err "--model" --workers 1 --model mlp:x
usage_err "does not match --model" --workers 1 --model softmax --params 10
usage_err "--shard" --workers 1 --model softmax --shard 2/2
usage_err "--shard" --workers 1 --model softmax --shard 1
usage_err "only 3 params" --workers 1 --params 3 --shard 0/4
usage_err "--features" --workers 1 --model softmax --features 0
usage_err "--cpus" --workers 1 --params 10 --cpus 100000
usage_err "--cpus" --workers 1 --params 10 --cpus 0-x
usage_err "--numa" --workers 1 --params 10 --numa 4000
# the strings test_rdma_worker.sh gives rdma-worker --lr-schedule: one parser
for spec in step:0,0.5 step:10 bogus step:10,0 step:10,1.5 step:-1,0.5; do
	usage_err "--lr-schedule: '$spec' is not constant or step:N,GAMMA" \
		--workers 1 --params 10 --lr-schedule "$spec"
done
out=$("$ps" --show-topology --provider ofi) || fail "--show-topology exited $?"
grep -q "^placement: 1 thread(s): nic=" <<<"$out" || fail "--show-topology: $out"
printf 'tok\n' > "$tmp/token"; chmod 644 "$tmp/token"
usage_err "readable by others" --workers 1 --params 10 --auth-token-file "$tmp/token"
: > "$tmp/empty"; chmod 600 "$tmp/empty"
usage_err "1..4096 bytes" --workers 1 --params 10 --auth-token-file "$tmp/empty"
usage_err "--auth-token-file" --workers 1 --params 10 --auth-token-file "$tmp/none"
printf 'workers = 2\nparams = 100\nalgo = nope\n' > "$tmp/bad.conf"
usage_err "algo" --config "$tmp/bad.conf"
printf 'workers = 2\nwhat = 1\n' > "$tmp/bad2.conf"
usage_err "what" --config "$tmp/bad2.conf"
usage_err "what" -C "$tmp/bad2.conf"      # the short form reads the file too
usage_err "what" --conf="$tmp/bad2.conf"  # and an abbreviation
err=$(RPS_IB_PORT=abc "$ps" --workers 1 --params 10 2>&1 >/dev/null); rc=$?
[ "$rc" = 2 ] && grep -q RPS_IB_PORT <<<"$err" || fail "bad RPS_IB_PORT: rc=$rc $err"
"$ps" --help | grep -q -- "--max-staleness" || fail "--help lacks --max-staleness"
"$ps" --version | grep -q "^rdma-ps [0-9]" || fail "--version"

# ---- a run: config file + command line (which wins) --------------------
printf '# two workers, asgd\nworkers = 2\nparams = 5000\nalgo = asgd\nlr = 0.5\nprovider = ofi\nlisten = 127.0.0.1\n' > "$tmp/ps.conf"
"$ps" --config "$tmp/ps.conf" --lr 0.2 --port 0 --status-interval 1 \
	--metrics "$tmp/m.csv" > "$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 100); do
	port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/out")
	[ -n "$port" ] && break
	kill -0 $pid 2>/dev/null || { cat "$tmp/out"; fail "rdma-ps died at start"; }
	sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/out"; fail "no banner with the port"; }
grep -q "asgd, lr 0.2," "$tmp/out" || { cat "$tmp/out"; fail "banner: the command line's lr did not win"; }
grep -q "^rdma-ps: placement: nic=.* cpus=" "$tmp/out" || { cat "$tmp/out"; fail "banner: no placement"; }
"$client" 127.0.0.1 "$port" 0 2 20 & c0=$!
"$client" 127.0.0.1 "$port" 1 2 20 & c1=$!
wait $c0 || fail "worker 0 failed"
wait $c1 || fail "worker 1 failed"
sleep 1.5 # at least one status line after the pushes
kill -TERM $pid
rc=0; wait $pid || rc=$?
cat "$tmp/out"
[ "$rc" = 0 ] || fail "rdma-ps exited $rc after SIGTERM"
grep -q "stopping after the chunks already received" "$tmp/out" || fail "no stop message"
tail -1 "$tmp/out" | grep -q "pushes 40 (per worker 20..20) " || fail "summary does not count 40 pushes, 20 per worker"
grep -q "^time_s,version,pushes,.*,nic,numa,cpus,spilled,oversubscribed$" "$tmp/m.csv" || fail "metrics: no header with the placement"
[ "$(grep -c '^[0-9]' "$tmp/m.csv")" -ge 2 ] || fail "metrics: fewer than 2 rows"
tail -1 "$tmp/m.csv" | awk -F, '$3 != 40 || $4 != 20 || $5 != 20 { exit 1 }' || fail "metrics: last row does not count 40 pushes"
echo PASS
