#!/usr/bin/env bash
# Lazy-pull benchmark, side by side in one run, over a slow link:
#   lazy     clusterfs mount REG/IMAGE (zstd:chunked): manifest, config, then
#            each layer's TOC (one Range request; not the tar-split), then the
#            chunks of what is read (Range requests)
#   skopeo   skopeo copy docker://REG/IMAGE oci:DIR + umoci unpack (gzip image:
#            umoci 0.4.7 cannot read zstd) -- nothing can be read before both end
#   pull     cimg pull (full) vs skopeo copy (full), the transfer alone
#   profile  a workload reading WORKLOAD_FILES files (a fixed random pick, in
#            random order) at PROFILE_RATE: on a lazy mount without a profile,
#            on a lazy mount of the image with the profile recorded by
#            `clusterfs mount --record-profile` on the same workload (`cimg
#            profile attach`), and after `cimg pull` (then a mount of the
#            local image) -- each from an empty store
# The link: Debian's docker-registry on 127.0.0.1 behind tests/registry/
# throttle_proxy.py (a token bucket of RATE bytes/s over all connections and
# RTT_MS added before every response). Bytes moved = response bodies the proxy
# sent. The image: a fixed random sample (seed 42) of /usr (bench/usr_sample.py),
# SIZE_MB uncompressed, files up to MAX_FILE_MB, as one layer.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/lazy.sh [--help]        (as root; install the tools with scripts/setup.sh)

For each link rate in RATES: the time from nothing to the first byte of a small
file and of the largest file (lazy mount vs skopeo copy + umoci unpack), with the
bytes moved, then the full-pull throughput of cimg pull vs skopeo copy. One table
at the end. Every lazily read file is compared with the source.

Environment:
  SIZE_MB=270        uncompressed image size (a /usr sample; SIZE_MB=150: ~9,000 entries)
  MAX_FILE_MB=16     leave bigger files out of the sample
  WORKLOAD_FILES=300 PROFILE_RATE=10000000   the profile workload
  RATES="1000000 10000000"   link rates to test, bytes/s
  RTT_MS=40          added per response
  FULL_RATES="10000000"      rates at which full pulls are timed (slow!)
  CLUSTERFS=build/tools/clusterfs  CIMG=build/tools/cimg
  BENCH_TMP=/var/tmp work dir parent (needs ~3x SIZE_MB)
EOF
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${SIZE_MB:-270}
MAX_FILE_MB=${MAX_FILE_MB:-16}
WORKLOAD_FILES=${WORKLOAD_FILES:-300}
PROFILE_RATE=${PROFILE_RATE-10000000}
RATES=${RATES-"1000000 10000000"}
FULL_RATES=${FULL_RATES-"10000000"}
RTT_MS=${RTT_MS:-40}
CLUSTERFS=${CLUSTERFS:-$REPO/build/tools/clusterfs}
CIMG=${CIMG:-$REPO/build/tools/cimg}
BENCH_TMP=${BENCH_TMP:-/var/tmp}
PY=/usr/bin/python3
[[ $(id -u) -eq 0 ]] || { echo "bench/lazy.sh: run as root" >&2; exit 1; }
for t in docker-registry skopeo umoci "$PY" curl; do
  command -v "$t" >/dev/null || { echo "bench/lazy.sh: $t is missing (scripts/setup.sh)" >&2; exit 1; }
done
[[ -x "$CLUSTERFS" && -x "$CIMG" ]] || { echo "bench/lazy.sh: build first (scripts/setup.sh)" >&2; exit 1; }

