#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# DC-S3GD against synchronous SGD with the same global batch (issue 8):
# 4 workers, softmax on Fashion-MNIST, 2 epochs, batch 32 each (global
# 128), the same learning rate.  SSGD runs through rdma-ps --algo ssgd,
# DC-S3GD without a server.  Asserts every DC-S3GD worker ends with the
# same test accuracy and that it is within 1 point of SSGD's.  Skips when
# the dataset (Debian package dataset-fashion-mnist) is not installed.
# Run from the build directory.
set -uo pipefail
data=${RPS_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
M=4 epochs=2 lr=0.05

if [ ! -e "$data/train-images-idx3-ubyte.gz" ] && [ ! -e "$data/train-images-idx3-ubyte" ]; then
	echo "SKIP: Fashion-MNIST not in $data (apt-get install dataset-fashion-mnist)"
	exit 77
fi
. "$(dirname "$0")/ps-lib.sh"
run_setup
acc() { sed -n 's/.*done after [0-9]* steps in [0-9.]* s: test accuracy \([0-9.]*\),.*/\1/p' "$1"; }

./rdma-ps --provider ofi --listen 127.0.0.1 --port 0 --workers $M --model softmax \
	--features 784 --classes 10 --algo ssgd --lr $lr --once --status-interval 0 \
	> "$tmp/ps.log" 2>&1 &
ps_pid=$!
pids+=("$ps_pid")
wait_port "$tmp/ps.log" "$ps_pid"
for ((r = 0; r < M; r++)); do
	./rdma-worker --provider ofi --server "127.0.0.1:$port" --rank $r --world $M \
		--dataset "fashion-mnist:$data" --epochs $epochs --status-interval 0 \
		--timeout 120 > "$tmp/ssgd.$r.log" 2>&1 &
	wp[r]=$!
	pids+=("${wp[r]}")
done
for ((r = 0; r < M; r++)); do
	wait "${wp[r]}" || { cat "$tmp/ssgd.$r.log"; fail "ssgd worker $r exited $?"; }
done
wait "$ps_pid" || { cat "$tmp/ps.log"; fail "rdma-ps exited $?"; }
ssgd=$(acc "$tmp/ssgd.0.log")

base=$((20000 + RANDOM % 20000))
peers=
for ((r = 0; r < M; r++)); do peers+="${peers:+,}127.0.0.1:$((base + 10 * r))"; done
for ((r = 0; r < M; r++)); do
	./rdma-worker --provider ofi --algo dc-s3gd --peers "$peers" --lr $lr --rank $r \
		--world $M --dataset "fashion-mnist:$data" --epochs $epochs --status-interval 0 \
		--timeout 120 > "$tmp/s3gd.$r.log" 2>&1 &
	wp[r]=$!
	pids+=("${wp[r]}")
done
for ((r = 0; r < M; r++)); do
	wait "${wp[r]}" || { cat "$tmp/s3gd.$r.log"; fail "dc-s3gd worker $r exited $?"; }
done
s3gd=$(acc "$tmp/s3gd.0.log")
for ((r = 1; r < M; r++)); do
	[ "$(acc "$tmp/s3gd.$r.log")" = "$s3gd" ] ||
		fail "dc-s3gd worker $r ended at $(acc "$tmp/s3gd.$r.log"), worker 0 at $s3gd"
done
grep -h "done after\|hidden" "$tmp/ssgd.0.log" "$tmp/s3gd.0.log"
echo "test accuracy after $epochs epochs, $M workers, global batch $((32 * M)): ssgd $ssgd, dc-s3gd $s3gd"
awk -v a="$ssgd" -v b="$s3gd" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0.5 && d <= 0.01) }' ||
	fail "dc-s3gd's $s3gd is not within 1 point of ssgd's $ssgd"
echo PASS
