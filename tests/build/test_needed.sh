#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# librdmaps links what it uses: its NEEDED entries must not include zlib
# or OpenBLAS, which only src/ml (datasets, models) needs; src/ml is
# librdmaps_ml.la, linked by the programs and tests that train.
#
# Run from the build directory (make check does).  $OBJDUMP names the
# objdump to use (make check passes libtool's).
# Exit 0 pass, 1 fail, 77 skip (no shared library built).
set -uo pipefail

OBJDUMP=${OBJDUMP:-objdump}
fail() { echo "FAIL: $*"; exit 1; }

[ -r librdmaps.la ] || fail "no librdmaps.la here: run from the build directory"
dlname=$(sed -n "s/^dlname='\(.*\)'/\1/p" librdmaps.la)
[ -n "$dlname" ] || { echo "SKIP: librdmaps is not built as a shared library"; exit 77; }
so=.libs/$dlname
[ -r "$so" ] || fail "$so is missing"
command -v "$OBJDUMP" >/dev/null || fail "no $OBJDUMP (binutils) to read $so"

needed=$("$OBJDUMP" -p "$so" | awk '$1 == "NEEDED" { print $2 }')
[ -n "$needed" ] || fail "$OBJDUMP -p $so lists no NEEDED entry"
echo "$so NEEDED:" $needed
bad=$(grep -E '^lib(z|openblas|blas|cblas)\.so' <<<"$needed")
[ -z "$bad" ] || fail "$so links" $bad "(only src/ml needs them: link librdmaps_ml.la instead)"
echo PASS