W=$(mktemp -d "$BENCH_TMP/cfs-bench-lazy.XXXXXX")
PIDS=()
MNT=$W/mnt
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && { "$CLUSTERFS" umount "$MNT" 2>/dev/null || umount -l "$MNT" || true; }
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
# oci_build (a hand-made OCI layout) comes from the test library.
source "$REPO/tests/integration/lib.sh"
log() { printf '[lazy %s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the image
log "sampling $SIZE_MB MB of /usr"
mkdir -p "$W/src/rootfs"
"$PY" bench/usr_sample.py "$SIZE_MB" "$MAX_FILE_MB" | while IFS= read -r f; do
  mkdir -p "$W/src/rootfs$(dirname "$f")"
  cp -p "$f" "$W/src/rootfs$f"
done
SMALL=$(cd "$W/src/rootfs" && find . -type f -size +1k -size -8k | sort | sed -n 1p)
LARGE=$(cd "$W/src/rootfs" && find . -type f -printf '%s %p\n' | sort -n | tail -n1 | cut -d' ' -f2)
SMALL=${SMALL#./}
LARGE=${LARGE#./}
tar -C "$W/src/rootfs" -cf "$W/layer.tar" .
ENTRIES=$(tar -tf "$W/layer.tar" | wc -l)
FILES=$(find "$W/src/rootfs" -type f | wc -l)
oci_build "$W/oci" t --compress none "$W/layer.tar" >/dev/null
export CIMG_ROOT=$W/store-build
"$CIMG" -q pull "oci:$W/oci:t" --as bench/lazy:src >/dev/null
# the workload: WORKLOAD_FILES files of the sample, a fixed random pick in
# random order; its profile, recorded on a mount of the image
(cd "$W/src/rootfs" && find . -type f -printf '%P\n' | LC_ALL=C sort) |
  "$PY" -c 'import random, sys; f = sys.stdin.read().split("\n")[:-1]; random.Random(7).shuffle(f); print("\n".join(f[:int(sys.argv[1])]))' \
    "$WORKLOAD_FILES" >"$W/workload.txt"
WORKLOAD_BYTES=$(cd "$W/src/rootfs" && xargs -d '\n' stat -c %s <"$W/workload.txt" | paste -sd+ | bc)
run_workload() { # MNT: reads every workload file
  while IFS= read -r f; do cat "$1/$f" >/dev/null; done <"$W/workload.txt"
}
mkdir -p "$W/mnt"
"$CLUSTERFS" mount --record-profile "$W/workload.profile" bench/lazy:src "$W/mnt"
run_workload "$W/mnt"
"$CLUSTERFS" umount "$W/mnt"
"$CIMG" -q tag bench/lazy:src bench/lazy:profiled
"$CIMG" -q profile attach bench/lazy:profiled "$W/workload.profile"

# ---- registry + proxy
RPORT=$(free_port)
cat >"$W/reg.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $W/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$RPORT
log:
  level: error
EOF
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$RPORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
REG=127.0.0.1:$RPORT
"$CIMG" -q push bench/lazy:src "$REG/bench/lazy:zc" --tls-verify=false >/dev/null
"$CIMG" -q push bench/lazy:src "$REG/bench/lazy:gz" --tls-verify=false --compression gzip >/dev/null
"$CIMG" -q push bench/lazy:profiled "$REG/bench/lazy:zcp" --tls-verify=false >/dev/null
blob_size() { # TAG: compressed size of the image's layers
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/bench/lazy/manifests/$1" |
    "$PY" -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))'
}
ZC_SIZE=$(blob_size zc)
GZ_SIZE=$(blob_size gz)
log "image: $SIZE_MB MB tar; zstd:chunked $ZC_SIZE bytes, gzip $GZ_SIZE bytes; small file $SMALL, large $LARGE ($(stat -c %s "$W/src/rootfs/$LARGE") bytes)"

PPORT=$(free_port)
"$PY" tests/registry/throttle_proxy.py --listen "$PPORT" --upstream "$REG" --rate 0 --rtt-ms "$RTT_MS" \
  --stats "$W/proxy.json" --control "$W/proxy.ctl" >"$W/proxy.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PPORT/.throttle-proxy/health" >/dev/null 2>&1 && break; sleep 0.1; done
PROXY=127.0.0.1:$PPORT
ctl() {
  printf '%s\n' "$@" >"$W/proxy.ctl.tmp" && mv "$W/proxy.ctl.tmp" "$W/proxy.ctl"
  for _ in $(seq 200); do [[ -e "$W/proxy.ctl" ]] || return 0; sleep 0.02; done
  echo "proxy did not apply: $*" >&2; exit 1
}
moved() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["body_bytes"])' "$W/proxy.json" 2>/dev/null || echo 0; }

ROWS=()
row() { ROWS+=("$(printf '%-10s %-44s %10s %14s' "$@")"); }

# lazy_first RATE FILE: fresh store, mount, read FILE; prints "mount_s read_s bytes"
lazy_first() {
  local f=$2 t0 t1 t2 b
  rm -rf "$W/store-lazy" && mkdir -p "$MNT"
  ctl "rate $1" reset-stats
  t0=$(now)
  "$CLUSTERFS" mount --root "$W/store-lazy" "$PROXY/bench/lazy:zc" "$MNT" --tls-verify=false
  t1=$(elapsed "$t0")
  cat "$MNT/$f" >"$W/read.out"
  t2=$(elapsed "$t0")
  b=$(moved)
  cmp -s "$W/read.out" "$W/src/rootfs/$f" || { echo "lazy read of $f differs from the source" >&2; exit 1; }
  "$CLUSTERFS" umount "$MNT"
  echo "$t1 $t2 $b"
}

