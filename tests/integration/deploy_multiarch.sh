#!/usr/bin/env bash
# Multi-platform cluster images (image lists) end to end, against a local
# docker-registry and 3 real sshd nodes (tests/integration/nodes_lib.sh):
#  1. two cluster images built for linux/amd64 and linux/arm64 (each with
#     its own etc/arch) become one image list (cimg manifest create); images
#     shows its PLATFORMS, inspect its index; rmi of a child by ID is refused
#     while the list holds it;
#  2. cimg push of the list writes both images and an OCI index, to a
#     registry and to an oci-archive: skopeo (an independent client) reads
#     the index with both platforms in both; save/load keep the list; pulled back
#     with --platform all into a fresh store it is a list again, with both
#     images; gc keeps the children (they have no names of their own) and
#     fsck is clean;
#  3. deploy from that store to node1 (x86_64) and node2 (whose `uname -m`
#     says aarch64: a uname wrapper first on root's PATH): each node gets its
#     platform's rootfs, one stream per platform;
#  4. a cluster with node3 too, whose `uname -m` says s390x: refused naming
#     node3 and s390x and the list's platforms, and no node changed;
#  5. node3 x86_64 again, --fanout 1: node1 and node3 share the amd64 stream
#     (one relay group of 2), node2 gets the arm64 one; no group spans both.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"
deploy_setup ma 223 3 zstd skopeo docker-registry curl
source "$(dirname "$0")/registry_lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1

reg_start_plain ma
R=$REG_MA_ADDR

# fake_machine I MACHINE: `uname -m` on node I prints MACHINE (a wrapper in
# /usr/local/bin, first on the PATH sshd gives root); everything else is the
# real uname.
fake_machine() {
  node_exec "$1" sh -c "mkdir -p /usr/local/bin && cat >/usr/local/bin/uname && chmod 755 /usr/local/bin/uname" <<EOS
#!/bin/sh
if [ "\$1" = "-m" ]; then echo $2; else exec /usr/bin/uname "\$@"; fi
EOS
  local got
  got=$("${NODE_SSH[@]}" "root@$(node_ip "$1")" uname -m)
  assert_eq "$2" "$got" "node $1: uname -m over ssh"
}

# -------------------------------------------------- 1. the list, locally
log "1. two platforms' cluster images, one list"
for arch in amd64 arm64; do
  C=$T/ctx-$arch
  mkdir -p "$C/etc" "$C/data" "$C/scripts"
  printf 'FROM scratch\nCOPY . .\n' >"$C/Kubefile"
  echo "$arch" >"$C/etc/arch"
  # init.sh runs on every host: it says which image the host got.
  # shellcheck disable=SC2016 # $(uname -m) is for the host, not here
  printf '#!/bin/bash\necho "init of the %s image on $(uname -m)" >../etc/init-ran\n' "$arch" >"$C/scripts/init.sh"
  echo "shared by both" >"$C/data/common"
  # amd64's is above the fan-out threshold (deploy/fanout.h kFanoutMinBytes, 16 MiB)
  size=3000000
  [[ $arch == amd64 ]] && size=18000000
  head -c "$size" /dev/urandom >"$C/data/only-$arch"
  ci build --platform "linux/$arch" -t "ma/c:1-$arch" "$C" >"$T/build-$arch.out" 2>&1 ||
    fail "build $arch: $(tail -5 "$T/build-$arch.out")"
  assert_eq "$arch" "$(ci inspect "ma/c:1-$arch" | json_get 'j[0]["Architecture"]')" "architecture of ma/c:1-$arch"
done
ci manifest create ma/c:1 ma/c:1-amd64 ma/c:1-arm64 >"$T/create.out" || fail "manifest create"
ci manifest inspect ma/c:1 >"$T/index.json" || fail "manifest inspect"
assert_eq "application/vnd.oci.image.index.v1+json" "$(json_get 'j["mediaType"]' <"$T/index.json")" "index mediaType"
assert_eq "amd64 arm64" "$(json_get '" ".join(m["platform"]["architecture"] for m in j["manifests"])' <"$T/index.json")" \
  "platforms of the index"
