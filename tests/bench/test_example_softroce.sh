#!/bin/bash
# The minimal example of librdmaps(3) over verbs on the soft-RoCE address.
[ -n "${RPS_TEST_ADDR:-}" ] || { echo "SKIP: no RPS_TEST_ADDR"; exit 77; }
RPS_PROVIDER=verbs exec ./examples/ps_minimal "$RPS_TEST_ADDR"
