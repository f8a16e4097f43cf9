#!/bin/bash
exec "$(dirname "$0")/train-run.sh" verbs