ci images >"$T/images.out"
grep -E '^ma/c +1 .*linux/amd64,linux/arm64' "$T/images.out" >/dev/null ||
  fail "cimg images shows no list with its platforms: $(cat "$T/images.out")"
assert_eq "linux/amd64 linux/arm64" "$(ci inspect ma/c:1 | json_get '" ".join(j[0]["Platforms"])')" "inspect of the list"
assert_eq "arm64" "$(ci inspect ma/c:1 --platform linux/arm64 | json_get 'j[0]["Architecture"]')" \
  "inspect --platform linux/arm64 of the list"
ARM_ID=$(image_id ma/c:1-arm64)
ci rmi ma/c:1-arm64 >/dev/null || fail "rmi of the child's name"
expect_one_line_error "image list ma/c:1 holds it" ci rmi -f "$ARM_ID"
assert_fsck_clean

# ------------------------------------------- 2. push, skopeo, pull --platform all
log "2. push the list; skopeo reads it; pull --platform all into a fresh store"
ci push ma/c:1 "$R/ma/c:1" --tls-verify=false >"$T/push.out" 2>&1 || fail "push of the list: $(tail -5 "$T/push.out")"
skopeo_ inspect --raw --tls-verify=false "docker://$R/ma/c:1" >"$T/remote.json" || fail "skopeo inspect --raw"
assert_eq "application/vnd.oci.image.index.v1+json" "$(json_get 'j["mediaType"]' <"$T/remote.json")" "pushed mediaType"
assert_eq "linux/amd64 linux/arm64" \
  "$(json_get '" ".join(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in j["manifests"])' <"$T/remote.json")" \
  "platforms skopeo reads"
skopeo_ inspect --tls-verify=false --override-arch arm64 "docker://$R/ma/c:1" >"$T/remote-arm.json" ||
  fail "skopeo inspect of the arm64 image"
assert_eq "arm64" "$(json_get 'j["Architecture"]' <"$T/remote-arm.json")" "skopeo: the arm64 image's config"

# The same list through an oci-archive: skopeo reads the index, a fresh store
# pulls both platforms back (the index kept byte for byte: same digest).
ci push ma/c:1 "oci-archive:$T/list.tar" >"$T/push-oci.out" 2>&1 || fail "push of the list to oci-archive: $(tail -3 "$T/push-oci.out")"
skopeo_ inspect --raw "oci-archive:$T/list.tar:1" >"$T/oci-index.json" || fail "skopeo inspect --raw of the oci-archive"
assert_eq "amd64 arm64" "$(json_get '" ".join(m["platform"]["architecture"] for m in j["manifests"])' <"$T/oci-index.json")" \
  "platforms skopeo reads in the oci-archive"
cir "$T/root3" pull "oci-archive:$T/list.tar" --platform all --as ma/c:1 >"$T/pull-oci.out" 2>&1 ||
  fail "pull --platform all of the oci-archive: $(tail -3 "$T/pull-oci.out")"
assert_eq "sha256:$(sha256sum <"$T/oci-index.json" | cut -d' ' -f1)" "$(cir "$T/root3" inspect ma/c:1 | json_get 'j[0]["Digest"]')" \
  "digest of the list pulled from the oci-archive"
# save/load keep it a list (save writes the list alone, tagged with its name).
ci save -o "$T/save.tar" ma/c:1 >/dev/null 2>&1 || fail "save of the list"
cir "$T/root4" load -i "$T/save.tar" >"$T/load.out" 2>&1 || fail "load of the saved list: $(tail -3 "$T/load.out")"
assert_eq "linux/amd64 linux/arm64" "$(cir "$T/root4" inspect ma/c:1 | json_get '" ".join(j[0]["Platforms"])')" \
  "platforms of the loaded list"
