#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The layers of DESIGN.md call only downwards:
#   util < topo < transport < optim < proto < ps, collective < ml < cmd
# This checks the lower layers' #include lines: a file under src/LAYER may
# include the private headers ("DIR/x.h") and the public headers
# (<rdmaps/x.h>) of its own layer and the ones below, never those of a
# layer above nor the umbrella <rdmaps/rdmaps.h>.  (The wire format once
# included <rdmaps/ps.h> for rps_algo_t; it now has <rdmaps/algo.h>.)
# Prints one "file:line: ..." per violation and fails if there is any.
#
# $srcdir defaults to two levels above this script.
# Exit 0 pass, 1 fail.
set -uo pipefail

srcdir=${srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}

# rank of each layer (a directory under src/)
declare -A RANK=([util]=0 [topo]=1 [transport]=2 [optim]=3 [proto]=4
	[ps]=5 [collective]=5 [ml]=6 [cmd]=7 [umbrella]=99)
# the layer of each public header; the umbrella rdmaps.h is above them all
declare -A PUBLIC=([errno.h]=util [log.h]=util [version.h]=util
	[transport.h]=transport [algo.h]=proto [auth.h]=proto
	[ps.h]=ps [ring.h]=collective [rdmaps.h]=umbrella)
# the layers checked: those below the parameter server
CHECKED=(util topo transport optim proto)

bad=0 files=0
for layer in "${CHECKED[@]}"; do
	[ -d "$srcdir/src/$layer" ] || { echo "FAIL: no directory src/$layer"; exit 1; }
	while IFS= read -r -d '' f; do
		files=$((files + 1))
		rel=${f#"$srcdir"/}
		while IFS=: read -r line inc; do
			target='' what=''
			if [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<rdmaps/([^>]+)\> ]]; then
				what="<rdmaps/${BASH_REMATCH[1]}>"
				target=${PUBLIC[${BASH_REMATCH[1]}]:-}
				if [ -z "$target" ]; then
					echo "$rel:$line: includes $what, which is not in the layer table of tests/build/test_layering.sh"
					bad=$((bad + 1))
					continue
				fi
			elif [[ $inc =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([a-z_]+)/ ]]; then
				what="\"${inc#*\"}"
				target=${BASH_REMATCH[1]}
				[ -n "${RANK[$target]:-}" ] || continue # not a layer (e.g. a test dir)
			else
				continue
			fi
			if [ "${RANK[$target]}" -gt "${RANK[$layer]}" ]; then
				echo "$rel:$line: includes $what (layer $target, above $layer)"
				bad=$((bad + 1))
			fi
		done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f")
	done < <(find "$srcdir/src/$layer" -name '*.[ch]' -print0 | sort -z)
done

echo "checked: the #include lines of $files files under src/{$(IFS=,; echo "${CHECKED[*]}")}"
if [ "$bad" -gt 0 ]; then
	echo "FAIL: $bad include(s) reach up the layers"
	exit 1
fi
echo PASS
