#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# rdma-ps --init-weights over ofi on 127.0.0.1: a broken weights file
# (missing, not a file, truncated, trailing bytes, bad magic, version,
# header size, reserved field, count 0, CRC mismatch, NaN, Inf) and a
# conflicting --model or --params are refused with exit 2 and one line
# naming the file and the problem; a valid file's weights are exactly what
# a worker pulls, whole and as --shard 1/2 of the same file; a resume
# checkpoint wins over the file.  The files are written with python3's
# standard library only (struct, zlib); where python3 has numpy,
# python/rdmaps/initfile.py must write the same bytes and refuse the same
# files with the same reasons.
set -uo pipefail
ps=./rdma-ps
client=./tests/cmd/ps_client
. "$(dirname "$0")/ps-lib.sh"

py=
for p in /usr/bin/python3 python3; do
	command -v "$p" >/dev/null 2>&1 && "$p" -c 'import struct, zlib' 2>/dev/null &&
		{ py=$p; break; }
done
[ -n "$py" ] || { echo "SKIP: no python3 (with struct and zlib) to write weights files"; exit 77; }
run_setup

# mkw PATH N [KEY=VALUE...]: a weights file of N distinct finite weights,
# as the format says unless a key changes it: magic, version, hdr
# (header bytes), count, crc, reserved, bad=I:nan|inf (weight I), cut=B
# (drop the last B bytes), extra=B (B zero bytes after the end)
cat > "$tmp/mkw.py" <<'EOF'
import struct, sys, zlib
path, n = sys.argv[1], int(sys.argv[2])
kv = dict(a.split("=", 1) for a in sys.argv[3:])
w = [((i * 37) % 101 - 50) / 8.0 + i * 1e-3 for i in range(n)]
if "bad" in kv:
    i, what = kv["bad"].split(":")
    w[int(i)] = float(what)
payload = struct.pack("<%df" % n, *w)
header = struct.pack("<8sIIQII", kv.get("magic", "RDMAPSWT").encode(),
                     int(kv.get("version", 1)), int(kv.get("hdr", 32)),
                     int(kv.get("count", n)),
                     int(kv.get("crc", zlib.crc32(payload))),
                     int(kv.get("reserved", 0)))
data = header + payload + b"\0" * int(kv.get("extra", 0))
data = data[:len(data) - int(kv.get("cut", 0))]
open(path, "wb").write(data)
EOF
mkw() { "$py" "$tmp/mkw.py" "$@" || fail "cannot write $1"; }

# ---- refused: exit 2, one line naming the file and the problem ----------
refused() { # FILE EXPECTED-WORDS [ARGS...]
	local f=$1 want=$2 err rc=0
	shift 2
	err=$("$ps" --workers 1 --init-weights "$f" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] || fail "$f: exited $rc, expected 2 ($err)"
	[ "$(wc -l <<<"$err")" = 1 ] || fail "$f: not one line: $err"
	grep -qF -- "$f" <<<"$err" || fail "$f: the error does not name the file: $err"
	grep -qF -- "$want" <<<"$err" || fail "$f: the error does not say '$want': $err"
	echo "refused as expected: $err"
	case $err in # the file's own problems, for initfile.py below
	"rdma-ps: --init-weights: $f: "*) printf '%s\n' "${err#rdma-ps: --init-weights: }" >> "$tmp/refusals" ;;
	esac
}
b=$tmp/bad
refused "$b-none" "cannot open"
mkdir "$b-dir"
refused "$b-dir" "not a regular file"
: > "$b-empty"
refused "$b-empty" "truncated: 0 bytes"
mkw "$b-short-header" 10 cut=52 # 20 bytes: part of the header only
refused "$b-short-header" "truncated: 20 bytes, the header needs 32"
mkw "$b-short" 10 cut=4
refused "$b-short" "truncated: 68 bytes, count 10 needs exactly 72"
mkw "$b-long" 10 extra=1
refused "$b-long" "trailing bytes: 73 bytes"
mkw "$b-magic" 10 magic=RDMAPSWX
refused "$b-magic" "bad magic"
mkw "$b-version" 10 version=2
refused "$b-version" "version 2, this build reads 1"
mkw "$b-hdr" 10 hdr=40
refused "$b-hdr" "header size 40, expected 32"
mkw "$b-reserved" 10 reserved=1
refused "$b-reserved" "reserved header field not zero"
mkw "$b-count0" 0
refused "$b-count0" "count 0"
mkw "$b-count" 10 count=11
refused "$b-count" "truncated: 72 bytes, count 11 needs exactly 76"
mkw "$b-crc" 10 crc=12345
refused "$b-crc" "CRC mismatch"
mkw "$b-nan" 10 bad=3:nan
refused "$b-nan" "weight 3 of 10 is not finite"
mkw "$b-inf" 10 bad=9:-inf
refused "$b-inf" "weight 9 of 10 is not finite"
if [ "$(id -u)" != 0 ]; then # root reads a mode-000 file anyway
	mkw "$b-unreadable" 10 && chmod 000 "$b-unreadable"
	refused "$b-unreadable" "Permission denied"
fi
# the file gives the size: --model is a second source, --params must agree
w=$tmp/w.bin
mkw "$w" 5001
err=$("$ps" --workers 1 --init-weights "$w" --model softmax 2>&1 >/dev/null); rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "choose one" <<<"$err" ||
	fail "--init-weights with --model: rc=$rc $err"
refused "$w" "--params 5000 does not match --init-weights" --params 5000
mkw "$tmp/w10.bin" 10
err=$("$ps" --workers 1 --init-weights "$tmp/w10.bin" --shard 1/11 2>&1 >/dev/null); rc=$?
[ "$rc" = 2 ] && grep -q -- "--shard 1/11: the model has only 10 params" <<<"$err" ||
	fail "--shard with more shards than the file's weights: rc=$rc $err"
