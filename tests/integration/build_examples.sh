#!/usr/bin/env bash
# The seeds' examples built offline against a local registry, and the
# raw-docker flow with cimg commit:
#  1. examples/base/Kubefile over examples/rootfs (its public imageList
#     ignored), its RUNs adding the build host's containerd, shim, ctr, runc
#     (cri/) and docker-registry (bin/registry)
#  2. examples/app with its imageList pointed at container images pushed by
#     skopeo to Debian's docker-registry on 127.0.0.1; clusterfs mount shows
#     the expected tree;
#  3. a stock docker-registry serving the image's registry/ (through the
#     mount) answers skopeo inspect/copy for every collected image with the
#     source digests;
#  4. mount --upper + edits + cimg commit: deletions are deletions in the new
#     image (cimg diff, a mount, and umoci unpack of its export).
source "$(dirname "$0")/lib.sh"
it_setup skopeo umoci docker-registry python3 curl containerd ctr runc containerd-shim-runc-v2 dpkg
source "$(dirname "$0")/registry_lib.sh"
cfs_setup
REPO=$(cd "$(dirname "$0")/../.." && pwd)

reg_start_plain src
R=$REG_SRC_ADDR

log "container images for the app, pushed by skopeo to $R"
for img in library/nginx:1.25 team/app:2; do
  d=$T/img-${img//[\/:]/-}
  mkdir -p "$d/root/etc"
  echo "$img" >"$d/root/etc/name"
  head -c 200000 /dev/urandom >"$d/root/payload"
  tar -C "$d/root" -cf "$d/layer.tar" .
  oci_build "$d/oci" t "$d/layer.tar" >/dev/null
  skopeo_ copy -q --dest-tls-verify=false "oci:$d/oci:t" "docker://$R/$img" || fail "skopeo push of $img"
done

log "1. the base: examples/rootfs, FROM scratch / COPY . ."
grep -v '^#' "$REPO/examples/rootfs/manifests/imageList" | sed '/^$/d' >"$T/ignored"
ci build -f "$REPO/examples/base/Kubefile" -t cimg-examples/base:1 --ignored-image-list "$T/ignored" \
  "$REPO/examples/rootfs" >"$T/base.out" 2>"$T/base.err" || fail "base build: $(tail -n 5 "$T/base.err")"
M=$T/mnt
mkdir -p "$M"
cfs_mount cimg-examples/base:1 "$M"
# COPY . . of the context: every file of examples/rootfs, same bytes and modes
(cd "$REPO/examples/rootfs" && find . -type f -printf '%P %m\n' | LC_ALL=C sort) >"$T/want"
RAN=(! -path './cri/*' ! -path ./bin/registry) # what the RUNs added (below)
(cd "$M" && find . -type f ! -name Kubefile "${RAN[@]}" -printf '%P %m\n' | LC_ALL=C sort) >"$T/got"
diff -u "$T/want" "$T/got" >&2 || fail "the base image's files differ from examples/rootfs"
(cd "$REPO/examples/rootfs" && find . -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort) >"$T/want.sum"
(cd "$M" && find . -type f ! -name Kubefile "${RAN[@]}" -print0 | xargs -0 sha256sum | LC_ALL=C sort) >"$T/got.sum"
diff -u "$T/want.sum" "$T/got.sum" >&2 || fail "the base image's contents differ"
for b in containerd containerd-shim-runc-v2 ctr runc; do
  cmp "$M/cri/$b" "$(command -v "$b")" || fail "cri/$b is not the build host's $b"
done
cmp "$M/bin/registry" "$(command -v docker-registry)" || fail "bin/registry is not docker-registry"
[[ ! -e "$M/registry" ]] || fail "the base collected images although they were ignored"
cfs_umount "$M"

log "2. the app: ARG, RUN, COPY imageList manifests, COPY etc etc, CMDs"
APP=$T/app
cp -a "$REPO/examples/app" "$APP"
printf '# offline: the images pushed above\n%s/library/nginx:1.25\n%s/team/app:2\n' "$R" "$R" >"$APP/imageList"
ci build -t cimg-examples/app:1 --tls-verify=false "$APP" >"$T/app.out" 2>"$T/app.err" ||
  fail "app build: $(tail -n 5 "$T/app.err")"
grep -q "2 container images" "$T/app.out" || fail "app build summary: $(cat "$T/app.out")"
cfs_mount cimg-examples/app:1 "$M"
assert_eq "kubernetes v1.27.2" "$(cat "$M/opt/app/VERSION")" "opt/app/VERSION (ARG + ENV in RUN)"
[[ ! -e "$M/images/README" && -d "$M/images" ]] || fail "RUN did not delete images/README"
cmp "$APP/imageList" "$M/manifests/imageList" || fail "manifests/imageList is not the app's"
cmp "$APP/etc/app.conf" "$M/etc/app.conf" || fail "COPY etc etc did not make etc/app.conf"
cmp "$REPO/examples/rootfs/etc/kubeadm.yml" "$M/etc/kubeadm.yml" || fail "the base's etc/kubeadm.yml changed"
for f in bin/README scripts/init.sh scripts/clean.sh statics/audit-policy.yml; do
  cmp "$REPO/examples/rootfs/$f" "$M/$f" || fail "$f differs from the base"
done
ci inspect cimg-examples/app:1 >"$T/inspect.json"
python3 - "$T/inspect.json" "$R" <<'PY' || fail "inspect of the app: $(head -c 2000 "$T/inspect.json")"
import json, sys
d = json.load(open(sys.argv[1]))[0]
labels = d["Config"]["Labels"]
assert json.loads(labels["io.cimg.cmds"]) == ["kubectl apply -f manifests/", 'echo "cluster ${KUBE_VERSION} is up"'], labels
assert json.loads(labels["io.cimg.images"]) == [sys.argv[2] + "/library/nginx:1.25", sys.argv[2] + "/team/app:2"], labels
assert "KUBE_VERSION=v1.27.2" in d["Config"]["Env"], d["Config"]
assert labels["org.cimg.example"] == "app"
PY

log "3. a stock docker-registry serving the image's registry/ answers for every collected image"
reg_serve_dir "$M/registry"
PORT=${BUILTIN_ADDR##*:}
for img in library/nginx:1.25 team/app:2; do
  want=$(skopeo_ inspect --tls-verify=false "docker://$R/$img" | json_get 'j["Digest"]')
  got=$(skopeo_ inspect --tls-verify=false "docker://127.0.0.1:$PORT/$img" | json_get 'j["Digest"]') ||
    fail "the built-in registry does not answer for $img"
  assert_eq "$want" "$got" "digest of $img in the built-in registry"
  rm -rf "$T/copy"
  skopeo_ copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/$img" "oci:$T/copy:t" ||
    fail "skopeo copy of $img from the built-in registry"
done
kill "$BUILTIN_PID"
wait "$BUILTIN_PID" 2>/dev/null || true
cfs_umount "$M"

log "4. mount --upper, edit, delete, cimg commit: deletions stay deletions"
U=$T/upper W=$T/work
mkdir -p "$U" "$W"
cfs_mount --upper "$U" --work "$W" cimg-examples/app:1 "$M"
echo '{"registry-mirrors": ["http://127.0.0.1:5000"]}' >"$M/etc/daemon.json"
head -c 300000 /dev/urandom >"$M/images/docker.tar.gz"
rm "$M/scripts/clean.sh"
rm -r "$M/statics"
ci commit "$M" cimg-examples/app:2 >"$T/commit.out" || fail "cimg commit: $(cat "$T/commit.out")"
cp "$M/images/docker.tar.gz" "$T/docker.tar.gz"
cfs_umount "$M"
ci diff cimg-examples/app:2 >"$T/diff.out"
for want in "C /etc/daemon.json" "A /images/docker.tar.gz" "D /scripts/clean.sh" "D /statics" \
            "D /statics/audit-policy.yml"; do
  grep -qxF "$want" "$T/diff.out" || fail "cimg diff lacks '$want':
$(cat "$T/diff.out")"
done
cfs_mount cimg-examples/app:2 "$M"
[[ ! -e "$M/scripts/clean.sh" && ! -e "$M/statics" ]] || fail "deleted paths are back in the committed image"
grep -q 127.0.0.1:5000 "$M/etc/daemon.json" || fail "the edit is not in the committed image"
cmp "$T/docker.tar.gz" "$M/images/docker.tar.gz" || fail "the replaced file differs"
# Its export: umoci (gzip) sees the same tree, deletions included.
ci push cimg-examples/app:2 "oci:$T/export:t" --compression gzip >/dev/null || fail "push of app:2"
umoci unpack --image "$T/export:t" "$T/bundle" >/dev/null || fail "umoci unpack of app:2"
compare_trees "$M" "$T/bundle/rootfs" "umoci unpack of the committed image vs its mount"
cfs_umount "$M"
assert_fsck_clean

log "5. --build-mode all: image archives under images/ go into registry/ too"
d=$T/img-library-nginx-1.25
skopeo_ copy -q "oci:$d/oci:t" "docker-archive:$T/tool.tar:team/tool:7" || fail "skopeo could not write a docker archive"
CTX=$T/allctx
mkdir -p "$CTX/images"
cp "$T/tool.tar" "$CTX/images/tool.tar"
printf 'FROM cimg-examples/base:1\nCOPY images images\n' >"$CTX/Kubefile"
ci build -t cimg-examples/all:1 --build-mode all --ignored-image-list "$T/ignored" "$CTX" >"$T/all.out" 2>"$T/all.err" ||
  fail "--build-mode all build: $(tail -n 5 "$T/all.err")"
grep -q "1 container images" "$T/all.out" || fail "--build-mode all summary: $(cat "$T/all.out")"
cfs_mount cimg-examples/all:1 "$M"
cmp "$T/tool.tar" "$M/images/tool.tar" || fail "the archive is not kept under images/"
PORT=$(reg_free_port)
sed -e "s#rootdirectory: .*#rootdirectory: $M/registry#" -e "s#addr: .*#addr: 127.0.0.1:$PORT#" "$T/builtin.yml" >"$T/builtin2.yml"
bg sh -c 'exec env -u REGISTRY_AUTH_FILE docker-registry serve "$1" >"$2" 2>&1' _ "$T/builtin2.yml" "$T/builtin2.log"
BUILTIN_PID=$BG_PID
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
want=$(python3 -c 'import json,sys; d=sys.argv[1]; i=json.load(open(d+"/index.json")); m=json.load(open(d+"/blobs/"+i["manifests"][0]["digest"].replace(":","/"))); print(m["config"]["digest"])' "$d/oci")
got=$(skopeo_ inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT/team/tool:7" | json_get 'j["config"]["digest"]') ||
  fail "the built-in registry does not answer for team/tool:7 from the archive"
assert_eq "$want" "$got" "config digest of the archived image in the built-in registry"
rm -rf "$T/copy2"
skopeo_ copy -q --src-tls-verify=false "docker://127.0.0.1:$PORT/team/tool:7" "oci:$T/copy2:t" ||
  fail "skopeo copy of team/tool:7 from the built-in registry"
kill "$BUILTIN_PID"
wait "$BUILTIN_PID" 2>/dev/null || true
cfs_umount "$M"
assert_fsck_clean
