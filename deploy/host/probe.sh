#!/bin/bash
# What deploy needs to know of a host before it changes anything.
# Usage: probe.sh DIR   (DIR: /var/lib/cimg/<cluster>)
# Prints, one a line: "zstd" when zstd is installed, "dir" when DIR exists,
# "record" when DIR holds a host record, "fanout" when it holds what a fan-out
# transfer left (deploy/fanout.h), "step NAME VALUE" for each step
# recorded, "arch MACHINE" (uname -m). Exit 3: tar is missing.
D=$1
command -v tar >/dev/null 2>&1 || { echo 'tar is not installed' >&2; exit 3; }
command -v zstd >/dev/null 2>&1 && echo zstd
printf 'arch %s\n' "$(uname -m)"
[ -d "$D" ] && echo dir
[ -f "$D/files.gz" ] && echo record
[ -d "$D/fanout" ] && echo fanout
for f in "$D"/steps/*; do
  [ -f "$f" ] && printf 'step %s %s\n' "${f##*/}" "$(cat "$f")"
done
exit 0
