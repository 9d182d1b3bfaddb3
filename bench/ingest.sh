#!/usr/bin/env bash
# Ingest benchmark: storing a ~200 MB real tree (files of /usr), side by side
# in one run with
#   - tar | zstd -1 -T<cores>   the compression ceiling (no hashing, no dedup)
#   - casync make               a content-defined chunk store (the peer)
#   - cimg pull                 of an OCI image whose layer is that tree as a
#                               plain tar (chunk, SHA-256, dedup, zstd, index)
# and the re-ingest of a copy with one file changed (dedup path).
# Each timing is the median of RUNS (default 3) runs on a warm page cache.
# Usage: bench/ingest.sh [SIZE_MB]   (needs scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${1:-200}
RUNS=${RUNS:-3}
CIMG=${CIMG:-$REPO/build/tools/cimg}
for t in casync zstd python3 tar; do command -v $t >/dev/null || { echo "need $t (scripts/setup.sh)" >&2; exit 1; }; done
[ -x "$CIMG" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
W=$(mktemp -d /var/tmp/cimg-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# The tree: a fixed random sample of the regular files of /usr (a realistic
# rootfs mix of binaries, libraries, scripts and docs) up to SIZE_MB.
python3 "$REPO/bench/usr_sample.py" "$SIZE_MB" > "$W/list"
mkdir "$W/tree"
tar -cf - -P -T "$W/list" 2>/dev/null | tar -xf - -C "$W/tree"
BYTES=$(du -sb --apparent-size "$W/tree" | cut -f1)
FILES=$(wc -l < "$W/list")

# OCI layouts whose single layer is the tree as an uncompressed tar.
mklayout() {  # mklayout TREE DIR
  tar -C "$1" --sort=name -cf "$W/layer.tar" .
  python3 - "$W/layer.tar" "$2" <<'PY'
import hashlib, json, os, sys
tar, out = sys.argv[1], sys.argv[2]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{out}/blobs/sha256/{d}", "wb").write(b); return d
h = hashlib.sha256()
with open(tar, "rb") as f:
    for blk in iter(lambda: f.read(1 << 20), b""): h.update(blk)
ld = h.hexdigest(); size = os.path.getsize(tar)
os.rename(tar, f"{out}/blobs/sha256/{ld}")
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}}).encode()
cd = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": len(cfg)},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + ld, "size": size}]}).encode()
md = put(man)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
  "digest": "sha256:" + md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "t"}}]}, open(out + "/index.json", "w"))
PY
}
mklayout "$W/tree" "$W/oci1"
# v2: one mid-sized file rewritten in the middle.
victim=$(awk 'NR % 97 == 0 { print; exit }' "$W/list")
cp -a "$W/tree" "$W/tree2"
python3 -c "import os,sys; p=sys.argv[1]; n=os.path.getsize(p); f=open(p,'r+b'); f.seek(n//2); f.write(os.urandom(min(4096, max(1, n//4))))" "$W/tree2$victim"
mklayout "$W/tree2" "$W/oci2"
cat "$W"/oci1/blobs/sha256/* "$W"/oci2/blobs/sha256/* > /dev/null   # warm the cache
find "$W/tree" -type f -exec cat {} + > /dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() {  # timeit PREP CMD: median wall seconds of CMD, PREP run before each
  for _ in $(seq "$RUNS"); do
    eval "$1"
    local s
    s=$(date +%s.%N)
    eval "$2" > /dev/null 2>&1 || { echo "failed: $2" >&2; exit 1; }
    echo "$(date +%s.%N) - $s" | bc -l
  done | median
}
T_ZSTD=$(timeit "rm -f $W/out.zst" "tar -C $W/tree -cf - . | zstd -1 -T$(nproc) -q -o $W/out.zst")
S_ZSTD=$(stat -c %s "$W/out.zst")
T_CASYNC=$(timeit "rm -rf $W/castr $W/idx.caidx" "casync make --store=$W/castr $W/idx.caidx $W/tree")
S_CASYNC=$(du -sb "$W/castr" | cut -f1)
T_CIMG=$(timeit "rm -rf $W/store" "$CIMG --root $W/store -q pull oci:$W/oci1:t --as bench:v1")
S_CIMG=$(du -sb "$W/store/packs" | cut -f1)
T_TARCIMG=$(timeit "rm -rf $W/store $W/oci1b" "mklayout $W/tree $W/oci1b && $CIMG --root $W/store -q pull oci:$W/oci1b:t --as bench:v1")
# Re-ingest of the changed copy into a store that has v1.
T_DEDUP=$(timeit "rm -rf $W/store && $CIMG --root $W/store -q pull oci:$W/oci1:t --as bench:v1 >/dev/null" \
                 "$CIMG --root $W/store -q pull oci:$W/oci2:t --as bench:v2")
NEW=$("$CIMG" --root "$W/store" inspect bench:v2 | python3 -c "import json,sys; c=json.load(sys.stdin)[0]['Chunks']; print(c['New'], c['Total'], c['NewBytes'])")
T_CASYNC2=$(timeit "rm -rf $W/castr2 && casync make --store=$W/castr2 $W/idx1.caidx $W/tree >/dev/null 2>&1" \
                   "casync make --store=$W/castr2 $W/idx2.caidx $W/tree2")

mbps() { echo "scale=0; $BYTES / $1 / 1000000" | bc -l; }
mb() { echo "scale=1; $1 / 1000000" | bc -l; }
echo
echo "ingest of $(mb $BYTES) MB in $FILES files from /usr, $(nproc) cores, median of $RUNS runs"
printf '| %-44s | %8s | %8s | %10s |\n' "tool" "seconds" "MB/s" "stored MB"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "----------" "----------" "------------"
printf '| %-44s | %8.2f | %8s | %10s |\n' "tar | zstd -1 -T$(nproc) (ceiling, no hashing)" "$T_ZSTD" "$(mbps $T_ZSTD)" "$(mb $S_ZSTD)"
printf '| %-44s | %8.2f | %8s | %10s |\n' "casync make" "$T_CASYNC" "$(mbps $T_CASYNC)" "$(mb $S_CASYNC)"
printf '| %-44s | %8.2f | %8s | %10s |\n' "cimg pull (tar layer)" "$T_CIMG" "$(mbps $T_CIMG)" "$(mb $S_CIMG)"
printf '| %-44s | %8.2f | %8s | %10s |\n' "tar of the tree + cimg pull" "$T_TARCIMG" "$(mbps $T_TARCIMG)" "$(mb $S_CIMG)"
printf '| %-44s | %8.2f | %8s | %10s |\n' "casync make, copy with 1 file changed" "$T_CASYNC2" "$(mbps $T_CASYNC2)" "-"
printf '| %-44s | %8.2f | %8s | %10s |\n' "cimg pull, copy with 1 file changed" "$T_DEDUP" "$(mbps $T_DEDUP)" "$(mb "$(echo "$NEW" | cut -d' ' -f3)")"
echo "cimg on the changed copy stored $(echo $NEW | cut -d' ' -f1) new of $(echo $NEW | cut -d' ' -f2) chunks"
echo "cimg vs casync: $(echo "scale=2; $T_CASYNC / $T_CIMG" | bc -l)x"
