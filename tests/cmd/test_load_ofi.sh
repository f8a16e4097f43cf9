#!/bin/bash
exec "$(dirname "$0")/load-run.sh" ofi 32 300
