#!/bin/bash
# Records that step NAME succeeded on this host, with VALUE (the image ID for
# per-image steps).
# Usage: record_step.sh DIR NAME VALUE
set -e
mkdir -p "$1/steps"
printf %s "$3" >"$1/steps/$2"
