#!/usr/bin/env bash
# sealer v0.11 compatibility of Kubefiles and image metadata:
#  1. cimg build of a Kubefile in the shape of sealer's own fixtures
#     (test/suites/build/fixtures/build_with_appcmds, build_with_launch):
#     APP (kube, shell, helm via CNI, a mixed app with APPCMDS), APPENV, ENV,
#     KUBEVERSION, CNI, LAUNCH; the files land in application/apps/NAME/;
#     FROM --platform builds for that platform (another --platform: refused);
#  2. the image carries sealer's manifest annotation sealer.image.extension
#     (types, files, cmds, env, launch.app_names as sealer writes them) and
#     sealer's labels, also after cimg push to an OCI layout (read by skopeo);
#  3. an image built by buildah as sealer drives it -- plain layers plus the
#     manifest annotation, no io.cimg.* labels -- is pulled;
#  4. both are deployed to an sshd node (tests/integration/nodes_lib.sh):
#     the LAUNCH apps run on master0 in order, each with sealer's command
#     (APPCMDS in the app's dir; kubectl apply -f / bash / helm install per
#     type) and its APPENV exported, its *.tmpl files rendered with it; the
#     sealer-built one from a Clusterfile whose kind: Application reorders
#     the apps, replaces one's launch commands, adds env and writes files
#     (deploy/launch_plan.h). (That launch.cmds replace the apps, and
#     that a re-deploy runs nothing again, are checked by the unit tests and
#     deploy.sh: deploys are the slow part here.)
# kubectl and helm cannot run here: the images carry STAND-INS for them
# (bin/kubectl, bin/helm: shell scripts that only record their arguments, the
# working directory and the env they see); the test checks those records.
# shellcheck disable=SC2153 # NODE_* variables come from nodes_lib.sh
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/nodes_lib.sh"
it_setup ssh ssh-keygen ip nsenter skopeo python3 tar buildah
cfs_setup

# --------------------------------------------------------------- 1. build
log "1. a Kubefile with sealer's app instructions"
C=$T/ctx
mkdir -p "$C"/{bin,yamlcontext,shellcontext,mixedcontext,calico/templates}
# STAND-INS for kubectl and helm (they cannot run here): record the call.
for tool in kubectl helm; do
  cat >"$C/bin/$tool" <<EOF
#!/bin/sh
# Stand-in for $tool (cannot run in this test): records its arguments.
mkdir -p /var/lib/cimg-test
echo "$tool \$* | pwd=\$(pwd) MODE=\${MODE:-} Version=\${Version:-}" >> /var/lib/cimg-test/launch.log
EOF
  chmod 755 "$C/bin/$tool"
done
printf 'kind: ConfigMap\n' | tee "$C/yamlcontext/a.yaml" >"$C/yamlcontext/b.yaml"
for s in a b; do
  printf '#!/bin/bash\necho "shell %s | pwd=$(pwd) MODE=$MODE Version=$Version" >> /var/lib/cimg-test/launch.log\n' \
    "$s" >"$C/shellcontext/$s.sh"
done
printf 'kind: Namespace\n' >"$C/mixedcontext/app.yaml"
# rendered at deploy with the app's env, as sealer does (Version: the image's ENV)
printf 'version: {{ .Version }}\n' >"$C/mixedcontext/cfg.yaml.tmpl"
printf '#!/bin/bash\necho install\n' >"$C/install.sh"
printf 'name: calico\nversion: 0.1.0\n' >"$C/calico/Chart.yaml"
printf 'replicas: 1\n' >"$C/calico/values.yaml"
printf 'kind: DaemonSet\n' >"$C/calico/templates/ds.yaml"
cat >"$C/Kubefile" <<'EOF'
FROM scratch
COPY bin bin
ENV Version=v1
KUBEVERSION v1.22.15
APP yamlapp local://yamlcontext
APP shellapp local://shellcontext
APP mixedapp local://install.sh local://mixedcontext
CNI calico local://calico
APPCMDS mixedapp ["kubectl apply -f app.yaml"]
APPENV shellapp MODE=fast Version=app
LAUNCH ["mixedapp", "shellapp", "yamlapp", "calico"]
EOF
ci build --ignored-image-list /dev/null -t sc/apps:1 "$C" >"$T/build.out" 2>&1 ||
  fail "build: $(tail -5 "$T/build.out")"

