#!/usr/bin/env bash
# cimg build (Kubefile -> image), checked through clusterfs mounts, inspect,
# push + umoci unpack and the store:
#  1. a sealer-style base (examples/rootfs, `FROM scratch` / `COPY . .`) mounts
#     as exactly the context tree (modes, symlinks, mtimes; owner root:root);
#  2. an app image FROM it: ARG/ENV/LABEL, RUN (writes with $Version, deletes
#     a base file, makes dirs), COPY file into an existing dir, COPY dir
#     contents into the top, wildcards, CMD/CMDS/LAUNCH with sealer's rules
#     (CMDs add up across images; one CMDS or LAUNCH, last in its Kubefile,
#     never inherited; both, or CMD with LAUNCH, in one Kubefile is an error);
#     --build-arg; stdout is only "NAME  sha256:ID" and the summary;
#  3. the build cache: unchanged rebuild all cached + same ID + fast; a
#     changed COPY source busts that step and the later ones only; --no-cache;
#  4. errors: one line "cimg: Kubefile:N: ...", non-zero exit, nothing tagged,
#     no mount or temp dir left, fsck clean;
#  5. COPY never writes outside the rootfs (symlinks planted by RUN, "..");
#     ADD unpacks a local archive, refusing a member that climbs out;
#  6. a RUN that changes nothing adds no layer;
#  7. whiteouts/opaque dirs and other RUN-made entries read the same through
#     clusterfs and through push (gzip) + umoci unpack.
# Independent checks run through check(): a failing one is reported and the
# test goes on, so one run lists every broken behaviour; the test fails at the
# end if any did. Setup steps outside check() fail at once.
source "$(dirname "$0")/lib.sh"
it_setup umoci setfattr mkfifo cmp
cfs_setup
REPO=$(cd "$(dirname "$0")/../.." && pwd)
[[ -d "$REPO/examples/rootfs" ]] || fail "no examples/rootfs under $REPO"

# The build collects the container images the rootfs names (manifests/
# imageList, ...) from their registries; this test has no network and is not
# about that: every image the contexts name is on an ignore list.
IGN=$T/ignored-images
{
  grep -v '^#' "$REPO/examples/rootfs/manifests/imageList"
  printf '%s\n' docker.io/library/nginx:1.25 docker.io/library/busybox:1.36
} >"$IGN"
cb() { ci build --ignored-image-list "$IGN" "$@"; }

source "$(dirname "$0")/build_lib.sh"
BUILD_FLAGS=(--ignored-image-list "$IGN")
layer_count() { ci inspect "$1" | json_get 'len(j[0]["Layers"])'; }
config_json() { ci inspect "$1" | json_get 'json.dumps(j[0].get("Config", {}), sort_keys=True)'; }

MNT=$T/mnt
mkdir -p "$MNT"

# ============================================================ 1. base image
log "1. sealer-style base: FROM scratch / COPY . ."
BASE=$T/ctx-base
cp -a "$REPO/examples/rootfs" "$BASE"
printf 'FROM scratch\nCOPY . .\n' >"$BASE/Kubefile"
# what examples/rootfs lacks: symlinks, odd modes, an old mtime, an empty dir, a non-root owner
ln -s ../scripts/init.sh "$BASE/bin/init-link"
ln -s /usr/share/zoneinfo/UTC "$BASE/etc/localtime"
ln -s ../manifests "$BASE/statics/manifests-link"
install -m 0600 /dev/null "$BASE/etc/secret.key"
echo key >"$BASE/etc/secret.key"
mkdir -m 0700 "$BASE/private"
echo p >"$BASE/private/data"
chmod 0700 "$BASE/private"
install -m 4755 /dev/null "$BASE/bin/suid-tool"
echo x >>"$BASE/bin/suid-tool"
chown 1234:5678 "$BASE/bin/suid-tool"
chmod 4755 "$BASE/bin/suid-tool"  # chown cleared the bit
chown -h 1234:5678 "$BASE/bin/init-link"
mkdir "$BASE/emptydir"
touch -d '2001-02-03 04:05:06' "$BASE/etc/kubeadm.yml" "$BASE/emptydir"
touch -h -d '2002-03-04 05:06:07' "$BASE/etc/localtime"
# the tree the image must show: the context with every owner root:root
EXP=$T/expected-base
cp -a "$BASE" "$EXP"
chown -hR 0:0 "$EXP"
chmod 4755 "$EXP/bin/suid-tool"
touch -d '2001-02-03 04:05:06' "$EXP/emptydir"  # chown does not touch mtimes, but be explicit

bld base:1 "$BASE"
BASE_ID=$BUILD_ID
check "base: one layer step, a new layer" eval '[[ "$(step_outcomes)" == "COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "base: inspect Id is the printed ID" eval '[[ "$(image_id base:1)" == "$BASE_ID" ]] || fail "inspect $(image_id base:1) vs printed $BASE_ID"'
check "base: one layer" eval '[[ "$(layer_count base:1)" == 1 ]] || fail "$(layer_count base:1) layers"'
cfs_mount base:1 "$MNT"
check "base: mount has the context's entries" eval 'diff -u <(paths "$EXP") <(paths "$MNT") >&2 || fail "entries differ"'
check "base: mount owners are root:root, symlinks kept" eval '
  [[ "$(stat -c %U:%G "$MNT/bin/suid-tool")" == root:root ]] || fail "suid-tool owner $(stat -c %U:%G "$MNT/bin/suid-tool")"
  [[ "$(stat -c %U:%G "$MNT/bin/init-link")" == root:root ]] || fail "init-link owner $(stat -c %U:%G "$MNT/bin/init-link")"
  [[ "$(readlink "$MNT/etc/localtime")" == /usr/share/zoneinfo/UTC ]] || fail "localtime -> $(readlink "$MNT/etc/localtime")"
  [[ "$(stat -c %a "$MNT/bin/suid-tool")" == 4755 ]] || fail "suid-tool mode $(stat -c %a "$MNT/bin/suid-tool")"'
