#!/usr/bin/env bash
# Build benchmark, side by side in one run, on the same ~SIZE_MB context (a
# fixed random sample of /usr, seed 42, bench/usr_sample.py):
#   cimg build      Kubefile `FROM scratch` + `COPY . .` into a fresh store:
#                   the copy into the step's upper dir (no mount; the
#                   context's digest computed meanwhile), the upper dir
#                   ingested (chunked, hashed, compressed, indexed)
#   tar | zstd -T2  the practical limit: read + archive + compress, no
#                   hashing, no index, no image
#   umoci           umoci new + unpack + copy into the bundle + repack (gzip)
#   cp -a + rm -rf  the files written once into a directory and removed: what
#                   cimg's step upper dir costs the filesystem (COPY writes
#                   it, outside any mount; it is removed after the ingest)
# then cimg's unchanged rebuild (every step cached) and a rebuild after one
# file of the context changed.
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/build.sh [--help]        (as root; tools from scripts/setup.sh)
Environment: SIZE_MB=200  RUNS=3 (median)  CIMG=build/tools/cimg  BENCH_TMP=/var/tmp
EOF
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${SIZE_MB:-200}
RUNS=${RUNS:-3}
CIMG=${CIMG:-$REPO/build/tools/cimg}
BENCH_TMP=${BENCH_TMP:-/var/tmp}
[[ $(id -u) -eq 0 ]] || { echo "bench/build.sh: run as root" >&2; exit 1; }
for t in zstd umoci python3 bc; do
  command -v "$t" >/dev/null || { echo "bench/build.sh: $t is missing (scripts/setup.sh)" >&2; exit 1; }
done
[[ -x "$CIMG" ]] || { echo "bench/build.sh: build first (scripts/setup.sh)" >&2; exit 1; }

W=$(mktemp -d "$BENCH_TMP/cfs-bench-build.XXXXXX")
trap 'rm -rf "$W"' EXIT
log() { printf '[build %s] %s\n' "$(date +%T)" "$*" >&2; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# timed CMD...: seconds (after sync and dropping caches, so every tool reads cold)
timed() {
  sync
  echo 3 >/proc/sys/vm/drop_caches
  local t0
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "bench/build.sh: failed: $*" >&2; exit 1; }
  echo "$(now) - $t0" | bc -l | xargs printf '%.2f'
}

log "sampling $SIZE_MB MB of /usr"
CTX=$W/ctx
mkdir -p "$CTX"
python3 bench/usr_sample.py "$SIZE_MB" | while IFS= read -r f; do
  mkdir -p "$CTX$(dirname "$f")"
  cp -p "$f" "$CTX$f"
done
printf 'FROM scratch\nCOPY . .\n' >"$CTX/Kubefile"
BYTES=$(du -sb "$CTX" | cut -f1)
FILES=$(find "$CTX" -type f | wc -l)

declare -A T
run() { # NAME CMD...
  local name=$1 v=()
  shift
  for _ in $(seq "$RUNS"); do v+=("$("$@")"); done
  T[$name]=$(printf '%s\n' "${v[@]}" | median)
  log "$name: ${v[*]} -> ${T[$name]} s"
}

cimg_fresh() { rm -rf "$W/store"; timed "$CIMG" --root "$W/store" -q build -t bench/build:1 "$CTX"; }
tar_zstd() { timed sh -c "tar -C '$CTX' -cf - . | zstd -1 -T2 -q -o '$W/ctx.tar.zst' -f"; }
umoci_build() {
  rm -rf "$W/oci" "$W/bundle"
  timed sh -c "umoci init --layout '$W/oci' && umoci new --image '$W/oci:t' &&
               umoci unpack --image '$W/oci:t' '$W/bundle' && cp -a '$CTX/.' '$W/bundle/rootfs/' &&
               umoci repack --image '$W/oci:t' '$W/bundle'"
}
cp_rm() { timed sh -c "cp -a '$CTX' '$W/cp' && rm -rf '$W/cp'"; }
run "cimg build (fresh store)" cimg_fresh
run "tar | zstd -1 -T2" tar_zstd
run "umoci new + unpack + cp + repack" umoci_build
run "cp -a + rm -rf (the files alone)" cp_rm
# Rebuilds on the last fresh store.
ID1=$("$CIMG" --root "$W/store" inspect bench/build:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
rebuild() { timed "$CIMG" --root "$W/store" -q build -t bench/build:1 "$CTX"; }
run "cimg build, unchanged (cached)" rebuild
ID2=$("$CIMG" --root "$W/store" inspect bench/build:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
[[ "$ID1" == "$ID2" ]] || { echo "bench/build.sh: the unchanged rebuild changed the image ID" >&2; exit 1; }
one_changed() {
  echo "change $RANDOM$RANDOM" >>"$CTX/Kubefile.changed"
  timed "$CIMG" --root "$W/store" -q build -t bench/build:1 "$CTX"
}
run "cimg build, one file added" one_changed
STORED=$(du -sb "$W/store/packs" | cut -f1)

echo
echo "bench/build.sh: context $((BYTES / 1000000)) MB, $FILES files (/usr sample); median of $RUNS; cold caches"
printf '%-40s %8s %8s\n' TOOL "TIME s" "MB/s"
for k in "cimg build (fresh store)" "tar | zstd -1 -T2" "umoci new + unpack + cp + repack" \
         "cp -a + rm -rf (the files alone)" "cimg build, unchanged (cached)" "cimg build, one file added"; do
  printf '%-40s %8s %8s\n' "$k" "${T[$k]}" "$(echo "$BYTES / 1000000 / ${T[$k]}" | bc -l | xargs printf '%.0f')"
done
echo "image ID unchanged by the cached rebuild: $ID1"
echo "store packs after all builds: $((STORED / 1000000)) MB"
