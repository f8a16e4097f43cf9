#!/bin/bash
exec "$(dirname "$0")/load-run.sh" verbs 8 400