# Everything but the mtimes of directories and symlinks (checked next, on
# their own): copy those from the mount onto a copy of the expected tree.
EXP2=$T/expected-base-times
cp -a "$EXP" "$EXP2"
(cd "$EXP2" && find . -mindepth 1 \( -type d -o -type l \) -print0 |
  while IFS= read -r -d '' d; do touch -h -r "$MNT/$d" "$d"; done)
check "base: mount == context (modes, owners, contents, symlink targets, file mtimes)" \
  compare_trees "$EXP2" "$MNT" "base mount vs context (dir and symlink mtimes aside)"
check "base: mount == context, mtimes of directories and symlinks included (COPY keeps mtimes)" \
  compare_trees "$EXP" "$MNT" "base mount vs context"
cfs_umount "$MNT"

# ============================================================= 2. app image
log "2. app image FROM base:1"
APP=$T/ctx-app
mkdir -p "$APP/etc/cni" "$APP/etc/statics" "$APP/yamls"
printf 'docker.io/library/nginx:1.25\ndocker.io/library/busybox:1.36\n' >"$APP/imageList"
echo "kubelet conf" >"$APP/etc/kubelet.conf"
touch -d '2003-04-05 06:07:08' "$APP/etc/kubelet.conf"
install -m 0600 /dev/null "$APP/etc/cni/net.conf"
echo '{"cni": 1}' >"$APP/etc/cni/net.conf"
echo "overridden policy" >"$APP/etc/statics/audit-policy.yml"
echo "a: 1" >"$APP/yamls/a.yaml"
echo "b: 2" >"$APP/yamls/b.yaml"
echo "not yaml" >"$APP/yamls/c.txt"
cat >"$APP/Kubefile" <<'EOF'
# an application image on the sealer-style base
FROM base:1
ARG Version=v1.2
ENV KUBE_VERSION=${Version} \
    CLUSTER_NAME="my cluster"
# a comment between instructions
env LEGACY legacy value
ENV LIT=\$HOME
LABEL io.example.version=$Version "io.example.name"="app image"
RUN echo "version=$Version kube=$KUBE_VERSION name=$CLUSTER_NAME" > version.txt && \
    rm images/README && \
    mkdir -p opt/app/empty
