#!/bin/bash
exec "$(dirname "$0")/smoke-run.sh" ofi