expect_one_line_error "an image list is saved alone" ci save -o "$T/save2.tar" ma/c:1 ma/c:1-amd64

R2=$T/root2
cir "$R2" pull "$R/ma/c:1" --platform all --as ma/c:1 --tls-verify=false >"$T/pull.out" 2>&1 ||
  fail "pull --platform all: $(tail -5 "$T/pull.out")"
grep 'image list of 2 platforms' "$T/pull.out" >/dev/null || fail "pull --platform all: $(cat "$T/pull.out")"
id_of() { cir "$R2" inspect ma/c:1 --platform "linux/$1" | json_get 'j[0]["Id"]'; }
AMD_ID=$(id_of amd64)
ARM_ID2=$(id_of arm64)
assert_eq "linux/amd64 linux/arm64" "$(cir "$R2" inspect ma/c:1 | json_get '" ".join(j[0]["Platforms"])')" \
  "the pulled list's platforms"
cir "$R2" gc >/dev/null || fail "gc of the fresh store"
for arch in amd64 arm64; do
  assert_eq "$arch" "$(cir "$R2" inspect ma/c:1 --platform "linux/$arch" | json_get 'j[0]["Architecture"]')" \
    "after gc: the list's $arch image"
done
# Without --platform a list reads as this host's image (as podman run picks).
assert_eq "$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')" "$(cir "$R2" cat ma/c:1:/etc/arch)" "cat of the list"
assert_eq "arm64" "$(cir "$R2" cat ma/c:1:/etc/arch --platform linux/arm64)" "cat --platform linux/arm64 of the list"
expect_one_line_error "no image for platform linux/s390x" cir "$R2" cat ma/c:1:/etc/arch --platform linux/s390x
"$CIMG" --root "$R2" fsck >"$T/fsck2.out" 2>&1 || fail "fsck of the fresh store: $(tail -5 "$T/fsck2.out")"

# ------------------------------------------------- 3. deploy per host
log "3. deploy: node1 x86_64, node2 aarch64 (faked)"
fake_machine 2 aarch64
cf() { # NAME NODE-INDEXES...: node of the first index the master
  local name=$1 i
  shift
  printf 'apiVersion: sealer.io/v2\nkind: Cluster\nmetadata: {name: %s}\nspec:\n' "$name"
  printf '  image: ma/c:1\n  ssh: {pk: %s}\n  hosts:\n' "$NODE_KEY"
  printf '    - {ips: [%s], roles: [master]}\n' "$(node_ip "$1")"
  shift
  for i in "$@"; do printf '    - {ips: [%s], roles: [node]}\n' "$(node_ip "$i")"; done
}
cf ma 1 2 >"$T/ma.yaml"
"$CIMG" --root "$R2" deploy -f "$T/ma.yaml" "${KH[@]}" >"$T/dep.out" 2>"$T/dep.err" ||
  fail "deploy of the list: $(tail -5 "$T/dep.err")"
assert_eq "amd64" "$(cat "$(np 1 /var/lib/cimg/ma/rootfs/etc/arch)")" "node1's etc/arch"
assert_eq "arm64" "$(cat "$(np 2 /var/lib/cimg/ma/rootfs/etc/arch)")" "node2's etc/arch"
[[ -f "$(np 1 /var/lib/cimg/ma/rootfs/data/only-amd64)" && ! -e "$(np 1 /var/lib/cimg/ma/rootfs/data/only-arm64)" ]] ||
  fail "node1 does not hold exactly the amd64 files"
[[ -f "$(np 2 /var/lib/cimg/ma/rootfs/data/only-arm64)" && ! -e "$(np 2 /var/lib/cimg/ma/rootfs/data/only-amd64)" ]] ||
  fail "node2 does not hold exactly the arm64 files"
for arch in amd64 arm64; do
  grep "linux/$arch: 1 host(s)" "$T/dep.err" >/dev/null ||
    fail "the deploy did not plan a part for linux/$arch: $(grep -i platform "$T/dep.err")"
