#!/usr/bin/env bash
# cimg as a citizen of the containers world: registries.conf and docker's
# credential helpers, read as podman and docker read them.
#   1. a private registries.conf ($CONTAINERS_REGISTRIES_CONF) mirrors an
#      "upstream" that is down (a closed 127.0.0.1 port) to a plain
#      docker-registry (insecure = true: no --tls-verify=false anywhere):
#      cimg pull, a short-name alias, a build's FROM and its image
#      collection, and a lazy clusterfs mount are all served by the mirror;
#   2. a blocked registry and an ambiguous short name under enforcing mode
#      are refused with one line naming them;
#   3. a registry with htpasswd auth is pulled from with the credentials a
#      docker-credential-test helper (credHelpers of a private DOCKER_CONFIG)
#      gives; the helper was called with the registry's name;
#   4. podman 4.3 (Debian) pulls our zstd:chunked push by parts ("Retrieved
#      partial blob" in its debug log), and its image reads as the source.
# Private HOME, DOCKER_CONFIG, registries.conf: the machine's /etc/containers
# and ~/.docker are never read.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/registry_lib.sh"
it_setup tar curl htpasswd podman
cfs_setup

export HOME=$T/home DOCKER_CONFIG=$T/docker CONTAINERS_REGISTRIES_CONF=$T/registries.conf
unset REGISTRY_AUTH_FILE XDG_RUNTIME_DIR XDG_CONFIG_HOME XDG_CACHE_HOME
mkdir -p "$HOME" "$DOCKER_CONFIG" "$T/bin"

# ------------------------------------------------------------ an image
SRC=$T/src
mkdir -p "$SRC/etc"
text_file "$SRC/etc/app.conf" 40000
rand_file "$SRC/etc/blob.bin" 300000
(cd "$SRC" && tar --sort=name -cf "$T/layer.tar" etc) || fail "tar of the source tree"
oci_build "$T/oci" v1 "$T/layer.tar" >/dev/null
SROOT=$T/src-root
cir "$SROOT" pull "oci:$T/oci:v1" --as app:1 >/dev/null || fail "pull of the source image"

reg_start_plain mirror
MIRROR=$REG_MIRROR_ADDR
cir "$SROOT" push app:1 "$MIRROR/cache/team/app:1" --tls-verify=false >/dev/null || fail "push to the mirror"
UP=127.0.0.1:$(reg_free_port) # nothing listens there: the upstream is down

cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
unqualified-search-registries = ["$UP", "127.0.0.1:1"]
short-name-mode = "enforcing"

[[registry]]
prefix = "$UP"
location = "$UP"
insecure = true
[[registry.mirror]]
location = "$MIRROR/cache"
insecure = true

[[registry]]
location = "blocked.example"
blocked = true
[[registry.mirror]]
location = "$MIRROR/cache"
insecure = true

[aliases]
"app" = "$UP/team/app"
EOF

# ------------------------------------------------------------ 1. the mirror serves
log "1a. cimg pull of the upstream name, served by the mirror"
ci pull "$UP/team/app:1" >"$T/pull.out" 2>"$T/pull.err" || fail "pull through the mirror: $(cat "$T/pull.err")"
grep -q "$UP/team/app:1: served by mirror $MIRROR" "$T/pull.err" || fail "no 'served by mirror' line: $(cat "$T/pull.err")"
ci images | grep "$UP/team/app" >/dev/null || fail "the image is not stored under its upstream name: $(ci images)"

log "1b. a short-name alias, served by the mirror"
R2=$T/root2
cir "$R2" pull app:1 2>"$T/alias.err" >/dev/null || fail "pull of the alias app:1: $(cat "$T/alias.err")"
grep -q "served by mirror $MIRROR" "$T/alias.err" || fail "the alias was not served by the mirror: $(cat "$T/alias.err")"
cir "$R2" inspect "$UP/team/app:1" >/dev/null || fail "the alias did not resolve to $UP/team/app:1"

log "1c. a build: FROM the upstream name and its image collection, both from the mirror"
C=$T/ctx
mkdir -p "$C/manifests"
printf '%s/team/app:1\n' "$UP" >"$C/manifests/imageList"
printf 'FROM %s/team/app:1\nCOPY manifests manifests\n' "$UP" >"$C/Kubefile"
R3=$T/root3
"$CIMG" --root "$R3" build -t built:1 "$C" >"$T/build.out" 2>"$T/build.err" || fail "build: $(tail -n 20 "$T/build.err")"
cat "$T/build.out" "$T/build.err" >"$T/build.all"
grep -q "served by mirror $MIRROR" "$T/build.all" || fail "FROM was not served by the mirror: $(cat "$T/build.all")"
grep -q "$UP/team/app:1 -> registry/team/app:1 (from mirror $MIRROR)" "$T/build.all" ||
  fail "the image collection did not read the mirror: $(cat "$T/build.all")"
grep -q "collect 1 container images" "$T/build.all" || fail "the build collected no image: $(cat "$T/build.all")"
cir "$R3" inspect built:1 >/dev/null || fail "the build did not tag built:1"

log "1d. a lazy mount of the upstream name, read through the mirror"
M=$T/mnt
mkdir -p "$M"
R4=$T/root4
ROOT=$R4 cfs_mount "docker://$UP/team/app:1" "$M"
grep -q "served by mirror $MIRROR" "$T/.cfs_mount.err" || fail "the lazy mount did not say the mirror served it: $(cat "$T/.cfs_mount.err")"
cmp -s "$M/etc/blob.bin" "$SRC/etc/blob.bin" || fail "lazy mount: etc/blob.bin differs from the source"
cfs_umount "$M"

