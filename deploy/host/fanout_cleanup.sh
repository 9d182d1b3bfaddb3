#!/bin/bash
# Ends a fan-out transfer on this host (deploy/fanout.h): the authorized_keys
# lines ending in MARKER are removed and FANOUT_DIR (spool, key pair) deleted,
# with the spool's directory in /dev/shm when it was kept in memory.
# Usage: fanout_cleanup.sh FANOUT_DIR MARKER
set -e -o pipefail
d=$1 marker=$2
user=${SUDO_USER:-root}
home=$(getent passwd "$user" | cut -d: -f6)
ak=$home/.ssh/authorized_keys
if [ -n "$home" ] && [ -f "$ak" ] && grep -q -F -e " $marker" -- "$ak"; then
  tmp=$ak.cimg-fanout
  grep -v -F -e " $marker" -- "$ak" >"$tmp" || true
  chown --reference="$ak" -- "$tmp"
  chmod --reference="$ak" -- "$tmp"
  mv -f -- "$tmp" "$ak"
  if command -v restorecon >/dev/null 2>&1; then restorecon -- "$ak" || true; fi
fi
if [ -L "$d/spool" ]; then
  spool=$(readlink -- "$d/spool") || spool=
  case $spool in /dev/shm/cimg-fanout.*) rm -rf -- "$spool" ;; esac
fi
rm -rf -- "$d"
