#!/usr/bin/env bash
# Multi-platform images in cimg build, against a local docker-registry
# holding a two-platform index (linux/amd64 + linux/arm64, pushed by skopeo):
#  1. FROM by name with --platform: after a build for linux/arm64 stored the
#     arm64 variant, a build --platform linux/amd64 FROM the same name uses
#     the amd64 layers (pulled again), not the stored arm64 ones; a local
#     image of another platform is refused by name; a platform the index
#     lacks is refused;
#  2. the built-in registry: an image named by its index digest (and one by
#     a tag pointing at the index) collected into registry/; a stock
#     docker-registry serving that registry/ answers for the index digest
#     and for the platform manifest's digest (skopeo inspect --raw: same
#     bytes), and skopeo copies the image by the index digest.
source "$(dirname "$0")/lib.sh"
it_setup skopeo docker-registry curl sha256sum
source "$(dirname "$0")/registry_lib.sh"
cfs_setup
source "$(dirname "$0")/build_lib.sh"
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
BUILD_FLAGS=(--tls-verify=false --ignored-image-list /dev/null)

reg_start_plain src
R=$REG_SRC_ADDR

log "a two-platform index in $R/team/multi:1"
MP=$T/multi
oci_multiarch "$MP"
skopeo_ copy -q --all --dest-tls-verify=false "oci:$MP:multi" "docker://$R/team/multi:1" ||
  fail "skopeo push of the index"
skopeo_ inspect --raw --tls-verify=false "docker://$R/team/multi:1" >"$T/index.json"
IDX=sha256:$(sha256sum <"$T/index.json" | cut -d' ' -f1)
child() { json_get "[m['digest'] for m in j['manifests'] if m['platform']['architecture'] == '$1'][0]" <"$T/index.json"; }
AMD=$(child amd64)
ARM=$(child arm64)
AMD_DIFF=sha256:$(sha256sum <"$T/mp-amd64.tar" | cut -d' ' -f1)
ARM_DIFF=sha256:$(sha256sum <"$T/mp-arm64.tar" | cut -d' ' -f1)
first_layer() { ci inspect "$1" | json_get 'j[0]["Layers"][0]["DiffID"]'; }
arch_of() { ci inspect "$1" | json_get 'j[0]["Architecture"]'; }

# ============================================================ 1. FROM --platform
log "1. FROM by name: the stored variant must be the requested platform"
C=$T/ctx
mkdir -p "$C"
echo app >"$C/app.txt"
printf 'FROM %s/team/multi:1\nCOPY app.txt /app.txt\n' "$R" >"$C/Kubefile"
bld app:arm "$C" --platform linux/arm64
assert_eq "$ARM_DIFF" "$(first_layer app:arm)" "base layer of the linux/arm64 build"
assert_eq arm64 "$(arch_of app:arm)" "architecture of the linux/arm64 build"
bld app:amd "$C" --platform linux/amd64
assert_eq "$AMD_DIFF" "$(first_layer app:amd)" "base layer of the linux/amd64 build (arm64 was stored first)"
assert_eq amd64 "$(arch_of app:amd)" "architecture of the linux/amd64 build"
grep -q "pulling $R/team/multi:1" "$BUILD_ERR" || fail "the amd64 build did not pull: $(cat "$BUILD_ERR")"
log "a stored image of another platform that is not a registry reference"
ci tag app:arm local/arm:1
printf 'FROM local/arm:1\nCOPY app.txt /app.txt\n' >"$C/Kubefile"
before=$(names)
expect_one_line_error '^cimg: Kubefile:1: FROM local/arm:1: .*linux/arm64, not linux/amd64' \
  ci build --ignored-image-list /dev/null -t bad:1 --platform linux/amd64 "$C"
printf 'FROM %s/team/multi:1\nCOPY app.txt /app.txt\n' "$R" >"$C/Kubefile"
expect_one_line_error '^cimg: Kubefile:1: FROM .*s390x' \
  ci build --ignored-image-list /dev/null --tls-verify=false -t bad:1 --platform linux/s390x "$C"
assert_eq "$before" "$(names)" "names after the refused builds"
no_build_leftovers

# ============================================================ 2. the built-in registry
log "2. an image named by its index digest in the built-in registry"
C2=$T/ctx2
mkdir -p "$C2/manifests"
printf '%s/team/multi@%s\n%s/team/multi:1\n' "$R" "$IDX" "$R" >"$C2/manifests/imageList"
printf 'FROM scratch\nCOPY manifests manifests\n' >"$C2/Kubefile"
BUILD_FLAGS=(--tls-verify=false)
bld images:1 "$C2" --platform linux/amd64
M=$T/mnt
mkdir -p "$M"
cfs_mount images:1 "$M"
reg_serve_dir "$M/registry"
PORT=${BUILTIN_ADDR##*:}
B=127.0.0.1:$PORT/team/multi
for d in "$IDX" "$AMD"; do
  skopeo_ inspect --raw --tls-verify=false "docker://$B@$d" >"$T/got.json" ||
    fail "the built-in registry does not answer for $d: $(tail -n 3 "$T/builtin.log")"
  assert_eq "$d" "sha256:$(sha256sum <"$T/got.json" | cut -d' ' -f1)" "digest of what the built-in registry serves for $d"
done
skopeo_ copy -q --override-arch amd64 --src-tls-verify=false "docker://$B@$IDX" "oci:$T/copy:t" ||
  fail "skopeo copy by the index digest from the built-in registry"
got=$(skopeo_ inspect --raw --tls-verify=false "docker://$B:1" | sha256sum | cut -d' ' -f1)
assert_eq "$AMD" "sha256:$got" "the tag names the linux/amd64 manifest"
kill "$BUILTIN_PID"
wait "$BUILTIN_PID" 2>/dev/null || true
cfs_umount "$M"
no_build_leftovers
assert_fsck_clean