RUN echo "hello from RUN $Version"
COPY imageList manifests
COPY etc etc
COPY yamls/*.yaml charts
CMD kubectl apply -f manifests/
CMD kubectl get nodes
CMDS ["echo third", "echo fourth"]
EOF
bld app:1 "$APP"
APP_ID=$BUILD_ID
cp "$BUILD_OUT" "$T/app1.out"
cp "$BUILD_ERR" "$T/app1.err"
check "app: step outcomes" eval '[[ "$(step_outcomes "$T/app1.err")" == "RUN:layer RUN:none COPY:layer COPY:layer COPY:layer" ]] ||
  fail "outcomes: $(step_outcomes "$T/app1.err")"'
check "app: RUN output is shown (on stderr)" eval 'grep -qx "hello from RUN v1.2" "$T/app1.err" || fail "no RUN output on stderr:
$(cat "$T/app1.err")"'
check "app: stdout is only \"NAME  sha256:ID\" and the summary" eval '
  [[ $(wc -l <"$T/app1.out") -eq 2 ]] || fail "stdout has $(wc -l <"$T/app1.out") lines:
$(cat "$T/app1.out")"
  grep -Eqx "app:1  sha256:[0-9a-f]{64}" <(head -n1 "$T/app1.out") || fail "line 1: $(head -n1 "$T/app1.out")"
  grep -Eq "^  [0-9]+ steps \(0 layer steps cached\), 5 layers" <(sed -n 2p "$T/app1.out") || fail "line 2: $(sed -n 2p "$T/app1.out")"'
check "app: inspect Id is the printed ID" eval '[[ "$(image_id app:1)" == "$APP_ID" ]] || fail "inspect $(image_id app:1) vs printed $APP_ID"'
check "app: 1 base + 4 new layers" eval '[[ "$(layer_count app:1)" == 5 ]] || fail "$(layer_count app:1) layers"'

cfs_mount app:1 "$MNT"
check "app: the tree has exactly the expected entries" eval '
  { paths "$EXP" | grep -vx "images/README f"
    printf "%s\n" "version.txt f" "opt d" "opt/app d" "opt/app/empty d" "etc/kubelet.conf f" "etc/cni d" \
      "etc/cni/net.conf f" "etc/statics d" "etc/statics/audit-policy.yml f" \
      "charts d" "charts/a.yaml f" "charts/b.yaml f"; } | LC_ALL=C sort >"$T/app.paths"
  diff -u "$T/app.paths" <(paths "$MNT") >&2 || fail "entries differ"'
check "app: RUN deleted images/README (dir kept)" eval '[[ ! -e "$MNT/images/README" && -d "$MNT/images" ]] || fail "images/README still there"'
check "app: RUN output file uses ARG and ENV" eval '
  [[ "$(cat "$MNT/version.txt")" == "version=v1.2 kube=v1.2 name=my cluster" ]] || fail "version.txt: $(cat "$MNT/version.txt")"'
check "app: RUN made the dirs" eval '[[ -d "$MNT/opt/app/empty" ]] || fail "opt/app/empty missing"'
check "app: COPY file into an existing dir (replacing the base file)" eval '
  cmp "$APP/imageList" "$MNT/manifests/imageList" || fail "manifests/imageList differs"
  [[ ! -e "$MNT/manifests/manifests" ]] || fail "made manifests/manifests"'
check "app: COPY etc etc merges the directory's contents into etc/ (buildah)" eval '
  cmp "$APP/etc/kubelet.conf" "$MNT/etc/kubelet.conf" || fail "etc/kubelet.conf"
  cmp "$APP/etc/cni/net.conf" "$MNT/etc/cni/net.conf" || fail "etc/cni/net.conf"
  cmp "$APP/etc/statics/audit-policy.yml" "$MNT/etc/statics/audit-policy.yml" || fail "etc/statics/audit-policy.yml"
  cmp "$EXP/statics/audit-policy.yml" "$MNT/statics/audit-policy.yml" || fail "the base statics/ changed"
  cmp "$EXP/etc/daemon.json" "$MNT/etc/daemon.json" || fail "the base etc/daemon.json changed"
  [[ ! -e "$MNT/kubelet.conf" ]] || fail "kubelet.conf landed at the top"
  [[ "$(stat -c %a:%u:%g "$MNT/etc/cni/net.conf")" == 600:0:0 ]] || fail "etc/cni/net.conf: $(stat -c %a:%u:%g "$MNT/etc/cni/net.conf")"
  [[ "$(stat -c %Y "$MNT/etc/kubelet.conf")" == "$(stat -c %Y "$APP/etc/kubelet.conf")" ]] || fail "kubelet.conf mtime not kept"'
check "app: COPY wildcard into a new dir" eval '
  cmp "$APP/yamls/a.yaml" "$MNT/charts/a.yaml" && cmp "$APP/yamls/b.yaml" "$MNT/charts/b.yaml" || fail "charts/*.yaml"
  [[ ! -e "$MNT/charts/c.txt" ]] || fail "c.txt matched *.yaml"'
check "app: untouched base files unchanged" eval '
  for f in Kubefile bin/README etc/kubeadm.yml scripts/init.sh private/data; do
    cmp "$EXP/$f" "$MNT/$f" || fail "$f changed"
  done'
cfs_umount "$MNT"

Q="'"
check "app: inspect Env in order" eval '
  got=$(ci inspect app:1 | json_get "[e for e in j[0][\"Config\"][\"Env\"] if not e.startswith(\"LIT=\")]")
  [[ "$got" == "[${Q}KUBE_VERSION=v1.2${Q}, ${Q}CLUSTER_NAME=my cluster${Q}, ${Q}LEGACY=legacy value${Q}]" ]] || fail "Env: $got"'
check "app: ENV LIT=\\\$HOME keeps a literal \$HOME" eval '
  got=$(ci inspect app:1 | json_get "[e for e in j[0][\"Config\"][\"Env\"] if e.startswith(\"LIT=\")]")
  [[ "$got" == "[${Q}LIT=\$HOME${Q}]" ]] || fail "Env LIT: $got (want LIT=\$HOME)"'
check "app: inspect Labels (io.cimg.cmds in order, io.cimg.cmds-launch: the CMDS, no io.cimg.launch)" eval '
  ci inspect app:1 | python3 -c "
import json, sys
l = json.load(sys.stdin)[0][\"Config\"][\"Labels\"]
want = {\"io.example.version\": \"v1.2\", \"io.example.name\": \"app image\"}
for k, v in want.items():
    assert l.get(k) == v, (k, l.get(k))
assert json.loads(l[\"io.cimg.cmds\"]) == [\"kubectl apply -f manifests/\", \"kubectl get nodes\"], l[\"io.cimg.cmds\"]
assert json.loads(l[\"io.cimg.cmds-launch\"]) == [\"echo third\", \"echo fourth\"], l[\"io.cimg.cmds-launch\"]
assert set(l) == set(want) | {\"io.cimg.cmds\", \"io.cimg.cmds-launch\"}, sorted(l)
" || fail "labels: $(config_json app:1)"'

log "2b. --build-arg Version=v9"
bld app:v9 "$APP" --build-arg Version=v9
V9_ID=$BUILD_ID
check "v9: RUN steps rerun (the ARG changed)" eval '[[ "$(step_outcomes)" == "RUN:layer RUN:none COPY:layer COPY:layer COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "v9: another image" eval '[[ "$V9_ID" != "$APP_ID" ]] || fail "same ID as app:1"'
check "v9: Env and label follow the build arg" eval '
  ci inspect app:v9 | python3 -c "
import json, sys
c = json.load(sys.stdin)[0][\"Config\"]
assert \"KUBE_VERSION=v9\" in c[\"Env\"], c[\"Env\"]
assert c[\"Labels\"][\"io.example.version\"] == \"v9\", c[\"Labels\"]
" || fail "config: $(config_json app:v9)"'
cfs_mount app:v9 "$MNT"
check "v9: RUN output changed" eval '[[ "$(cat "$MNT/version.txt")" == "version=v9 kube=v9 name=my cluster" ]] || fail "version.txt: $(cat "$MNT/version.txt")"'
cfs_umount "$MNT"

log "2c. a child image inherits config; CMDs add up; CMDS and LAUNCH are not inherited"
# labels_of NAME: the image's config labels as JSON (for python checks)
labels_of() { ci inspect "$1" | json_get 'json.dumps(j[0]["Config"].get("Labels") or {})'; }
CHILD=$T/ctx-child
mkdir -p "$CHILD"
echo 'echo other2' >"$CHILD/other2.sh"
echo 'kind: ConfigMap' >"$CHILD/x.yaml"
printf 'FROM app:1\nLABEL io.example.name=child\nAPP other2 local://other2.sh\nAPP x local://x.yaml\nLAUNCH ["other2", "x"]\n' >"$CHILD/Kubefile"
bld child:1 "$CHILD"
check "child: config inherited, CMDs inherited, its LAUNCH, no CMDS of the parent" eval '
  ci inspect child:1 | python3 -c "
import json, sys
j = json.load(sys.stdin)[0]; c = j[\"Config\"]
assert \"KUBE_VERSION=v1.2\" in c[\"Env\"], c[\"Env\"]
l = c[\"Labels\"]
assert json.loads(l[\"io.cimg.cmds\"]) == [\"kubectl apply -f manifests/\", \"kubectl get nodes\"], l[\"io.cimg.cmds\"]
assert json.loads(l[\"io.cimg.launch\"]) == [\"other2\", \"x\"], l[\"io.cimg.launch\"]
assert \"io.cimg.cmds-launch\" not in l, (\"inherited CMDS\", l[\"io.cimg.cmds-launch\"])
assert l[\"io.example.name\"] == \"child\" and l[\"io.example.version\"] == \"v1.2\", l
assert len(j[\"Layers\"]) == 7, len(j[\"Layers\"])
" || fail "config: $(config_json child:1)"'

# a CMDS of its own on a parent that has LAUNCH: allowed (the rule is per
# Kubefile); the parent's LAUNCH is not inherited
GRAND=$T/ctx-grand
mkdir -p "$GRAND"
printf 'FROM child:1\nCMDS ["echo own"]\n' >"$GRAND/Kubefile"
bld grand:1 "$GRAND"
check "grandchild: its own CMDS, the parent's LAUNCH not inherited, CMDs still add up" eval '
  labels_of grand:1 | python3 -c "
import json, sys
l = json.load(sys.stdin)
assert json.loads(l[\"io.cimg.cmds\"]) == [\"kubectl apply -f manifests/\", \"kubectl get nodes\"], l[\"io.cimg.cmds\"]
assert json.loads(l[\"io.cimg.cmds-launch\"]) == [\"echo own\"], l[\"io.cimg.cmds-launch\"]
assert \"io.cimg.launch\" not in l, (\"inherited LAUNCH\", l[\"io.cimg.launch\"])
" || fail "labels: $(labels_of grand:1)"'

# neither CMDS nor LAUNCH: the image has neither label, whatever its parent had
PLAIN=$T/ctx-plain
mkdir -p "$PLAIN"
printf 'FROM app:1\nLABEL io.example.name=plain\n' >"$PLAIN/Kubefile"
bld plain:1 "$PLAIN"
check "plain child of app:1 (which has CMDS): no io.cimg.cmds-launch, CMDs inherited" eval '
  labels_of plain:1 | python3 -c "
import json, sys
l = json.load(sys.stdin)
assert json.loads(l[\"io.cimg.cmds\"]) == [\"kubectl apply -f manifests/\", \"kubectl get nodes\"], l[\"io.cimg.cmds\"]
assert \"io.cimg.cmds-launch\" not in l and \"io.cimg.launch\" not in l, sorted(l)
" || fail "labels: $(labels_of plain:1)"'
printf 'FROM grand:1\nLABEL io.example.name=plain2\n' >"$PLAIN/Kubefile"
bld plain:2 "$PLAIN"
check "plain child of grand:1 (which has CMDS): no io.cimg.cmds-launch" eval '
  labels_of plain:2 | python3 -c "
import json, sys
l = json.load(sys.stdin)
assert \"io.cimg.cmds-launch\" not in l and \"io.cimg.launch\" not in l, sorted(l)
" || fail "labels: $(labels_of plain:2)"'

log "2d. --platform"
bld base-arm:1 "$BASE" --platform linux/arm64
check "--platform linux/arm64 sets the architecture" eval '
  [[ "$(ci inspect base-arm:1 | json_get "j[0][\"Architecture\"]")" == arm64 ]] || fail "$(ci inspect base-arm:1 | json_get "j[0][\"Architecture\"]")"'

ARCHC=$T/ctx-arch
mkdir -p "$ARCHC"
echo amd64-binary >"$ARCHC/tool-amd64"
echo arm64-binary >"$ARCHC/tool-arm64"
printf 'FROM scratch\nCOPY tool-${ARCH} bin/tool\n' >"$ARCHC/Kubefile"
arch_copy() {
  local a
  for a in arm64 amd64; do
    bld "tool:$a" "$ARCHC" --platform "linux/$a"
    cfs_mount "tool:$a" "$MNT"
    local got
    got=$(cat "$MNT/bin/tool" 2>/dev/null || true)
    cfs_umount "$MNT"
    [[ "$got" == "$a-binary" ]] || fail "--platform linux/$a: bin/tool is '$got'"
  done
}
check 'COPY ${ARCH} follows --platform' arch_copy
it_force_umount "$MNT"

# ================================================================= 3. cache
log "3. build cache"
bld app:1 "$APP"
log "unchanged rebuild of app:1 took ${BUILD_SECS}s (the cimg summary: $(sed -n 2p "$BUILD_OUT"))"
check "cache: unchanged rebuild is all cached" eval '[[ "$(step_outcomes)" == "RUN:cached RUN:cached COPY:cached COPY:cached COPY:cached" ]] || fail "outcomes: $(step_outcomes)"'
check "cache: unchanged rebuild prints the same ID" eval '[[ "$BUILD_ID" == "$APP_ID" ]] || fail "$BUILD_ID vs $APP_ID"'
check "cache: the cached RUN did not run" eval '! grep -qx "hello from RUN v1.2" "$BUILD_ERR" "$BUILD_OUT" || fail "RUN ran again"'
check "cache: the summary counts the cached layer steps" eval 'grep -q "(5 layer steps cached)" "$BUILD_OUT" || fail "summary: $(cat "$BUILD_OUT")"'

echo "kubelet conf, changed" >"$APP/etc/kubelet.conf"
bld app:1 "$APP"
CHANGED_ID=$BUILD_ID
check "cache: a changed COPY source busts that step and the later ones only" eval '
  [[ "$(step_outcomes)" == "RUN:cached RUN:cached COPY:cached COPY:layer COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "cache: ... and gives another image" eval '[[ "$CHANGED_ID" != "$APP_ID" ]] || fail "same ID"'
cfs_mount app:1 "$MNT"
check "cache: the new content is in the image" eval 'cmp "$APP/etc/kubelet.conf" "$MNT/etc/kubelet.conf" || fail "kubelet.conf is stale"'
cfs_umount "$MNT"

chmod 0755 "$APP/yamls/a.yaml"
bld app:1 "$APP"
check "cache: a mode change of a COPY source busts that step" eval '
  [[ "$(step_outcomes)" == "RUN:cached RUN:cached COPY:cached COPY:cached COPY:layer" ]] || fail "outcomes: $(step_outcomes)"'
check "cache: the mode change gives another image" eval '[[ "$BUILD_ID" != "$CHANGED_ID" ]] || fail "same ID"'

bld app:1 "$APP" --no-cache
NOCACHE_ID=$BUILD_ID
check "cache: --no-cache reruns every step" eval '
  [[ "$(step_outcomes)" == "RUN:layer RUN:none COPY:layer COPY:layer COPY:layer" ]] || fail "outcomes: $(step_outcomes)"
  grep -q "(0 layer steps cached)" "$BUILD_OUT" || fail "summary: $(cat "$BUILD_OUT")"
  grep -qx "hello from RUN v1.2" "$BUILD_ERR" "$BUILD_OUT" >/dev/null || fail "the RUN did not run"'
bld app:1 "$APP"
check "cache: after --no-cache, a rebuild reuses its fresh layers" eval '
  [[ "$(step_outcomes)" == "RUN:cached RUN:cached COPY:cached COPY:cached COPY:cached" ]] || fail "outcomes: $(step_outcomes)"
  [[ "$BUILD_ID" == "$NOCACHE_ID" ]] || fail "$BUILD_ID vs the --no-cache build $NOCACHE_ID"'

# ================================================================ 4. errors
log "4. errors"
ERRC=$T/ctx-err
mkdir -p "$ERRC" "$T/outside"
SECRET="host-secret-$$-$RANDOM$RANDOM"
echo "$SECRET" >"$T/outside/secret.txt"
echo "$SECRET" >"$T/outside.txt"
echo file >"$ERRC/file"
ln -s "$T/outside" "$ERRC/outdir"            # a directory symlink leading out
ln -s "$T/outside/secret.txt" "$ERRC/outlink" # a file symlink leading out
NAMES_BEFORE=$(names)

# build_error N REGEX KUBEFILE-TEXT: the build fails with one stderr line
# "cimg: Kubefile:N: ..." matching REGEX; nothing is tagged or left behind.
build_error() {
  local line=$1 re=$2
  ci rmi bad:1 >/dev/null 2>&1 || true # one wrongly accepted case must not fail the next
  printf '%s' "$3" >"$ERRC/Kubefile"
  expect_one_line_error "^cimg: Kubefile:$line: .*$re" cb -t bad:1 "$ERRC"
  [[ "$(names)" == "$NAMES_BEFORE" ]] || fail "a failed build changed the image names: $(names)"
  no_build_leftovers
  assert_fsck_clean
}
check "error: unknown instruction" build_error 3 'unknown instruction "WORKDIR"' $'FROM base:1\nRUN true\nWORKDIR /x\n'
check "error: FROM not first" build_error 3 'FROM must be the first' $'# comment\n\nENV A=1\nFROM base:1\n'
check "error: FROM twice" build_error 3 'FROM may appear only once' $'FROM base:1\nENV A=1\nFROM base:1\n'
check "error: bad ARG" build_error 2 'ARG: bad name "1x"' $'FROM base:1\nARG 1x=2\n'
check "error: missing COPY source" build_error 4 '"nothere" not found' $'FROM base:1\nRUN true\n# x\nCOPY nothere .\n'
check "error: COPY ../x" build_error 2 'outside the build context' $'FROM base:1\nCOPY ../outside.txt .\n'
check "error: COPY through a context symlink leading out" build_error 3 'outside the build context' $'FROM base:1\nCOPY file /\nCOPY outdir/secret.txt .\n'
check "error: COPY glob through a context symlink leading out" build_error 2 'outside the build context' $'FROM base:1\nCOPY outdir/* .\n'
check "error: COPY absolute source" build_error 2 'absolute' $'FROM base:1\nCOPY /etc/passwd .\n'
check "error: COPY --chown" build_error 2 '--chown' $'FROM base:1\nCOPY --chown=1:1 file .\n'
check "error: CMDS not a JSON list of strings" build_error 2 'JSON' $'FROM base:1\nCMDS ["a", 1]\n'
check "error: CMDS not last" build_error 3 'CMDS must be the last instruction' \
  $'FROM base:1\nCMDS ["a"]\nCOPY file /\n# x\nLAUNCH ["app"]\n'
check "error: LAUNCH then CMDS" build_error 3 'CMDS and LAUNCH cannot be used together' \
  $'FROM base:1\nlaunch ["app"]\nCMDS ["a", \\\n  "b"]\n'
check "error: CMD with LAUNCH" build_error 4 'CMD and LAUNCH cannot be used together' \
  $'FROM base:1\nCMD c\nAPP app local://file\nLAUNCH app\n'
check "error: LAUNCH of an unknown app" build_error 2 'application "app" does not exist in the image' \
  $'FROM base:1\nLAUNCH ["app"]\n'
check "error: APP without a type or APPCMDS" build_error 2 'its type is not detected' \
  $'FROM base:1\nAPP app local://file\nLAUNCH app\n'
check "error: APP source not local://" build_error 2 'must start with local://' $'FROM base:1\nAPP app file\n'

# -f: another Kubefile; its errors name it the same way at parse and at run time
alt_kubefile() {
  ci rmi bad:1 >/dev/null 2>&1 || true
  printf 'FROM base:1\nCOPY file /from-alt\n' >"$ERRC/alt.kf"
  cb -f "$ERRC/alt.kf" -t alt:1 "$ERRC" >/dev/null 2>"$T/alt.err" || fail "-f alt.kf: $(cat "$T/alt.err")"
  ci rmi alt:1 >/dev/null
  local parse run
  printf 'FROM base:1\nBOGUS x\n' >"$ERRC/alt.kf"
  expect_one_line_error 'BOGUS' cb -f "$ERRC/alt.kf" -t bad:1 "$ERRC"
  parse=$(sed -E "s/^cimg: (.*):2: unknown instruction.*/\1/" <<<"$ERR_LINE")
  printf 'FROM base:1\nCOPY nothere .\n' >"$ERRC/alt.kf"
  expect_one_line_error 'nothere' cb -f "$ERRC/alt.kf" -t bad:1 "$ERRC"
  run=$(sed -E "s/^cimg: (.*):2: COPY: .*/\1/" <<<"$ERR_LINE")
  [[ "$parse" == "$run" ]] || fail "a parse error names the file '$parse', a step error '$run' (both -f $ERRC/alt.kf, line 2)"
}
check "-f FILE: builds, and names FILE the same way in every error" alt_kubefile

