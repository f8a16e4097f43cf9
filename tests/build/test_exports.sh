#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The exports of librdmaps.so are the API and nothing else:
#   - under the public nodes (RDMAPS_1.0, and RDMAPS_1.2 for what 1.2
#     added), exactly the functions declared in include/rdmaps/*.h (a new
#     public function that the map forgot is missing from the library; an
#     internal one that leaked is extra);
#   - under RDMAPS_PRIVATE_1, exactly what src/librdmaps.map lists there,
#     none of it declared in a public header;
#   - no other version node, and every name of the map exported.
# Prints one line per difference and fails if there is any.
#
# Run from the build directory (make check does); $srcdir defaults to two
# levels above this script, $OBJDUMP to objdump.
# Exit 0 pass, 1 fail, 77 skip (no shared library built).
set -uo pipefail

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
OBJDUMP=${OBJDUMP:-objdump}
bad=0
fail() { echo "FAIL: $*"; exit 1; }
diff_line() { echo "DIFF: $*"; bad=$((bad + 1)); }

[ -r librdmaps.la ] || fail "no librdmaps.la here: run from the build directory"
dlname=$(sed -n "s/^dlname='\(.*\)'/\1/p" librdmaps.la)
[ -n "$dlname" ] || { echo "SKIP: librdmaps is not built as a shared library"; exit 77; }
so=.libs/$dlname
[ -r "$so" ] || fail "$so is missing"
map=$srcdir/src/librdmaps.map
[ -r "$map" ] || fail "$map is missing"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# defined dynamic symbols as "VERSION NAME" (objdump -T: the version is
# the next-to-last field, "(VERSION)" when hidden, the name the last)
"$OBJDUMP" -T "$so" | awk '$2 == "g" && $4 != "*UND*" && $4 != "*ABS*" && NF >= 7 {
	v = $(NF - 1); gsub(/[()]/, "", v); print v, $NF }' | sort -u >"$tmp/exported"
[ -s "$tmp/exported" ] || fail "$OBJDUMP -T $so lists no defined global symbol"

# the public headers' functions: comments stripped, identifiers rps_*
# followed by "(" on lines starting in column 0 (as test_man_coverage.sh),
# except static inline ones, which the caller compiles (the init
# functions of the extensible structs)
sed -e ':a' -e 's@/\*\([^*]\|\*[^/]\)*\*/@@g' -e '/\/\*/{N;ba' -e '}' \
	"$srcdir"/include/rdmaps/*.h | grep -E '^[^[:space:]#]' |
	grep -vE '^static[[:space:]]+inline[[:space:]]' |
	grep -oE '\brps_[a-z0-9_]*[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' |
	sort -u >"$tmp/public"
[ -s "$tmp/public" ] || fail "no function found in $srcdir/include/rdmaps/*.h"

# the names the map lists under each node
awk '/^[A-Z_0-9.]+[[:space:]]*\{/ { node = $1; next }
	/^[[:space:]]*\/\*/, /\*\// { next }
	node && /^[[:space:]]*rps_[a-z0-9_]+;/ { gsub(/[[:space:];]/, ""); print node, $0 }' \
	"$map" | sort -u >"$tmp/map"

public_node='^RDMAPS_1\.(0|2)$'
awk -v re="$public_node" '$1 ~ re { print $2 }' "$tmp/exported" | sort -u >"$tmp/exp_pub"
awk '$1 == "RDMAPS_PRIVATE_1" { print $2 }' "$tmp/exported" >"$tmp/exp_priv"
awk -v re="$public_node" '$1 !~ re && $1 != "RDMAPS_PRIVATE_1"' "$tmp/exported" >"$tmp/exp_other"

while read -r fn; do diff_line "$fn: declared in include/rdmaps but not exported under RDMAPS_1.0 or 1.2"
done < <(comm -23 "$tmp/public" "$tmp/exp_pub")
while read -r fn; do diff_line "$fn: exported under RDMAPS_1.0 or 1.2 but declared in no public header"
done < <(comm -13 "$tmp/public" "$tmp/exp_pub")
while read -r fn; do diff_line "$fn: exported under RDMAPS_PRIVATE_1 but declared in a public header"
done < <(comm -12 "$tmp/public" "$tmp/exp_priv")
while read -r v fn; do diff_line "$fn: exported under $v (only RDMAPS_1.0, RDMAPS_1.2 and RDMAPS_PRIVATE_1 exist)"
done <"$tmp/exp_other"
while read -r v fn; do
	grep -qx "$v $fn" "$tmp/exported" ||
		diff_line "$fn: listed under $v in src/librdmaps.map but not exported (stale entry, or a missing RPS_EXPORT / RPS_EXPORT_PRIVATE)"
done <"$tmp/map"

echo "checked: $(wc -l <"$tmp/exp_pub") public (RDMAPS_1.0, 1.2) and $(wc -l <"$tmp/exp_priv") RDMAPS_PRIVATE_1 exports of $so"
[ "$bad" = 0 ] || fail "$bad difference(s) between $so, src/librdmaps.map and include/rdmaps/*.h"
echo PASS
