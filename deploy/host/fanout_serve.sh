#!/bin/bash
# Serves this host's verified pieces of a fan-out transfer to a host that
# fetches from here (deploy/fanout.h); sshd runs it as the forced command of
# that host's key (fanout_authorize.sh), as the login user. The request is
# SSH_ORIGINAL_COMMAND "from K": for I = K, K+1, ... it writes "piece I SIZE"
# and the piece's bytes as soon as this host has verified piece I, then
# "end N" after the last one. It fails when this host's receiver is gone (or
# never started) before it has piece I: the fetching host moves on.
# Usage: fanout_serve.sh SPOOL
set -o pipefail
spool=$1
read -r verb i extra <<<"${SSH_ORIGINAL_COMMAND:-}"
if [ "$verb" != from ] || ! [[ $i =~ ^[0-9]+$ ]] || [ -n "$extra" ]; then
  echo "fanout_serve.sh: bad request" >&2
  exit 2
fi
exec {napfd}<> <(:) # waits on a pipe nobody writes: no `sleep` process (fanout_receive.sh)
nap() { read -r -t 0.02 -u "$napfd" _ || :; }
readf() { { IFS= read -r "$1" <"$2"; } 2>/dev/null; }
waited=0
while [ -d "$spool" ]; do
  if [ -f "$spool/$i.ok" ]; then
    # I.ok: the receiver found I's bytes to match I.sum (so the size is that
    # one), and never writes them again.
    read -r size _ <"$spool/$i.sum" || exit 1
    printf 'piece %s %s\n' "$i" "$size"
    cat -- "$spool/$i" || exit 1
    i=$((i + 1))
    continue
  fi
  readf count "$spool/count" || count=
  if [ -n "$count" ] && [ "$i" -ge "$count" ]; then
    printf 'end %s\n' "$count"
    exit 0
  fi
  readf pid "$spool/pid" || pid=
  if [ -n "$pid" ] && [ ! -d "/proc/$pid" ] && [ ! -f "$spool/$i.ok" ]; then
    exit 1 # the receiver is gone without piece I
  fi
  if [ -z "$pid" ]; then
    waited=$((waited + 1))
    [ "$waited" -lt 3000 ] || exit 1 # its receiver never started (60 s)
  fi
  nap
done
exit 1
