#!/usr/bin/env bash
# Air-gap delta bundles: what carries version N+1 of a cluster image to a site
# that holds version N, side by side in one run:
#   - the whole image          cimg save -o new.tar NEW (zstd:chunked)
#   - an image-level delta     the compressed layer blobs of NEW whose diffID
#                              OLD lacks (what a layer-skipping transfer moves)
#   - cimg save --since OLD    only the chunks OLD's layers lack
# for two shapes of image: a 2-layer one (rootfs, then bin/ with the binary)
# and a 1-layer one (everything in one COPY, as many cluster images are).
# NEW differs from OLD by 1 MiB of new bytes inside a 21 MiB binary (real
# machine code, bench/elf_blob.py). Also times save --since and the load
# into a store that holds OLD (median of RUNS, default 3).
# Usage: bench/delta.sh [ROOTFS_MB]   (default 150; needs scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SIZE_MB=${1:-150}
RUNS=${RUNS:-3}
CIMG=${CIMG:-$REPO/build/tools/cimg}
[ -x "$CIMG" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
W=$(mktemp -d /var/tmp/cimg-bench-delta.XXXXXX)
trap 'rm -rf "$W"' EXIT

python3 "$REPO/bench/usr_sample.py" "$SIZE_MB" >"$W/list"
mkdir -p "$W/rootfs" "$W/bin1/usr/bin" "$W/bin2/usr/bin"
tar -cf - -P -T "$W/list" 2>/dev/null | tar -xf - -C "$W/rootfs"
python3 "$REPO/bench/elf_blob.py" "$W/bin1/usr/bin/kubelet" 21 >/dev/null || true
cp "$W/bin1/usr/bin/kubelet" "$W/bin2/usr/bin/kubelet"
head -c $((1 << 20)) /dev/urandom |
  dd of="$W/bin2/usr/bin/kubelet" bs=1M seek=8 conv=notrunc status=none

# oci_layout DIR TAG TREE...: one layer per tree (uncompressed tar).
oci_layout() {
  local dir=$1 tag=$2 i=0 tars=()
  shift 2
  for t in "$@"; do
    tar -C "$t" --sort=name --owner=0 --group=0 --mtime=@0 -cf "$W/l$i.tar" .
    tars+=("$W/l$i.tar")
    i=$((i + 1))
  done
  python3 - "$dir" "$tag" "${tars[@]}" <<'PY'
import hashlib, json, os, sys
out, tag, tars = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{out}/blobs/sha256/{d}", "wb").write(b); return "sha256:" + d
layers = []
for t in tars:
    b = open(t, "rb").read()
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": put(b), "size": len(b)})
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg), "size": len(cfg)},
                "layers": layers}).encode()
md = put(m)
open(out + "/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
ip = out + "/index.json"
idx = json.load(open(ip)) if os.path.exists(ip) else {"schemaVersion": 2, "manifests": []}
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(m),
                         "annotations": {"org.opencontainers.image.ref.name": tag}})
json.dump(idx, open(ip, "w"))
PY
}

# image_level_bytes ARCHIVE: compressed layer blobs of the one image in an
# oci-archive whose diffIDs are not in $W/old_ids.
image_level_bytes() {
  python3 - "$1" "$W/old_ids" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
old = set(open(sys.argv[2]).read().split())
blob = lambda d: json.load(t.extractfile("blobs/sha256/" + d.split(":")[1]))
idx = json.load(t.extractfile("index.json"))
m = blob(idx["manifests"][0]["digest"])
ids = blob(m["config"]["digest"])["rootfs"]["diff_ids"]
print(sum(l["size"] for l, i in zip(m["layers"], ids) if i not in old))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null; awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f\n", b - a}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }

printf '%s\n' "| image | NEW whole (cimg save) | image-level delta | cimg save --since | save --since | load |"
printf '%s\n' "|---|---|---|---|---|---|"
for shape in 2-layer 1-layer; do
  rm -rf "$W/oci" "$W/a" "$W/merged1" "$W/merged2"
  if [ "$shape" = 2-layer ]; then
    oci_layout "$W/oci" v1 "$W/rootfs" "$W/bin1"
    oci_layout "$W/oci" v2 "$W/rootfs" "$W/bin2"
  else
    mkdir -p "$W/merged1" "$W/merged2"
    cp -a "$W/rootfs/." "$W/bin1/." "$W/merged1/"
    cp -a "$W/rootfs/." "$W/bin2/." "$W/merged2/"
    oci_layout "$W/oci" v1 "$W/merged1"
    oci_layout "$W/oci" v2 "$W/merged2"
  fi
  "$CIMG" --root "$W/a" -q pull "oci:$W/oci:v1" --as app:v1 >/dev/null
  "$CIMG" --root "$W/a" -q pull "oci:$W/oci:v2" --as app:v2 >/dev/null
  "$CIMG" --root "$W/a" -q inspect app:v1 | python3 -c \
    'import json,sys; print("\n".join(l["DiffID"] for l in json.load(sys.stdin)[0]["Layers"]))' >"$W/old_ids"
  "$CIMG" --root "$W/a" -q save -o "$W/old.tar" app:v1
  "$CIMG" --root "$W/a" -q save -o "$W/new.tar" app:v2
  whole=$(stat -c %s "$W/new.tar")
  image_level=$(image_level_bytes "$W/new.tar")
  save_t=() load_t=()
  for _ in $(seq "$RUNS"); do
    rm -f "$W/delta.tar"
    save_t+=("$(secs "$CIMG" --root "$W/a" -q save --since app:v1 -o "$W/delta.tar" app:v2)")
    rm -rf "$W/b"
    "$CIMG" --root "$W/b" -q load -i "$W/old.tar" >/dev/null
    load_t+=("$(secs "$CIMG" --root "$W/b" -q load -i "$W/delta.tar")")
  done
  delta=$(stat -c %s "$W/delta.tar")
  [ "$("$CIMG" --root "$W/b" -q inspect app:v2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')" = \
    "$("$CIMG" --root "$W/a" -q inspect app:v2 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')" ] ||
    { echo "delta: the loaded image has another digest" >&2; exit 1; }
  printf '| %s, %s MB | %s | %s | **%s** | %s s | %s s |\n' "$shape" "$((SIZE_MB + 21))" "$(mb "$whole")" \
    "$(mb "$image_level")" "$(mb "$delta")" "$(printf '%s\n' "${save_t[@]}" | median)" \
    "$(printf '%s\n' "${load_t[@]}" | median)"
done