# a failing RUN: its output is shown, the error names the exit code and the line
failing_run() {
  ci rmi bad:1 >/dev/null 2>&1 || true
  printf 'FROM base:1\nCOPY file /\n\nRUN echo boom; exit 3\nCMD never\n' >"$ERRC/Kubefile"
  local rc=0
  cb -t bad:1 "$ERRC" >"$T/run.out" 2>"$T/run.err" || rc=$?
  [[ $rc -ne 0 && $rc -lt 128 ]] || fail "exit $rc"
  grep -qx boom "$T/run.out" "$T/run.err" >/dev/null || fail "the RUN output 'boom' is not shown"
  local last
  last=$(tail -n1 "$T/run.err")
  grep -Eq '^cimg: Kubefile:4: .*exit code 3' <<<"$last" || fail "last stderr line: $last"
  [[ $(grep -c '^cimg: ' "$T/run.err") -eq 1 ]] || fail "more than one cimg: line: $(cat "$T/run.err")"
  [[ "$(names)" == "$NAMES_BEFORE" ]] || fail "a failed build changed the image names: $(names)"
  no_build_leftovers
  assert_fsck_clean
}
check "error: failing RUN" failing_run
check "error: failing RUN output goes to stderr, not stdout" eval '
  grep -qx boom "$T/run.err" || fail "boom not on stderr"
  ! grep -q boom "$T/run.out" || fail "boom on stdout (stdout is for NAME  sha256:ID): $(cat "$T/run.out")"'

