#!/bin/bash
# Removes the files and directories deploy installed outside its cluster
# directory (the registry's CA and hosts.toml, the runtime's credentials).
# Usage: remove_paths.sh PATH...
for p in "$@"; do
  if [ -e "$p" ] || [ -L "$p" ]; then
    rm -rf -- "$p" && echo "removed $p"
  fi
done
true
