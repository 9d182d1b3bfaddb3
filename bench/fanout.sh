#!/usr/bin/env bash
# Fan-out benchmark: one SIZE_MB rootfs (incompressible: random bytes, so
# the wire carries what the disk holds) to NODES local nodes (OpenSSH
# servers in network namespaces, tests/integration/nodes_lib.sh) over links
# shaped with tc to RATE each way (tbf): the deploy host's uplink (the
# bridge), every node's downlink (its veth, host side) and uplink (its eth0).
# Runs `cimg deploy --resend` with each --fanout of FANOUTS (0: every host
# from the deploy host), and prints for each the wall time and the bytes
# that left the deploy host (the bridge's tx counter: SSH, TCP and IP
# included), then a projection to 100 hosts (README, Deploying).
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/fanout.sh [--help]        (as root; tools from scripts/setup.sh)
Environment: SIZE_MB=200  NODES=8  RATE=200mbit  FANOUTS="0 1 2 3"  CIMG=build/tools/cimg
             BENCH_TMP=/tmp (not under /var, /etc, /root, /home, /opt or /usr/local)
             BENCH_LOGS=DIR: keep each deploy's log there
EOF
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${SIZE_MB:-200}
NODES=${NODES:-8}
RATE=${RATE:-200mbit}
FANOUTS=${FANOUTS:-0 1 2 3}
CIMG=${CIMG:-$REPO/build/tools/cimg}
BENCH_TMP=${BENCH_TMP:-/tmp}
[[ $(id -u) -eq 0 ]] || { echo "bench/fanout.sh: run as root" >&2; exit 1; }
for t in ssh tc bc; do
  command -v "$t" >/dev/null || { echo "bench/fanout.sh: $t is missing" >&2; exit 1; }
done
[[ -x "$CIMG" ]] || { echo "bench/fanout.sh: build first (scripts/setup.sh)" >&2; exit 1; }

source "$REPO/bench/nodes_harness.sh"
bench_nodes_setup fanout

log "building a $SIZE_MB MB image of random bytes"
mkdir -p "$W/ctx/data"
for ((i = 0; i < SIZE_MB / 50 + 1; i++)); do
  head -c $((SIZE_MB * 1000000 / (SIZE_MB / 50 + 1))) /dev/urandom >"$W/ctx/data/blob$i"
done
printf 'FROM scratch\nCOPY . .\n' >"$W/Kubefile"
"$CIMG" --root "$W/store" -q build -f "$W/Kubefile" -t bench/fan:1 "$W/ctx" >/dev/null

nodes_up bf 231 "$NODES"
nodes_clusterfile fan bench/fan:1 >"$W/Clusterfile"

shape() { tc qdisc replace dev "$1" root tbf rate "$RATE" burst 256kb latency 100ms; }
shape "$NODES_BRIDGE"
for ((i = 1; i <= NODES; i++)); do
  shape "bf-v$i"
  ip netns exec "bf-n$i" tc qdisc replace dev eth0 root tbf rate "$RATE" burst 256kb latency 100ms
done

declare -A SECS WIRE
run() { # FANOUT
  local t0 w0
  w0=$(wire)
  t0=$(now)
  "$CIMG" --root "$W/store" deploy -f "$W/Clusterfile" --known-hosts "$NODE_KNOWN_HOSTS" \
    --resend --fanout "$1" >"$W/last.out" 2>"$W/last.err" || {
    tail -20 "$W/last.err" >&2
    fail "deploy --fanout $1 failed"
  }
  SECS[$1]=$(echo "$(now) - $t0" | bc -l | xargs printf '%.1f')
  WIRE[$1]=$(($(wire) - w0))
  diff -r "$W/ctx" "$(node_path "$NODES" /var/lib/cimg/fan/rootfs)" -x Kubefile >/dev/null ||
    fail "node $NODES's rootfs differs after --fanout $1"
  log "--fanout $1: ${SECS[$1]} s, $((WIRE[$1] / 1000000)) MB from the deploy host"
  [[ -z "${BENCH_LOGS:-}" ]] || cp "$W/last.err" "$BENCH_LOGS/fanout-$1-$(date +%s).err"
  grep -e "rootfs fanout:" -e "rootfs: fan-out" -e "error:" "$W/last.err" >&2 || true # the tree, sources left
}
for f in $FANOUTS; do run "$f"; done

BYTES=$(du -sb "$W/ctx/data" | cut -f1)
echo
echo "bench/fanout.sh: $((BYTES / 1000000)) MB (random) to $NODES nodes, every link $RATE each way"
printf '%-12s %8s %16s %10s\n' FANOUT "TIME s" "DEPLOY HOST MB" COPIES
for f in $FANOUTS; do
  printf '%-12s %8s %16s %10s\n' "$f" "${SECS[$f]}" "$((WIRE[$f] / 1000000))" \
    "$(echo "${WIRE[$f]} / $BYTES" | bc -l | xargs printf '%.2f')"
done