MNT=$T/mnt
mkdir -p "$MNT"
cfs_mount sc/apps:1 "$MNT"
for f in yamlapp/a.yaml yamlapp/b.yaml shellapp/a.sh mixedapp/install.sh mixedapp/app.yaml \
  calico/Chart.yaml calico/templates/ds.yaml; do
  [[ -f "$MNT/application/apps/$f" ]] || fail "application/apps/$f missing: $(cd "$MNT" && find application)"
done
cfs_umount "$MNT"

# FROM --platform: the image is built for that platform; against another
# cimg build --platform it is refused by line.
P=$T/ctx-platform
mkdir -p "$P"
printf 'FROM --platform=linux/arm64 scratch\nCOPY Kubefile k\n' >"$P/Kubefile"
ci build --ignored-image-list /dev/null -t sc/arm:1 "$P" >"$T/build-arm.out" 2>&1 ||
  fail "build FROM --platform: $(tail -5 "$T/build-arm.out")"
assert_eq arm64 "$(ci inspect sc/arm:1 | json_get 'j[0]["Architecture"]')" "architecture of FROM --platform=linux/arm64"
rc=0
ci build --ignored-image-list /dev/null --platform linux/amd64 -t sc/bad:1 "$P" >"$T/build-bad.out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q '^cimg: Kubefile:1: FROM --platform=linux/arm64 differs from' "$T/build-bad.out" ||
  fail "FROM --platform against --platform: exit $rc, $(cat "$T/build-bad.out")"

# ------------------------------------------------------ 2. the annotation
log "2. sealer.image.extension and sealer's labels, also after push"
ci push sc/apps:1 "oci:$T/oci:apps" || fail "push to oci:"
skopeo_ inspect --raw "oci:$T/oci:apps" >"$T/manifest.json" || fail "skopeo inspect --raw"
python3 - "$T/manifest.json" <<'PY' || fail "the pushed manifest's annotation: $(cat "$T/manifest.json")"
import json, sys
m = json.load(open(sys.argv[1]))
e = json.loads(m["annotations"]["sealer.image.extension"])
apps = {a["name"]: a for a in e["applications"]}
assert e["schemaVersion"] == "v1alpha1" and e["type"] == "kube-installer", e
assert "sealerVersion" in e["buildClient"] and "buildahVersion" in e["buildClient"], e
assert apps["yamlapp"] == {"name": "yamlapp", "type": "kube", "files": ["/a.yaml", "/b.yaml"], "version": "v1"}, apps["yamlapp"]
assert apps["shellapp"] == {"name": "shellapp", "type": "shell", "files": ["/a.sh", "/b.sh"], "version": "v1",
                            "env": {"MODE": "fast", "Version": "app"}}, apps["shellapp"]
assert apps["mixedapp"] == {"name": "mixedapp", "version": "v1", "cmds": ["kubectl apply -f app.yaml"]}, apps["mixedapp"]
assert apps["calico"] == {"name": "calico", "type": "helm", "files": ["calico"], "version": "v1"}, apps["calico"]
assert e["env"] == {"Version": "v1"}, e["env"]
assert e["launch"] == {"app_names": ["mixedapp", "shellapp", "yamlapp", "calico"]}, e["launch"]
PY
labels=$(skopeo_ inspect --config "oci:$T/oci:apps" | json_get 'json.dumps(j["config"]["Labels"], sort_keys=True)')
python3 -c '
import json, sys
l = json.loads(sys.argv[1])
assert l["app.alpha.sealer.io/supported-kube-version"] == "v1.22.15", l
assert l["cluster.alpha.sealer.io/kube-cni-calico"] == "true", l
' "$labels" || fail "labels: $labels"

