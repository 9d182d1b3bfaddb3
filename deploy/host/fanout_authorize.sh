#!/bin/bash
# Lets the hosts that fetch pieces from this one in (deploy/fanout.h): the
# public keys on stdin (one a line) go into the login user's authorized_keys
# (sudo's SUDO_USER, else root), each restricted to running
# FANOUT_DIR/serve.sh (no shell, no forwarding, no pty) and expiring in a day;
# lines ending in MARKER (an earlier transfer's) are replaced.
# Usage: fanout_authorize.sh FANOUT_DIR MARKER
set -e -o pipefail
d=$1 marker=$2
user=${SUDO_USER:-root}
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "fanout_authorize.sh: no home directory for $user" >&2; exit 1; }
group=$(id -gn -- "$user")
if [ ! -d "$home/.ssh" ]; then install -d -m 0700 -o "$user" -g "$group" -- "$home/.ssh"; fi
ak=$home/.ssh/authorized_keys
tmp=$ak.cimg-fanout
{
  if [ -f "$ak" ]; then grep -v -F -e " $marker" -- "$ak" || true; fi
  until=$(date -d '+1 day' +%Y%m%d%H%M)
  while IFS= read -r key; do
    [ -n "$key" ] || continue
    printf 'restrict,expiry-time="%s",command="/bin/bash %s/serve.sh %s/spool" %s %s\n' \
      "$until" "$d" "$d" "$key" "$marker"
  done
} >"$tmp"
chown -- "$user:$group" "$tmp"
chmod 0600 "$tmp"
mv -f -- "$tmp" "$ak"
if command -v restorecon >/dev/null 2>&1; then restorecon -- "$ak" || true; fi # SELinux: sshd's label
