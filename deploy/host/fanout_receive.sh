#!/bin/bash
# Receives one rootfs stream of a fan-out transfer (deploy/fanout.h) into
# ROOTFS. The compressed tar stream comes in numbered pieces. On stdin the
# deploy host sends each piece's size and SHA-256 as it makes it
# ("sum I SIZE SHA256"), "end N" after the last, and the bytes of the pieces
# this host takes from it ("data I SIZE", then SIZE bytes). The other pieces
# are fetched from the SOURCES in turn (user@address:port, nearest first:
# hosts receiving the same stream) over SSH, with this host's own key
# (FANOUT_DIR/key, fanout_setup.sh) and the sources' host keys the deploy
# host checked (FANOUT_DIR/known_hosts). A source that cannot be reached,
# ends early, goes quiet for 120 s, or sends another piece than the next or
# one whose size or SHA-256 is not the deploy host's is left for the next;
# with none left this host prints "need K" and the deploy host sends the
# pieces from K on itself. Only verified pieces enter FANOUT_DIR/spool
# (served from there to the hosts that fetch from this one,
# fanout_serve.sh) and the unpacker, which feeds them in order to zstd or
# gzip and tar. Notices ("fanout: ...": a source left, and why) and the
# helpers' errors go to stderr at the end.
# Usage: fanout_receive.sh ROOTFS FANOUT_DIR zstd|gzip [SOURCE...]
set -o pipefail
set -m # each helper in a process group of its own, killed whole at the end
rootfs=$1 d=$2 comp=$3
shift 3
spool=$d/spool main=$$
exec 5>&2 2>>"$d/log"
echo "$main" >"$spool/pid"
mkdir -p -- "$rootfs" || exit 1

# alive: this script runs and its spool is there (fanout_cleanup.sh ends helpers left behind).
alive() { [ -d "/proc/$main" ] && [ -d "$spool" ]; }
note() { printf 'fanout: %s\n' "$*" >&2; }
failed() { echo "$*" >"$d/failed"; }

# check FILE I: FILE holds piece I (the size and SHA-256 the deploy host sent).
check() {
  local size sha got
  read -r size sha <"$spool/$2.sum" || return 1
  [ "$(stat -c %s -- "$1")" = "$size" ] || return 1
  got=$(sha256sum <"$1") || return 1
  [ "${got%% *}" = "$sha" ]
}

# from_deploy: the deploy host's lines (stdin) into .sum files and pieces.
from_deploy() {
  local tag i size sha
  while IFS=' ' read -r tag i size sha; do
    if ! [[ $i =~ ^[0-9]+$ ]]; then
      failed "bad line from the deploy host: $tag"
      return 1
    fi
    case $tag in
    sum) printf '%s %s\n' "$size" "$sha" >"$spool/$i.sum.tmp" && mv -f -- "$spool/$i.sum.tmp" "$spool/$i.sum" ;;
    data)
      head -c "$size" >"$spool/$i.d"
      if ! check "$spool/$i.d" "$i"; then
        failed "piece $i from the deploy host: size or SHA-256 differs"
        return 1
      fi
      mv -f -- "$spool/$i.d" "$spool/$i"
      ;;
    end) echo "$i" >"$spool/count.tmp" && mv -f -- "$spool/count.tmp" "$spool/count" ;;
    *)
      failed "bad line from the deploy host: $tag"
      return 1
      ;;
    esac
  done
  # The deploy host closes this only after this script ends: it is gone.
  failed "the deploy host closed the stream"
}

# missing: the first piece this host lacks.
missing() {
  local i=0
  while [ -f "$spool/$i" ]; do i=$((i + 1)); done
  echo "$i"
}

# sum_of I: waits until the deploy host has sent piece I's sum; fails when
# there is no piece I (or this host's receiver is gone).
sum_of() {
  local count
  until [ -f "$spool/$1.sum" ]; do
    alive || return 1
    count=$(cat -- "$spool/count" 2>/dev/null) || count=
    if [ -n "$count" ] && [ "$1" -ge "$count" ]; then return 1; fi
    sleep 0.05
  done
}

