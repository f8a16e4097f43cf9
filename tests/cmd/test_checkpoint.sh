#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-ps checkpoints over ofi on 127.0.0.1: written at exit and every
# --checkpoint-interval, atomically (no temporary file left); --resume
# continues from the version it saved, also after rdma-ps was killed with
# SIGKILL; a corrupt, truncated or foreign checkpoint is refused with one
# line and exit 1, and nothing starts.
set -uo pipefail
ps=./rdma-ps
worker=./rdma-worker
. "$(dirname "$0")/ps-lib.sh"
run_setup
ck=$tmp/ck
mkdir "$ck"
psargs=(--provider ofi --listen 127.0.0.1 --port 0 --status-interval 0 --workers 2
	--model softmax --features 16 --classes 4 --algo dc-asgd-a --lr 0.05
	--checkpoint-dir "$ck")
wargs=(--provider ofi --dataset synthetic:2000,16,4 --world 2 --status-interval 0 --timeout 20)

start_ps() { # LOG ARGS...
	local log=$1; shift
	"$ps" "${psargs[@]}" "$@" > "$log" 2>&1 &
	pids+=($!)
	wait_port "$log" "${pids[-1]}"
}
train() { # TAG EPOCHS: both workers, wait for both
	local tag=$1 epochs=$2 r wp=()
	for r in 0 1; do
		"$worker" "${wargs[@]}" --server "127.0.0.1:$port" --rank $r --epochs "$epochs" \
			> "$tmp/$tag-w$r.log" 2>&1 &
		wp+=($!)
	done
	for r in 0 1; do
		wait "${wp[r]}" || { cat "$tmp/$tag-w$r.log"; fail "$tag: worker $r failed"; }
	done
}
version_of() { sed -n 's/.*written at version \([0-9]*\).*/\1/p' "$1" | tail -1; }
first_loss() { sed -n 's/.*epoch 1  step [0-9]*  loss \([0-9.]*\).*/\1/p' "$1"; }

# ---- 1. a run that checkpoints at exit (--once) --------------------------
start_ps "$tmp/a.log" --once
train a 2
wait "${pids[-1]}" || { cat "$tmp/a.log"; fail "run a: rdma-ps exit $?"; }
v1=$(version_of "$tmp/a.log")
[ -n "$v1" ] && [ "$v1" -gt 0 ] || { cat "$tmp/a.log"; fail "no checkpoint line"; }
[ -s "$ck/rdma-ps.ckpt" ] || fail "no checkpoint file"
[ -z "$(ls "$ck" | grep -v '^rdma-ps.ckpt$')" ] || fail "left over: $(ls "$ck")"

# ---- 2. --resume continues from it -----------------------------------------
start_ps "$tmp/b.log" --once --resume
grep -q "resumed at version $v1\$" "$tmp/b.log" || { cat "$tmp/b.log"; fail "banner: not resumed at $v1"; }
train b 1
wait "${pids[-1]}" || { cat "$tmp/b.log"; fail "run b: rdma-ps exit $?"; }
v2=$(version_of "$tmp/b.log")
steps=$(( $(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/b-w0.log") + \
	  $(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/b-w1.log") ))
[ "$v2" = $((v1 + steps)) ] || fail "resumed run ended at version $v2, expected $v1 + $steps"
# the resumed server counts this run's pushes, each worker's once
for r in 0 1; do
	n=$(sed -n 's/.*done after \([0-9]*\) steps.*/\1/p' "$tmp/b-w$r.log")
	grep -q "worker $r: pushes $n " "$tmp/b.log" || fail "resumed: worker $r's $n pushes not counted: $(grep "worker $r:" "$tmp/b.log")"
done
# the model was kept: the resumed first epoch is better than the fresh one
awk -v a="$(first_loss "$tmp/a-w0.log")" -v b="$(first_loss "$tmp/b-w0.log")" \
	'BEGIN { if (!(b < a)) exit 1 }' || fail "resumed loss not below the fresh run's"

# ---- 3. SIGKILL in the middle of training; the workers reconnect to the
# restarted (--resume) server and finish -------------------------------------
start_ps "$tmp/c.log" --checkpoint-interval 1 --resume
cport=$port
for r in 0 1; do
	"$worker" "${wargs[@]}" --server "127.0.0.1:$port" --rank $r --epochs 100000 --retry 60 \
		> "$tmp/c-w$r.log" 2>&1 &
	cw[r]=$!