# ---------------------------------------------- 3. an image sealer built
log "3. an image built by buildah as sealer builds it (layers + manifest annotation)"
S=$T/sealer-rootfs
mkdir -p "$S/bin" "$S/application/apps/nginx" "$S/application/apps/tools"
cp "$C/bin/kubectl" "$C/bin/helm" "$S/bin/"
printf 'kind: Deployment\n' >"$S/application/apps/nginx/nginx.yaml"
printf '#!/bin/bash\necho "tools | pwd=$(pwd) TOOLS_MODE=$TOOLS_MODE EXTRA=${EXTRA:-}" >> /var/lib/cimg-test/launch.log\n' \
  >"$S/application/apps/tools/run.sh"
printf 'extra: {{ .EXTRA }}\n' >"$S/application/apps/tools/conf.tmpl"
# Built by buildah itself (Debian's, as sealer drives it): a scratch
# container, the rootfs copied in, and the manifest annotation sealer's
# build.go sets (pkg/define/image/v1 field names), committed as OCI and
# pushed to a layout. A storage of its own under $T (vfs), never the machine's.
EXT=$(python3 -c 'import json; print(json.dumps({
  "buildClient": {"sealerVersion": "v0.11.0", "buildahVersion": "1.28.2"},
  "schemaVersion": "v1alpha1", "type": "kube-installer",
  "applications": [{"name": "nginx", "type": "kube", "files": ["nginx.yaml"], "version": "v1"},
                   {"name": "tools", "type": "shell", "files": ["run.sh"], "version": "v1",
                    "env": {"TOOLS_MODE": "it'"'"'s $(not run)"}}],
  "launch": {"app_names": ["tools", "nginx"]}}))')
bah() { buildah --root "$T/buildah" --runroot "$T/buildah-run" --storage-driver vfs "$@"; }
IT_CLEANUP_HOOKS+=("buildah --root $T/buildah --runroot $T/buildah-run --storage-driver vfs rm -a >/dev/null 2>&1 || true")
BC=$(bah from scratch)
bah copy "$BC" "$S" / >/dev/null
bah config --annotation "sealer.image.extension=$EXT" --label "io.buildah.test=sealer" "$BC"
bah commit -q --format oci "$BC" localhost/sealer/apps:v1 >/dev/null
bah push -q localhost/sealer/apps:v1 "oci:$T/sealer-oci:v1" >/dev/null
skopeo_ inspect --raw "oci:$T/sealer-oci:v1" >"$T/sealer-manifest.json"
json_get 'j["annotations"]["sealer.image.extension"]' <"$T/sealer-manifest.json" | grep -q '"kube-installer"' ||
  fail "buildah's manifest lacks sealer.image.extension: $(cat "$T/sealer-manifest.json")"
ci pull "oci:$T/sealer-oci:v1" --as sealer/apps:1 >/dev/null || fail "pull the sealer image"

# ------------------------------------------------------------- 4. deploy
log "4. deploy: the LAUNCH apps run as sealer runs them"
nodes_up sc 214 1
M0=$NODE_IP_1
KH=(--known-hosts "$NODE_KNOWN_HOSTS")
# Read and removed inside the node: its /var is an overlay, whose upper dir
# must not be changed behind its back.
launch_log() { node_exec 1 cat /var/lib/cimg-test/launch.log 2>/dev/null; }
reset_log() { node_exec 1 rm -f /var/lib/cimg-test/launch.log; }

ci deploy sc/apps:1 --masters "$M0" -n apps -i "$NODE_KEY" "${KH[@]}" >"$T/d1.out" 2>&1 ||
  fail "deploy sc/apps:1: $(tail -20 "$T/d1.out")"
RF=/var/lib/cimg/apps/rootfs
assert_eq "kubectl apply -f app.yaml | pwd=$RF/application/apps/mixedapp MODE= Version=v1
shell a | pwd=$RF MODE=fast Version=app
shell b | pwd=$RF MODE=fast Version=app
kubectl apply -f application/apps/yamlapp/a.yaml | pwd=$RF MODE= Version=v1
kubectl apply -f application/apps/yamlapp/b.yaml | pwd=$RF MODE= Version=v1
helm install calico application/apps/calico/ | pwd=$RF MODE= Version=v1" "$(launch_log)" \
  "the apps of the cimg-built image, in LAUNCH order"
assert_eq "version: v1" "$(node_exec 1 cat $RF/application/apps/mixedapp/cfg.yaml)" "an app's template rendered with its env"
reset_log
# The sealer-built image through a Clusterfile with an Application document:
# launchApps reorders, a config's launch.cmds replace nginx's launch (each
# run in the rootfs), tools gets env (exported, and rendering its *.tmpl) and
# files written into its app dir (overwrite) and merged into nginx's YAML.
cat >"$T/apps.yaml" <<EOF
apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: sealer}
spec:
  image: sealer/apps:1
  ssh: {pk: $NODE_KEY}
  hosts: [{ips: [$M0], roles: [master]}]
