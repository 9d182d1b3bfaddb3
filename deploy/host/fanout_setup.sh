#!/bin/bash
# Prepares this host for a fan-out transfer (deploy/fanout.h): FANOUT_DIR made
# afresh with spool/ (the verified pieces), serve.sh (stdin: fanout_serve.sh,
# what hosts fetching from here run) and a new ed25519 key pair this host
# fetches from its sources with (the private key never leaves it). Prints the
# public key, or "none" when ssh or ssh-keygen is missing (the host then takes
# every piece from the deploy host). FANOUT_DIR belongs to the login user
# (sudo's SUDO_USER), whose authorized_keys admits the fetching hosts.
# Usage: fanout_setup.sh FANOUT_DIR
set -e -o pipefail
d=$1
rm -rf -- "$d"
mkdir -p -- "$(dirname -- "$d")"
mkdir -m 0700 -- "$d"
mkdir -m 0755 -- "$d/spool"
cat >"$d/serve.sh"
chmod 0755 "$d/serve.sh"
if [ -n "${SUDO_USER:-}" ]; then chown -R -- "$SUDO_USER" "$d"; fi
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  echo none
  exit 0
fi
ssh-keygen -q -t ed25519 -N '' -C "cimg-fanout@$(uname -n)" -f "$d/key" </dev/null >/dev/null
cat -- "$d/key.pub"
