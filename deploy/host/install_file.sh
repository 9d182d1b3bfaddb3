#!/bin/bash
# Writes stdin to FILE with MODE (octal), its parent directories made
# (0755), atomically: a temporary file beside it, renamed over it. The
# content never appears on a command line (keys, htpasswd, credentials).
# Usage: install_file.sh FILE MODE
set -e
mkdir -p -- "$(dirname -- "$1")"
umask 077
tmp=$(mktemp "$1.cimg.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat >"$tmp"
chmod "$2" -- "$tmp"
mv -f -- "$tmp" "$1"
trap - EXIT
