#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-worker's command line and inputs, no server needed: every bad
# option value is exit 2 with one line naming the option; the config file
# and Slurm's variables are read (the command line wins); a missing,
# truncated or foreign dataset is exit 1 with one line naming the file;
# --cpus pins the worker's thread and --no-pin leaves it alone; dc-s3gd
# alone follows --lr-schedule step by step.
set -uo pipefail
worker=./rdma-worker
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset SLURM_PROCID SLURM_NTASKS

# err_is RC WORD ARGS...: exit status RC, one line on stderr naming WORD
err_is() {
	local want_rc=$1 want=$2; shift 2
	local err rc=0
	err=$("$worker" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want_rc" ] || fail "'$*' exited $rc, expected $want_rc ($err)"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "'$*': not one line: $err"
	grep -q -- "$want" <<<"$err" || fail "'$*': error does not name $want: $err"
	echo "ok: $* -> $err"
}
s=(--server 127.0.0.1)
err_is 2 "--server is required"
err_is 2 "--server" --server ""
err_is 2 "--server" --server "host:"
err_is 2 "--server" --server "host:0"
err_is 2 "--server" --server "host:70000"
err_is 2 "--server" --server "a,,b"
err_is 2 "--server" --server "[fe80::1"
err_is 2 "--port" "${s[@]}" --port 0
err_is 2 "--provider" "${s[@]}" --provider rdma
err_is 2 "--ib-port" "${s[@]}" --ib-port 0
err_is 2 "--gid-index" "${s[@]}" --gid-index x
err_is 2 "--rank" "${s[@]}" --rank -1
err_is 2 "rank 4 is not below the world size 4" "${s[@]}" --rank 4 --world 4
err_is 2 "--world" "${s[@]}" --world 0
err_is 2 "--model" "${s[@]}" --model mlp:
err_is 2 "--model" "${s[@]}" --model mlp:0
err_is 2 "--model" "${s[@]}" --model cnn
err_is 2 "--dataset" "${s[@]}" --dataset mnist
err_is 2 "--dataset" "${s[@]}" --dataset synthetic:10,5
err_is 2 "--dataset" "${s[@]}" --dataset synthetic:10,5,1
err_is 2 "--dataset" "${s[@]}" --dataset fashion-mnist:
err_is 2 "--partition" "${s[@]}" --partition label-skew:0
err_is 2 "--partition" "${s[@]}" --partition shards
err_is 2 "--batch" "${s[@]}" --batch 0
err_is 2 "--epochs" "${s[@]}" --epochs 0
err_is 2 "--steps" "${s[@]}" --steps many
err_is 2 "--delay-ms" "${s[@]}" --delay-ms -5
err_is 2 "--delay-ms" "${s[@]}" --delay-ms 600001
err_is 2 "--train-samples" "${s[@]}" --train-samples -5
err_is 2 "--seed" "${s[@]}" --seed 1.5
err_is 2 "--eval-interval" "${s[@]}" --eval-interval x
err_is 2 "--eval-samples" "${s[@]}" --eval-samples x
err_is 2 "--timeout" "${s[@]}" --timeout 0
err_is 2 "--retry" "${s[@]}" --retry x
err_is 2 "--status-interval" "${s[@]}" --status-interval -1
err_is 2 "--log-level" "${s[@]}" --log-level loud
err_is 2 "--bogus" "${s[@]}" --bogus
err_is 2 "unexpected argument" "${s[@]}" extra
err_is 2 "cannot open" "${s[@]}" --metrics /nonexistent/dir/m.csv --dataset synthetic:100,4,2
SLURM_PROCID=x err_is 2 "SLURM_PROCID" "${s[@]}"
# a bad Slurm value does not matter when the command line gives the rank
SLURM_PROCID=x err_is 1 "refused\|connect" --server 127.0.0.1:1 --rank 0 \
	--dataset synthetic:100,4,2 --timeout 5 --retry 0
err_is 2 "--dataset" "${s[@]}" --dataset synthetic:10,-1,3
SLURM_PROCID=3 SLURM_NTASKS=2 err_is 2 "SLURM_PROCID/SLURM_NTASKS" "${s[@]}"

# ---- config file: read under every spelling, the command line wins ----
printf '# a worker\nserver = 127.0.0.1\nbatch = 0\n' > "$tmp/bad.conf"
err_is 2 "batch" --config "$tmp/bad.conf"
err_is 2 "batch" -C "$tmp/bad.conf"
printf 'server = 127.0.0.1\nwhat = 1\n' > "$tmp/bad2.conf"
err_is 2 "what" --conf="$tmp/bad2.conf"
err_is 2 "cannot" --config "$tmp/missing.conf"
# a binary file given as the config: the NUL byte is named
printf 'server = 127.0.0.1\nbatch = 3\0\nepochs = 2\n' > "$tmp/nul.conf"
err_is 2 "nul.conf:2: a NUL byte" --config "$tmp/nul.conf"
# rank 5 of world 2 from the file is an error unless the command line fixes it
printf 'server = 127.0.0.1\nrank = 5\nworld = 2\n' > "$tmp/rank.conf"
err_is 2 "rank 5" --config "$tmp/rank.conf"
# Slurm gives rank/world; --rank on the command line wins over both.  A
# run against a closed port then fails at connect (exit 1) after parsing.
SLURM_PROCID=7 SLURM_NTASKS=8 err_is 1 "refused\|connect" --server 127.0.0.1:1 \
	--dataset synthetic:100,4,2 --timeout 5 --retry 0
SLURM_PROCID=7 SLURM_NTASKS=8 err_is 2 "rank 9" --server 127.0.0.1:1 --rank 9

# ---- datasets: missing, truncated, wrong magic -> exit 1, one line -----
err_is 1 "dataset-fashion-mnist" "${s[@]}" --dataset "fashion-mnist:$tmp/none"
mkdir "$tmp/bad"
# wrong magic: a labels file where the images should be
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02' | gzip > "$tmp/bad/train-images-idx3-ubyte.gz"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02' | gzip > "$tmp/bad/train-labels-idx1-ubyte.gz"
err_is 1 "magic" "${s[@]}" --dataset "fashion-mnist:$tmp/bad"
# truncated: 2 images of 2x2 declared, 1 present
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04' |
	gzip > "$tmp/bad/train-images-idx3-ubyte.gz"
err_is 1 "truncated" "${s[@]}" --dataset "fashion-mnist:$tmp/bad"
# more workers than samples cannot be partitioned
err_is 1 "--partition" "${s[@]}" --dataset synthetic:4,2,2 --world 8 --rank 1

# ---- dc-s3gd: its options, and no server ------------------------------
err_is 2 "--algo" "${s[@]}" --algo sgd
err_is 2 "--server" "${s[@]}" --algo dc-s3gd
err_is 2 "--peers is required" --algo dc-s3gd --world 2
err_is 2 "--peers lists 2" --algo dc-s3gd --world 3 --peers a,b
err_is 2 "--peers: entry 2" --algo dc-s3gd --world 2 --peers a,b:0
err_is 2 "--staleness" --algo dc-s3gd --staleness 0
err_is 2 "--staleness" --algo dc-s3gd --staleness 17
err_is 2 "--lr" --algo dc-s3gd --lr x
err_is 2 "--lambda" --algo dc-s3gd --lambda -1
err_is 2 "--lambda0" --algo dc-s3gd --lambda0 y
err_is 2 "options of --algo dc-s3gd" "${s[@]}" --peers a
err_is 2 "options of --algo dc-s3gd" "${s[@]}" --lr 0.1
# ---- pc-asgd (agents): its options, and no server -------------------------
err_is 2 "--server: pc-asgd has no server" "${s[@]}" --algo pc-asgd
err_is 2 "--peers is required with --algo pc-asgd" --algo pc-asgd --world 2
err_is 2 "--peers lists 2" --algo pc-asgd --world 3 --peers a,b
err_is 2 "--topology: 'star'" --algo pc-asgd --topology star
err_is 2 "--theta" --algo pc-asgd --theta 1.5
err_is 2 "--theta" --algo pc-asgd --theta x
err_is 2 "--theta" --algo pc-asgd --theta -0.1
err_is 2 "--delay-bound" --algo pc-asgd --delay-bound -1
err_is 2 "--delay-bound" --algo pc-asgd --delay-bound x
err_is 2 "--momentum" --algo pc-asgd --momentum 1
err_is 2 "--momentum" --algo pc-asgd --momentum -0.5
err_is 2 "--init-seed" --algo pc-asgd --init-seed z
for opt in "--topology full" "--theta 1" "--delay-bound 3" "--momentum 0" "--init-seed 7"; do
	# shellcheck disable=SC2086
	err_is 2 "options of --algo pc-asgd" "${s[@]}" $opt
	# shellcheck disable=SC2086
	err_is 2 "options of --algo pc-asgd" --algo dc-s3gd $opt
done
err_is 2 "options of --algo dc-s3gd" --algo pc-asgd --staleness 2
err_is 2 "options of --algo dc-s3gd" --algo pc-asgd --lambda 0.1
# alone (world 1): no graph, the step is x += momentum step; it trains
"$worker" --algo pc-asgd --dataset synthetic:2000,8,4 --status-interval 0 --steps 50 \
	> "$tmp/pc1.log" 2>&1 || { cat "$tmp/pc1.log"; fail "pc-asgd alone failed"; }
grep -q "algorithm pc-asgd (no server) with 0 neighbour(s)" "$tmp/pc1.log" ||
	{ cat "$tmp/pc1.log"; fail "pc-asgd alone: no banner"; }
grep -q "done after 50 steps" "$tmp/pc1.log" || { cat "$tmp/pc1.log"; fail "pc-asgd alone: not 50 steps"; }
echo "ok: pc-asgd alone trains"

# --lr-schedule: rdma-ps's parser and wording; with a server it is rdma-ps's
for spec in step:0,0.5 step:10 bogus step:10,0 step:10,1.5 step:-1,0.5; do
	err_is 2 "--lr-schedule: '$spec' is not constant or step:N,GAMMA" \
		--algo dc-s3gd --lr-schedule "$spec"
done
err_is 2 "rdma-ps --lr-schedule" "${s[@]}" --lr-schedule step:10,0.5
err_is 2 "rdma-ps --lr-schedule" "${s[@]}" --lr-schedule constant
printf 'algo = dc-s3gd\nlr-schedule = step:10\n' > "$tmp/sched.conf"
err_is 2 "--lr-schedule: 'step:10'" --config "$tmp/sched.conf"
# ... and it is applied, lr * GAMMA^floor(t / N) at this worker's step t
# from 0: with step:N,1e-9 the steps from N on have lr ~0, so 200 steps
# end where N steps do, while constant lr goes on learning; GAMMA 1 is
# constant, bit for bit.  One worker alone: no peers, no transport, the
# same result every run.
# s3gd_final ARGS...: "test accuracy A, test loss L" of a dc-s3gd run alone
s3gd_final() {
	"$worker" --algo dc-s3gd --dataset synthetic:2000,8,4 --status-interval 0 "$@" |
		sed -n 's/.*: \(test accuracy [0-9.]*, test loss [0-9.]*\),.*/\1/p'
}
one=$(s3gd_final --steps 1)
hundred=$(s3gd_final --steps 100)
const=$(s3gd_final --steps 200)
gamma1=$(s3gd_final --steps 200 --lr-schedule step:1,1)
frozen=$(s3gd_final --steps 200 --lr-schedule step:1,1e-9)
frozen100=$(s3gd_final --steps 200 --lr-schedule step:100,1e-9)
printf 'algo = dc-s3gd\nlr-schedule = step:1,1e-9\n' > "$tmp/sched.conf"
fromfile=$(s3gd_final --steps 200 --config "$tmp/sched.conf")
echo "dc-s3gd alone: 1 step: $one; 100 steps: $hundred; 200 steps: constant: $const;" \
	"step:1,1: $gamma1; step:1,1e-9: $frozen; step:100,1e-9: $frozen100; file: $fromfile"
[ -n "$one" ] && [ -n "$hundred" ] && [ -n "$const" ] || fail "dc-s3gd alone: no final line"
[ "$gamma1" = "$const" ] || fail "--lr-schedule step:1,1 ($gamma1) is not constant ($const)"
[ "$frozen" = "$one" ] || fail "--lr-schedule step:1,1e-9 after 200 steps ($frozen) is not 1 step ($one)"
[ "$frozen100" = "$hundred" ] ||
	fail "--lr-schedule step:100,1e-9 after 200 steps ($frozen100) is not 100 steps ($hundred)"
[ "$fromfile" = "$frozen" ] || fail "lr-schedule in --config ($fromfile) is not --lr-schedule ($frozen)"
acc() { sed 's/test accuracy \([0-9.]*\),.*/\1/' <<<"$1"; }
awk -v a="$(acc "$const")" -v b="$(acc "$one")" 'BEGIN { exit !(a >= b + 0.2) }' ||
	fail "constant lr did not learn: $const after 200 steps, $one after 1"
echo "ok: --lr-schedule is applied per dc-s3gd step"

# --eval-interval: a progress line and a --metrics row per evaluation, the
# curve of a --steps run (no epoch ends), then the final row
"$worker" --algo dc-s3gd --dataset synthetic:2000,8,4 --status-interval 0 --steps 40 \
	--eval-interval 10 --metrics "$tmp/eval.csv" > "$tmp/eval.log" ||
	fail "--eval-interval run: $(cat "$tmp/eval.log")"
steps=$(awk -F, 'NR > 1 && $8 >= 0 { printf "%s ", $5 }' "$tmp/eval.csv")
[ "$steps" = "10 20 30 40 40 " ] || fail "--eval-interval 10 over 40 steps: evaluated rows at steps '$steps'"
[ "$(grep -c 'test-acc' "$tmp/eval.log")" = 5 ] || fail "--eval-interval: not 5 progress lines: $(cat "$tmp/eval.log")"
echo "ok: --eval-interval writes a row per evaluation"

# ---- placement: bad lists, nodes and combinations -> exit 2, one line --
err_is 2 "--cpus" "${s[@]}" --cpus 1-x
err_is 2 "--cpus 4096" "${s[@]}" --cpus 4096
err_is 2 "--numa 4000" "${s[@]}" --numa 4000
err_is 2 "--numa" "${s[@]}" --numa x
err_is 2 "--no-pin" "${s[@]}" --cpus 0 --no-pin
# the thread is pinned before the worker connects: read its affinity
# while it waits for a server that is not there (--retry keeps it up)
# affinity NAME ARGS...: the worker's Cpus_allowed_list with ARGS
affinity() {
	local name=$1 wpid
	shift
	"$worker" --server 127.0.0.1:1 --dataset synthetic:100,4,2 "$@" --retry 4 \
		--timeout 1 > "$tmp/$name.log" 2>&1 &
	wpid=$!
	for _ in $(seq 100); do
		grep -q "retrying" "$tmp/$name.log" 2>/dev/null && break
		sleep 0.05
	done
	awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$wpid/status"
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
}
last=$(nproc)
last=$((last - 1))
aff=$(affinity pin --cpus "$last")
[ "$aff" = "$last" ] || fail "--cpus $last: the worker runs on CPUs '$aff'"
echo "ok: --cpus $last pins the worker to CPU $aff"
aff=$(affinity nopin --no-pin)
want=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
[ "$aff" = "$want" ] || fail "--no-pin: the worker runs on CPUs '$aff', not this shell's '$want'"
echo "ok: --no-pin leaves the worker on CPUs $aff"

"$worker" --help | grep -q -- "--eval-interval" || fail "--help lacks --eval-interval"
"$worker" --version | grep -q "^rdma-worker [0-9]" || fail "--version"
echo PASS