check "after the errors: names unchanged, fsck clean" eval '
  [[ "$(names)" == "$NAMES_BEFORE" ]] || fail "names: $(names)"; assert_fsck_clean'

# a file symlink leading out of the context: refused, or copied as a symlink;
# never the host file's content
symlink_leaf() {
  printf 'FROM base:1\nCOPY outlink /\n' >"$ERRC/Kubefile"
  local rc=0
  cb -t leaf:1 "$ERRC" >"$T/leaf.out" 2>"$T/leaf.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    [[ $(wc -l <"$T/leaf.err") -eq 1 ]] && grep -Eq '^cimg: Kubefile:2: ' "$T/leaf.err" || fail "error: $(cat "$T/leaf.err")"
    log "COPY of a symlink leading out: refused ($(cat "$T/leaf.err"))"
    return 0
  fi
  log "COPY of a symlink leading out: copied as a symlink"
  cfs_mount leaf:1 "$MNT"
  local ok=1
  [[ -L "$MNT/outlink" && "$(readlink "$MNT/outlink")" == "$T/outside/secret.txt" ]] || ok=0
  ! grep -rqF "$SECRET" "$MNT" || ok=2
  cfs_umount "$MNT"
  [[ $ok -eq 1 ]] || fail "$([[ $ok -eq 0 ]] && echo "outlink is not the same symlink" || echo "the host file's content is in the image")"
}
check "COPY of a context symlink leading out never copies the host file" symlink_leaf
# (symlink_leaf may have mounted in its subshell; make sure nothing is left)
it_force_umount "$MNT"