for rate in $RATES; do
  r=$(echo "$rate / 1000000" | bc -l | xargs printf '%g')
  log "rate $r MB/s, RTT $RTT_MS ms"
  read -r m s b < <(lazy_first "$rate" "$SMALL")
  row "${r}MB/s" "lazy: mount (manifest, config, TOC)" "$m s" "-"
  row "${r}MB/s" "lazy: first read of a small file (from zero)" "$s s" "$b B"
  read -r m s b < <(lazy_first "$rate" "$LARGE")
  row "${r}MB/s" "lazy: first read of the largest file" "$s s" "$b B"
  # skopeo copy + umoci unpack: the first read can only follow both
  rm -rf "$W/sk" "$W/bundle"
  ctl "rate $rate" reset-stats
  t0=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$PROXY/bench/lazy:gz" "oci:$W/sk:t"
  umoci unpack --image "$W/sk:t" "$W/bundle" >/dev/null
  cat "$W/bundle/rootfs/$SMALL" >/dev/null
  t=$(elapsed "$t0")
  row "${r}MB/s" "skopeo copy + umoci unpack, then read" "$t s" "$(moved) B"
  rm -rf "$W/sk" "$W/bundle"
done

# workload TAG: fresh store, lazy mount of TAG, run the workload; prints "seconds bytes"
workload() {
  local t0 b
  rm -rf "$W/store-lazy" && mkdir -p "$MNT"
  ctl "rate $PROFILE_RATE" reset-stats
  t0=$(now)
  "$CLUSTERFS" mount --root "$W/store-lazy" "$PROXY/bench/lazy:$1" "$MNT" --tls-verify=false --log "$W/workload-$1.log"
  run_workload "$MNT"
  echo "$(elapsed "$t0") $(moved)"
  "$CLUSTERFS" umount "$MNT"
}
if [[ -n "$PROFILE_RATE" ]]; then
  r=$(echo "$PROFILE_RATE / 1000000" | bc -l | xargs printf '%g')
  log "workload of $WORKLOAD_FILES files ($WORKLOAD_BYTES bytes) at $r MB/s"
  read -r t b < <(workload zc)
  row "${r}MB/s" "workload: lazy mount, no profile" "$t s" "$b B"
  read -r t b < <(workload zcp)
  row "${r}MB/s" "workload: lazy mount with its profile" "$t s" "$b B"
  grep -h 'profile' "$W/workload-zcp.log" >&2 || true
  rm -rf "$W/store-pull" && mkdir -p "$MNT"
  ctl "rate $PROFILE_RATE" reset-stats
  t0=$(now)
  CIMG_ROOT=$W/store-pull "$CIMG" -q pull "$PROXY/bench/lazy:zc" --tls-verify=false >/dev/null
  "$CLUSTERFS" mount --root "$W/store-pull" "$PROXY/bench/lazy:zc" "$MNT"
  run_workload "$MNT"
  row "${r}MB/s" "workload: cimg pull, then mount and read" "$(elapsed "$t0") s" "$(moved) B"
  "$CLUSTERFS" umount "$MNT"
fi

for rate in $FULL_RATES; do
  r=$(echo "$rate / 1000000" | bc -l | xargs printf '%g')
  log "full pulls at $r MB/s"
  rm -rf "$W/store-pull"
  ctl "rate $rate" reset-stats
  t0=$(now)
  CIMG_ROOT=$W/store-pull "$CIMG" -q pull "$PROXY/bench/lazy:zc" --tls-verify=false >/dev/null
  t=$(elapsed "$t0")
  b=$(moved)
  row "${r}MB/s" "cimg pull (zstd:chunked, full)" "$t s" "$b B"
  rm -rf "$W/sk"
  ctl "rate $rate" reset-stats
  t0=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$PROXY/bench/lazy:zc" "oci:$W/sk:t"
  row "${r}MB/s" "skopeo copy (same image, full)" "$(elapsed "$t0") s" "$(moved) B"
  rm -rf "$W/sk"
  ctl "rate $rate" reset-stats
  t0=$(now)
  skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$PROXY/bench/lazy:gz" "oci:$W/sk:t"
  row "${r}MB/s" "skopeo copy (gzip image, full)" "$(elapsed "$t0") s" "$(moved) B"
  rm -rf "$W/sk"
done

echo
echo "bench/lazy.sh: $SIZE_MB MB /usr sample, one layer of $ENTRIES entries ($FILES files); zstd:chunked $ZC_SIZE B, gzip $GZ_SIZE B; RTT $RTT_MS ms"
echo "small file: $SMALL ($(stat -c %s "$W/src/rootfs/$SMALL") B); largest: $LARGE ($(stat -c %s "$W/src/rootfs/$LARGE") B)"
echo "workload: $WORKLOAD_FILES files, $WORKLOAD_BYTES B, read one after the other with cat"
printf '%-10s %-44s %10s %14s\n' LINK STEP TIME "BYTES MOVED"
for r in "${ROWS[@]}"; do echo "$r"; done
