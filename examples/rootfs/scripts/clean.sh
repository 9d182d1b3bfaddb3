#!/bin/bash
# Undoes init.sh on every host: stops containerd (and what it still runs),
# unmounts its snapshots, removes the binaries, config and state init.sh
# made. The built-in registry init-registry.sh started is stopped too.
set -uo pipefail
echo "clean: cleaning $(hostname)"
cd "$(dirname "$0")/.." || exit 1
BIN=/usr/local/bin
MARK='# written by the cimg example (scripts/init.sh); scripts/clean.sh removes it'
PIDFILE=/run/containerd/containerd.pid

stop_pid() { # PIDFILE: TERM, then KILL after 5 s
  local p
  [ -f "$1" ] || return 0
  p=$(cat "$1")
  kill "$p" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$p" 2>/dev/null
  rm -f "$1"
}

# the tasks containerd runs (the example's containers are --rm: normally none)
if [ -x "$BIN/ctr" ] && "$BIN/ctr" version >/dev/null 2>&1; then
  for ns in $("$BIN/ctr" namespaces ls -q); do
    for t in $("$BIN/ctr" -n "$ns" tasks ls -q); do
      "$BIN/ctr" -n "$ns" tasks kill -s KILL "$t" >/dev/null 2>&1
      "$BIN/ctr" -n "$ns" tasks delete -f "$t" >/dev/null 2>&1
    done
  done
fi
if [ -f /etc/systemd/system/containerd.service ] && grep -qF "$MARK" /etc/systemd/system/containerd.service; then
  systemctl disable --now containerd
  rm -f /etc/systemd/system/containerd.service
  systemctl daemon-reload
elif [ -f "$PIDFILE" ]; then
  stop_pid "$PIDFILE" && echo "clean: containerd stopped"
fi
stop_pid "$(dirname "$PWD")/registry.pid"
if [ -f /run/containerd/cimg-cgroups ]; then # mounted by init.sh
  umount -R /sys/fs/cgroup && echo "clean: the cgroup file systems init.sh mounted are unmounted"
fi
# snapshots and shim state still mounted, deepest first
awk '$2 ~ "^/(var/lib|run)/containerd/" {print $2}' /proc/self/mounts | sort -r | while read -r m; do
  umount -l "$m"
done
if [ -f /etc/containerd/cimg.toml ]; then
  rm -rf /var/lib/containerd /run/containerd /etc/containerd/cimg.toml /etc/containerd/cimg-snapshotter
  rmdir /etc/containerd 2>/dev/null
fi
for b in containerd containerd-shim-runc-v2 ctr runc; do
  [ -f "cri/$b" ] && cmp -s "cri/$b" "$BIN/$b" && rm -f "$BIN/$b"
done
rm -f /var/log/containerd.log
true