check "error: no Kubefile" eval 'rm -f "$ERRC/Kubefile"; expect_one_line_error "no such Kubefile" cb -t bad:1 "$ERRC"'
check "error: -t missing is a usage error (exit 2)" eval '
  rc=0; cb "$BASE" >/dev/null 2>&1 || rc=$?; [[ $rc -eq 2 ]] || fail "exit $rc"'

# ============================================================== 5. security
log "5. COPY never writes outside the rootfs"
U=/tmp/cimg-it-build-evil.$$.$RANDOM
mkdir "$U"
IT_CLEANUP_HOOKS+=("rm -rf '$U'")
EVC=$T/ctx-evil
mkdir -p "$EVC/dir"
echo payload >"$EVC/file"
echo payload2 >"$EVC/dir/inner"
rel=$(python3 -c 'import sys; print("../" * 12 + sys.argv[1].lstrip("/"))' "$U")
printf 'FROM base:1\nRUN ln -s %s evil && ln -s %s evil-rel\n' "$U" "$rel" >"$EVC/Kubefile"
bld evil:1 "$EVC"
cfs_mount evil:1 "$MNT"
check "security: the base has the planted symlinks" eval '[[ "$(readlink "$MNT/evil")" == "$U" && "$(readlink "$MNT/evil-rel")" == "$rel" ]] || fail "evil -> $(readlink "$MNT/evil")"'
cfs_umount "$MNT"

