#!/usr/bin/env bash
# Writes the man pages of cimg and clusterfs, one per command and one per
# subcommand (cimg-build.1.gz, clusterfs-mount.1.gz, ...), from the same text as
# their --help (help2man reads it, examples included), into OUTDIR.
# Usage: packaging/man.sh CIMG CLUSTERFS OUTDIR VERSION
set -euo pipefail
CIMG=$1 CLUSTERFS=$2 OUT=$3 VERSION=$4
mkdir -p "$OUT"

# subcommands BIN: the names under the "Subcommands:" heading of BIN --help.
subcommands() {
  "$1" --help | awk 'tolower($0) ~ /^subcommands:/ {on=1; next} on && /^[^ ]/ {on=0} on && NF {print $1}'
}

# page BIN NAME DESCRIPTION [SUB]: NAME.1 from "BIN [SUB] --help".
page() {
  local bin=$1 name=$2 desc=$3 sub=${4:-} wrapper
  wrapper=$(mktemp -d)
  # help2man runs "PROGRAM --help": a wrapper named like the page's command
  # makes it "cimg build --help", and the NAME line read "cimg-build".
  printf '#!/bin/sh\nexec %q %s "$@"\n' "$bin" "$sub" >"$wrapper/$name"
  chmod +x "$wrapper/$name"
  help2man --no-info --no-discard-stderr --section 1 --version-string "$VERSION" \
    --name "$desc" --source "clusterfs $VERSION" --manual "clusterfs manual" \
    --output "$OUT/$name.1" "$wrapper/$name"
  gzip -9nf "$OUT/$name.1" # as Debian ships man pages (-n: no name or time: reproducible)
  rm -rf "$wrapper"
}

for pair in "cimg:$CIMG" "clusterfs:$CLUSTERFS"; do
  cmd=${pair%%:*} bin=${pair#*:}
  if [[ $cmd == cimg ]]; then
    page "$bin" cimg "build, store, move, inspect and deploy cluster images"
  else
    page "$bin" clusterfs "mount cluster images and directories as an overlay filesystem"
  fi
  while read -r sub; do
    desc=$("$bin" --help | awk -v s="$sub" 'tolower($0) ~ /^subcommands:/ {on=1; next}
      on && $1 == s {$1=""; sub(/^ +/, ""); print; exit}')
    page "$bin" "$cmd-$sub" "${desc:-$cmd $sub}" "$sub"
  done < <(subcommands "$bin")
done