# take SOURCE FIRST: the pieces from FIRST on, in order, and "end N" (stdin,
# from SOURCE) into the spool. Fails when a piece is out of order or wrong,
# the source says "end" before this host has every piece, goes quiet for
# 120 s, or ends early.
take() {
  local tag i size want next=$2
  while IFS=' ' read -r -t 120 tag i size; do
    alive || return 1
    case $tag in
    piece)
      if [ "$i" != "$next" ] || ! sum_of "$i" || ! read -r want _ <"$spool/$i.sum" ||
        [ "$size" != "$want" ]; then
        note "piece $i from $1: not the next piece ($next) of the deploy host's size; leaving it"
        return 1
      fi
      head -c "$size" >"$spool/$i.f"
      if ! check "$spool/$i.f" "$i"; then
        rm -f -- "$spool/$i.f"
        note "piece $i from $1: size or SHA-256 differs from the deploy host's; leaving it"
        return 1
      fi
      mv -f -- "$spool/$i.f" "$spool/$i"
      next=$((i + 1))
      ;;
    end)
      until [ -f "$spool/count" ]; do
        alive || return 1
        sleep 0.05
      done
      [ "$(missing)" -ge "$(cat -- "$spool/count")" ]
      return
      ;;
    *) return 1 ;;
    esac
  done
  return 1
}

# pull SOURCE: the pieces this host lacks, from SOURCE (user@address:port).
pull() {
  local user=${1%%@*} host=${1#*@} first
  local port=${host##*:}
  first=$(missing)
  host=${host%:*}
  ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$d/key" \
    -o UserKnownHostsFile="$d/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 \
    -o ServerAliveCountMax=3 -o LogLevel=ERROR -o Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr \
    -p "$port" -- "$user@$host" "from $first" \
    </dev/null | take "$1" "$first"
}

# fetch SOURCE...: every piece from the sources in turn, then from the
# deploy host (the "need" file, which the main loop passes on).
fetch() {
  local src
  for src in "$@"; do
    pull "$src" && return 0
    alive || return 1
    note "source $src left at piece $(missing)"
  done
  missing >"$d/need.tmp" && mv -f -- "$d/need.tmp" "$d/need"
}

# feed: the spool's pieces in order (stdout), as they arrive.
feed() {
  local i=0 count
  while alive && [ ! -f "$d/failed" ]; do
    if [ -f "$spool/$i" ]; then
      cat -- "$spool/$i" || return 1
      i=$((i + 1))
      continue
    fi
    count=$(cat -- "$spool/count" 2>/dev/null) || count=
    if [ -n "$count" ] && [ "$i" -ge "$count" ]; then return 0; fi
    sleep 0.05
  done
  return 1
}

if [ "$comp" = zstd ]; then unpack=(zstd -dcq); else unpack=(gzip -dc); fi
exec 3<&0 </dev/null
from_deploy <&3 >/dev/null 5>&- &
jobs_=("$!")
exec 3<&-
if [ $# -gt 0 ]; then
  fetch "$@" >/dev/null 3>&- 5>&- &
  jobs_+=("$!")
else
  echo 0 >"$d/need"
fi
(feed | "${unpack[@]}" | tar -x -p --numeric-owner --xattrs --xattrs-include='*' \
  --warning=no-unknown-keyword -C "$rootfs" -f -) >/dev/null 5>&- &
unpacker=$!
told=
while kill -0 "$unpacker" 2>/dev/null; do
  if [ -z "$told" ] && [ -f "$d/need" ]; then
    told=1
    printf 'need %s\n' "$(cat -- "$d/need")"
  fi
  sleep 0.05
done
wait "$unpacker"
st=$?
for j in "${jobs_[@]}"; do kill -- "-$j" 2>/dev/null; done
if [ -f "$d/failed" ]; then
  printf 'fanout_receive.sh: %s\n' "$(cat -- "$d/failed")" >&2
  st=1
fi
grep -v -e '^\[[0-9]*\]' -- "$d/log" >&5
: >"$d/log"
exit "$st"