done
sleep 2.5
kill -9 "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null # reaped quietly
[ -z "$(ls "$ck" | grep -v '^rdma-ps.ckpt$')" ] || fail "left over after SIGKILL: $(ls "$ck")"
# the same port, so the waiting workers find it
psargs_port=(--port "$cport")
"$ps" "${psargs[@]}" "${psargs_port[@]}" --resume --once > "$tmp/d.log" 2>&1 &
pids+=($!)
d_pid=$!
for r in 0 1; do
	for _ in $(seq 300); do
		grep -q "reconnected at server version" "$tmp/c-w$r.log" && break
		sleep 0.1
	done
	grep -q "reconnected at server version" "$tmp/c-w$r.log" || { cat "$tmp/c-w$r.log" "$tmp/d.log"; fail "worker $r: no reconnect"; }
done
sleep 1 # some training on the resumed server, then stop the workers
kill -TERM "${cw[0]}" "${cw[1]}"
for r in 0 1; do
	rc=0; wait "${cw[r]}" || rc=$?
	[ "$rc" = 3 ] || { cat "$tmp/c-w$r.log"; fail "worker $r exited $rc on SIGTERM, expected 3"; }
done
rc=0; wait "$d_pid" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/d.log"; fail "resumed rdma-ps exit $rc"; }
v3=$(sed -n 's/.*resumed at version \([0-9]*\)$/\1/p' "$tmp/d.log")
[ -n "$v3" ] && [ "$v3" -gt "$v2" ] || { cat "$tmp/d.log"; fail "after SIGKILL: resumed at '$v3', expected > $v2"; }
v4=$(version_of "$tmp/d.log")
[ -n "$v4" ] && [ "$v4" -gt "$v3" ] || fail "no training after the resume ($v3 -> $v4)"

# ---- without --retry a lost server is exit 1 ---------------------------------
start_ps "$tmp/e.log"
"$worker" "${wargs[@]}" --server "127.0.0.1:$port" --rank 0 --epochs 1000 --retry 0 \
	> "$tmp/e-w0.log" 2>&1 &
ew=$!
sleep 1.5
kill -9 "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null
rc=0; wait "$ew" || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/e-w0.log"; fail "worker without --retry exited $rc, expected 1"; }

# ---- 4. refused: corrupt, truncated, foreign, missing ---------------------
refused() { # WORD ARGS...: exit 1 and one line naming WORD, nothing started
	local want=$1; shift
	local err rc=0
	err=$("$ps" "${psargs[@]}" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 1 ] || fail "'$*' exited $rc, expected 1: $err"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "'$*': not one line: $err"
	grep -q -- "$want" <<<"$err" || fail "'$*': does not name $want: $err"
	echo "ok: $err"
}
cp "$ck/rdma-ps.ckpt" "$tmp/good.ckpt"
printf '\x5a' | dd of="$ck/rdma-ps.ckpt" bs=1 seek=300 conv=notrunc 2>/dev/null
refused "CRC" --resume
truncate -s 100 "$ck/rdma-ps.ckpt"
refused "checkpoint" --resume
cp "$tmp/good.ckpt" "$ck/rdma-ps.ckpt"
refused "algorithm" --resume --algo asgd
refused "workers" --resume --workers 3
rm "$ck/rdma-ps.ckpt"
refused "no checkpoint" --resume
# --resume-auto: a fresh start without a checkpoint, a resume with one
start_ps "$tmp/f.log" --resume-auto --once
grep -q "no checkpoint yet: a fresh start" "$tmp/f.log" || { cat "$tmp/f.log"; fail "--resume-auto without a file"; }
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || fail "--resume-auto run: exit $?"
[ -s "$ck/rdma-ps.ckpt" ] || fail "--resume-auto run wrote no checkpoint"
start_ps "$tmp/g.log" --resume-auto
grep -q "resumed at version 0\$" "$tmp/g.log" || { cat "$tmp/g.log"; fail "--resume-auto with a file"; }
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || fail "--resume-auto run 2: exit $?"
touch "$tmp/afile"; chmod +x "$tmp/afile"
err=$("$ps" --workers 1 --params 10 --checkpoint-dir "$tmp/afile" 2>&1); [ $? = 2 ] && grep -q "Not a directory" <<<"$err" || fail "a file as --checkpoint-dir: $err"
err=$("$ps" --workers 1 --params 10 --resume 2>&1); [ $? = 2 ] || fail "--resume without a dir: $err"
err=$("$ps" --workers 1 --params 10 --checkpoint-dir "$tmp/none" 2>&1); [ $? = 2 ] || fail "missing dir: $err"
echo PASS
