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
# pieces from K on itself. Piece I goes to FANOUT_DIR/spool/I, its sum to
# spool/I.sum; only once it is verified (spool/I.ok, written after; never
# written again then) is it served to the hosts that fetch from this one
# (fanout_serve.sh) and fed to the unpacker, in order, through zstd or gzip
# and tar. Notices ("fanout: ...": a source left, and why) and the
# helpers' errors go to stderr at the end. Waiting costs no process: every
# host of a large tree runs these loops at once, on CPUs its own work needs,
# so they nap on a pipe (`read -t`) and read their small files with `read`
# rather than forking `sleep` and `cat` (fork + exec is ~1 ms).
# Usage: fanout_receive.sh ROOTFS FANOUT_DIR zstd|gzip [SOURCE...]
set -o pipefail
set -m # each helper in a process group of its own, killed whole at the end
rootfs=$1 d=$2 comp=$3
shift 3
spool=$d/spool main=$$
exec 5>&2 2>>"$d/log"
exec {napfd}<> <(:) # a pipe this script holds both ends of: nothing ever comes

# nap: waits 20 ms without a process.
nap() { read -r -t 0.02 -u "$napfd" _ || :; }
# readf VAR FILE: VAR = FILE's first line; fails when FILE is absent.
readf() { { IFS= read -r "$1" <"$2"; } 2>/dev/null; }
echo "$main" >"$spool/pid"
mkdir -p -- "$rootfs" || exit 1

# alive: this script runs and its spool is there (fanout_cleanup.sh ends helpers left behind).
alive() { [ -d "/proc/$main" ] && [ -d "$spool" ]; }
note() { printf 'fanout: %s\n' "$*" >&2; }
failed() { echo "$*" >"$d/failed"; }

# sha FILE: FILE's SHA-256 in hex, then anything. OpenSSL's uses the CPU's
# SHA instructions where coreutils' sha256sum does not (twice the speed, on
# every byte every host receives).
if command -v openssl >/dev/null 2>&1 && [ "$(printf '' | openssl dgst -sha256 -r 2>/dev/null)" = \
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *stdin" ]; then
  sha() { openssl dgst -sha256 -r <"$1"; }
else
  sha() { sha256sum <"$1"; }
fi

# check FILE I: FILE holds piece I (the SHA-256 the deploy host sent, so
# its size too).
check() {
  local size sha got
  read -r size sha <"$spool/$2.sum" || return 1
  got=$(sha "$1") || return 1
  [ "${got%% *}" = "$sha" ]
}

# take_bytes SIZE: SIZE bytes of stdin (fewer at its end) to stdout, 64 KiB a
# system call with GNU dd (head -c moves 4 KiB; a 4 MiB buffer costs its
# page faults); head -c where dd lacks count_bytes (busybox).
if dd bs=65536 count=0 iflag=count_bytes,fullblock status=none </dev/null >/dev/null 2>&1; then
  take_bytes() { dd bs=65536 count="$1" iflag=count_bytes,fullblock status=none; }
else
  take_bytes() { head -c "$1"; }
fi

# Checking a piece runs in the background while the next piece is read: a
# reader that stopped for it at every piece would let the sender's SSH
# window fill and its link go idle.
pending='' pending_i=''
# keep I: checks spool/I and marks it verified (spool/I.ok), meanwhile.
keep() {
  (check "$spool/$1" "$1" && : >"$spool/$1.ok") &
  pending=$! pending_i=$1
}
# settle: waits for the piece keep() is checking; fails (its bytes removed)
# when it was not the deploy host's.
settle() {
  local p=$pending
  [ -n "$p" ] || return 0
  pending=''
  wait "$p" && return 0
  rm -f -- "${spool:?}/$pending_i"
  return 1
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
    sum) printf '%s %s\n' "$size" "$sha" >"$spool/$i.sum" ;; # read only once whole (sum_of)
    data)
      take_bytes "$size" >"$spool/$i"
      if ! settle; then
        failed "piece $pending_i from the deploy host: size or SHA-256 differs"
        return 1
      fi
      keep "$i"
      ;;
    end)
      if ! settle; then
        failed "piece $pending_i from the deploy host: size or SHA-256 differs"
        return 1
      fi
      echo "$i" >"$spool/count.tmp" && mv -f -- "$spool/count.tmp" "$spool/count"
      ;;
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
  while [ -f "$spool/$i.ok" ]; do i=$((i + 1)); done
  echo "$i"
}

# sum_of I: waits until the deploy host's sum of piece I is there, whole (a
# line, newline and all); fails when there is no piece I (or this host's
# receiver is gone).
sum_of() {
  local count
  until { read -r _ _ <"$spool/$1.sum"; } 2>/dev/null; do
    alive || return 1
    readf count "$spool/count" || count=
    if [ -n "$count" ] && [ "$1" -ge "$count" ]; then return 1; fi
    nap
  done
}

# take SOURCE FIRST: the pieces from FIRST on, in order, and "end N" (stdin,
# from SOURCE) into the spool. Fails when a piece is out of order or wrong,
# the source says "end" before this host has every piece, goes quiet for
# 120 s, or ends early.
take() {
  local tag i size want count next=$2
  while IFS=' ' read -r -t 120 tag i size; do
    alive || return 1
    case $tag in
    piece)
      if [ "$i" != "$next" ] || ! sum_of "$i" || ! read -r want _ <"$spool/$i.sum" ||
        [ "$size" != "$want" ]; then
        settle || :
        note "piece $i from $1: not the next piece ($next) of the deploy host's size; leaving it"
        return 1
      fi
      take_bytes "$size" >"$spool/$i"
      if ! settle; then
        rm -f -- "$spool/$i"
        note "piece $pending_i from $1: size or SHA-256 differs from the deploy host's; leaving it"
        return 1
      fi
      keep "$i"
      next=$((i + 1))
      ;;
    end)
      if ! settle; then
        note "piece $pending_i from $1: size or SHA-256 differs from the deploy host's; leaving it"
        return 1
      fi
      until readf count "$spool/count"; do
        alive || return 1
        nap
      done
      [ "$(missing)" -ge "$count" ]
      return
      ;;
    *)
      settle || :
      return 1
      ;;
    esac
  done
  settle || :
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
    if [ -f "$spool/$i.ok" ]; then
      cat -- "$spool/$i" || return 1
      i=$((i + 1))
      continue
    fi
    readf count "$spool/count" || count=
    if [ -n "$count" ] && [ "$i" -ge "$count" ]; then return 0; fi
    nap
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
told='' need=''
while kill -0 "$unpacker" 2>/dev/null; do
  if [ -z "$told" ] && readf need "$d/need"; then
    told=1
    printf 'need %s\n' "$need"
  fi
  nap
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
