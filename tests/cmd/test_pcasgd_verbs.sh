#!/bin/bash
exec "$(dirname "$0")/pcasgd-run.sh" verbs