# evil_copy DEST [SRC [CONTENT]]: COPY SRC DEST on evil:1 fails with one
# "cimg: Kubefile:2:" line or puts the file inside the image; the host dir $U
# stays empty either way.
evil_copy() {
  local dest=$1 src=${2:-file} content=${3:-payload} rc=0
  printf 'FROM evil:1\nCOPY %s %s\n' "$src" "$dest" >"$EVC/Kubefile"
  cb -t evil:2 "$EVC" >"$T/evil.out" 2>"$T/evil.err" || rc=$?
  [[ -z "$(ls -A "$U")" ]] || fail "COPY $src $dest wrote to the host: $(ls -lA "$U")"
  if [[ $rc -ne 0 ]]; then
    [[ $rc -lt 128 ]] || fail "COPY $src $dest: exit $rc"
    grep -Eq '^cimg: Kubefile:2: ' "$T/evil.err" && [[ $(wc -l <"$T/evil.err") -eq 1 ]] ||
      fail "COPY $src $dest: $(cat "$T/evil.err")"
    log "COPY $src $dest: refused: $(cat "$T/evil.err")"
  else
    local found
    cfs_mount evil:2 "$MNT"
    found=$(grep -rlx -- "$content" "$MNT" | head -n1 || true) # -r does not follow symlinks
    cfs_umount "$MNT"
    [[ -n "$found" ]] || fail "COPY $src $dest: succeeded, but the file is not in the image"
    log "COPY $src $dest: in the image at ${found#"$MNT"}"
  fi
  assert_fsck_clean
}
check "security: COPY file evil/" evil_copy evil/
check "security: COPY file evil-rel/" evil_copy evil-rel/
check "security: COPY file evil/sub/x" evil_copy evil/sub/x
check "security: COPY dir evil" evil_copy evil dir payload2
check "security: COPY dir evil-rel/deeper/" evil_copy evil-rel/deeper/ dir payload2
it_force_umount "$MNT"
check "security: a symlink to a directory inside the image is followed, inside" eval '
  printf "FROM evil:1\nCOPY file statics/manifests-link/\n" >"$EVC/Kubefile"
  cb -t evil:4 "$EVC" >/dev/null
  cfs_mount evil:4 "$MNT"
  ok=1; [[ "$(cat "$MNT/manifests/file" 2>/dev/null)" == payload && -L "$MNT/statics/manifests-link" ]] || ok=0
  cfs_umount "$MNT"
  [[ $ok -eq 1 ]] || fail "manifests/file missing (or the link was replaced)"'
it_force_umount "$MNT"
check "security: COPY file ../../x refused" eval '
  printf "FROM evil:1\nCOPY file ../../x\n" >"$EVC/Kubefile"
  expect_one_line_error "^cimg: Kubefile:2: .*leaves the rootfs" cb -t evil:3 "$EVC"
  [[ ! -e "$T/x" && ! -e "$ROOT/x" && ! -e /x ]] || fail "an x appeared"'
# ADD (builder/archive.h; every case in builder/copy_test.cc): a local
# archive unpacked, COPY keeping it whole, a member climbing out refused.
ADDC=$T/ctx-add
mkdir -p "$ADDC/src/app"
echo hi >"$ADDC/src/app/run.sh"
tar -C "$ADDC/src" -czf "$ADDC/pkg.tgz" app
python3 -c 'import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w"); i = tarfile.TarInfo("../../x"); i.size = 1
t.addfile(i, io.BytesIO(b"x")); t.close()' "$ADDC/evil.tar"
check "ADD unpacks a local archive; COPY keeps it" eval '
  printf "FROM base:1\nADD pkg.tgz opt/pkg\nCOPY pkg.tgz keep/\n" >"$ADDC/Kubefile"
  cb -t add:1 "$ADDC" >/dev/null
  cfs_mount add:1 "$MNT"
  ok=1; [[ "$(cat "$MNT/opt/pkg/app/run.sh" 2>/dev/null)" == hi ]] && cmp -s "$ADDC/pkg.tgz" "$MNT/keep/pkg.tgz" || ok=0
  cfs_umount "$MNT"
  [[ $ok -eq 1 ]] || fail "opt/pkg/app/run.sh or keep/pkg.tgz missing"'
it_force_umount "$MNT"
check "ADD: a member climbing out is refused with its line" eval '
  printf "FROM base:1\n# x\nADD evil.tar opt/\n" >"$ADDC/Kubefile"
  expect_one_line_error "^cimg: Kubefile:3: ADD evil.tar: member \"../../x\": a \"..\" component" cb -t add:2 "$ADDC"
  [[ ! -e "$T/x" && ! -e "$ROOT/x" ]] || fail "an x appeared"'