# ------------------------------------------------------------ 2. refusals
log "2. a blocked registry and an ambiguous short name are refused by name"
expect_one_line_error "blocked.example/team/app:1: blocked by $T/registries.conf .*prefix \"blocked.example\"" \
  ci pull blocked.example/team/app:1
expect_one_line_error "short name \"other:1\" is ambiguous .*$UP/other:1, 127.0.0.1:1/other:1" ci pull other:1

# ------------------------------------------------------------ 3. a credential helper
log "3. a registry with htpasswd auth, its credentials from docker-credential-test"
reg_start_tls_basic auth alice 's3cret-pw'
AUTH=$REG_AUTH_ADDR
cat >"$T/bin/docker-credential-test" <<EOF
#!/bin/sh
[ "\$1" = get ] || exit 2
read -r server
echo "\$server" >>"$T/helper.calls"
printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-pw"}' "\$server"
EOF
chmod 0755 "$T/bin/docker-credential-test"
printf '{"credHelpers":{"%s":"test"}}\n' "$AUTH" >"$DOCKER_CONFIG/config.json"
PATH="$T/bin:$PATH" cir "$SROOT" push app:1 "$AUTH/team/app:1" --cert-dir "$REG_AUTH_CERTDIR" >/dev/null ||
  fail "push to the auth registry with the helper's credentials"
rm -f "$T/helper.calls"
R5=$T/root5
PATH="$T/bin:$PATH" cir "$R5" pull "$AUTH/team/app:1" --cert-dir "$REG_AUTH_CERTDIR" >/dev/null 2>"$T/auth.err" ||
  fail "pull with the helper's credentials: $(cat "$T/auth.err")"
grep -qx "$AUTH" "$T/helper.calls" || fail "docker-credential-test was not called for $AUTH: $(cat "$T/helper.calls" 2>/dev/null)"
! grep -q 's3cret-pw' "$T/auth.err" || fail "the secret appears in cimg's output"
# Without the helper entry the registry refuses: the helper's answer was used.
printf '{}\n' >"$DOCKER_CONFIG/config.json"
expect_one_line_error "authentication required" cir "$T/root6" pull "$AUTH/team/app:1" --cert-dir "$REG_AUTH_CERTDIR"

log "4. podman 4.3 pulls our zstd:chunked push by parts (partial pulls on, private storage)"
command -v podman >/dev/null || fail "podman is missing (apt-get install podman; scripts/setup.sh does)"
mkdir -p "$T/pp/usr/bin" "$T/pp/etc"
rand_file "$T/pp/usr/bin/big" $((4 * 1024 * 1024))
text_file "$T/pp/etc/conf" 5000
tar -C "$T/pp" -cf "$T/pp.tar" .
oci_build "$T/pp-oci" v1 "$T/pp.tar" >/dev/null
ci pull "oci:$T/pp-oci:v1" --as pp:1 >/dev/null
ci push pp:1 "$MIRROR/pp:1" --compression zstd:chunked --tls-verify=false >/dev/null
LAYER=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$MIRROR/v2/pp/manifests/1" |
  json_get 'j["layers"][0]["digest"]')
# A storage of its own (overlay, as partial pulls need), never the machine's.
cat >"$T/storage.conf" <<EOC
[storage]
driver = "overlay"
runroot = "$T/prun"
graphroot = "$T/pstore"
[storage.options]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
EOC
pod() { CONTAINERS_STORAGE_CONF=$T/storage.conf CONTAINERS_REGISTRIES_CONF=/dev/null podman "$@"; }
IT_CLEANUP_HOOKS+=("CONTAINERS_STORAGE_CONF=$T/storage.conf podman image unmount -a >/dev/null 2>&1; CONTAINERS_STORAGE_CONF=$T/storage.conf podman rmi -a -f >/dev/null 2>&1; umount $T/pstore/overlay 2>/dev/null || true")
pod --log-level debug pull --tls-verify=false "$MIRROR/pp:1" >/dev/null 2>"$T/podman.err" ||
  fail "podman pull: $(grep -v level=debug "$T/podman.err" | tail -n 5)"
grep -q "Retrieved partial blob $LAYER" "$T/podman.err" ||
  fail "podman did not pull $LAYER by parts: $(grep -i -e partial -e chunked -e 'blob type' "$T/podman.err" | head -n 5)"
MP=$(pod image mount "$MIRROR/pp:1")
# Everything but times: podman 4.3's partially pulled files carry the time of
# the pull, not the TOC's modtime (which we write; not yet traced further).
no_times() { tree_listing "$1" | awk -F'\t' 'BEGIN{OFS="\t"} NF >= 6 {$6 = "-"} {print}'; }
no_times "$T/pp" >"$T/pp.a"
no_times "$MP" >"$T/pp.b"
diff -u "$T/pp.a" "$T/pp.b" >"$T/pp.diff" || fail "podman's partially pulled image vs the source: $(head -n 30 "$T/pp.diff")"
pod image unmount "$MIRROR/pp:1" >/dev/null
log "   podman: $(grep -o "Retrieved partial blob sha256:[0-9a-f]\{12\}" "$T/podman.err")"