# a config file names it just as well
printf 'workers = 1\ninit-weights = %s\n' "$b-crc" > "$tmp/bad.conf"
err=$("$ps" --config "$tmp/bad.conf" 2>&1 >/dev/null); rc=$?
[ "$rc" = 2 ] && grep -qF "$b-crc: CRC mismatch" <<<"$err" || fail "config file: rc=$rc $err"

# ---- what a worker pulls is the file's weights -------------------------
psargs=(--provider ofi --listen 127.0.0.1 --port 0 --status-interval 0 --workers 1 --once
	--chunk 4096 --algo asgd)
# pull TAG ARGS...: rdma-ps with ARGS, one worker that dumps what it pulled
# to $tmp/TAG.pulled and leaves; the server's log in $tmp/TAG.log
pull() {
	local tag=$1
	shift
	"$ps" "${psargs[@]}" "$@" > "$tmp/$tag.log" 2>&1 &
	pids+=($!)
	wait_port "$tmp/$tag.log" "${pids[-1]}"
	"$client" 127.0.0.1 "$port" 0 1 0 "$tmp/$tag.pulled" > "$tmp/$tag.client" 2>&1 ||
		{ cat "$tmp/$tag.log" "$tmp/$tag.client"; fail "$tag: the worker failed"; }
	wait_exit "${pids[-1]}" 20
	[ "$rc" = 0 ] || { cat "$tmp/$tag.log"; fail "$tag: rdma-ps exited $rc"; }
}
payload() { # FILE FIRST COUNT: the bytes of weights FIRST.. of a weights file
	tail -c +$((33 + 4 * $2)) "$1" | head -c $((4 * $3))
}

# the whole model, with a --params that agrees
pull whole --init-weights "$w" --params 5001
grep -qF "initial weights from $w (5001 params)" "$tmp/whole.log" ||
	{ cat "$tmp/whole.log"; fail "whole: no banner line for the weights file"; }
grep -q "pulled 5001 weights from offset 0" "$tmp/whole.client" || fail "whole: $(cat "$tmp/whole.client")"
payload "$w" 0 5001 > "$tmp/want"
cmp "$tmp/want" "$tmp/whole.pulled" || fail "whole: the pulled weights are not the file's"

# shard 1 of 2: rps_shard_range gives shard 0 the odd parameter, so
# shard 1 holds 2500 weights from 2501; the file is the whole model
pull shard --init-weights "$w" --shard 1/2
grep -q "(shard 1/2: params 2501..5000 of 5001)" "$tmp/shard.log" ||
	{ cat "$tmp/shard.log"; fail "shard: the banner's range"; }
grep -q "pulled 2500 weights from offset 2501" "$tmp/shard.client" || fail "shard: $(cat "$tmp/shard.client")"
payload "$w" 2501 2500 > "$tmp/want"
cmp "$tmp/want" "$tmp/shard.pulled" || fail "shard 1/2: the pulled weights are not the file's slice"

# ---- a resume checkpoint wins over --init-weights ------------------------
mkdir "$tmp/ck"
mkw "$tmp/w2.bin" 5001 bad=0:7.5 # another valid file of the same size
pull ckpt --init-weights "$w" --checkpoint-dir "$tmp/ck"
pull resumed --init-weights "$tmp/w2.bin" --checkpoint-dir "$tmp/ck" --resume-auto
grep -qF -- "--init-weights $tmp/w2.bin not used: the checkpoint's weights win" "$tmp/resumed.log" ||
	{ cat "$tmp/resumed.log"; fail "resume: no banner line saying the checkpoint won"; }
cmp "$tmp/whole.pulled" "$tmp/resumed.pulled" ||
	fail "resume: the pulled weights are not the checkpoint's (the first file's)"
# with no checkpoint there, --resume-auto starts from the file
rm -f "$tmp/ck/rdma-ps.ckpt"
pull fresh --init-weights "$tmp/w2.bin" --checkpoint-dir "$tmp/ck" --resume-auto
payload "$tmp/w2.bin" 0 5001 > "$tmp/want"
cmp "$tmp/want" "$tmp/fresh.pulled" || fail "resume-auto without a checkpoint: not the file's weights"

# ---- python/rdmaps/initfile.py, where python3 has numpy -------------------
# its writer gives the same bytes, and its reader the same refusals
if "$py" -c 'import numpy' 2>/dev/null; then
	PYTHONPATH="$(cd "$(dirname "$0")/../../python" && pwd)" "$py" - "$w" "$tmp/w-py.bin" \
		"$tmp/refusals" <<'EOF' || fail "python/rdmaps/initfile.py"
import sys
from rdmaps.errors import Error
from rdmaps.initfile import read_init_weights, write_init_weights
w = read_init_weights(sys.argv[1])
write_init_weights(sys.argv[2], w)
assert open(sys.argv[1], "rb").read() == open(sys.argv[2], "rb").read(), "not the same bytes"
for line in open(sys.argv[3]):
    want = line.rstrip("\n")
    path = want.split(": ", 1)[0]
    try:
        read_init_weights(path)
        raise SystemExit("read_init_weights accepted " + path)
    except Error as e:
        assert str(e) == want, "%r, rdma-ps said %r" % (str(e), want)
print("initfile.py: same bytes, same %d refusals" % len(open(sys.argv[3]).readlines()))
EOF
else
	echo "note: $py has no numpy: python/rdmaps/initfile.py not checked"
fi
echo "PASS: refused files, whole model, shard 1/2, resume"
