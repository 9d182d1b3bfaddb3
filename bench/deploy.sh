#!/usr/bin/env bash
# Deploy benchmark, side by side in one run: a ~SIZE_MB rootfs (a fixed
# random sample of /usr, seed 42, bench/usr_sample.py) to NODES local nodes
# (OpenSSH servers in network namespaces, tests/integration/nodes_lib.sh),
# all nodes at once:
#   cimg deploy        the image's merged rootfs straight from the store, one
#                      zstd tar stream per host over libssh2 (--fanout 0: the
#                      hosts relaying it to each other is bench/fanout.sh's)
#   tar | zstd | ssh   tar -cf - | zstd -3 -T2 | ssh 'zstd -d | tar -x' per
#                      node, in parallel (what a shell script would do)
#   rsync -a -e ssh    rsync over OpenSSH per node, in parallel (whole-file
#                      copy first; delta-transfer algorithm on the re-deploy)
# then the re-deploy after one file of the rootfs changed (1 MB rewritten),
# each tool on top of its own first copy. Bytes on the wire are counted on
# the nodes' bridge (everything the host sent them: SSH, TCP and IP
# included). Caches are dropped before each run.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/deploy.sh [--help]        (as root; tools from scripts/setup.sh)
Environment: SIZE_MB=300  NODES=3  CIMG=build/tools/cimg  ONLY=cimg,tar,rsync  BENCH_TMP=/tmp (not under /var, /etc, /root,
             /home, /opt or /usr/local: the nodes overlay those)
EOF
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${SIZE_MB:-300}
NODES=${NODES:-3}
ONLY=${ONLY:-cimg,tar,rsync}
PERF=${PERF:-}  # a file: perf record -a -g the first cimg deploy into it
CIMG=${CIMG:-$REPO/build/tools/cimg}
BENCH_TMP=${BENCH_TMP:-/tmp}
[[ $(id -u) -eq 0 ]] || { echo "bench/deploy.sh: run as root" >&2; exit 1; }
for t in zstd rsync ssh python3 bc; do
  command -v "$t" >/dev/null || { echo "bench/deploy.sh: $t is missing (scripts/setup.sh)" >&2; exit 1; }
done
[[ -x "$CIMG" ]] || { echo "bench/deploy.sh: build first (scripts/setup.sh)" >&2; exit 1; }

source "$REPO/bench/nodes_harness.sh"
bench_nodes_setup deploy

log "sampling $SIZE_MB MB of /usr"
CTX=$W/ctx
mkdir -p "$CTX"
python3 bench/usr_sample.py "$SIZE_MB" | while IFS= read -r f; do
  mkdir -p "$CTX$(dirname "$f")"
  cp -p "$f" "$CTX$f"
done
printf 'FROM scratch\nCOPY . .\n' >"$W/Kubefile"
BYTES=$(du -sb --exclude=Kubefile "$CTX" | cut -f1)
FILES=$(find "$CTX" -type f | wc -l)
BIG=$(find "$CTX" -type f -size +2M | sed -n 1p)
[[ -n "$BIG" ]] || fail "no file over 2 MB in the sample to change"
log "building the image ($((BYTES / 1000000)) MB, $FILES files)"
"$CIMG" --root "$W/store" -q build -f "$W/Kubefile" -t bench/rootfs:1 "$CTX" >/dev/null

nodes_up bd 230 "$NODES"
IPS=("${NODE_IPS[@]}")
nodes_clusterfile bench bench/rootfs:1 >"$W/Clusterfile"

declare -A SECS WIRE
# measure NAME CMD...: seconds and bridge bytes of CMD, caches dropped first
measure() {
  local name=$1 t0 w0
  shift
  sync
  echo 3 >/proc/sys/vm/drop_caches
  w0=$(wire)
  t0=$(now)
  "$@" >"$W/last.out" 2>&1 || { cat "$W/last.out" >&2; fail "failed: $name"; }
  SECS[$name]=$(echo "$(now) - $t0" | bc -l | xargs printf '%.2f')
  WIRE[$name]=$(($(wire) - w0))
  log "$name: ${SECS[$name]} s, $((WIRE[$name] / 1000)) kB on the wire"
}
each_node() { # CMD-with-{IP}: run for every node in parallel, fail if any fails
  local pids=() ip rc=0
  for ip in "${IPS[@]}"; do
    bash -c "${1//\{IP\}/$ip}" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}
SSH="ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=$NODE_KNOWN_HOSTS -o StrictHostKeyChecking=yes -i $NODE_KEY"
cimg_deploy() { "$CIMG" --root "$W/store" -q deploy -f "$W/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS" --fanout 0; }
tar_ssh() {
  each_node "tar -C '$CTX' -cf - . | zstd -3 -T2 -q | $SSH root@{IP} 'mkdir -p /var/lib/peer-tar && zstd -dq | tar -x -C /var/lib/peer-tar'"
}
rsync_ssh() { each_node "rsync -a --delete -e '$SSH' '$CTX/' root@{IP}:/var/lib/peer-rsync/"; }

want() { [[ ",$ONLY," == *",$1,"* ]]; }
if [[ -n "$PERF" ]]; then
  perf record -q -a -g -o "$PERF" -- bash -c "$(declare -f cimg_deploy); CIMG='$CIMG' W='$W' NODE_KNOWN_HOSTS='$NODE_KNOWN_HOSTS' cimg_deploy" >/dev/null 2>&1
  log "perf data in $PERF"; exit 0
fi
want cimg && measure "cimg deploy" cimg_deploy
want tar && measure "tar | zstd | ssh" tar_ssh
want rsync && measure "rsync -a -e ssh" rsync_ssh
# Everything arrived, byte for byte (spot check: the whole tree on the last node).
last=$NODE_COUNT
! want cimg || diff -r --no-dereference "$CTX" "$(node_path "$last" /var/lib/cimg/bench/rootfs)" -x Kubefile >/dev/null ||
  fail "cimg's copy on node $last differs from the rootfs"

log "changing 1 MB of $BIG"
python3 - "$BIG" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1 << 20)
    f.write(os.urandom(1 << 20))
PY
"$CIMG" --root "$W/store" -q build -f "$W/Kubefile" -t bench/rootfs:2 "$CTX" >/dev/null
sed -i 's#bench/rootfs:1#bench/rootfs:2#' "$W/Clusterfile"
want cimg && measure "cimg deploy (one file changed)" cimg_deploy
want tar && measure "tar | zstd | ssh (one file changed)" tar_ssh
want rsync && measure "rsync -a -e ssh (one file changed)" rsync_ssh
! want cimg || cmp "$BIG" "$(node_path 1 "/var/lib/cimg/bench/rootfs${BIG#"$CTX"}")" || fail "the changed file did not arrive"

echo
echo "bench/deploy.sh: rootfs $((BYTES / 1000000)) MB, $FILES files (/usr sample) to $NODES nodes at once; caches dropped"
printf '%-38s %8s %12s %14s\n' TOOL "TIME s" "WIRE MB" "WIRE/NODE %"
for k in "cimg deploy" "tar | zstd | ssh" "rsync -a -e ssh" \
         "cimg deploy (one file changed)" "tar | zstd | ssh (one file changed)" "rsync -a -e ssh (one file changed)"; do
  [[ -n "${SECS[$k]:-}" ]] || continue
  printf '%-38s %8s %12s %14s\n' "$k" "${SECS[$k]}" "$(echo "${WIRE[$k]} / 1000000" | bc -l | xargs printf '%.2f')" \
    "$(echo "100 * ${WIRE[$k]} / $NODES / $BYTES" | bc -l | xargs printf '%.3f')"
done