check "security: host dir untouched" eval '[[ -z "$(ls -A "$U")" ]] || fail "$(ls -lA "$U")"'

# ====================================================== 6. no-op RUN, no layer
log "6. a RUN that changes nothing adds no layer"
NOOP=$T/ctx-noop
mkdir -p "$NOOP"
cat >"$NOOP/Kubefile" <<'EOF'
FROM base:1
RUN : no-op test
RUN cat Kubefile etc/daemon.json >/dev/null && ls -laR . >/dev/null
RUN touch scratch.tmp && mkdir scratch.d && rm -rf scratch.tmp scratch.d
RUN ["sh", "-c", "test -f Kubefile"]
EOF
bld noop:1 "$NOOP"
check "no-op RUNs: no layers" eval '
  [[ "$(step_outcomes)" == "RUN:none RUN:none RUN:none RUN:none" ]] || fail "outcomes: $(step_outcomes)"
  [[ "$(layer_count noop:1)" == "$(layer_count base:1)" ]] || fail "$(layer_count noop:1) layers, base has $(layer_count base:1)"'

# ======================================================= 7. whiteouts, push
log "7. whiteouts and opaque dirs: clusterfs vs push + umoci unpack"
WO=$T/ctx-wo
mkdir -p "$WO"
cat >"$WO/Kubefile" <<'EOF'
FROM base:1
RUN rm -rf etc && mkdir etc && echo new > etc/new.conf && \
    rm -rf statics scripts/init.sh && \
    mkdir -p data && echo a > data/a && ln data/a data/hl && ln -s a data/sym && mkfifo data/fifo && \
    chown 1234:5678 data/a && chmod 4750 data/a && setfattr -n user.k -v v data/a && \
    touch -d '2004-05-06 07:08:09' data/a
EOF
bld wo:1 "$WO"
cfs_mount wo:1 "$MNT"
check "whiteouts: the recreated dir has only the new content" eval '
  [[ "$(ls -A "$MNT/etc")" == new.conf ]] || fail "etc: $(ls -A "$MNT/etc" | tr "\n" " ")"
  [[ "$(cat "$MNT/etc/new.conf")" == new ]] || fail "etc/new.conf"'
check "whiteouts: deleted dir and file are gone, siblings stay" eval '
  [[ ! -e "$MNT/statics" ]] || fail "statics still there"
  [[ "$(ls -A "$MNT/scripts" | tr "\n" " ")" == "$(ls -A "$BASE/scripts" | grep -vx init.sh | tr "\n" " ")" ]] ||
    fail "scripts: $(ls -A "$MNT/scripts" | tr "\n" " ")"
  cmp "$EXP/scripts/clean.sh" "$MNT/scripts/clean.sh" || fail "clean.sh changed"'
check "whiteouts: nothing overlay-internal shows" eval '
  ! find "$MNT" -name ".wh.*" | grep . >/dev/null || fail "whiteout files: $(find "$MNT" -name ".wh.*")"
  ! find "$MNT" -type c | grep . >/dev/null || fail "char devices: $(find "$MNT" -type c)"
  ! getfattr -R -h -d -m "overlay|opaque" "$MNT" 2>/dev/null | grep . >/dev/null || fail "overlay xattrs: $(getfattr -R -h -d -m "overlay|opaque" "$MNT")"'
check "RUN-made entries keep their metadata" eval '
  [[ "$(stat -c %a:%u:%g:%h "$MNT/data/a")" == 4750:1234:5678:2 ]] || fail "data/a: $(stat -c %a:%u:%g:%h "$MNT/data/a")"
  [[ "$(stat -c %i "$MNT/data/a")" == "$(stat -c %i "$MNT/data/hl")" ]] || fail "data/hl is not a hard link"
  [[ -p "$MNT/data/fifo" && "$(readlink "$MNT/data/sym")" == a ]] || fail "fifo/symlink"
  [[ "$(getfattr --only-values -n user.k "$MNT/data/a" 2>/dev/null)" == v ]] || fail "xattr user.k"
  [[ "$(date -d @"$(stat -c %Y "$MNT/data/a")" +%Y)" == 2004 ]] || fail "mtime"'
check "whiteouts: push --compression gzip + umoci unpack == the mount" eval '
  ci push wo:1 "oci:$T/oci-wo:t" --compression gzip >/dev/null
  umoci unpack --image "$T/oci-wo:t" "$T/bundle-wo" >/dev/null
  compare_trees "$T/bundle-wo/rootfs" "$MNT" "umoci unpack of pushed wo:1 vs its mount"'
cfs_umount "$MNT"
cfs_mount app:1 "$MNT"
check "app: push --compression gzip + umoci unpack == the mount" eval '
  ci push app:1 "oci:$T/oci-app:t" --compression gzip >/dev/null
  umoci unpack --image "$T/oci-app:t" "$T/bundle-app" >/dev/null
  compare_trees "$T/bundle-app/rootfs" "$MNT" "umoci unpack of pushed app:1 vs its mount"'
cfs_umount "$MNT"

assert_fsck_clean
log "fsck: $FSCK_OUT"
if [[ ${#FAILED_CHECKS[@]} -ne 0 ]]; then
  printf '[%s] failed checks:\n' "$IT_NAME" >&2
  printf '    %s\n' "${FAILED_CHECKS[@]}" >&2
  fail "${#FAILED_CHECKS[@]} checks failed"
fi
log "all checks passed"
