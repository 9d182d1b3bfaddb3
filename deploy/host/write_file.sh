#!/bin/bash
# Replaces FILE with stdin atomically (a temporary file renamed over it);
# with "private", readable by root only.
# Usage: write_file.sh FILE [private]
set -e
[ "${2:-}" = private ] && umask 077
cat >"$1.tmp"
mv -- "$1.tmp" "$1"