done
assert_eq "init of the amd64 image on x86_64" "$(cat "$(np 1 /var/lib/cimg/ma/rootfs/etc/init-ran)")" "node1's init.sh"
assert_eq "init of the arm64 image on aarch64" "$(cat "$(np 2 /var/lib/cimg/ma/rootfs/etc/init-ran)")" "node2's init.sh"
# Per-image step records hold each host's own image ID; a re-run finds them
# (nothing sent, init.sh skipped on both).
assert_eq "$AMD_ID" "$(cat "$(np 1 /var/lib/cimg/ma/steps/init)")" "node1's init step record"
assert_eq "$ARM_ID2" "$(cat "$(np 2 /var/lib/cimg/ma/steps/init)")" "node2's init step record"
"$CIMG" --root "$R2" deploy -f "$T/ma.yaml" "${KH[@]}" >"$T/dep2.out" 2>"$T/dep2.err" ||
  fail "re-deploy of the list: $(tail -5 "$T/dep2.err")"
for i in 1 2; do
  grep "$(node_ip "$i"): scripts/init.sh: done before, skipped" "$T/dep2.err" >/dev/null ||
    fail "re-deploy ran init.sh again on node $i: $(grep -i init "$T/dep2.err")"
done

# ------------------------------------------------- 4. a host no platform fits
log "4. node3 (s390x, faked) is refused by name; nothing changes"
fake_machine 3 s390x
cf mb 1 2 3 >"$T/mb.yaml"
rc=0
"$CIMG" --root "$R2" deploy -f "$T/mb.yaml" "${KH[@]}" >"$T/mb.out" 2>"$T/mb.err" || rc=$?
[[ $rc -ne 0 ]] || fail "deploy with an s390x host succeeded"
last=$(tail -1 "$T/mb.err")
[[ $last == *"host $(node_ip 3) is s390x"* && $last == *"linux/amd64, linux/arm64"* ]] ||
  fail "refusal does not name node3, its machine and the platforms: $last"
[[ $last != *"$(node_ip 1) is"* && $last != *"$(node_ip 2) is"* ]] || fail "refusal names a host that fits: $last"
for i in 1 2 3; do
  [[ ! -e "$(np "$i" /var/lib/cimg/mb)" ]] || fail "node $i was changed by the refused deploy"
done
[[ ! -e "$(np 3 /var/lib/cimg/ma)" ]] || fail "node3 holds cluster ma"

# ------------------------------------------------- 5. fan-out within a platform
log "5. --fanout: node1 and node3 (x86_64) share the amd64 stream, node2 has its own"
node_exec 3 rm -f /usr/local/bin/uname
cf mc 1 2 3 >"$T/mc.yaml"
"$CIMG" --root "$R2" deploy -f "$T/mc.yaml" --fanout 1 "${KH[@]}" >"$T/mc.out" 2>"$T/mc.err" ||
  fail "deploy --fanout 1 of the list: $(tail -5 "$T/mc.err")"
assert_eq "amd64 arm64 amd64" "$(for i in 1 2 3; do cat "$(np "$i" /var/lib/cimg/mc/rootfs/etc/arch)"; done | xargs)" \
  "etc/arch of node1, node2, node3"
grep "rootfs: one stream for $(node_ip 1), $(node_ip 3)\$" "$T/mc.err" >/dev/null ||
  fail "the amd64 hosts do not share one stream: $(grep 'rootfs:' "$T/mc.err")"
! grep "rootfs: one stream for .*$(node_ip 2)" "$T/mc.err" >/dev/null || fail "node2 (arm64) shares a stream: $(grep 'rootfs:' "$T/mc.err")"
grep 'rootfs: fan-out to 2 hosts' "$T/mc.err" >/dev/null || fail "no fan-out among the 2 amd64 hosts: $(grep 'rootfs:' "$T/mc.err")"
! grep 'rootfs: fan-out to 3 hosts' "$T/mc.err" >/dev/null || fail "a fan-out group spans platforms"
log "ok"
