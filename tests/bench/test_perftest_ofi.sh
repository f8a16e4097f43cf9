#!/bin/bash
exec "$(dirname "$0")/perftest-run.sh" ofi
