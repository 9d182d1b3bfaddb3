#!/usr/bin/env bash
# The main job end to end on built-in defaults, in a scratch directory:
#  1. make a sealer-style cluster rootfs (examples/rootfs + generated
#     binaries) into an OCI image with umoci, in 2 layers, one deletion;
#  2. cimg pull it into a fresh store, list and inspect it;
#  3. pull a second version that changes one binary: only new chunks stored;
#  4. cimg push as zstd:chunked; skopeo reads it back, umoci unpacks it and
#     the tree equals the original; cimg save/load round trip;
#  5. clusterfs: mount v2 read-only and compare it with the source tree;
#     mount it writable, change it, and show the upper dir (kernel format),
#     then mount that upper dir with the kernel's overlayfs;
#  6. a registry (Debian's docker-registry on 127.0.0.1): push both versions,
#     pull v2 into a fresh store after v1 (only the new chunks move), and
#     mount v2 lazily straight from the registry;
#  7. fsck, rmi, gc (a live mount keeps its layers).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
[ -x build/tools/cimg ] && [ -x build/tools/clusterfs ] || scripts/setup.sh
CIMG="$REPO/build/tools/cimg"
CLUSTERFS="$REPO/build/tools/clusterfs"
W=$(mktemp -d /tmp/cimg-demo.XXXXXX)
REG_PID=
cleanup() {
  for m in "$W/mnt" "$W/rw" "$W/kmnt" "$W/lazy"; do
    mountpoint -q "$m" 2>/dev/null && { "$CLUSTERFS" umount "$m" 2>/dev/null || umount -l "$m"; }
  done
  if [ -n "$REG_PID" ]; then kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
export CIMG_ROOT="$W/store"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. a cluster image made with umoci: examples/rootfs + 3 generated binaries, then a layer that deletes a file"
umoci init --layout "$W/src" >/dev/null
umoci new --image "$W/src:v1" >/dev/null
# layer TAG CMD: unpack TAG, run CMD in its rootfs, repack as one new layer.
layer() {
  rm -rf "$W/bundle"
  umoci unpack --image "$W/src:$1" "$W/bundle" >/dev/null
  (cd "$W/bundle/rootfs" && eval "$2")
  umoci repack --image "$W/src:$1" "$W/bundle" >/dev/null
}
gen() {  # deterministic pseudo-binary: gen SEED MB
  python3 -c "import random,sys; r=random.Random('$1'); sys.stdout.buffer.write(r.randbytes($2<<20))"
}
layer v1 'cp -a "$REPO/examples/rootfs/." . && for b in kubeadm kubectl kubelet; do gen $b 8 > bin/$b; chmod 755 bin/$b; done'
layer v1 'rm images/README && echo "{\"registry-mirrors\": [\"https://sea.hub:5000\"]}" > etc/daemon.json'
echo "made $W/src:v1"

step "2. import into the store and look at it"
run "$CIMG" pull "oci:$W/src:v1" --as demo/cluster:v1
run "$CIMG" images
run "$CIMG" history demo/cluster:v1
"$CIMG" inspect demo/cluster:v1 | python3 -c "import json,sys; d=json.load(sys.stdin)[0]; print(json.dumps({k:d[k] for k in ('Id','RepoTags','Size','Chunks','Layers')}, indent=2))"

step "3. version 2 changes one binary: only its new chunks are stored"
umoci tag --image "$W/src:v1" v2 >/dev/null
layer v2 'gen v2 1 | dd of=bin/kubelet bs=1M seek=3 conv=notrunc status=none'
run "$CIMG" pull "oci:$W/src:v2" --as demo/cluster:v2

step "4. export as zstd:chunked and read it back with skopeo and umoci"
run "$CIMG" push demo/cluster:v2 "oci:$W/out:v2"
run skopeo inspect "oci:$W/out:v2" --format '{{.Digest}} layers={{len .Layers}}'
skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$W/out:v2" "oci:$W/out-gz:v2"
umoci unpack --image "$W/out-gz:v2" "$W/check" >/dev/null
if diff -r --no-dereference "$W/bundle/rootfs" "$W/check/rootfs"; then  # bundle = v2's tree
  echo "umoci unpack of our export == the source tree"
else
  echo "demo: the exported tree differs" >&2; exit 1
fi
run "$CIMG" save -o "$W/cluster.tar" demo/cluster:v1 demo/cluster:v2
CIMG_ROOT="$W/store2" run "$CIMG" load -i "$W/cluster.tar"

step "5. clusterfs: mount the image, change it through an upper dir"
mkdir -p "$W/mnt" "$W/rw" "$W/upper" "$W/work" "$W/kmnt" "$W/kwork"
run "$CLUSTERFS" mount demo/cluster:v2 "$W/mnt"
run ls "$W/mnt" "$W/mnt/bin"
if diff -r --no-dereference "$W/bundle/rootfs" "$W/mnt"; then
  echo "the read-only mount == the source tree"
else
  echo "demo: the mounted tree differs" >&2; exit 1
fi
run "$CLUSTERFS" mount --upper "$W/upper" --work "$W/work" demo/cluster:v2 "$W/rw"
run sh -c "rm '$W/rw/etc/kubeadm.yml' && echo 'mirror: local' >> '$W/rw/etc/daemon.json' && mkdir '$W/rw/opt'"
run find "$W/upper" -printf '%M %p\n'
run "$CLUSTERFS" umount "$W/rw"
# The upper dir is in the kernel's format: the kernel's overlayfs shows the same tree.
lowers=$(mktemp -d "$W/lower.XXXX")
cp -a "$W/mnt/." "$lowers/"
run mount -t overlay overlay -o "lowerdir=$lowers,upperdir=$W/upper,workdir=$W/kwork" "$W/kmnt"
run cat "$W/kmnt/etc/daemon.json"
[ ! -e "$W/kmnt/etc/kubeadm.yml" ] && echo "kernel overlayfs: etc/kubeadm.yml is deleted (whiteout)"
umount "$W/kmnt"

step "6. a registry on 127.0.0.1: push, pull by parts, mount lazily"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\nlog: {level: error}\n' \
  "$W/registry" "$PORT" >"$W/registry.yml"
env -u REGISTRY_AUTH_FILE docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
REG=127.0.0.1:$PORT
run "$CIMG" push demo/cluster:v1 "$REG/demo/cluster:v1" --tls-verify=false
run "$CIMG" push demo/cluster:v2 "$REG/demo/cluster:v2" --tls-verify=false
CIMG_ROOT="$W/store3" run "$CIMG" pull "$REG/demo/cluster:v1" --tls-verify=false
CIMG_ROOT="$W/store3" run "$CIMG" pull "$REG/demo/cluster:v2" --tls-verify=false
mkdir -p "$W/lazy"
run "$CLUSTERFS" mount --root "$W/store4" "$REG/demo/cluster:v2" "$W/lazy" --tls-verify=false
run cat "$W/lazy/etc/daemon.json"
cmp "$W/lazy/bin/kubelet" "$W/bundle/rootfs/bin/kubelet" && echo "lazily read bin/kubelet == the source"
run "$CLUSTERFS" umount "$W/lazy"

step "7. verify, remove, collect garbage (the live mount keeps its layers)"
run "$CIMG" fsck
run "$CIMG" rmi demo/cluster:v1 demo/cluster:v2
run "$CIMG" gc
run cat "$W/mnt/etc/daemon.json"
run "$CLUSTERFS" umount "$W/mnt"
run "$CIMG" gc
run "$CIMG" fsck
echo; echo "demo: done"