---
apiVersion: sealer.io/v2
kind: Application
metadata: {name: apps}
spec:
  launchApps: [nginx, tools]
  configs:
  - name: nginx
    launch:
      cmds: ["kubectl apply -f nginx.yaml -n web", "kubectl get pods"]
    files:
    - {path: nginx.yaml, strategy: merge, data: "spec: {replicas: 2}"}
  - name: tools
    env: [EXTRA=from-config]
    files:
    - {path: /extra.conf, strategy: overwrite, data: "extra=1"}
EOF
ci deploy -f "$T/apps.yaml" "${KH[@]}" >"$T/d2.out" 2>&1 ||
  fail "deploy sealer/apps:1: $(tail -20 "$T/d2.out")"
RF=/var/lib/cimg/sealer/rootfs
assert_eq "kubectl apply -f nginx.yaml -n web | pwd=$RF MODE= Version=
kubectl get pods | pwd=$RF MODE= Version=
tools | pwd=$RF TOOLS_MODE=it's \$(not run) EXTRA=from-config" "$(launch_log)" \
  "the apps of the sealer-built image, as the Application document says (image env quoted, never run as code)"
assert_eq "kind: Deployment
spec:
    replicas: 2" "$(node_exec 1 cat $RF/application/apps/nginx/nginx.yaml)" "Application file merged"
assert_eq "extra=1" "$(node_exec 1 cat $RF/application/apps/tools/extra.conf)" "Application file written"
assert_eq "extra: from-config" "$(node_exec 1 cat $RF/application/apps/tools/conf)" "an app's template rendered with its config's env"
# --apps (sealer's run --apps): an app the image lacks is refused by name
# before any host is reached; with -f it is refused (the Clusterfile says).
rc=0
ci deploy sc/apps:1 --masters "$M0" -n apps2 --apps yamlapp,nope -i "$NODE_KEY" "${KH[@]}" >"$T/d3.out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q '^cimg: Clusterfile: spec.appNames: app "nope" is not among the image.s applications' "$T/d3.out" &&
  ! grep -q connecting "$T/d3.out" || fail "--apps nope: exit $rc, $(cat "$T/d3.out")"
rc=0
ci deploy -f "$T/apps.yaml" --apps nginx "${KH[@]}" >"$T/d4.out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] && grep -q -- '--cmd/--apps go with IMAGE' "$T/d4.out" || fail "--apps with -f: exit $rc, $(cat "$T/d4.out")"
log "ok"
