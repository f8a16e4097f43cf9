#!/bin/bash
exec "$(dirname "$0")/s3gd-run.sh" verbs
