#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# make demo: one rdma-ps and 4 rdma-worker processes on this machine train
# softmax regression on Fashion-MNIST with DC-ASGD (adaptive lambda) for 2
# epochs; then sequential SGD (one worker, --algo sgd) on the same data,
# and the two final test accuracies side by side.
#   demo.sh [BINDIR]      environment: DEMO_PROVIDER (auto), DEMO_ADDR
#                         (127.0.0.1), DEMO_EPOCHS (2), DEMO_LR (0.02),
#                         DEMO_WORKERS (4), DEMO_DATASET_DIR
set -uo pipefail
bindir=${1:-.}
provider=${DEMO_PROVIDER:-auto}
addr=${DEMO_ADDR:-127.0.0.1}
epochs=${DEMO_EPOCHS:-2}
lr=${DEMO_LR:-0.02}
workers=${DEMO_WORKERS:-4}
datadir=${DEMO_DATASET_DIR:-/usr/share/datasets/fashion-mnist}
export OPENBLAS_NUM_THREADS=1 # one BLAS thread per worker process

for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
	if [ ! -e "$datadir/$f.gz" ] && [ ! -e "$datadir/$f" ]; then
		echo "demo: Fashion-MNIST is not in $datadir: install the Debian package" \
			"dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist)" >&2
		exit 1
	fi
done
for p in rdma-ps rdma-worker; do
	[ -x "$bindir/$p" ] || { echo "demo: $bindir/$p is not built (run make)" >&2; exit 1; }
done
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# run NAME WORKERS ALGO: one training; prints rank 0's epoch lines and
# leaves "ACC STEPS SECONDS" of rank 0 in $tmp/NAME.result
run() {
	local name=$1 m=$2 algo=$3 port= r
	"$bindir/rdma-ps" --provider "$provider" --listen "$addr" --port 0 --once \
		--status-interval 0 --workers "$m" --model softmax --algo "$algo" --lr "$lr" \
		> "$tmp/$name-ps.log" 2>&1 &
	local ps_pid=$!
	pids+=("$ps_pid")
	for _ in $(seq 300); do
		port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$tmp/$name-ps.log")
		[ -n "$port" ] && break
		kill -0 "$ps_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		cat "$tmp/$name-ps.log" >&2
		echo "demo: rdma-ps did not start (see above)" >&2
		return 1
	fi
	[ "$name" = dc ] && sed -n '1p' "$tmp/$name-ps.log" | sed 's/^/  /'
	local wp=()
	for ((r = 0; r < m; r++)); do
		"$bindir/rdma-worker" --provider "$provider" --server "$addr:$port" --rank "$r" \
			--world "$m" --model softmax --epochs "$epochs" --status-interval 0 \
			> "$tmp/$name-w$r.log" 2>&1 &
		wp+=($!)
		pids+=($!)
	done
	local rc=0
	for ((r = 0; r < m; r++)); do
		if ! wait "${wp[r]}"; then
			rc=1
			cat "$tmp/$name-w$r.log" >&2
		fi
	done
	wait "$ps_pid" || rc=1
	grep "(epoch end)" "$tmp/$name-w0.log" | sed 's/^/  /'
	sed -n 's/.*done after \([0-9]*\) steps in \([0-9.]*\) s: test accuracy \([0-9.]*\),.*/\3 \1 \2/p' \
		"$tmp/$name-w0.log" > "$tmp/$name.result"
	[ -s "$tmp/$name.result" ] || rc=1
	return $rc
}

echo "rdmaps demo: softmax regression on Fashion-MNIST (60000 training, 10000 test images), $epochs epochs, lr $lr"
echo
echo "DC-ASGD (adaptive lambda), $workers workers and one rdma-ps:"
run dc "$workers" dc-asgd-a || { echo "demo: the DC-ASGD run failed" >&2; exit 1; }
echo
echo "sequential SGD, one worker (the reference):"
run sgd 1 sgd || { echo "demo: the SGD run failed" >&2; exit 1; }
echo
read -r dc_acc dc_steps dc_s < "$tmp/dc.result"
read -r sgd_acc sgd_steps sgd_s < "$tmp/sgd.result"
printf '%-40s %14s %10s %8s\n' "final test accuracy after $epochs epochs" accuracy "steps" "time"
printf '%-40s %14s %10s %8s\n' "DC-ASGD-a, $workers workers" "$dc_acc" "$workers x $dc_steps" "$dc_s s"
printf '%-40s %14s %10s %8s\n' "sequential SGD, 1 worker" "$sgd_acc" "$sgd_steps" "$sgd_s s"
awk -v a="$dc_acc" -v b="$sgd_acc" 'BEGIN { printf "difference: %+.2f percentage points\n", (a - b) * 100 }'
