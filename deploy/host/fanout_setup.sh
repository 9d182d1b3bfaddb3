#!/bin/bash
# Prepares this host for a fan-out transfer (deploy/fanout.h): FANOUT_DIR made
# afresh with spool/ (the verified pieces), serve.sh (stdin: fanout_serve.sh,
# what hosts fetching from here run) and a new ed25519 key pair this host
# fetches from its sources with (the private key never leaves it). Prints the
# public key, or "none" when ssh or ssh-keygen is missing (the host then takes
# every piece from the deploy host). FANOUT_DIR belongs to the login user
# (sudo's SUDO_USER), whose authorized_keys admits the fetching hosts.
# The spool is kept in memory (FANOUT_DIR/spool a link to a private directory
# /dev/shm/cimg-fanout.*) when /dev/shm is a tmpfs with room for twice
# SPOOL_BYTES (the stream's size at most) and the host has four times that
# available: a relaying host then writes the stream to its disk once, into the
# rootfs, not twice. Else the spool is on disk.
# Usage: fanout_setup.sh FANOUT_DIR [SPOOL_BYTES]
set -e -o pipefail
d=$1 bytes=${2:-}

# in_memory BYTES: /dev/shm can take BYTES twice over, and memory four times.
in_memory() {
  local k v _u avail='' room
  [[ $1 =~ ^[0-9]+$ ]] && [ -d /dev/shm ] || return 1
  [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] || return 1
  while read -r k v _u; do
    if [ "$k" = MemAvailable: ]; then
      avail=$((v * 1024))
      break
    fi
  done </proc/meminfo
  [ -n "$avail" ] && [ "$avail" -ge $(($1 * 4)) ] || return 1
  room=$(df -P -B1 /dev/shm 2>/dev/null | sed -n '2{s/^[^ ]* *[0-9]* *[0-9]* *\([0-9]*\).*/\1/;p}')
  [[ $room =~ ^[0-9]+$ ]] && [ "$room" -ge $(($1 * 2)) ]
}

# An earlier transfer's spool in memory (fanout_cleanup.sh does the same).
if [ -L "$d/spool" ]; then
  old=$(readlink -- "$d/spool") || old=
  case $old in /dev/shm/cimg-fanout.*) rm -rf -- "$old" ;; esac
fi
rm -rf -- "$d"
mkdir -p -- "$(dirname -- "$d")"
mkdir -m 0700 -- "$d"
if in_memory "$bytes"; then
  spool=$(mktemp -d /dev/shm/cimg-fanout.XXXXXXXX) # 0700
  ln -s -- "$spool" "$d/spool"
  if [ -n "${SUDO_USER:-}" ]; then chown -- "$SUDO_USER" "$spool"; fi
else
  mkdir -m 0755 -- "$d/spool"
fi
cat >"$d/serve.sh"
chmod 0755 "$d/serve.sh"
if [ -n "${SUDO_USER:-}" ]; then chown -R -- "$SUDO_USER" "$d"; fi
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  echo none
  exit 0
fi
ssh-keygen -q -t ed25519 -N '' -C "cimg-fanout@$(uname -n)" -f "$d/key" </dev/null >/dev/null
cat -- "$d/key.pub"
