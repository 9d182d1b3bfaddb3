#!/bin/bash
# Stops the built-in registry start_registry.sh started (TERM, then KILL
# after 5 s), if any.
# Usage: stop_registry.sh DIR
[ -f "$1/registry.pid" ] || exit 0
p=$(cat "$1/registry.pid")
kill "$p" 2>/dev/null
for _ in $(seq 50); do
  kill -0 "$p" 2>/dev/null || break
  sleep 0.1
done
kill -9 "$p" 2>/dev/null
true
