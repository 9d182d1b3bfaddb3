#!/bin/bash
# Runs on every host from rootfs/scripts before the cluster comes up (cimg
# deploy, as sealer): installs the container runtime the image carries in
# cri/ -- containerd, containerd-shim-runc-v2, ctr and runc, Debian's
# binaries copied in at build time (examples/base/Kubefile) -- into
# /usr/local/bin and starts containerd: under systemd where systemd runs,
# else as a daemon with a pidfile (/run/containerd/containerd.pid).
# Its config is /etc/containerd/cimg.toml (a host's own config.toml, as
# Debian's package installs it, is left alone). The registry's CA and
# hosts.toml (/etc/containerd/certs.d/DOMAIN:PORT/) and credentials are put
# in place by cimg deploy itself, as sealer does.
set -euo pipefail
echo "init: preparing $(hostname)"
cd "$(dirname "$0")/.."
if [ ! -d cri ]; then
  echo "init: the image has no cri/: no container runtime installed"
  exit 0
fi
BIN=/usr/local/bin
MARK='# written by the cimg example (scripts/init.sh); scripts/clean.sh removes it'
CONFIG=/etc/containerd/cimg.toml
SNAP_FILE=/etc/containerd/cimg-snapshotter
PIDFILE=/run/containerd/containerd.pid

install_binaries() {
  local b
  mkdir -p "$BIN"
  for b in containerd containerd-shim-runc-v2 ctr runc; do
    cmp -s "cri/$b" "$BIN/$b" && continue
    # beside it, then renamed: a running containerd keeps its old file
    cp "cri/$b" "$BIN/.$b.cimg" && chmod 0755 "$BIN/.$b.cimg" && mv -f "$BIN/.$b.cimg" "$BIN/$b"
  done
}

# overlayfs where the kernel can mount it on /var/lib/containerd; not where
# that directory is itself on overlayfs (the test nodes' /var is an overlayfs
# upper, and overlayfs cannot be an upper layer): then the native snapshotter
# (plain copies of each layer).
choose_snapshotter() {
  local p fs
  mkdir -p /var/lib/containerd
  p=$(mktemp -d /var/lib/containerd/.cimg-probe.XXXXXX)
  mkdir "$p/l" "$p/u" "$p/w" "$p/m"
  if mount -t overlay cimg-probe -o "lowerdir=$p/l,upperdir=$p/u,workdir=$p/w" "$p/m" 2>/dev/null; then
    umount "$p/m"
    echo overlayfs
  else
    fs=$(stat -f -c %T /var/lib/containerd)
    echo "init: overlayfs cannot be mounted on /var/lib/containerd (a $fs file system): using the native snapshotter" >&2
    echo native
  fi
  rm -rf "$p"
}

write_config() {
  mkdir -p /etc/containerd
  # No kubelet runs here (kubeadm is a stand-in), so no CRI plugin: ctr
  # talks to containerd's own API.
  cat >"$CONFIG.new" <<TOML
$MARK
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "/run/containerd/containerd.sock"
TOML
  mv -f "$CONFIG.new" "$CONFIG"
}

# runc needs the cgroup file systems. A host with none mounted (the test
# nodes: `ip netns exec` gives them a fresh sysfs without the host's
# /sys/fs/cgroup mounts) gets them as the kernel has them: the v1
# hierarchies /proc/cgroups lists, each mounted on its own, else cgroup2.
# Marked in /run, so clean.sh unmounts only what was mounted here.
mount_cgroups() {
  local h names
  awk '$0 ~ / - cgroup2? / {f = 1} END {exit !f}' /proc/self/mountinfo && return 0
  mount -t tmpfs -o mode=0755,nosuid,nodev,noexec cimg-cgroup /sys/fs/cgroup
  if awk 'NR > 1 && $2 > 0 {f = 1} END {exit !f}' /proc/cgroups; then
    for h in $(awk 'NR > 1 && $2 > 0 && $4 == 1 {print $2}' /proc/cgroups | sort -un); do
      names=$(awk -v h="$h" 'NR > 1 && $2 == h {printf "%s%s", s, $1; s = ","}' /proc/cgroups)
      mkdir -p "/sys/fs/cgroup/$names"
      mount -t cgroup -o "$names" cgroup "/sys/fs/cgroup/$names"
    done
  else
    umount /sys/fs/cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
  fi
  mkdir -p /run/containerd
  touch /run/containerd/cimg-cgroups
  echo "init: no cgroup file system was mounted here (a fresh sysfs): mounted the kernel's hierarchies on /sys/fs/cgroup"
}

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

start_containerd() {
  if [ -d /run/systemd/system ]; then
    printf '%s\n[Unit]\nDescription=containerd (cimg example)\nAfter=network.target\n[Service]\nExecStart=%s/containerd --config %s\nRestart=always\nDelegate=yes\nKillMode=process\n[Install]\nWantedBy=multi-user.target\n' \
      "$MARK" "$BIN" "$CONFIG" >/etc/systemd/system/containerd.service
    systemctl daemon-reload
    systemctl enable --now containerd
    return 0
  fi
  if running; then
    echo "init: containerd already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  mkdir -p /run/containerd
  setsid "$BIN/containerd" --config "$CONFIG" </dev/null >>/var/log/containerd.log 2>&1 &
  echo $! >"$PIDFILE"
  echo "init: containerd started without systemd (pid $!, log /var/log/containerd.log)"
}

wait_ready() {
  local i
  for i in $(seq 150); do # a hang guard; it answers within a second
    "$BIN/ctr" version >/dev/null 2>&1 && return 0
    [ -d /run/systemd/system ] || running || { tail -n 20 /var/log/containerd.log >&2; exit 1; }
    [ "$i" -lt 150 ] && sleep 0.2
  done
  echo "init: containerd did not answer on /run/containerd/containerd.sock" >&2
  tail -n 20 /var/log/containerd.log >&2
  exit 1
}

install_binaries
mount_cgroups
write_config
choose_snapshotter >"$SNAP_FILE"
start_containerd
wait_ready
echo "init: containerd $("$BIN/ctr" version | awk '/Server:/ {s=1} s && /Version:/ {print $2; exit}') ready, snapshotter $(cat "$SNAP_FILE")"
